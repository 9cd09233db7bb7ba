//! The month's disbursement list in the console: make it, read its totals by township and
//! entitlement, approve it after a confirmation, download it; past lists.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::page::{render, Chrome, PagePath};
use super::session::{Posted, Signed};
use super::PageError;
use crate::db::{disbursement, places};
use crate::http::extract::OfficeOnly;
use crate::http::AppState;
use crate::time::{local_minute, today};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/disbursements", get(lists).post(generate))
        .route("/disbursements/{id}", get(list))
        .route("/disbursements/{id}/approve", post(approve))
        .route("/disbursements/{id}/list.csv", get(csv))
}

/// Fen as yuan, with thousands separated: `12,345.60`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let (whole, cents) = (fen.unsigned_abs() / 100, fen.unsigned_abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{cents:02}")
}

struct HeaderLine {
    id: i64,
    period: String,
    approved: bool,
    total: String,
    created: String,
    approved_at: String,
}

#[derive(Template)]
#[template(path = "disbursements.html")]
struct ListsPage {
    chrome: Chrome,
    lists: Vec<HeaderLine>,
    this_month: String,
}

async fn lists(
    signed: Signed<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    let lists = disbursement::list(&s.db)
        .await?
        .into_iter()
        .map(|h| HeaderLine {
            id: h.disbursement_id,
            approved: h.status == "approved",
            total: yuan(h.total_fen),
            created: local_minute(h.created_at),
            approved_at: h.approved_at.map(local_minute).unwrap_or_default(),
            period: h.period,
        })
        .collect();
    render(&ListsPage {
        chrome: Chrome::new(&signed, "disbursements"),
        lists,
        this_month: today().format("%Y-%m").to_string(),
    })
}

#[derive(Deserialize)]
struct GenerateForm {
    period: String,
}

async fn generate(
    State(s): State<AppState>,
    Posted(signed, f): Posted<OfficeOnly, GenerateForm>,
) -> Result<Response, PageError> {
    let book = s.rule_book().await?;
    let list = disbursement::generate(&s.db, book, f.period.trim(), Some(signed.caller.account_id))
        .await?;
    Ok(Redirect::to(&format!("/disbursements/{}", list.disbursement_id)).into_response())
}

struct TownshipLine {
    name: String,
    by_code: Vec<(String, String)>,
    total: String,
}

#[derive(Template)]
#[template(path = "disbursement.html")]
struct ListPage {
    chrome: Chrome,
    id: i64,
    period: String,
    approved: bool,
    month: bool,
    total: String,
    rows: usize,
    needs_data: usize,
    townships: Vec<TownshipLine>,
    approved_at: String,
}

async fn list(
    signed: Signed<OfficeOnly>,
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    let d = disbursement::get(&s.db, id).await?;
    let names = places::townships(&s.db).await?;
    let townships = d
        .townships
        .iter()
        .map(|(code, t)| TownshipLine {
            name: names
                .iter()
                .find(|n| &n.township_id == code)
                .map_or_else(|| code.clone(), |n| n.name.clone()),
            by_code: t
                .by_code
                .iter()
                .map(|(c, f)| {
                    let name = crate::rules::Code::ALL
                        .iter()
                        .find(|k| k.as_str() == c)
                        .map_or_else(|| c.clone(), |k| k.zh().to_owned());
                    (name, yuan(*f))
                })
                .collect(),
            total: yuan(t.total_fen),
        })
        .collect();
    render(&ListPage {
        chrome: Chrome::new(&signed, "disbursements"),
        id,
        approved: d.status == "approved",
        month: d.period.len() == 7,
        total: yuan(d.total_fen),
        rows: d.rows.len(),
        needs_data: d.needs_data,
        townships,
        approved_at: d.approved_at.map(local_minute).unwrap_or_default(),
        period: d.period.clone(),
    })
}

#[derive(Deserialize)]
struct ApproveForm {
    /// The confirmation box: "I have checked the totals".
    #[serde(default)]
    checked: Option<String>,
}

async fn approve(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<OfficeOnly, ApproveForm>,
) -> Result<Response, PageError> {
    if f.checked.as_deref() != Some("on") {
        return Err(PageError::bad_form(
            "请先勾选“已核对各镇街合计”再审核 / tick the confirmation first",
        ));
    }
    disbursement::approve(&s.db, id, Some(signed.caller.account_id)).await?;
    Ok(Redirect::to(&format!("/disbursements/{id}")).into_response())
}

async fn csv(
    _: Signed<OfficeOnly>,
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    Ok(crate::http::rules::list_csv(&s, id).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn yuan_groups_thousands_and_keeps_the_sign() {
        assert_eq!(super::yuan(0), "0.00");
        assert_eq!(super::yuan(61_000), "610.00");
        assert_eq!(super::yuan(123_456_789), "1,234,567.89");
        assert_eq!(super::yuan(-5), "-0.05");
    }
}
