//! Signed checkpoints of the audit log: the audit key (kept in the key folder, never in the
//! database), checkpoints made on a schedule and on demand, their export, and the proof that the
//! log still extends every exported checkpoint.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::audit::{Checkpoint, CheckpointFile};
use crate::db::audit::{self as log, BadEntry, CheckReport};
use crate::db::Db;
use crate::error::{AppError, Result};

/// The audit key's file in the key folder (owner-only, like the card keys' secrets).
pub const AUDIT_KEY_FILE: &str = "audit-key.ed25519";

/// How often a running service signs the chains' heads.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The key that signs checkpoints.
pub struct AuditKey(SigningKey);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(redacted)")
    }
}

impl AuditKey {
    /// Opens the audit key in `dir`, making it (durably, owner-only) on first use.
    pub fn open_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(AUDIT_KEY_FILE);
        match fs::File::open(&path) {
            Ok(mut f) => {
                let mode = f.metadata()?.permissions().mode();
                anyhow::ensure!(
                    mode & 0o077 == 0,
                    "{} is readable by others (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                );
                let mut seed = [0u8; 32];
                f.read_exact(&mut seed)
                    .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display()))?;
                Ok(Self(SigningKey::from_bytes(&seed)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                f.write_all(key.as_bytes())?;
                f.sync_all()?;
                fs::File::open(dir)?.sync_all()?;
                tracing::info!(path = %path.display(), "made the audit key");
                Ok(Self(key))
            }
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    /// The public half, base64url.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.verifying_key().as_bytes())
    }
}

/// Signs the head of every chain that grew since its last checkpoint; returns the new ones.
pub async fn checkpoint(db: &Db, key: &AuditKey) -> Result<Vec<Checkpoint>> {
    let made_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let public_key = key.public_key();
    let mut made = Vec::new();
    for (chain_id, seq, hash) in log::heads_without_checkpoint(db, &public_key).await? {
        let c = Checkpoint::sign(&key.0, &chain_id, seq, &hash, &made_at);
        log::insert_checkpoint(db, &c, &public_key).await?;
        made.push(c);
    }
    Ok(made)
}

/// Every checkpoint this instance's key signed, with the key's public half, as exported.
pub async fn export(db: &Db, key: &AuditKey) -> Result<CheckpointFile> {
    let public_key = key.public_key();
    Ok(CheckpointFile {
        checkpoints: log::checkpoints(db, &public_key).await?,
        public_key,
    })
}

/// [`log::check`], and that the log still extends every checkpoint of `file` — checked against
/// the file's key, and against `trusted` when given (a file whose key is not the audit key proves
/// nothing). A checkpoint whose signature fails, or that the log no longer extends, is the first
/// bad entry: the entry at its place (or the chain's end, when entries were deleted).
pub async fn check_with(
    db: &Db,
    file: &CheckpointFile,
    trusted: Option<&AuditKey>,
) -> Result<CheckReport> {
    let bad_file = |why: String| AppError::bad_request("bad_checkpoint_file", why);
    if trusted.is_some_and(|k| k.public_key() != file.public_key) {
        return Err(bad_file(
            "the file's key is not this service's audit key".into(),
        ));
    }
    let raw = URL_SAFE_NO_PAD
        .decode(&file.public_key)
        .map_err(|_| bad_file("public_key is not base64url".into()))?;
    let key = <[u8; 32]>::try_from(raw.as_slice())
        .ok()
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| bad_file("public_key is not an Ed25519 key".into()))?;
    if let Some((i, _)) = file
        .checkpoints
        .iter()
        .enumerate()
        .find(|(_, c)| !c.verify(&key))
    {
        return Err(bad_file(format!(
            "checkpoint {i} does not verify under the file's key"
        )));
    }
    let mut report = log::check(db).await?;
    for c in &file.checkpoints {
        let found = log::entry_at(db, &c.chain_id, c.seq).await?;
        let problem = match &found {
            Some((_, hash)) if *hash == c.hash => continue,
            Some(_) => format!(
                "entry {} of chain {} is not the one signed at {}: the log was rewritten up to here",
                c.seq, c.chain_id, c.made_at
            ),
            None => format!(
                "chain {} no longer has entry {} signed at {}: entries were deleted",
                c.chain_id, c.seq, c.made_at
            ),
        };
        let (verification_id, seq) = match found {
            Some((id, _)) => (id, c.seq),
            None => log::chain_end(db, &c.chain_id).await?.unwrap_or((0, 0)),
        };
        let bad = BadEntry {
            verification_id,
            chain_id: c.chain_id.clone(),
            seq,
            problem,
        };
        // The earliest problem wins, whichever check found it.
        if report
            .first_bad
            .as_ref()
            .is_none_or(|b| bad.verification_id < b.verification_id)
        {
            report.first_bad = Some(bad);
        }
    }
    Ok(report)
}
