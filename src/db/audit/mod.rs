//! The verification audit log: group-committed appends to this process's hash chain, the
//! integrity check, and the office's reads.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Db;
use crate::audit::{genesis, hash, Entry};
use crate::card::CardState;
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

/// Appends a batch in one transaction (one commit for the whole batch). In the same transaction
/// it first reads the state of the cards in `lookup`, so that `make_entries` judges each scan
/// against the state at the moment it is recorded; then it records copy alerts: a valid card
/// verified at another facility within `copy_window` before. Returns, per entry, its id and the
/// earlier verification it was flagged against. The chain advances only when the commit succeeds.
pub async fn append(
    db: &Db,
    chain: &mut Chain,
    lookup: &[String],
    make_entries: impl FnOnce(&HashMap<String, CardState>) -> Vec<NewEntry>,
    copy_window: chrono::Duration,
) -> Result<Vec<(i64, Option<Earlier>)>> {
    let mut next = chain.clone();
    let out = on_db!(db, p => {
        let mut tx = p.begin().await?;
        let mut states = HashMap::new();
        if !lookup.is_empty() {
            let mut q = sqlx::QueryBuilder::new("select serial, state from card where serial in (");
            let mut sep = q.separated(", ");
            for s in lookup {
                sep.push_bind(s.as_str());
            }
            q.push(")");
            let found: Vec<(String, String)> = q.build_query_as().fetch_all(&mut *tx).await?;
            for (serial, state) in found {
                states.insert(serial, crate::db::cards::parse_state(&state));
            }
        }
        let entries = make_entries(&states);
        let rows = chain_rows(&mut next, &entries);
        // Serials verified valid in this batch, to look for the same card at another facility.
        let valid: Vec<&str> = entries.iter().filter(|e| e.verdict == "valid").filter_map(|e| e.card_serial.as_deref()).collect();
        let cutoff = (entries.first().map_or_else(Utc::now, |e| e.at) - copy_window)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut last_seen: HashMap<String, Earlier> = HashMap::new();
        if !valid.is_empty() {
            let mut q = sqlx::QueryBuilder::new("select verification_id, facility_id, card_serial, at from card_last_seen where at >= ");
            q.push_bind(&cutoff).push(" and card_serial in (");
            let mut sep = q.separated(", ");
            for s in &valid {
                sep.push_bind(*s);
            }
            q.push(")");
            let found: Vec<Earlier> = q.build_query_as().fetch_all(&mut *tx).await?;
            for f in found {
                if let Some(s) = f.card_serial.clone() {
                    last_seen.insert(s, f);
                }
            }
        }
        let stored = last_seen.clone();
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(200) {
            let mut q = sqlx::QueryBuilder::new("insert into verification (chain_id, seq, at, day, facility_id, account_id, card_serial, verdict, prev_hash, hash) ");
            q.push_values(chunk, |mut b, (e, day, prev, h)| {
                b.push_bind(e.chain_id.as_str()).push_bind(e.seq).push_bind(e.at.as_str()).push_bind(day.as_str())
                    .push_bind(e.facility_id).push_bind(e.account_id).push_bind(e.card_serial.as_deref())
                    .push_bind(e.verdict.as_str()).push_bind(prev.as_str()).push_bind(h.as_str());
            });
            q.push(" returning verification_id");
            let got: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            ids.extend(got);
        }
        // Walk the batch in order: each valid scan is compared with where the card was last seen
        // (before the batch, or earlier in it), then becomes the last seen.
        let mut out = Vec::with_capacity(rows.len());
        let mut alerts = Vec::new();
        for (i, (e, _, _, _)) in rows.iter().enumerate() {
            let mut flagged = None;
            if let (true, Some(serial)) = (e.verdict == "valid", e.card_serial.as_ref()) {
                if let Some(prev) = last_seen.get(serial) {
                    if prev.facility_id != e.facility_id && prev.at.as_str() >= cutoff.as_str() {
                        flagged = Some(prev.clone());
                        alerts.push((serial.clone(), prev.verification_id, ids[i]));
                    }
                }
                last_seen.insert(serial.clone(), Earlier { verification_id: ids[i], facility_id: e.facility_id, card_serial: Some(serial.clone()), at: e.at.clone() });
            }
            out.push((ids[i], flagged));
        }
        // A card seen again at the same facility within a minute need not be written again: a
        // copy is judged by the facility, and a minute is nothing against the window. This keeps
        // a random page out of most commits.
        let new_ids: std::collections::HashSet<i64> = ids.iter().copied().collect();
        let seen: Vec<&Earlier> = last_seen
            .values()
            .filter(|l| new_ids.contains(&l.verification_id))
            .filter(|l| match (stored.get(l.card_serial.as_deref().unwrap_or_default()), parse_at(&l.at)) {
                (Some(prev), _) if prev.facility_id != l.facility_id => true,
                (Some(prev), Some(at)) => parse_at(&prev.at).is_none_or(|p| at - p >= chrono::Duration::minutes(1)),
                _ => true,
            })
            .collect();
        for chunk in seen.chunks(200) {
            let mut q = sqlx::QueryBuilder::new("insert into card_last_seen (card_serial, facility_id, verification_id, at) ");
            q.push_values(chunk, |mut b, l| {
                b.push_bind(l.card_serial.as_deref()).push_bind(l.facility_id).push_bind(l.verification_id).push_bind(l.at.as_str());
            });
            q.push(" on conflict (card_serial) do update set facility_id = excluded.facility_id, verification_id = excluded.verification_id, at = excluded.at");
            q.build().execute(&mut *tx).await?;
        }
        for (serial, first, second) in alerts {
            sqlx::query("insert into copy_alert (card_serial, first_verification_id, second_verification_id, created_at) values ($1, $2, $3, $4)")
                .bind(serial).bind(first).bind(second).bind(Utc::now())
                .execute(&mut *tx).await?;
        }
        tx.commit().await?;
        out
    });
    *chain = next;
    Ok(out)
}

/// The chained rows of a batch: each entry, its district day, its link and its hash.
fn chain_rows(next: &mut Chain, entries: &[NewEntry]) -> Vec<(Entry, String, String, String)> {
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        next.seq += 1;
        let entry = Entry {
            chain_id: next.chain_id.clone(),
            seq: next.seq,
            at: e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            facility_id: e.facility_id,
            account_id: e.account_id,
            card_serial: e.card_serial.clone(),
            verdict: e.verdict.clone(),
        };
        let h = hash(&next.last_hash, &entry);
        let day =
            e.at.with_timezone(&chrono_tz::Asia::Shanghai)
                .date_naive()
                .to_string();
        rows.push((entry, day, next.last_hash.clone(), h.clone()));
        next.last_hash = h;
    }
    rows
}

/// Parses a stored `at`.
fn parse_at(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(sqlx::FromRow)]
struct StoredEntry {
    verification_id: i64,
    chain_id: String,
    seq: i64,
    at: String,
    facility_id: i64,
    account_id: i64,
    card_serial: Option<String>,
    verdict: String,
    prev_hash: String,
    hash: String,
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
        "select verification_id, chain_id, seq, at, facility_id, account_id, card_serial, verdict, prev_hash, hash
           from verification order by chain_id, seq").fetch_all(p).await)?;
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
    Ok(report)
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
