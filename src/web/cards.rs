//! Card actions from the console: issue, print, suspend, reinstate, revoke, reissue — each a
//! form post that lands in one transaction and returns to the household's file — and the list
//! of cards suspended automatically, waiting for the office to confirm or undo.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::page::{render, Chrome, PagePath, PageQuery};
use super::session::{NoFields, Posted, Signed};
use super::PageError;
use crate::db::cards::{self, Action};
use crate::db::places;
use crate::http::extract::OfficeOnly;
use crate::http::AppState;
use crate::register::text::Reason;
use crate::service::cards::RevokeReason;
use crate::time::local_minute;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cards", get(list))
        .route("/cards/issue-new", post(issue_new))
        .route("/cards/sheet.pdf", post(sheet))
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

async fn issue(
    State(s): State<AppState>,
    PagePath(member_id): PagePath<i64>,
    Posted(signed, NoFields {}): Posted<OfficeOnly, NoFields>,
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
    let lines = cards::awaiting_with_holders(&s.db)
        .await?
        .into_iter()
        .map(|c| AwaitingLine {
            since: local_minute(c.state_changed_at),
            reason: c.state_reason.unwrap_or_default(),
            household_id: c.household_id,
            serial: c.serial,
            holder: c.holder,
        })
        .collect();
    render(&AwaitingPage {
        chrome: Chrome::new(&signed, "awaiting"),
        cards: lines,
    })
}

/// Cards listed per page.
const LIST_LIMIT: i64 = 500;

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    township: String,
}

struct CardRow {
    serial: String,
    state: String,
    state_label: &'static str,
    holder: String,
    household_id: i64,
    township: String,
    issued: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "cards.html")]
struct CardsPage {
    chrome: Chrome,
    state: String,
    township: String,
    townships: Vec<(String, String)>,
    cards: Vec<CardRow>,
    limit: i64,
    batch: Option<BatchView>,
}

struct BatchView {
    issued: usize,
    failed: Vec<(i64, String)>,
}

fn state_label(state: &str) -> &'static str {
    match state {
        "active" => "有效",
        "suspended" => "已暂停",
        _ => "已作废",
    }
}

async fn cards_page(
    s: &AppState,
    signed: &Signed<OfficeOnly>,
    q: &ListQuery,
    batch: Option<BatchView>,
) -> Result<CardsPage, PageError> {
    let state = match q.state.as_str() {
        "" => None,
        "active" | "suspended" | "revoked" => Some(q.state.as_str()),
        _ => return Err(PageError::bad_form("卡片状态无效 / unknown state")),
    };
    let township = Some(q.township.as_str()).filter(|t| !t.is_empty());
    let townships: Vec<(String, String)> = places::townships(&s.db)
        .await?
        .into_iter()
        .map(|t| (t.township_id, t.name))
        .collect();
    let cards = cards::with_holders(&s.db, state, township, LIST_LIMIT)
        .await?
        .into_iter()
        .map(|c| CardRow {
            state_label: state_label(&c.state),
            township: townships
                .iter()
                .find(|(id, _)| *id == c.township_id)
                .map_or_else(|| c.township_id.clone(), |(_, n)| n.clone()),
            issued: c.issued_on.to_string(),
            expires: c.expires_on.to_string(),
            serial: c.serial,
            state: c.state,
            holder: c.holder,
            household_id: c.household_id,
        })
        .collect();
    Ok(CardsPage {
        chrome: Chrome::new(signed, "cards"),
        state: q.state.clone(),
        township: q.township.clone(),
        townships,
        cards,
        limit: LIST_LIMIT,
        batch,
    })
}

/// The cards, newest first, with their holders: filter, tick, print as A4 sheets.
async fn list(
    signed: Signed<OfficeOnly>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<ListQuery>,
) -> Result<Response, PageError> {
    let page = cards_page(&s, &signed, &q, None).await?;
    render(&page)
}

#[derive(Deserialize)]
struct IssueNewForm {
    #[serde(default)]
    township: String,
}

/// Issues every new card of a township (or the district): each card its own transaction; the
/// page then lists what was issued and who was refused, and why.
async fn issue_new(
    State(s): State<AppState>,
    Posted(signed, f): Posted<OfficeOnly, IssueNewForm>,
) -> Result<Response, PageError> {
    let book = s.rule_book().await?;
    let service = s.card_service()?;
    let issuer = service.issuer(&book)?;
    let township = Some(f.township.trim()).filter(|t| !t.is_empty());
    let result =
        crate::service::cards::issue_all(&s.db, &issuer, township, Some(signed.caller.account_id))
            .await?;
    let batch = BatchView {
        issued: result.issued.len(),
        failed: result
            .failed
            .into_iter()
            .map(|f| (f.member_id, f.detail))
            .collect(),
    };
    let q = ListQuery {
        state: "active".into(),
        township: f.township,
    };
    let page = cards_page(&s, &signed, &q, Some(batch)).await?;
    render(&page)
}

/// The ticked cards as A4 sheets of ten (fields `serial`, repeated).
async fn sheet(
    State(s): State<AppState>,
    Posted(_, fields): Posted<OfficeOnly, Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let serials: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "serial")
        .map(|(_, v)| v)
        .collect();
    if serials.is_empty() {
        return Err(PageError::bad_form(
            "请先勾选要打印的卡片 / tick the cards to print",
        ));
    }
    Ok(crate::http::cards::printed_sheet(&s, &serials).await?)
}
