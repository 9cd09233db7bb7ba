//! What the card endpoints need: the keys in force (kept in step with the shared database), the
//! printer (when its font is installed) and the latest signed status list.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

use crate::card::pdf::CardRenderer;
use crate::card::status::StatusList;
use crate::card::{CardSigner, KeyId, KeySet, KeyStore};
use crate::db::{cards, Db};
use crate::error::{AppError, Result};
use crate::service;

/// How long a status list is valid after it is made: a desk's copy older than this is stale.
pub const STATUS_LIST_VALIDITY_HOURS: i64 = 48;

/// How often a running service reads the shared key set: a key rotated, retired or compromised
/// on any instance (or with the command line) is in force on every instance within this time.
pub const KEY_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// The last signed status list: the card-state fingerprint and signing key it was made with,
/// when, and its JSON.
type CachedList = ((i64, Option<DateTime<Utc>>, KeyId), DateTime<Utc>, String);

/// The keys in force on this instance.
#[derive(Debug)]
pub struct Keys {
    /// The public key set every desk verifies with.
    pub set: KeySet,
    /// The active key's signer, or why this instance cannot sign (no active key, or its secret
    /// is not in this instance's key folder).
    signer: std::result::Result<Arc<CardSigner>, String>,
}

impl Keys {
    fn of(store: &KeyStore, set: KeySet) -> Self {
        let signer = match set.active() {
            None => Err("no active card-signing key: run `greenchannel keys rotate`".to_owned()),
            Some(entry) => store.signer_for(entry).map(Arc::new).map_err(|e| {
                // The log gets the cause (it names a file of the key folder); a caller only
                // learns that this instance lacks the key.
                tracing::warn!(key_id = %entry.key_id, error = %e, "card signing unavailable");
                format!(
                    "the active key {} cannot sign on this instance: its secret is not in this instance's key folder",
                    entry.key_id
                )
            }),
        };
        if let Err(why) = &signer {
            tracing::warn!(%why, "card signing unavailable");
        }
        Self { set, signer }
    }
}

/// Keys, printer and status-list cache.
pub struct CardService {
    store: KeyStore,
    keys: RwLock<Arc<Keys>>,
    published: watch::Sender<KeySet>,
    renderer: std::result::Result<CardRenderer, String>,
    status_cache: Mutex<Option<CachedList>>,
}

impl std::fmt::Debug for CardService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardService")
            .field("keys", &self.keys().set.keys.len())
            .finish_non_exhaustive()
    }
}

impl CardService {
    /// Opens the key folder and brings it in step with the database's key set (generating the
    /// first key when both are empty), and loads the template (the built-in one without a
    /// path). A template whose font is missing
    /// leaves printing unavailable, not the service.
    pub async fn open(keys_dir: &Path, template: Option<&Path>, db: &Db) -> anyhow::Result<Self> {
        let store = KeyStore::open(keys_dir);
        let sync = || async {
            service::keys::sync(&store, db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        let mut set = sync().await?;
        if set.keys.is_empty() {
            let entry = store
                .generate(&mut rand::rngs::OsRng, Utc::now(), 3650)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "generating the first signing key in {}: {e}",
                        keys_dir.display()
                    )
                })?;
            tracing::info!(key_id = %entry.key_id.to_hex(), dir = %keys_dir.display(), "generated the first card-signing key");
            set = sync().await?;
        }
        let renderer = crate::card::template::Template::load_or_builtin(template)
            .and_then(CardRenderer::new)
            .map_err(|e| {
                tracing::warn!(error = %e, "card printing unavailable");
                format!("card printing is unavailable: {e}")
            });
        let (published, _) = watch::channel(set.clone());
        Ok(Self {
            keys: RwLock::new(Arc::new(Keys::of(&store, set))),
            store,
            published,
            renderer,
            status_cache: Mutex::new(None),
        })
    }

    /// The keys in force now.
    pub fn keys(&self) -> Arc<Keys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The public key set in force now, and every later one: what the desk verifies with.
    pub fn watch_keys(&self) -> watch::Receiver<KeySet> {
        self.published.subscribe()
    }

    /// The active signing key, or a 503 saying why this instance cannot sign.
    pub fn signer(&self) -> Result<Arc<CardSigner>> {
        self.keys()
            .signer
            .clone()
            .map_err(AppError::SigningUnavailable)
    }

    /// Reads the shared key set again (and publishes this folder's changes); when it changed,
    /// the new keys are in force at once for signing, the status list and the desk. Returns
    /// whether anything changed.
    pub async fn refresh(&self, db: &Db) -> Result<bool> {
        let set = service::keys::sync(&self.store, db).await?;
        if self.keys().set == set {
            return Ok(false);
        }
        tracing::info!(keys = set.keys.len(), active = ?set.active().map(|k| k.key_id), "card-signing keys changed");
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Keys::of(&self.store, set.clone()));
        self.published.send_replace(set);
        Ok(true)
    }

    /// The printer, or a 503 saying why printing is unavailable.
    pub fn renderer(&self) -> Result<&CardRenderer> {
        self.renderer
            .as_ref()
            .map_err(|e| AppError::PrintingUnavailable(e.clone()))
    }

    /// What issuing needs: the active key and the printer with the rules, issuing today.
    pub fn issuer<'a>(
        &'a self,
        book: &'a crate::rules::RuleBook,
    ) -> Result<crate::service::cards::Issuer<'a>> {
        Ok(crate::service::cards::Issuer {
            signer: self.signer()?,
            book,
            printer: self.renderer.as_ref().ok(),
            today: crate::time::today(),
        })
    }

    /// The signed status list, remade when any card's state or the signing key changed since the
    /// last one, and at least once an hour so that a fresh copy always has most of its validity
    /// left.
    pub async fn status_list(&self, db: &Db) -> Result<String> {
        let signer = self.signer()?;
        let (count, changed) = cards::states_version(db).await?;
        let version = (count, changed, signer.key_id());
        let now = Utc::now();
        if let Some((v, made, json)) = self
            .status_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if *v == version && now - *made < Duration::hours(1) {
                return Ok(json.clone());
            }
        }
        let list = StatusList::from_entries(cards::non_valid_states(db).await?)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
        let json = list
            .sign(
                &signer,
                now,
                now + Duration::hours(STATUS_LIST_VALIDITY_HOURS),
            )
            .to_json();
        *self.status_cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((version, now, json.clone()));
        Ok(json)
    }
}
