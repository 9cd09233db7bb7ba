//! Card texts whose signature already passed the strict check, so that a card scanned again —
//! at payment, examination, the pharmacy — costs a hash instead of a signature check.
//!
//! Why the verdict stays the reference verdict: an entry is made only from a text that passed
//! [`check_signature`] under this cache's own key set, and what that check returns depends on
//! nothing but the text and the key set. The key set is owned by the cache, so a new key set
//! means a new, empty cache. A hit is found by the SHA-256 of the card's text (the scan without
//! the whitespace around it, which decoding ignores too), so only that exact card text finds it. Only the signature is cached: the caller still judges each scan against the
//! card's state and the date of that scan. A bad signature is never cached, so every scan of a
//! bad text costs exactly one strict check — no more, whoever sends it.
//!
//! Memory is bounded: two generations of at most `capacity` entries each; when the young one is
//! full the old one is dropped and the young one becomes old. A hit in the old generation is
//! moved to the young one, so cards in use stay while cards not seen for a while fall out.
//!
//! The cache is shared by every thread that answers desks: the lock is held for a map lookup or
//! insert only, never while a signature is checked.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use super::{check_signature, SignatureChecked, Verification};
use crate::card::qr::card_text;
use crate::card::KeySet;

/// A bounded cache of strictly verified card texts under one key set.
#[derive(Debug)]
pub struct VerifiedTexts {
    keys: KeySet,
    capacity: usize,
    generations: Mutex<Generations>,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<[u8; 32], SignatureChecked>,
    old: HashMap<[u8; 32], SignatureChecked>,
}

impl VerifiedTexts {
    /// An empty cache over `keys`, keeping between `capacity` and twice that many texts.
    pub fn new(keys: KeySet, capacity: usize) -> Self {
        Self {
            keys,
            capacity: capacity.max(1),
            generations: Mutex::default(),
        }
    }

    fn generations(&self) -> MutexGuard<'_, Generations> {
        // The maps are consistent between any two statements: a panic elsewhere leaves them
        // usable.
        self.generations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key set the texts are checked against.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// How many texts are cached.
    pub fn len(&self) -> usize {
        let g = self.generations();
        g.young.len() + g.old.len()
    }

    /// Whether no text is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`check_signature`] of `text` under this cache's key set, from the cache when the same
    /// text passed before.
    pub fn check(&self, text: &str) -> Result<SignatureChecked, Box<Verification>> {
        // The card's own text, as decoding sees it: padded copies of one card are one entry,
        // so they cannot flush the cache.
        let digest: [u8; 32] = Sha256::digest(card_text(text).as_bytes()).into();
        {
            let mut g = self.generations();
            if let Some(hit) = g.young.get(&digest) {
                return Ok(hit.clone());
            }
            if let Some(hit) = g.old.remove(&digest) {
                g.insert(digest, hit.clone(), self.capacity);
                return Ok(hit);
            }
        }
        // Outside the lock: two threads may check the same new text at once, and both insert
        // the same result.
        let checked = check_signature(text, &self.keys)?;
        self.generations()
            .insert(digest, checked.clone(), self.capacity);
        Ok(checked)
    }
}

impl Generations {
    fn insert(&mut self, digest: [u8; 32], checked: SignatureChecked, capacity: usize) {
        if self.young.len() >= capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(digest, checked);
    }
}
