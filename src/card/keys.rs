//! The signing key store: a directory with one owner-only secret file per key and a metadata
//! file (`keys.json`) that is also the public [`KeySet`].
//!
//! Layout of the directory (created with mode 0700):
//! - `keys.json` — the [`KeySet`] (public keys, status, validity); safe to publish.
//! - `<key_id>.secret` — the 32-byte Ed25519 seed, mode 0600. Deleted when the key is retired
//!   or marked compromised, since it must never sign again.

use crate::card::error::CardError;
use crate::card::keyset::{encode_public_key, KeyEntry, KeyId, KeySet, KeyStatus};
use chrono::{DateTime, Days, NaiveDate, Utc};
use ed25519_dalek::{Signer as _, SigningKey};
use rand::{CryptoRng, RngCore};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

const META_FILE: &str = "keys.json";

/// A signing key with its id. `Debug` never shows the secret.
#[derive(Clone)]
pub struct CardSigner {
    key_id: KeyId,
    key: SigningKey,
    entry: KeyEntry,
}

impl fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardSigner")
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl CardSigner {
    /// Builds a signer from a 32-byte seed (used by tests and fixtures with fixed seeds).
    pub fn from_seed(seed: [u8; 32], valid_from: NaiveDate, valid_until: NaiveDate) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let vk = key.verifying_key();
        let key_id = KeyId::of(&vk);
        let entry = KeyEntry {
            key_id,
            public_key: encode_public_key(&vk),
            status: KeyStatus::Active,
            created: valid_from
                .and_hms_opt(0, 0, 0)
                .map(|d| d.and_utc())
                .unwrap_or_default(),
            valid_from,
            valid_until,
            signed_until: None,
        };
        Self { key_id, key, entry }
    }

    /// The id that goes into every QR this key signs.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public entry of this key (status, validity) as it appears in the key set.
    pub fn entry(&self) -> &KeyEntry {
        &self.entry
    }

    /// Signs a message with the Ed25519 key (deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// A key store on a directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// Opens a key store on a directory (nothing is read until needed).
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory of this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Generates the first key; refuses if the directory already holds keys.
    ///
    /// The key signs cards issued from `now` and cards signed by it may be valid until
    /// `valid_days` after `now`.
    pub fn generate<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        now: DateTime<Utc>,
        valid_days: u64,
    ) -> Result<KeyEntry, CardError> {
        if self.has_keys()? {
            return Err(CardError::KeysExist(self.dir.clone()));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| CardError::io(&self.dir, e))?;
        let entry = self.new_key(rng, now, valid_days)?;
        self.save(&KeySet::new(vec![entry.clone()]))?;
        Ok(entry)
    }

    /// Makes a new active key; the previous active key becomes `verify_only` with
    /// `signed_until` set to today, so its cards keep verifying until it is retired.
    pub fn rotate<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        now: DateTime<Utc>,
        valid_days: u64,
    ) -> Result<KeyEntry, CardError> {
        let _lock = self.lock()?;
        let mut set = self.load()?;
        for key in set
            .keys
            .iter_mut()
            .filter(|k| k.status == KeyStatus::Active)
        {
            key.status = KeyStatus::VerifyOnly;
            key.signed_until = Some(crate::time::date_of(now));
        }
        let entry = self.new_key(rng, now, valid_days)?;
        set.keys.push(entry.clone());
        self.save(&set)?;
        Ok(entry)
    }

    /// Retires a key: its cards get `key_retired` from now on and its secret is deleted.
    pub fn retire(&self, id: &KeyId) -> Result<(), CardError> {
        self.set_status(id, KeyStatus::Retired)
    }

    /// Marks a key compromised: every card it signed fails, and its secret is deleted.
    pub fn mark_compromised(&self, id: &KeyId) -> Result<(), CardError> {
        self.set_status(id, KeyStatus::Compromised)
    }

    /// The public key set (what `keys export` writes and `GET /api/v1/keys` serves).
    pub fn key_set(&self) -> Result<KeySet, CardError> {
        self.load()
    }

    /// The active signing key.
    pub fn signer(&self) -> Result<CardSigner, CardError> {
        let set = self.load()?;
        self.signer_for(set.active().ok_or(CardError::NoActiveKey)?)
    }

    /// The signer of a key of the set (e.g. the shared set's active key), from its secret here.
    pub fn signer_for(&self, entry: &KeyEntry) -> Result<CardSigner, CardError> {
        let path = self.secret_path(&entry.key_id);
        let mut seed = [0u8; 32];
        let mut file = fs::File::open(&path).map_err(|e| CardError::io(&path, e))?;
        // Like ssh, refuse a secret others can read: it may already have leaked.
        let mode = file
            .metadata()
            .map_err(|e| CardError::io(&path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CardError::CorruptKeyStore(format!(
                "{} is readable by others (mode {:o}); chmod 600 it and consider `keys rotate`",
                path.display(),
                mode & 0o777
            )));
        }
        file.read_exact(&mut seed).map_err(|_| {
            CardError::CorruptKeyStore(format!("{} is not a 32-byte key", path.display()))
        })?;
        let key = SigningKey::from_bytes(&seed);
        if KeyId::of(&key.verifying_key()) != entry.key_id {
            return Err(CardError::CorruptKeyStore(format!(
                "{} does not match key id {}",
                path.display(),
                entry.key_id
            )));
        }
        Ok(CardSigner {
            key_id: entry.key_id,
            key,
            entry: entry.clone(),
        })
    }

    /// Takes over a newer view of the key set (the merge of this folder's and the shared
    /// database's): saves it, and deletes the secrets of keys that are now retired or
    /// compromised. Nothing is written when the folder already says the same.
    pub fn adopt(&self, set: &KeySet) -> Result<(), CardError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| CardError::io(&self.dir, e))?;
        // Under the folder's lock, and merged with what the folder says now: a `keys` command
        // that changed it since `set` was read is never undone (merging only moves keys forward).
        let _lock = self.lock()?;
        let current = self.load().ok();
        let merged = current
            .as_ref()
            .map_or_else(|| set.clone(), |c| c.merge(set));
        if current.as_ref() == Some(&merged) {
            return Ok(());
        }
        self.save(&merged)?;
        for k in &merged.keys {
            if matches!(k.status, KeyStatus::Retired | KeyStatus::Compromised) {
                self.remove_secret(&k.key_id)?;
            }
        }
        Ok(())
    }

    /// The folder's lock, held while the key set is read, changed and saved, so that the
    /// service's refresh and a `keys` command never interleave.
    fn lock(&self) -> Result<fs::File, CardError> {
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| CardError::io(&path, e))?;
        file.lock().map_err(|e| CardError::io(&path, e))?;
        Ok(file)
    }

    /// Deletes a key's secret, durably (the directory is synced, so it cannot come back after
    /// a power cut).
    fn remove_secret(&self, id: &KeyId) -> Result<(), CardError> {
        let path = self.secret_path(id);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CardError::io(&path, e)),
        }
    }

    /// The path of a key's secret file.
    pub fn secret_path(&self, id: &KeyId) -> PathBuf {
        self.dir.join(format!("{}.secret", id.to_hex()))
    }

    fn has_keys(&self) -> Result<bool, CardError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(CardError::io(&self.dir, e)),
        };
        for entry in entries {
            let name = entry.map_err(|e| CardError::io(&self.dir, e))?.file_name();
            let name = name.to_string_lossy();
            if name == META_FILE || name.ends_with(".secret") {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn new_key<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        now: DateTime<Utc>,
        valid_days: u64,
    ) -> Result<KeyEntry, CardError> {
        // What PostgreSQL's timestamptz keeps, so the folder and the database agree exactly.
        let now = chrono::SubsecRound::trunc_subsecs(now, 6);
        let key = SigningKey::generate(rng);
        let vk = key.verifying_key();
        let key_id = KeyId::of(&vk);
        let path = self.secret_path(&key_id);
        // create_new: never overwrite a secret; mode 0600 is applied at creation, so the
        // secret is never readable by others, not even briefly.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| CardError::io(&path, e))?;
        file.write_all(key.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| CardError::io(&path, e))?;
        // The file's name is in the directory only once the directory is synced.
        sync_dir(&self.dir)?;
        // The district's date, not UTC's: a key made before 08:00 Beijing time is valid from
        // that Beijing day, like the cards it signs.
        let today = crate::time::date_of(now);
        let valid_until = today
            .checked_add_days(Days::new(valid_days))
            .ok_or_else(|| CardError::InvalidDates("key validity overflows".into()))?;
        Ok(KeyEntry {
            key_id,
            public_key: encode_public_key(&vk),
            status: KeyStatus::Active,
            created: now,
            valid_from: today,
            valid_until,
            signed_until: None,
        })
    }

    fn set_status(&self, id: &KeyId, to: KeyStatus) -> Result<(), CardError> {
        let _lock = self.lock()?;
        let mut set = self.load()?;
        let key = set
            .keys
            .iter_mut()
            .find(|k| &k.key_id == id)
            .ok_or_else(|| CardError::UnknownKey(id.to_hex()))?;
        // Compromise trumps everything; a compromised key is never "un-compromised".
        let allowed = match (key.status, to) {
            (KeyStatus::Compromised, _) => false,
            (KeyStatus::Retired, KeyStatus::Retired) => false,
            (_, KeyStatus::Compromised | KeyStatus::Retired) => true,
            _ => false,
        };
        if !allowed {
            return Err(CardError::BadKeyTransition {
                key_id: id.to_hex(),
                from: key.status.to_string(),
                to: to.to_string(),
            });
        }
        key.status = to;
        self.save(&set)?;
        self.remove_secret(id)
    }

    fn load(&self) -> Result<KeySet, CardError> {
        let path = self.dir.join(META_FILE);
        let json = match fs::read_to_string(&path) {
            Ok(json) => json,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CardError::NoKeys(self.dir.clone()))
            }
            Err(e) => return Err(CardError::io(&path, e)),
        };
        KeySet::from_json(&json).map_err(|e| CardError::CorruptKeyStore(e.to_string()))
    }

    fn save(&self, set: &KeySet) -> Result<(), CardError> {
        // Write, fsync, rename, fsync the directory: after a crash or a power cut the key set
        // is the old one or the new one, whole — never empty or half-written (the rename alone
        // can reach the disk before the file's data does).
        // A name of its own: the service's refresh and a `keys` command may save at once.
        let tmp = self.dir.join(format!(
            "{META_FILE}.{}-{:08x}.tmp",
            std::process::id(),
            rand::random::<u32>()
        ));
        let path = self.dir.join(META_FILE);
        let mut file = fs::File::create(&tmp).map_err(|e| CardError::io(&tmp, e))?;
        file.write_all(set.to_json().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| CardError::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| CardError::io(&path, e))?;
        sync_dir(&self.dir)
    }
}

/// Makes the directory's entries (a new or renamed file) durable.
fn sync_dir(dir: &Path) -> Result<(), CardError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CardError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::keyset::KeyStatus;
    use rand::rngs::OsRng;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("fixed date")
    }

    #[test]
    fn generate_refuses_existing_keys_and_writes_owner_only_secret() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = KeyStore::open(dir.path().join("keys"));
        let entry = store.generate(&mut OsRng, now(), 3650).expect("generate");
        let mode = fs::metadata(store.secret_path(&entry.key_id))
            .expect("secret exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            store.generate(&mut OsRng, now(), 10),
            Err(CardError::KeysExist(_))
        ));
        let signer = store.signer().expect("signer");
        assert!(!format!("{signer:?}").contains(&hex::encode(signer.key.as_bytes())));
        assert!(format!("{signer:?}").contains("redacted"));
    }

    #[test]
    fn key_dates_are_beijing_dates() {
        // 23:30 UTC on 1 January is 07:30 on 2 January in Zhoucun.
        let early = DateTime::parse_from_rfc3339("2020-01-01T23:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("fixed date");
        let day = NaiveDate::from_ymd_opt(2020, 1, 2).expect("date");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = KeyStore::open(dir.path());
        let first = store.generate(&mut OsRng, early, 3650).expect("generate");
        assert_eq!(first.valid_from, day);
        store.rotate(&mut OsRng, early, 3650).expect("rotate");
        let set = store.key_set().expect("set");
        assert_eq!(set.keys[0].signed_until, Some(day));
        assert_eq!(set.keys[1].valid_from, day);
        // And a card issued that Beijing day by the old key is still one it may sign.
        assert!(set.keys[0].covers(day, day));
    }

    #[test]
    fn rotate_retire_and_compromise_change_status() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = KeyStore::open(dir.path());
        let first = store.generate(&mut OsRng, now(), 3650).expect("generate");
        let second = store.rotate(&mut OsRng, now(), 3650).expect("rotate");
        assert_eq!(store.signer().expect("signer").key_id(), second.key_id);
        let set = store.key_set().expect("set");
        assert_eq!(set.keys[0].status, KeyStatus::VerifyOnly);
        assert_eq!(set.keys[0].signed_until, Some(now().date_naive()));
        assert_eq!(set.keys[0].valid_from, now().date_naive());
        store.retire(&first.key_id).expect("retire");
        assert!(!store.secret_path(&first.key_id).exists());
        let path = store.secret_path(&second.key_id);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(store.signer(), Err(CardError::CorruptKeyStore(_))));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        store.mark_compromised(&second.key_id).expect("compromise");
        assert!(matches!(store.signer(), Err(CardError::NoActiveKey)));
        assert!(
            store.retire(&second.key_id).is_err(),
            "compromised stays compromised"
        );
    }
}
