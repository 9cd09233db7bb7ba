//! CSV import and export of household files.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::extract::{Json, Query, RegisterRead, RegisterWrite, Staff};
use super::AppState;
use crate::auth::StaffRole;
use crate::db::households;
use crate::db::import::{export_csv, import_households, known_places};
use crate::error::{AppError, Result};
use crate::register::csv_io::Encoding;
use crate::register::FieldError;
use crate::time::today;

/// The largest spreadsheet accepted: far above a district's register (10,000 rows is ~3 MB).
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/households/import",
            post(import).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/households/export.csv", get(export))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
    encoding: Option<String>,
}

async fn import(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Query(q): Query<ImportQuery>,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("bad_body", e.body_text())
        }
    })?;
    let encoding: Encoding = q
        .encoding
        .as_deref()
        .unwrap_or("auto")
        .parse()
        .map_err(|e: String| AppError::bad_request("bad_query", e))?;
    // Township staff may import only their own township's files.
    let scope = match caller.role {
        StaffRole::Township => caller.township_id.as_deref(),
        _ => None,
    };
    let report = import_households(
        &s.db,
        &body,
        encoding,
        q.dry_run,
        scope,
        Some(caller.account_id),
        "HTTP upload",
        today(),
    )
    .await?;
    if !report.errors.is_empty() {
        let errors = report
            .errors
            .iter()
            .map(|e| FieldError {
                field: format!("line {} {}", e.line, e.field),
                reason: e.reason.clone(),
            })
            .collect();
        return Err(AppError::Validation(errors));
    }
    let status = if report.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(report)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    township: Option<String>,
}

async fn export(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> Result<Response> {
    let township = match caller.role {
        StaffRole::Township => caller.township_id.clone(),
        _ => q.township,
    };
    let records = households::all_records(&s.db, township.as_deref()).await?;
    let places = known_places(&s.db).await?;
    let body = export_csv(&records, &places, caller.sees_personal_data())?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"households.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
