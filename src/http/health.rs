//! Liveness and readiness.

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::error::{AppError, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up. Touches nothing, so it doubles as the load benchmark's baseline.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers, and the desk's pipeline (its audit
/// log) is running.
async fn readyz(State(state): State<AppState>) -> Result<&'static str> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "database not ready");
        AppError::Unavailable
    })?;
    if state.verifier.as_ref().is_some_and(|v| !v.is_running()) {
        tracing::error!("not ready: the desk's audit log has stopped");
        return Err(AppError::Unavailable);
    }
    Ok("ready")
}
