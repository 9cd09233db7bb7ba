use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{bereaved_household, roles};

/// Every protected endpoint, a body that would be acceptable, and the roles allowed there.
fn endpoints(
    household_id: i64,
) -> Vec<(
    Method,
    String,
    Option<serde_json::Value>,
    &'static [&'static str],
)> {
    let h = format!("/api/v1/households/{household_id}");
    vec![
        (
            Method::GET,
            "/api/v1/me".into(),
            None,
            &["office", "township", "desk", "clinic", "auditor"],
        ),
        (Method::GET, "/api/v1/accounts".into(), None, &["office"]),
        // An account that does not exist: the office gets past the role check (404), nobody
        // else does, and no test account is disabled or loses its password midway.
        (
            Method::POST,
            "/api/v1/accounts/999999/disable".into(),
            None,
            &["office"],
        ),
        (
            Method::POST,
            "/api/v1/accounts/999999/password".into(),
            None,
            &["office"],
        ),
        (
            Method::GET,
            "/api/v1/disbursements".into(),
            None,
            &["office"],
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({"name": "new-auditor", "role": "auditor"})),
            &["office"],
        ),
        (
            Method::GET,
            "/api/v1/townships".into(),
            None,
            &["office", "township", "desk", "clinic", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/facilities".into(),
            None,
            &["office", "township", "desk", "clinic", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/facilities".into(),
            Some(json!({"name": "南郊镇卫生院", "kind": "township_health_centre", "level": 1})),
            &["office"],
        ),
        (
            Method::GET,
            "/api/v1/households".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::GET,
            h.clone(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::GET,
            format!("{h}/history"),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/households".into(),
            Some(bereaved_household()),
            &["office", "township"],
        ),
        (
            Method::GET,
            "/api/v1/households/export.csv".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/cards/awaiting-confirmation".into(),
            None,
            &["office"],
        ),
        (
            Method::GET,
            "/api/v1/audit/checkpoints".into(),
            None,
            &["office", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/audit/checkpoints".into(),
            Some(json!({})),
            &["office"],
        ),
        // Clinics (二(五)4, 二(五)6). Ids that do not exist: the allowed roles get past the
        // role check (404 or 422), the others are refused before anything is looked up.
        (
            Method::GET,
            "/api/v1/facilities/1/checkup-capacity".into(),
            None,
            &["office", "clinic"],
        ),
        (
            Method::PUT,
            "/api/v1/facilities/1/checkup-capacity".into(),
            Some(json!({"weekdays": [0, 0, 0, 0, 0, 0, 0]})),
            &["office", "clinic"],
        ),
        (
            Method::POST,
            "/api/v1/checkups".into(),
            Some(json!({"member_id": 999999, "on": "2099-01-01"})),
            &["office", "clinic"],
        ),
        (
            Method::GET,
            "/api/v1/checkups?facility_id=1".into(),
            None,
            &["office", "clinic"],
        ),
        (
            Method::GET,
            "/api/v1/checkups/due".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/checkups/999999".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/checkups/999999/complete".into(),
            Some(json!({"summary": "x"})),
            &["office", "clinic"],
        ),
        (
            Method::POST,
            "/api/v1/checkups/999999/cancel".into(),
            Some(json!({})),
            &["office", "clinic"],
        ),
        (
            Method::POST,
            "/api/v1/checkups/999999/no-show".into(),
            Some(json!({})),
            &["office", "clinic"],
        ),
        (
            Method::POST,
            "/api/v1/contracts".into(),
            Some(
                json!({"member_id": 999999, "doctor_name": "王医生", "doctor_code": "D1", "health_record_ref": "R1"}),
            ),
            &["office", "clinic"],
        ),
        (
            Method::GET,
            "/api/v1/contracts/999999".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/contracts/999999/renew".into(),
            Some(json!({})),
            &["office", "clinic"],
        ),
        (
            Method::POST,
            "/api/v1/contracts/999999/end".into(),
            Some(json!({"reason": "moved_away"})),
            &["office", "clinic"],
        ),
        (
            Method::GET,
            "/api/v1/contracts/999999/follow-ups".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/contracts/999999/follow-ups".into(),
            Some(json!({"on": "2020-01-01", "doctor_name": "王医生", "kind": "visit"})),
            &["office", "clinic"],
        ),
        (
            Method::GET,
            "/api/v1/contracts/renewals-due".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/contracts/follow-ups-overdue".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/contracts/unsigned".into(),
            None,
            &["office", "township", "clinic", "auditor"],
        ),
        (
            Method::POST,
            format!("{h}/contacts"),
            Some(json!({"at": "2020-01-01", "how": "phone", "made_by": "李联络"})),
            &["office", "township"],
        ),
        (
            Method::GET,
            format!("{h}/contacts"),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::POST,
            format!("{h}/facts"),
            Some(
                json!({"fact": "housing_difficulty", "value": "no", "from": "2020-01-01", "reason": "核实"}),
            ),
            &["office", "township"],
        ),
        (
            Method::GET,
            format!("{h}/contact-person"),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::PUT,
            format!("{h}/contact-person"),
            Some(json!({"contact": {"name": "李联络", "role": "volunteer"}})),
            &["office", "township"],
        ),
        (
            Method::GET,
            "/api/v1/contacts/sheet".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/contacts/overdue?month=2020-01".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::POST,
            format!("{h}/emergencies"),
            Some(json!({"kind": "accident", "happened_at": "2020-01-01", "what": "摔伤"})),
            &["office", "township"],
        ),
        (
            Method::GET,
            "/api/v1/emergencies?state=open".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::GET,
            "/api/v1/emergencies/999999".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::POST,
            "/api/v1/emergencies/999999/steps".into(),
            Some(json!({"note": "已联系民政"})),
            &["office", "township"],
        ),
        (
            Method::POST,
            "/api/v1/emergencies/999999/close".into(),
            Some(json!({"outcome": "已送医"})),
            &["office", "township"],
        ),
        (
            Method::GET,
            "/api/v1/festivals".into(),
            None,
            &["office", "township", "auditor"],
        ),
        // Its window is backwards: the office gets past the role check (422), nothing stored.
        (
            Method::POST,
            "/api/v1/festivals".into(),
            Some(json!({"name": "春节", "on": "2027-02-06", "visits_from": "2027-02-07"})),
            &["office"],
        ),
        (
            Method::GET,
            "/api/v1/festivals/999999/not-visited".into(),
            None,
            &["office", "township", "auditor"],
        ),
        (
            Method::POST,
            format!("{h}/visits"),
            Some(json!({"festival_id": 999999, "on": "2020-01-01", "made_by": "王干事"})),
            &["office", "township"],
        ),
    ]
}

both! {
    async fn every_role_is_refused_where_it_does_not_belong(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        for (method, path, body, allowed) in endpoints(id) {
            for (role, token) in roles(&app) {
                let res = app.call(method.clone(), &path, Some(token), body.as_ref().map(|b| Body::from(b.to_string())), Some("application/json")).await;
                if allowed.contains(&role) {
                    assert_ne!(res.status, StatusCode::FORBIDDEN, "{role} may {method} {path}: {}", res.body);
                    assert_ne!(res.status, StatusCode::UNAUTHORIZED, "{role} may {method} {path}");
                } else {
                    res.assert_problem(StatusCode::FORBIDDEN, "forbidden");
                }
            }
            // And nobody gets in without a token, or with a made-up one.
            let res = app.call(method.clone(), &path, None, None, None).await;
            res.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
            let res = app.call(method.clone(), &path, Some("gct_not-a-real-token"), None, None).await;
            res.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
}

both! {
    async fn township_staff_see_only_their_own_township(app) {
        let own = app.create_household(&bereaved_household()).await;
        let own_id = own["household_id"].as_i64().unwrap();
        // The other township's staff neither see the file nor find it in their list.
        let res = app.get(&format!("/api/v1/households/{own_id}"), &app.other_township).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let res = app.get("/api/v1/households?township=370306001", &app.other_township).await;
        assert_eq!(res.body, json!([]));
        // Nor may they create a file in another township.
        let res = app.post("/api/v1/households", &app.other_township, &bereaved_household()).await;
        res.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        // Their own staff do.
        let res = app.get(&format!("/api/v1/households/{own_id}"), &app.township).await;
        assert_eq!(res.status, StatusCode::OK);
        let list = app.get("/api/v1/households", &app.township).await;
        assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    }
}

both! {
    async fn id_numbers_are_masked_for_roles_that_do_not_need_them(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        let full = created["members"][0]["id_number"].as_str().unwrap().to_owned();
        assert_eq!(full.len(), 18);
        let office = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(office.body["members"][0]["id_number"], full.as_str());
        let auditor = app.get(&format!("/api/v1/households/{id}"), &app.auditor).await;
        let masked = auditor.body["members"][0]["id_number"].as_str().unwrap();
        assert_eq!(masked, format!("{}**********{}", &full[..4], &full[14..]));
        assert_eq!(auditor.body["members"][0]["phone"], "139****5678");
        let csv = app.get("/api/v1/households/export.csv", &app.auditor).await;
        let text = String::from_utf8(csv.bytes).unwrap();
        assert!(!text.contains(&full) && text.contains(masked), "{text}");
    }
}

both! {
    async fn a_revoked_token_stops_working(app) {
        let res = app.post("/api/v1/accounts", &app.office, &json!({"name": "leaver", "role": "auditor"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let token = res.body["token"].as_str().unwrap().to_owned();
        let account = res.body["account"]["account_id"].as_i64().unwrap();
        assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
        let res = app.call(Method::DELETE, &format!("/api/v1/accounts/{account}/tokens"), Some(&app.office), None, None).await;
        assert_eq!(res.body["revoked"], 1);
        app.get("/api/v1/me", &token).await.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

both! {
    async fn account_scope_must_fit_the_role(app) {
        let res = app.post("/api/v1/accounts", &app.office, &json!({"name": "t", "role": "township"})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "township_id");
        let res = app.post("/api/v1/accounts", &app.office, &json!({"name": "d", "role": "desk", "facility_id": 999})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let res = app.post("/api/v1/accounts", &app.office, &json!({"name": "office", "role": "auditor"})).await;
        res.assert_problem(StatusCode::CONFLICT, "account_exists");
    }
}

both! {
    async fn a_desk_account_knows_its_facility(app) {
        let me = app.get("/api/v1/me", &app.desk).await;
        assert_eq!(me.body["role"], "desk");
        assert_eq!(me.body["facility_id"], app.facility_id);
        let f = app.get(&format!("/api/v1/facilities/{}", app.facility_id), &app.desk).await;
        assert_eq!(f.body["kind"], "district_hospital");
    }
}
