use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{id, TestApp};

pub(crate) const HEADER_ZH: &str = "镇街,村居,住址,户籍在本区,城乡,子女状况,子女死亡日期,子女残疾等级,再生育或收养,低保,低收入,女方姓名,女方身份证号,女方参加居民养老保险,女方月基础养老金,女方参加居民医保,男方姓名,男方身份证号,男方参加居民医保";

/// One CSV row for household `n`: a bereaved couple of 丝绸路街道.
pub(crate) fn row(n: u32) -> String {
    format!(
        "丝绸路街道,丝绸路东村,{n}号,是,城镇,死亡,2015/8/10,,否,否,否,张秀兰,{},是,160.50,是,李建国,{},是",
        id(1966, 3, 20, true, n),
        id(1964, 11, 2, false, n)
    )
}

pub(crate) fn file(rows: impl IntoIterator<Item = String>) -> String {
    let mut s = String::from(HEADER_ZH);
    for r in rows {
        s.push('\n');
        s.push_str(&r);
    }
    s.push('\n');
    s
}

pub(crate) async fn upload(app: &TestApp, query: &str, body: Vec<u8>) -> crate::helpers::Response {
    app.call(
        Method::POST,
        &format!("/api/v1/households/import{query}"),
        Some(&app.office),
        Some(Body::from(body)),
        Some("text/csv"),
    )
    .await
}

async fn count(app: &TestApp) -> usize {
    app.get("/api/v1/households?limit=1000", &app.office)
        .await
        .body
        .as_array()
        .map_or(0, Vec::len)
}

both! {
    async fn a_utf8_file_imports_whole(app) {
        let res = upload(&app, "", file((0..20).map(row)).into_bytes()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["households"], 20);
        assert_eq!(res.body["members"], 40);
        assert_eq!(count(&app).await, 20);
        // The ids of the households made, in the file's order: the first row's address is 0号.
        let ids = res.body["household_ids"].as_array().expect("household_ids").clone();
        assert_eq!(ids.len(), 20);
        let first = app.get(&format!("/api/v1/households/{}", ids[0]), &app.office).await.body;
        assert_eq!(first["address"], "0号");
        let first = app.get("/api/v1/households?limit=1", &app.office).await.body[0]["household_id"].clone();
        let h = app.get(&format!("/api/v1/households/{first}"), &app.office).await.body;
        assert_eq!(h["child"]["died_on"], "2015-08-10");
        assert_eq!(h["community_id"], "370306001001");
        assert_eq!(h["members"][0]["resident_pension"]["basic_monthly_fen"], 16050);
    }
}

both! {
    async fn a_gbk_file_from_excel_imports(app) {
        let text = file((0..3).map(row));
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let res = upload(&app, "", gbk.into_owned()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let first = app.get("/api/v1/households?limit=1", &app.office).await.body[0]["household_id"].clone();
        let h = app.get(&format!("/api/v1/households/{first}"), &app.office).await.body;
        assert_eq!(h["members"][0]["name"], "张秀兰");
    }
}

both! {
    async fn a_dry_run_writes_nothing(app) {
        let res = upload(&app, "?dry_run=true", file((0..5).map(row)).into_bytes()).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body["dry_run"], true);
        assert_eq!(res.body["households"], 5);
        assert_eq!(count(&app).await, 0);
    }
}

both! {
    async fn one_bad_row_among_many_changes_nothing_and_is_named(app) {
        let mut rows: Vec<String> = (0..300).map(row).collect();
        // Line 1 is the header, so row index 150 is on line 152.
        rows[150] = rows[150].replace(&id(1966, 3, 20, true, 150), "370306196603200021");
        rows[200] = rows[200].replace("丝绸路街道", "不存在镇");
        rows[250] = rows[250].replace("2015/8/10", "2015/2/30");
        let res = upload(&app, "", file(rows).into_bytes()).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let errors: Vec<String> = res.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
        assert_eq!(errors, ["line 152 mother_id_number", "line 202 township", "line 252 child_died_on"], "{}", res.body);
        assert!(res.body["errors"][0]["reason"].as_str().unwrap().contains("check digit"));
        assert_eq!(count(&app).await, 0);
    }
}

both! {
    async fn one_bad_row_in_ten_thousand_changes_nothing_and_is_named(app) {
        let mut rows: Vec<String> = (0..10_000).map(row).collect();
        rows[9_876] = rows[9_876].replace("是,城镇", "是,城里");
        let res = upload(&app, "", file(rows).into_bytes()).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"].as_array().unwrap().len(), 1, "{}", res.body["detail"]);
        assert_eq!(res.body["errors"][0]["field"], "line 9878 area");
        assert!(res.body["errors"][0]["reason"].as_str().unwrap().contains("urban or rural"));
        assert_eq!(count(&app).await, 0);
    }
}

both! {
    async fn duplicate_id_numbers_in_a_file_or_on_file_are_refused(app) {
        let res = upload(&app, "", file([row(1), row(2), row(1)]).into_bytes()).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let detail = res.body["detail"].as_str().unwrap();
        assert!(detail.contains("line 4 mother_id_number") && detail.contains("line 2"), "{detail}");
        assert_eq!(count(&app).await, 0);
        assert_eq!(upload(&app, "", file([row(1)]).into_bytes()).await.status, StatusCode::CREATED);
        let res = upload(&app, "", file([row(5), row(1)]).into_bytes()).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "line 3 mother_id_number");
        assert_eq!(count(&app).await, 1);
    }
}

both! {
    async fn a_file_with_a_missing_or_unknown_column_is_refused(app) {
        let res = upload(&app, "", "镇街,住址,颜色\n丝绸路街道,1号,红\n".as_bytes().to_vec()).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let detail = res.body["detail"].as_str().unwrap();
        assert!(detail.contains("颜色: 未知的列（第3列）/ unknown column (column 3)"), "{detail}");
        assert!(detail.contains("required column 'hukou_in_district'"), "{detail}");
        assert!(detail.ends_with("and 4 more in errors"), "{detail}");
        assert_eq!(res.body["errors"].as_array().map(Vec::len), Some(7), "{}", res.body);
        let res = upload(&app, "?encoding=utf-8", vec![0xD5, 0xC5, b'\n']).await;
        res.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let res = upload(&app, "?encoding=latin1", vec![]).await;
        res.assert_problem(StatusCode::BAD_REQUEST, "bad_query");
    }
}

both! {
    async fn export_then_import_reproduces_the_files(app) {
        assert_eq!(upload(&app, "", file((0..10).map(row)).into_bytes()).await.status, StatusCode::CREATED);
        let exported = app.get("/api/v1/households/export.csv", &app.office).await;
        assert_eq!(exported.status, StatusCode::OK);
        assert!(exported.bytes.starts_with(b"\xEF\xBB\xBF"), "Excel needs the BOM");
        let before = app.get("/api/v1/households?limit=1000", &app.office).await.body;
        // Into a fresh database of the same backend.
        let fresh = match app.backend {
            crate::helpers::Backend::Sqlite => TestApp::sqlite().await,
            crate::helpers::Backend::Postgres => TestApp::postgres().await.expect("configured"),
        };
        let res = upload(&fresh, "", exported.bytes.clone()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let again = fresh.get("/api/v1/households/export.csv", &fresh.office).await;
        assert_eq!(String::from_utf8(again.bytes).unwrap(), String::from_utf8(exported.bytes).unwrap());
        let after: Value = fresh.get("/api/v1/households?limit=1000", &fresh.office).await.body;
        assert_eq!(after.as_array().map(Vec::len), before.as_array().map(Vec::len));
    }
}

both! {
    async fn dated_facts_import_as_a_gbk_crlf_file_from_excel_and_bad_ones_name_line_and_column(app) {
        let header = format!("{HEADER_ZH},再生育或收养日期,低保期间,户籍迁出日期");
        let good = format!(
            "丝绸路街道,丝绸路东村,1号,否,城镇,死亡,2015/8/10,,是,否,否,张秀兰,{},是,160.50,是,李建国,{},是,2020/9/15,2019-01-01至2019-12-31；2021-03-01至2021-06-30,2022/3/10",
            id(1966, 3, 20, true, 1),
            id(1964, 11, 2, false, 1)
        );
        let bad = format!(
            "丝绸路街道,丝绸路东村,2号,是,城镇,死亡,2015/8/10,,是,否,否,张秀兰,{},是,160.50,是,李建国,{},是,,2019-01-01到2019-12-31,",
            id(1966, 3, 20, true, 2),
            id(1964, 11, 2, false, 2)
        );
        // A birth without its date, on line 4 (as the spreadsheet counts, header on line 1).
        let undated = format!(
            "丝绸路街道,丝绸路东村,3号,是,城镇,死亡,2015/8/10,,是,否,否,张秀兰,{},是,160.50,是,李建国,{},是,,,",
            id(1966, 3, 20, true, 3),
            id(1964, 11, 2, false, 3)
        );
        let text = format!("{header}\r\n{good}\r\n{bad}\r\n{undated}\r\n");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let res = upload(&app, "?dry_run=true", gbk.to_vec()).await;
        let fields: Vec<&str> = res.body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["line 3 dibao_periods", "line 4 other_child_on"], "{}", res.body);
        // Without the bad row the file lands, with its dates.
        let text = format!("{header}\r\n{good}\r\n");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let res = upload(&app, "", gbk.to_vec()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let first = app.get("/api/v1/households?limit=1", &app.office).await.body[0]["household_id"].clone();
        let h = app.get(&format!("/api/v1/households/{first}"), &app.office).await.body;
        assert_eq!(h["other_child_on"], "2020-09-15");
        assert_eq!(h["hukou_moved_out_on"], "2022-03-10");
        assert_eq!(h["dibao_periods"], serde_json::json!([{"from": "2019-01-01", "until": "2019-12-31"}, {"from": "2021-03-01", "until": "2021-06-30"}]));
    }
}

both! {
    async fn a_household_with_one_parent_exports_and_imports_back(app) {
        let mut h = crate::helpers::bereaved_household();
        h["members"].as_array_mut().unwrap().truncate(1);
        app.create_household(&h).await;
        let mut widower = crate::helpers::bereaved_household();
        widower["members"].as_array_mut().unwrap().remove(0);
        widower["address"] = serde_json::json!("丝绸路14号");
        app.create_household(&widower).await;
        let exported = app.get("/api/v1/households/export.csv", &app.office).await;
        assert_eq!(exported.status, StatusCode::OK, "{}", exported.body);
        let fresh = match app.backend {
            crate::helpers::Backend::Sqlite => TestApp::sqlite().await,
            crate::helpers::Backend::Postgres => TestApp::postgres().await.expect("configured"),
        };
        let res = upload(&fresh, "", exported.bytes.clone()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["members"], 2, "{}", res.body);
    }
}
