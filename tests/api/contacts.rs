//! The contact person's monthly log (二(二)): at the service, where a test must choose "now" —
//! months due from the one after registration, a contact counted for its Beijing date at the
//! month's and the year's boundary, a family that stops being special mid-month — and over the
//! API: the log, a follow-up closed once, bad input by name, townships held to their own.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, continue_rules_to_today, id, TestApp};
use greenchannel::auth::{Caller, StaffRole};
use greenchannel::error::AppError;
use greenchannel::service::contacts::{self, Contact, ContactHow, Month, Sheet};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A household of 丝绸路街道 with its own ID numbers.
pub(crate) fn family(n: u32) -> Value {
    let mut h = bereaved_household();
    h["members"][0]["id_number"] = json!(id(1966, 3, 20, true, 400 + n));
    h["members"][1]["id_number"] = json!(id(1964, 11, 2, false, 400 + n));
    h["members"][0]["phone"] = Value::Null;
    h
}

async fn household(app: &TestApp, n: u32, registered: &str) -> i64 {
    let h = app.create_household(&family(n)).await;
    let id = h["household_id"].as_i64().unwrap();
    registered_at(app, id, t(registered)).await;
    id
}

/// Moves a file's registration back in time, as for a family registered before this test.
pub(crate) async fn registered_at(app: &TestApp, household_id: i64, at: DateTime<Utc>) {
    greenchannel::on_db!(&app.db, p => sqlx::query("update household set created_at = $1 where household_id = $2")
        .bind(at).bind(household_id).execute(p).await.map(|_| ()))
    .unwrap();
}

async fn caller(app: &TestApp, name: &str, role: StaffRole, township: Option<&str>) -> Caller {
    let account_id: i64 = greenchannel::on_db!(&app.db, p => sqlx::query_scalar("select account_id from account where name = $1")
        .bind(name).fetch_one(p).await)
    .unwrap();
    Caller {
        account_id,
        name: name.into(),
        role,
        township_id: township.map(Into::into),
        facility_id: None,
    }
}

fn phoned(at: &str) -> Contact {
    Contact {
        at: at.into(),
        how: ContactHow::Phone,
        made_by: "王干事".into(),
        raised: Some("问候，身体尚好".into()),
        needs: None,
        follow_up: None,
        closes_contact_id: None,
    }
}

async fn sheet(app: &TestApp, who: &Caller, month: &str, today: NaiveDate) -> Sheet {
    let book = std::sync::Arc::new(greenchannel::db::rules::book(&app.db).await.unwrap().0);
    contacts::sheet(
        &app.db,
        book,
        who,
        Month::parse(month).unwrap(),
        None,
        today,
    )
    .await
    .unwrap()
}

/// (household, contacted, months without contact) of a sheet, by household.
fn rows(s: &Sheet) -> Vec<(i64, bool, i32)> {
    let mut r: Vec<_> = s
        .households
        .iter()
        .map(|h| (h.household_id, h.contacted, h.months_without_contact))
        .collect();
    r.sort();
    r
}

both! {
    async fn months_are_due_after_registration_and_a_contact_counts_for_its_beijing_day(app) {
        continue_rules_to_today(&app).await;
        let township = caller(&app, "township", StaffRole::Township, Some("370306001")).await;
        let office = caller(&app, "office", StaffRole::Office, None).await;
        // Registered on 1 December 2025, 15 December 2025, 15 January 2026, and at 00:30 on
        // 1 January 2026 Beijing time (still 31 December in UTC).
        let first = household(&app, 1, "2025-12-01T02:00:00Z").await;
        let early = household(&app, 2, "2025-12-15T02:00:00Z").await;
        let mid = household(&app, 3, "2026-01-15T02:00:00Z").await;
        let new_year = household(&app, 4, "2025-12-31T16:30:00Z").await;
        let now = t("2026-04-01T04:00:00Z");

        // 23:30 on 31 January Beijing time (15:30 UTC) counts for January; 00:30 on 1 February
        // (16:30 UTC on 31 January) for February; 00:30 on 1 January for January, not December.
        let c = contacts::log(&app.db, &township, early, &phoned("2026-01-31T15:30:00Z"), now).await.unwrap();
        assert_eq!(c.contacted_on, d(2026, 1, 31));
        let c = contacts::log(&app.db, &township, mid, &phoned("2026-01-31T16:30:00Z"), now).await.unwrap();
        assert_eq!(c.contacted_on, d(2026, 2, 1));
        contacts::log(&app.db, &township, first, &phoned("2025-12-31T16:30:00Z"), now).await.unwrap();

        // December 2025: those registered in it are not due yet.
        let dec = sheet(&app, &office, "2025-12", d(2026, 1, 1)).await;
        assert!(dec.ended);
        assert_eq!(rows(&dec), vec![], "registered in December, due from January");

        let jan = sheet(&app, &office, "2026-01", d(2026, 2, 1)).await;
        assert_eq!(rows(&jan), vec![(first, true, 0), (early, true, 0)], "the 15 January and the new-year files are due from February");
        let feb = sheet(&app, &office, "2026-02", d(2026, 3, 1)).await;
        assert_eq!(rows(&feb), vec![(first, false, 1), (early, false, 1), (mid, true, 0), (new_year, false, 1)]);
        assert!(feb.ended);
        let figures = &feb.townships[0];
        assert_eq!((figures.township_id.as_str(), figures.due, figures.contacted, figures.not_contacted), ("370306001", 4, 1, 3));
        assert!(!feb.households[0].contacted, "those not contacted come first");

        // Another child born on 10 March: no longer a special family, not due for March.
        let mut edited = family(1);
        edited["other_child_since"] = json!(true);
        edited["other_child_on"] = json!("2026-03-10");
        let current = app.get(&format!("/api/v1/households/{first}"), &app.office).await;
        let res = app.put(&format!("/api/v1/households/{first}"), &app.office, &json!({
            "version": current.body["version"], "reason": "再生育", "household": edited,
        })).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let mar = sheet(&app, &office, "2026-03", d(2026, 4, 1)).await;
        assert_eq!(rows(&mar), vec![(early, false, 2), (mid, false, 1), (new_year, false, 2)]);
        // The month under way: due, not yet overdue.
        let apr = sheet(&app, &office, "2026-04", d(2026, 4, 1)).await;
        assert!(!apr.ended);
        assert_eq!(apr.judged_on, d(2026, 4, 1));
        assert_eq!(rows(&apr), vec![(early, false, 3), (mid, false, 2), (new_year, false, 3)]);

        // A month still to come, a contact in the future (by its day or by its moment), one
        // too far back, and another township's file are refused by name.
        let book = std::sync::Arc::new(greenchannel::db::rules::book(&app.db).await.unwrap().0);
        let r = contacts::sheet(&app.db, book, &office, Month::parse("2026-05").unwrap(), None, d(2026, 4, 1)).await;
        assert!(matches!(&r, Err(AppError::Validation(e)) if e[0].field == "month"), "{r:?}");
        for at in ["2026-04-02", "2026-04-01T04:00:01Z"] {
            let r = contacts::log(&app.db, &township, early, &phoned(at), now).await;
            assert!(matches!(&r, Err(AppError::Unprocessable { code: "date_in_future", .. })), "{at}: {r:?}");
        }
        let r = contacts::log(&app.db, &township, early, &phoned("2025-03-01"), now).await;
        assert!(matches!(&r, Err(AppError::Validation(e)) if e[0].field == "at"), "{r:?}");
        let other = caller(&app, "township-2", StaffRole::Township, Some("370306100")).await;
        let r = contacts::log(&app.db, &other, early, &phoned("2026-03-31"), now).await;
        assert!(matches!(&r, Err(AppError::NotFound("household"))), "{r:?}");
        let logged: i64 = greenchannel::on_db!(&app.db, p => sqlx::query_scalar("select count(*) from contact_log").fetch_one(p).await).unwrap();
        assert_eq!(logged, 3, "nothing refused was written");
    }
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> crate::helpers::Response {
    app.post(path, token, &body).await
}

both! {
    async fn townships_log_contacts_and_close_a_follow_up_once(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&family(20)).await;
        let hid = h["household_id"].as_i64().unwrap();
        let path = format!("/api/v1/households/{hid}/contacts");
        let today = greenchannel::time::today();
        let res = post(&app, &path, &app.township, json!({
            "at": today, "how": "visit", "made_by": "王干事", "raised": "老伴住院，想问医疗救助",
            "needs": "医疗救助申请", "follow_up": "下周协助递交申请",
        })).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let promised = res.body["contact_id"].as_i64().unwrap();
        assert_eq!(res.body["contacted_on"], json!(today));

        // A contact that keeps no promise cannot be closed; the promise is closed once.
        let plain = post(&app, &path, &app.township, json!({"at": today, "how": "phone", "made_by": "王干事"})).await;
        assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
        let res = post(&app, &path, &app.township, json!({
            "at": today, "how": "phone", "made_by": "王干事", "closes_contact_id": plain.body["contact_id"],
        })).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "no_follow_up");
        let res = post(&app, &path, &app.township, json!({
            "at": today, "how": "phone", "made_by": "王干事", "raised": "申请已递交", "closes_contact_id": promised,
        })).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let closing = res.body["contact_id"].as_i64().unwrap();
        let res = post(&app, &path, &app.office, json!({
            "at": today, "how": "other", "made_by": "区卫健局", "closes_contact_id": promised,
        })).await;
        res.assert_problem(StatusCode::CONFLICT, "follow_up_closed");
        let log = app.get(&path, &app.auditor).await;
        assert_eq!(log.status, StatusCode::OK);
        let entries = log.body.as_array().unwrap();
        assert_eq!(entries.len(), 3, "{}", log.body);
        let first = entries.iter().find(|e| e["contact_id"] == json!(promised)).unwrap();
        assert_eq!(first["closed_by_contact_id"], json!(closing));
        assert_eq!(first["made_by"], "王*事", "the auditor reads the contact person's name masked");
        let whole = app.get(&path, &app.township).await;
        assert!(whole.body.as_array().unwrap().iter().all(|e| e["made_by"] == "王干事"), "{}", whole.body);

        // Bad input, each by its name; nothing written.
        let tomorrow = today + Duration::days(1);
        let cases = [
            (json!({"at": tomorrow, "how": "phone", "made_by": "王干事"}), StatusCode::UNPROCESSABLE_ENTITY, "date_in_future", None),
            (json!({"at": "2026-02-30", "how": "phone", "made_by": "王干事"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("at")),
            (json!({"at": "2026-01-31T23:30:00", "how": "phone", "made_by": "王干事"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("at")),
            (json!({"at": today, "how": "phone", "made_by": " "}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("made_by")),
            (json!({"at": today, "how": "phone", "made_by": "王干事", "needs": "很".repeat(501)}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("needs")),
            (json!({"at": today, "how": "email", "made_by": "王干事"}), StatusCode::BAD_REQUEST, "invalid_body", None),
            (json!({"at": today, "how": "phone", "made_by": "王干事", "diagnosis": "x"}), StatusCode::BAD_REQUEST, "invalid_body", None),
            (json!({"at": today, "how": "phone", "made_by": "王干事", "closes_contact_id": 999999}), StatusCode::NOT_FOUND, "not_found", None),
        ];
        for (body, status, code, field) in cases {
            let res = post(&app, &path, &app.township, body.clone()).await;
            res.assert_problem(status, code);
            if let Some(field) = field {
                assert_eq!(res.body["errors"][0]["field"], field, "{body}: {}", res.body);
            }
        }
        let res = post(&app, "/api/v1/households/999999/contacts", &app.office, json!({"at": today, "how": "phone", "made_by": "王干事"})).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let log = app.get(&path, &app.office).await;
        assert_eq!(log.body.as_array().unwrap().len(), 3, "nothing refused was written");

        // Another township's staff: the file does not exist for them.
        let res = post(&app, &path, &app.other_township, json!({"at": today, "how": "phone", "made_by": "赵干事"})).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.get(&path, &app.other_township).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/contacts/overdue?township=370306001", &app.other_township).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
}

both! {
    async fn the_overdue_list_is_scoped_and_masked_and_refuses_bad_months(app) {
        continue_rules_to_today(&app).await;
        let today = greenchannel::time::today();
        let this_month = Month::of(today);
        let last_month = Month::of(this_month.first() - Duration::days(1));
        // One file registered a year ago and never reached; one registered today.
        let old = app.create_household(&family(30)).await["household_id"].as_i64().unwrap();
        registered_at(&app, old, Utc::now() - Duration::days(400)).await;
        app.create_household(&family(31)).await;

        let overdue = app.get(&format!("/api/v1/contacts/overdue?month={last_month}"), &app.township).await;
        assert_eq!(overdue.status, StatusCode::OK, "{}", overdue.body);
        assert_eq!(overdue.body["ended"], json!(true));
        let listed: Vec<i64> = overdue.body["households"].as_array().unwrap().iter().map(|h| h["household_id"].as_i64().unwrap()).collect();
        assert_eq!(listed, vec![old], "registered today, not due last month");
        let row = &overdue.body["households"][0];
        assert_eq!(row["name"], "张秀兰");
        assert!(row["months_without_contact"].as_i64().unwrap() >= 12, "{row}");
        assert_eq!(row["last_contact_on"], Value::Null);

        // The auditor reads the office's figures with names masked; another township sees none.
        let audited = app.get(&format!("/api/v1/contacts/overdue?month={last_month}"), &app.auditor).await;
        assert_eq!(audited.body["households"][0]["name"], "张*兰", "{}", audited.body);
        assert_eq!(audited.body["households"][0]["contact_person"], "王*事");
        let other = app.get(&format!("/api/v1/contacts/overdue?month={last_month}"), &app.other_township).await;
        assert_eq!(other.body["households"], json!([]), "{}", other.body);

        // A contact today takes the old file off this month's list; the sheet keeps it, reached.
        let res = app.post(&format!("/api/v1/households/{old}/contacts"), &app.township, &json!({"at": today, "how": "phone", "made_by": "王干事"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let now = app.get("/api/v1/contacts/overdue", &app.township).await;
        assert_eq!(now.body["month"], json!(this_month.to_string()));
        assert_eq!(now.body["ended"], json!(false));
        assert_eq!(now.body["households"], json!([]), "{}", now.body);
        let sheet = app.get("/api/v1/contacts/sheet", &app.township).await;
        let rows = sheet.body["households"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "the file registered today is not due yet: {}", sheet.body);
        assert_eq!((rows[0]["household_id"].as_i64(), &rows[0]["contacted"]), (Some(old), &json!(true)));

        let next = this_month.first() + Months::new(1);
        for month in ["2026-13", "26-01", "2026-1", &next.format("%Y-%m").to_string()] {
            let res = app.get(&format!("/api/v1/contacts/overdue?month={month}"), &app.office).await;
            res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(res.body["errors"][0]["field"], "month", "{month}: {}", res.body);
        }
    }
}

both! {
    async fn a_township_sets_the_contact_person_and_group_and_every_change_is_kept(app) {
        let created = app.create_household(&bereaved_household()).await;
        let hid = created["household_id"].as_i64().unwrap();
        let path = format!("/api/v1/households/{hid}/contact-person");
        let person = json!({
            "name": "赵联络", "phone": "13900001111", "role": "community_cadre",
            "group": [
                {"name": "钱会员", "role": "association_member", "phone": "13900002222"},
                {"name": "孙志愿", "role": "volunteer"}
            ]
        });
        let res = app.put(&path, &app.township, &json!({"contact": person, "reason": "村居调整联系人"})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["current"], person);
        assert_eq!(res.body["version"], 2);
        // The history: the contact the file was made with, then the new one, with why.
        let history = res.body["history"].as_array().unwrap();
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[0]["contact"]["name"], "王干事");
        assert_eq!(history[1]["contact"]["name"], "赵联络");
        assert_eq!(history[1]["reason"], "村居调整联系人");
        // It is the file's contact: the file reads it, and the change is in the file's history.
        let file = app.get(&format!("/api/v1/households/{hid}"), &app.office).await.body;
        assert_eq!(file["contact"]["role"], "community_cadre");
        assert_eq!(file["contact"]["group"][1]["name"], "孙志愿");
        // A change on a stale version is refused and changes nothing.
        let res = app.put(&path, &app.office, &json!({"contact": {"name": "周某"}, "version": 1})).await;
        res.assert_problem(StatusCode::CONFLICT, "stale_version");
        assert_eq!(app.get(&path, &app.office).await.body["current"]["name"], "赵联络");
        // The auditor reads it with phones masked; another township finds no such household; a
        // clinic and a desk may not.
        let audited = app.get(&path, &app.auditor).await;
        assert_eq!(audited.status, StatusCode::OK, "{}", audited.body);
        let audited = audited.body;
        assert_eq!(audited["current"]["group"][0]["phone"], "139****2222");
        assert_eq!(audited["current"]["name"], "赵*络");
        assert_eq!(audited["current"]["group"][0]["name"], "钱*员");
        assert_eq!(audited["history"][1]["contact"]["phone"], "139****1111");
        assert_eq!(audited["history"][0]["contact"]["name"], "王*事");
        app.get(&path, &app.other_township).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.put(&path, &app.other_township, &json!({"contact": {"name": "周某"}})).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.get(&path, &app.clinic).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        // Bad input names the field: an unknown role, an empty group member, a group too large.
        let res = app.put(&path, &app.township, &json!({"contact": {"name": "周某", "role": "boss"}})).await;
        assert!(res.status.is_client_error() && res.body.to_string().contains("role"), "{}", res.body);
        let res = app.put(&path, &app.township, &json!({"contact": {"name": "周某", "group": [{"name": " "}]}})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert!(res.body.to_string().contains("contact.group[0].name"), "{}", res.body);
        let res = app.put(&path, &app.township, &json!({"contact": {"name": "周某", "group": [{"name": "李 四", "phone": "+86 139"}]}})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert!(res.body.to_string().contains("contact.group[0].name") && res.body.to_string().contains("contact.group[0].phone"), "{}", res.body);
        let many: Vec<Value> = (0..11).map(|i| json!({"name": format!("组员{i}")})).collect();
        let res = app.put(&path, &app.township, &json!({"contact": {"name": "周某", "group": many}})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert!(res.body.to_string().contains("contact.group"), "{}", res.body);
        let res = app.put("/api/v1/households/999999/contact-person", &app.office, &json!({"contact": {"name": "周某"}})).await;
        res.assert_problem(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(app.get(&path, &app.office).await.body["version"], 2);
    }
}
