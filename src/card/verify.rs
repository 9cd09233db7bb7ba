//! Verification: one code path for the desk (online, state from the database) and the
//! `card verify` command (offline, state from a signed status list).
//!
//! Order of checks, first failure wins: `malformed` → `unknown_key` → `bad_signature` →
//! `key_compromised` / `key_retired` → `key_not_valid_for_card` → `revoked` → `not_yet_valid`
//! → `expired` → `suspended` → status-list problems (`status_list_stale`,
//! `status_list_bad_signature`, `status_list_unknown_key`, `status_list_untrusted`) → `valid`.
//! A revocation found in a stale list still counts (revocation is final); a suspension or a
//! clean entry in it does not make a card `valid`.

use crate::card::keyset::{KeyEntry, KeySet, KeyStatus, ResolvedKey};
use crate::card::payload::CardPayload;
use crate::card::qr::{decode_text, SignedCard};
use crate::card::status::{CardState, SignedStatusList, StatusListError, VerifiedStatusList};
use chrono::{DateTime, NaiveDate, Utc};
pub use seen::VerifiedTexts;
use serde::{Deserialize, Serialize};

mod seen;
pub mod strict;

/// The answer about one card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Genuine, current, not suspended or revoked.
    Valid,
    /// Revoked (lost and reissued, no longer entitled, error…).
    Revoked,
    /// Suspended while the family's status is reviewed.
    Suspended,
    /// Past its expiry date.
    Expired,
    /// Before its issue date.
    NotYetValid,
    /// The signature does not verify under the key the card names.
    BadSignature,
    /// The card names a key that is not in the key set.
    UnknownKey,
    /// The signing key is marked compromised: none of its cards are trusted.
    KeyCompromised,
    /// The signing key is retired.
    KeyRetired,
    /// Correctly signed, but with dates the key was not allowed to sign (outside its
    /// validity, or issued after the key was rotated out).
    KeyNotValidForCard,
    /// Not a card text at all, or one that breaks the layout.
    Malformed,
    /// The card looks fine but the status list is past its `valid_until`.
    StatusListStale,
    /// The status list's signature does not verify.
    StatusListBadSignature,
    /// The status list is signed by a key not in the key set (e.g. another district's).
    StatusListUnknownKey,
    /// The status list is malformed, issued in the future, or signed by a retired or
    /// compromised key.
    StatusListUntrusted,
}

/// Where the card's revocation state comes from.
#[derive(Debug, Clone, Copy)]
pub enum StatusSource<'a> {
    /// Not checked (offline without a list): a good card is `valid`, with
    /// `status_check: not_checked` in the answer.
    NotChecked,
    /// The state straight from the database (online).
    Lookup(CardState),
    /// A verified, fresh status list.
    List(&'a VerifiedStatusList),
    /// A status list that failed verification; the card cannot be `valid`.
    Untrusted(&'a StatusListError),
}

/// How the revocation state was established, reported beside the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCheck {
    /// Not checked.
    NotChecked,
    /// From the database.
    Database,
    /// From a verified, fresh status list.
    StatusList,
    /// The status list offered could not be trusted.
    UntrustedStatusList,
}

/// The holder fields a desk may see; only present when the signature is good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFields {
    /// The masked name, e.g. 张*兰.
    pub masked_name: String,
    /// The last four characters of the ID number.
    pub id_last_four: String,
    /// The card serial, 24 hex digits.
    pub serial: String,
    /// The issue date.
    pub issued: NaiveDate,
    /// The last valid day.
    pub expires: NaiveDate,
    /// The signing key's id.
    pub key_id: String,
    /// The card's status-list index (lets the desk side look the state up).
    pub status_index: u32,
}

/// The result of verifying one card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// How the revocation state was established.
    pub status_check: StatusCheck,
    /// A short human explanation for verdicts other than `valid` (never holder data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The holder fields, when the signature is good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardFields>,
}

impl Verification {
    fn bare(verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            verdict,
            status_check: StatusCheck::NotChecked,
            detail: Some(detail.into()),
            card: None,
        }
    }
}

/// Verifies one scanned QR text against a key set and a revocation state on a date (the
/// local date at the desk).
pub fn verify(text: &str, keys: &KeySet, status: StatusSource<'_>, on: NaiveDate) -> Verification {
    match check_signature(text, keys) {
        Ok(card) => card.judge(status, on),
        Err(v) => *v,
    }
}

/// A card whose signature is good, not yet judged against its revocation state and dates.
#[derive(Debug, Clone)]
pub struct SignatureChecked {
    payload: CardPayload,
    entry: KeyEntry,
}

impl SignatureChecked {
    /// The signed payload.
    pub fn payload(&self) -> &CardPayload {
        &self.payload
    }

    /// The verdict, given the revocation state (the rest of [`verify`]).
    pub fn judge(&self, status: StatusSource<'_>, on: NaiveDate) -> Verification {
        judge(&self.payload, &self.entry, status, on)
    }
}

/// The first half of [`verify`]: decodes the text, resolves its key and checks its signature
/// strictly (`verify_strict`'s verdict, computed by [`strict::StrictKey`]). The caller then judges the card with its state, e.g. after reading the
/// state in the same transaction that records the verification.
pub fn check_signature(text: &str, keys: &KeySet) -> Result<SignatureChecked, Box<Verification>> {
    let (card, key) =
        decode_and_resolve(text, keys).map_err(|(v, d)| Box::new(Verification::bare(v, d)))?;
    if !key.strict.verify(&card.message, &card.signature) {
        return Err(Box::new(Verification::bare(
            Verdict::BadSignature,
            "the signature does not verify",
        )));
    }
    Ok(SignatureChecked {
        payload: card.payload,
        entry: key.entry.clone(),
    })
}

fn decode_and_resolve<'k>(
    text: &str,
    keys: &'k KeySet,
) -> Result<(SignedCard, ResolvedKey<'k>), (Verdict, String)> {
    let card = decode_text(text).map_err(|e| (Verdict::Malformed, e.to_string()))?;
    let resolved = keys.resolve(&card.payload.key_id).ok_or_else(|| {
        (
            Verdict::UnknownKey,
            format!("key {} is not in the key set", card.payload.key_id),
        )
    })?;
    Ok((card, resolved))
}

/// Everything after a good signature: key status, key validity, revocation, dates.
fn judge(
    payload: &CardPayload,
    entry: &KeyEntry,
    status: StatusSource<'_>,
    on: NaiveDate,
) -> Verification {
    let (state, status_check, list_problem) = match status {
        StatusSource::NotChecked => (None, StatusCheck::NotChecked, None),
        StatusSource::Lookup(state) => (Some(state), StatusCheck::Database, None),
        StatusSource::List(list) => (
            list.list.get(payload.status_index),
            StatusCheck::StatusList,
            None,
        ),
        StatusSource::Untrusted(err) => {
            // Only a revocation is taken from a stale list; nothing else in it is trusted.
            let revoked = match err {
                StatusListError::Stale { list, .. } => list
                    .list
                    .get(payload.status_index)
                    .filter(|s| *s == CardState::Revoked),
                _ => None,
            };
            (revoked, StatusCheck::UntrustedStatusList, Some(err))
        }
    };
    let (verdict, detail) = if entry.status == KeyStatus::Compromised {
        (
            Verdict::KeyCompromised,
            Some(format!("key {} is compromised", entry.key_id)),
        )
    } else if entry.status == KeyStatus::Retired {
        (
            Verdict::KeyRetired,
            Some(format!("key {} is retired", entry.key_id)),
        )
    } else if !entry.covers(payload.issued, payload.expires) {
        (
            Verdict::KeyNotValidForCard,
            Some("the key was not allowed to sign these dates".to_owned()),
        )
    } else if state == Some(CardState::Revoked) {
        (Verdict::Revoked, None)
    } else if on < payload.issued {
        (Verdict::NotYetValid, None)
    } else if on > payload.expires {
        (Verdict::Expired, None)
    } else if state == Some(CardState::Suspended) {
        (Verdict::Suspended, None)
    } else if let Some(err) = list_problem {
        let verdict = match err {
            StatusListError::Stale { .. } => Verdict::StatusListStale,
            StatusListError::BadSignature => Verdict::StatusListBadSignature,
            StatusListError::UnknownKey(_) => Verdict::StatusListUnknownKey,
            _ => Verdict::StatusListUntrusted,
        };
        (verdict, Some(err.to_string()))
    } else {
        (Verdict::Valid, None)
    };
    Verification {
        verdict,
        status_check,
        detail,
        card: Some(CardFields {
            masked_name: payload.masked_name.as_str().to_owned(),
            id_last_four: payload.id_last_four.as_str().to_owned(),
            serial: payload.serial.to_hex(),
            issued: payload.issued,
            expires: payload.expires,
            key_id: payload.key_id.to_hex(),
            status_index: payload.status_index,
        }),
    }
}

/// Exit code of `card verify` for anything but `valid`.
pub const EXIT_NOT_VALID: i32 = 1;
/// Exit code of `card verify` when the key set cannot be read.
pub const EXIT_USAGE: i32 = 2;

/// The `greenchannel card verify` result: the JSON to print and the exit code (0 only for
/// `valid`, 1 for any other verdict, 2 when the key set itself is unreadable).
///
/// `now` is the instant the status list's freshness is judged at; `on` is the card date
/// (the CLI's `--at`, else today in the office's time zone).
pub fn cli_verify(
    text: &str,
    keys_json: &str,
    status_list_json: Option<&str>,
    now: DateTime<Utc>,
    on: NaiveDate,
) -> (serde_json::Value, i32) {
    let keys = match KeySet::from_json(keys_json) {
        Ok(keys) => keys,
        Err(e) => return (serde_json::json!({ "error": e.to_string() }), EXIT_USAGE),
    };
    let list = status_list_json
        .map(|json| SignedStatusList::from_json(json).and_then(|l| l.verify(&keys, now)));
    let source = match &list {
        None => StatusSource::NotChecked,
        Some(Ok(list)) => StatusSource::List(list),
        Some(Err(err)) => StatusSource::Untrusted(err),
    };
    let answer = verify(text, &keys, source, on);
    let code = if answer.verdict == Verdict::Valid {
        0
    } else {
        EXIT_NOT_VALID
    };
    let json = serde_json::to_value(&answer)
        .unwrap_or_else(|_| serde_json::json!({ "verdict": "malformed" }));
    (json, code)
}
