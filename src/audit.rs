//! The hash chain of the verification audit log: how an entry is hashed and linked.

use sha2::{Digest, Sha256};

/// One verification as recorded: never a name or an ID number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The writing process's chain.
    pub chain_id: String,
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, as the exact RFC 3339 text stored.
    pub at: String,
    /// The facility of the desk.
    pub facility_id: i64,
    /// The staff account.
    pub account_id: i64,
    /// The card serial, when the text was a card.
    pub card_serial: Option<String>,
    /// The verdict.
    pub verdict: String,
}

/// The `prev_hash` of a chain's first entry.
pub fn genesis(chain_id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("greenchannel audit chain {chain_id}").as_bytes(),
    ))
}

/// The hash of an entry linked to the previous entry's hash. Every field is length-prefixed so
/// that no two different entries share a hash input.
pub fn hash(prev_hash: &str, e: &Entry) -> String {
    let mut h = Sha256::new();
    let serial = e.card_serial.as_deref().unwrap_or("-");
    for field in [
        prev_hash,
        &e.chain_id,
        &e.seq.to_string(),
        &e.at,
        &e.facility_id.to_string(),
        &e.account_id.to_string(),
        serial,
        &e.verdict,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, verdict: &str) -> Entry {
        Entry {
            chain_id: "c".into(),
            seq,
            at: "2026-11-29T04:00:00.000000Z".into(),
            facility_id: 1,
            account_id: 2,
            card_serial: Some("ab".into()),
            verdict: verdict.into(),
        }
    }

    #[test]
    fn any_change_to_an_entry_or_its_link_changes_the_hash() {
        let g = genesis("c");
        let base = hash(&g, &entry(1, "valid"));
        assert_eq!(base, hash(&g, &entry(1, "valid")));
        assert_ne!(base, hash(&g, &entry(1, "revoked")));
        assert_ne!(base, hash(&g, &entry(2, "valid")));
        assert_ne!(base, hash(&genesis("d"), &entry(1, "valid")));
        let mut no_serial = entry(1, "valid");
        no_serial.card_serial = None;
        assert_ne!(base, hash(&g, &no_serial));
    }
}
