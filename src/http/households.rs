//! Household files: list, read (also as of a past date), create, change, history.

use crate::register::text::Reason;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;

use super::extract::{Json, Path, Query, RegisterRead, RegisterWrite, Staff};
use super::AppState;
use crate::auth::{Caller, StaffRole};
use crate::db::households::{self, ChangeEntry, HouseholdRecord, HouseholdSummary};
use crate::error::{AppError, Result};
use crate::register::HouseholdInput;
use crate::service::register;
use crate::time::{end_of_day, today};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households", get(list).post(create))
        .route("/households/{id}", get(read).put(update))
        .route("/households/{id}/history", get(history))
        .route("/households/{id}/facts", post(record_fact))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    township: Option<String>,
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

async fn list(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<HouseholdSummary>>> {
    // Township staff see their own township whatever they ask for.
    let township = match caller.role {
        StaffRole::Township => caller.township_id.clone(),
        _ => q.township,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::bad_request(
            "bad_query",
            "limit must be 1 to 1000",
        ));
    }
    Ok(Json(
        households::list(&s.db, township.as_deref(), q.after, limit).await?,
    ))
}

/// Outside the caller's scope a file does not exist.
fn in_scope(caller: &Caller, record: &HouseholdRecord) -> Result<()> {
    if caller.may_read_township(&record.township_id) {
        Ok(())
    } else {
        Err(AppError::NotFound("household"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    /// A district calendar date: the file as it stood at the end of that day.
    as_of: Option<NaiveDate>,
}

async fn read(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ReadQuery>,
) -> Result<Json<HouseholdRecord>> {
    let current = households::get(&s.db, id).await?;
    // Scope is judged on the file as it is now, so a move between townships cannot hide it.
    in_scope(&caller, &current)?;
    let record = match q.as_of {
        None => current,
        Some(date) => households::as_of(&s.db, id, end_of_day(date))
            .await?
            .ok_or(AppError::NotFound("household on that date"))?,
    };
    Ok(Json(if caller.sees_personal_data() {
        record
    } else {
        record.masked()
    }))
}

async fn create(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Json(input): Json<HouseholdInput>,
) -> Result<(StatusCode, Json<HouseholdRecord>)> {
    if !caller.may_write_township(input.township_id.trim()) {
        return Err(AppError::Forbidden(
            "township staff may only add files of their own township".into(),
        ));
    }
    let record = households::create(
        &s.db,
        &input,
        Some(caller.account_id),
        "新建档案 / file created",
        today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    /// The version being changed; a stale one is refused with 409.
    version: i32,
    /// Why the file changes (kept in its history).
    reason: Reason,
    household: HouseholdInput,
}

/// That one of the facts the rules read changed on a day: a new version of the file.
async fn record_fact(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(change): Json<crate::service::facts::FactChange>,
) -> Result<Json<HouseholdRecord>> {
    let book = s.rule_book().await?;
    Ok(Json(
        crate::service::facts::record(&s.db, &book, &caller, id, change, today()).await?,
    ))
}

async fn update(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<UpdateBody>,
) -> Result<Json<HouseholdRecord>> {
    let current = households::get(&s.db, id).await?;
    if !caller.may_write_township(&current.township_id) {
        return Err(AppError::NotFound("household"));
    }
    if !caller.may_write_township(body.household.township_id.trim()) {
        return Err(AppError::Forbidden(
            "township staff cannot move a file to another township".into(),
        ));
    }
    // The file and the cards it suspends (members no longer entitled) land together.
    let book = s.rule_book().await?;
    let change = register::Change {
        household_id: id,
        expected_version: body.version,
        input: &body.household,
        account_id: Some(caller.account_id),
        reason: &body.reason,
    };
    let record = register::change_household(&s.db, &book, change, today())
        .await?
        .record;
    Ok(Json(record))
}

async fn history(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ChangeEntry>>> {
    let current = households::get(&s.db, id).await?;
    in_scope(&caller, &current)?;
    Ok(Json(households::history(&s.db, id).await?))
}
