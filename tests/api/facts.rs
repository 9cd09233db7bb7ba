//! The dated facts the rules read (issue 13): 特困, civil capacity and guardian, severe
//! disability, economic difficulty, the yearly pension contributions, housing and the funeral
//! conditions — through the API, the import and export files, and the demo district's month.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, continue_rules_to_today, TestApp};
use crate::import::{file, row, upload, HEADER_ZH};

/// The status of `code` for `member` (`None`: the household) on `on`: `granted`, `needs_data`,
/// or `None` when refused.
async fn status(
    app: &TestApp,
    id: i64,
    on: &str,
    code: &str,
    member: Option<&str>,
) -> Option<String> {
    let res = app
        .get(
            &format!("/api/v1/households/{id}/entitlements?on={on}"),
            &app.office,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["entitlements"]
        .as_array()
        .expect("entitlements")
        .iter()
        .find(|e| e["code"] == code && e["member"].as_str() == member)
        .map(|e| e["status"].as_str().expect("status").to_owned())
}

fn with_facts() -> Value {
    let mut h = bereaved_household();
    h["members"][0]["facts"] = json!({
        "civil_capacity": [{"from": "2020-01-01", "value": "limited"}],
        "other_guardian": false,
        "extreme_poverty": [{"value": false}, {"from": "2021-03-01", "value": true}],
        "severely_disabled": false,
        "contributions": [{"year": 2020, "tier_fen": 50000, "on_time": true}]
    });
    h["facts"] =
        json!({"housing_difficulty": [{"value": true}, {"from": "2021-01-01", "value": false}]});
    h
}

both! {
    async fn dated_facts_decide_the_entitlements_of_each_day_and_read_back(app) {
        let created = app.create_household(&with_facts()).await;
        let id = created["household_id"].as_i64().unwrap();
        let mother = created["members"][0]["member_id"].as_i64().unwrap().to_string();
        let m = Some(mother.as_str());
        assert_eq!(created["members"][0]["facts"], with_facts()["members"][0]["facts"]);
        assert_eq!(created["facts"], with_facts()["facts"]);
        // Before the first dated step civil capacity is not recorded; from it on, limited
        // capacity without another guardian is the committee's consent.
        assert_eq!(status(&app, id, "2019-12-31", "guardian_consent", m).await.as_deref(), Some("needs_data"));
        assert_eq!(status(&app, id, "2020-01-01", "guardian_consent", m).await.as_deref(), Some("granted"));
        // 特困 from 2021-03-01: priority care for a member under 60 only from that day.
        assert_eq!(status(&app, id, "2021-02-28", "elderly_care_priority", m).await, None);
        assert_eq!(status(&app, id, "2021-03-01", "elderly_care_priority", m).await.as_deref(), Some("granted"));
        // Housing difficulty until it was resolved on 2021-01-01.
        assert_eq!(status(&app, id, "2020-12-31", "housing_priority", None).await.as_deref(), Some("granted"));
        assert_eq!(status(&app, id, "2021-01-01", "housing_priority", None).await, None);
        // The 2020 contribution is priced in 2020; 2021's is not recorded.
        assert_eq!(status(&app, id, "2020-06-15", "pension_contribution_subsidy", m).await.as_deref(), Some("granted"));
        assert_eq!(status(&app, id, "2021-06-15", "pension_contribution_subsidy", m).await.as_deref(), Some("needs_data"));
        // A change keeps the facts as they were in the history.
        let mut h = with_facts();
        h["members"][0]["facts"]["other_guardian"] = json!([{"value": false}, {"from": "2022-01-01", "value": true}]);
        let res = app.put(&format!("/api/v1/households/{id}"), &app.office,
            &json!({"version": 1, "reason": "监护人变更", "household": h})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["members"][0]["facts"]["other_guardian"][1]["from"], "2022-01-01");
        assert_eq!(status(&app, id, "2021-06-15", "guardian_consent", m).await.as_deref(), Some("granted"));
        assert_eq!(status(&app, id, "2022-01-01", "guardian_consent", m).await, None);
    }
}

both! {
    async fn bad_facts_are_refused_naming_the_field_and_nothing_is_written(app) {
        let mut h = with_facts();
        h["members"][0]["facts"]["extreme_poverty"] = json!([{"from": "2099-01-01", "value": true}]);
        h["members"][0]["facts"]["contributions"] = json!([
            {"year": 2020, "tier_fen": 50000, "on_time": true},
            {"year": 2020, "tier_fen": 30000, "on_time": false},
            {"year": 1980, "tier_fen": -1, "on_time": true}
        ]);
        let res = app.post("/api/v1/households", &app.office, &h).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        let fields: Vec<&str> = res.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for f in [
            "members[0].facts.extreme_poverty[0].from",
            "members[0].facts.contributions[1].year",
            "members[0].facts.contributions[2].year",
            "members[0].facts.contributions[2].tier_fen",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        // Steps out of order, an undated step after a dated one, a value of the wrong kind, an
        // unknown fact: the body is refused, naming the field.
        for (fact, value) in [
            ("civil_capacity", json!([{"from": "2021-01-01", "value": "full"}, {"from": "2020-01-01", "value": "none"}])),
            ("other_guardian", json!([{"from": "2021-01-01", "value": true}, {"value": false}])),
            ("severely_disabled", json!("yes")),
            ("special_powers", json!(true)),
        ] {
            let mut h = with_facts();
            h["members"][1]["facts"] = json!({ fact: value });
            let res = app.post("/api/v1/households", &app.office, &h).await;
            assert!(res.status.is_client_error(), "{fact}: {}", res.body);
            let detail = res.body["detail"].as_str().unwrap_or_default().to_owned();
            assert!(detail.contains(&format!("members[1].facts.{fact}")), "{fact}: {}", res.body);
        }
        assert_eq!(app.get("/api/v1/households", &app.office).await.body.as_array().map(Vec::len), Some(0));
    }
}

/// The import header with the fact columns, and a row for household `n` that fills them.
fn facts_file(rows: impl IntoIterator<Item = String>) -> String {
    file(rows).replacen(
        HEADER_ZH,
        &format!("{HEADER_ZH},住房困难,女方特困供养,女方民事行为能力,女方有其他监护人,女方养老保险缴费,男方重度残疾,联系人,联系人身份,联系小组"),
        1,
    )
}

fn facts_row(n: u32, facts: &str) -> String {
    format!("{},{facts}", row(n))
}

both! {
    async fn the_import_reads_dated_facts_as_staff_write_them_and_the_export_writes_them_back(app) {
        let text = facts_file([
            facts_row(0, "\"是；2021-01-01起否\",否；2021-03-01起是,2020-01-01起限制,否,2020年500元按期；2021年300元未按期,是,赵联络,村居干部,钱会员 计生协会会员 13900002222；孙志愿 志愿者"),
            facts_row(1, ",,,,,,,,"),
        ]);
        // As Excel saves it: GBK with CRLF line ends.
        let crlf = text.replace('\n', "\r\n");
        let (gbk, _, _) = encoding_rs::GBK.encode(&crlf);
        let res = upload(&app, "", gbk.into_owned()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let ids = res.body["household_ids"].as_array().unwrap().clone();
        let h = app.get(&format!("/api/v1/households/{}", ids[0]), &app.office).await.body;
        assert_eq!(h["facts"]["housing_difficulty"], json!([{"value": true}, {"from": "2021-01-01", "value": false}]));
        let mother = &h["members"][0]["facts"];
        assert_eq!(mother["extreme_poverty"], json!([{"value": false}, {"from": "2021-03-01", "value": true}]));
        assert_eq!(mother["civil_capacity"], json!([{"from": "2020-01-01", "value": "limited"}]));
        assert_eq!(mother["other_guardian"], json!(false));
        assert_eq!(mother["contributions"], json!([
            {"year": 2020, "tier_fen": 50000, "on_time": true},
            {"year": 2021, "tier_fen": 30000, "on_time": false}
        ]));
        assert_eq!(h["members"][1]["facts"]["severely_disabled"], json!(true));
        assert_eq!(h["contact"], json!({"name": "赵联络", "phone": null, "role": "community_cadre", "group": [
            {"name": "钱会员", "role": "association_member", "phone": "13900002222"},
            {"name": "孙志愿", "role": "volunteer"}
        ]}));
        // Empty cells record nothing.
        let empty = app.get(&format!("/api/v1/households/{}", ids[1]), &app.office).await.body;
        assert_eq!(empty["facts"], json!({}));
        assert_eq!(empty["members"][0]["facts"], json!({}));
        // The export writes the cells the way the import read them, and they import back.
        let exported = String::from_utf8(app.get("/api/v1/households/export.csv", &app.office).await.bytes).unwrap();
        let header: Vec<&str> = exported.lines().next().unwrap().split(',').collect();
        let first: Vec<String> = {
            let mut r = csv::Reader::from_reader(exported.as_bytes());
            r.records().next().unwrap().unwrap().iter().map(str::to_owned).collect()
        };
        let cell = |name: &str| first[header.iter().position(|h| h.trim_start_matches('\u{feff}') == name).expect(name)].clone();
        assert_eq!(cell("住房困难"), "是；2021-01-01起否");
        assert_eq!(cell("女方特困供养"), "否；2021-03-01起是");
        assert_eq!(cell("女方民事行为能力"), "2020-01-01起限制");
        assert_eq!(cell("女方养老保险缴费"), "2020年500元按期；2021年300元未按期");
        assert_eq!(cell("男方重度残疾"), "是");
        assert_eq!(cell("联系人身份"), "村居干部");
        assert_eq!(cell("联系小组"), "钱会员 计生协会会员 13900002222；孙志愿 志愿者");
        let fresh = match app.backend {
            crate::helpers::Backend::Sqlite => TestApp::sqlite().await,
            crate::helpers::Backend::Postgres => TestApp::postgres().await.expect("configured"),
        };
        let res = upload(&fresh, "", exported.clone().into_bytes()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let again = String::from_utf8(fresh.get("/api/v1/households/export.csv", &fresh.office).await.bytes).unwrap();
        assert_eq!(again, exported);
    }
}

both! {
    async fn a_bad_fact_cell_is_named_by_line_and_column(app) {
        let text = facts_file([
            facts_row(0, ",否,,,,,,,"),
            facts_row(1, "2021-01-01起也许,2030-01-01起是,部分,否,2021年三百元按期,,李某,村长,王某 13900000000 13900000001"),
        ]);
        let res = upload(&app, "", text.into_bytes()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        let errors = res.body["errors"].as_array().unwrap();
        let at: Vec<&str> = errors.iter().map(|e| e["field"].as_str().unwrap()).collect();
        for field in ["housing_difficulty", "mother_extreme_poverty", "mother_civil_capacity", "mother_pension_contributions", "contact_role", "contact_group"] {
            assert!(at.contains(&format!("line 3 {field}").as_str()), "{field} on line 3 in {at:?}");
        }
        assert!(!at.iter().any(|f| f.starts_with("line 2 ")), "{at:?}");
        assert_eq!(at.len(), 6, "{at:?}");
        assert_eq!(app.get("/api/v1/households", &app.office).await.body.as_array().map(Vec::len), Some(0));
    }
}

both! {
    async fn the_demo_district_s_lists_wait_for_no_fact_the_register_can_hold(app) {
        continue_rules_to_today(&app).await;
        greenchannel::demo::load(&app.db, 300).await.expect("demo").expect("an empty register");
        let today = greenchannel::time::today();
        // January (the yearly contribution subsidy is listed then) and this month.
        for period in [today.format("%Y-01").to_string(), today.format("%Y-%m").to_string()] {
            let res = app.post("/api/v1/disbursements", &app.office, &json!({"period": period})).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            let rows = res.body["rows"].as_array().unwrap();
            let waiting: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "needs_data").collect();
            assert!(waiting.is_empty(), "{period}: {waiting:?}");
            assert_eq!(res.body["needs_data"], 0);
            if period.ends_with("-01") {
                assert!(rows.iter().any(|r| r["code"] == "pension_contribution_subsidy"), "{period}: no contribution subsidy listed");
            }
            // The list is not empty: the facts priced rows, they did not just hide them.
            assert!(rows.iter().any(|r| r["code"] == "nursing_subsidy" || r["code"] == "pension_family_planning_subsidy"), "{period}");
        }
    }
}

both! {
    async fn a_change_of_a_fact_is_recorded_by_the_api_as_a_new_version(app) {
        let created = app.create_household(&with_facts()).await;
        let id = created["household_id"].as_i64().unwrap();
        let mother = created["members"][0]["member_id"].as_i64().unwrap();
        let path = format!("/api/v1/households/{id}/facts");
        let res = app.post(&path, &app.township, &json!({
            "member_id": mother, "fact": "civil_capacity", "value": "full", "from": "2021-06-01",
            "reason": "法院判决恢复完全民事行为能力"})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["version"], 2);
        assert_eq!(res.body["members"][0]["facts"]["civil_capacity"], json!([
            {"from": "2020-01-01", "value": "limited"}, {"from": "2021-06-01", "value": "full"}]));
        let m = Some(created["members"][0]["member_id"].as_i64().unwrap().to_string());
        assert_eq!(status(&app, id, "2021-05-31", "guardian_consent", m.as_deref()).await.as_deref(), Some("granted"));
        assert_eq!(status(&app, id, "2021-06-01", "guardian_consent", m.as_deref()).await, None);
        // Stale, unknown member, a member fact without a member, another township, a clinic.
        let body = |extra: serde_json::Value| {
            let mut b = json!({"member_id": mother, "fact": "other_guardian", "value": "yes", "from": "2023-01-01", "reason": "核实"});
            for (k, v) in extra.as_object().unwrap() { b[k] = v.clone(); }
            b
        };
        app.post(&path, &app.office, &body(json!({"version": 1}))).await.assert_problem(StatusCode::CONFLICT, "stale_version");
        let res = app.post(&path, &app.office, &body(json!({"member_id": 999999}))).await;
        assert!(res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.to_string().contains("member_id"), "{}", res.body);
        let res = app.post(&path, &app.office, &body(json!({"member_id": null}))).await;
        assert!(res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.to_string().contains("member_id"), "{}", res.body);
        let res = app.post(&path, &app.office, &body(json!({"fact": "wealth"}))).await;
        assert!(res.status.is_client_error() && res.body.to_string().contains("fact"), "{}", res.body);
        let res = app.post(&path, &app.office, &body(json!({"reason": ""}))).await;
        assert!(res.status.is_client_error() && res.body.to_string().contains("reason"), "{}", res.body);
        app.post(&path, &app.other_township, &body(json!({}))).await.assert_problem(StatusCode::NOT_FOUND, "not_found");
        app.post(&path, &app.clinic, &body(json!({}))).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(app.get(&format!("/api/v1/households/{id}"), &app.office).await.body["version"], 2);
    }
}
