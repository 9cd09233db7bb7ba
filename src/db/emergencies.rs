//! Emergencies reported by the townships (二(二)) and every step taken on them. No policy here:
//! who may report, act on or close one is [`crate::service::emergencies`]'s.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::{on_db, on_tx};

/// One emergency, with its household's township and who reported and closed it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EmergencyRow {
    /// Its id.
    pub emergency_id: i64,
    /// The household.
    pub household_id: i64,
    /// The household's township.
    pub township_id: String,
    /// `accident`, `disaster`, `hardship` or `other`.
    pub kind: String,
    /// The Beijing date it happened.
    pub happened_on: NaiveDate,
    /// The moment, when given.
    pub happened_at: Option<DateTime<Utc>>,
    /// What happened.
    pub what: String,
    /// What is needed.
    pub needs: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// The account that reported it.
    pub reported_by: String,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The account that closed it.
    pub closed_by: Option<String>,
    /// What was done, as recorded at the close.
    pub outcome: Option<String>,
}

const ROW: &str = "select e.emergency_id, e.household_id, h.township_id, e.kind, e.happened_on,
        e.happened_at, e.what, e.needs, e.state, e.reported_at, r.name as reported_by,
        e.closed_at, c.name as closed_by, e.outcome
   from emergency e join household h on h.household_id = e.household_id
   join account r on r.account_id = e.reported_by
   left join account c on c.account_id = e.closed_by";

/// One step taken on an emergency.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StepRow {
    /// Its id.
    pub step_id: i64,
    /// `reported`, `action` or `closed`.
    pub kind: String,
    /// What was reported, done or concluded.
    pub note: String,
    /// When.
    pub at: DateTime<Utc>,
    /// By which account.
    pub made_by: String,
}

/// An emergency to store.
#[derive(Debug, Clone)]
pub struct NewEmergency<'a> {
    /// The household.
    pub household_id: i64,
    /// Its kind.
    pub kind: &'a str,
    /// The Beijing date it happened.
    pub on: NaiveDate,
    /// The moment, when given.
    pub at: Option<DateTime<Utc>>,
    /// What happened.
    pub what: &'a str,
    /// What is needed.
    pub needs: Option<&'a str>,
    /// Who reports it.
    pub account_id: i64,
}

/// Inserts an open emergency and its first step inside `tx`.
pub async fn insert(tx: &mut Tx, e: &NewEmergency<'_>) -> Result<i64> {
    let now = Utc::now();
    let id: i64 = on_tx!(tx, x => sqlx::query_scalar(
        "insert into emergency (household_id, kind, happened_on, happened_at, what, needs, state,
                reported_at, reported_by)
         values ($1, $2, $3, $4, $5, $6, 'open', $7, $8) returning emergency_id")
        .bind(e.household_id).bind(e.kind).bind(e.on).bind(e.at).bind(e.what).bind(e.needs)
        .bind(now).bind(e.account_id).fetch_one(&mut *x).await)?;
    add_step(tx, id, "reported", e.what, e.account_id).await?;
    Ok(id)
}

/// Appends a step inside `tx`.
pub async fn add_step(
    tx: &mut Tx,
    emergency_id: i64,
    kind: &str,
    note: &str,
    account_id: i64,
) -> Result<()> {
    let now = Utc::now();
    on_tx!(tx, x => sqlx::query(
        "insert into emergency_step (emergency_id, kind, note, at, by_account)
         values ($1, $2, $3, $4, $5)")
        .bind(emergency_id).bind(kind).bind(note).bind(now).bind(account_id)
        .execute(&mut *x).await.map(|_| ()))?;
    Ok(())
}

/// Closes an open emergency inside `tx`, guarded by its state: false when it was not open.
pub async fn close(tx: &mut Tx, emergency_id: i64, outcome: &str, account_id: i64) -> Result<bool> {
    let now = Utc::now();
    let n = on_tx!(tx, x => sqlx::query(
        "update emergency set state = 'closed', closed_at = $2, closed_by = $3, outcome = $4
          where emergency_id = $1 and state = 'open'")
        .bind(emergency_id).bind(now).bind(account_id).bind(outcome)
        .execute(&mut *x).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Locks an open emergency's row inside `tx` (a step then cannot land beside a concurrent
/// close): false when it was not open.
pub async fn lock_open(tx: &mut Tx, emergency_id: i64) -> Result<bool> {
    let n = on_tx!(tx, x => sqlx::query(
        "update emergency set state = state where emergency_id = $1 and state = 'open'")
        .bind(emergency_id).execute(&mut *x).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// One emergency.
pub async fn get(db: &Db, emergency_id: i64) -> Result<EmergencyRow> {
    let sql = format!("{ROW} where e.emergency_id = $1");
    on_db!(db, p => sqlx::query_as(&sql).bind(emergency_id).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("emergency"))
}

/// One emergency, read inside `tx`.
pub async fn get_in(tx: &mut Tx, emergency_id: i64) -> Result<EmergencyRow> {
    let sql = format!("{ROW} where e.emergency_id = $1");
    on_tx!(tx, x => sqlx::query_as(&sql).bind(emergency_id).fetch_optional(&mut *x).await)?
        .ok_or(AppError::NotFound("emergency"))
}

/// Its steps, in order.
pub async fn steps(db: &Db, emergency_id: i64) -> Result<Vec<StepRow>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select s.step_id, s.kind, s.note, s.at, a.name as made_by
           from emergency_step s join account a on a.account_id = s.by_account
          where s.emergency_id = $1 order by s.step_id")
        .bind(emergency_id).fetch_all(p).await)?)
}

/// Emergencies in `state` (or all), of `township` (or all), the newest reported first.
pub async fn list(
    db: &Db,
    state: Option<&str>,
    township: Option<&str>,
    limit: i64,
) -> Result<Vec<EmergencyRow>> {
    let sql = format!(
        "{ROW} where ($1 is null or e.state = $1) and ($2 is null or h.township_id = $2)
          order by e.reported_at desc, e.emergency_id desc limit $3"
    );
    Ok(
        on_db!(db, p => sqlx::query_as(&sql).bind(state).bind(township).bind(limit)
        .fetch_all(p).await)?,
    )
}
