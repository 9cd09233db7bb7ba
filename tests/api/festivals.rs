//! Festival visits (二(二), 二(十)3): the office configures a festival and the days its visits
//! count on; a township records a visit once per household; a festival's checklist holds the
//! households owed a visit on its day (registered by then) and not yet visited, each township its
//! own; a festival not configured, a day outside its window and a second visit are refused by name.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::json;

use crate::contacts::{family, registered_at};
use crate::helpers::{continue_rules_to_today, TestApp};

fn households(list: &serde_json::Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list["households"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["household_id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

async fn registered_long_ago(app: &TestApp, body: &serde_json::Value) -> i64 {
    let id = app.create_household(body).await["household_id"]
        .as_i64()
        .unwrap();
    registered_at(app, id, Utc::now() - Duration::days(400)).await;
    id
}

both! {
    async fn a_festival_checklist_holds_those_owed_a_visit_until_visited_once(app) {
        continue_rules_to_today(&app).await;
        let today = greenchannel::time::today();
        let day = today - Duration::days(5);
        let res = app.post("/api/v1/festivals", &app.office, &json!({"name": "春节", "on": day})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let fid = res.body["festival_id"].as_i64().unwrap();
        assert_eq!(res.body["visits_from"], json!(day - Duration::days(30)));
        assert_eq!(res.body["visits_until"], json!(day + Duration::days(15)));
        // Once a year by name; a window backwards or too long is refused by its field.
        app.post("/api/v1/festivals", &app.office, &json!({"name": "春节", "on": day})).await
            .assert_problem(StatusCode::CONFLICT, "festival_exists");
        let res = app.post("/api/v1/festivals", &app.office, &json!({"name": "中秋节", "on": day, "visits_from": day + Duration::days(1)})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "visits_from");
        let res = app.post("/api/v1/festivals", &app.office, &json!({"name": "中秋节", "on": day, "visits_until": day + Duration::days(100)})).await;
        assert_eq!(res.body["errors"][0]["field"], "visits_until", "{}", res.body);
        let res = app.post("/api/v1/festivals", &app.office, &json!({"name": "元宵节", "on": "+262142-12-31"})).await;
        assert!(res.status.is_client_error(), "{}", res.body);
        let res = app.post("/api/v1/festivals", &app.office, &json!({"name": "元宵节", "on": "2100-02-01"})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "on");
        let listed = app.get(&format!("/api/v1/festivals?year={}", chrono::Datelike::year(&day)), &app.township).await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.body);

        let ours = registered_long_ago(&app, &family(80)).await;
        let mut elsewhere = family(81);
        elsewhere["township_id"] = json!("370306100");
        elsewhere["community_id"] = serde_json::Value::Null;
        let theirs = registered_long_ago(&app, &elsewhere).await;
        // Registered after the festival's day: not owed this festival's visit.
        app.create_household(&family(82)).await;

        let path = format!("/api/v1/festivals/{fid}/not-visited");
        assert_eq!(households(&app.get(&path, &app.office).await.body), vec![ours, theirs]);
        assert_eq!(households(&app.get(&path, &app.township).await.body), vec![ours]);
        assert_eq!(households(&app.get(&path, &app.other_township).await.body), vec![theirs]);
        let audited = app.get(&path, &app.auditor).await;
        assert!(audited.body["households"].as_array().unwrap().iter().all(|h| h["name"].as_str().unwrap().contains('*')), "{}", audited.body);

        let visit = |on: chrono::NaiveDate, festival: i64| json!({"festival_id": festival, "on": on, "made_by": "王干事", "note": "送去米面油"});
        let res = app.post(&format!("/api/v1/households/{ours}/visits"), &app.township, &visit(today, fid)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        app.post(&format!("/api/v1/households/{ours}/visits"), &app.office, &visit(today, fid)).await
            .assert_problem(StatusCode::CONFLICT, "already_visited");
        let list = app.get(&path, &app.township).await;
        assert_eq!(households(&list.body), Vec::<i64>::new());
        assert_eq!((list.body["townships"][0]["due"].as_i64(), list.body["townships"][0]["visited"].as_i64()), (Some(1), Some(1)));

        // Refused by name, nothing written: a festival not configured, a day outside its
        // window or still to come, another township's family.
        let at = format!("/api/v1/households/{theirs}/visits");
        app.post(&at, &app.office, &visit(today, 999999)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "festival_not_configured");
        app.post(&at, &app.office, &visit(day - Duration::days(31), fid)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "outside_festival_window");
        app.post(&at, &app.office, &visit(today + Duration::days(1), fid)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "date_in_future");
        app.post(&at, &app.township, &visit(today, fid)).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/festivals/999999/not-visited", &app.office).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(households(&app.get(&path, &app.office).await.body), vec![theirs]);
        let visits: i64 = greenchannel::on_db!(&app.db, p => sqlx::query_scalar("select count(*) from festival_visit").fetch_one(p).await).unwrap();
        assert_eq!(visits, 1);
    }
}
