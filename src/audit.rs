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

/// A signed head of one chain: "the chain `chain_id` had `seq` entries, the last hashed
/// `hash`", signed with the audit key, which is kept outside the database. Exported
/// checkpoints prove that the log still extends them (as a transparency log's signed tree
/// heads do): whoever can write the database can rewrite entries and recompute their hashes,
/// but not sign a new head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The chain.
    pub chain_id: String,
    /// How many entries it had (the last one's seq).
    pub seq: i64,
    /// The last entry's hash.
    pub hash: String,
    /// When the checkpoint was made (RFC 3339, UTC).
    pub made_at: String,
    /// Ed25519 over [`Checkpoint::message`], base64url without padding.
    pub signature: String,
}

/// Checkpoints as exported: the audit key's public half and the checkpoints, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointFile {
    /// The audit key's public key, base64url without padding.
    pub public_key: String,
    /// The checkpoints.
    pub checkpoints: Vec<Checkpoint>,
}

impl Checkpoint {
    /// What is signed: every field, length-prefixed, after a domain label.
    pub fn message(chain_id: &str, seq: i64, hash: &str, made_at: &str) -> Vec<u8> {
        let mut m = b"greenchannel audit checkpoint v1".to_vec();
        for field in [chain_id, &seq.to_string(), hash, made_at] {
            m.extend_from_slice(&(field.len() as u64).to_be_bytes());
            m.extend_from_slice(field.as_bytes());
        }
        m
    }

    /// Signs a chain head.
    pub fn sign(
        key: &ed25519_dalek::SigningKey,
        chain_id: &str,
        seq: i64,
        hash: &str,
        made_at: &str,
    ) -> Self {
        use base64::Engine as _;
        use ed25519_dalek::Signer as _;
        let signature = key.sign(&Self::message(chain_id, seq, hash, made_at));
        Self {
            chain_id: chain_id.to_owned(),
            seq,
            hash: hash.to_owned(),
            made_at: made_at.to_owned(),
            signature: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(signature.to_bytes()),
        }
    }

    /// Whether the signature is the audit key's (strictly checked).
    pub fn verify(&self, key: &ed25519_dalek::VerifyingKey) -> bool {
        use base64::Engine as _;
        let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.signature)
        else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(raw.as_slice()) else {
            return false;
        };
        key.verify_strict(
            &Self::message(&self.chain_id, self.seq, &self.hash, &self.made_at),
            &ed25519_dalek::Signature::from_bytes(&bytes),
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let c = Checkpoint::sign(&key, "c", 5, "ab", "2026-12-01T00:00:00Z");
        assert!(c.verify(&key.verifying_key()));
        for changed in [
            Checkpoint {
                seq: 6,
                ..c.clone()
            },
            Checkpoint {
                hash: "ac".into(),
                ..c.clone()
            },
            Checkpoint {
                chain_id: "d".into(),
                ..c.clone()
            },
            Checkpoint {
                made_at: "2026-12-02T00:00:00Z".into(),
                ..c.clone()
            },
        ] {
            assert!(!changed.verify(&key.verifying_key()), "{changed:?}");
        }
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        assert!(!c.verify(&other.verifying_key()));
    }

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
