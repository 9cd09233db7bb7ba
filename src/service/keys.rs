//! The card-signing keys across instances: this instance's key folder (the secrets, and its view
//! of the public set) and the shared database (the public set every instance verifies with).

use crate::card::{CardError, KeySet, KeyStore};
use crate::db::{self, Db};
use crate::error::{AppError, Result};

/// Brings the key folder and the database to the same key set — the union of both, each key at
/// the more final of its two statuses — and returns it. Run by the service at start and every
/// refresh, and by the `keys` commands after each change, so a change made anywhere reaches
/// every instance. The database's upsert only moves a key forward, so concurrent syncs of two
/// instances cannot undo each other.
pub async fn sync(store: &KeyStore, db: &Db) -> Result<KeySet> {
    // The folder's reads and writes (and its lock) block: on the blocking pool, not the
    // workers that answer the desks.
    let folder = store.clone();
    let local = blocking(move || match folder.key_set() {
        Ok(set) => Ok(set),
        Err(CardError::NoKeys(_)) => Ok(KeySet::default()),
        Err(e) => Err(key_error(e)),
    })
    .await?;
    let shared = db::keys::load(db).await?;
    let mut merged = local.merge(&shared);
    if merged != shared {
        db::keys::publish(db, &merged).await?;
        // Another instance may have published meanwhile: take what the database now holds.
        merged = local.merge(&db::keys::load(db).await?);
    }
    if merged != local && !merged.keys.is_empty() {
        let (folder, set) = (store.clone(), merged.clone());
        blocking(move || folder.adopt(&set).map_err(key_error)).await?;
    }
    Ok(merged)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("key folder access stopped: {e}")))?
}

fn key_error(e: CardError) -> AppError {
    AppError::Internal(anyhow::anyhow!("card-signing keys: {e}"))
}
