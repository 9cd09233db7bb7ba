use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, continue_rules_to_today, TestApp};

/// A household with a current rule set, and its mother's member id.
async fn family(app: &TestApp) -> (Value, i64) {
    continue_rules_to_today(app).await;
    let h = app.create_household(&bereaved_household()).await;
    let mother = h["members"][0]["member_id"].as_i64().unwrap();
    (h, mother)
}

async fn issue(app: &TestApp, member: i64) -> Value {
    let res = app
        .post(
            &format!("/api/v1/members/{member}/cards"),
            &app.office,
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

/// Verifies a card offline, as a desk without network would: with the public key set and a
/// status list fetched earlier.
async fn offline(app: &TestApp, qr: &str) -> String {
    let keys = app
        .call(Method::GET, "/api/v1/keys", None, None, None)
        .await;
    let list = app
        .call(Method::GET, "/api/v1/status-list", None, None, None)
        .await;
    assert_eq!((keys.status, list.status), (StatusCode::OK, StatusCode::OK));
    let (json, _) = greenchannel::card::cli_verify(
        qr,
        &String::from_utf8(keys.bytes).unwrap(),
        Some(&String::from_utf8(list.bytes).unwrap()),
        Utc::now(),
        greenchannel::time::today(),
    );
    json["verdict"].as_str().unwrap().to_owned()
}

both! {
    async fn an_issued_card_verifies_offline_and_a_revoked_one_does_not(app) {
        let (_, mother) = family(&app).await;
        let card = issue(&app, mother).await;
        let qr = card["qr_text"].as_str().unwrap();
        assert!(qr.starts_with("GC1:"));
        assert_eq!(card["expires_on"], "2027-12-31", "capped by the rule set's window");
        assert_eq!(offline(&app, qr).await, "valid");
        let serial = card["serial"].as_str().unwrap();
        let res = app.post(&format!("/api/v1/cards/{serial}/revoke"), &app.office, &json!({"reason": "error", "note": "录入错误"})).await;
        assert_eq!(res.body["state"], "revoked", "{}", res.body);
        assert_eq!(offline(&app, qr).await, "revoked");
    }
}

both! {
    async fn suspension_and_reinstatement_follow_the_lifecycle(app) {
        let (_, mother) = family(&app).await;
        let card = issue(&app, mother).await;
        let serial = card["serial"].as_str().unwrap().to_owned();
        let qr = card["qr_text"].as_str().unwrap().to_owned();
        let path = |action: &str| format!("/api/v1/cards/{serial}/{action}");
        app.post(&path("reinstate"), &app.office, &json!({"reason": "x"})).await.assert_problem(StatusCode::CONFLICT, "bad_transition");
        app.post(&path("suspend"), &app.office, &json!({"reason": " "})).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(app.post(&path("suspend"), &app.office, &json!({"reason": "复核家庭情况"})).await.body["state"], "suspended");
        assert_eq!(offline(&app, &qr).await, "suspended");
        assert_eq!(app.post(&path("reinstate"), &app.office, &json!({"reason": "复核无误"})).await.body["state"], "active");
        assert_eq!(offline(&app, &qr).await, "valid");
        let view = app.get(&format!("/api/v1/cards/{serial}"), &app.office).await;
        let actions: Vec<&str> = view.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["issued", "suspended", "reinstated"]);
        app.post(&path("revoke"), &app.office, &json!({"reason": "because"})).await.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        app.post(&path("suspend"), &app.desk, &json!({"reason": "x"})).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
}

both! {
    async fn a_lost_card_is_reissued_with_a_new_serial_and_the_old_one_revoked(app) {
        let (_, mother) = family(&app).await;
        let old = issue(&app, mother).await;
        let res = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        res.assert_problem(StatusCode::CONFLICT, "card_exists");
        let res = app.post(&format!("/api/v1/cards/{}/reissue", old["serial"].as_str().unwrap()), &app.office, &json!({"reason": "遗失"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_ne!(res.body["serial"], old["serial"]);
        assert_ne!(res.body["status_index"], old["status_index"]);
        assert_eq!(res.body["replaces_card_id"], old["card_id"]);
        assert_eq!(offline(&app, old["qr_text"].as_str().unwrap()).await, "revoked");
        assert_eq!(offline(&app, res.body["qr_text"].as_str().unwrap()).await, "valid");
    }
}

both! {
    async fn a_register_change_suspends_cards_and_the_office_confirms_or_undoes_it(app) {
        let (h, mother) = family(&app).await;
        let father = h["members"][1]["member_id"].as_i64().unwrap();
        let card = issue(&app, mother).await;
        let other = issue(&app, father).await;
        let mut changed = bereaved_household();
        changed["other_child_since"] = json!(true);
        changed["other_child_on"] = json!("2026-01-05");
        let id = h["household_id"].as_i64().unwrap();
        let res = app.put(&format!("/api/v1/households/{id}"), &app.township, &json!({"version": 1, "reason": "收养子女", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        // Suspended, not revoked: one mistaken township edit must not end a family's cards.
        let serial = card["serial"].as_str().unwrap();
        let view = app.get(&format!("/api/v1/cards/{serial}"), &app.office).await;
        assert_eq!(view.body["state"], "suspended", "{}", view.body);
        let last = view.body["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["automatic"], true);
        assert!(last["reason"].as_str().unwrap().starts_with("自动 / automatic"), "{last}");
        let waiting = app.get("/api/v1/cards/awaiting-confirmation", &app.office).await;
        let serials: Vec<&str> = waiting.body.as_array().unwrap().iter().map(|c| c["serial"].as_str().unwrap()).collect();
        assert_eq!(serials.len(), 2, "{}", waiting.body);
        assert!(serials.contains(&serial));
        // The office confirms one (revoke) and undoes the other (reinstate): neither waits now.
        let res = app.post(&format!("/api/v1/cards/{serial}/revoke"), &app.office, &json!({"reason": "another_child"})).await;
        assert_eq!(res.body["state"], "revoked", "{}", res.body);
        let other_serial = other["serial"].as_str().unwrap();
        let res = app.post(&format!("/api/v1/cards/{other_serial}/reinstate"), &app.office, &json!({"reason": "误录，已更正"})).await;
        assert_eq!(res.body["state"], "active", "{}", res.body);
        assert_eq!(app.get("/api/v1/cards/awaiting-confirmation", &app.office).await.body, json!([]));
        // Only the office sees that list.
        app.get("/api/v1/cards/awaiting-confirmation", &app.township).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        // And nobody in a household that is not a special family gets a card.
        let res = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        res.assert_problem(StatusCode::CONFLICT, "not_entitled");
    }
}

both! {
    async fn a_revoked_card_stays_revoked_when_the_register_changes(app) {
        let (h, mother) = family(&app).await;
        let card = issue(&app, mother).await;
        let serial = card["serial"].as_str().unwrap();
        let res = app.post(&format!("/api/v1/cards/{serial}/revoke"), &app.office, &json!({"reason": "lost"})).await;
        assert_eq!(res.body["state"], "revoked", "{}", res.body);
        let mut changed = bereaved_household();
        changed["other_child_since"] = json!(true);
        changed["other_child_on"] = json!("2026-01-05");
        let id = h["household_id"].as_i64().unwrap();
        let res = app.put(&format!("/api/v1/households/{id}"), &app.office, &json!({"version": 1, "reason": "收养子女", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let view = app.get(&format!("/api/v1/cards/{serial}"), &app.office).await;
        assert_eq!(view.body["state"], "revoked", "{}", view.body);
        assert_eq!(view.body["events"].as_array().unwrap().len(), 2, "issued and revoked, nothing after: {}", view.body);
    }
}

both! {
    async fn a_household_change_whose_card_change_fails_changes_nothing(app) {
        let (h, mother) = family(&app).await;
        let card = issue(&app, mother).await;
        // The card change fails inside the database, as a full disk or a lost connection would.
        fail_card_events(&app, true).await;
        let mut changed = bereaved_household();
        changed["other_child_since"] = json!(true);
        changed["other_child_on"] = json!("2026-01-05");
        changed["address"] = json!("丝绸路14号");
        let id = h["household_id"].as_i64().unwrap();
        let path = format!("/api/v1/households/{id}");
        let res = app.put(&path, &app.office, &json!({"version": 1, "reason": "收养子女", "household": changed})).await;
        assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.body);
        // Neither the file nor its history nor the card changed.
        let now = app.get(&path, &app.office).await.body;
        assert_eq!((now["version"].as_i64(), now["address"].as_str()), (Some(1), Some("丝绸路12号")), "{now}");
        assert_eq!(now["other_child_since"], false);
        assert_eq!(app.get(&format!("{path}/history"), &app.office).await.body.as_array().map(Vec::len), Some(1));
        let view = app.get(&format!("/api/v1/cards/{}", card["serial"].as_str().unwrap()), &app.office).await;
        assert_eq!(view.body["state"], "active", "{}", view.body);
        // Once the database is well again, the same change (same version) lands whole.
        fail_card_events(&app, false).await;
        let res = app.put(&path, &app.office, &json!({"version": 1, "reason": "收养子女", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let view = app.get(&format!("/api/v1/cards/{}", card["serial"].as_str().unwrap()), &app.office).await;
        assert_eq!(view.body["state"], "suspended", "{}", view.body);
    }
}

/// Makes every insert into `card_event` fail (or stop failing), with a trigger.
async fn fail_card_events(app: &TestApp, fail: bool) {
    use greenchannel::db::Db;
    let statements: &[&str] = match (&app.db, fail) {
        (Db::Sqlite(_), true) => &["create trigger fail_card_event before insert on card_event begin select raise(abort, 'injected failure'); end"],
        (Db::Sqlite(_), false) => &["drop trigger fail_card_event"],
        (Db::Postgres(_), true) => &[
            "create function fail_card_event() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$",
            "create trigger fail_card_event before insert on card_event for each row execute function fail_card_event()",
        ],
        (Db::Postgres(_), false) => &["drop trigger fail_card_event on card_event", "drop function fail_card_event()"],
    };
    for sql in statements {
        greenchannel::on_db!(&app.db, p => sqlx::query(sql).execute(p).await.map(|_| ()))
            .expect(sql);
    }
}

both! {
    async fn batch_issuing_skips_those_with_cards_and_is_safe_to_rerun(app) {
        let (_, mother) = family(&app).await;
        issue(&app, mother).await;
        let res = app.post("/api/v1/cards/batch", &app.office, &json!({})).await;
        assert_eq!(res.body["issued"].as_array().map(Vec::len), Some(1), "{}", res.body);
        let again = app.post("/api/v1/cards/batch", &app.office, &json!({})).await;
        assert_eq!(again.body["issued"], json!([]));
    }
}

both! {
    async fn a_card_prints_as_a_small_pdf_and_sheets_of_ten(app) {
        let (h, mother) = family(&app).await;
        let a = issue(&app, mother).await;
        let b = issue(&app, h["members"][1]["member_id"].as_i64().unwrap()).await;
        let pdf = app.get(&format!("/api/v1/cards/{}/pdf", a["serial"].as_str().unwrap()), &app.office).await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert_eq!(pdf.content_type, "application/pdf");
        assert!(pdf.bytes.starts_with(b"%PDF") && pdf.bytes.len() < 40 * 1024, "{} bytes", pdf.bytes.len());
        let sheet = app.post("/api/v1/cards/sheet.pdf", &app.office, &json!({"serials": [a["serial"], b["serial"]]})).await;
        assert_eq!(sheet.content_type, "application/pdf");
        app.post("/api/v1/cards/sheet.pdf", &app.office, &json!({"serials": ["nope"]})).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
}

both! {
    async fn a_name_the_font_cannot_print_is_refused_by_name(app) {
        continue_rules_to_today(&app).await;
        let mut h = bereaved_household();
        h["members"][0]["name"] = json!("张\u{20000}兰");
        let created = app.create_household(&h).await;
        let mother = created["members"][0]["member_id"].as_i64().unwrap();
        let res = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        res.assert_problem(StatusCode::CONFLICT, "name_not_printable");
        assert!(res.body["detail"].as_str().unwrap().contains("U+20000"), "{}", res.body);
        assert!(app.get(&format!("/api/v1/members/{mother}/cards"), &app.office).await.body.as_array().unwrap().is_empty());
    }
}

both! {
    async fn a_card_issued_while_the_file_changes_is_never_left_active_for_someone_not_entitled(app) {
        continue_rules_to_today(&app).await;
        for round in 0..8u32 {
            let mut body = bereaved_household();
            body["members"][0]["id_number"] = json!(crate::helpers::id(1966, 3, 20, true, 10 + round));
            body["members"][1]["id_number"] = json!(crate::helpers::id(1964, 11, 2, false, 10 + round));
            let h = app.create_household(&body).await;
            let id = h["household_id"].as_i64().unwrap();
            let mother = h["members"][0]["member_id"].as_i64().unwrap();
            let mut changed = body.clone();
            changed["other_child_since"] = json!(true);
        changed["other_child_on"] = json!("2026-01-05");
            let issue_path = format!("/api/v1/members/{mother}/cards");
            let change_path = format!("/api/v1/households/{id}");
            let change_body = json!({"version": 1, "reason": "收养子女", "household": changed});
            let empty = json!({});
            let (issued, change) = tokio::join!(
                app.post(&issue_path, &app.office, &empty),
                app.put(&change_path, &app.office, &change_body),
            );
            assert_eq!(change.status, StatusCode::OK, "{}", change.body);
            // Either the change came first and no card was issued, or the card came first and
            // the change suspended it: never an active card in a family no longer entitled.
            let cards = app.get(&issue_path, &app.office).await.body;
            for card in cards.as_array().unwrap() {
                assert_ne!(card["state"], "active", "round {round}: issue {} / {card}", issued.status);
            }
        }
    }
}
