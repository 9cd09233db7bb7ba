//! Townships' API for the contact person's monthly work (二(二)): the log of a household's
//! contacts and a month's sheet of those due, contacted or overdue. Handlers read the request,
//! call [`crate::service::contacts`] and mask names for the auditor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{Json, Path, Query, RegisterRead, RegisterWrite, Staff};
use super::AppState;
use crate::db::contacts::ContactRow;
use crate::error::{AppError, Result};
use crate::register::mask::shown_name;
use crate::service::contacts::{
    self, Contact, ContactHow, ContactPerson, Month, PersonChange, SheetRow, TownshipMonth,
};
use crate::time::today;

/// The contact log and the month's sheet.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households/{id}/contacts", get(list).post(add))
        .route(
            "/households/{id}/contact-person",
            get(person).put(set_person),
        )
        .route("/contacts/sheet", get(sheet))
        .route("/contacts/overdue", get(overdue))
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

async fn person(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ContactPerson>> {
    Ok(Json(contacts::person(&s.db, &caller, id).await?))
}

async fn set_person(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(change): Json<PersonChange>,
) -> Result<Json<ContactPerson>> {
    let book = s.rule_book().await?;
    Ok(Json(
        contacts::set_person(&s.db, &book, &caller, id, change, today()).await?,
    ))
}

async fn list(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ContactRow>>> {
    let mut rows = contacts::of_household(&s.db, &caller, id).await?;
    for r in &mut rows {
        r.made_by = shown_name(&caller, &r.made_by);
    }
    Ok(Json(rows))
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
