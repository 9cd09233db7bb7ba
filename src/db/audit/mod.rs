//! The verification audit log: group-committed appends to this process's hash chain
//! ([`AuditLog`]), the integrity check, and the office's reads.

mod append;
mod writer;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use append::{Append, Holder, Judge, Logged, Respond};
pub use writer::{AuditLog, Stopped};

use super::Db;
use crate::audit::{genesis, hash, Entry};
use crate::error::Result;
use crate::on_db;

/// This process's chain: where the next entry goes.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Random id of this process's chain.
    pub chain_id: String,
    /// The last entry's seq (0 before the first).
    pub seq: i64,
    /// The last entry's hash (the genesis hash before the first).
    pub last_hash: String,
}

impl Chain {
    /// A new chain for a starting process.
    pub fn new() -> Self {
        let chain_id = hex::encode(rand::random::<[u8; 8]>());
        let last_hash = genesis(&chain_id);
        Self {
            chain_id,
            seq: 0,
            last_hash,
        }
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

/// What one verification writes.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The desk's facility.
    pub facility_id: i64,
    /// The staff account.
    pub account_id: i64,
    /// The card serial, if the text was a card.
    pub card_serial: Option<String>,
    /// The verdict.
    pub verdict: String,
}

/// A possible copy found while appending: the earlier verification at another facility.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Earlier {
    /// Its id.
    pub verification_id: i64,
    /// Its facility.
    pub facility_id: i64,
    /// The serial.
    pub card_serial: Option<String>,
    /// When.
    pub at: String,
}

#[derive(sqlx::FromRow)]
struct StoredEntry {
    verification_id: i64,
    chain_id: String,
    seq: i64,
    at: String,
    day: String,
    facility_id: i64,
    account_id: i64,
    card_serial: Option<String>,
    verdict: String,
    prev_hash: String,
    hash: String,
}

/// The district day of a stored time: what the `day` column must say. `day` is not hashed
/// itself; it is a function of the hashed `at`, so a scan moved to another day is caught.
fn day_of(at: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| crate::time::date_of(t.with_timezone(&chrono::Utc)).to_string())
}

/// The result of checking the log.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Entries read.
    pub entries: u64,
    /// Chains read.
    pub chains: u64,
    /// The first bad entry, if any, and what is wrong with it.
    pub first_bad: Option<BadEntry>,
}

/// An entry that breaks its chain.
#[derive(Debug, Clone, Serialize)]
pub struct BadEntry {
    /// Its id.
    pub verification_id: i64,
    /// Its chain.
    pub chain_id: String,
    /// Its position.
    pub seq: i64,
    /// What is wrong.
    pub problem: String,
}

/// Walks every chain in order and names the first entry that was edited, or whose predecessor
/// was deleted or moved.
pub async fn check(db: &Db) -> Result<CheckReport> {
    let rows: Vec<StoredEntry> = on_db!(db, p => sqlx::query_as(
        "select verification_id, chain_id, seq, at, day, facility_id, account_id, card_serial, verdict, prev_hash, hash
           from verification order by chain_id, seq").fetch_all(p).await)?;
    // Hashing a large log takes seconds of CPU: on the blocking pool, not the desks' workers.
    tokio::task::spawn_blocking(move || walk(&rows))
        .await
        .map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!("audit check stopped: {e}")))
}

/// The chain walk of [`check`].
fn walk(rows: &[StoredEntry]) -> CheckReport {
    let mut report = CheckReport {
        entries: rows.len() as u64,
        chains: 0,
        first_bad: None,
    };
    let mut bad: Vec<BadEntry> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        report.chains += 1;
        let chain = rows[i].chain_id.clone();
        let mut expected_prev = genesis(&chain);
        let mut expected_seq = 1;
        while i < rows.len() && rows[i].chain_id == chain {
            let r = &rows[i];
            let entry = Entry {
                chain_id: r.chain_id.clone(),
                seq: r.seq,
                at: r.at.clone(),
                facility_id: r.facility_id,
                account_id: r.account_id,
                card_serial: r.card_serial.clone(),
                verdict: r.verdict.clone(),
            };
            let problem = if r.seq != expected_seq {
                Some(format!(
                    "expected seq {expected_seq}: an entry before it was deleted or moved"
                ))
            } else if r.prev_hash != expected_prev {
                Some("its link does not match the previous entry: an entry before it was deleted, moved or edited".into())
            } else if hash(&r.prev_hash, &entry) != r.hash {
                Some("its content does not match its hash: it was edited".into())
            } else if day_of(&r.at).as_deref() != Some(r.day.as_str()) {
                Some(format!(
                    "its day {} is not the day of its time {}: it was moved to another day",
                    r.day, r.at
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                bad.push(BadEntry {
                    verification_id: r.verification_id,
                    chain_id: chain.clone(),
                    seq: r.seq,
                    problem,
                });
                // Skip the rest of a broken chain: everything after it depends on it.
                while i < rows.len() && rows[i].chain_id == chain {
                    i += 1;
                }
                break;
            }
            expected_prev = r.hash.clone();
            expected_seq += 1;
            i += 1;
        }
    }
    // "First" in time: the lowest id among the broken chains.
    report.first_bad = bad.into_iter().min_by_key(|b| b.verification_id);
    report
}

/// One verification as the office reads it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Verification {
    /// Its id.
    pub verification_id: i64,
    /// When.
    pub at: String,
    /// District calendar day.
    pub day: String,
    /// The facility.
    pub facility_id: i64,
    /// The staff account.
    pub account_id: i64,
    /// The card.
    pub card_serial: Option<String>,
    /// The verdict.
    pub verdict: String,
}

/// Verifications filtered by card, facility and day, newest first (at most `limit`).
pub async fn list(
    db: &Db,
    serial: Option<&str>,
    facility_id: Option<i64>,
    day: Option<&str>,
    limit: i64,
) -> Result<Vec<Verification>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select verification_id, at, day, facility_id, account_id, card_serial, verdict from verification
          where ($1 is null or card_serial = $1) and ($2 is null or facility_id = $2) and ($3 is null or day = $3)
          order by at desc, verification_id desc limit $4")
        .bind(serial).bind(facility_id).bind(day).bind(limit).fetch_all(p).await)?)
}

/// Verifications per facility and day (counts), for the office.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DayCount {
    /// The facility.
    pub facility_id: i64,
    /// The day.
    pub day: String,
    /// The verdict.
    pub verdict: String,
    /// How many.
    pub count: i64,
}

/// Counts of verifications per facility, day and verdict.
pub async fn per_day(db: &Db, from: &str, to: &str) -> Result<Vec<DayCount>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select facility_id, day, verdict, count(*) as count from verification where day >= $1 and day <= $2
          group by facility_id, day, verdict order by day, facility_id, verdict")
        .bind(from).bind(to).fetch_all(p).await)?)
}

/// A copied-card alert with both events.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CopyAlert {
    /// Its id.
    pub copy_alert_id: i64,
    /// The card.
    pub card_serial: String,
    /// The first verification.
    pub first_verification_id: i64,
    /// Its facility.
    pub first_facility_id: i64,
    /// When.
    pub first_at: String,
    /// The second verification.
    pub second_verification_id: i64,
    /// Its facility.
    pub second_facility_id: i64,
    /// When.
    pub second_at: String,
}

/// Every copied-card alert, newest first.
pub async fn copy_alerts(db: &Db) -> Result<Vec<CopyAlert>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select a.copy_alert_id, a.card_serial, a.first_verification_id, f.facility_id as first_facility_id, f.at as first_at,
                a.second_verification_id, s.facility_id as second_facility_id, s.at as second_at
           from copy_alert a join verification f on f.verification_id = a.first_verification_id
                             join verification s on s.verification_id = a.second_verification_id
          order by a.copy_alert_id desc").fetch_all(p).await)?)
}

/// The last entry of every chain that the key `public_key` has not signed at that entry yet.
pub async fn heads_without_checkpoint(
    db: &Db,
    public_key: &str,
) -> Result<Vec<(String, i64, String)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select v.chain_id, v.seq, v.hash from verification v
          where v.seq = (select max(w.seq) from verification w where w.chain_id = v.chain_id)
            and not exists (select 1 from audit_checkpoint c
                             where c.chain_id = v.chain_id and c.seq = v.seq and c.public_key = $1)
          order by v.chain_id")
        .bind(public_key).fetch_all(p).await)?)
}

/// Stores a checkpoint signed by the key `public_key`.
pub async fn insert_checkpoint(
    db: &Db,
    c: &crate::audit::Checkpoint,
    public_key: &str,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "insert into audit_checkpoint (chain_id, seq, hash, made_at, signature, public_key)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (chain_id, seq, public_key) do nothing")
        .bind(&c.chain_id).bind(c.seq).bind(&c.hash).bind(&c.made_at).bind(&c.signature)
        .bind(public_key)
        .execute(p).await.map(|_| ()))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    chain_id: String,
    seq: i64,
    hash: String,
    made_at: String,
    signature: String,
}

/// Every checkpoint the key `public_key` signed, oldest first (each instance has its own key).
pub async fn checkpoints(db: &Db, public_key: &str) -> Result<Vec<crate::audit::Checkpoint>> {
    let rows: Vec<CheckpointRow> = on_db!(db, p => sqlx::query_as(
        "select chain_id, seq, hash, made_at, signature from audit_checkpoint
          where public_key = $1 order by audit_checkpoint_id")
        .bind(public_key).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|r| crate::audit::Checkpoint {
            chain_id: r.chain_id,
            seq: r.seq,
            hash: r.hash,
            made_at: r.made_at,
            signature: r.signature,
        })
        .collect())
}

/// The id and hash of entry `seq` of a chain.
pub async fn entry_at(db: &Db, chain_id: &str, seq: i64) -> Result<Option<(i64, String)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select verification_id, hash from verification where chain_id = $1 and seq = $2")
        .bind(chain_id).bind(seq).fetch_optional(p).await)?)
}

/// The id and seq of a chain's last entry.
pub async fn chain_end(db: &Db, chain_id: &str) -> Result<Option<(i64, i64)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select verification_id, seq from verification where chain_id = $1 order by seq desc limit 1")
        .bind(chain_id).fetch_optional(p).await)?)
}
