//! The OpenAPI description of the API, kept beside the code and checked against the router by a test.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::AppState;

/// The OpenAPI 3.1 document.
pub const SPEC: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(spec))
}

async fn spec() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SPEC)
}
