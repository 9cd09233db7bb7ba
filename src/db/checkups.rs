//! Free annual checkups (二(五)4): places per weekday and per date, the per-day counter a booking
//! takes a place from, and the bookings. No policy here: who may be booked, and when, is
//! [`crate::service::checkups`]'s.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::{on_db, on_tx};

/// A facility's places by weekday (Monday first) and its dated exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Places on each ISO weekday, Monday first; a weekday never set has none.
    pub weekdays: [i32; 7],
    /// Dates with their own number of places (0: closed), in date order.
    pub dates: Vec<DatePlaces>,
}

/// One date's own number of places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DatePlaces {
    /// The date.
    pub on_date: NaiveDate,
    /// Its places; 0 means closed.
    pub places: i32,
    /// Why (元旦, 春节 …).
    pub note: Option<String>,
}

/// One booking, with what a day list shows of the member.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CheckupRow {
    /// Its id.
    pub checkup_id: i64,
    /// The member checked.
    pub member_id: i64,
    /// The member's household.
    pub household_id: i64,
    /// The member's township.
    pub township_id: String,
    /// The member's full name (masked by the handler for roles that see masked data).
    pub name: String,
    /// The member's ID number (the handler shows its last four).
    pub id_number: String,
    /// Where.
    pub facility_id: i64,
    /// The booked day.
    pub on_date: NaiveDate,
    /// The calendar year it counts for.
    pub year: i32,
    /// `booked`, `completed`, `cancelled` or `no_show`.
    pub state: String,
    /// When it was booked.
    pub booked_at: DateTime<Utc>,
    /// The day it was done.
    pub completed_on: Option<NaiveDate>,
    /// A short result summary.
    pub result_summary: Option<String>,
    /// The report's reference.
    pub report_ref: Option<String>,
    /// Whether a follow-up is advised.
    pub follow_up_advised: Option<bool>,
    /// Why it was cancelled, when it was.
    pub close_reason: Option<String>,
}

const ROW: &str = "select k.checkup_id, k.member_id, m.household_id, h.township_id, m.name, m.id_number,
        k.facility_id, k.on_date, k.year, k.state, k.booked_at, k.completed_on, k.result_summary,
        k.report_ref, k.follow_up_advised, k.close_reason
   from checkup k join member m on m.member_id = k.member_id join household h on h.household_id = m.household_id";

/// A facility's capacity as stored.
pub async fn capacity(db: &Db, facility_id: i64, from: NaiveDate) -> Result<Capacity> {
    let (weekdays, dates): (Vec<(i32, i32)>, Vec<DatePlaces>) = on_db!(db, p => {
        let w = sqlx::query_as("select weekday, places from checkup_weekday where facility_id = $1")
            .bind(facility_id).fetch_all(p).await?;
        let d = sqlx::query_as("select on_date, places, note from checkup_date where facility_id = $1 and on_date >= $2 order by on_date")
            .bind(facility_id).bind(from).fetch_all(p).await?;
        (w, d)
    });
    let mut c = Capacity {
        dates,
        ..Capacity::default()
    };
    for (day, places) in weekdays {
        if let Some(slot) = usize::try_from(day - 1)
            .ok()
            .and_then(|i| c.weekdays.get_mut(i))
        {
            *slot = places;
        }
    }
    Ok(c)
}

/// Replaces a facility's weekday places and its dated exceptions from `from` on (earlier ones
/// are history and stay), inside `tx`.
pub async fn set_capacity(
    tx: &mut Tx,
    facility_id: i64,
    c: &Capacity,
    from: NaiveDate,
) -> Result<()> {
    on_tx!(tx, x => {
        for (i, places) in c.weekdays.iter().enumerate() {
            let day = i32::try_from(i + 1).unwrap_or(1);
            sqlx::query("insert into checkup_weekday (facility_id, weekday, places) values ($1, $2, $3)
                         on conflict (facility_id, weekday) do update set places = excluded.places")
                .bind(facility_id).bind(day).bind(places).execute(&mut *x).await?;
        }
        sqlx::query("delete from checkup_date where facility_id = $1 and on_date >= $2")
            .bind(facility_id).bind(from).execute(&mut *x).await?;
        for d in &c.dates {
            sqlx::query("insert into checkup_date (facility_id, on_date, places, note) values ($1, $2, $3, $4)")
                .bind(facility_id).bind(d.on_date).bind(d.places).bind(d.note.as_deref())
                .execute(&mut *x).await?;
        }
    });
    Ok(())
}

/// Locks the facility's row until `tx` ends (PostgreSQL; SQLite's `IMMEDIATE` transaction holds
/// the write lock already), so that a booking reads the places a concurrent change leaves.
pub async fn lock_facility(tx: &mut Tx, facility_id: i64) -> Result<()> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("select facility_id from facility where facility_id = $1 for update")
            .bind(facility_id)
            .fetch_optional(&mut **t)
            .await?;
    }
    Ok(())
}

/// The places of one day, read inside `tx`: the date's own number, else its weekday's.
pub async fn places_on(tx: &mut Tx, facility_id: i64, on: NaiveDate, weekday: i32) -> Result<i32> {
    let places: Option<i32> = on_tx!(tx, x => sqlx::query_scalar(
        "select coalesce(
            (select places from checkup_date where facility_id = $1 and on_date = $2),
            (select places from checkup_weekday where facility_id = $1 and weekday = $3), 0)")
        .bind(facility_id).bind(on).bind(weekday).fetch_one(&mut *x).await)?;
    Ok(places.unwrap_or(0))
}

/// Takes one of `places` on a day: a conditional update of the day's counter that touches one
/// row or none. Whether it did is the answer; two bookings racing for the last place cannot
/// both see it free.
pub async fn take_place(tx: &mut Tx, facility_id: i64, on: NaiveDate, places: i32) -> Result<bool> {
    let n = on_tx!(tx, x => {
        sqlx::query("insert into checkup_day (facility_id, on_date, booked) values ($1, $2, 0)
                     on conflict (facility_id, on_date) do nothing")
            .bind(facility_id).bind(on).execute(&mut *x).await?;
        sqlx::query("update checkup_day set booked = booked + 1
                      where facility_id = $1 and on_date = $2 and booked < $3")
            .bind(facility_id).bind(on).bind(places).execute(&mut *x).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Gives a place back (a cancelled booking).
pub async fn free_place(tx: &mut Tx, facility_id: i64, on: NaiveDate) -> Result<()> {
    on_tx!(tx, x => sqlx::query("update checkup_day set booked = booked - 1
                                  where facility_id = $1 and on_date = $2 and booked > 0")
        .bind(facility_id).bind(on).execute(&mut *x).await.map(|_| ()))?;
    Ok(())
}

/// Places taken per day from `from` to `to`.
pub async fn booked_between(
    db: &Db,
    facility_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, i32)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select on_date, booked from checkup_day where facility_id = $1 and on_date between $2 and $3 order by on_date")
        .bind(facility_id).bind(from).bind(to).fetch_all(p).await)?)
}

/// Inserts a booking inside `tx`. A unique violation means the member has a booked or completed
/// checkup that year already.
pub async fn insert(
    tx: &mut Tx,
    member_id: i64,
    facility_id: i64,
    on: NaiveDate,
    year: i32,
    account_id: Option<i64>,
) -> Result<i64> {
    let now = Utc::now();
    Ok(on_tx!(tx, x => sqlx::query_scalar(
        "insert into checkup (member_id, facility_id, on_date, year, state, booked_at, booked_by)
         values ($1, $2, $3, $4, 'booked', $5, $6) returning checkup_id")
        .bind(member_id).bind(facility_id).bind(on).bind(year).bind(now).bind(account_id)
        .fetch_one(&mut *x).await)?)
}

/// One booking.
pub async fn get(db: &Db, checkup_id: i64) -> Result<CheckupRow> {
    let sql = format!("{ROW} where k.checkup_id = $1");
    on_db!(db, p => sqlx::query_as(&sql).bind(checkup_id).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("checkup"))
}

/// One booking, read inside `tx`.
pub async fn get_in(tx: &mut Tx, checkup_id: i64) -> Result<CheckupRow> {
    let sql = format!("{ROW} where k.checkup_id = $1");
    on_tx!(tx, x => sqlx::query_as(&sql).bind(checkup_id).fetch_optional(&mut *x).await)?
        .ok_or(AppError::NotFound("checkup"))
}

/// What closing a booking records.
#[derive(Debug, Clone)]
pub enum Close<'a> {
    /// Done on that day.
    Completed {
        /// The day.
        on: NaiveDate,
        /// A short result summary.
        summary: Option<&'a str>,
        /// The report's reference.
        report_ref: Option<&'a str>,
        /// Whether a follow-up is advised.
        follow_up_advised: bool,
    },
    /// Cancelled, with why.
    Cancelled(Option<&'a str>),
    /// The member did not come.
    NoShow,
}

/// Moves a booking out of `booked` inside `tx`, guarded by that state: false when it was not
/// booked any more (someone else closed it first).
pub async fn close(
    tx: &mut Tx,
    checkup_id: i64,
    how: &Close<'_>,
    account_id: Option<i64>,
) -> Result<bool> {
    let now = Utc::now();
    let (state, on, summary, report, advised, reason) = match how {
        Close::Completed {
            on,
            summary,
            report_ref,
            follow_up_advised,
        } => (
            "completed",
            Some(*on),
            *summary,
            *report_ref,
            Some(*follow_up_advised),
            None,
        ),
        Close::Cancelled(reason) => ("cancelled", None, None, None, None, *reason),
        Close::NoShow => ("no_show", None, None, None, None, None),
    };
    let n = on_tx!(tx, x => sqlx::query(
        "update checkup set state = $2, completed_on = $3, result_summary = $4, report_ref = $5,
                follow_up_advised = $6, close_reason = $7, closed_at = $8, closed_by = $9
          where checkup_id = $1 and state = 'booked'")
        .bind(checkup_id).bind(state).bind(on).bind(summary).bind(report).bind(advised)
        .bind(reason).bind(now).bind(account_id)
        .execute(&mut *x).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A facility's bookings on a day, in booking order.
pub async fn day_list(db: &Db, facility_id: i64, on: NaiveDate) -> Result<Vec<CheckupRow>> {
    let sql = format!("{ROW} where k.facility_id = $1 and k.on_date = $2 order by k.checkup_id");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(facility_id).bind(on).fetch_all(p).await)?)
}

/// A member's checkups, newest first.
pub async fn of_member(db: &Db, member_id: i64) -> Result<Vec<CheckupRow>> {
    let sql = format!("{ROW} where k.member_id = $1 order by k.on_date desc, k.checkup_id desc");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(member_id).fetch_all(p).await)?)
}

/// The booked or completed checkup of each member in a year: member id and state.
pub async fn taken_in_year(db: &Db, year: i32) -> Result<Vec<(i64, String)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select member_id, state from checkup where year = $1 and state in ('booked', 'completed')")
        .bind(year).fetch_all(p).await)?)
}

/// Whether a member has a booked or completed checkup in a year.
pub async fn has_one_in_year(db: &Db, member_id: i64, year: i32) -> Result<bool> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar(
        "select count(*) from checkup where member_id = $1 and year = $2 and state in ('booked', 'completed')")
        .bind(member_id).bind(year).fetch_one(p).await)?;
    Ok(n > 0)
}
