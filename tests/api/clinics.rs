//! Clinics: free annual checkups with places per day (二(五)4) and family-doctor contracts with
//! follow-ups (二(五)6), over the API, over a real socket where bookings race, and at the
//! service where a test must choose "today" (the year's and a term's boundaries).

use axum::http::StatusCode;
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, continue_rules_to_today, id, TestApp};
use greenchannel::auth::{Caller, StaffRole};
use greenchannel::db::checkups as store;
use greenchannel::db::contracts::{self, Within};
use greenchannel::service::checkups::{self, Outcome, Patient};
use greenchannel::service::contracts::term_end;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub(crate) fn today() -> NaiveDate {
    greenchannel::time::today()
}

/// The day after tomorrow (Beijing time): bookable whatever the hour.
pub(crate) fn soon() -> NaiveDate {
    today() + Duration::days(2)
}

/// A household whose couple is entitled to the checkup (the woman 49+), with distinct ID numbers.
pub(crate) fn couple(n: u32) -> Value {
    let mut h = bereaved_household();
    h["members"][0]["id_number"] = json!(id(1966, 3, 20, true, 100 + n));
    h["members"][1]["id_number"] = json!(id(1964, 11, 2, false, 100 + n));
    h["members"][0]["phone"] = Value::Null;
    h
}

/// The member ids of a created household: mother, father.
pub(crate) fn parents(h: &Value) -> (i64, i64) {
    (
        h["members"][0]["member_id"].as_i64().unwrap(),
        h["members"][1]["member_id"].as_i64().unwrap(),
    )
}

/// Places every day at the test's hospital (the clinic account's facility).
async fn open_every_day(app: &TestApp, places: i32) {
    let res = app
        .put(
            &format!("/api/v1/facilities/{}/checkup-capacity", app.facility_id),
            &app.clinic,
            &json!({"weekdays": vec![places; 7]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn book(app: &TestApp, member: i64, on: NaiveDate) -> crate::helpers::Response {
    app.post(
        "/api/v1/checkups",
        &app.clinic,
        &json!({"member_id": member, "on": on}),
    )
    .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    greenchannel::on_db!(&app.db, p => sqlx::query_scalar(sql).fetch_one(p).await).unwrap()
}

/// A township health centre of 丝绸路街道 (the test township) with a clinic account: its token
/// and facility id.
pub(crate) async fn health_centre(app: &TestApp, name: &str, township: &str) -> (String, i64) {
    let f = app
        .post("/api/v1/facilities", &app.office, &json!({"name": name, "kind": "township_health_centre", "level": 1, "township_id": township}))
        .await;
    assert_eq!(f.status, StatusCode::CREATED, "{}", f.body);
    let fid = f.body["facility_id"].as_i64().unwrap();
    let acc = app
        .post(
            "/api/v1/accounts",
            &app.office,
            &json!({"name": format!("clinic-{fid}"), "role": "clinic", "facility_id": fid}),
        )
        .await;
    assert_eq!(acc.status, StatusCode::CREATED, "{}", acc.body);
    (acc.body["token"].as_str().unwrap().to_owned(), fid)
}

async fn office_caller(app: &TestApp) -> Caller {
    let account_id = count(app, "select account_id from account where name = 'office'").await;
    Caller {
        account_id,
        name: "office".into(),
        role: StaffRole::Office,
        township_id: None,
        facility_id: None,
    }
}

both! {
    async fn a_clinic_books_completes_and_the_desk_shows_the_year_used(app) {
        continue_rules_to_today(&app).await;
        open_every_day(&app, 5).await;
        let h = app.create_household(&couple(1)).await;
        let (mother, _) = parents(&h);
        let card = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        assert_eq!(card.status, StatusCode::CREATED, "{}", card.body);
        let qr = card.body["qr_text"].as_str().unwrap().to_owned();
        let scan = app.post("/api/v1/verify", &app.desk, &json!({"qr": qr})).await;
        assert_eq!(scan.body["verdict"], "valid", "{}", scan.body);
        assert_eq!(scan.body["checkup_available"], true, "{}", scan.body);

        // Booked by scanning the card at the counter.
        let res = app.post("/api/v1/checkups", &app.clinic, &json!({"qr": qr, "on": soon()})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["state"], "booked");
        assert_eq!(res.body["member_id"], mother);
        assert_eq!(res.body["id_last_four"].as_str().unwrap().len(), 4);
        let checkup = res.body["checkup_id"].as_i64().unwrap();
        let scan = app.post("/api/v1/verify", &app.desk, &json!({"qr": qr})).await;
        assert_eq!(scan.body["checkup_available"], false, "{}", scan.body);

        // One a year: a second booking is refused, also on another day.
        book(&app, mother, soon() + Duration::days(1)).await.assert_problem(StatusCode::CONFLICT, "already_this_year");
        // The day list shows it, and the capacity its place taken.
        let list = app.get(&format!("/api/v1/checkups?on={}", soon()), &app.clinic).await;
        assert_eq!(list.body.as_array().unwrap().len(), 1, "{}", list.body);
        let cap = app.get(&format!("/api/v1/facilities/{}/checkup-capacity", app.facility_id), &app.clinic).await;
        let day = cap.body["days"].as_array().unwrap().iter().find(|x| x["on"] == json!(soon())).unwrap().clone();
        assert_eq!((day["places"].as_i64(), day["booked"].as_i64(), day["free"].as_i64()), (Some(5), Some(1), Some(4)), "{day}");

        // Completing needs a result or a reference, and not a day still to come.
        let res = app.post(&format!("/api/v1/checkups/{checkup}/complete"), &app.clinic, &json!({})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let res = app.post(&format!("/api/v1/checkups/{checkup}/complete"), &app.clinic, &json!({"on": today() + Duration::days(1), "summary": "未见异常"})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "date_in_future");
        let res = app.post(&format!("/api/v1/checkups/{checkup}/complete"), &app.clinic, &json!({"summary": "未见异常", "report_ref": "TJ-2026-001", "follow_up_advised": true})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["state"], "completed");
        assert_eq!(res.body["completed_on"], json!(today()));
        // A completed checkup cannot be cancelled afterwards.
        let res = app.post(&format!("/api/v1/checkups/{checkup}/cancel"), &app.clinic, &json!({})).await;
        res.assert_problem(StatusCode::CONFLICT, "not_booked");
        let scan = app.post("/api/v1/verify", &app.desk, &json!({"qr": qr})).await;
        assert_eq!(scan.body["checkup_available"], false);
        // Other verdicts carry no checkup line.
        let serial = card.body["serial"].as_str().unwrap();
        app.post(&format!("/api/v1/cards/{serial}/revoke"), &app.office, &json!({"reason": "lost"})).await;
        let scan = app.post("/api/v1/verify", &app.desk, &json!({"qr": qr})).await;
        assert_eq!(scan.body["verdict"], "revoked");
        assert_eq!(scan.body["checkup_available"], Value::Null);
    }
}

both! {
    async fn a_cancellation_frees_the_place_and_the_year(app) {
        continue_rules_to_today(&app).await;
        open_every_day(&app, 1).await;
        let h = app.create_household(&couple(2)).await;
        let (mother, father) = parents(&h);
        let res = book(&app, mother, soon()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let checkup = res.body["checkup_id"].as_i64().unwrap();
        // The day's one place is taken: the father is refused, and nothing of his is written.
        book(&app, father, soon()).await.assert_problem(StatusCode::CONFLICT, "day_full");
        assert_eq!(count(&app, "select count(*) from checkup").await, 1);
        assert_eq!(count(&app, "select cast(booked as bigint) from checkup_day").await, 1);
        let res = app.post(&format!("/api/v1/checkups/{checkup}/cancel"), &app.clinic, &json!({"reason": "家中有事"})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["state"], "cancelled");
        assert_eq!(count(&app, "select cast(booked as bigint) from checkup_day").await, 0);
        // Both the place and the mother's year are free again.
        assert_eq!(book(&app, father, soon()).await.status, StatusCode::CREATED);
        assert_eq!(book(&app, mother, soon() + Duration::days(1)).await.status, StatusCode::CREATED);
        // A no-show is recorded only once the day has come.
        let later = app.get(&format!("/api/v1/checkups?on={}", soon() + Duration::days(1)), &app.clinic).await;
        let id = later.body[0]["checkup_id"].as_i64().unwrap();
        app.post(&format!("/api/v1/checkups/{id}/no-show"), &app.clinic, &json!({})).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "date_in_future");
    }
}

both! {
    async fn bookings_that_cannot_be_made_are_refused_by_name(app) {
        continue_rules_to_today(&app).await;
        open_every_day(&app, 3).await;
        let h = app.create_household(&couple(3)).await;
        let (mother, _) = parents(&h);
        book(&app, mother, today() - Duration::days(1)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "date_in_past");
        // A couple whose woman is under 49: not entitled, and the answer names the condition.
        let mut young = couple(4);
        young["members"][0]["id_number"] = json!(id(today().year() - 40, 5, 5, true, 104));
        let y = app.create_household(&young).await;
        let res = book(&app, parents(&y).0, soon()).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "not_entitled");
        assert!(res.body["detail"].as_str().unwrap().contains("49"), "{}", res.body);
        // A closed day (a holiday) and a facility that does no checkups.
        let res = app.put(&format!("/api/v1/facilities/{}/checkup-capacity", app.facility_id), &app.office,
            &json!({"weekdays": [3, 3, 3, 3, 3, 3, 3], "dates": [{"on": soon(), "places": 0, "note": "节假日"}]})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        book(&app, mother, soon()).await.assert_problem(StatusCode::CONFLICT, "closed_day");
        let f = app.post("/api/v1/facilities", &app.office, &json!({"name": "周村口腔诊所", "kind": "other", "level": 1, "township_id": "370306001"})).await;
        let other = f.body["facility_id"].as_i64().unwrap();
        let res = app.post("/api/v1/checkups", &app.office, &json!({"member_id": mother, "on": soon(), "facility_id": other})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "facility_no_checkups");
        // A clinic books at its own facility only; the office must say where.
        let res = app.post("/api/v1/checkups", &app.clinic, &json!({"member_id": mother, "on": soon(), "facility_id": other})).await;
        res.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        let res = app.post("/api/v1/checkups", &app.office, &json!({"member_id": mother, "on": soon()})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        // Unknown member, both or neither of member and card, a bad card, bad capacity.
        book(&app, 999_999, soon() + Duration::days(1)).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.post("/api/v1/checkups", &app.clinic, &json!({"on": soon()})).await.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        app.post("/api/v1/checkups", &app.clinic, &json!({"member_id": mother, "qr": "GC1:x", "on": soon()})).await.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        app.post("/api/v1/checkups", &app.clinic, &json!({"qr": "GC1:not-a-card", "on": soon()})).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "card_not_valid");
        let res = app.put(&format!("/api/v1/facilities/{}/checkup-capacity", app.facility_id), &app.clinic, &json!({"weekdays": [3, 3, 3, 3, 3, 3, -1]})).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(res.body["detail"].as_str().unwrap().contains("weekdays[6]"), "{}", res.body);
        // None of it wrote a booking or took a place.
        assert_eq!(count(&app, "select count(*) from checkup").await, 0);
        assert_eq!(count(&app, "select cast(coalesce(sum(booked), 0) as bigint) from checkup_day").await, 0);
    }
}

/// A real server for the app.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/api/v1/checkups")
}

/// Sends every body at once and returns the statuses and codes of the answers.
pub(crate) async fn race(url: &str, token: &str, bodies: Vec<Value>) -> Vec<(u16, String)> {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&b)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                (status, body["code"].as_str().unwrap_or("").to_owned())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

both! {
    async fn two_hundred_bookings_of_one_member_make_one(app) {
        continue_rules_to_today(&app).await;
        open_every_day(&app, 1000).await;
        let h = app.create_household(&couple(5)).await;
        let mother = parents(&h).0;
        let url = serve(&app).await;
        let bodies = (0..200).map(|i| json!({"member_id": mother, "on": soon() + Duration::days(i % 7)})).collect();
        let answers = race(&url, &app.clinic, bodies).await;
        let made = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(made, 1, "{answers:?}");
        assert!(answers.iter().all(|(s, c)| *s == 201 || (*s == 409 && c == "already_this_year")), "{answers:?}");
        assert_eq!(count(&app, "select count(*) from checkup").await, 1);
        assert_eq!(count(&app, "select cast(sum(booked) as bigint) from checkup_day").await, 1);
    }
}

both! {
    async fn two_hundred_members_racing_for_the_last_place_make_one(app) {
        continue_rules_to_today(&app).await;
        open_every_day(&app, 1).await;
        let mut members = Vec::new();
        for n in 0..100 {
            let h = app.create_household(&couple(10 + n)).await;
            let (m, f) = parents(&h);
            members.extend([m, f]);
        }
        let url = serve(&app).await;
        let bodies = members.iter().map(|m| json!({"member_id": m, "on": soon()})).collect();
        let answers = race(&url, &app.clinic, bodies).await;
        let made = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(made, 1, "{answers:?}");
        assert!(answers.iter().all(|(s, c)| *s == 201 || (*s == 409 && c == "day_full")), "{answers:?}");
        assert_eq!(count(&app, "select count(*) from checkup").await, 1);
        assert_eq!(count(&app, "select cast(booked as bigint) from checkup_day").await, 1);
    }
}

both! {
    async fn the_due_list_turns_with_the_year_and_the_49th_birthday(app) {
        continue_rules_to_today(&app).await;
        let caller = office_caller(&app).await;
        let h = app.create_household(&couple(30)).await;
        let (mother, father) = parents(&h);
        // A woman who turns 49 on 1 January 2026.
        let mut turning = couple(31);
        turning["members"][0]["id_number"] = json!(id(1977, 1, 1, true, 131));
        let t = app.create_household(&turning).await;
        let (turning_mother, _) = parents(&t);
        let cap = store::Capacity { weekdays: [10; 7], dates: vec![] };
        checkups::set_capacity(&app.db, &caller, app.facility_id, &cap, d(2025, 12, 31)).await.unwrap();
        let book = greenchannel::db::rules::book(&app.db).await.unwrap().0;
        // Checked on 31 December 2025 (Beijing time): it counts for 2025.
        let eve = d(2025, 12, 31);
        let k = checkups::book(&app.db, &book, None, &caller, &Patient::Member(mother), Some(app.facility_id), eve, eve).await.unwrap();
        let done = Outcome::Completed { on: eve, summary: Some("未见异常".into()), report_ref: None, follow_up_advised: false };
        checkups::close(&app.db, &caller, k.checkup_id, &done, eve).await.unwrap();
        let book = std::sync::Arc::new(book);

        let y2025 = checkups::due(&app.db, book.clone(), 2025, None, d(2026, 1, 1)).await.unwrap();
        assert_eq!(y2025.judged_on, eve);
        let due25: Vec<i64> = y2025.members.iter().map(|m| m.member_id).collect();
        assert!(!due25.contains(&mother) && due25.contains(&father), "{due25:?}");
        assert!(!due25.contains(&turning_mother), "48 on 31 December 2025: {due25:?}");
        let t25 = &y2025.townships[0];
        assert_eq!((t25.completed, t25.entitled), (1, 2), "{t25:?}");
        assert_eq!(t25.completion_per_mille, 500);

        // On 1 January 2026 the mother is due again, and the woman who turns 49 that day too.
        let y2026 = checkups::due(&app.db, book.clone(), 2026, None, d(2026, 1, 1)).await.unwrap();
        let due26: Vec<i64> = y2026.members.iter().map(|m| m.member_id).collect();
        assert!(due26.contains(&mother) && due26.contains(&father) && due26.contains(&turning_mother), "{due26:?}");
        // And she may be booked that very day, not the day before.
        let r = checkups::book(&app.db, &book, None, &caller, &Patient::Member(turning_mother), Some(app.facility_id), eve, eve).await;
        assert!(matches!(&r, Err(greenchannel::error::AppError::Unprocessable { code: "not_entitled", .. })), "{r:?}");
        let jan1 = d(2026, 1, 1);
        checkups::book(&app.db, &book, None, &caller, &Patient::Member(turning_mother), Some(app.facility_id), jan1, jan1).await.unwrap();
        // A year still to come has no list.
        assert!(checkups::due(&app.db, book, 2027, None, d(2026, 1, 1)).await.is_err());
    }
}

#[test]
fn a_term_ends_the_day_before_its_anniversary() {
    assert_eq!(term_end(d(2023, 3, 1), 12), Some(d(2024, 2, 29)));
    assert_eq!(term_end(d(2024, 2, 29), 12), Some(d(2025, 2, 28)));
    assert_eq!(term_end(d(2024, 1, 31), 1), Some(d(2024, 2, 29)));
    assert_eq!(term_end(d(2025, 12, 15), 1), Some(d(2026, 1, 14)));
    assert_eq!(term_end(d(2025, 1, 1), 12), Some(d(2025, 12, 31)));
}

both! {
    async fn a_health_centre_signs_renews_follows_up_and_ends_a_contract(app) {
        continue_rules_to_today(&app).await;
        let (centre, fid) = health_centre(&app, "丝绸路街道社区卫生服务中心", "370306001").await;
        let (other_centre, _) = health_centre(&app, "王村镇卫生院", "370306102").await;
        let h = app.create_household(&couple(40)).await;
        let (mother, father) = parents(&h);

        // The signing list puts the township's members without a contract first.
        let list = app.get("/api/v1/contracts/unsigned", &centre).await;
        let ids: Vec<i64> = list.body.as_array().unwrap().iter().map(|m| m["member_id"].as_i64().unwrap()).collect();
        assert!(ids.contains(&mother) && ids.contains(&father), "{}", list.body);
        // Another township's centre finds neither.
        let list = app.get("/api/v1/contracts/unsigned", &other_centre).await;
        assert_eq!(list.body, json!([]));

        // A term from 1 March that ends on a 29 February.
        let start = d(today().year() + 1, 3, 1);
        let ends = term_end(start, 12).unwrap();
        let sign = json!({"member_id": mother, "doctor_name": "刘医生", "doctor_code": "370306-D-017", "team": "一组",
                          "starts_on": start, "health_record_ref": "JKDA-0001", "next_follow_up_on": start + Duration::days(30)});
        let res = app.post("/api/v1/contracts", &centre, &sign).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["ends_on"], json!(ends));
        assert_eq!(res.body["state"], "active");
        let contract = res.body["contract_id"].as_i64().unwrap();
        // One active contract per member.
        app.post("/api/v1/contracts", &centre, &sign).await.assert_problem(StatusCode::CONFLICT, "already_contracted");
        // Only primary care signs: the district hospital's clinic is refused.
        let mut at_hospital = sign.clone();
        at_hospital["member_id"] = json!(father);
        app.post("/api/v1/contracts", &app.clinic, &at_hospital).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "facility_not_primary_care");
        // Another township's centre cannot reach the member, nor see the contract.
        app.post("/api/v1/contracts", &other_centre, &at_hospital).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/api/v1/contracts/{contract}"), &other_centre).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let seen = app.get(&format!("/api/v1/contracts/{contract}"), &app.auditor).await;
        assert_eq!(seen.body["name"], "张*兰", "the auditor sees names masked: {}", seen.body);

        // Renewals due: on the list from within reach of its last day, not before.
        let by_eve = contracts::ending_by(&app.db, ends - Duration::days(1), Within::Facility(fid)).await.unwrap();
        assert!(by_eve.is_empty());
        let by_end = contracts::ending_by(&app.db, ends, Within::Facility(fid)).await.unwrap();
        assert_eq!(by_end.len(), 1);

        // A follow-up moves the next due date; overdue only after it.
        let res = app.post(&format!("/api/v1/contracts/{contract}/follow-ups"), &centre,
            &json!({"on": today(), "doctor_name": "刘医生", "kind": "visit", "note": "电话随访", "next_due_on": today() + Duration::days(30)})).await;
        // Before the contract started: refused by name.
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

        // Renewing: the old one is `renewed`, the next starts the day after it ends.
        let res = app.post(&format!("/api/v1/contracts/{contract}/renew"), &centre, &json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["starts_on"], json!(ends + Duration::days(1)));
        assert_eq!(res.body["renews"], contract);
        let renewed = res.body["contract_id"].as_i64().unwrap();
        let old = app.get(&format!("/api/v1/contracts/{contract}"), &centre).await;
        assert_eq!(old.body["state"], "renewed");
        app.post(&format!("/api/v1/contracts/{contract}/renew"), &centre, &json!({})).await.assert_problem(StatusCode::CONFLICT, "contract_not_active");

        // A contract that has started takes follow-ups.
        let now_sign = json!({"member_id": father, "doctor_name": "刘医生", "doctor_code": "370306-D-017", "health_record_ref": "JKDA-0002"});
        let res = app.post("/api/v1/contracts", &centre, &now_sign).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let current = res.body["contract_id"].as_i64().unwrap();
        let next = today() + Duration::days(30);
        let res = app.post(&format!("/api/v1/contracts/{current}/follow-ups"), &centre,
            &json!({"on": today(), "doctor_name": "刘医生", "kind": "assessment", "next_due_on": next})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        app.post(&format!("/api/v1/contracts/{current}/follow-ups"), &centre,
            &json!({"on": today() + Duration::days(1), "doctor_name": "刘医生", "kind": "visit"})).await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "date_in_future");
        let on_time = contracts::follow_ups_overdue(&app.db, next, Within::Facility(fid)).await.unwrap();
        assert!(on_time.is_empty());
        let late = contracts::follow_ups_overdue(&app.db, next + Duration::days(1), Within::Facility(fid)).await.unwrap();
        assert_eq!(late.iter().map(|c| c.contract_id).collect::<Vec<_>>(), [current]);
        let listed = app.get(&format!("/api/v1/contracts/{current}/follow-ups"), &app.township).await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.body);

        // Ending: with a reason from the closed list; then nothing more is recorded on it.
        app.post(&format!("/api/v1/contracts/{current}/end"), &centre, &json!({"reason": "bored"})).await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        let res = app.post(&format!("/api/v1/contracts/{current}/end"), &centre, &json!({"reason": "moved_away", "note": "迁往外区"})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["state"], "ended");
        app.post(&format!("/api/v1/contracts/{current}/follow-ups"), &centre,
            &json!({"on": today(), "doctor_name": "刘医生", "kind": "visit"})).await
            .assert_problem(StatusCode::CONFLICT, "contract_not_active");
        app.post("/api/v1/contracts/999999/end", &centre, &json!({"reason": "death"})).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        // The ended member is back on the signing list; the renewed one is not.
        let list = app.get("/api/v1/contracts/unsigned", &centre).await;
        let ids: Vec<i64> = list.body.as_array().unwrap().iter().map(|m| m["member_id"].as_i64().unwrap()).collect();
        assert!(ids.contains(&father) && !ids.contains(&mother), "{ids:?} (renewed: {renewed})");
    }
}

both! {
    async fn the_desk_line_judged_for_the_day_follows_a_file_changed_since(app) {
        use greenchannel::service::checkups::DeskEntitlement;
        continue_rules_to_today(&app).await;
        let h = app.create_household(&couple(40)).await;
        let hid = h["household_id"].as_i64().unwrap();
        let (mother, _) = parents(&h);
        let card = app.post(&format!("/api/v1/members/{mother}/cards"), &app.office, &json!({})).await;
        let serial = card.body["serial"].as_str().unwrap().to_owned();
        let book = std::sync::Arc::new(greenchannel::db::rules::book(&app.db).await.unwrap().0);
        let desk = DeskEntitlement::default();
        desk.prefill(&app.db, book.clone(), today()).await.unwrap();
        assert_eq!(desk.available(&app.db, &book, &serial, today()).await.unwrap(), Some(true));
        assert!(checkups::available(&app.db, &book, mother, hid, today()).await.unwrap(), "the reference agrees");

        // Another child since yesterday: the day's judgement is of the file before, so it is
        // judged again, and agrees with the reference check.
        let mut changed = couple(40);
        changed["other_child_since"] = json!(true);
        changed["other_child_on"] = json!(today() - Duration::days(1));
        let res = app.put(&format!("/api/v1/households/{hid}"), &app.office, &json!({"version": 1, "reason": "再生育", "household": changed})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(!checkups::available(&app.db, &book, mother, hid, today()).await.unwrap());
        assert_eq!(desk.available(&app.db, &book, &serial, today()).await.unwrap(), Some(false));
        // A judgement of another day is not reused either: she turns 49 today, so yesterday's
        // judgement (not yet entitled) must not answer today's scan.
        let t = today();
        let mut turning = couple(41);
        turning["members"][0]["id_number"] = json!(id(t.year() - 49, t.month(), t.day(), true, 141));
        let th = app.create_household(&turning).await;
        let (her, _) = parents(&th);
        let card = app.post(&format!("/api/v1/members/{her}/cards"), &app.office, &json!({})).await;
        let her_serial = card.body["serial"].as_str().unwrap().to_owned();
        let desk = DeskEntitlement::default();
        desk.prefill(&app.db, book.clone(), t - Duration::days(1)).await.unwrap();
        assert_eq!(desk.available(&app.db, &book, &her_serial, t - Duration::days(1)).await.unwrap(), Some(false), "48 yesterday");
        assert_eq!(desk.available(&app.db, &book, &her_serial, t).await.unwrap(), Some(true), "49 today");
        assert_eq!(desk.available(&app.db, &book, "no-such-serial", t).await.unwrap(), None);
    }
}

both! {
    async fn requests_arriving_together_share_one_rule_book(app) {
        // The desk's judgements are kept per rule book: 64 scans arriving at a fresh server
        // once built 64 books, and started 64 judgements of the whole register.
        continue_rules_to_today(&app).await;
        let state = greenchannel::http::AppState::new(app.db.clone());
        let books = at_once(&state, 64, |s| async move { s.rule_book().await.unwrap() }).await;
        assert!(books.iter().all(|b| std::sync::Arc::ptr_eq(b, &books[0])), "one book for all");
        let desk = at_once(&state, 64, |s| async move { s.desk_rule_book().await.unwrap() }).await;
        assert!(desk.iter().all(|b| std::sync::Arc::ptr_eq(b, &books[0])), "the desk's too");
    }
}

/// The rule books `n` tasks get at once from `get`, each on its own clone of the state.
async fn at_once<F, Fut>(
    state: &greenchannel::http::AppState,
    n: usize,
    get: F,
) -> Vec<std::sync::Arc<greenchannel::rules::RuleBook>>
where
    F: Fn(greenchannel::http::AppState) -> Fut,
    Fut: std::future::Future<Output = std::sync::Arc<greenchannel::rules::RuleBook>>
        + Send
        + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(get(state.clone()))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
