//! A short-lived cache of token → caller, so that a busy desk's scans do not each cost a
//! database round trip for authentication. A revoked token stops working within [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::{hash_token, Caller};
use crate::db::{accounts, Db};
use crate::error::Result;

/// How long a resolved token is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(10);

/// The cache; keyed by the token's hash so that no secret is kept in memory longer than a request.
#[derive(Default)]
pub struct CallerCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl CallerCache {
    /// The caller behind a token, from the cache or the database.
    pub async fn resolve(&self, db: &Db, secret: &str) -> Result<Option<Caller>> {
        let key = hash_token(secret);
        if let Some((caller, at)) = self.lock().get(&key) {
            if at.elapsed() < TTL {
                return Ok(Some(caller.clone()));
            }
        }
        let found = accounts::caller_for_hash(db, &key).await?;
        let mut entries = self.lock();
        match &found {
            Some(c) => {
                if entries.len() > 10_000 {
                    entries.retain(|_, (_, at)| at.elapsed() < TTL);
                }
                entries.insert(key, (c.clone(), Instant::now()));
            }
            None => {
                entries.remove(&key);
            }
        }
        Ok(found)
    }

    /// Forgets every cached caller (after tokens are revoked on this instance).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Caller, Instant)>> {
        // A poisoned lock only means another request panicked mid-insert; the map is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
