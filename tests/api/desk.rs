//! The desk page in a real headless Chromium, driven over the DevTools protocol the way a desk
//! uses it: a USB scanner types the QR text and presses Enter.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower::ServiceExt;

use crate::helpers::{bereaved_household, continue_rules_to_today, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
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

// What the test waits for, as script expressions evaluated in the page.
const TOKEN_ASKED: &str =
    "document.activeElement !== null && document.activeElement.id === 'token'";
const RELOADED_AND_READY: &str = "!window.beforeReload && document.activeElement !== null \
    && document.activeElement.id === 'scan'";
const READY_AGAIN: &str =
    "document.activeElement !== null && document.activeElement.id === 'scan' \
    && document.getElementById('scan').value === ''";
const FLASH_OVER: &str = "document.getAnimations().length === 0";

/// Whether the first line of "本窗口最近核验" has this verdict.
fn newest_recent_is(verdict: &str) -> String {
    format!(
        "(function () {{ var li = document.querySelector('#recent-list li'); \
         return li !== null && li.getAttribute('data-verdict') === '{verdict}'; }})()"
    )
}

both! {
    async fn the_desk_page_shows_a_valid_card_green_and_a_revoked_one_red(app) {
        let (valid_qr, revoked_qr) = two_cards_one_revoked(&app).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = app.router.clone();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let chromium = Chromium::launch().await;
        let mut page = chromium.open_page().await;

        // First use: the page asks for the token; then it remembers it across a reload.
        page.navigate(&format!("{base}/desk")).await;
        page.wait_for("the token to be asked for", TOKEN_ASKED, ANSWER_WITHIN).await;
        let token = serde_json::to_string(&app.desk).expect("token as JSON");
        let remember = format!("localStorage.setItem('{TOKEN_KEY}', {token}); window.beforeReload = true");
        page.eval(&remember).await;
        page.call("Page.reload", json!({"ignoreCache": true})).await;
        page.wait_for("the scanner input to be focused", RELOADED_AND_READY, ANSWER_WITHIN).await;

        let green = page.scan(&valid_qr, "").await;
        assert_eq!(green["verdict"], "valid", "{green}");
        assert!(classes(&green).contains(&"valid"), "{green}");
        let text = green["text"].as_str().unwrap_or_default();
        for word in SIX.iter().chain(&["有效", "张*兰"]) {
            assert!(text.contains(word), "the green panel lacks {word}: {text}");
        }
        page.wait_for("the input to be empty and focused again", READY_AGAIN, ANSWER_WITHIN).await;
        page.wait_for("the scan in the recent list", &newest_recent_is("valid"), ANSWER_WITHIN).await;
        page.wait_for("the result's flash to end", FLASH_OVER, ANSWER_WITHIN).await;
        page.screenshot(&screenshot_path(), app.backend).await;

        let red = page.scan(&revoked_qr, "valid").await;
        assert_eq!(red["verdict"], "revoked", "{red}");
        assert!(classes(&red).contains(&"invalid"), "{red}");
        let reason = red["text"].as_str().unwrap_or_default();
        assert!(reason.contains("作废"), "the reason in words: {red}");
        page.wait_for("the revoked scan in the recent list", &newest_recent_is("revoked"), ANSWER_WITHIN).await;

        let errors = page.errors.lock().map(|e| e.clone()).unwrap_or_default();
        assert!(errors.is_empty(), "a script exception or a CSP violation: {errors:#?}");
        page.close_browser().await;
        drop(chromium);
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

fn screenshot_path() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("desk-valid.png")
}

/// A headless Chromium with a throw-away profile, killed (with its helpers) when dropped, so a
/// failing test leaves no browser behind.
struct Chromium {
    child: Child,
    ws_url: String,
    _profile: tempfile::TempDir,
}

impl Chromium {
    async fn launch() -> Chromium {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the desk page test needs Debian's Chromium \
             (apt-get install chromium; scripts/test installs it)"
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that Drop can end the renderers and the zygote too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let said = Arc::new(Mutex::new(String::new()));
        let log = said.clone();
        // Read on a thread: the test runtime has one thread, which the server needs too. Keep
        // draining after the line so that Chromium never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match line.strip_prefix("DevTools listening on ") {
                    Some(url) => {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(url.trim().to_owned());
                        }
                    }
                    None => {
                        if let Ok(mut log) = log.lock() {
                            if log.len() < 8_000 {
                                log.push_str(&line);
                                log.push('\n');
                            }
                        }
                    }
                }
            }
        });
        let mut chromium = Chromium {
            child,
            ws_url: String::new(),
            _profile: profile,
        };
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(url)) => chromium.ws_url = url,
            outcome => {
                let why = if outcome.is_err() {
                    "did not say"
                } else {
                    "exited before saying"
                };
                let said = said.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("Chromium {why} where DevTools listens (within 30 s); it said:\n{said}");
            }
        }
        chromium
    }

    /// A new tab of 1366×768 (a common office screen), attached over one socket.
    async fn open_page(&self) -> Page {
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(self.ws_url.as_str()),
        )
        .await
        .expect("DevTools socket opens within 10 s")
        .expect("DevTools socket opens");
        let mut page = Page {
            ws,
            next_id: 0,
            session: None,
            errors: Arc::default(),
        };
        let target = page
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = page
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        page.session = attached["sessionId"].as_str().map(str::to_owned);
        let metrics =
            json!({"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false});
        page.call("Emulation.setDeviceMetricsOverride", metrics)
            .await;
        // A headless tab never has the window focus; emulate it, as on a desk PC in front.
        page.call(
            "Emulation.setFocusEmulationEnabled",
            json!({"enabled": true}),
        )
        .await;
        page.call("Runtime.enable", json!({})).await;
        page.call("Log.enable", json!({})).await;
        page
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab, spoken to over the browser's DevTools socket with a flat session.
struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    /// Script exceptions and security (CSP) messages seen so far.
    errors: Arc<Mutex<Vec<Value>>>,
}

impl Page {
    /// Sends a command and waits (at most 20 s) for its answer, noting errors among the events.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            msg["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("send to Chromium");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("Chromium did not answer {method} within 20 s"));
            let text = match next {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("the DevTools socket failed: {e}"),
                None => panic!("the DevTools socket closed"),
            };
            let msg: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if msg["id"] == id {
                return match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg["result"].clone()),
                };
            }
            self.note(&msg);
        }
    }

    fn note(&self, event: &Value) {
        let bad = match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => true,
            Some("Log.entryAdded") => {
                let entry = &event["params"]["entry"];
                entry["level"] == "error"
                    && (entry["source"] == "security" || entry["source"] == "javascript")
            }
            _ => false,
        };
        if bad {
            if let Ok(mut errors) = self.errors.lock() {
                errors.push(event["params"].clone());
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    async fn navigate(&mut self, url: &str) {
        let res = self.call("Page.navigate", json!({"url": url})).await;
        assert!(res.get("errorText").is_none(), "opening {url}: {res}");
    }

    /// The value of a script expression; `Err` while the page is between documents.
    async fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let params = json!({"expression": expression, "returnByValue": true});
        let res = self.try_call("Runtime.evaluate", params).await?;
        match res.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(res["result"]["value"].clone()),
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("evaluating {expression}: {e}"))
    }

    /// Polls until the expression is truthy and returns it; fails after `within`, showing what
    /// the page said.
    async fn wait_for(&mut self, what: &str, expression: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            match self.try_eval(expression).await {
                Ok(v) if !matches!(v, Value::Null | Value::Bool(false)) => return v,
                Ok(v) | Err(v) => last = v,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = self
            .try_eval("document.body ? document.body.innerText : ''")
            .await
            .unwrap_or_default();
        panic!("waited {within:?} for {what}; last: {last}\nthe page shows:\n{body}");
    }

    /// Types the text and presses Enter as a USB scanner does, then waits for an answer other
    /// than `previous` and returns the result panel's verdict, class and text.
    async fn scan(&mut self, text: &str, previous: &str) -> Value {
        self.call("Input.insertText", json!({"text": text})).await;
        for kind in ["keyDown", "keyUp"] {
            let mut key = json!({"type": kind, "key": "Enter", "code": "Enter",
                "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13});
            if kind == "keyDown" {
                key["text"] = json!("\r");
            }
            self.call("Input.dispatchKeyEvent", key).await;
        }
        let previous = serde_json::to_string(previous).expect("JSON");
        let probe = format!(
            "(function () {{ var r = document.getElementById('result'); \
             var v = r.getAttribute('data-verdict'); \
             if (!v || v === 'pending' || v === {previous}) return null; \
             return {{verdict: v, class: r.className, text: r.innerText}}; }})()"
        );
        self.wait_for("the result panel to show an answer", &probe, ANSWER_WITHIN)
            .await
    }

    /// Asks the browser to quit, so that it reaps its own helpers; the guard kills what is left.
    async fn close_browser(mut self) {
        self.next_id += 1;
        let msg = json!({"id": self.next_id, "method": "Browser.close"});
        if self
            .ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .is_ok()
        {
            let closed = async { while let Some(Ok(_)) = self.ws.next().await {} };
            let _ = tokio::time::timeout(Duration::from_secs(5), closed).await;
        }
    }

    /// Saves a PNG of the tab for a person to look at (written whole, then renamed, since
    /// the SQLite and PostgreSQL runs of this test write the same file).
    async fn screenshot(&mut self, path: &Path, backend: crate::helpers::Backend) {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        let partial = path.with_extension(format!("{backend:?}.part"));
        std::fs::create_dir_all(path.parent().expect("target dir")).expect("target dir");
        std::fs::write(&partial, png).expect("write screenshot");
        std::fs::rename(&partial, path).expect("move screenshot");
    }
}
