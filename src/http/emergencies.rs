//! Emergencies (二(二)): a township reports one, the office sees it in the open list at once,
//! every step is kept, and it is closed once with what was done. Handlers read the request and
//! call [`crate::service::emergencies`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use super::extract::{Json, Path, Query, RegisterRead, RegisterWrite, Staff};
use super::AppState;
use crate::db::emergencies::EmergencyRow;
use crate::error::{AppError, Result};
use crate::service::emergencies::{self, Emergency, EmergencyKind, EmergencyState, Report, Step};

/// Reporting, listing, steps and the close.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households/{id}/emergencies", post(report))
        .route("/emergencies", get(list_emergencies))
        .route("/emergencies/{id}", get(get_emergency))
        .route("/emergencies/{id}/steps", post(add_step))
        .route("/emergencies/{id}/close", post(close))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    kind: EmergencyKind,
    happened_at: String,
    what: String,
    #[serde(default)]
    needs: Option<String>,
}

async fn report(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<ReportBody>,
) -> Result<(StatusCode, Json<Emergency>)> {
    let r = Report {
        kind: b.kind,
        happened_at: b.happened_at,
        what: b.what,
        needs: b.needs,
    };
    let e = emergencies::report(&s.db, &caller, id, &r, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateQuery {
    #[serde(default)]
    state: Option<String>,
}

async fn list_emergencies(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<StateQuery>,
) -> Result<Json<Vec<EmergencyRow>>> {
    let state = match q.state.as_deref() {
        None | Some("all") => None,
        Some(v) => Some(
            v.parse::<EmergencyState>()
                .map_err(|e| AppError::field("state", format!("{e}, all")))?,
        ),
    };
    Ok(Json(emergencies::list(&s.db, &caller, state).await?))
}

async fn get_emergency(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Emergency>> {
    Ok(Json(emergencies::get(&s.db, &caller, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    note: String,
}

async fn add_step(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<StepBody>,
) -> Result<(StatusCode, Json<Emergency>)> {
    let e = emergencies::step(&s.db, &caller, id, Step::Action, &b.note).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    outcome: String,
}

async fn close(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<CloseBody>,
) -> Result<Json<Emergency>> {
    Ok(Json(
        emergencies::step(&s.db, &caller, id, Step::Close, &b.outcome).await?,
    ))
}
