//! Cards: the public key set and status list, and the office's issue, reissue, suspend,
//! reinstate, revoke and print.

use crate::register::text::Reason;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

use super::extract::{Json, OfficeOnly, Path, Staff};
use super::AppState;
use crate::card::pdf::CardFace;
use crate::card::CardSerial;
use crate::db::cards::{self, Action, CardEvent, CardRecord};
use crate::db::households;
use crate::error::{AppError, Result};
use crate::service::cards::RevokeReason;
use crate::time::today;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(keys))
        .route("/status-list", get(status_list))
        .route("/members/{id}/cards", get(member_cards).post(issue))
        .route("/cards", get(list))
        .route("/cards/batch", post(issue_batch))
        .route("/cards/reconcile", post(reconcile_all))
        .route("/cards/awaiting-confirmation", get(awaiting_confirmation))
        .route("/cards/sheet.pdf", post(sheet))
        .route("/cards/{serial}", get(read))
        .route("/cards/{serial}/pdf", get(pdf))
        .route("/cards/{serial}/suspend", post(suspend))
        .route("/cards/{serial}/reinstate", post(reinstate))
        .route("/cards/{serial}/revoke", post(revoke))
        .route("/cards/{serial}/reissue", post(reissue))
}

/// The public key set desks verify with (no token: it is public by design).
async fn keys(State(s): State<AppState>) -> Result<Response> {
    let json = s.card_service()?.keys().set.to_json();
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// The signed status list (public): suspended and revoked cards by their random index.
async fn status_list(State(s): State<AppState>) -> Result<Response> {
    let json = s.card_service()?.status_list(&s.db).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        json,
    )
        .into_response())
}

async fn issue(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(member_id): Path<i64>,
) -> Result<(StatusCode, Json<CardRecord>)> {
    let book = s.rule_book().await?;
    let service = s.card_service()?;
    let card = crate::service::cards::issue(
        &s.db,
        &service.issuer(&book)?,
        member_id,
        None,
        Some(caller.account_id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(card)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// Cards in issue order, a page at a time (`after` = the last card_id seen).
async fn list(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    crate::http::extract::Query(q): crate::http::extract::Query<ListQuery>,
) -> Result<Json<Vec<CardRecord>>> {
    if let Some(state) = q.state.as_deref() {
        if !["active", "suspended", "revoked"].contains(&state) {
            return Err(AppError::bad_request(
                "bad_query",
                "state must be active, suspended or revoked",
            ));
        }
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(AppError::bad_request(
            "bad_query",
            "limit must be 1 to 10000",
        ));
    }
    Ok(Json(
        cards::list(&s.db, q.state.as_deref(), q.after, limit).await?,
    ))
}

async fn member_cards(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(member_id): Path<i64>,
) -> Result<Json<Vec<CardRecord>>> {
    Ok(Json(cards::of_member(&s.db, member_id).await?))
}

/// Issues a card to every entitled member without a current card (see
/// [`crate::service::cards::issue_all`]).
async fn issue_batch(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Json<crate::service::cards::BatchResult>> {
    let book = s.rule_book().await?;
    let service = s.card_service()?;
    let issuer = service.issuer(&book)?;
    Ok(Json(
        crate::service::cards::issue_all(&s.db, &issuer, None, Some(caller.account_id)).await?,
    ))
}

#[derive(Serialize)]
struct CardView {
    #[serde(flatten)]
    card: CardRecord,
    events: Vec<CardEvent>,
}

async fn read(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(serial): Path<String>,
) -> Result<Json<CardView>> {
    let card = cards::get(&s.db, &serial).await?;
    let events = cards::events(&s.db, card.card_id).await?;
    Ok(Json(CardView { card, events }))
}

fn face<'a>(card: &'a CardRecord, name: &'a str) -> Result<CardFace<'a>> {
    let mut serial = [0u8; 12];
    hex::decode_to_slice(&card.serial, &mut serial)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored serial: {e}")))?;
    Ok(CardFace {
        full_name: name,
        qr_text: &card.qr_text,
        serial: CardSerial(serial),
        issued: card.issued_on,
        expires: card.expires_on,
    })
}

async fn holder_name(s: &AppState, card: &CardRecord) -> Result<String> {
    let h = households::get(&s.db, card.household_id).await?;
    h.members
        .into_iter()
        .find(|m| m.member_id == card.member_id)
        .map(|m| m.name)
        .ok_or(AppError::NotFound("member"))
}

/// One card, or A4 sheets of ten.
enum Layout {
    Card,
    Sheet,
}

/// Renders cards (each with its holder's name) on the blocking pool: a sheet of a thousand
/// cards takes seconds of CPU, which must not be taken from the async workers answering desks.
async fn print(s: &AppState, layout: Layout, cards: Vec<(CardRecord, String)>) -> Result<Vec<u8>> {
    let service = s.cards.clone().ok_or(AppError::Unavailable)?;
    tokio::task::spawn_blocking(move || {
        let renderer = service.renderer()?;
        let faces = cards
            .iter()
            .map(|(c, n)| face(c, n))
            .collect::<Result<Vec<_>>>()?;
        match (layout, faces.first()) {
            (Layout::Card, Some(one)) => renderer.render_card(one),
            _ => renderer.render_sheet(&faces),
        }
        .map_err(|e| AppError::conflict("name_not_printable", e.to_string()))
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("printing stopped: {e}")))?
}

fn pdf_response(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn pdf(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(serial): Path<String>,
) -> Result<Response> {
    printed_card(&s, &serial).await
}

/// One card's PDF as a download (for the API and the console); a revoked card is not printed.
pub(crate) async fn printed_card(s: &AppState, serial: &str) -> Result<Response> {
    let card = cards::get(&s.db, serial).await?;
    if card.state == "revoked" {
        return Err(AppError::conflict(
            "card_revoked",
            "a revoked card is not printed; reissue it",
        ));
    }
    let name = holder_name(s, &card).await?;
    let file = format!("card-{}.pdf", card.serial);
    let bytes = print(s, Layout::Card, vec![(card, name)]).await?;
    Ok(pdf_response(bytes, &file))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SheetBody {
    serials: Vec<String>,
}

/// A4 sheets of ten cards with cut marks, for batch printing.
async fn sheet(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Json(body): Json<SheetBody>,
) -> Result<Response> {
    printed_sheet(&s, &body.serials).await
}

/// A4 sheets of the cards `serials` as a download (for the API and the console).
pub(crate) async fn printed_sheet(s: &AppState, serials: &[String]) -> Result<Response> {
    if serials.is_empty() || serials.len() > 1000 {
        return Err(AppError::field(
            "serials",
            "1 to 1000 card numbers / 须为1至1000个卡号",
        ));
    }
    let mut cards_and_names = Vec::new();
    for serial in serials {
        let card = cards::get(&s.db, serial).await?;
        if card.state == "revoked" {
            return Err(AppError::conflict(
                "card_revoked",
                format!("card {serial} is revoked"),
            ));
        }
        let name = holder_name(s, &card).await?;
        cards_and_names.push((card, name));
    }
    let bytes = print(s, Layout::Sheet, cards_and_names).await?;
    Ok(pdf_response(bytes, "cards.pdf"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: Reason,
}

async fn suspend(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(serial): Path<String>,
    Json(b): Json<ReasonBody>,
) -> Result<Json<CardRecord>> {
    Ok(Json(
        cards::change_state(
            &s.db,
            &serial,
            Action::Suspend,
            &b.reason,
            Some(caller.account_id),
        )
        .await?,
    ))
}

async fn reinstate(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(serial): Path<String>,
    Json(b): Json<ReasonBody>,
) -> Result<Json<CardRecord>> {
    Ok(Json(
        cards::change_state(
            &s.db,
            &serial,
            Action::Reinstate,
            &b.reason,
            Some(caller.account_id),
        )
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: RevokeReason,
    #[serde(default)]
    note: Option<Reason>,
}

async fn revoke(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(serial): Path<String>,
    Json(b): Json<RevokeBody>,
) -> Result<Json<CardRecord>> {
    let reason = b.reason.with_note(b.note.as_deref());
    Ok(Json(
        cards::change_state(
            &s.db,
            &serial,
            Action::Revoke,
            &reason,
            Some(caller.account_id),
        )
        .await?,
    ))
}

/// A lost or damaged card: a new card with a new serial; the old one is revoked in the same
/// transaction.
async fn reissue(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(serial): Path<String>,
    Json(b): Json<ReasonBody>,
) -> Result<(StatusCode, Json<CardRecord>)> {
    let book = s.rule_book().await?;
    let service = s.card_service()?;
    let card = crate::service::cards::reissue(
        &s.db,
        &service.issuer(&book)?,
        &serial,
        &b.reason,
        Some(caller.account_id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(card)))
}

/// Cards the service suspended after a register change, for the office to confirm (revoke) or
/// undo (reinstate).
async fn awaiting_confirmation(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Json<Vec<CardRecord>>> {
    Ok(Json(cards::awaiting_confirmation(&s.db).await?))
}

#[derive(Serialize)]
struct Reconciled {
    changed: Vec<CardRecord>,
}

/// Re-checks every household against the rules and suspends the cards of members no longer
/// entitled (also done in the transaction of every change to a file), one household at a time.
async fn reconcile_all(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Json<Reconciled>> {
    let book = s.rule_book().await?;
    let mut changed = Vec::new();
    // Each file is read again in its own transaction; only the ids are needed here.
    for id in households::ids(&s.db).await? {
        changed.extend(crate::service::register::reconcile(&s.db, &book, id, today()).await?);
    }
    Ok(Json(Reconciled { changed }))
}
