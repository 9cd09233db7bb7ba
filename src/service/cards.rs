//! Who may hold a card, and what a register change does to cards: issuing only to members
//! entitled to `green_channel` on the file read (and locked) in the issuing transaction, the
//! expiry capped by the rule set and the key, and the automatic suspension (never revocation) of
//! the cards of members a change leaves without entitlement.

use chrono::{DateTime, NaiveDate, Utc};

use crate::card::pdf::CardRenderer;
use crate::card::qr::{self, CardRequest};
use crate::card::CardSigner;
use crate::db::cards::{self, CardRecord, NewCard};
use crate::db::households::{self, HouseholdRecord};
use crate::db::{Db, Tx};
use crate::error::{AppError, Result};
use crate::rules::{evaluate, Code, Evaluation, RuleBook};

/// Whether `member_id` is granted `green_channel` in an evaluation.
pub fn green_channel_granted(ev: &Evaluation, member_id: i64) -> bool {
    super::granted(ev, Code::GreenChannel, member_id)
}

/// Why a member is not granted `green_channel`, in both languages.
fn why_not(ev: &Evaluation, member_id: i64) -> String {
    super::why_not(ev, Code::GreenChannel, member_id)
}

/// Why a card is revoked: a closed list, so that reports can count them.
#[derive(Debug, serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// Another child born or adopted.
    AnotherChild,
    /// The hukou moved out of the district.
    HukouMovedOut,
    /// The holder died.
    Death,
    /// Issued in error.
    Error,
    /// Lost.
    Lost,
}

impl RevokeReason {
    /// The reason as recorded, in both languages.
    pub fn text(self) -> &'static str {
        match self {
            Self::AnotherChild => "再生育或收养子女 / another child born or adopted",
            Self::HukouMovedOut => "户籍迁出本区 / hukou moved out of the district",
            Self::Death => "持卡人死亡 / the holder died",
            Self::Error => "发卡错误 / issued in error",
            Self::Lost => "卡片遗失 / card lost",
        }
    }

    /// The recorded reason with the office's note, if any.
    pub fn with_note(self, note: Option<&str>) -> String {
        match note.map(str::trim).filter(|n| !n.is_empty()) {
            Some(note) => format!("{}: {note}", self.text()),
            None => self.text().to_owned(),
        }
    }
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
                if cards::current_card(db, member_id)
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

/// A lost or damaged card replaced: a new card with a new serial, the old one revoked in the same
/// transaction. A revoked card is not reissued (issue a new card instead).
pub async fn reissue(
    db: &Db,
    issuer: &Issuer<'_>,
    serial: &str,
    reason: &str,
    account_id: Option<i64>,
) -> Result<CardRecord> {
    if reason.trim().is_empty() {
        return Err(AppError::field(
            "reason",
            "须说明原因 / a reason is required",
        ));
    }
    let old = cards::get(db, serial).await?;
    if old.state == "revoked" {
        return Err(AppError::conflict(
            "bad_transition",
            "a revoked card cannot be reissued; issue a new card to the member",
        ));
    }
    let reason = format!("补办，旧卡作废 / reissued: {}", reason.trim());
    issue(db, issuer, old.member_id, Some((&old, &reason)), account_id).await
}

/// One attempt of [`issue`] inside `tx`.
async fn issue_in(
    tx: &mut Tx,
    issuer: &Issuer<'_>,
    member_id: i64,
    replaces: Option<(&CardRecord, &str)>,
    account_id: Option<i64>,
) -> Result<CardRecord> {
    let household_id = cards::household_of(tx, member_id).await?;
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
    let issued = cards::insert(
        tx,
        &NewCard {
            member_id,
            household_id,
            card: &card,
            issued_on: issuer.today,
            expires_on: expires,
            replaces,
            account_id,
        },
    )
    .await?;
    Ok(issued)
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
    for m in &record.members {
        if green_channel_granted(&ev, m.member_id) {
            continue;
        }
        let why = format!("自动 / automatic: {}", why_not(&ev, m.member_id));
        suspended.extend(cards::suspend_active(tx, m.member_id, &why, now).await?);
    }
    Ok(suspended)
}

/// Members entitled to `green_channel` today without a current card (for batch issuing).
pub async fn members_without_card(
    db: &Db,
    book: &RuleBook,
    today: NaiveDate,
    township: Option<&str>,
) -> Result<Vec<i64>> {
    let with = cards::holders(db).await?;
    let mut out = Vec::new();
    for h in households::all_records(db, township).await? {
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

/// A member whose card could not be issued in a batch, and why.
#[derive(Debug, serde::Serialize)]
pub struct BatchFailure {
    /// The member.
    pub member_id: i64,
    /// The stable code of the refusal.
    pub code: &'static str,
    /// Its text.
    pub detail: String,
}

/// What a batch issued and what it could not.
#[derive(Debug, Default, serde::Serialize)]
pub struct BatchResult {
    /// Serials of the cards issued.
    pub issued: Vec<String>,
    /// Members refused, with the reason.
    pub failed: Vec<BatchFailure>,
}

/// Issues a card to every entitled member without a current card (of one township, if given).
/// Each card is its own transaction: one member's refusal is reported and loses nothing for
/// the others, and a re-run issues only what is still missing.
pub async fn issue_all(
    db: &Db,
    issuer: &Issuer<'_>,
    township: Option<&str>,
    account_id: Option<i64>,
) -> Result<BatchResult> {
    let mut result = BatchResult::default();
    for member_id in members_without_card(db, issuer.book, issuer.today, township).await? {
        match issue(db, issuer, member_id, None, account_id).await {
            Ok(card) => result.issued.push(card.serial),
            Err(e @ (AppError::Conflict { .. } | AppError::BadRequest { .. })) => {
                let code = match &e {
                    AppError::Conflict { code, .. } | AppError::BadRequest { code, .. } => *code,
                    _ => "error",
                };
                result.failed.push(BatchFailure {
                    member_id,
                    code,
                    detail: e.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(result)
}
