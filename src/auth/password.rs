//! Staff passwords for the console: argon2id with OWASP's parameters, stored as PHC strings, so
//! that a stolen database costs an attacker ~19 MiB of memory and a pass over it per guess.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory per hash, KiB (OWASP's first argon2id configuration: m=19 MiB, t=2, p=1).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// The shortest password accepted.
pub const MIN_CHARS: usize = 10;
/// The longest (a bound on the hash's input, and more than any person types).
pub const MAX_CHARS: usize = 128;

/// A password, never printed.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("密码至少 {MIN_CHARS} 个字符 / at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_CHARS`].
    #[error("密码最多 {MAX_CHARS} 个字符 / at most {MAX_CHARS} characters")]
    TooLong,
    /// The same as the account's name.
    #[error("密码不能与用户名相同 / must differ from the account name")]
    SameAsName,
    /// Holds a control character.
    #[error("密码含不可见字符 / holds a control character")]
    ControlCharacter,
}

impl Password {
    /// A password as typed at sign-in (any length up to the bound is checked against the hash).
    pub fn typed(text: &str) -> Option<Self> {
        (text.chars().count() <= MAX_CHARS).then(|| Self(text.to_owned()))
    }

    /// A new password for the account `name`, checked against the rules above.
    pub fn new_for(text: &str, name: &str) -> Result<Self, WeakPassword> {
        let n = text.chars().count();
        if n < MIN_CHARS {
            return Err(WeakPassword::TooShort);
        }
        if n > MAX_CHARS {
            return Err(WeakPassword::TooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(WeakPassword::ControlCharacter);
        }
        if text.trim().eq_ignore_ascii_case(name.trim()) {
            return Err(WeakPassword::SameAsName);
        }
        Ok(Self(text.to_owned()))
    }

    /// A random password of 16 characters (for `serve --demo`, a temporary password at account
    /// creation or reset), from an alphabet without look-alikes (no 0/O, 1/l/I).
    pub fn random() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::rngs::OsRng;
        let text = (0..16)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect();
        Self(text)
    }

    /// The text, to show once to the person who will use it.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The PHC string to store (CPU- and memory-heavy: call it on the blocking pool).
    pub fn hash(&self) -> String {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            // Only a parameter outside argon2's ranges fails, and ours are constants inside them.
            .unwrap_or_else(|e| unreachable!("argon2 parameters are valid: {e}"))
    }

    /// Whether this password matches a stored PHC string (as heavy as [`Password::hash`]).
    /// A stored string that does not parse matches nothing.
    pub fn matches(&self, stored: &str) -> bool {
        PasswordHash::new(stored)
            .map(|h| hasher().verify_password(self.0.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    }

    /// Spends the time a check against a real hash takes, so that an unknown account name
    /// answers as slowly as a wrong password (no account enumeration by timing).
    pub fn spend_a_check(&self) {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let stored = DUMMY.get_or_init(|| Password::random().hash());
        let _ = self.matches(stored);
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .unwrap_or_else(|e| unreachable!("argon2 parameters are valid: {e}"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_its_password_only() {
        let p = Password::new_for("correct horse battery", "office").unwrap();
        let stored = p.hash();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(p.matches(&stored));
        assert!(!Password::typed("correct horse batterY")
            .unwrap()
            .matches(&stored));
        assert!(!p.matches("not a phc string"));
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn weak_passwords_are_refused_with_the_rule() {
        assert_eq!(
            Password::new_for("short", "x").unwrap_err(),
            WeakPassword::TooShort
        );
        assert_eq!(
            Password::new_for("zhoucun-office", "Zhoucun-Office").unwrap_err(),
            WeakPassword::SameAsName
        );
        assert_eq!(
            Password::new_for("abcdefghij\u{0}", "x").unwrap_err(),
            WeakPassword::ControlCharacter
        );
        assert_eq!(
            Password::new_for(&"a".repeat(129), "x").unwrap_err(),
            WeakPassword::TooLong
        );
        assert!(Password::typed(&"a".repeat(129)).is_none());
    }

    #[test]
    fn random_passwords_are_long_and_different() {
        let (a, b) = (Password::random(), Password::random());
        assert_eq!(a.reveal().len(), 16);
        assert_ne!(a.reveal(), b.reveal());
        assert!(Password::new_for(a.reveal(), "office").is_ok());
    }
}
