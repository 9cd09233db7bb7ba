//! Card actions from the console: issue, print, suspend, reinstate, revoke, reissue — each a
//! form post that lands in one transaction and returns to the household's file — and the list
//! of cards suspended automatically, waiting for the office to confirm or undo.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::page::{render, Chrome, PagePath};
use super::session::{Posted, Signed};
use super::PageError;
use crate::db::cards::{self, Action};
use crate::db::households;
use crate::http::cards::RevokeReason;
use crate::http::extract::OfficeOnly;
use crate::http::AppState;
use crate::register::text::Reason;
use crate::time::local_minute;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members/{id}/cards", post(issue))
        .route("/cards/awaiting", get(awaiting))
        .route("/cards/{serial}/card.pdf", get(pdf))
        .route("/cards/{serial}/suspend", post(suspend))
        .route("/cards/{serial}/reinstate", post(reinstate))
        .route("/cards/{serial}/revoke", post(revoke))
        .route("/cards/{serial}/reissue", post(reissue))
}

/// Back to the household's file, saying what was done.
fn back_to(household_id: i64, done: &str) -> Response {
    Redirect::to(&format!("/households/{household_id}?done={done}#members")).into_response()
}

#[derive(Deserialize)]
struct Nothing {}

async fn issue(
    State(s): State<AppState>,
    PagePath(member_id): PagePath<i64>,
    Posted(signed, Nothing {}): Posted<OfficeOnly, Nothing>,
) -> Result<Response, PageError> {
    let book = s.rule_book().await?;
    let service = s.card_service()?;
    let card = crate::service::cards::issue(
        &s.db,
        &service.issuer(&book)?,
        member_id,
        None,
        Some(signed.caller.account_id),
    )
    .await?;
    Ok(back_to(card.household_id, "issued"))
}

async fn pdf(
    _: Signed<OfficeOnly>,
    State(s): State<AppState>,
    PagePath(serial): PagePath<String>,
) -> Result<Response, PageError> {
    Ok(crate::http::cards::printed_card(&s, &serial).await?)
}

#[derive(Deserialize)]
struct ReasonForm {
    reason: Reason,
}

async fn change(
    s: &AppState,
    serial: &str,
    action: Action,
    reason: &str,
    account_id: i64,
) -> Result<Response, PageError> {
    let card = cards::change_state(&s.db, serial, action, reason, Some(account_id)).await?;
    let done = match action {
        Action::Suspend => "suspended",
        Action::Reinstate => "reinstated",
        Action::Revoke => "revoked",
    };
    Ok(back_to(card.household_id, done))
}

async fn suspend(
    State(s): State<AppState>,
    PagePath(serial): PagePath<String>,
    Posted(signed, f): Posted<OfficeOnly, ReasonForm>,
) -> Result<Response, PageError> {
    change(
        &s,
        &serial,
        Action::Suspend,
        &f.reason,
        signed.caller.account_id,
    )
    .await
}

async fn reinstate(
    State(s): State<AppState>,
    PagePath(serial): PagePath<String>,
    Posted(signed, f): Posted<OfficeOnly, ReasonForm>,
) -> Result<Response, PageError> {
    change(
        &s,
        &serial,
        Action::Reinstate,
        &f.reason,
        signed.caller.account_id,
    )
    .await
}

#[derive(Deserialize)]
struct RevokeForm {
    reason: RevokeReason,
    #[serde(default)]
    note: Option<Reason>,
}

async fn revoke(
    State(s): State<AppState>,
    PagePath(serial): PagePath<String>,
    Posted(signed, f): Posted<OfficeOnly, RevokeForm>,
) -> Result<Response, PageError> {
    let reason = f.reason.with_note(f.note.as_deref());
    change(
        &s,
        &serial,
        Action::Revoke,
        &reason,
        signed.caller.account_id,
    )
    .await
}

async fn reissue(
    State(s): State<AppState>,
    PagePath(serial): PagePath<String>,
    Posted(signed, f): Posted<OfficeOnly, ReasonForm>,
) -> Result<Response, PageError> {
    let book = s.rule_book().await?;
    let service = s.card_service()?;
    let card = crate::service::cards::reissue(
        &s.db,
        &service.issuer(&book)?,
        &serial,
        &f.reason,
        Some(signed.caller.account_id),
    )
    .await?;
    Ok(back_to(card.household_id, "reissued"))
}

struct AwaitingLine {
    serial: String,
    household_id: i64,
    holder: String,
    reason: String,
    since: String,
}

#[derive(Template)]
#[template(path = "awaiting.html")]
struct AwaitingPage {
    chrome: Chrome,
    cards: Vec<AwaitingLine>,
}

/// Cards the service suspended after a register change: each links to its file, where the
/// office revokes (confirms) or reinstates (undoes) it.
async fn awaiting(
    signed: Signed<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    let mut lines = Vec::new();
    for c in cards::awaiting_confirmation(&s.db).await? {
        let holder = households::get(&s.db, c.household_id)
            .await?
            .members
            .into_iter()
            .find(|m| m.member_id == c.member_id)
            .map(|m| m.name)
            .unwrap_or_default();
        lines.push(AwaitingLine {
            since: local_minute(c.state_changed_at),
            reason: c.state_reason.unwrap_or_default(),
            household_id: c.household_id,
            serial: c.serial,
            holder,
        });
    }
    render(&AwaitingPage {
        chrome: Chrome::new(&signed, "awaiting"),
        cards: lines,
    })
}
