//! The office's reads of the verification audit log.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;

use super::extract::{Json, Policy, Query, Staff};
use super::AppState;
use crate::auth::StaffRole;
use crate::db::audit::{self, CheckReport, CopyAlert, DayCount, Verification};
use crate::error::{AppError, Result};

/// The office and auditors.
pub struct AuditReaders;
impl Policy for AuditReaders {
    const ROLES: &'static [StaffRole] = &[StaffRole::Office, StaffRole::Auditor];
    const WHAT: &'static str = "the audit log";
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit/verifications", get(list))
        .route("/audit/per-day", get(per_day))
        .route("/audit/copy-alerts", get(copy_alerts))
        .route("/audit/check", get(check))
        .route(
            "/audit/checkpoints",
            get(export_checkpoints).post(make_checkpoint),
        )
}

/// Every signed checkpoint with the audit key's public half: keep a copy outside the service,
/// and `greenchannel audit check --checkpoint FILE` proves the log still extends it.
async fn export_checkpoints(
    _: Staff<AuditReaders>,
    State(s): State<AppState>,
) -> Result<Json<crate::audit::CheckpointFile>> {
    let key = s.audit_key.as_deref().ok_or(AppError::Unavailable)?;
    Ok(Json(crate::service::audit::export(&s.db, key).await?))
}

/// Signs the chains' heads now (also done every ten minutes); answers the new checkpoints.
async fn make_checkpoint(
    _: Staff<super::extract::OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Json<Vec<crate::audit::Checkpoint>>> {
    let key = s.audit_key.as_deref().ok_or(AppError::Unavailable)?;
    Ok(Json(crate::service::audit::checkpoint(&s.db, key).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    serial: Option<String>,
    facility_id: Option<i64>,
    day: Option<NaiveDate>,
    limit: Option<i64>,
}

async fn list(
    _: Staff<AuditReaders>,
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Verification>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(AppError::bad_request(
            "bad_query",
            "limit must be 1 to 10000",
        ));
    }
    let day = q.day.map(|d| d.to_string());
    Ok(Json(
        audit::list(
            &s.db,
            q.serial.as_deref(),
            q.facility_id,
            day.as_deref(),
            limit,
        )
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: NaiveDate,
    to: NaiveDate,
}

async fn per_day(
    _: Staff<AuditReaders>,
    State(s): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Vec<DayCount>>> {
    Ok(Json(
        audit::per_day(&s.db, &q.from.to_string(), &q.to.to_string()).await?,
    ))
}

async fn copy_alerts(
    _: Staff<AuditReaders>,
    State(s): State<AppState>,
) -> Result<Json<Vec<CopyAlert>>> {
    Ok(Json(audit::copy_alerts(&s.db).await?))
}

async fn check(_: Staff<AuditReaders>, State(s): State<AppState>) -> Result<Json<CheckReport>> {
    Ok(Json(audit::check(&s.db).await?))
}
