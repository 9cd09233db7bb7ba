//! Group-committed appends to the verification log. Each scan is judged against its card's
//! state as read inside the transaction that records it, chained, checked for copied cards and
//! committed with whatever other scans queued meanwhile; its desk is answered once the commit is
//! durable. Chaining and copy detection are plain code shared by both backends; the runners that
//! own the chain are in `writer.rs`.

use std::collections::HashMap;

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use sqlx::PgPool;

use super::{Chain, Earlier, NewEntry};
use crate::audit::{hash, Entry};
use crate::card::CardState;
use crate::db::cards::parse_state;
use crate::error::Result;

/// Per appended entry: its id, and the earlier verification at another facility it was flagged
/// against as a possible copy.
pub type Logged = (i64, Option<Earlier>);

/// Answers a scan's desk once its entry is durable.
pub type Respond = Box<dyn FnOnce(Logged) + Send>;

/// Judges a scan against the states of the cards as read in the transaction that records it
/// (and what it read of their holders): the entry to write and how to answer once it is durable.
pub type Judge = Box<
    dyn FnOnce(&HashMap<String, CardState>, &HashMap<String, Holder>) -> (NewEntry, Respond) + Send,
>;

/// A card's holder as the transaction that records its scan read it: what the desk's checkup
/// line needs, read with the card's state so that a scan costs no query of its own for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// The member.
    pub member_id: i64,
    /// The member's household.
    pub household_id: i64,
    /// That household file's version.
    pub household_version: i32,
    /// Whether a checkup is booked or completed in the scan's year (Beijing time).
    pub checkup_this_year: bool,
}

/// One scan for the log. If the append fails, `judge` (or the `Respond` it made) is dropped
/// unanswered: whatever waits on it sees its channel close.
pub struct Append {
    /// The serial whose card state `judge` needs (none when the text is no card of ours).
    pub lookup: Option<String>,
    /// See [`Judge`].
    pub judge: Judge,
}

/// Scans judged and written in one transaction, waiting to be answered.
pub(super) type Written = Vec<(Respond, Logged)>;

/// Reads nothing itself: judges every scan with the states read for all of them.
fn judge_all(
    appends: Vec<Append>,
    states: &HashMap<String, CardState>,
    holders: &HashMap<String, Holder>,
) -> (Vec<NewEntry>, Vec<Respond>) {
    appends
        .into_iter()
        .map(|a| (a.judge)(states, holders))
        .unzip()
}

/// Pairs each scan's answer with the result of its entry (both in append order).
fn split(logged: Vec<Logged>, responders: Vec<Respond>) -> Written {
    responders.into_iter().zip(logged).collect()
}

/// One entry as stored: the chained entry, its district day, its link and its hash.
struct Row {
    entry: Entry,
    day: String,
    prev_hash: String,
    hash: String,
}

/// Chains a batch's entries onto `next`.
fn chain_rows(next: &mut Chain, entries: &[NewEntry]) -> Vec<Row> {
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
        let prev_hash = std::mem::replace(&mut next.last_hash, h.clone());
        rows.push(Row {
            entry,
            day,
            prev_hash,
            hash: h,
        });
    }
    rows
}

/// The earliest time a previous sighting still counts for a copy, as stored text.
fn cutoff(entries: &[NewEntry], copy_window: chrono::Duration) -> String {
    (entries.first().map_or_else(Utc::now, |e| e.at) - copy_window)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The serials a batch verified valid: the ones to look for at other facilities.
fn valid_serials(rows: &[Row]) -> Vec<&str> {
    rows.iter()
        .filter(|r| r.entry.verdict == "valid")
        .filter_map(|r| r.entry.card_serial.as_deref())
        .collect()
}

/// What the copy check of a batch decided.
struct Sightings {
    /// Per row, its id and what it was flagged against.
    logged: Vec<Logged>,
    /// (serial, first verification, second verification) to record as copy alerts.
    alerts: Vec<(String, i64, i64)>,
    /// The last-seen rows to write.
    seen: Vec<Earlier>,
}

/// Walks the batch in order: each valid scan is compared with where its card was last seen
/// (before the batch, `stored`, or earlier in it), then becomes the last seen.
fn sightings(
    rows: &[Row],
    ids: &[i64],
    stored: HashMap<String, Earlier>,
    cutoff: &str,
) -> Sightings {
    let mut last_seen = stored.clone();
    let mut logged = Vec::with_capacity(rows.len());
    let mut alerts = Vec::new();
    for (row, &id) in rows.iter().zip(ids) {
        let e = &row.entry;
        let mut flagged = None;
        if let (true, Some(serial)) = (e.verdict == "valid", e.card_serial.as_ref()) {
            if let Some(prev) = last_seen.get(serial) {
                if prev.facility_id != e.facility_id && prev.at.as_str() >= cutoff {
                    flagged = Some(prev.clone());
                    alerts.push((serial.clone(), prev.verification_id, id));
                }
            }
            last_seen.insert(
                serial.clone(),
                Earlier {
                    verification_id: id,
                    facility_id: e.facility_id,
                    card_serial: Some(serial.clone()),
                    at: e.at.clone(),
                },
            );
        }
        logged.push((id, flagged));
    }
    // A card seen again at the same facility within a minute need not be written again: a copy
    // is judged by the facility, and a minute is nothing against the window. This keeps a random
    // page out of most commits.
    let new_ids: std::collections::HashSet<i64> = ids.iter().copied().collect();
    let seen = last_seen
        .into_values()
        .filter(|l| new_ids.contains(&l.verification_id))
        .filter(|l| {
            let prev = stored.get(l.card_serial.as_deref().unwrap_or_default());
            match (prev, parse_at(&l.at)) {
                (Some(prev), _) if prev.facility_id != l.facility_id => true,
                (Some(prev), Some(at)) => {
                    parse_at(&prev.at).is_none_or(|p| at - p >= chrono::Duration::minutes(1))
                }
                _ => true,
            }
        })
        .collect();
    Sightings {
        logged,
        alerts,
        seen,
    }
}

/// Parses a stored `at`.
fn parse_at(at: &str) -> Option<chrono::DateTime<Utc>> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What a batch's transaction read per card: its state and where it was last seen valid.
/// The last sighting is read whatever its age; [`sightings`] compares it with the cutoff, and
/// one older than the cutoff is written over just as a missing one is.
#[derive(Default)]
struct Looked {
    states: HashMap<String, CardState>,
    last_seen: HashMap<String, Earlier>,
    holders: HashMap<String, Holder>,
}

impl Looked {
    fn add(&mut self, serial: String, state: &str, seen: Option<Earlier>, holder: Holder) {
        if let Some(seen) = seen {
            self.last_seen.insert(serial.clone(), seen);
        }
        self.holders.insert(serial.clone(), holder);
        self.states.insert(serial, parse_state(state));
    }

    /// The last sightings of the cards the batch verified valid.
    fn sightings_of(mut self, rows: &[Row]) -> HashMap<String, Earlier> {
        valid_serials(rows)
            .into_iter()
            .filter_map(|s| Some((s.to_owned(), self.last_seen.remove(s)?)))
            .collect()
    }
}

/// A card's state, last sighting and holder (SQLite): `?1` the serial, `?2` the scan's year.
const HOLDER_SQLITE: &str = "select c.state, l.verification_id, l.facility_id, l.at,
        c.member_id, c.household_id, h.version,
        exists (select 1 from checkup k where k.member_id = c.member_id and k.year = ?2
                  and k.state in ('booked', 'completed')) as taken
   from card c join household h on h.household_id = c.household_id
   left join card_last_seen l on l.card_serial = c.serial
  where c.serial = ?1";

/// The SQLite append, on the writer thread: one immediate transaction for all queued scans,
/// prepared statements kept by the connection, one row at a time (in-process, a row costs
/// microseconds). The chain advances only when the commit succeeds.
pub(super) fn append_sqlite(
    conn: &mut rusqlite::Connection,
    chain: &mut Chain,
    appends: Vec<Append>,
    copy_window: chrono::Duration,
) -> Result<Written> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // One read per card: its state, where it was last seen (see [`Looked`]) and its holder.
    let mut looked = Looked::default();
    let year = chrono::Datelike::year(&crate::time::today());
    {
        let mut q = tx.prepare_cached(HOLDER_SQLITE)?;
        for serial in appends.iter().filter_map(|a| a.lookup.as_ref()) {
            if looked.states.contains_key(serial) {
                continue;
            }
            let found = q
                .query_row(params![serial, year], |r| {
                    let seen = match r.get::<_, Option<i64>>(1)? {
                        Some(verification_id) => Some(Earlier {
                            verification_id,
                            facility_id: r.get(2)?,
                            card_serial: Some(serial.clone()),
                            at: r.get(3)?,
                        }),
                        None => None,
                    };
                    let holder = Holder {
                        member_id: r.get(4)?,
                        household_id: r.get(5)?,
                        household_version: r.get(6)?,
                        checkup_this_year: r.get(7)?,
                    };
                    Ok((r.get::<_, String>(0)?, seen, holder))
                })
                .optional()?;
            if let Some((state, seen, holder)) = found {
                looked.add(serial.clone(), &state, seen, holder);
            }
        }
    }
    let (entries, responders) = judge_all(appends, &looked.states, &looked.holders);
    let mut next = chain.clone();
    let rows = chain_rows(&mut next, &entries);
    let cutoff = cutoff(&entries, copy_window);
    let stored = looked.sightings_of(&rows);
    let mut ids = Vec::with_capacity(rows.len());
    {
        let mut q = tx.prepare_cached(
            "insert into verification (chain_id, seq, at, day, facility_id, account_id, card_serial, verdict, prev_hash, hash)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for r in &rows {
            let e = &r.entry;
            q.execute(params![
                e.chain_id,
                e.seq,
                e.at,
                r.day,
                e.facility_id,
                e.account_id,
                e.card_serial,
                e.verdict,
                r.prev_hash,
                r.hash
            ])?;
            ids.push(tx.last_insert_rowid());
        }
    }
    let found = sightings(&rows, &ids, stored, &cutoff);
    {
        let mut q = tx.prepare_cached(
            "insert into card_last_seen (card_serial, facility_id, verification_id, at) values (?1, ?2, ?3, ?4)
             on conflict (card_serial) do update set facility_id = excluded.facility_id,
                 verification_id = excluded.verification_id, at = excluded.at",
        )?;
        for l in &found.seen {
            q.execute(params![
                l.card_serial,
                l.facility_id,
                l.verification_id,
                l.at
            ])?;
        }
    }
    {
        let mut q = tx.prepare_cached(
            "insert into copy_alert (card_serial, first_verification_id, second_verification_id, created_at)
             values (?1, ?2, ?3, ?4)",
        )?;
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        for (serial, first, second) in &found.alerts {
            q.execute(params![serial, first, second, now])?;
        }
    }
    tx.commit()?;
    *chain = next;
    Ok(split(found.logged, responders))
}

/// A card's state, last sighting and holder as PostgreSQL reads them.
#[derive(sqlx::FromRow)]
struct FoundPg {
    serial: String,
    state: String,
    verification_id: Option<i64>,
    facility_id: Option<i64>,
    at: Option<String>,
    member_id: i64,
    household_id: i64,
    version: i32,
    taken: bool,
}

/// The PostgreSQL append: one transaction through the pool for all queued scans, multi-row
/// statements. The chain advances only when the commit succeeds.
pub(super) async fn append_postgres(
    pool: &PgPool,
    chain: &mut Chain,
    appends: Vec<Append>,
    copy_window: chrono::Duration,
) -> Result<Written> {
    let lookup: Vec<&str> = appends.iter().filter_map(|a| a.lookup.as_deref()).collect();
    let year = chrono::Datelike::year(&crate::time::today());
    let mut tx = pool.begin().await?;
    let found: Vec<FoundPg> = sqlx::query_as(
        "select c.serial, c.state, l.verification_id, l.facility_id, l.at,
                c.member_id, c.household_id, h.version,
                exists (select 1 from checkup k where k.member_id = c.member_id and k.year = $2
                          and k.state in ('booked', 'completed')) as taken
           from card c join household h on h.household_id = c.household_id
           left join card_last_seen l on l.card_serial = c.serial
          where c.serial = any($1)",
    )
    .bind(&lookup)
    .bind(year)
    .fetch_all(&mut *tx)
    .await?;
    let mut looked = Looked::default();
    for f in found {
        let holder = Holder {
            member_id: f.member_id,
            household_id: f.household_id,
            household_version: f.version,
            checkup_this_year: f.taken,
        };
        let (serial, state, verification_id, facility_id, at) =
            (f.serial, f.state, f.verification_id, f.facility_id, f.at);
        let seen = match (verification_id, facility_id, at) {
            (Some(verification_id), Some(facility_id), Some(at)) => Some(Earlier {
                verification_id,
                facility_id,
                card_serial: Some(serial.clone()),
                at,
            }),
            _ => None,
        };
        looked.add(serial, &state, seen, holder);
    }
    let (entries, responders) = judge_all(appends, &looked.states, &looked.holders);
    let mut next = chain.clone();
    let rows = chain_rows(&mut next, &entries);
    let cutoff = cutoff(&entries, copy_window);
    let stored = looked.sightings_of(&rows);
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(200) {
        let mut q = sqlx::QueryBuilder::new(
            "insert into verification (chain_id, seq, at, day, facility_id, account_id, card_serial, verdict, prev_hash, hash) ",
        );
        q.push_values(chunk, |mut b, r| {
            let e = &r.entry;
            b.push_bind(e.chain_id.as_str())
                .push_bind(e.seq)
                .push_bind(e.at.as_str())
                .push_bind(r.day.as_str())
                .push_bind(e.facility_id)
                .push_bind(e.account_id)
                .push_bind(e.card_serial.as_deref())
                .push_bind(e.verdict.as_str())
                .push_bind(r.prev_hash.as_str())
                .push_bind(r.hash.as_str());
        });
        q.push(" returning verification_id");
        let got: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        ids.extend(got);
    }
    let found = sightings(&rows, &ids, stored, &cutoff);
    for chunk in found.seen.chunks(200) {
        let mut q = sqlx::QueryBuilder::new(
            "insert into card_last_seen (card_serial, facility_id, verification_id, at) ",
        );
        q.push_values(chunk, |mut b, l| {
            b.push_bind(l.card_serial.as_deref())
                .push_bind(l.facility_id)
                .push_bind(l.verification_id)
                .push_bind(l.at.as_str());
        });
        q.push(
            " on conflict (card_serial) do update set facility_id = excluded.facility_id,
                  verification_id = excluded.verification_id, at = excluded.at",
        );
        q.build().execute(&mut *tx).await?;
    }
    for (serial, first, second) in &found.alerts {
        sqlx::query("insert into copy_alert (card_serial, first_verification_id, second_verification_id, created_at) values ($1, $2, $3, $4)")
            .bind(serial)
            .bind(first)
            .bind(second)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    *chain = next;
    Ok(split(found.logged, responders))
}
