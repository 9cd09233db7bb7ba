//! What the card endpoints need: the signing key, the public key set, the printer (when its
//! font is installed) and the latest signed status list.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::card::pdf::CardRenderer;
use crate::card::status::StatusList;
use crate::card::{CardSigner, KeySet, KeyStore};
use crate::db::{cards, Db};
use crate::error::{AppError, Result};

/// How long a status list is valid after it is made: a desk's copy older than this is stale.
pub const STATUS_LIST_VALIDITY_HOURS: i64 = 48;

/// The last signed status list: the card-state fingerprint it was made at, when, and its JSON.
type CachedList = ((i64, Option<DateTime<Utc>>), DateTime<Utc>, String);

/// Keys, printer and status-list cache.
pub struct CardService {
    signer: CardSigner,
    keys: KeySet,
    renderer: std::result::Result<CardRenderer, String>,
    status_cache: Mutex<Option<CachedList>>,
}

impl std::fmt::Debug for CardService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardService")
            .field("key", &self.signer.key_id().to_hex())
            .finish_non_exhaustive()
    }
}

impl CardService {
    /// Opens the key store (generating the first key when it is empty) and loads the template.
    /// A template whose font is missing leaves printing unavailable, not the service.
    pub fn open(keys_dir: &Path, template: &Path) -> anyhow::Result<Self> {
        let store = KeyStore::open(keys_dir);
        let keys = match store.key_set() {
            Ok(k) if !k.keys.is_empty() => k,
            _ => {
                let entry = store
                    .generate(&mut rand::rngs::OsRng, Utc::now(), 3650)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "generating the first signing key in {}: {e}",
                            keys_dir.display()
                        )
                    })?;
                tracing::info!(key_id = %entry.key_id.to_hex(), dir = %keys_dir.display(), "generated the first card-signing key");
                store.key_set().map_err(|e| anyhow::anyhow!("{e}"))?
            }
        };
        let signer = store
            .signer()
            .map_err(|e| anyhow::anyhow!("card-signing key in {}: {e}", keys_dir.display()))?;
        let renderer = CardRenderer::load(template).map_err(|e| {
            tracing::warn!(error = %e, "card printing unavailable");
            format!("card printing is unavailable: {e}")
        });
        Ok(Self {
            signer,
            keys,
            renderer,
            status_cache: Mutex::new(None),
        })
    }

    /// The active signing key.
    pub fn signer(&self) -> &CardSigner {
        &self.signer
    }

    /// The public key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The printer, or a 503 saying why printing is unavailable.
    pub fn renderer(&self) -> Result<&CardRenderer> {
        self.renderer
            .as_ref()
            .map_err(|e| AppError::PrintingUnavailable(e.clone()))
    }

    /// What issuing needs: this key and printer with the rules, issuing today.
    pub fn issuer<'a>(&'a self, book: &'a crate::rules::RuleBook) -> crate::db::cards::Issuer<'a> {
        crate::db::cards::Issuer {
            signer: &self.signer,
            book,
            printer: self.renderer.as_ref().ok(),
            today: crate::time::today(),
        }
    }

    /// The signed status list, remade when any card's state changed since the last one and at
    /// least once an hour so that a fresh copy always has most of its validity left.
    pub async fn status_list(&self, db: &Db) -> Result<String> {
        let version = cards::states_version(db).await?;
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
                &self.signer,
                now,
                now + Duration::hours(STATUS_LIST_VALIDITY_HOURS),
            )
            .to_json();
        *self.status_cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((version, now, json.clone()));
        Ok(json)
    }
}
