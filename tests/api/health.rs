use axum::http::{Method, StatusCode};
use serde_json::Value;

both! {
    async fn health_and_readiness_answer(app) {
        let res = app.call(Method::GET, "/healthz", None, None, None).await;
        assert_eq!(res.status, StatusCode::OK);
        let res = app.call(Method::GET, "/readyz", None, None, None).await;
        assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, Some("ready")));
    }
}

both! {
    async fn readiness_fails_when_the_database_is_gone(app) {
        app.db.close().await;
        let res = app.call(Method::GET, "/readyz", None, None, None).await;
        res.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }
}

both! {
    async fn the_openapi_document_describes_every_route(app) {
        let res = app.call(Method::GET, "/api/v1/openapi.json", None, None, None).await;
        assert_eq!(res.status, StatusCode::OK);
        let paths = res.body["paths"].as_object().expect("paths");
        // Each route the router serves under /api/v1 must be documented, and nothing else.
        let served = [
            "/me", "/accounts", "/accounts/{id}/tokens", "/accounts/{id}/disable", "/accounts/{id}/password", "/townships", "/communities",
            "/facilities", "/facilities/{id}", "/facilities/{id}/history", "/households", "/households/{id}",
            "/households/{id}/history", "/households/{id}/facts", "/households/import", "/households/export.csv",
            "/households/{id}/entitlements", "/rules", "/rules/eval", "/rules/changes",
            "/disbursements", "/disbursements/{id}", "/disbursements/{id}/approve", "/disbursements/{id}/csv",
            "/keys", "/status-list", "/cards", "/members/{id}/cards", "/cards/batch", "/cards/reconcile",
            "/cards/awaiting-confirmation",
            "/cards/sheet.pdf", "/cards/{serial}", "/cards/{serial}/pdf", "/cards/{serial}/suspend",
            "/cards/{serial}/reinstate", "/cards/{serial}/revoke", "/cards/{serial}/reissue",
            "/verify", "/verify/recent", "/audit/verifications", "/audit/per-day", "/audit/copy-alerts",
            "/audit/check", "/audit/checkpoints", "/openapi.json",
            "/facilities/{id}/checkup-capacity", "/checkups", "/checkups/due", "/checkups/{id}",
            "/checkups/{id}/complete", "/checkups/{id}/cancel", "/checkups/{id}/no-show", "/contracts",
            "/contracts/renewals-due", "/contracts/follow-ups-overdue", "/contracts/unsigned",
            "/contracts/{id}", "/contracts/{id}/renew", "/contracts/{id}/end", "/contracts/{id}/follow-ups",
            "/households/{id}/contacts", "/households/{id}/contact-person", "/contacts/sheet", "/contacts/overdue",
            "/households/{id}/emergencies", "/emergencies", "/emergencies/{id}", "/emergencies/{id}/steps", "/emergencies/{id}/close",
            "/festivals", "/festivals/{id}/not-visited", "/households/{id}/visits",
        ];
        let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
        documented.sort();
        let mut expected: Vec<&str> = served.to_vec();
        expected.sort();
        assert_eq!(documented, expected);
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                let status = app.call(method.to_uppercase().parse().expect("method"), &format!("/api/v1{}", path.replace("{id}", "1").replace("{serial}", "00")), None, None, None).await.status;
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not routed");
                assert!(op.get("summary").and_then(Value::as_str).is_some(), "{method} {path} has a summary");
            }
        }
    }
}

both! {
    async fn an_unknown_path_is_a_problem_not_an_empty_404(app) {
        let res = app.call(Method::GET, "/api/v1/nothing-here", None, None, None).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let res = app.call(Method::DELETE, "/healthz", None, None, None).await;
        res.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}
