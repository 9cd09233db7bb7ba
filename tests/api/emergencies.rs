//! Emergencies (二(二)): a township's report reaches the office's open list at once, every step
//! is kept with who and when, the close records who and what and happens once (also when ten
//! closes race), bad input is refused by name and nothing of it is written, and a township sees
//! only its own.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};

use crate::contacts::family;
use crate::helpers::{continue_rules_to_today, TestApp};

async fn count(app: &TestApp, sql: &str) -> i64 {
    greenchannel::on_db!(&app.db, p => sqlx::query_scalar(sql).fetch_one(p).await).unwrap()
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["emergency_id"].as_i64().unwrap())
        .collect()
}

both! {
    async fn a_reported_emergency_reaches_the_office_at_once_and_is_closed_once(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&family(60)).await;
        let hid = h["household_id"].as_i64().unwrap();
        let today = greenchannel::time::today();
        let res = app.post(&format!("/api/v1/households/{hid}/emergencies"), &app.township, &json!({
            "kind": "accident", "happened_at": today, "what": "李建国在家中摔伤，已送区医院",
            "needs": "住院陪护、医疗费用",
        })).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let id = res.body["emergency_id"].as_i64().unwrap();
        assert_eq!(res.body["state"], "open");
        assert_eq!(res.body["reported_by"], "township");
        assert_eq!(res.body["steps"][0]["kind"], "reported");

        // The office's open list has it the moment the report is answered; the auditor reads it.
        let open = app.get("/api/v1/emergencies?state=open", &app.office).await;
        assert_eq!(ids(&open.body), vec![id], "{}", open.body);
        assert_eq!(ids(&app.get("/api/v1/emergencies", &app.auditor).await.body), vec![id]);
        // Another township: neither in its list nor by its id.
        assert_eq!(ids(&app.get("/api/v1/emergencies", &app.other_township).await.body), Vec::<i64>::new());
        app.get(&format!("/api/v1/emergencies/{id}"), &app.other_township).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.post(&format!("/api/v1/emergencies/{id}/steps"), &app.other_township, &json!({"note": "x"})).await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");

        let res = app.post(&format!("/api/v1/emergencies/{id}/steps"), &app.township, &json!({"note": "已联系民政办申请临时救助"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["state"], "open");

        // Ten closes at once over real HTTP: exactly one lands, the others are told it is closed.
        let base = crate::console::serve(&app).await;
        let outcomes: Vec<String> = (0..10).map(|i| format!("临时救助已发放（{i}）")).collect();
        let bodies = outcomes.iter().map(|o| json!({"outcome": o})).collect();
        let answers = crate::clinics::race(&format!("{base}/api/v1/emergencies/{id}/close"), &app.office, bodies).await;
        assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 1, "{answers:?}");
        assert!(answers.iter().all(|(s, c)| *s == 200 || (*s == 409 && c == "emergency_closed")), "{answers:?}");
        let done = app.get(&format!("/api/v1/emergencies/{id}"), &app.township).await;
        assert_eq!(done.body["state"], "closed");
        assert_eq!(done.body["closed_by"], "office");
        assert!(outcomes.iter().any(|o| done.body["outcome"] == json!(o)), "{}", done.body);
        let steps: Vec<&str> = done.body["steps"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
        assert_eq!(steps, ["reported", "action", "closed"], "every step kept, in order: {}", done.body);
        assert_eq!(done.body["steps"][1]["made_by"], "township");
        // Closed: no more steps; off the open list, on the closed one.
        app.post(&format!("/api/v1/emergencies/{id}/steps"), &app.township, &json!({"note": "回访"})).await
            .assert_problem(StatusCode::CONFLICT, "emergency_closed");
        assert_eq!(ids(&app.get("/api/v1/emergencies?state=open", &app.office).await.body), Vec::<i64>::new());
        assert_eq!(ids(&app.get("/api/v1/emergencies?state=closed", &app.office).await.body), vec![id]);
        let res = app.get("/api/v1/emergencies?state=urgent", &app.office).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "state");
    }
}

both! {
    async fn a_bad_report_is_refused_by_name_and_nothing_is_written(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&family(61)).await;
        let hid = h["household_id"].as_i64().unwrap();
        let path = format!("/api/v1/households/{hid}/emergencies");
        let today = greenchannel::time::today();
        let cases = [
            (json!({"kind": "accident", "happened_at": today + Duration::days(1), "what": "x"}), StatusCode::UNPROCESSABLE_ENTITY, "date_in_future", None),
            (json!({"kind": "accident", "happened_at": today - Duration::days(40), "what": "x"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("happened_at")),
            (json!({"kind": "accident", "happened_at": "yesterday", "what": "x"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("happened_at")),
            (json!({"kind": "accident", "happened_at": today, "what": "  "}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("what")),
            (json!({"kind": "accident", "happened_at": today, "what": "x", "needs": "很".repeat(1001)}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("needs")),
            (json!({"kind": "fire", "happened_at": today, "what": "x"}), StatusCode::BAD_REQUEST, "invalid_body", None),
            (json!({"kind": "accident", "happened_at": today, "what": "x", "diagnosis": "骨折"}), StatusCode::BAD_REQUEST, "invalid_body", None),
        ];
        for (body, status, code, field) in cases {
            let res = app.post(&path, &app.township, &body).await;
            res.assert_problem(status, code);
            if let Some(field) = field {
                assert_eq!(res.body["errors"][0]["field"], field, "{body}: {}", res.body);
            }
        }
        app.post("/api/v1/households/999999/emergencies", &app.office, &json!({"kind": "other", "happened_at": today, "what": "x"})).await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.post(&path, &app.other_township, &json!({"kind": "other", "happened_at": today, "what": "x"})).await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.post("/api/v1/emergencies/999999/close", &app.office, &json!({"outcome": "x"})).await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(count(&app, "select count(*) from emergency").await, 0);
        assert_eq!(count(&app, "select count(*) from emergency_step").await, 0);
    }
}
