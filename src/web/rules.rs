//! Rule sets in the console: which is in force on a date, the documents loaded, and checking
//! then loading a successor or continuation (the office pastes the TOML it was sent).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;

use super::page::{render, Chrome, PageQuery};
use super::session::{Posted, Signed};
use super::PageError;
use crate::db::rules as rule_docs;
use crate::error::AppError;
use crate::http::extract::{OfficeOnly, RegisterRead};
use crate::http::AppState;
use crate::time::{local_minute, today};

pub fn router() -> Router<AppState> {
    Router::new().route("/rules", get(overview).post(check_or_load))
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    chrome: Chrome,
    on: String,
    in_force: Option<String>,
    windows: Vec<(String, String, String, bool)>,
    documents: Vec<(String, String)>,
    name: String,
    body: String,
    outcome: Option<(bool, String)>,
}

#[derive(Deserialize, Default)]
struct OnQuery {
    #[serde(default)]
    on: String,
}

async fn page(s: &AppState, chrome: Chrome, on: NaiveDate) -> Result<RulesPage, PageError> {
    let book = s.rule_book().await?;
    let in_force = book.in_force(on).ok().map(|r| r.id.to_string());
    let windows = book
        .windows()
        .into_iter()
        .map(|w| {
            let current = w.from <= on && on <= w.until;
            (w.id, w.from.to_string(), w.until.to_string(), current)
        })
        .collect();
    let documents = rule_docs::documents(&s.db)
        .await?
        .into_iter()
        .map(|d| (d.name, local_minute(d.loaded_at)))
        .collect();
    Ok(RulesPage {
        chrome,
        on: on.to_string(),
        in_force,
        windows,
        documents,
        name: String::new(),
        body: String::new(),
        outcome: None,
    })
}

async fn overview(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<OnQuery>,
) -> Result<Response, PageError> {
    let on = match q.on.trim() {
        "" => today(),
        d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| PageError::bad_form("日期格式应为 2026-01-31"))?,
    };
    render(&page(&s, Chrome::new(&signed, "rules"), on).await?)
}

#[derive(Deserialize)]
struct DocumentForm {
    name: String,
    body: String,
    /// `check` or `load`.
    action: String,
}

async fn check_or_load(
    State(s): State<AppState>,
    Posted(signed, f): Posted<OfficeOnly, DocumentForm>,
) -> Result<Response, PageError> {
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(PageError::bad_form(
            "名称：1 至 200 个字符 / name: 1 to 200 characters",
        ));
    }
    let outcome = match f.action.as_str() {
        "check" => crate::service::rules::check(&s.db, name, &f.body)
            .await
            .map(|w| format!("检查通过：载入后共有 {} 个规则集时段，无重叠。", w.len())),
        "load" => crate::service::rules::load(&s.db, name, &f.body, Some(signed.caller.account_id))
            .await
            .map(|d| format!("已载入“{}”。", d.name)),
        _ => return Err(PageError::bad_form("未知操作 / unknown action")),
    };
    if outcome.is_ok() && f.action == "load" {
        s.rules_changed();
    }
    let (ok, text, status) = match outcome {
        Ok(t) => (true, t, StatusCode::OK),
        Err(AppError::BadRequest { detail, .. }) => {
            (false, detail, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => return Err(e.into()),
    };
    let mut p = page(&s, Chrome::new(&signed, "rules"), today()).await?;
    if !ok || f.action == "check" {
        p.name = name.to_owned();
        p.body = f.body;
    }
    p.outcome = Some((ok, text));
    let mut res = render(&p)?;
    *res.status_mut() = status;
    Ok(res)
}
