//! The contact person's month in the console (二(二)): the sheet of every household due, its
//! last contact and months in a row without one, those not reached first (overdue once the
//! month has ended), each township's figures; a contact logged from the sheet's row in a few
//! clicks. Every change goes through [`crate::service::contacts`], the code the API calls.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;

use super::page::{refusal_text, render, unprocessable, Chrome, PageQuery};
use super::session::Posted;
use super::PageError;
use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::db::places;
use crate::error::AppError;
use crate::http::extract::{RegisterRead, RegisterWrite};
use crate::http::AppState;
use crate::register::mask::shown_name;
use crate::service::contacts::{self, Contact, ContactHow, Month};
use crate::time::today;

/// The pages' routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/contacts", get(sheet).post(log))
}

/// One household on the sheet, as shown.
struct Row {
    household_id: i64,
    name: String,
    community: String,
    contact_person: String,
    last_contact_on: String,
    months_without: i32,
    contacted: bool,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct SheetPage {
    chrome: Chrome,
    month: String,
    this_month: String,
    ended: bool,
    judged_on: String,
    /// The day a new contact is dated by default: today in this month, else the month's last.
    default_day: String,
    today: String,
    rows: Vec<Row>,
    /// Township name, due, contacted, not contacted.
    townships: Vec<(String, u32, u32, u32)>,
    /// The township filter the office and the auditor may choose; empty for a township.
    township_choice: Vec<(String, String)>,
    township: String,
    /// Whether the caller logs contacts (office, township).
    writes: bool,
    message: Option<String>,
    alert: Option<String>,
}

#[derive(Deserialize, Default)]
struct SheetQuery {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    township: Option<String>,
}

/// The sheet of `month` (or this one) for `session`, limited to `township` where it may choose.
async fn sheet_page(
    s: &AppState,
    session: &Session,
    month: Option<&str>,
    township: Option<&str>,
) -> Result<SheetPage, AppError> {
    let today = today();
    let month = match month.filter(|m| !m.is_empty()) {
        None => Month::of(today),
        Some(m) => Month::parse(m).map_err(|e| AppError::field("month", e))?,
    };
    let township = township.filter(|t| !t.is_empty());
    let rules = s.rule_book().await?;
    let sheet = contacts::sheet(&s.db, rules, &session.caller, month, township, today).await?;
    let names = places::townships(&s.db).await?;
    let communities = places::communities(&s.db).await?;
    let township_name = |id: &str| {
        names
            .iter()
            .find(|t| t.township_id == id)
            .map_or_else(|| id.to_owned(), |t| t.name.clone())
    };
    let community_name = |id: Option<&str>| {
        id.map(|id| {
            communities
                .iter()
                .find(|c| c.community_id == id)
                .map_or_else(|| id.to_owned(), |c| c.name.clone())
        })
        .unwrap_or_default()
    };
    let caller = &session.caller;
    Ok(SheetPage {
        chrome: Chrome::new(session, "contacts"),
        month: month.to_string(),
        this_month: Month::of(today).to_string(),
        ended: sheet.ended,
        judged_on: sheet.judged_on.to_string(),
        default_day: sheet.judged_on.to_string(),
        today: today.to_string(),
        rows: sheet
            .households
            .into_iter()
            .map(|h| Row {
                household_id: h.household_id,
                name: shown_name(caller, &h.name),
                community: community_name(h.community_id.as_deref()),
                contact_person: h
                    .contact_person
                    .map(|c| shown_name(caller, &c))
                    .unwrap_or_default(),
                last_contact_on: h.last_contact_on.map(|d| d.to_string()).unwrap_or_default(),
                months_without: h.months_without_contact,
                contacted: h.contacted,
            })
            .collect(),
        townships: sheet
            .townships
            .iter()
            .map(|t| {
                (
                    township_name(&t.township_id),
                    t.due,
                    t.contacted,
                    t.not_contacted,
                )
            })
            .collect(),
        township_choice: if caller.role == StaffRole::Township {
            vec![]
        } else {
            names
                .iter()
                .map(|t| (t.township_id.clone(), t.name.clone()))
                .collect()
        },
        township: township.unwrap_or_default().to_owned(),
        writes: matches!(caller.role, StaffRole::Office | StaffRole::Township),
        message: None,
        alert: None,
    })
}

async fn sheet(
    signed: super::session::Signed<RegisterRead>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<SheetQuery>,
) -> Result<Response, PageError> {
    match sheet_page(&s, &signed, q.month.as_deref(), q.township.as_deref()).await {
        Ok(p) => render(&p),
        // A month mistyped in the address: this month's sheet, saying why.
        Err(e @ AppError::Validation(_)) => {
            let mut p = sheet_page(&s, &signed, None, q.township.as_deref()).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct LogForm {
    household_id: i64,
    on: String,
    how: ContactHow,
    made_by: String,
    #[serde(default)]
    raised: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    township: String,
}

/// A contact logged from the sheet's row; the sheet again, with the row reached or the refusal.
async fn log(
    State(s): State<AppState>,
    Posted(signed, f): Posted<RegisterWrite, LogForm>,
) -> Result<Response, PageError> {
    let c = Contact {
        at: f.on.clone(),
        how: f.how,
        made_by: f.made_by,
        raised: Some(f.raised).filter(|r| !r.trim().is_empty()),
        needs: None,
        follow_up: None,
        closes_contact_id: None,
    };
    let done = contacts::log(
        &s.db,
        &signed.caller,
        f.household_id,
        &c,
        chrono::Utc::now(),
    )
    .await;
    // The sheet of the contact's own month, so the row just reached is on it.
    let month = NaiveDate::parse_from_str(f.on.trim(), "%Y-%m-%d")
        .map(|d| Month::of(d).to_string())
        .unwrap_or(f.month);
    let township = Some(f.township.as_str());
    match done {
        Ok(row) => {
            let mut p = sheet_page(&s, &signed, Some(&month), township).await?;
            p.message = Some(format!("已记录 {} 的联系。", row.contacted_on));
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = sheet_page(&s, &signed, None, township).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}
