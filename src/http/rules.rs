//! Entitlements: evaluation of a posted or registered household, rule documents, what changed
//! between two dates, and disbursement lists.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::extract::{Json, OfficeOnly, Path, Query, RegisterRead, Staff};
use super::AppState;
use crate::auth::StaffRole;
use crate::db::disbursement::{self, Disbursement};
use crate::db::{households, rules as rule_docs};
use crate::error::{AppError, Result};
use crate::rules::{diff, evaluate, parse_household, Change, EvalError, Evaluation, Window};
use crate::time::today;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rules", get(list_rules).post(load_rules))
        .route("/rules/eval", post(eval_posted))
        .route("/rules/changes", get(changes))
        .route("/households/{id}/entitlements", get(entitlements))
        .route("/disbursements", post(generate).get(lists))
        .route("/disbursements/{id}", get(read_list))
        .route("/disbursements/{id}/approve", post(approve))
        .route("/disbursements/{id}/csv", get(read_csv))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnQuery {
    /// The date to evaluate on; today (Asia/Shanghai) when absent.
    on: Option<NaiveDate>,
}

fn no_rule_set(e: impl std::fmt::Display) -> AppError {
    AppError::bad_request("no_rule_set", e.to_string())
}

/// `POST /rules/eval?on=DATE` with a household as `rules eval` reads it.
async fn eval_posted(
    _: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<OnQuery>,
    body: Bytes,
) -> Result<Json<Evaluation>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::bad_request("malformed_json", "the body is not UTF-8"))?;
    let household = parse_household(text).map_err(|e| match e {
        EvalError::Household { .. } => AppError::bad_request("invalid_body", e.to_string()),
        EvalError::NoRuleSet(e) => no_rule_set(e),
    })?;
    let book = s.rule_book().await?;
    let ev = evaluate(&book, &household, q.on.unwrap_or_else(today)).map_err(no_rule_set)?;
    Ok(Json(ev))
}

/// A registered household's entitlements on a date.
async fn entitlements(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<OnQuery>,
) -> Result<Json<Evaluation>> {
    let record = households::get(&s.db, id).await?;
    if !caller.may_read_township(&record.township_id) {
        return Err(AppError::NotFound("household"));
    }
    let book = s.rule_book().await?;
    Ok(Json(
        evaluate(&book, &record.facts(), q.on.unwrap_or_else(today)).map_err(no_rule_set)?,
    ))
}

#[derive(Serialize)]
struct RulesView {
    windows: Vec<Window>,
    documents: Vec<rule_docs::RuleDocument>,
}

async fn list_rules(_: Staff<RegisterRead>, State(s): State<AppState>) -> Result<Json<RulesView>> {
    let book = s.rule_book().await?;
    Ok(Json(RulesView {
        windows: book.windows(),
        documents: rule_docs::documents(&s.db).await?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadQuery {
    /// A label for the document, e.g. its file name.
    name: String,
}

/// Loads a successor rule set or a continuation (TOML body); refused with the loader's message
/// (naming the field, or the rule set it would overlap) without storing anything.
async fn load_rules(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Query(q): Query<LoadQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<rule_docs::RuleDocument>)> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::bad_request("bad_rule_set", "the rule set is not UTF-8"))?;
    let doc = crate::service::rules::load(&s.db, &q.name, text, Some(caller.account_id)).await?;
    s.rules_changed();
    Ok((StatusCode::CREATED, Json(doc)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Serialize)]
struct HouseholdChanges {
    household_id: i64,
    township_id: String,
    changes: Vec<Change>,
}

/// Which households gain or lose which entitlement between two dates (e.g. across the end of
/// one rule set and the start of its successor).
async fn changes(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<Vec<HouseholdChanges>>> {
    let book = s.rule_book().await?;
    let township = (caller.role == StaffRole::Township)
        .then(|| caller.township_id.clone())
        .flatten();
    let mut out = Vec::new();
    for h in households::all_records(&s.db, township.as_deref()).await? {
        let facts = h.facts();
        let a = evaluate(&book, &facts, q.from).map_err(no_rule_set)?;
        let b = evaluate(&book, &facts, q.to).map_err(no_rule_set)?;
        let changes = diff(&a, &b);
        if !changes.is_empty() {
            out.push(HouseholdChanges {
                household_id: h.household_id,
                township_id: h.township_id,
                changes,
            });
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateBody {
    /// The month, `YYYY-MM`.
    period: String,
}

async fn generate(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Json(body): Json<GenerateBody>,
) -> Result<(StatusCode, Json<Disbursement>)> {
    let book = s.rule_book().await?;
    let list =
        disbursement::generate(&s.db, book.clone(), &body.period, Some(caller.account_id)).await?;
    Ok((StatusCode::CREATED, Json(list)))
}

/// Every disbursement list, without rows.
async fn lists(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Json<Vec<disbursement::Header>>> {
    Ok(Json(disbursement::list(&s.db).await?))
}

async fn read_list(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Disbursement>> {
    Ok(Json(disbursement::get(&s.db, id).await?))
}

async fn approve(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Disbursement>> {
    Ok(Json(
        disbursement::approve(&s.db, id, Some(caller.account_id)).await?,
    ))
}

async fn read_csv(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    list_csv(&s, id).await
}

/// A disbursement list as a CSV download (for the API and the console).
pub(crate) async fn list_csv(s: &AppState, id: i64) -> Result<Response> {
    let list = disbursement::get(&s.db, id).await?;
    let body = disbursement::to_csv(&list)?;
    let name = format!("attachment; filename=\"disbursement-{}.csv\"", list.period);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response())
}
