use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::bereaved_household;

both! {
    async fn malformed_bodies_get_precise_problems(app) {
        let post = |body: &'static str, ct: Option<&'static str>| {
            app.call(Method::POST, "/api/v1/households", Some(&app.office), Some(Body::from(body)), ct)
        };
        post("{\"township_id\": ", Some("application/json")).await.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
        post("{}", None).await.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        let mut unknown = bereaved_household();
        unknown["favourite_colour"] = json!("green");
        let res = app.post("/api/v1/households", &app.office, &unknown).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(res.body["detail"].as_str().unwrap().contains("favourite_colour"), "{}", res.body);
        let mut wrong_type = bereaved_household();
        wrong_type["dibao"] = json!("yes");
        let res = app.post("/api/v1/households", &app.office, &wrong_type).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(res.body["detail"].as_str().unwrap().contains("dibao"), "{}", res.body);
        let mut bad_date = bereaved_household();
        bad_date["child"]["died_on"] = json!("2015-02-30");
        let res = app.post("/api/v1/households", &app.office, &bad_date).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(res.body["detail"].as_str().unwrap().contains("died_on"), "{}", res.body);
        let mut bad_grade = bereaved_household();
        bad_grade["child"] = json!({"status": "disabled", "disability_grade": 7});
        let res = app.post("/api/v1/households", &app.office, &bad_grade).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "child.disability_grade");
        let list = app.get("/api/v1/households", &app.office).await;
        assert_eq!(list.body, json!([]), "nothing was written");
    }
}

both! {
    async fn an_oversized_body_is_refused(app) {
        let mut big = bereaved_household();
        big["address"] = json!("号".repeat(greenchannel::http::JSON_BODY_LIMIT));
        let res = app.post("/api/v1/households", &app.office, &big).await;
        res.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    }
}

both! {
    async fn bad_paths_and_queries_are_problems(app) {
        app.get("/api/v1/households/abc", &app.office).await.assert_problem(StatusCode::BAD_REQUEST, "bad_path");
        app.get("/api/v1/households?limit=0", &app.office).await.assert_problem(StatusCode::BAD_REQUEST, "bad_query");
        app.get("/api/v1/households?limit=x", &app.office).await.assert_problem(StatusCode::BAD_REQUEST, "bad_query");
        app.get("/api/v1/households/1?as_of=2020-13-01", &app.office).await.assert_problem(StatusCode::BAD_REQUEST, "bad_query");
        app.get("/api/v1/households/424242", &app.office).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
}
