//! The status list: a signed, gzip-compressed bitstring of every card's state, indexed by the
//! card's status-list index, in the spirit of the W3C Bitstring Status List.
//!
//! - Fixed size: [`STATUS_LIST_SIZE`] entries whatever the number of cards, so the list says
//!   nothing about how many cards exist (herd privacy).
//! - Two bits per entry, most significant bits first: entry `i` is bits
//!   `(6 - 2 * (i % 4))..` of byte `i / 4`. `00` valid, `01` suspended, `10` revoked; `11` is
//!   reserved and read as revoked, the safe side.
//! - The envelope is JSON; the signature covers [`STATUS_LIST_SIGNING_CONTEXT`] followed by
//!   `version`, `key_id`, `issued_at`, `valid_until`, `size`, `bits_per_entry`, `encoded_list`
//!   each followed by `\n`, exactly as the strings appear in the JSON.

use crate::card::error::CardError;
use crate::card::keys::CardSigner;
use crate::card::keyset::{KeyId, KeySet, KeyStatus};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::Signature;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use std::io::{Read as _, Write as _};

/// Entries in every status list.
pub const STATUS_LIST_SIZE: u32 = 131_072;
/// Bits per entry.
pub const BITS_PER_ENTRY: u8 = 2;
const LIST_BYTES: usize = STATUS_LIST_SIZE as usize / 4;
/// Domain separation for status-list signatures (see [`crate::card::qr::CARD_SIGNING_CONTEXT`]).
pub const STATUS_LIST_SIGNING_CONTEXT: &[u8] = b"greenchannel/status-list/v1\n";

/// The revocation state of one card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// Not suspended or revoked.
    Valid,
    /// Suspended while the family's status is reviewed; may be reinstated.
    Suspended,
    /// Revoked for good.
    Revoked,
}

/// An unsigned, uncompressed status list.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: Vec<u8>,
}

impl std::fmt::Debug for StatusList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flagged = (0..STATUS_LIST_SIZE)
            .filter(|i| self.get(*i) != Some(CardState::Valid))
            .count();
        write!(f, "StatusList({flagged} suspended or revoked)")
    }
}

impl Default for StatusList {
    fn default() -> Self {
        Self {
            bits: vec![0; LIST_BYTES],
        }
    }
}

impl StatusList {
    /// Builds a list from `(index, state)` pairs; every other entry is valid.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (u32, CardState)>,
    ) -> Result<Self, CardError> {
        let mut list = Self::default();
        for (index, state) in entries {
            list.set(index, state)?;
        }
        Ok(list)
    }

    /// Sets one entry.
    pub fn set(&mut self, index: u32, state: CardState) -> Result<(), CardError> {
        let byte = self
            .bits
            .get_mut(index as usize / 4)
            .ok_or(CardError::StatusIndexOutOfRange(index))?;
        let shift = 6 - 2 * (index % 4);
        let code = match state {
            CardState::Valid => 0b00,
            CardState::Suspended => 0b01,
            CardState::Revoked => 0b10,
        };
        *byte = (*byte & !(0b11 << shift)) | (code << shift);
        Ok(())
    }

    /// Reads one entry; `None` outside the list.
    pub fn get(&self, index: u32) -> Option<CardState> {
        let byte = self.bits.get(index as usize / 4)?;
        Some(match (byte >> (6 - 2 * (index % 4))) & 0b11 {
            0b00 => CardState::Valid,
            0b01 => CardState::Suspended,
            _ => CardState::Revoked,
        })
    }

    /// Compresses and signs the list, stamped with when it was made and how long it may be
    /// trusted.
    pub fn sign(
        &self,
        signer: &CardSigner,
        issued_at: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    ) -> SignedStatusList {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let compressed = gz
            .write_all(&self.bits)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        let mut list = SignedStatusList {
            version: 1,
            key_id: signer.key_id().to_hex(),
            issued_at: issued_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            valid_until: valid_until.to_rfc3339_opts(SecondsFormat::Secs, true),
            size: STATUS_LIST_SIZE,
            bits_per_entry: BITS_PER_ENTRY,
            encoded_list: URL_SAFE_NO_PAD.encode(compressed),
            signature: String::new(),
        };
        list.signature = URL_SAFE_NO_PAD.encode(signer.sign(&list.signed_message()));
        list
    }
}

/// The signed JSON envelope served at `GET /api/v1/status-list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedStatusList {
    /// Envelope version, 1.
    pub version: u8,
    /// The signing key's id, 16 hex digits.
    pub key_id: String,
    /// When the list was made (RFC 3339, UTC).
    pub issued_at: String,
    /// After this instant the list is stale (RFC 3339, UTC).
    pub valid_until: String,
    /// Entries, [`STATUS_LIST_SIZE`].
    pub size: u32,
    /// Bits per entry, [`BITS_PER_ENTRY`].
    pub bits_per_entry: u8,
    /// The bitstring, gzip-compressed, base64url without padding.
    pub encoded_list: String,
    /// Ed25519 signature, base64url without padding.
    pub signature: String,
}

/// Why a status list cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    /// Not a status list, or a field cannot be decoded.
    #[error("status list is malformed: {0}")]
    Malformed(String),
    /// Signed by a key that is not in the key set (another district, or a forged list).
    #[error("status list is signed by unknown key {0}")]
    UnknownKey(String),
    /// Signed by a key that is retired or compromised.
    #[error("status list is signed by a {1} key {0}")]
    KeyNotTrusted(String, KeyStatus),
    /// The signature does not verify.
    #[error("status list signature is bad")]
    BadSignature,
    /// Correctly signed but past `valid_until`; the list is kept so that revocations in it
    /// still count (a revoked card is never reinstated).
    #[error("status list is stale: valid until {valid_until}")]
    Stale {
        /// When it stopped being valid.
        valid_until: DateTime<Utc>,
        /// The list, for its revocations only.
        list: Box<VerifiedStatusList>,
    },
    /// Stamped as made in the future (clock error or tampering).
    #[error("status list is issued in the future ({0})")]
    IssuedInFuture(DateTime<Utc>),
}

impl StatusListError {
    /// A stable snake_case code for JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "status_list_malformed",
            Self::UnknownKey(_) => "status_list_unknown_key",
            Self::KeyNotTrusted(..) => "status_list_key_not_trusted",
            Self::BadSignature => "status_list_bad_signature",
            Self::Stale { .. } => "status_list_stale",
            Self::IssuedInFuture(_) => "status_list_issued_in_future",
        }
    }
}

/// A status list whose signature, key and freshness have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStatusList {
    /// The entries.
    pub list: StatusList,
    /// The key that signed it.
    pub key_id: KeyId,
    /// When it was made.
    pub issued_at: DateTime<Utc>,
    /// When it goes stale.
    pub valid_until: DateTime<Utc>,
}

/// Clock skew tolerated for `issued_at` (desk PCs' clocks drift).
const MAX_SKEW_SECS: i64 = 300;

impl SignedStatusList {
    /// The envelope as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses an envelope (the signature is checked by [`Self::verify`]).
    pub fn from_json(json: &str) -> Result<Self, StatusListError> {
        serde_json::from_str(json).map_err(|e| StatusListError::Malformed(e.to_string()))
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut m = STATUS_LIST_SIGNING_CONTEXT.to_vec();
        for field in [
            self.version.to_string().as_str(),
            &self.key_id,
            &self.issued_at,
            &self.valid_until,
            self.size.to_string().as_str(),
            self.bits_per_entry.to_string().as_str(),
            &self.encoded_list,
        ] {
            m.extend_from_slice(field.as_bytes());
            m.push(b'\n');
        }
        m
    }

    /// Checks key, signature and freshness at `now`, then decodes the bitstring.
    pub fn verify(
        &self,
        keys: &KeySet,
        now: DateTime<Utc>,
    ) -> Result<VerifiedStatusList, StatusListError> {
        let malformed = |what: &str| StatusListError::Malformed(what.to_owned());
        let key_id = KeyId::parse_hex(&self.key_id).ok_or_else(|| malformed("key_id"))?;
        let key = keys
            .resolve(&key_id)
            .ok_or_else(|| StatusListError::UnknownKey(self.key_id.clone()))?;
        if matches!(
            key.entry.status,
            KeyStatus::Retired | KeyStatus::Compromised
        ) {
            return Err(StatusListError::KeyNotTrusted(
                self.key_id.clone(),
                key.entry.status,
            ));
        }
        let sig: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&self.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| malformed("signature"))?;
        key.key
            .verify_strict(&self.signed_message(), &Signature::from_bytes(&sig))
            .map_err(|_| StatusListError::BadSignature)?;
        // Only signed content from here on.
        if self.version != 1
            || self.size != STATUS_LIST_SIZE
            || self.bits_per_entry != BITS_PER_ENTRY
        {
            return Err(malformed("unsupported version, size or bits_per_entry"));
        }
        let parse = |s: &str, what: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| malformed(what))
        };
        let issued_at = parse(&self.issued_at, "issued_at")?;
        let valid_until = parse(&self.valid_until, "valid_until")?;
        let bits = decode_bits(&self.encoded_list).ok_or_else(|| malformed("encoded_list"))?;
        let verified = VerifiedStatusList {
            list: StatusList { bits },
            key_id,
            issued_at,
            valid_until,
        };
        if issued_at > now + chrono::Duration::seconds(MAX_SKEW_SECS) {
            return Err(StatusListError::IssuedInFuture(issued_at));
        }
        if now > valid_until {
            return Err(StatusListError::Stale {
                valid_until,
                list: Box::new(verified),
            });
        }
        Ok(verified)
    }
}

fn decode_bits(encoded: &str) -> Option<Vec<u8>> {
    let compressed = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let mut bits = Vec::with_capacity(LIST_BYTES);
    // Read one byte more than expected so an oversized (or zip-bomb) list is refused without
    // inflating all of it.
    GzDecoder::new(compressed.as_slice())
        .take(LIST_BYTES as u64 + 1)
        .read_to_end(&mut bits)
        .ok()?;
    (bits.len() == LIST_BYTES).then_some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_two_bits_msb_first() {
        let list = StatusList::from_entries([(0, CardState::Revoked), (3, CardState::Suspended)])
            .expect("in range");
        assert_eq!(list.bits[0], 0b1000_0001);
        assert_eq!(list.get(0), Some(CardState::Revoked));
        assert_eq!(list.get(1), Some(CardState::Valid));
        assert_eq!(list.get(3), Some(CardState::Suspended));
        assert_eq!(list.get(STATUS_LIST_SIZE), None);
        assert!(StatusList::default()
            .clone()
            .set(STATUS_LIST_SIZE, CardState::Revoked)
            .is_err());
    }
}
