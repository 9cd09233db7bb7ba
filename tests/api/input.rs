//! Bad input at every door: control characters, lengths, one validation for JSON and CSV,
//! bounded answers to absurd files, and exports that a spreadsheet cannot turn into formulas.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{bereaved_household, id, Response, TestApp};

async fn upload(app: &TestApp, query: &str, body: impl Into<Vec<u8>>) -> Response {
    app.call(
        Method::POST,
        &format!("/api/v1/households/import{query}"),
        Some(&app.office),
        Some(Body::from(body.into())),
        Some("text/csv"),
    )
    .await
}

async fn households(app: &TestApp) -> usize {
    let list = app.get("/api/v1/households?limit=1000", &app.office).await;
    list.body.as_array().map_or(0, Vec::len)
}

/// The import format's header, then one row per item of `rows` (English column keys).
fn csv(extra_header: &str, rows: &[String]) -> String {
    let mut s = format!(
        "township,community,address,hukou_in_district,area,child_status,child_died_on,child_disability_grade,other_child_since,dibao,low_income,mother_name,mother_id_number,mother_pension,mother_medical_insurance{extra_header}\r\n"
    );
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s
}

fn row(n: u32, mother_name: &str, extra: &str) -> String {
    format!(
        "370306001,370306001001,{n}号,是,城镇,死亡,2015-08-10,,否,否,否,{mother_name},{},否,是{extra}",
        id(1966, 3, 20, true, n)
    )
}

/// The problems of a 422 answer, as (field, reason).
fn problems(res: &Response) -> Vec<(String, String)> {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    res.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

both! {
    async fn control_characters_are_refused_naming_the_field_on_both_backends(app) {
        for c in ["\u{0}", "\u{7}", "\u{1b}"] {
            let mut h = bereaved_household();
            h["members"][1]["name"] = json!(format!("李{c}建国"));
            let res = app.post("/api/v1/households", &app.office, &h).await;
            res.assert_problem(StatusCode::BAD_REQUEST, "control_character");
            assert!(res.body["detail"].as_str().unwrap().starts_with("members[1].name:"), "{}", res.body);
        }
        // An escaped backslash before "u0000" is text, not a NUL: accepted as a name would be.
        let mut h = bereaved_household();
        h["address"] = json!("丝绸路\\u0000号");
        assert_eq!(app.post("/api/v1/households", &app.office, &h).await.status, StatusCode::CREATED);
        // In a path and in a query value, percent-encoded.
        app.get("/api/v1/households/1%00", &app.office).await.assert_problem(StatusCode::BAD_REQUEST, "control_character");
        let res = app.get("/api/v1/households?township=370306001%00", &app.office).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "control_character");
        assert!(res.body["detail"].as_str().unwrap().contains("'township'"), "{}", res.body);
        // A line break in an address is allowed; in a name it is not.
        let mut h = bereaved_household();
        h["address"] = json!("丝绸路12号\n3单元");
        h["members"][0]["id_number"] = json!(id(1966, 3, 20, true, 2));
        h["members"][1]["id_number"] = json!(id(1964, 11, 2, false, 2));
        h["members"][0]["name"] = json!("张秀\n兰");
        let res = app.post("/api/v1/households", &app.office, &h).await;
        let found = problems(&res);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "members[0].name");
        assert!(found[0].1.contains("U+000A"), "{found:?}");
        assert_eq!(households(&app).await, 1, "only the household with the escaped backslash");
    }
}

both! {
    async fn a_csv_cell_with_a_nul_is_refused_in_the_dry_run_and_the_import_alike(app) {
        let file = csv("", &[row(1, "张秀兰", ""), row(2, "王\u{0}芳", "")]);
        for query in ["?dry_run=true", ""] {
            let found = problems(&upload(&app, query, file.clone()).await);
            assert_eq!(found.len(), 1, "{query}: {found:?}");
            assert_eq!(found[0].0, "line 3 mother_name", "{query}");
            assert!(found[0].1.contains("U+0000"), "{found:?}");
        }
        assert_eq!(households(&app).await, 0);
    }
}

both! {
    async fn every_text_field_has_a_maximum_named_in_the_error_in_json_and_csv(app) {
        let mut h = bereaved_household();
        h["members"][0]["name"] = json!("张".repeat(51));
        h["members"][0]["phone"] = json!("1".repeat(70_000));
        h["address"] = json!("路".repeat(201));
        h["contact"]["name"] = json!("王".repeat(51));
        let found = problems(&app.post("/api/v1/households", &app.office, &h).await);
        let reason = |field: &str| found.iter().find(|(f, _)| f == field).map(|(_, r)| r.clone()).unwrap_or_else(|| panic!("{field} in {found:?}"));
        assert!(reason("members[0].name").contains("at most 50 characters, this has 51"));
        assert!(reason("members[0].phone").contains("at most 20 characters, this has 70000"));
        assert!(reason("address").contains("at most 200 characters"));
        assert!(reason("contact.name").contains("at most 50 characters"));
        assert_eq!(found.len(), 4, "{found:?}");
        // The same limits in a spreadsheet, named by line and column.
        let long = "张".repeat(51);
        let found = problems(&upload(&app, "?dry_run=true", csv("", &[row(1, &long, "")])).await);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "line 2 mother_name");
        assert!(found[0].1.contains("at most 50 characters, this has 51"), "{found:?}");
        // A reason kept in a history is bounded too.
        let created = app.create_household(&bereaved_household()).await;
        let hid = created["household_id"].clone();
        let res = app.put(&format!("/api/v1/households/{hid}"), &app.office,
            &json!({"version": created["version"], "reason": "改".repeat(501), "household": bereaved_household()})).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "invalid_body");
        assert!(res.body["detail"].as_str().unwrap().contains("at most 500 characters"), "{}", res.body);
    }
}

both! {
    async fn a_phone_is_checked_the_same_way_through_json_and_csv(app) {
        let mut h = bereaved_household();
        h["contact"]["phone"] = json!("abc");
        let found = problems(&app.post("/api/v1/households", &app.office, &h).await);
        assert_eq!(found.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["contact.phone"]);
        let file = csv(",contact_name,contact_phone", &[row(1, "张秀兰", ",王干事,abc")]);
        let found = problems(&upload(&app, "?dry_run=true", file).await);
        assert_eq!(found.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["line 2 contact_phone"]);
        assert_eq!(households(&app).await, 0);
    }
}

both! {
    async fn an_absurdly_wide_header_gets_one_small_answer(app) {
        // 2,000,000 columns in a 4 MB header.
        let mut header = "x,".repeat(2_000_000);
        header.pop();
        header.push_str("\r\n");
        let res = upload(&app, "", header).await;
        let found = problems(&res);
        assert_eq!(found.len(), 1, "one problem, not one per column");
        assert!(found[0].1.contains("2000000 columns, at most 200"), "{found:?}");
        assert!(res.bytes.len() < 2_000, "{} bytes", res.bytes.len());
        // A header of 150 unknown columns: each named once, briefly.
        let unknown: Vec<String> = (0..150).map(|i| format!("{}{i}", "列".repeat(100))).collect();
        let file = csv(&format!(",{}", unknown.join(",")), &[]);
        let res = upload(&app, "", file).await;
        let found = problems(&res);
        assert_eq!(found.len(), 150);
        let quoted = found[0].0.strip_prefix("line 1 ").expect("the header's line");
        assert!(quoted.chars().count() == 41 && quoted.ends_with('…'), "{:?}", found[0]);
        assert!(found[0].1.contains("column 16"), "{:?}", found[0]);
        assert!(res.bytes.len() < 150 * 300, "{} bytes", res.bytes.len());
    }
}

both! {
    async fn a_file_of_many_bad_rows_reports_the_first_thousand_and_counts_the_rest(app) {
        let rows: Vec<String> = (0..3_000).map(|n| row(n, "张秀兰", ",abc")).collect();
        let res = upload(&app, "", csv(",mother_phone", &rows)).await;
        let found = problems(&res);
        assert_eq!(found.len(), 1_001, "a thousand, then the count");
        assert_eq!(found[0].0, "line 2 mother_phone");
        assert_eq!(found[999].0, "line 1001 mother_phone");
        assert!(found[1_000].1.contains("2000 more problems not listed"), "{:?}", found[1_000]);
        assert_eq!(households(&app).await, 0);
    }
}

both! {
    async fn exported_cells_that_start_like_formulas_are_neutralised_and_import_back(app) {
        let mut h = bereaved_household();
        h["address"] = json!("=HYPERLINK(\"http://evil.example\",\"点击\")");
        h["contact"]["name"] = json!("@SUM(A1)");
        h["members"][0]["name"] = json!("-2+3");
        h["members"][0]["phone"] = json!("+86 139 1234 5678");
        h["members"][1]["name"] = json!("+1-2");
        app.create_household(&h).await;
        let exported = app.get("/api/v1/households/export.csv", &app.office).await;
        assert_eq!(exported.status, StatusCode::OK);
        let cells: Vec<String> = csv::Reader::from_reader(&exported.bytes[3..])
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        for typed in ["=HYPERLINK(", "@SUM(A1)", "-2+3", "+86 139", "+1-2"] {
            assert!(!cells.iter().any(|c| c.starts_with(typed)), "{typed} exported raw: {cells:?}");
            assert!(cells.iter().any(|c| c.starts_with(&format!("'{typed}"))), "{typed}: {cells:?}");
        }
        // Imported into a fresh database, the file holds what was typed.
        let fresh = match app.backend {
            crate::helpers::Backend::Sqlite => TestApp::sqlite().await,
            crate::helpers::Backend::Postgres => TestApp::postgres().await.expect("configured"),
        };
        let res = upload(&fresh, "", exported.bytes.clone()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let id = fresh.get("/api/v1/households?limit=1", &fresh.office).await.body[0]["household_id"].clone();
        let back: Value = fresh.get(&format!("/api/v1/households/{id}"), &fresh.office).await.body;
        assert_eq!(back["address"], h["address"]);
        assert_eq!(back["contact"]["name"], "@SUM(A1)");
        assert_eq!(back["members"][0]["name"], "-2+3");
        assert_eq!(back["members"][0]["phone"], "+86 139 1234 5678");
        // The disbursement list: names neutralised, negative amounts left as numbers.
        let list = app.post("/api/v1/disbursements", &app.office, &json!({"period": "2020-06"})).await;
        assert_eq!(list.status, StatusCode::CREATED, "{}", list.body);
        let csv = app.get(&format!("/api/v1/disbursements/{}/csv", list.body["disbursement_id"]), &app.office).await;
        let text = String::from_utf8(csv.bytes).unwrap();
        assert!(text.contains(",'-2+3,") && !text.contains(",-2+3,"), "{text}");
    }
}
