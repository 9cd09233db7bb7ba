//! Festival visits in the console (二(二), 二(十)3): the festivals configured (the office adds
//! one), and a festival's checklist — each township's figures and the households not yet
//! visited, each with a form to record the visit. Every change goes through
//! [`crate::service::festivals`], the code the API calls.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::page::{refusal_text, render, unprocessable, Chrome, PagePath};
use super::session::{Posted, Signed};
use super::PageError;
use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::db::festivals::FestivalRow;
use crate::db::places;
use crate::error::AppError;
use crate::http::extract::{OfficeOnly, RegisterRead, RegisterWrite};
use crate::http::AppState;
use crate::register::mask::shown_name;
use crate::service::festivals::{self, Festival, Visit};
use crate::time::today;

/// The pages' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/festivals", get(list).post(configure))
        .route("/festivals/{id}", get(checklist))
        .route("/festivals/{id}/visits", post(visit))
}

#[derive(Template)]
#[template(path = "festivals.html")]
struct ListPage {
    chrome: Chrome,
    festivals: Vec<FestivalRow>,
    message: Option<String>,
    alert: Option<String>,
}

async fn list_page(s: &AppState, session: &Session) -> Result<ListPage, AppError> {
    let mut all = festivals::list(&s.db, None).await?;
    all.reverse();
    Ok(ListPage {
        chrome: Chrome::new(session, "festivals"),
        festivals: all,
        message: None,
        alert: None,
    })
}

async fn list(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    render(&list_page(&s, &signed).await?)
}

#[derive(Deserialize)]
struct FestivalForm {
    name: String,
    on: NaiveDate,
    #[serde(default)]
    visits_from: String,
    #[serde(default)]
    visits_until: String,
}

/// An optional date field: empty as none, else a date or a refusal naming the field.
fn optional_date(field: &str, v: &str) -> Result<Option<NaiveDate>, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::field(field, format!("“{v}”不是日期 / not a date")))
}

async fn configure(
    State(s): State<AppState>,
    Posted(signed, f): Posted<OfficeOnly, FestivalForm>,
) -> Result<Response, PageError> {
    let done = async {
        let festival = Festival {
            name: f.name,
            on: f.on,
            visits_from: optional_date("visits_from", &f.visits_from)?,
            visits_until: optional_date("visits_until", &f.visits_until)?,
        };
        festivals::configure(&s.db, &signed.caller, &festival).await
    }
    .await;
    match done {
        Ok(row) => {
            let mut p = list_page(&s, &signed).await?;
            p.message = Some(format!(
                "已配置{}年{}。",
                chrono::Datelike::year(&row.on_date),
                row.name
            ));
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = list_page(&s, &signed).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "festival.html")]
struct ChecklistPage {
    chrome: Chrome,
    id: i64,
    name: String,
    on: String,
    from: String,
    until: String,
    /// The last day a visit can be dated now: the window's end or today, whichever is first.
    last_day: String,
    default_day: String,
    /// Township name, due, visited.
    townships: Vec<(String, u32, u32)>,
    /// Household, name, community.
    rows: Vec<(i64, String, String)>,
    writes: bool,
    message: Option<String>,
    alert: Option<String>,
}

async fn checklist_page(
    s: &AppState,
    session: &Session,
    id: i64,
) -> Result<ChecklistPage, AppError> {
    let rules = s.rule_book().await?;
    let list = festivals::checklist(&s.db, rules, &session.caller, id, None).await?;
    let names = places::townships(&s.db).await?;
    let communities = places::communities(&s.db).await?;
    let f = list.festival;
    let last_day = f.visits_until.min(today());
    Ok(ChecklistPage {
        chrome: Chrome::new(session, "festivals"),
        id,
        name: f.name,
        on: f.on_date.to_string(),
        from: f.visits_from.to_string(),
        until: f.visits_until.to_string(),
        last_day: last_day.to_string(),
        default_day: last_day.max(f.visits_from).to_string(),
        townships: list
            .townships
            .into_iter()
            .map(|t| {
                let name = names
                    .iter()
                    .find(|n| n.township_id == t.township_id)
                    .map_or_else(|| t.township_id.clone(), |n| n.name.clone());
                (name, t.due, t.visited)
            })
            .collect(),
        rows: list
            .households
            .into_iter()
            .map(|h| {
                let community = h
                    .community_id
                    .as_deref()
                    .and_then(|c| communities.iter().find(|x| x.community_id == c))
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                (
                    h.household_id,
                    shown_name(&session.caller, &h.name),
                    community,
                )
            })
            .collect(),
        writes: matches!(session.caller.role, StaffRole::Office | StaffRole::Township),
        message: None,
        alert: None,
    })
}

async fn checklist(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    render(&checklist_page(&s, &signed, id).await?)
}

#[derive(Deserialize)]
struct VisitForm {
    household_id: i64,
    on: NaiveDate,
    made_by: String,
    #[serde(default)]
    note: String,
}

async fn visit(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<RegisterWrite, VisitForm>,
) -> Result<Response, PageError> {
    let v = Visit {
        festival_id: id,
        on: f.on,
        made_by: f.made_by,
        note: Some(f.note).filter(|n| !n.trim().is_empty()),
    };
    match festivals::visit(&s.db, &signed.caller, f.household_id, &v, Utc::now()).await {
        Ok(row) => {
            let mut p = checklist_page(&s, &signed, id).await?;
            p.message = Some(format!("已记录 {} 的走访。", row.visited_on));
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = checklist_page(&s, &signed, id).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}
