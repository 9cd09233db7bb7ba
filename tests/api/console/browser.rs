//! The office's errand in a real headless Chromium, driven over WebDriver (fantoccini and
//! Debian's chromedriver): sign in with the password, find a family by a member's name, issue
//! and print that member's card, revoke it, edit the file, import a sheet after its check,
//! approve the month's list. Screenshots of the pages go under `target/console/`.

use fantoccini::Locator;

use super::{serve, set_password};
use crate::browser::Browser;
use crate::helpers::{bereaved_household, continue_rules_to_today};

both! {
    async fn the_office_signs_in_finds_a_family_issues_prints_and_revokes_a_card(app) {
        continue_rules_to_today(&app).await;
        set_password(&app, "office", "office-password-1", false).await;
        let household = app.create_household(&bereaved_household()).await;
        let id = household["household_id"].as_i64().unwrap();
        let mother = household["members"][0]["member_id"].as_i64().unwrap();
        let base = serve(&app).await;
        let b = Browser::launch().await;

        b.c().goto(&format!("{base}/")).await.unwrap();
        b.screenshot("console", app.backend, "sign-in").await;
        b.fill("#name", "office").await;
        b.fill("#password", "office-password-1").await;
        b.click("#submit").await;
        assert!(b.text("#without-card-count").await.parse::<i64>().unwrap() >= 1);
        b.screenshot("console", app.backend, "home").await;

        b.fill("#q", "张秀兰").await;
        b.click("#search-button").await;
        assert!(b.text("#results").await.contains("张秀兰"));
        b.screenshot("console", app.backend, "households").await;
        b.click(&format!("a.file-link[href='/households/{id}']")).await;
        assert!(b.text("#eligibility").await.contains("是计生特殊家庭"));

        b.click(&format!("#member-{mother} button.issue")).await;
        assert_eq!(b.text("#message").await, "已发卡。");
        b.screenshot("console", app.backend, "household").await;
        let cards = app.get(&format!("/api/v1/members/{mother}/cards"), &app.office).await;
        let serial = cards.body[0]["serial"].as_str().unwrap().to_owned();
        assert_eq!(cards.body[0]["state"], "active");

        // Print: the page's link gives the card's PDF to this signed-in browser.
        let print = b.c().find(Locator::Css(&format!("#member-{mother} a.print"))).await.unwrap();
        let href = print.attr("href").await.unwrap().unwrap();
        assert_eq!(href, format!("/cards/{serial}/card.pdf"));
        let session = b.c().get_named_cookie("gc_session").await.unwrap();
        let pdf = reqwest::Client::new()
            .get(format!("{base}{href}"))
            .header("cookie", format!("gc_session={}", session.value()))
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));

        // Revoke, with the reason and the confirmation.
        b.click(&format!("#member-{mother} .revoke-form option[value='lost']")).await;
        b.click(&format!("#member-{mother} button.revoke")).await;
        b.c().accept_alert().await.unwrap();
        assert_eq!(b.text("#message").await, "卡片已作废。");
        let card = app.get(&format!("/api/v1/cards/{serial}"), &app.office).await;
        assert_eq!(card.body["state"], "revoked");
        assert!(card.body["state_reason"].as_str().unwrap().contains("卡片遗失"));

        // Edit the file: a new address, with the reason.
        b.c().goto(&format!("{base}/households/{id}")).await.unwrap();
        b.click("#edit").await;
        b.fill("input[name='address']", "丝绸路18号").await;
        b.fill("#reason", "搬家").await;
        b.screenshot("console", app.backend, "edit").await;
        b.click("#save").await;
        assert_eq!(b.text("#message").await, "档案已保存。");
        let file = app.get(&format!("/api/v1/households/{id}"), &app.office).await;
        assert_eq!(file.body["address"], "丝绸路18号");

        // Import a township's sheet as Excel saves it (GBK, CRLF): its problem by line first,
        // then the corrected sheet, whole.
        let dir = tempfile::tempdir().unwrap();
        let sheet = |rows: Vec<String>, name: &str| {
            let text = crate::import::file(rows).replace('\n', "\r\n");
            let path = dir.path().join(name);
            std::fs::write(&path, encoding_rs::GBK.encode(&text).0).unwrap();
            path.display().to_string()
        };
        let bad = crate::import::row(3).replace("丝绸路东村", "不存在的村");
        b.c().goto(&format!("{base}/import")).await.unwrap();
        b.c().find(Locator::Css("#file")).await.unwrap().send_keys(&sheet(vec![crate::import::row(2), bad], "bad.csv")).await.unwrap();
        b.click("#check").await;
        assert_eq!(b.text("#errors tbody tr td").await, "3", "the bad row's line");
        b.screenshot("console", app.backend, "import-problems").await;
        b.c().goto(&format!("{base}/import")).await.unwrap();
        b.c().find(Locator::Css("#file")).await.unwrap().send_keys(&sheet(vec![crate::import::row(2), crate::import::row(3)], "good.csv")).await.unwrap();
        b.click("#check").await;
        assert!(b.text("#summary").await.contains("2 户"));
        b.click("#commit").await;
        b.c().accept_alert().await.unwrap();
        assert!(b.text("#imported").await.contains("导入 2 户"));

        // The month's list: made, read, approved after the confirmation.
        b.c().goto(&format!("{base}/disbursements")).await.unwrap();
        b.click("#make").await;
        assert_eq!(b.text("#status").await, "草稿");
        assert_ne!(b.text("#total").await, "0.00");
        b.screenshot("console", app.backend, "disbursement").await;
        b.click("#checked").await;
        b.click("#approve").await;
        b.c().accept_alert().await.unwrap();
        assert!(b.text("#status").await.starts_with("已审核"));
        let lists = app.get("/api/v1/disbursements", &app.office).await;
        assert_eq!(lists.body[0]["status"], "approved");
        let errors = b.errors().await;
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        b.close().await;
    }
}

/// The error recorder the page tests rely on sees what the page's policy refuses (else their
/// "no script error, no CSP violation" would pass by seeing nothing).
#[tokio::test]
async fn the_browser_records_a_csp_violation_on_a_console_page() {
    let app = crate::helpers::TestApp::sqlite().await;
    let base = serve(&app).await;
    let b = Browser::launch().await;
    b.c().goto(&format!("{base}/")).await.unwrap();
    assert!(b.errors().await.is_empty(), "{:?}", b.errors().await);
    b.eval("var s = document.createElement('script'); s.textContent = 'window.ran = true'; document.body.appendChild(s); return true;").await;
    let errors = b
        .wait_for(
            "the violation to be recorded",
            "return window.__errors.length > 0 ? window.__errors : null;",
            std::time::Duration::from_secs(10),
        )
        .await;
    assert!(errors.to_string().contains("csp: script-src"), "{errors}");
    assert_eq!(
        b.eval("return window.ran === true;").await,
        serde_json::json!(false),
        "the inline script did not run"
    );
    b.close().await;
}
