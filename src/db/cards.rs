//! Cards and their lifecycle: issue (only to members entitled to `green_channel`), reissue,
//! suspend, reinstate, revoke, and the automatic suspension when the register changes so that a
//! member is no longer entitled (the office then confirms or undoes it).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::households::{self, HouseholdRecord};
use super::{Db, Tx};
use crate::card::pdf::CardRenderer;
use crate::card::qr::{self, CardRequest};
use crate::card::{CardSigner, CardState};
use crate::error::{AppError, Result};
use crate::rules::{evaluate, Code, Evaluation, RuleBook, Status};
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

/// Whether `member_id` is granted `green_channel` in an evaluation.
pub fn green_channel_granted(ev: &Evaluation, member_id: i64) -> bool {
    let id = member_id.to_string();
    ev.entitlements.iter().any(|e| {
        e.code == Code::GreenChannel
            && e.status == Status::Granted
            && e.member.as_deref() == Some(id.as_str())
    })
}

/// Why a member is not granted `green_channel`, in both languages.
fn why_not(ev: &Evaluation, member_id: i64) -> String {
    if !ev.eligible {
        return format!("{} / {}", ev.eligibility.zh, ev.eligibility.en);
    }
    let id = member_id.to_string();
    ev.not_applicable
        .iter()
        .chain(ev.entitlements.iter())
        .find(|e| e.code == Code::GreenChannel && e.member.as_deref() == Some(id.as_str()))
        .map_or_else(
            || {
                "该成员不享受就医绿色通道 / the member is not entitled to the green channel"
                    .to_owned()
            },
            |e| format!("{} / {}", e.basis.zh, e.basis.en),
        )
}

/// What the office needs to issue a card.
pub struct Issuer<'a> {
    /// The active signing key.
    pub signer: std::sync::Arc<CardSigner>,
    /// The rules, to check entitlement and cap the expiry.
    pub book: &'a RuleBook,
    /// The printer, whose font must draw the holder's name (none when printing is unavailable).
    pub printer: Option<&'a CardRenderer>,
    /// Issue date.
    pub today: NaiveDate,
}

/// Issues a card to a member entitled to `green_channel`; with `replaces`, the old card is revoked
/// in the same transaction (a reissue). Entitlement is judged on the household file read in that
/// transaction, with the file locked, so a change that ends it either lands before (and the
/// card is refused) or after (and suspends the new card).
pub async fn issue(
    db: &Db,
    issuer: &Issuer<'_>,
    member_id: i64,
    replaces: Option<(&CardRecord, &str)>,
    account_id: Option<i64>,
) -> Result<CardRecord> {
    // A random status index may collide with a used one: draw again (the space holds 131,072).
    for _ in 0..16 {
        let mut tx = db.begin().await?;
        match issue_in(&mut tx, issuer, member_id, replaces, account_id).await {
            Ok(card) => {
                tx.commit().await?;
                return Ok(card);
            }
            Err(AppError::Database(e)) if crate::error::is_unique_violation(&e) => {
                drop(tx);
                // Either the index (draw again) or the member already holds a current card.
                if current_card(db, member_id)
                    .await?
                    .is_some_and(|c| replaces.is_none_or(|(old, _)| old.card_id != c.card_id))
                {
                    return Err(AppError::conflict(
                        "card_exists",
                        "the member already holds a current card: reissue or revoke it",
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free status-list index after 16 draws"
    )))
}

/// One attempt of [`issue`] inside `tx`.
async fn issue_in(
    tx: &mut Tx,
    issuer: &Issuer<'_>,
    member_id: i64,
    replaces: Option<(&CardRecord, &str)>,
    account_id: Option<i64>,
) -> Result<CardRecord> {
    let household_id: i64 =
        on_tx!(tx, c => sqlx::query_scalar("select household_id from member where member_id = $1")
        .bind(member_id).fetch_optional(&mut *c).await)?
        .ok_or(AppError::NotFound("member"))?;
    let record = households::locked(tx, household_id).await?;
    let member = record
        .members
        .iter()
        .find(|m| m.member_id == member_id)
        .ok_or(AppError::NotFound("member"))?;
    let ev = evaluate(issuer.book, &record.facts(), issuer.today)
        .map_err(|e| AppError::bad_request("no_rule_set", e.to_string()))?;
    if !green_channel_granted(&ev, member_id) {
        return Err(AppError::conflict(
            "not_entitled",
            format!("不能发卡 / no card: {}", why_not(&ev, member_id)),
        ));
    }
    if let Some(printer) = issuer.printer {
        printer
            .check_glyphs(&member.name, "holder name")
            .map_err(|e| AppError::conflict("name_not_printable", e.to_string()))?;
    }
    let rule_set_until = issuer
        .book
        .in_force(issuer.today)
        .map_err(|e| AppError::bad_request("no_rule_set", e.to_string()))?
        .until();
    let expires = rule_set_until.min(issuer.signer.entry().valid_until);
    let now = Utc::now();
    let mut rng = rand::rngs::OsRng;
    let request = CardRequest {
        full_name: &member.name,
        id_number: &member.id_number,
        issued: issuer.today,
        expires,
        status_index: qr::random_status_index(&mut rng),
    };
    let card = qr::issue(&issuer.signer, &request, &mut rng)
        .map_err(|e| AppError::bad_request("card_not_issuable", e.to_string()))?;
    let serial = card.payload.serial.to_hex();
    let key_id = card.payload.key_id.to_hex();
    let index =
        i32::try_from(card.payload.status_index).map_err(|e| AppError::Internal(e.into()))?;
    let sql = format!("select {CARD_COLUMNS} from card where card_id = $1");
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
            .bind(&serial).bind(member_id).bind(household_id).bind(index).bind(&key_id)
            .bind(issuer.today).bind(expires).bind(now).bind(replaces.map(|(c, _)| c.card_id))
            .bind(&card.text).bind(account_id)
            .fetch_one(&mut *c).await?;
        let reason = if replaces.is_some() { "补办 / reissued" } else { "发卡 / issued" };
        sqlx::query("insert into card_event (card_id, at, account_id, action, reason, automatic) values ($1, $2, $3, 'issued', $4, false)")
            .bind(id).bind(now).bind(account_id).bind(reason).execute(&mut *c).await?;
        sqlx::query_as(&sql).bind(id).fetch_one(&mut *c).await?
    });
    Ok(issued)
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

/// After a household file changed, inside the transaction that changed it: suspends the
/// current cards of members no longer entitled to `green_channel`, recording why. Never
/// revokes: an automatic change waits for the office to confirm it (revoke) or undo it
/// (reinstate), so one mistaken edit cannot end a family's cards for good. Never moves a card
/// backwards either: only a card still `active` when the update runs is suspended. Returns the
/// cards suspended.
pub async fn reconcile(
    tx: &mut Tx,
    book: &RuleBook,
    record: &HouseholdRecord,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<CardRecord>> {
    let Ok(ev) = evaluate(book, &record.facts(), today) else {
        // No rule set in force: cards stop at their expiry, capped by the rule set's window.
        return Ok(Vec::new());
    };
    let mut suspended = Vec::new();
    let sql = format!(
        "update card set state = 'suspended', state_reason = $2, state_changed_at = $3
          where member_id = $1 and state = 'active' returning {CARD_COLUMNS}"
    );
    for m in &record.members {
        if green_channel_granted(&ev, m.member_id) {
            continue;
        }
        let why = format!("自动 / automatic: {}", why_not(&ev, m.member_id));
        let card: Option<CardRecord> = on_tx!(tx, c => {
            let card: Option<CardRecord> = sqlx::query_as(&sql)
                .bind(m.member_id).bind(&why).bind(now).fetch_optional(&mut *c).await?;
            if let Some(card) = &card {
                sqlx::query("insert into card_event (card_id, at, account_id, action, reason, automatic) values ($1, $2, null, 'suspended', $3, true)")
                    .bind(card.card_id).bind(now).bind(&why).execute(&mut *c).await?;
            }
            card
        });
        suspended.extend(card);
    }
    Ok(suspended)
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

/// Members entitled to `green_channel` today without a current card (for batch issuing).
pub async fn members_without_card(db: &Db, book: &RuleBook, today: NaiveDate) -> Result<Vec<i64>> {
    let with: std::collections::HashSet<i64> = on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "select member_id from card where state <> 'revoked'").fetch_all(p).await)?
    .into_iter()
    .collect();
    let mut out = Vec::new();
    for h in households::all_records(db, None).await? {
        let Ok(ev) = evaluate(book, &h.facts(), today) else {
            continue;
        };
        out.extend(
            h.members
                .iter()
                .map(|m| m.member_id)
                .filter(|id| !with.contains(id) && green_channel_granted(&ev, *id)),
        );
    }
    Ok(out)
}

/// A page of cards in id order after `after`, optionally in one state.
pub async fn list(db: &Db, state: Option<&str>, after: i64, limit: i64) -> Result<Vec<CardRecord>> {
    let sql = format!("select {CARD_COLUMNS} from card where ($1 is null or state = $1) and card_id > $2 order by card_id limit $3");
    Ok(
        on_db!(db, p => sqlx::query_as(&sql).bind(state).bind(after).bind(limit).fetch_all(p).await)?,
    )
}
