//! The registration desk's page at `/desk`: a scanner-ready input, a large green or red result
//! and the desk's last scans. Everything is embedded in the binary, so a desk PC needs nothing
//! but this service. The page is public because it holds no data: its calls to
//! `/api/v1/verify` carry the desk's bearer token, which the page keeps in `localStorage`.

use axum::http::header::{self, HeaderName};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;

use super::AppState;

const PAGE: &str = include_str!("desk/index.html");
const SCRIPT: &str = include_str!("desk/app.js");
const STYLE: &str = include_str!("desk/style.css");

/// Only our own script, style and API; no inline script, so injected markup cannot run.
/// `media-src` admits the camera stream; `form-action 'none'` because the page posts with fetch.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The page and its two assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/desk",
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route("/desk/", get(|| async { Redirect::permanent("/desk") }))
        .route(
            "/desk/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/desk/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

/// `no-cache` lets a desk PC keep a copy but revalidate it, so an upgrade reaches every desk
/// on its next load.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                HeaderName::from_static("permissions-policy"),
                "camera=(self), microphone=(), geolocation=()",
            ),
        ],
        body,
    )
}
