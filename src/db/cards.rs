//! Cards as stored: insert (with the reissued card's revocation), the lifecycle transitions that
//! exist, the automatic suspension's guarded update, and the reads. Who may get a card, and
//! when a register change suspends one, is `service::cards`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::card::CardState;
use crate::error::{AppError, Result};
use crate::{on_db, on_tx};

/// A card as the office sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CardRecord {
    /// Internal id.
    pub card_id: i64,
    /// The card number: 24 random hex characters.
    pub serial: String,
    /// The holder.
    pub member_id: i64,
    /// The holder's household.
    pub household_id: i64,
    /// The card's random place in the status list.
    pub status_index: i32,
    /// The key that signed it.
    pub key_id: String,
    /// Issue date.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub expires_on: NaiveDate,
    /// `active`, `suspended` or `revoked`.
    pub state: String,
    /// Why it is in that state.
    pub state_reason: Option<String>,
    /// Since when.
    pub state_changed_at: DateTime<Utc>,
    /// The card this one replaced (a reissue).
    pub replaces_card_id: Option<i64>,
    /// The signed QR text.
    pub qr_text: String,
}

/// One event in a card's life.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CardEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (none for automatic changes).
    pub account_id: Option<i64>,
    /// `issued`, `suspended`, `reinstated` or `revoked`.
    pub action: String,
    /// Why.
    pub reason: String,
    /// Made by the service when the register changed.
    pub automatic: bool,
}

const CARD_COLUMNS: &str =
    "card_id, serial, member_id, household_id, status_index, key_id, issued_on, expires_on,
    state, state_reason, state_changed_at, replaces_card_id, qr_text";

/// A card about to be stored: signed, with its dates and place in the status list.
pub struct NewCard<'a> {
    /// The holder.
    pub member_id: i64,
    /// The holder's household.
    pub household_id: i64,
    /// The signed card.
    pub card: &'a crate::card::qr::IssuedCard,
    /// Issue date.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub expires_on: NaiveDate,
    /// The card it replaces (a reissue), revoked with the reason in the same transaction.
    pub replaces: Option<(&'a CardRecord, &'a str)>,
    /// Who issues it.
    pub account_id: Option<i64>,
}

/// The household a member belongs to, read inside `tx`.
pub async fn household_of(tx: &mut Tx, member_id: i64) -> Result<i64> {
    on_tx!(tx, c => sqlx::query_scalar("select household_id from member where member_id = $1")
        .bind(member_id).fetch_optional(&mut *c).await)?
    .ok_or(AppError::NotFound("member"))
}

/// Stores a new active card and its event inside `tx`; with `replaces`, revokes that card first
/// (`bad_transition` if it is revoked already). A unique violation means the status index is
/// taken or the member holds a current card: the caller tells which.
pub async fn insert(tx: &mut Tx, new: &NewCard<'_>) -> Result<CardRecord> {
    let now = Utc::now();
    let serial = new.card.payload.serial.to_hex();
    let key_id = new.card.payload.key_id.to_hex();
    let index =
        i32::try_from(new.card.payload.status_index).map_err(|e| AppError::Internal(e.into()))?;
    let sql = format!("select {CARD_COLUMNS} from card where card_id = $1");
    let (account_id, replaces) = (new.account_id, new.replaces);
    let issued: CardRecord = on_tx!(tx, c => {
        if let Some((old, reason)) = replaces {
            let n = sqlx::query("update card set state = 'revoked', state_reason = $2, state_changed_at = $3 where card_id = $1 and state <> 'revoked'")
                .bind(old.card_id).bind(reason).bind(now).execute(&mut *c).await?.rows_affected();
            if n == 0 {
                return Err(AppError::conflict("bad_transition", "the card to replace is already revoked"));
            }
            sqlx::query("insert into card_event (card_id, at, account_id, action, reason, automatic) values ($1, $2, $3, 'revoked', $4, false)")
                .bind(old.card_id).bind(now).bind(account_id).bind(reason).execute(&mut *c).await?;
        }
        let id: i64 = sqlx::query_scalar(
            "insert into card (serial, member_id, household_id, status_index, key_id, issued_on, expires_on, state,
                state_reason, state_changed_at, replaces_card_id, qr_text, created_at, created_by)
             values ($1, $2, $3, $4, $5, $6, $7, 'active', null, $8, $9, $10, $8, $11) returning card_id")
            .bind(&serial).bind(new.member_id).bind(new.household_id).bind(index).bind(&key_id)
            .bind(new.issued_on).bind(new.expires_on).bind(now).bind(replaces.map(|(c, _)| c.card_id))
            .bind(&new.card.text).bind(account_id)
            .fetch_one(&mut *c).await?;
        let reason = if replaces.is_some() { "补办 / reissued" } else { "发卡 / issued" };
        sqlx::query("insert into card_event (card_id, at, account_id, action, reason, automatic) values ($1, $2, $3, 'issued', $4, false)")
            .bind(id).bind(now).bind(account_id).bind(reason).execute(&mut *c).await?;
        sqlx::query_as(&sql).bind(id).fetch_one(&mut *c).await?
    });
    Ok(issued)
}

/// Suspends a member's card inside `tx` if it is still active (never a suspended or revoked
/// one: a card is never moved backwards), recording the reason as an automatic event.
pub async fn suspend_active(
    tx: &mut Tx,
    member_id: i64,
    why: &str,
    now: DateTime<Utc>,
) -> Result<Option<CardRecord>> {
    let sql = format!(
        "update card set state = 'suspended', state_reason = $2, state_changed_at = $3
          where member_id = $1 and state = 'active' returning {CARD_COLUMNS}"
    );
    Ok(on_tx!(tx, c => {
        let card: Option<CardRecord> = sqlx::query_as(&sql)
            .bind(member_id).bind(why).bind(now).fetch_optional(&mut *c).await?;
        if let Some(card) = &card {
            sqlx::query("insert into card_event (card_id, at, account_id, action, reason, automatic) values ($1, $2, null, 'suspended', $3, true)")
                .bind(card.card_id).bind(now).bind(why).execute(&mut *c).await?;
        }
        card
    }))
}

/// The members holding a current (active or suspended) card.
pub async fn holders(db: &Db) -> Result<std::collections::HashSet<i64>> {
    Ok(on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "select member_id from card where state <> 'revoked'").fetch_all(p).await)?
    .into_iter()
    .collect())
}

/// The member's active or suspended card.
pub async fn current_card(db: &Db, member_id: i64) -> Result<Option<CardRecord>> {
    let sql =
        format!("select {CARD_COLUMNS} from card where member_id = $1 and state <> 'revoked'");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(member_id).fetch_optional(p).await)?)
}

async fn get_by_id(db: &Db, id: i64) -> Result<CardRecord> {
    let sql = format!("select {CARD_COLUMNS} from card where card_id = $1");
    on_db!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("card"))
}

/// A card by its serial.
pub async fn get(db: &Db, serial: &str) -> Result<CardRecord> {
    let sql = format!("select {CARD_COLUMNS} from card where serial = $1");
    on_db!(db, p => sqlx::query_as(&sql).bind(serial.to_ascii_lowercase()).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("card"))
}

/// Every card of a member, newest first.
pub async fn of_member(db: &Db, member_id: i64) -> Result<Vec<CardRecord>> {
    let sql = format!("select {CARD_COLUMNS} from card where member_id = $1 order by card_id desc");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(member_id).fetch_all(p).await)?)
}

/// A card's events, oldest first.
pub async fn events(db: &Db, card_id: i64) -> Result<Vec<CardEvent>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select at, account_id, action, reason, automatic from card_event where card_id = $1 order by card_event_id")
        .bind(card_id).fetch_all(p).await)?)
}

/// A lifecycle step the office takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// active → suspended.
    Suspend,
    /// suspended → active.
    Reinstate,
    /// active or suspended → revoked.
    Revoke,
}

/// Applies a lifecycle step, refusing transitions that do not exist.
pub async fn change_state(
    db: &Db,
    serial: &str,
    action: Action,
    reason: &str,
    account_id: Option<i64>,
) -> Result<CardRecord> {
    if reason.trim().is_empty() {
        return Err(AppError::field(
            "reason",
            "须说明原因 / a reason is required",
        ));
    }
    let card = get(db, serial).await?;
    let (from, to, verb): (&[&str], &str, &str) = match action {
        Action::Suspend => (&["active"], "suspended", "suspended"),
        Action::Reinstate => (&["suspended"], "active", "reinstated"),
        Action::Revoke => (&["active", "suspended"], "revoked", "revoked"),
    };
    if !from.contains(&card.state.as_str()) {
        return Err(AppError::conflict(
            "bad_transition",
            format!("a {} card cannot be {verb}", card.state),
        ));
    }
    let now = Utc::now();
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        let n = sqlx::query("update card set state = $2, state_reason = $3, state_changed_at = $4 where card_id = $1 and state = $5")
            .bind(card.card_id).bind(to).bind(reason.trim()).bind(now).bind(&card.state)
            .execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Err(AppError::conflict("bad_transition", "the card changed meanwhile; reload it"));
        }
        sqlx::query("insert into card_event (card_id, at, account_id, action, reason, automatic) values ($1, $2, $3, $4, $5, false)")
            .bind(card.card_id).bind(now).bind(account_id).bind(verb).bind(reason.trim()).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    get_by_id(db, card.card_id).await
}

/// Cards suspended automatically after a register change and not yet confirmed (revoked) or
/// undone (reinstated) by the office, oldest first.
pub async fn awaiting_confirmation(db: &Db) -> Result<Vec<CardRecord>> {
    let sql = format!(
        "select {CARD_COLUMNS} from card c where c.state = 'suspended' and (
            select e.automatic from card_event e where e.card_id = c.card_id
             order by e.card_event_id desc limit 1)
          order by c.state_changed_at, c.card_id"
    );
    Ok(on_db!(db, p => sqlx::query_as(&sql).fetch_all(p).await)?)
}

/// A card waiting for confirmation, with its holder, as the office's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AwaitingCard {
    /// The serial.
    pub serial: String,
    /// The holder's household.
    pub household_id: i64,
    /// The holder's name.
    pub holder: String,
    /// Why it was suspended.
    pub state_reason: Option<String>,
    /// When.
    pub state_changed_at: DateTime<Utc>,
}

/// [`awaiting_confirmation`] with the holders' names, in one query.
pub async fn awaiting_with_holders(db: &Db) -> Result<Vec<AwaitingCard>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select c.serial, c.household_id, m.name as holder, c.state_reason, c.state_changed_at
           from card c join member m on m.member_id = c.member_id
          where c.state = 'suspended' and (
            select e.automatic from card_event e where e.card_id = c.card_id
             order by e.card_event_id desc limit 1)
          order by c.state_changed_at, c.card_id")
        .fetch_all(p).await)?)
}

/// The state of every card that is not plainly valid, for the status list.
pub async fn non_valid_states(db: &Db) -> Result<Vec<(u32, CardState)>> {
    let rows: Vec<(i32, String)> = on_db!(db, p => sqlx::query_as("select status_index, state from card where state <> 'active'")
        .fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(i, s)| {
            let state = if s == "suspended" {
                CardState::Suspended
            } else {
                CardState::Revoked
            };
            u32::try_from(i).ok().map(|i| (i, state))
        })
        .collect())
}

/// A fingerprint of every card state, to tell when a cached status list is out of date.
pub async fn states_version(db: &Db) -> Result<(i64, Option<DateTime<Utc>>)> {
    Ok(
        on_db!(db, p => sqlx::query_as("select count(*), max(state_changed_at) from card").fetch_one(p).await)?,
    )
}

/// A stored card state as the verifier sees it.
pub fn parse_state(state: &str) -> CardState {
    match state {
        "active" => CardState::Valid,
        "suspended" => CardState::Suspended,
        _ => CardState::Revoked,
    }
}

/// A page of cards in id order after `after`, optionally in one state.
pub async fn list(db: &Db, state: Option<&str>, after: i64, limit: i64) -> Result<Vec<CardRecord>> {
    let sql = format!("select {CARD_COLUMNS} from card where ($1 is null or state = $1) and card_id > $2 order by card_id limit $3");
    Ok(
        on_db!(db, p => sqlx::query_as(&sql).bind(state).bind(after).bind(limit).fetch_all(p).await)?,
    )
}

/// A card with its holder, as the office's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardLine {
    /// The serial.
    pub serial: String,
    /// `active`, `suspended`, `revoked`.
    pub state: String,
    /// Issued.
    pub issued_on: NaiveDate,
    /// Expires.
    pub expires_on: NaiveDate,
    /// The holder's household.
    pub household_id: i64,
    /// The holder's name.
    pub holder: String,
    /// The household's township.
    pub township_id: String,
}

/// The latest `limit` cards (of one state and township, if given), newest first.
pub async fn with_holders(
    db: &Db,
    state: Option<&str>,
    township: Option<&str>,
    limit: i64,
) -> Result<Vec<CardLine>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select c.serial, c.state, c.issued_on, c.expires_on, c.household_id, m.name as holder, h.township_id
           from card c join member m on m.member_id = c.member_id
           join household h on h.household_id = c.household_id
          where ($1 is null or c.state = $1) and ($2 is null or h.township_id = $2)
          order by c.card_id desc limit $3")
        .bind(state).bind(township).bind(limit).fetch_all(p).await)?)
}
