//! The facts the rules read, on a household's page: each as on the page's date with its record
//! of changes, and a change recorded from the page — dated, kept as a new version of the file,
//! and refused on the page (nothing written) when it is in the future or of the wrong kind. The
//! form is also used in a real headless Chromium.

use reqwest::StatusCode;
use serde_json::json;

use super::clinic::post;
use super::http::{get, sign_in};
use super::{serve, set_password};
use crate::browser::Browser;
use crate::helpers::bereaved_household;

both! {
    async fn a_township_records_a_dated_fact_from_the_household_page(app) {
        let mut h = bereaved_household();
        h["members"][0]["facts"] = json!({"extreme_poverty": false});
        h["contact"] = json!({"name": "赵联络", "phone": "13900001111", "role": "community_cadre",
            "group": [{"name": "孙志愿", "role": "volunteer"}]});
        let created = app.create_household(&h).await;
        let id = created["household_id"].as_i64().unwrap();
        let mother = created["members"][0]["member_id"].as_i64().unwrap().to_string();
        set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let (cookie, csrf) = sign_in(&base, "township", "township-password-1").await;
        let page = get(&base, &format!("/households/{id}"), &cookie).await.text().await.unwrap();
        assert!(page.contains("赵联络（村居干部） 139****1111；联系小组：孙志愿（志愿者）"), "{page}");
        assert!(!page.contains("13900001111"));
        assert!(page.contains("<td>特困供养</td><td class=\"value\">否</td>"), "{page}");
        assert!(page.contains("<td>住房困难</td><td class=\"value missing\">未登记</td>"), "{page}");

        // 特困 from 1 March 2024.
        let res = post(&base, &format!("/households/{id}/facts"), &cookie, &[
            ("csrf", &csrf), ("version", "1"), ("who", &mother), ("fact", "extreme_poverty"), ("value", "yes"),
            ("from", "2024-03-01"), ("reason", "民政认定特困供养"),
        ]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await.body;
        assert_eq!(file["version"], 2);
        assert_eq!(file["members"][0]["facts"]["extreme_poverty"], json!([{"value": false}, {"from": "2024-03-01", "value": true}]));
        let history = app.get(&format!("/api/v1/households/{id}/history"), &app.office).await.body;
        assert_eq!(history[1]["reason"], "民政认定特困供养");
        let page = get(&base, &format!("/households/{id}?done=fact_recorded"), &cookie).await.text().await.unwrap();
        assert!(page.contains("情况变更已记入档案"), "{page}");
        assert!(page.contains("否；2024-03-01起是"), "{page}");

        // A day in the future, civil capacity as yes, a household fact for a member: refused on
        // the page, naming why, and the file stays at version 2.
        for (fact, value, from, who, why) in [
            ("extreme_poverty", "no", "2099-01-01", mother.as_str(), "将来"),
            ("civil_capacity", "yes", "2024-01-01", mother.as_str(), "full, limited or none"),
            ("housing_difficulty", "yes", "2024-01-01", mother.as_str(), "全户"),
        ] {
            let res = post(&base, &format!("/households/{id}/facts"), &cookie, &[
                ("csrf", &csrf), ("version", "2"), ("who", who), ("fact", fact), ("value", value),
                ("from", from), ("reason", "核实"),
            ]).await;
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fact}");
            let body = res.text().await.unwrap();
            assert!(body.contains("id=\"fact-alert\"") && body.contains(why), "{fact}: {body}");
        }
        // A page shown before a change made since: refused as stale, nothing overwritten.
        let res = post(&base, &format!("/households/{id}/facts"), &cookie, &[
            ("csrf", &csrf), ("version", "1"), ("who", &mother), ("fact", "extreme_poverty"), ("value", "no"),
            ("from", "2024-03-01"), ("reason", "核实"),
        ]).await;
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(res.text().await.unwrap().contains("fact-alert"));
        assert_eq!(app.get(&format!("/api/v1/households/{id}"), &app.office).await.body["version"], 2);
        // The household's own fact.
        let res = post(&base, &format!("/households/{id}/facts"), &cookie, &[
            ("csrf", &csrf), ("version", "2"), ("who", "household"), ("fact", "housing_difficulty"), ("value", "yes"),
            ("from", "2023-06-01"), ("reason", "住建部门认定"),
        ]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await.body;
        assert_eq!(file["facts"]["housing_difficulty"], json!([{"from": "2023-06-01", "value": true}]));
    }
}

both! {
    async fn the_fact_form_records_a_change_in_a_real_browser(app) {
        let mut h = bereaved_household();
        h["facts"] = json!({"housing_difficulty": false});
        let created = app.create_household(&h).await;
        let id = created["household_id"].as_i64().unwrap();
        set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let b = Browser::launch().await;
        b.c().goto(&format!("{base}/")).await.unwrap();
        b.fill("#name", "township").await;
        b.fill("#password", "township-password-1").await;
        b.follow("#submit", false).await;
        b.c().goto(&format!("{base}/households/{id}#facts")).await.unwrap();
        b.click("#fact-who option[value='household']").await;
        b.click("#fact-key option[value='housing_difficulty']").await;
        b.click("#fact-value option[value='yes']").await;
        // A date field's typing depends on the locale; set the value the picker would.
        b.eval("document.querySelector('#fact-from').value = '2023-06-01'; return true;").await;
        b.fill("#fact-reason", "住建部门认定").await;
        b.screenshot("console", app.backend, "household-fact").await;
        b.follow("#fact-submit", false).await;
        assert_eq!(b.text("#message").await, "情况变更已记入档案。");
        let table = b.text("#fact-table").await;
        assert!(table.contains("否；2023-06-01起是"), "{table}");
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await.body;
        assert_eq!(file["version"], 2);
        assert_eq!(file["facts"]["housing_difficulty"], json!([{"value": false}, {"from": "2023-06-01", "value": true}]));
        let errors = b.errors().await;
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        b.close().await;
    }
}
