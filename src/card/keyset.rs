//! The public key set: what `GET /api/v1/keys` serves, `keys export` writes and
//! `card verify --keys keys.json` reads.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::card::verify::strict::StrictKey;

/// A key id: the first 8 bytes of SHA-256 of the raw 32-byte public key.
///
/// Short because it goes into every QR; 64 bits make accidental collisions between a district's
/// handful of keys impossible in practice, and a deliberate one still needs a valid signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// Derives the id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }

    /// Parses 16 lowercase or uppercase hex digits.
    pub fn parse_hex(s: &str) -> Option<Self> {
        let mut id = [0u8; 8];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(Self(id))
    }

    /// The id as 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_hex(&s).ok_or_else(|| serde::de::Error::custom("key_id must be 16 hex digits"))
    }
}

/// The lifecycle state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new cards and status lists.
    Active,
    /// Replaced by a newer key: no longer signs, but the cards it signed still verify.
    VerifyOnly,
    /// Withdrawn: cards it signed get `key_retired`.
    Retired,
    /// Leaked or suspected leaked: cards it signed get `key_compromised`.
    Compromised,
}

impl KeyStatus {
    /// How final the status is: a key only ever moves to a more final one.
    pub fn finality(self) -> u8 {
        match self {
            Self::Active => 0,
            Self::VerifyOnly => 1,
            Self::Retired => 2,
            Self::Compromised => 3,
        }
    }

    /// The stored name (`active`, `verify_only`, `retired`, `compromised`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::VerifyOnly => "verify_only",
            Self::Retired => "retired",
            Self::Compromised => "compromised",
        }
    }
}

impl std::str::FromStr for KeyStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Active,
            Self::VerifyOnly,
            Self::Retired,
            Self::Compromised,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown key status '{s}'"))
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One public key with its status and validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// The key id (must match the public key).
    pub key_id: KeyId,
    /// The raw 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
    /// The key's status.
    pub status: KeyStatus,
    /// When the key was generated.
    pub created: DateTime<Utc>,
    /// The first issue date a card signed by this key may carry.
    pub valid_from: NaiveDate,
    /// The last date any card signed by this key may be valid (card expiry is capped by it).
    pub valid_until: NaiveDate,
    /// Set when the key was rotated out: the last issue date it signed. A card claiming a later
    /// issue date under this key was not made by the office (`key_not_valid_for_card`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_until: Option<NaiveDate>,
}

impl KeyEntry {
    /// Whether a card with these dates is one this key was allowed to sign.
    pub fn covers(&self, issued: NaiveDate, expires: NaiveDate) -> bool {
        issued >= self.valid_from
            && expires <= self.valid_until
            && self.signed_until.is_none_or(|last| issued <= last)
    }
}

/// The public key set of a district.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySet {
    /// The keys, oldest first.
    pub keys: Vec<KeyEntry>,
    /// Decoded public keys: decoding and the subgroup check cost more than a signature
    /// check, so they are done once per key, not once per card.
    #[serde(skip)]
    decoded: DecodedKeys,
}

/// A cache of decoded keys (with their tables for strict checks), keyed by the base64 text so
/// that a later edit of `keys` is never served from a stale entry. Ignored by equality.
#[derive(Debug, Clone, Default)]
struct DecodedKeys(OnceLock<Vec<(String, Option<Decoded>)>>);

#[derive(Debug, Clone)]
struct Decoded {
    key: VerifyingKey,
    strict: Arc<StrictKey>,
}

impl Decoded {
    fn of(b64: &str) -> Option<Self> {
        let key = decode_public_key(b64).ok()?;
        Some(Self {
            key,
            strict: Arc::new(StrictKey::new(&key)),
        })
    }
}

impl PartialEq for DecodedKeys {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DecodedKeys {}

/// A key of a [`KeySet`] whose public key decoded and passed the strictness checks.
#[derive(Debug, Clone)]
pub struct ResolvedKey<'a> {
    /// The entry from the key set.
    pub entry: &'a KeyEntry,
    /// The decoded public key.
    pub key: VerifyingKey,
    /// The key prepared for strict signature checks.
    pub strict: Arc<StrictKey>,
}

/// Why a key set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The JSON is not a key set.
    #[error("key set is not valid JSON of the expected shape: {0}")]
    Json(String),
    /// A public key is not a canonical, prime-order Ed25519 point, or its id does not match.
    #[error("key {0}: {1}")]
    BadKey(String, &'static str),
}

impl KeySet {
    /// A key set of these keys.
    pub fn new(keys: Vec<KeyEntry>) -> Self {
        Self {
            keys,
            decoded: DecodedKeys::default(),
        }
    }

    /// Parses a key set from JSON and checks every key (see [`decode_public_key`]).
    pub fn from_json(json: &str) -> Result<Self, KeySetError> {
        let set: KeySet =
            serde_json::from_str(json).map_err(|e| KeySetError::Json(e.to_string()))?;
        for entry in &set.keys {
            let key = decode_public_key(&entry.public_key)
                .map_err(|why| KeySetError::BadKey(entry.key_id.to_hex(), why))?;
            if KeyId::of(&key) != entry.key_id {
                return Err(KeySetError::BadKey(
                    entry.key_id.to_hex(),
                    "key_id does not match the public key",
                ));
            }
        }
        Ok(set)
    }

    /// The union of two views of the key set (this instance's files and the shared database):
    /// a key known to either is kept; a key known to both gets the more final status and the
    /// earlier `signed_until`, so that no view can undo a rotation, retirement or compromise.
    /// Keys are ordered by creation.
    pub fn merge(&self, other: &KeySet) -> KeySet {
        let mut keys = self.keys.clone();
        for theirs in &other.keys {
            match keys.iter_mut().find(|k| k.key_id == theirs.key_id) {
                None => keys.push(theirs.clone()),
                Some(ours) => {
                    if theirs.status.finality() > ours.status.finality() {
                        ours.status = theirs.status;
                    }
                    ours.signed_until = match (ours.signed_until, theirs.signed_until) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        keys.sort_by(|a, b| a.created.cmp(&b.created).then(a.key_id.cmp(&b.key_id)));
        KeySet::new(keys)
    }

    /// The key that signs: the newest active one.
    pub fn active(&self) -> Option<&KeyEntry> {
        self.keys
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .max_by_key(|k| k.created)
    }

    /// Serializes the key set as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data structs to JSON cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Finds a key by id and decodes it; `None` if the id is unknown or the key is unusable.
    pub fn resolve(&self, id: &KeyId) -> Option<ResolvedKey<'_>> {
        let entry = self.keys.iter().find(|k| &k.key_id == id)?;
        let cache = self.decoded.0.get_or_init(|| {
            self.keys
                .iter()
                .map(|k| (k.public_key.clone(), Decoded::of(&k.public_key)))
                .collect()
        });
        let decoded = match cache.iter().find(|(b64, _)| *b64 == entry.public_key) {
            Some((_, decoded)) => decoded.clone(),
            None => Decoded::of(&entry.public_key),
        }?;
        (KeyId::of(&decoded.key) == *id).then_some(ResolvedKey {
            entry,
            key: decoded.key,
            strict: decoded.strict,
        })
    }
}

/// Decodes a base64url public key and rejects what `verify_strict` would not trust:
/// non-canonical encodings, small-order points and points with a torsion component.
///
pub fn decode_public_key(b64: &str) -> Result<VerifyingKey, &'static str> {
    let raw = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| "public_key is not base64url without padding")?;
    let bytes: [u8; 32] = raw.try_into().map_err(|_| "public_key is not 32 bytes")?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "public_key is not a curve point")?;
    let point = key.to_edwards();
    if point.compress().to_bytes() != bytes {
        return Err("public_key is not canonically encoded");
    }
    if key.is_weak() || !point.is_torsion_free() {
        return Err("public_key is not in the prime-order subgroup");
    }
    Ok(key)
}

/// Encodes a public key as base64url without padding.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}
