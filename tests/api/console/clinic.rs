//! A township health centre's day in a real headless Chromium: set the week's places and close a
//! day, book a member from the list of those due (the closed day not offered), see a second
//! booking refused, book the husband by scanning his card, complete his checkup, cancel hers;
//! sign her family-doctor contract from the list of the unsigned, record a follow-up, end it.
//! Over HTTP without a browser: who may open which clinic page, names masked for the auditor,
//! and a refused booking answered 422 with the refusal on the page.

use chrono::Duration;
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;

use super::{serve, set_password};
use crate::browser::Browser;
use crate::clinics::{couple, health_centre, parents, soon, today};
use crate::helpers::continue_rules_to_today;

both! {
    async fn a_health_centre_books_completes_and_signs_in_the_console(app) {
        continue_rules_to_today(&app).await;
        let (_, fid) = health_centre(&app, "丝绸路街道社区卫生服务中心", "370306001").await;
        let account = format!("clinic-{fid}");
        set_password(&app, &account, "centre-password-1", false).await;
        let h = app.create_household(&couple(7)).await;
        let (mother, father) = parents(&h);
        let card = app.post(&format!("/api/v1/members/{father}/cards"), &app.office, &json!({})).await;
        assert_eq!(card.status, StatusCode::CREATED, "{}", card.body);
        let qr = card.body["qr_text"].as_str().unwrap().to_owned();
        let base = serve(&app).await;
        let b = Browser::launch().await;

        b.c().goto(&format!("{base}/")).await.unwrap();
        b.fill("#name", &account).await;
        b.fill("#password", "centre-password-1").await;
        b.follow("#submit", false).await;
        b.follow("a#nav-checkups", false).await;

        // The week's places, and a closed day.
        b.follow("#capacity-link", false).await;
        for day in 1..=7 {
            b.fill(&format!("input[name='weekday{day}']"), "2").await;
        }
        let closed = soon();
        let open = closed + Duration::days(1);
        set_date(&b, "#dates tbody tr:first-child input[name='on']", closed).await;
        b.fill("#dates tbody tr:first-child input[name='places']", "0").await;
        b.fill("#dates tbody tr:first-child input[name='note']", "义诊").await;
        b.screenshot("console", app.backend, "checkup-capacity").await;
        b.follow("#save-capacity", false).await;
        assert_eq!(b.text("#message").await, "已保存查体名额。");
        let capacity = app.get(&format!("/api/v1/facilities/{fid}/checkup-capacity"), &app.office).await;
        assert_eq!(capacity.body["weekdays"], json!([2, 2, 2, 2, 2, 2, 2]), "{}", capacity.body);
        assert_eq!(capacity.body["dates"], json!([{"on": closed, "places": 0, "note": "义诊"}]));

        // From the list of those due: the closed day is not offered, the next one is.
        b.c().goto(&format!("{base}/checkups/due")).await.unwrap();
        assert!(b.text(&format!("#due-{mother}")).await.contains("张秀兰"));
        b.screenshot("console", app.backend, "checkups-due").await;
        b.follow(&format!("#due-{mother} a.book-member"), false).await;
        assert!(b.text("#member").await.contains("张秀兰"));
        let disabled = b.eval(&format!(
            "return document.querySelector(\"#day option[value='{closed}']\").disabled;"
        )).await;
        assert_eq!(disabled, json!(true), "a closed day cannot be chosen");
        b.click(&format!("#day option[value='{open}']")).await;
        b.follow("#book", false).await;
        assert!(b.text("#message").await.starts_with("已为张秀兰预约"), "{}", b.text("#message").await);
        let row = b.text("#day-list tbody tr").await;
        assert!(row.contains("张秀兰") && row.contains("已预约"), "{row}");
        let booked = app.get(&format!("/api/v1/checkups?facility_id={fid}&on={open}"), &app.office).await;
        assert_eq!(booked.body.as_array().unwrap().len(), 1, "{}", booked.body);
        let her_checkup = booked.body[0]["checkup_id"].as_i64().unwrap();

        // A second booking in the year is refused on the page, by the service's words.
        b.c().goto(&format!("{base}/checkups/book?member_id={mother}")).await.unwrap();
        b.click(&format!("#day option[value='{open}']")).await;
        b.follow("#book", false).await;
        assert!(b.text("#alert").await.contains("已预约或已完成"), "{}", b.text("#alert").await);

        // The husband by his card, for today; his checkup completed with its result.
        b.c().goto(&format!("{base}/checkups/book")).await.unwrap();
        b.fill("#qr", &qr).await;
        b.follow("#scan", false).await;
        assert!(b.text("#member").await.contains("李建国"), "{}", b.text("#member").await);
        b.click(&format!("#day option[value='{}']", today())).await;
        b.follow("#book", false).await;
        let booked = b.text("#message, #alert").await;
        assert!(booked.starts_with("已为李建国预约"), "{booked}");
        let his = app.get(&format!("/api/v1/checkups?facility_id={fid}&on={}", today()), &app.office).await;
        let his_checkup = his.body[0]["checkup_id"].as_i64().unwrap();
        let form = format!("#checkup-{his_checkup} .complete-form");
        b.fill(&format!("{form} input[name='summary']"), "血压偏高，建议复查").await;
        b.click(&format!("{form} input[name='follow_up_advised']")).await;
        b.screenshot("console", app.backend, "checkups-day").await;
        b.follow(&format!("{form} button.complete"), false).await;
        assert_eq!(b.text("#message").await, "已登记李建国完成查体。");
        assert!(b.text(&format!("#checkup-{his_checkup} .state")).await.contains("已完成"));
        let done = app.get(&format!("/api/v1/checkups/{his_checkup}"), &app.office).await;
        assert_eq!(done.body["state"], "completed");
        assert_eq!(done.body["result_summary"], "血压偏高，建议复查");
        assert_eq!(done.body["follow_up_advised"], true);

        // Hers cancelled, after the confirmation: the place is free again.
        b.c().goto(&format!("{base}/checkups?on={open}")).await.unwrap();
        b.follow(&format!("#checkup-{her_checkup} button.cancel"), true).await;
        assert!(b.text("#message").await.contains("名额已释放"));
        let cancelled = app.get(&format!("/api/v1/checkups/{her_checkup}"), &app.office).await;
        assert_eq!(cancelled.body["state"], "cancelled");
        let capacity = app.get(&format!("/api/v1/facilities/{fid}/checkup-capacity"), &app.office).await;
        let day = capacity.body["days"].as_array().unwrap().iter().find(|d| d["on"] == json!(open)).unwrap().clone();
        assert_eq!(day["free"], 2, "{day}");

        // Her family-doctor contract, from the list of the unsigned.
        b.follow("a#nav-contracts", false).await;
        b.follow(&format!("#unsigned-{mother} a.sign-member"), false).await;
        b.fill("#doctor_name", "刘医生").await;
        b.fill("#doctor_code", "370306-D-017").await;
        b.fill("#health_record_ref", "JKDA-0001").await;
        b.follow("#sign", false).await;
        assert_eq!(b.text("#message").await, "已与张秀兰签约。");
        assert_eq!(b.text("#state").await, "有效");
        let shown = b.c().find(Locator::Css("#contract")).await.unwrap();
        let contract_id: i64 = shown.attr("data-contract-id").await.unwrap().unwrap().parse().unwrap();
        let next = today() + Duration::days(30);
        b.fill("#follow-up-note", "电话随访，血压平稳").await;
        set_date(&b, "#next-due-on", next).await;
        b.follow("#add-follow-up", false).await;
        assert_eq!(b.text("#message").await, "已记录随访。");
        assert!(b.text("#follow-ups tbody tr").await.contains("电话随访"));
        assert_eq!(b.text("#next-follow-up").await, next.to_string());
        b.screenshot("console", app.backend, "contract").await;
        b.click("#end-reason option[value='moved_away']").await;
        b.follow("#end", true).await;
        assert_eq!(b.text("#state").await, "已解约");
        let ended = app.get(&format!("/api/v1/contracts/{contract_id}"), &app.office).await;
        assert_eq!(ended.body["state"], "ended", "{}", ended.body);
        assert_eq!(ended.body["end_reason"], "moved_away");

        let errors = b.errors().await;
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        b.close().await;
    }
}

/// Sets a date input's value (typing into one depends on the browser's locale).
async fn set_date(b: &Browser, css: &str, on: chrono::NaiveDate) {
    let set = b
        .eval(&format!(
            "var e = document.querySelector(\"{css}\"); e.value = '{on}'; return e.value;"
        ))
        .await;
    assert_eq!(set, json!(on.to_string()), "{css}");
}

/// A form post as the console's pages make it, redirects not followed.
pub(super) async fn post(
    base: &str,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}{path}"))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

both! {
    async fn clinic_pages_are_for_their_roles_and_mask_names_for_the_auditor(app) {
        continue_rules_to_today(&app).await;
        let h = app.create_household(&couple(8)).await;
        let (mother, _) = parents(&h);
        for name in ["auditor", "desk", "clinic", "office"] {
            set_password(&app, name, &format!("{name}-password-1"), false).await;
        }
        let base = serve(&app).await;

        let (desk, _) = crate::console::http::sign_in(&base, "desk", "desk-password-1").await;
        for path in ["/checkups", "/checkups/due", "/contracts"] {
            let res = crate::console::http::get(&base, path, &desk).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "the desk opens {path}");
        }

        let (auditor, _) = crate::console::http::sign_in(&base, "auditor", "auditor-password-1").await;
        let due = crate::console::http::get(&base, "/checkups/due", &auditor).await;
        assert_eq!(due.status(), StatusCode::OK);
        let page = due.text().await.unwrap();
        assert!(page.contains(&format!("id=\"due-{mother}\"")), "the mother is due");
        assert!(page.contains("张*兰") && !page.contains("张秀兰"), "names masked for the auditor");
        assert!(!page.contains("/checkups/book"), "the auditor books nothing");
        let res = crate::console::http::get(&base, "/checkups", &auditor).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "the day list is the clinics' work");

        // The hospital is closed every day: the booking is refused with 422 and the reason.
        let (clinic, csrf) = crate::console::http::sign_in(&base, "clinic", "clinic-password-1").await;
        let res = post(&base, "/checkups/book", &clinic, &[
            ("csrf", csrf.as_str()), ("member_id", &mother.to_string()), ("on", &soon().to_string()),
        ]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains("不安排免费查体"), "the refusal is on the page");
        // The person at the counter found by whole name and the ID number's last four — both.
        let her_id = couple(8)["members"][0]["id_number"].as_str().unwrap().to_owned();
        let last_four = &her_id[her_id.len() - 4..];
        let find = |name: &str, four: &str| {
            let (base, clinic, csrf) = (base.clone(), clinic.clone(), csrf.clone());
            let (name, four) = (name.to_owned(), four.to_owned());
            async move {
                let res = post(&base, "/checkups/find", &clinic, &[
                    ("csrf", csrf.as_str()), ("name", &name), ("id_last_four", &four),
                ]).await;
                (res.status(), res.text().await.unwrap())
            }
        };
        let (status, page) = find("张秀兰", last_four).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&format!("id=\"match-{mother}\"")), "found by name and last four");
        let other_four = if last_four == "0000" { "1111" } else { "0000" };
        let (status, page) = find("张秀兰", other_four).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"no-match\"") && !page.contains("id=\"match-"), "a wrong last four finds no one");
        let (status, page) = find("张秀", last_four).await;
        assert!(status == StatusCode::OK && page.contains("id=\"no-match\""), "part of a name finds no one");
        let (status, page) = find("张秀兰", "12a4").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("身份证号后四位应为4位数字") && !page.contains("id=\"matches\""), "the bad field is named");
        // A health centre of another township does not find this township's member.
        let (_, other) = health_centre(&app, "城北街道社区卫生服务中心", "370306002").await;
        set_password(&app, &format!("clinic-{other}"), "centre-password-2", false).await;
        let (centre, centre_csrf) =
            crate::console::http::sign_in(&base, &format!("clinic-{other}"), "centre-password-2").await;
        let res = post(&base, "/contracts/find", &centre, &[
            ("csrf", centre_csrf.as_str()), ("name", "张秀兰"), ("id_last_four", last_four),
        ]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = res.text().await.unwrap();
        assert!(page.contains("id=\"no-match\"") && !page.contains("张秀兰"), "another township's centre finds nothing");

        // Without the form's token nothing is booked.
        let res = post(&base, "/checkups/book", &clinic, &[
            ("member_id", mother.to_string().as_str()), ("on", &soon().to_string()),
        ]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let n = app.get(&format!("/api/v1/checkups?facility_id={}&on={}", app.facility_id, soon()), &app.office).await;
        assert_eq!(n.body, json!([]));

        // The office picks the facility; one that does no checkups is refused by name.
        let (office, _) = crate::console::http::sign_in(&base, "office", "office-password-1").await;
        let day = crate::console::http::get(&base, &format!("/checkups?facility_id={}", app.facility_id), &office).await;
        assert_eq!(day.status(), StatusCode::OK);
        assert!(day.text().await.unwrap().contains("id=\"day-list\""));
    }
}
