use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{bereaved_household, id};

both! {
    async fn a_created_file_reads_back_with_validated_fields(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        let res = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body, created);
        let mother = &res.body["members"][0];
        // Sex and birth date come from the ID number.
        assert_eq!(mother["sex"], "female");
        assert_eq!(mother["born_on"], "1966-03-20");
        assert_eq!(mother["resident_pension"]["basic_monthly_fen"], 16000);
        assert_eq!(res.body["child"], json!({"status": "deceased", "died_on": "2015-08-10"}));
        assert_eq!(res.body["version"], 1);
    }
}

both! {
    async fn every_change_is_kept_with_who_when_and_why(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        let mut changed = bereaved_household();
        changed["dibao"] = json!(true);
        changed["members"][1]["died_on"] = json!("2020-01-05");
        let res = app.put(&format!("/api/v1/households/{id}"), &app.township, &json!({
            "version": 1, "reason": "入户核实：纳入低保", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["version"], 2);
        assert_eq!(res.body["dibao"], true);
        // Member ids survive a change: members are matched by role.
        assert_eq!(res.body["members"][1]["member_id"], created["members"][1]["member_id"]);

        let history = app.get(&format!("/api/v1/households/{id}/history"), &app.office).await;
        let entries = history.body.as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1]["reason"], "入户核实：纳入低保");
        assert!(entries[1]["account_id"].as_i64().is_some());

        // What the file said at the end of a day before the change: version 1.
        let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d");
        let res = app.get(&format!("/api/v1/households/{id}?as_of={yesterday}"), &app.office).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let today = greenchannel::time::today();
        let res = app.get(&format!("/api/v1/households/{id}?as_of={today}"), &app.office).await;
        assert_eq!(res.body["version"], 2);
    }
}

both! {
    async fn the_file_as_of_a_date_is_the_version_then(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        // Backdate the first version so that "as of" a past day can be asked.
        greenchannel::on_db!(&app.db, p => sqlx::query(
            "update change_log set changed_at = $1 where entity = 'household' and entity_id = $2 and version = 1")
            .bind(chrono::DateTime::parse_from_rfc3339("2020-06-01T02:00:00Z").unwrap().with_timezone(&chrono::Utc))
            .bind(id).execute(p).await.map(|_| ()).unwrap());
        let mut changed = bereaved_household();
        changed["address"] = json!("新地址8号");
        let res = app.put(&format!("/api/v1/households/{id}"), &app.office, &json!({
            "version": 1, "reason": "搬家", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let then = app.get(&format!("/api/v1/households/{id}?as_of=2020-06-01"), &app.office).await;
        assert_eq!(then.body["address"], "丝绸路12号");
        assert_eq!(then.body["version"], 1);
        let before = app.get(&format!("/api/v1/households/{id}?as_of=2020-05-31"), &app.office).await;
        before.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let now = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(now.body["address"], "新地址8号");
    }
}

both! {
    async fn a_stale_version_is_refused_and_changes_nothing(app) {
        let created = app.create_household(&bereaved_household()).await;
        let id = created["household_id"].as_i64().unwrap();
        let mut changed = bereaved_household();
        changed["address"] = json!("别处");
        let res = app.put(&format!("/api/v1/households/{id}"), &app.office, &json!({
            "version": 7, "reason": "x", "household": changed})).await;
        res.assert_problem(StatusCode::CONFLICT, "stale_version");
        let res = app.put(&format!("/api/v1/households/{id}"), &app.office, &json!({
            "version": 1, "reason": "  ", "household": changed})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let now = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(now.body, created);
    }
}

both! {
    async fn bad_fields_are_all_named_and_nothing_is_written(app) {
        let mut bad = bereaved_household();
        bad["township_id"] = json!("999999999");
        bad["members"][0]["id_number"] = json!("370306196603200021"); // wrong check digit
        bad["members"][1]["born_on"] = json!("1970-01-01"); // disagrees with the ID number
        let res = app.post("/api/v1/households", &app.office, &bad).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let fields: Vec<&str> = res.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"members[0].id_number"), "{fields:?}");
        assert!(fields.contains(&"members[1].born_on"), "{fields:?}");
        let mut unknown_township = bereaved_household();
        unknown_township["township_id"] = json!("999999999");
        let res = app.post("/api/v1/households", &app.office, &unknown_township).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "township_id");
        let list = app.get("/api/v1/households", &app.office).await;
        assert_eq!(list.body, json!([]));
    }
}

both! {
    async fn an_id_number_can_be_on_only_one_file(app) {
        app.create_household(&bereaved_household()).await;
        let mut again = bereaved_household();
        again["members"].as_array_mut().unwrap().truncate(1);
        let res = app.post("/api/v1/households", &app.office, &again).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "members[0].id_number");
        let list = app.get("/api/v1/households", &app.office).await;
        assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    }
}

both! {
    async fn a_mother_must_be_a_woman_by_her_id_number(app) {
        let mut h = bereaved_household();
        h["members"][0]["id_number"] = json!(id(1966, 3, 20, false, 9));
        let res = app.post("/api/v1/households", &app.office, &h).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "members[0].role");
    }
}
