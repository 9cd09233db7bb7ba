//! A township's month of contacts in a real headless Chromium: the sheet shows a family not yet
//! reached, a contact is logged from its row in a few clicks, last month's sheet shows the
//! family overdue, and a festival's checklist holds it until its visit is recorded. Over HTTP
//! without a browser: who may open the sheet, names masked for the auditor, a contact dated
//! tomorrow refused on the page and nothing written.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use super::clinic::post;
use super::{serve, set_password};
use crate::browser::Browser;
use crate::contacts::{family, registered_at};
use crate::helpers::continue_rules_to_today;
use greenchannel::service::contacts::Month;

both! {
    async fn a_township_logs_a_contact_from_the_month_sheet(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&family(50)).await;
        let hid = h["household_id"].as_i64().unwrap();
        registered_at(&app, hid, Utc::now() - Duration::days(400)).await;
        set_password(&app, "township", "township-password-1", false).await;
        let base = serve(&app).await;
        let b = Browser::launch().await;

        b.c().goto(&format!("{base}/")).await.unwrap();
        b.fill("#name", "township").await;
        b.fill("#password", "township-password-1").await;
        b.follow("#submit", false).await;
        b.follow("a#nav-contacts", false).await;
        let row = format!("#household-{hid}");
        assert!(b.text(&format!("{row} td.state")).await.contains("待联系"));
        assert!(b.text(&row).await.contains("张秀兰"));
        assert_eq!(b.eval(&format!("return document.querySelector('{row}').className;")).await, json!("due"));
        b.screenshot("console", app.backend, "contacts-sheet").await;

        b.click(&format!("{row} select[name='how'] option[value='visit']")).await;
        b.fill(&format!("{row} input[name='raised']"), "老伴腿脚不便，想申请护理补贴").await;
        b.follow(&format!("{row} button.log"), false).await;
        assert!(b.text("#message").await.starts_with("已记录"), "{}", b.text("#message").await);
        assert_eq!(b.text(&format!("{row} td.state")).await, "已联系");
        let log = app.get(&format!("/api/v1/households/{hid}/contacts"), &app.office).await;
        let entries = log.body.as_array().unwrap();
        assert_eq!(entries.len(), 1, "{}", log.body);
        assert_eq!(entries[0]["how"], "visit");
        assert_eq!(entries[0]["made_by"], "township");
        assert_eq!(entries[0]["raised"], "老伴腿脚不便，想申请护理补贴");
        assert_eq!(entries[0]["contacted_on"], json!(greenchannel::time::today()));

        // Last month, ended without a contact: overdue.
        let today = greenchannel::time::today();
        let last_month = Month::of(Month::of(today).first() - Duration::days(1));
        b.c().goto(&format!("{base}/contacts?month={last_month}")).await.unwrap();
        assert_eq!(b.text(&format!("{row} td.state")).await, "逾期");
        assert_eq!(b.eval(&format!("return document.querySelector('{row}').className;")).await, json!("overdue"));

        // A festival the office configured: the family is on its checklist until visited.
        let festival = app.post("/api/v1/festivals", &app.office, &json!({"name": "冬至", "on": today})).await;
        assert_eq!(festival.status, reqwest::StatusCode::CREATED, "{}", festival.body);
        let fid = festival.body["festival_id"].as_i64().unwrap();
        b.follow("a#nav-festivals", false).await;
        b.follow(&format!("#festival-{fid} a.checklist"), false).await;
        let visit = format!("#visit-{hid}");
        assert!(b.text(&visit).await.contains("张秀兰"));
        b.fill(&format!("{visit} input[name='note']"), "送去米面油").await;
        b.screenshot("console", app.backend, "festival-checklist").await;
        b.follow(&format!("{visit} button.visit"), false).await;
        assert!(b.text("#message").await.starts_with("已记录"), "{}", b.text("#message").await);
        assert_eq!(b.text("#all-visited").await, "应走访的家庭均已走访。");
        let list = app.get(&format!("/api/v1/festivals/{fid}/not-visited"), &app.office).await;
        assert_eq!(list.body["households"], json!([]), "{}", list.body);
        assert_eq!(list.body["townships"][0]["visited"], 1);

        let errors = b.errors().await;
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        b.close().await;
    }
}

both! {
    async fn the_contact_sheet_is_for_its_roles_and_refuses_a_contact_in_the_future(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&family(51)).await;
        let hid = h["household_id"].as_i64().unwrap();
        registered_at(&app, hid, Utc::now() - Duration::days(400)).await;
        for name in ["auditor", "desk", "clinic", "township", "township-2"] {
            set_password(&app, name, &format!("{name}-password-1"), false).await;
        }
        let base = serve(&app).await;
        use crate::console::http::{get, sign_in};

        for name in ["desk", "clinic"] {
            let (cookie, _) = sign_in(&base, name, &format!("{name}-password-1")).await;
            let res = get(&base, "/contacts", &cookie).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name} opens the contact sheet");
        }

        let (auditor, _) = sign_in(&base, "auditor", "auditor-password-1").await;
        let page = get(&base, "/contacts", &auditor).await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        assert!(page.contains(&format!("id=\"household-{hid}\"")), "the family is due");
        assert!(page.contains("张*兰") && !page.contains("张秀兰"), "names masked for the auditor");
        assert!(!page.contains("log-form"), "the auditor logs nothing");

        let (township, csrf) = sign_in(&base, "township", "township-password-1").await;
        let bad = get(&base, "/contacts?month=2026-13", &township).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().await.unwrap().contains("不是月份"), "the bad month is named");

        let tomorrow = (greenchannel::time::today() + Duration::days(1)).to_string();
        let id = hid.to_string();
        let form = [("csrf", csrf.as_str()), ("household_id", &id), ("on", &tomorrow), ("how", "phone"), ("made_by", "王干事")];
        let res = post(&base, "/contacts", &township, &form).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("尚未到来"), "the refusal is on the page");
        // Without the form's token, or from another township, nothing is written.
        let today = greenchannel::time::today().to_string();
        let res = post(&base, "/contacts", &township, &[("household_id", &id), ("on", &today), ("how", "phone"), ("made_by", "王干事")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let (other, other_csrf) = sign_in(&base, "township-2", "township-2-password-1").await;
        let res = post(&base, "/contacts", &other, &[("csrf", other_csrf.as_str()), ("household_id", &id), ("on", &today), ("how", "phone"), ("made_by", "赵干事")]).await;
        assert!(res.status().is_client_error(), "{}", res.status());
        assert!(!res.text().await.unwrap().contains("张秀兰"), "another township's family is not shown");
        let log = app.get(&format!("/api/v1/households/{hid}/contacts"), &app.office).await;
        assert_eq!(log.body, json!([]), "nothing refused was written");
    }
}
