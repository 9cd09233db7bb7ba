//! The year's major festivals as the office configures them, and the townships' visits. No
//! policy here: which households a festival's list holds is [`crate::service::festivals`]'s.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::{on_db, on_tx};

/// A festival.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FestivalRow {
    /// Its id.
    pub festival_id: i64,
    /// Its name (春节, 中秋节 …).
    pub name: String,
    /// The year.
    pub year: i32,
    /// The festival's day.
    pub on_date: NaiveDate,
    /// The first day a visit counts for it.
    pub visits_from: NaiveDate,
    /// The last day a visit counts for it.
    pub visits_until: NaiveDate,
}

const FESTIVAL: &str =
    "select festival_id, name, year, on_date, visits_from, visits_until from festival";

/// A festival to store.
#[derive(Debug, Clone)]
pub struct NewFestival<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its day.
    pub on: NaiveDate,
    /// The first day a visit counts.
    pub visits_from: NaiveDate,
    /// The last day a visit counts.
    pub visits_until: NaiveDate,
    /// Who configures it.
    pub account_id: i64,
}

/// Inserts a festival inside `tx`; a unique violation means the year has one of that name.
pub async fn insert(tx: &mut Tx, f: &NewFestival<'_>) -> Result<i64> {
    use chrono::Datelike;
    let now = Utc::now();
    Ok(on_tx!(tx, x => sqlx::query_scalar(
        "insert into festival (name, year, on_date, visits_from, visits_until, created_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning festival_id")
        .bind(f.name).bind(f.on.year()).bind(f.on).bind(f.visits_from).bind(f.visits_until)
        .bind(now).bind(f.account_id).fetch_one(&mut *x).await)?)
}

/// One festival.
pub async fn get(db: &Db, festival_id: i64) -> Result<Option<FestivalRow>> {
    let sql = format!("{FESTIVAL} where festival_id = $1");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(festival_id).fetch_optional(p).await)?)
}

/// One festival, read inside `tx`.
pub async fn get_in(tx: &mut Tx, festival_id: i64) -> Result<Option<FestivalRow>> {
    let sql = format!("{FESTIVAL} where festival_id = $1");
    Ok(on_tx!(tx, x => sqlx::query_as(&sql).bind(festival_id).fetch_optional(&mut *x).await)?)
}

/// The festivals of `year` (or all), in date order.
pub async fn list(db: &Db, year: Option<i32>) -> Result<Vec<FestivalRow>> {
    let sql = format!("{FESTIVAL} where ($1 is null or year = $1) order by on_date, festival_id");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(year).fetch_all(p).await)?)
}

/// A visit as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct VisitRow {
    /// Its id.
    pub visit_id: i64,
    /// The festival.
    pub festival_id: i64,
    /// The household visited.
    pub household_id: i64,
    /// The day.
    pub visited_on: NaiveDate,
    /// Who visited.
    pub made_by: String,
    /// A note.
    pub note: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// Inserts a visit inside `tx`; a unique violation means the household was visited already.
pub async fn insert_visit(
    tx: &mut Tx,
    festival_id: i64,
    household_id: i64,
    on: NaiveDate,
    made_by: &str,
    note: Option<&str>,
    account_id: i64,
) -> Result<VisitRow> {
    let now = Utc::now();
    let id: i64 = on_tx!(tx, x => sqlx::query_scalar(
        "insert into festival_visit (festival_id, household_id, visited_on, made_by, note,
                recorded_at, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning visit_id")
        .bind(festival_id).bind(household_id).bind(on).bind(made_by).bind(note).bind(now)
        .bind(account_id).fetch_one(&mut *x).await)?;
    on_tx!(tx, x => sqlx::query_as(
        "select visit_id, festival_id, household_id, visited_on, made_by, note, recorded_at
           from festival_visit where visit_id = $1")
        .bind(id).fetch_optional(&mut *x).await)?
    .ok_or(AppError::NotFound("visit"))
}

/// The households visited for a festival.
pub async fn visited(db: &Db, festival_id: i64) -> Result<Vec<i64>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "select household_id from festival_visit where festival_id = $1")
        .bind(festival_id).fetch_all(p).await)?)
}
