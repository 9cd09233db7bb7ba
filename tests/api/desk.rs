//! The desk page in a real headless Chromium, driven over WebDriver (see
//! [`crate::browser`]) the way a desk uses it: a USB scanner types the QR text and presses Enter.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use fantoccini::Locator;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::browser::Browser;
use crate::helpers::{bereaved_household, continue_rules_to_today, TestApp};

/// Where the page keeps the desk's token (see `src/http/desk/app.js`).
const TOKEN_KEY: &str = "greenchannel.desk.token";
const SIX: [&str; 6] = [
    "优先挂号",
    "优先就医",
    "优先交费",
    "优先检查",
    "优先取药",
    "优先住院",
];
/// The longest the page may take to show an answer; generous for a loaded 2-core CI machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

// What the test waits for, as script bodies run in the page.
const TOKEN_ASKED: &str =
    "return document.activeElement !== null && document.activeElement.id === 'token';";
const RELOADED_AND_READY: &str = "return !window.beforeReload && document.activeElement !== null \
    && document.activeElement.id === 'scan';";
const READY_AGAIN: &str =
    "return document.activeElement !== null && document.activeElement.id === 'scan' \
    && document.getElementById('scan').value === '';";
const FLASH_OVER: &str = "return document.getAnimations().length === 0;";

/// Whether the first line of "本窗口最近核验" has this verdict.
fn newest_recent_is(verdict: &str) -> String {
    format!(
        "var li = document.querySelector('#recent-list li'); \
         return li !== null && li.getAttribute('data-verdict') === '{verdict}';"
    )
}

/// Types the text and Enter into the focused scanner input as a USB scanner does, then waits for
/// an answer other than `previous`: the result panel's verdict, class and text.
async fn scan(b: &Browser, text: &str, previous: &str) -> Value {
    b.c()
        .find(Locator::Css("#scan"))
        .await
        .expect("the scanner input")
        .send_keys(&format!("{text}\u{E007}"))
        .await
        .expect("typing into the scanner input");
    let previous = serde_json::to_string(previous).expect("JSON");
    let probe = format!(
        "var r = document.getElementById('result'); var v = r.getAttribute('data-verdict'); \
         if (!v || v === 'pending' || v === {previous}) return null; \
         return {{verdict: v, class: r.className, text: r.innerText}};"
    );
    b.wait_for("the result panel to show an answer", &probe, ANSWER_WITHIN)
        .await
}

both! {
    async fn the_desk_page_shows_a_valid_card_green_and_a_revoked_one_red(app) {
        let (valid_qr, revoked_qr) = two_cards_one_revoked(&app).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = app.router.clone();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let b = Browser::launch().await;

        // First use: the page asks for the token; then it remembers it across a reload.
        b.c().goto(&format!("{base}/desk")).await.expect("the desk page");
        b.wait_for("the token to be asked for", TOKEN_ASKED, ANSWER_WITHIN).await;
        let token = serde_json::to_string(&app.desk).expect("token as JSON");
        b.eval(&format!("localStorage.setItem('{TOKEN_KEY}', {token}); window.beforeReload = true; return true;")).await;
        b.c().refresh().await.expect("reload");
        b.wait_for("the scanner input to be focused", RELOADED_AND_READY, ANSWER_WITHIN).await;

        let green = scan(&b, &valid_qr, "").await;
        assert_eq!(green["verdict"], "valid", "{green}");
        assert!(classes(&green).contains(&"valid"), "{green}");
        let text = green["text"].as_str().unwrap_or_default();
        for word in SIX.iter().chain(&["有效", "张*兰"]) {
            assert!(text.contains(word), "the green panel lacks {word}: {text}");
        }
        b.wait_for("the input to be empty and focused again", READY_AGAIN, ANSWER_WITHIN).await;
        b.wait_for("the scan in the recent list", &newest_recent_is("valid"), ANSWER_WITHIN).await;
        b.wait_for("the result's flash to end", FLASH_OVER, ANSWER_WITHIN).await;
        b.screenshot("desk", app.backend, "valid").await;

        let red = scan(&b, &revoked_qr, "valid").await;
        assert_eq!(red["verdict"], "revoked", "{red}");
        assert!(classes(&red).contains(&"invalid"), "{red}");
        let reason = red["text"].as_str().unwrap_or_default();
        assert!(reason.contains("作废"), "the reason in words: {red}");
        b.wait_for("the revoked scan in the recent list", &newest_recent_is("revoked"), ANSWER_WITHIN).await;

        let errors = b.errors().await;
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        b.close().await;
        server.abort();
    }
}

both! {
    async fn the_page_and_its_assets_are_served_with_a_strict_policy(app) {
        let assets = [
            ("/desk", "text/html"),
            ("/desk/app.js", "text/javascript"),
            ("/desk/style.css", "text/css"),
        ];
        for (path, kind) in assets {
            let req = Request::get(path).body(Body::empty()).expect("request");
            let res = app.router.clone().oneshot(req).await.expect("infallible");
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let get = |name: header::HeaderName| {
                let value = res.headers().get(name).and_then(|v| v.to_str().ok());
                value.unwrap_or_default().to_owned()
            };
            assert_eq!(get(header::CONTENT_TYPE), format!("{kind}; charset=utf-8"), "{path}");
            assert_eq!(get(header::CACHE_CONTROL), "no-cache", "{path}");
            let csp = get(header::CONTENT_SECURITY_POLICY);
            assert!(csp.starts_with("default-src 'self';"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-"), "no inline script or eval: {csp}");
        }
    }
}

/// The mother's card (valid) and the father's (revoked), as their QR texts.
async fn two_cards_one_revoked(app: &TestApp) -> (String, String) {
    continue_rules_to_today(app).await;
    let household = app.create_household(&bereaved_household()).await;
    let mut qr = Vec::new();
    for member in &household["members"].as_array().expect("members")[..2] {
        let id = member["member_id"].as_i64().expect("member id");
        let path = format!("/api/v1/members/{id}/cards");
        let res = app.post(&path, &app.office, &json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        qr.push((res.body["qr_text"].clone(), res.body["serial"].clone()));
    }
    let serial = qr[1].1.as_str().expect("serial");
    let path = format!("/api/v1/cards/{serial}/revoke");
    let res = app
        .post(&path, &app.office, &json!({"reason": "error"}))
        .await;
    assert_eq!(res.body["state"], "revoked", "{}", res.body);
    let text = |v: &Value| v.as_str().expect("qr_text").to_owned();
    (text(&qr[0].0), text(&qr[1].0))
}

fn classes(result: &Value) -> Vec<&str> {
    result["class"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}
