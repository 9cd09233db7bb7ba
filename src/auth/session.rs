//! Console sessions: the cookie's secret (only its SHA-256 is stored, like a token's), the CSRF
//! token bound to the session, and how long a session lives.

use chrono::{DateTime, Duration, Utc};

use super::{hash_token, random_secret, Caller};

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::minutes(30);
/// And this long after sign-in, however busy.
pub const LIFETIME: Duration = Duration::hours(12);
/// The last-seen time is written at most this often (a page view is not a write each time).
pub const TOUCH_EVERY: Duration = Duration::minutes(1);

/// The name of the session cookie.
pub const COOKIE: &str = "gc_session";

/// A new session's secrets: the cookie value to set once, its hash to store, and the CSRF token
/// every form of the session carries.
pub struct NewSession {
    /// The cookie's value.
    pub secret: String,
    /// What is stored.
    pub hash: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession(<redacted>)")
    }
}

impl NewSession {
    /// Fresh random secrets.
    pub fn new() -> Self {
        let cookie = random_secret("gcs_");
        Self {
            secret: cookie.secret,
            hash: cookie.hash,
            csrf: random_secret("").secret,
        }
    }

    /// The stored form of a cookie value.
    pub fn hash_of(secret: &str) -> String {
        hash_token(secret)
    }
}

impl Default for NewSession {
    fn default() -> Self {
        Self::new()
    }
}

/// A signed-in console user: who, and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's row.
    pub session_id: i64,
    /// Who is signed in.
    pub caller: Caller,
    /// The token every form post of this session must carry.
    pub csrf: String,
    /// Whether the account must choose a new password before anything else.
    pub must_change_password: bool,
    /// When the session was last seen.
    pub last_seen_at: DateTime<Utc>,
}

/// Whether a session begun at `created` and last seen at `seen` is still alive at `now`.
pub fn alive(created: DateTime<Utc>, seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - seen < IDLE && now - created < LIFETIME
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(alive(t0, t0, t0 + Duration::minutes(29)));
        assert!(!alive(t0, t0, t0 + Duration::minutes(30)));
        let busy = t0 + Duration::hours(12) - Duration::seconds(1);
        assert!(alive(t0, busy, busy));
        assert!(!alive(t0, busy, t0 + Duration::hours(12)));
    }

    #[test]
    fn secrets_compare_exactly() {
        let s = NewSession::new();
        assert!(same_secret(&s.csrf, &s.csrf.clone()));
        assert!(!same_secret(&s.csrf, &s.csrf[1..]));
        assert!(!same_secret("abc", "abd"));
        assert_ne!(s.secret, NewSession::new().secret);
        assert_eq!(NewSession::hash_of(&s.secret), s.hash);
        assert!(!format!("{s:?}").contains(&s.secret));
    }
}
