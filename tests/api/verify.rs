//! The desk's verify endpoint over a real socket, and its audit log.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, continue_rules_to_today, TestApp};

/// A real server for the app, and a client.
struct Served {
    base: String,
    client: reqwest::Client,
}

async fn serve(app: &TestApp) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Served {
        base: format!("http://{addr}/api/v1"),
        client: reqwest::Client::new(),
    }
}

impl Served {
    async fn verify(&self, token: &str, qr: &str) -> Value {
        let res = self
            .client
            .post(format!("{}/verify", self.base))
            .bearer_auth(token)
            .json(&json!({"qr": qr}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn raw(&self, token: Option<&str>, body: String) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/verify", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// A registered family with a card for the mother; returns (household, card).
async fn carded(app: &TestApp) -> (Value, Value) {
    continue_rules_to_today(app).await;
    let h = app.create_household(&bereaved_household()).await;
    let mother = h["members"][0]["member_id"].as_i64().unwrap();
    let card = app
        .post(
            &format!("/api/v1/members/{mother}/cards"),
            &app.office,
            &json!({}),
        )
        .await;
    assert_eq!(
        card.status,
        axum::http::StatusCode::CREATED,
        "{}",
        card.body
    );
    (h, card.body)
}

async fn verification_count(app: &TestApp) -> i64 {
    greenchannel::on_db!(&app.db, p => sqlx::query_scalar("select count(*) from verification").fetch_one(p).await).unwrap()
}

both! {
    async fn the_desk_sees_valid_revoked_foreign_and_garbage_cards(app) {
        let (h, card) = carded(&app).await;
        let s = serve(&app).await;
        let qr = card["qr_text"].as_str().unwrap();

        let v = s.verify(&app.desk, qr).await;
        assert_eq!(v["verdict"], "valid", "{v}");
        let words: Vec<&str> = v["priorities"].as_array().unwrap().iter().map(|p| p["zh"].as_str().unwrap()).collect();
        assert_eq!(words, ["优先挂号", "优先就医", "优先交费", "优先检查", "优先取药", "优先住院"]);
        assert_eq!(v["card"]["masked_name"], "张*兰");
        // Nothing more about the family than the desk needs.
        let text = v.to_string();
        let full_id = h["members"][0]["id_number"].as_str().unwrap();
        assert!(!text.contains("张秀兰") && !text.contains(full_id) && !text.contains("deceased") && !text.contains("2015-08-10"), "{text}");
        // A scanner's trailing newline does not matter.
        assert_eq!(s.verify(&app.clinic, &format!("{qr}\r\n")).await["verdict"], "valid");

        let serial = card["serial"].as_str().unwrap();
        app.post(&format!("/api/v1/cards/{serial}/revoke"), &app.office, &json!({"reason": "lost"})).await;
        let v = s.verify(&app.desk, qr).await;
        assert_eq!(v["verdict"], "revoked");
        assert!(v["reason_zh"].as_str().unwrap().contains("作废"));
        assert_eq!(v["priorities"], json!([]));

        // A card of another district's key.
        let other = greenchannel::card::CardSigner::from_seed([7; 32], NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2030, 1, 1).unwrap());
        let req = greenchannel::card::qr::CardRequest { full_name: "王芳", id_number: full_id, issued: greenchannel::time::today(), expires: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(), status_index: 5 };
        let foreign = greenchannel::card::qr::issue(&other, &req, &mut rand::rngs::OsRng).unwrap();
        assert_eq!(s.verify(&app.desk, &foreign.text).await["verdict"], "unknown_key");

        for garbage in ["hello", "GC1:!!!", "GC1:", ""] {
            let v = s.verify(&app.desk, garbage).await;
            assert_eq!(v["verdict"], "malformed", "{garbage:?}");
            assert_eq!(v["card"], Value::Null);
        }
        // Every call is in the audit log, and the chain holds.
        assert_eq!(verification_count(&app).await, 8);
        let report = greenchannel::db::audit::check(&app.db).await.unwrap();
        assert!(report.first_bad.is_none(), "{report:?}");
        assert_eq!(report.entries, 8);
    }
}

both! {
    async fn bad_requests_get_problems_not_verdicts(app) {
        let s = serve(&app).await;
        let (status, body) = s.raw(Some(&app.desk), "{\"qr\": ".into()).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("malformed_json")));
        let (status, body) = s.raw(Some(&app.desk), "{}".into()).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_body")));
        let (status, body) = s.raw(Some(&app.desk), json!({"qr": "x", "extra": 1}).to_string()).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_body")));
        let (status, _) = s.raw(Some(&app.desk), json!({"qr": "x".repeat(10_000)}).to_string()).await;
        assert_eq!(status, 413);
        let (status, _) = s.raw(None, json!({"qr": "x"}).to_string()).await;
        assert_eq!(status, 401);
        for token in [&app.office, &app.township, &app.auditor] {
            let (status, body) = s.raw(Some(token), json!({"qr": "x"}).to_string()).await;
            assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
        }
        assert_eq!(verification_count(&app).await, 0, "refused requests are not verifications");
    }
}

both! {
    async fn an_altered_audit_entry_is_named(app) {
        let (_, card) = carded(&app).await;
        let s = serve(&app).await;
        for _ in 0..5 {
            s.verify(&app.desk, card["qr_text"].as_str().unwrap()).await;
        }
        let ids: Vec<i64> = greenchannel::on_db!(&app.db, p => sqlx::query_scalar("select verification_id from verification order by verification_id").fetch_all(p).await).unwrap();
        assert_eq!(ids.len(), 5);
        greenchannel::on_db!(&app.db, p => sqlx::query("update verification set verdict = 'revoked' where verification_id = $1").bind(ids[2]).execute(p).await.map(|_| ())).unwrap();
        let report = greenchannel::db::audit::check(&app.db).await.unwrap();
        let bad = report.first_bad.expect("the edit is found");
        assert_eq!(bad.verification_id, ids[2]);
        assert!(bad.problem.contains("edited"), "{}", bad.problem);
        // A deleted entry is found at the one after it.
        greenchannel::on_db!(&app.db, p => sqlx::query("update verification set verdict = 'valid' where verification_id = $1").bind(ids[2]).execute(p).await.map(|_| ())).unwrap();
        greenchannel::on_db!(&app.db, p => sqlx::query("delete from verification where verification_id = $1").bind(ids[1]).execute(p).await.map(|_| ())).unwrap();
        let bad = greenchannel::db::audit::check(&app.db).await.unwrap().first_bad.expect("the gap is found");
        assert_eq!(bad.verification_id, ids[2]);
    }
}

both! {
    async fn scans_moved_to_another_day_are_named(app) {
        let (_, card) = carded(&app).await;
        let s = serve(&app).await;
        for _ in 0..3 {
            s.verify(&app.desk, card["qr_text"].as_str().unwrap()).await;
        }
        assert!(greenchannel::db::audit::check(&app.db).await.unwrap().first_bad.is_none());
        // The per-day report reads `day`: moving scans there must not pass the check.
        greenchannel::on_db!(&app.db, p => sqlx::query("update verification set day = '2019-01-01'").execute(p).await.map(|_| ())).unwrap();
        let bad = greenchannel::db::audit::check(&app.db).await.unwrap().first_bad.expect("the move is found");
        assert!(bad.problem.contains("another day"), "{}", bad.problem);
    }
}

both! {
    async fn desks_see_only_their_facility_and_copies_are_flagged(app) {
        let (_, card) = carded(&app).await;
        let f = app.post("/api/v1/facilities", &app.office, &json!({"name": "王村镇卫生院", "kind": "township_health_centre", "level": 1, "township_id": "370306102"})).await;
        let other_facility = f.body["facility_id"].as_i64().unwrap();
        let acc = app.post("/api/v1/accounts", &app.office, &json!({"name": "desk-b", "role": "desk", "facility_id": other_facility})).await;
        let desk_b = acc.body["token"].as_str().unwrap().to_owned();
        let s = serve(&app).await;
        let qr = card["qr_text"].as_str().unwrap();
        let first = s.verify(&app.desk, qr).await;
        assert_eq!(first["note_zh"], Value::Null);
        let second = s.verify(&desk_b, qr).await;
        assert_eq!(second["verdict"], "valid");
        assert!(second["note_zh"].as_str().unwrap().contains("核对"), "{second}");
        s.verify(&desk_b, "garbage").await;

        let recent_a = app.get("/api/v1/verify/recent", &app.desk).await.body;
        assert_eq!(recent_a.as_array().unwrap().len(), 1, "{recent_a}");
        assert_eq!(recent_a[0]["masked_name"], "张*兰");
        let recent_b = app.get("/api/v1/verify/recent", &desk_b).await.body;
        assert_eq!(recent_b.as_array().unwrap().len(), 2);
        app.get("/api/v1/audit/verifications", &app.desk).await.assert_problem(axum::http::StatusCode::FORBIDDEN, "forbidden");

        let alerts = app.get("/api/v1/audit/copy-alerts", &app.office).await.body;
        assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
        assert_eq!(alerts[0]["first_facility_id"], app.facility_id);
        assert_eq!(alerts[0]["second_facility_id"], other_facility);
        let per_card = app.get(&format!("/api/v1/audit/verifications?serial={}", card["serial"].as_str().unwrap()), &app.auditor).await.body;
        assert_eq!(per_card.as_array().unwrap().len(), 2);
        let today = greenchannel::time::today();
        let per_day = app.get(&format!("/api/v1/audit/per-day?from={today}&to={today}"), &app.office).await.body;
        let total: i64 = per_day.as_array().unwrap().iter().map(|r| r["count"].as_i64().unwrap()).sum();
        assert_eq!(total, 3);
    }
}

both! {
    async fn priorities_follow_the_facility_kind_and_its_changes_are_kept(app) {
        let (_, card) = carded(&app).await;
        let f = app.post("/api/v1/facilities", &app.office, &json!({"name": "周村区口腔诊所", "kind": "other", "level": 1, "township_id": "370306003"})).await;
        let id = f.body["facility_id"].as_i64().unwrap();
        let acc = app.post("/api/v1/accounts", &app.office, &json!({"name": "desk-c", "role": "desk", "facility_id": id})).await;
        let desk = acc.body["token"].as_str().unwrap().to_owned();
        let s = serve(&app).await;
        let qr = card["qr_text"].as_str().unwrap();
        let v = s.verify(&desk, qr).await;
        assert_eq!(v["priorities"], json!([{"code": "green_channel", "zh": "绿色通道"}]));

        let res = app.put(&format!("/api/v1/facilities/{id}"), &app.office, &json!({"reason": "升级为社区卫生服务中心", "facility": {"name": "周村区口腔诊所", "kind": "community_health_centre", "level": 1, "township_id": "370306003"}})).await;
        assert_eq!(res.status, axum::http::StatusCode::OK, "{}", res.body);
        let v = s.verify(&desk, qr).await;
        assert_eq!(v["priorities"].as_array().unwrap().len(), 6, "{v}");

        let history = app.get(&format!("/api/v1/facilities/{id}/history"), &app.auditor).await.body;
        let reasons: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["reason"].as_str().unwrap()).collect();
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[1], "升级为社区卫生服务中心");
        let res = app.put(&format!("/api/v1/facilities/{id}"), &app.office, &json!({"reason": "", "facility": {"name": "x", "kind": "other", "level": 1}})).await;
        res.assert_problem(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let res = app.put(&format!("/api/v1/facilities/{id}"), &app.township, &json!({"reason": "x", "facility": {"name": "x", "kind": "other", "level": 1}})).await;
        res.assert_problem(axum::http::StatusCode::FORBIDDEN, "forbidden");
    }
}

/// Scans `qr` at the desk until the verdict is `want`, for at most three key refreshes.
async fn verdict_becomes(s: &Served, app: &TestApp, qr: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + greenchannel::http::KEY_REFRESH * 3;
    loop {
        let answer = s.verify(&app.desk, qr).await;
        if answer["verdict"] == want {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {answer} after three key refreshes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// What `greenchannel keys …` does to the service's key folder and database.
async fn keys_command(app: &TestApp, change: impl FnOnce(&greenchannel::card::KeyStore)) {
    let store = greenchannel::card::KeyStore::open(app.keys_dir());
    greenchannel::service::keys::sync(&store, &app.db)
        .await
        .expect("sync before");
    change(&store);
    greenchannel::service::keys::sync(&store, &app.db)
        .await
        .expect("sync after");
}

both! {
    async fn a_key_compromised_with_the_command_line_is_refused_by_the_running_service(app) {
        let (h, card) = carded(&app).await;
        let qr = card["qr_text"].as_str().unwrap();
        let s = serve(&app).await;
        assert_eq!(s.verify(&app.desk, qr).await["verdict"], "valid");
        let id = greenchannel::card::KeyId::parse_hex(card["key_id"].as_str().unwrap()).unwrap();
        keys_command(&app, |store| store.mark_compromised(&id).expect("compromise")).await;
        verdict_becomes(&s, &app, qr, "key_compromised").await;
        // The running service no longer signs with it: no card, no status list, and the public
        // key set says so, for the offline desks too.
        let father = h["members"][1]["member_id"].as_i64().unwrap();
        app.post(&format!("/api/v1/members/{father}/cards"), &app.office, &json!({})).await
            .assert_problem(axum::http::StatusCode::SERVICE_UNAVAILABLE, "signing_unavailable");
        app.get("/api/v1/status-list", &app.office).await
            .assert_problem(axum::http::StatusCode::SERVICE_UNAVAILABLE, "signing_unavailable");
        let keys = app.get("/api/v1/keys", &app.office).await.body;
        assert_eq!(keys["keys"][0]["status"], "compromised", "{keys}");
        // And its secret is gone from the folder.
        assert!(!greenchannel::card::KeyStore::open(app.keys_dir()).secret_path(&id).exists());
    }
}

both! {
    async fn a_key_rotated_with_the_command_line_signs_the_next_cards(app) {
        let (h, card) = carded(&app).await;
        let qr = card["qr_text"].as_str().unwrap();
        let s = serve(&app).await;
        keys_command(&app, |store| {
            store.rotate(&mut rand::rngs::OsRng, chrono::Utc::now(), 3650).expect("rotate");
        }).await;
        let father = h["members"][1]["member_id"].as_i64().unwrap();
        let deadline = std::time::Instant::now() + greenchannel::http::KEY_REFRESH * 3;
        let keys = loop {
            let keys = app.get("/api/v1/keys", &app.office).await.body;
            if keys["keys"].as_array().map(Vec::len) == Some(2) {
                break keys;
            }
            assert!(std::time::Instant::now() < deadline, "the rotation did not arrive: {keys}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(keys["keys"][0]["status"], "verify_only", "{keys}");
        let new = app.post(&format!("/api/v1/members/{father}/cards"), &app.office, &json!({})).await;
        assert_eq!(new.status, axum::http::StatusCode::CREATED, "{}", new.body);
        assert_eq!(new.body["key_id"], keys["keys"][1]["key_id"], "the new key signs");
        // Both cards are valid at the desk, online and with the offline kit's copy of the keys.
        assert_eq!(s.verify(&app.desk, qr).await["verdict"], "valid");
        let new_qr = new.body["qr_text"].as_str().unwrap();
        assert_eq!(verdict_becomes(&s, &app, new_qr, "valid").await["verdict"], "valid");
        let (offline, _) = greenchannel::card::cli_verify(new_qr, &keys.to_string(), None, chrono::Utc::now(), greenchannel::time::today());
        assert_eq!(offline["verdict"], "valid", "{offline}");
    }
}

/// What someone who can write the database does to hide an edit: rewrites an entry and
/// recomputes the hashes of it and every later entry of its chain, so the chain itself checks.
async fn rewrite_from(app: &TestApp, seq: i64, verdict: &str) {
    type Row = (
        i64,
        String,
        i64,
        String,
        i64,
        i64,
        Option<String>,
        String,
        String,
    );
    let rows: Vec<Row> = greenchannel::on_db!(&app.db, p => sqlx::query_as(
        "select verification_id, chain_id, seq, at, facility_id, account_id, card_serial, verdict, prev_hash
           from verification order by chain_id, seq").fetch_all(p).await).unwrap();
    let mut prev: Option<String> = None;
    for (id, chain_id, s, at, facility_id, account_id, card_serial, old_verdict, prev_hash) in rows
    {
        if s < seq {
            continue;
        }
        let entry = greenchannel::audit::Entry {
            chain_id,
            seq: s,
            at,
            facility_id,
            account_id,
            card_serial,
            verdict: if s == seq {
                verdict.to_owned()
            } else {
                old_verdict
            },
        };
        let prev_hash = prev.take().unwrap_or(prev_hash);
        let hash = greenchannel::audit::hash(&prev_hash, &entry);
        greenchannel::on_db!(&app.db, p => sqlx::query("update verification set verdict = $1, prev_hash = $2, hash = $3 where verification_id = $4")
            .bind(&entry.verdict).bind(&prev_hash).bind(&hash).bind(id).execute(p).await.map(|_| ())).unwrap();
        prev = Some(hash);
    }
}

both! {
    async fn a_rewritten_log_that_checks_is_caught_by_an_exported_checkpoint(app) {
        let (_, card) = carded(&app).await;
        let s = serve(&app).await;
        let qr = card["qr_text"].as_str().unwrap();
        for _ in 0..3 {
            s.verify(&app.desk, qr).await;
        }
        let made = app.post("/api/v1/audit/checkpoints", &app.office, &json!({})).await;
        assert_eq!(made.body.as_array().map(Vec::len), Some(1), "{}", made.body);
        for _ in 0..2 {
            s.verify(&app.desk, qr).await;
        }
        let export = app.get("/api/v1/audit/checkpoints", &app.auditor).await.body;
        let file: greenchannel::audit::CheckpointFile = serde_json::from_value(export).unwrap();
        assert_eq!(file.checkpoints[0].seq, 3);
        let key = greenchannel::service::audit::AuditKey::open_or_create(app.keys_dir()).unwrap();
        let intact = greenchannel::service::audit::check_with(&app.db, &file, Some(&key)).await.unwrap();
        assert!(intact.first_bad.is_none(), "{:?}", intact.first_bad);
        // Entry 2 rewritten and every later hash recomputed: the chain alone checks…
        rewrite_from(&app, 2, "revoked").await;
        assert!(greenchannel::db::audit::check(&app.db).await.unwrap().first_bad.is_none());
        // …but the log no longer extends the checkpoint, which names the entry it signed.
        let report = greenchannel::service::audit::check_with(&app.db, &file, Some(&key)).await.unwrap();
        let bad = report.first_bad.expect("the rewrite is found");
        assert_eq!(bad.seq, 3);
        assert!(bad.problem.contains("rewritten"), "{}", bad.problem);
        // Deleting the tail back to before the checkpoint is found too.
        greenchannel::on_db!(&app.db, p => sqlx::query("delete from verification where seq >= 3").execute(p).await.map(|_| ())).unwrap();
        let bad = greenchannel::service::audit::check_with(&app.db, &file, Some(&key)).await.unwrap().first_bad.expect("the deletion is found");
        assert!(bad.problem.contains("deleted"), "{}", bad.problem);
        // A file whose checkpoint was altered, or signed by another key, proves nothing.
        let mut forged = file.clone();
        forged.checkpoints[0].seq = 2;
        greenchannel::service::audit::check_with(&app.db, &forged, Some(&key)).await.unwrap_err();
        // Only the office signs; the desk reads nothing here.
        app.post("/api/v1/audit/checkpoints", &app.auditor, &json!({})).await.assert_problem(axum::http::StatusCode::FORBIDDEN, "forbidden");
        app.get("/api/v1/audit/checkpoints", &app.desk).await.assert_problem(axum::http::StatusCode::FORBIDDEN, "forbidden");
    }
}
