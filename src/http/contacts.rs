//! Townships' API for the contact person's work (二(二)): the log of a household's contacts, a
//! month's sheet of those due, contacted or overdue, festival visits and their checklists, and
//! emergencies reported, acted on and closed. Handlers read the request, call
//! [`crate::service::contacts`], [`crate::service::festivals`] and
//! [`crate::service::emergencies`], and mask names for the auditor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{Json, OfficeOnly, Path, Query, RegisterRead, RegisterWrite, Staff};
use super::AppState;
use crate::db::contacts::ContactRow;
use crate::db::emergencies::EmergencyRow;
use crate::db::festivals::{FestivalRow, VisitRow};
use crate::error::{AppError, Result};
use crate::register::mask::shown_name;
use crate::service::contacts::{self, Contact, ContactHow, Month, SheetRow, TownshipMonth};
use crate::service::emergencies::{self, Emergency, EmergencyKind, EmergencyState, Report, Step};
use crate::service::festivals::{self, Checklist, Festival, Visit};
use crate::time::today;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households/{id}/contacts", get(list).post(add))
        .route("/contacts/sheet", get(sheet))
        .route("/contacts/overdue", get(overdue))
        .route("/households/{id}/emergencies", post(report))
        .route("/emergencies", get(list_emergencies))
        .route("/emergencies/{id}", get(get_emergency))
        .route("/emergencies/{id}/steps", post(add_step))
        .route("/emergencies/{id}/close", post(close))
        .route("/festivals", get(list_festivals).post(configure_festival))
        .route("/festivals/{id}/not-visited", get(not_visited))
        .route("/households/{id}/visits", post(visit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactBody {
    at: String,
    how: ContactHow,
    made_by: String,
    #[serde(default)]
    raised: Option<String>,
    #[serde(default)]
    needs: Option<String>,
    #[serde(default)]
    follow_up: Option<String>,
    #[serde(default)]
    closes_contact_id: Option<i64>,
}

async fn add(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<ContactBody>,
) -> Result<(StatusCode, Json<ContactRow>)> {
    let c = Contact {
        at: b.at,
        how: b.how,
        made_by: b.made_by,
        raised: b.raised,
        needs: b.needs,
        follow_up: b.follow_up,
        closes_contact_id: b.closes_contact_id,
    };
    let row = contacts::log(&s.db, &caller, id, &c, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

async fn list(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ContactRow>>> {
    Ok(Json(contacts::of_household(&s.db, &caller, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    township: Option<String>,
}

#[derive(Serialize)]
struct SheetView {
    month: Month,
    ended: bool,
    judged_on: NaiveDate,
    households: Vec<SheetRow>,
    townships: Vec<TownshipMonth>,
}

/// The month asked for (`YYYY-MM`), or the one under way.
fn month_of(q: &MonthQuery) -> Result<Month> {
    match q.month.as_deref() {
        None => Ok(Month::of(today())),
        Some(m) => Month::parse(m).map_err(|e| AppError::field("month", e)),
    }
}

async fn sheet_view(
    caller: &crate::auth::Caller,
    s: &AppState,
    q: &MonthQuery,
    only_not_contacted: bool,
) -> Result<SheetView> {
    let month = month_of(q)?;
    let book = s.rule_book().await?;
    let sheet = contacts::sheet(&s.db, book, caller, month, q.township.as_deref(), today()).await?;
    let households = sheet
        .households
        .into_iter()
        .filter(|h| !(only_not_contacted && h.contacted))
        .map(|mut h| {
            h.name = shown_name(caller, &h.name);
            h.contact_person = h.contact_person.map(|c| shown_name(caller, &c));
            h
        })
        .collect();
    Ok(SheetView {
        month: sheet.month,
        ended: sheet.ended,
        judged_on: sheet.judged_on,
        households,
        townships: sheet.townships,
    })
}

/// Every household due in the month, with whether it was reached.
async fn sheet(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<MonthQuery>,
) -> Result<Json<SheetView>> {
    Ok(Json(sheet_view(&caller, &s, &q, false).await?))
}

/// The households due in the month and not reached: overdue once the month has ended.
async fn overdue(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<MonthQuery>,
) -> Result<Json<SheetView>> {
    Ok(Json(sheet_view(&caller, &s, &q, true).await?))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearQuery {
    #[serde(default)]
    year: Option<i32>,
}

async fn list_festivals(
    _caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<YearQuery>,
) -> Result<Json<Vec<FestivalRow>>> {
    Ok(Json(festivals::list(&s.db, q.year).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FestivalBody {
    name: String,
    on: NaiveDate,
    #[serde(default)]
    visits_from: Option<NaiveDate>,
    #[serde(default)]
    visits_until: Option<NaiveDate>,
}

async fn configure_festival(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Json(b): Json<FestivalBody>,
) -> Result<(StatusCode, Json<FestivalRow>)> {
    let f = Festival {
        name: b.name,
        on: b.on,
        visits_from: b.visits_from,
        visits_until: b.visits_until,
    };
    Ok((
        StatusCode::CREATED,
        Json(festivals::configure(&s.db, &caller, &f).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitBody {
    festival_id: i64,
    on: NaiveDate,
    made_by: String,
    #[serde(default)]
    note: Option<String>,
}

async fn visit(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<VisitBody>,
) -> Result<(StatusCode, Json<VisitRow>)> {
    let v = Visit {
        festival_id: b.festival_id,
        on: b.on,
        made_by: b.made_by,
        note: b.note,
    };
    Ok((
        StatusCode::CREATED,
        Json(festivals::visit(&s.db, &caller, id, &v, Utc::now()).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TownshipQuery {
    #[serde(default)]
    township: Option<String>,
}

async fn not_visited(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<TownshipQuery>,
) -> Result<Json<Checklist>> {
    let book = s.rule_book().await?;
    let mut list = festivals::checklist(&s.db, book, &caller, id, q.township.as_deref()).await?;
    for h in &mut list.households {
        h.name = shown_name(&caller, &h.name);
    }
    Ok(Json(list))
}
