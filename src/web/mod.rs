//! The console: server-rendered pages for the district office, the townships and the clinics, beside the JSON
//! API. Templates are compiled into the binary (askama), and so are the two assets; every page
//! carries a CSP without inline script. Signed-in users are recognised by a session cookie
//! ([`session`]); every form post carries the session's CSRF token.

mod accounts;
mod audit;
mod cards;
mod clinic;
mod contacts;
mod disbursement;
mod edit;
mod emergencies;
mod facilities;
mod festivals;
mod households;
mod import;
mod page;
mod rules;
pub mod session;
mod sign_in;

use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::http::AppState;

pub use page::PageError;

/// Only our own script and style; forms post only to us; no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

const STYLE: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

/// The console's routes, each page behind [`security_headers`].
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(households::router())
        .merge(cards::router())
        .merge(edit::router())
        .merge(import::router())
        .merge(disbursement::router())
        .merge(accounts::router())
        .merge(audit::router())
        .merge(rules::router())
        .merge(facilities::router())
        .merge(clinic::router())
        .merge(contacts::router())
        .merge(emergencies::router())
        .merge(festivals::router())
        .route(
            "/assets/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .layer(axum::middleware::from_fn(security_headers))
}

/// A vendored asset; `no-cache` so an upgrade reaches every PC at its next page load.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The headers every console response carries. Pages hold personal data, so no browser or
/// proxy may keep a copy (`no-store`), and none may be framed or sniffed.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
