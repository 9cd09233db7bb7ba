//! Emergencies in the console (二(二)): a township reports one from the family's file, the
//! office sees it on its home page at once; the list, an emergency with every step taken, a
//! step recorded, the close with what was done. Every change goes through
//! [`crate::service::emergencies`], the code the API calls.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use super::page::{refusal_text, render, unprocessable, Chrome, PagePath, PageQuery};
use super::session::{Posted, Signed};
use super::PageError;
use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::db::emergencies::EmergencyRow;
use crate::db::places::{self, Township};
use crate::error::AppError;
use crate::http::extract::{RegisterRead, RegisterWrite};
use crate::http::AppState;
use crate::register::mask::shown_name;
use crate::service::emergencies::{self, EmergencyKind, EmergencyState, Report, Step};
use crate::time::{local_minute, today};

/// The pages' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/emergencies", get(list).post(report))
        .route("/emergencies/new", get(report_form))
        .route("/emergencies/{id}", get(show))
        .route("/emergencies/{id}/steps", post(add_step))
        .route("/emergencies/{id}/close", post(close))
}

/// A kind in Chinese.
pub fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "accident" => "意外伤害",
        "disaster" => "灾害",
        "hardship" => "突发困难",
        _ => "其他",
    }
}

/// One emergency in a list, as shown.
pub struct ListRow {
    pub(super) id: i64,
    pub(super) reported_at: String,
    pub(super) township: String,
    pub(super) kind: &'static str,
    pub(super) happened_on: String,
    pub(super) what: String,
    pub(super) state: String,
}

/// The rows of a list, with townships by name.
pub fn list_rows(rows: Vec<EmergencyRow>, townships: &[Township]) -> Vec<ListRow> {
    rows.into_iter()
        .map(|r| ListRow {
            id: r.emergency_id,
            reported_at: local_minute(r.reported_at),
            township: townships
                .iter()
                .find(|t| t.township_id == r.township_id)
                .map_or_else(|| r.township_id.clone(), |t| t.name.clone()),
            kind: kind_zh(&r.kind),
            happened_on: r.happened_on.to_string(),
            what: r.what,
            state: r.state,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "emergencies.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ListRow>,
    states: Vec<(&'static str, &'static str)>,
    state: String,
    state_label: &'static str,
    writes: bool,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    state: Option<String>,
}

async fn list(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<ListQuery>,
) -> Result<Response, PageError> {
    let (state, label) = match q.state.as_deref().unwrap_or("open") {
        "open" => (Some(EmergencyState::Open), "未结"),
        "closed" => (Some(EmergencyState::Closed), "已办结"),
        "all" => (None, "任何状态"),
        other => {
            return Err(AppError::field("state", format!("unknown state '{other}'")).into());
        }
    };
    let rows = emergencies::list(&s.db, &signed.caller, state).await?;
    render(&ListPage {
        chrome: Chrome::new(&signed, "emergencies"),
        rows: list_rows(rows, &places::townships(&s.db).await?),
        states: vec![("open", "未结"), ("closed", "已办结"), ("all", "全部")],
        state: state.map_or("all", EmergencyState::as_str).to_owned(),
        state_label: label,
        writes: matches!(signed.caller.role, StaffRole::Office | StaffRole::Township),
    })
}

#[derive(Template)]
#[template(path = "emergency_new.html")]
struct NewPage {
    chrome: Chrome,
    household_id: i64,
    name: String,
    kinds: Vec<(&'static str, &'static str)>,
    today: String,
    alert: Option<String>,
}

async fn new_page(s: &AppState, session: &Session, household_id: i64) -> Result<NewPage, AppError> {
    let record = crate::db::households::get(&s.db, household_id).await?;
    if session.caller.role == StaffRole::Township
        && session.caller.township_id.as_deref() != Some(record.township_id.as_str())
    {
        return Err(AppError::NotFound("household"));
    }
    let name = shown_name(
        &session.caller,
        &crate::service::contacts::first_parent(&record),
    );
    Ok(NewPage {
        chrome: Chrome::new(session, "emergencies"),
        household_id,
        name,
        kinds: EmergencyKind::ALL
            .iter()
            .map(|k| (k.as_str(), kind_zh(k.as_str())))
            .collect(),
        today: today().to_string(),
        alert: None,
    })
}

#[derive(Deserialize)]
struct NewQuery {
    household_id: i64,
}

async fn report_form(
    signed: Signed<RegisterWrite>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<NewQuery>,
) -> Result<Response, PageError> {
    render(&new_page(&s, &signed, q.household_id).await?)
}

#[derive(Deserialize)]
struct ReportForm {
    household_id: i64,
    kind: EmergencyKind,
    happened_at: String,
    what: String,
    #[serde(default)]
    needs: String,
}

async fn report(
    State(s): State<AppState>,
    Posted(signed, f): Posted<RegisterWrite, ReportForm>,
) -> Result<Response, PageError> {
    let r = Report {
        kind: f.kind,
        happened_at: f.happened_at,
        what: f.what,
        needs: Some(f.needs).filter(|n| !n.trim().is_empty()),
    };
    match emergencies::report(&s.db, &signed.caller, f.household_id, &r, Utc::now()).await {
        Ok(e) => {
            let mut p = detail(&s, &signed, e.row.emergency_id).await?;
            p.message = Some("已报告。区卫健局首页已可见，请继续跟进并登记处理结果。".into());
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = new_page(&s, &signed, f.household_id).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "emergency.html")]
struct DetailPage {
    chrome: Chrome,
    id: i64,
    household_id: i64,
    township: String,
    kind: &'static str,
    happened_on: String,
    what: String,
    needs: String,
    open: bool,
    outcome: String,
    /// Time, account, step, note.
    steps: Vec<(String, String, &'static str, String)>,
    writes: bool,
    message: Option<String>,
    alert: Option<String>,
}

async fn detail(s: &AppState, session: &Session, id: i64) -> Result<DetailPage, AppError> {
    let e = emergencies::get(&s.db, &session.caller, id).await?;
    let townships = places::townships(&s.db).await?;
    let r = e.row;
    Ok(DetailPage {
        chrome: Chrome::new(session, "emergencies"),
        id,
        household_id: r.household_id,
        township: townships
            .iter()
            .find(|t| t.township_id == r.township_id)
            .map_or_else(|| r.township_id.clone(), |t| t.name.clone()),
        kind: kind_zh(&r.kind),
        happened_on: r.happened_on.to_string(),
        what: r.what,
        needs: r.needs.unwrap_or_default(),
        open: r.state == "open",
        outcome: r.outcome.unwrap_or_default(),
        steps: e
            .steps
            .into_iter()
            .map(|st| {
                let step = match st.kind.as_str() {
                    "reported" => "报告",
                    "closed" => "办结",
                    _ => "措施",
                };
                (local_minute(st.at), st.made_by, step, st.note)
            })
            .collect(),
        writes: matches!(session.caller.role, StaffRole::Office | StaffRole::Township),
        message: None,
        alert: None,
    })
}

async fn show(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    render(&detail(&s, &signed, id).await?)
}

#[derive(Deserialize)]
struct StepForm {
    note: String,
}

#[derive(Deserialize)]
struct CloseForm {
    outcome: String,
}

/// A step or the close, then the emergency again with the result or the refusal.
async fn after_step(
    s: &AppState,
    session: &Session,
    id: i64,
    step: Step,
    note: &str,
) -> Result<Response, PageError> {
    match emergencies::step(&s.db, &session.caller, id, step, note).await {
        Ok(_) => {
            let mut p = detail(s, session, id).await?;
            p.message = Some(match step {
                Step::Action => "已记录。".into(),
                Step::Close => "已办结。".into(),
            });
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = detail(s, session, id).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

async fn add_step(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<RegisterWrite, StepForm>,
) -> Result<Response, PageError> {
    after_step(&s, &signed, id, Step::Action, &f.note).await
}

async fn close(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<RegisterWrite, CloseForm>,
) -> Result<Response, PageError> {
    after_step(&s, &signed, id, Step::Close, &f.outcome).await
}
