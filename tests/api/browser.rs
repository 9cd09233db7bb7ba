//! A real headless Chromium for the page tests, driven over WebDriver: fantoccini and Debian's
//! chromedriver (packages chromium and chromium-driver; `scripts/test` installs them).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::Backend;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, with a throw-away Chromium profile; both killed when dropped.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a session; every page the session opens records its script
    /// errors and CSP violations (see [`Browser::errors`]).
    pub async fn launch() -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing (apt-get install chromium chromium-driver; scripts/test installs them)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                // Without the background-networking flags Chromium keeps trying this machine's
                // closed network.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-quic", "--window-size=1366,768", "--lang=zh-CN",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        // chromedriver listens within a moment of starting; ask until it answers.
        for _ in 0..100 {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let browser = Browser {
                        client: Some(client),
                        driver,
                        _profile: profile,
                    };
                    browser.record_errors().await;
                    return browser;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer: {last:?}");
    }

    /// The WebDriver client.
    pub fn c(&self) -> &Client {
        self.client.as_ref().expect("open")
    }

    /// Types `text` into the field `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self
            .c()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        self.c()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks `css`, a link or a form's button, and waits for the page it loads: a click does not
    /// always wait for the navigation it starts, and the next page may hold an element of the
    /// same name as this one. `confirm`: the form asks first, and the test accepts.
    pub async fn follow(&self, css: &str, confirm: bool) {
        self.eval("window.__leaving = true; return true;").await;
        self.click(css).await;
        if confirm {
            self.c().accept_alert().await.unwrap();
        }
        self.wait_for(
            &format!("the page after {css}"),
            "return window.__leaving === undefined && document.readyState === 'complete';",
            Duration::from_secs(20),
        )
        .await;
    }

    /// The text of the element `css`, waiting for it to appear.
    pub async fn text(&self, css: &str) -> String {
        self.c()
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    /// Saves a PNG of the page under `target/<folder>/<page>-<backend>.png`.
    pub async fn screenshot(&self, folder: &str, backend: Backend, page: &str) {
        let png = self.c().screenshot().await.unwrap();
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
            .join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{page}-{backend:?}.png").to_lowercase()),
            png,
        )
        .unwrap();
    }

    /// Ends the session (the guard then stops chromedriver).
    pub async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A chromedriver command outside the W3C set: a DevTools call through chromedriver
/// (`goog/cdp/execute`), for what WebDriver cannot do (a script run before the page's own).
#[derive(Debug)]
struct Cdp {
    method: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({"cmd": self.method, "params": self.params});
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Runs in every page before its scripts: keeps script errors and CSP violations in
/// `window.__errors`, for [`Browser::errors`].
const RECORD_ERRORS: &str = "window.__errors = []; \
    window.addEventListener('error', function (e) { window.__errors.push('error: ' + e.message); }); \
    window.addEventListener('unhandledrejection', function (e) { window.__errors.push('rejection: ' + e.reason); }); \
    document.addEventListener('securitypolicyviolation', function (e) { \
      window.__errors.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI); });";

impl Browser {
    async fn record_errors(&self) {
        let cmd = Cdp {
            method: "Page.addScriptToEvaluateOnNewDocument",
            params: json!({"source": RECORD_ERRORS}),
        };
        self.c()
            .issue_cmd(cmd)
            .await
            .expect("chromedriver runs DevTools commands");
    }

    /// Script errors and CSP violations the current page has had.
    pub async fn errors(&self) -> Vec<String> {
        let v = self
            .eval("return window.__errors || ['the error recorder did not run'];")
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Runs `script` (a function body: `return …`) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.c()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("evaluating {script}: {e}"))
    }

    /// Polls `script` until it returns something truthy, and returns that; fails after
    /// `within`, showing what the page said.
    pub async fn wait_for(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = Value::Null;
        while tokio::time::Instant::now() < deadline {
            match self.c().execute(script, vec![]).await {
                Ok(v) if !matches!(v, Value::Null | Value::Bool(false)) => return v,
                Ok(v) => last = v,
                Err(e) => last = Value::String(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = self
            .c()
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .unwrap_or_default();
        panic!("waited {within:?} for {what}; last: {last}\nthe page shows:\n{body}");
    }
}
