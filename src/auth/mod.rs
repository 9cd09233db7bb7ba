//! Staff accounts, their roles and scopes, and bearer tokens.
//!
//! Tokens are 256-bit random secrets shown once; only their SHA-256 is stored. A slow password
//! hash (argon2) would add tens of milliseconds to every desk scan and buys nothing here: it
//! protects guessable secrets, and these are not guessable. People's passwords, for the console,
//! are guessable: they are hashed with argon2id ([`password`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::register::text_enum;

pub mod password;
pub mod session;

text_enum! {
    /// What a staff account may do.
    StaffRole {
        /// District health office: everything.
        Office = "office",
        /// Township or street staff: their own township's household files and contacts.
        Township = "township",
        /// A facility's registration desk: card verification only.
        Desk = "desk",
        /// A facility: verification, checkups and family-doctor contracts.
        Clinic = "clinic",
        /// Read-only, with personal data masked.
        Auditor = "auditor",
    }
}

/// The authenticated caller of a request, carried by the auth extractor into every handler.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    /// The account.
    pub account_id: i64,
    /// The account's name.
    pub name: String,
    /// Its role.
    pub role: StaffRole,
    /// For `township` accounts: the township they may see.
    pub township_id: Option<String>,
    /// For `desk` and `clinic` accounts: their facility.
    pub facility_id: Option<i64>,
}

impl Caller {
    /// Whether this caller may see full ID numbers and phone numbers. The office and the
    /// township staff who keep the files need them; everyone else sees them masked.
    pub fn sees_personal_data(&self) -> bool {
        matches!(self.role, StaffRole::Office | StaffRole::Township)
    }

    /// Whether this caller may read a household of `township_id`.
    pub fn may_read_township(&self, township_id: &str) -> bool {
        match self.role {
            StaffRole::Office | StaffRole::Auditor => true,
            StaffRole::Township => self.township_id.as_deref() == Some(township_id),
            StaffRole::Desk | StaffRole::Clinic => false,
        }
    }

    /// Whether this caller may change a household of `township_id`.
    pub fn may_write_township(&self, township_id: &str) -> bool {
        match self.role {
            StaffRole::Office => true,
            StaffRole::Township => self.township_id.as_deref() == Some(township_id),
            _ => false,
        }
    }
}

/// A freshly made bearer token: the secret to hand out once, and the hash to store.
pub struct NewToken {
    /// The secret, `gct_` + 43 base64url characters.
    pub secret: String,
    /// Its SHA-256, hex.
    pub hash: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("secret", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Makes a new random token.
pub fn new_token() -> NewToken {
    random_secret("gct_")
}

/// 256 random bits, base64url, after `prefix`; with the hash to store.
fn random_secret(prefix: &str) -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&secret);
    NewToken { secret, hash }
}

/// The stored form of a token.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_to_what_is_stored() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a.secret, b.secret);
        assert_eq!(hash_token(&a.secret), a.hash);
        assert!(!format!("{a:?}").contains(&a.secret));
    }
}
