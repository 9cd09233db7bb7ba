//! An emergency in a real headless Chromium: a township reports it from the family's file, the
//! office finds it on its home page at once, records a step and closes it with what was done,
//! and the home page no longer lists it.

use serde_json::json;

use super::{serve, set_password};
use crate::browser::Browser;
use crate::contacts::family;
use crate::helpers::continue_rules_to_today;

both! {
    async fn a_township_reports_an_emergency_and_the_office_closes_it(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&family(70)).await;
        let hid = h["household_id"].as_i64().unwrap();
        set_password(&app, "township", "township-password-1", false).await;
        set_password(&app, "office", "office-password-1", false).await;
        let base = serve(&app).await;
        let b = Browser::launch().await;

        b.c().goto(&format!("{base}/")).await.unwrap();
        b.fill("#name", "township").await;
        b.fill("#password", "township-password-1").await;
        b.follow("#submit", false).await;
        b.c().goto(&format!("{base}/households/{hid}")).await.unwrap();
        b.follow("#report-emergency", false).await;
        b.click("#kind option[value='disaster']").await;
        b.fill("#what", "暴雨致房屋漏水，老两口暂住邻居家").await;
        b.fill("#needs", "临时住所、房屋维修").await;
        b.screenshot("console", app.backend, "emergency-report").await;
        b.follow("#report", false).await;
        assert!(b.text("#message").await.starts_with("已报告"), "{}", b.text("#message").await);
        assert_eq!(b.text("#state").await, "未结");
        let id: i64 = b.eval("return document.querySelector('#emergency').dataset.emergencyId;").await
            .as_str().unwrap().parse().unwrap();
        b.follow("header form[action='/logout'] button", false).await;

        // The office's home page lists it at once.
        b.fill("#name", "office").await;
        b.fill("#password", "office-password-1").await;
        b.follow("#submit", false).await;
        assert_eq!(b.text("#emergency-count").await, "1");
        let row = b.text(&format!("#emergencies-open #emergency-{id}")).await;
        assert!(row.contains("灾害") && row.contains("暴雨"), "{row}");
        b.screenshot("console", app.backend, "home-emergency").await;
        b.follow(&format!("#emergency-{id} a.open-emergency"), false).await;
        b.fill("#step-note", "已联系村委会安排临时住所").await;
        b.follow("#add-step", false).await;
        assert_eq!(b.text("#message").await, "已记录。");
        b.fill("#outcome", "房屋已修缮，已发放临时救助").await;
        b.follow("#close", true).await;
        assert_eq!(b.text("#state").await, "已办结");
        assert_eq!(b.text("#outcome-text").await, "房屋已修缮，已发放临时救助");
        let steps = b.text("#steps tbody").await;
        assert!(steps.contains("township") && steps.contains("office") && steps.contains("办结"), "{steps}");

        let done = app.get(&format!("/api/v1/emergencies/{id}"), &app.auditor).await;
        assert_eq!(done.body["state"], "closed");
        assert_eq!(done.body["closed_by"], "office");
        assert_eq!(done.body["steps"].as_array().unwrap().len(), 3, "{}", done.body);
        b.c().goto(&format!("{base}/")).await.unwrap();
        let listed = b.eval("return document.querySelector('#emergencies-open') === null;").await;
        assert_eq!(listed, json!(true), "a closed emergency leaves the home page");

        let errors = b.errors().await;
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        b.close().await;
    }
}
