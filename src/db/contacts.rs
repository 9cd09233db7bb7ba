//! The contact person's log (二(二)): who reached a family, when and how, what it raised and
//! needs, and the follow-up promised. No policy here: who is due in a month, and who may log a
//! contact, is [`crate::service::contacts`]'s.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::{on_db, on_tx};

/// One contact as stored, with the contact that closed its follow-up, if one has.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContactRow {
    /// Its id.
    pub contact_id: i64,
    /// The household reached.
    pub household_id: i64,
    /// The Beijing date of the contact.
    pub contacted_on: NaiveDate,
    /// The moment, when it was given.
    pub contacted_at: Option<DateTime<Utc>>,
    /// `visit`, `phone` or `other`.
    pub how: String,
    /// Who reached the family.
    pub made_by: String,
    /// What the family raised.
    pub raised: Option<String>,
    /// What it needs.
    pub needs: Option<String>,
    /// The follow-up promised.
    pub follow_up: Option<String>,
    /// The earlier contact whose follow-up this one closes.
    pub closes_contact_id: Option<i64>,
    /// The later contact that closed this one's follow-up.
    pub closed_by_contact_id: Option<i64>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

const ROW: &str = "select c.contact_id, c.household_id, c.contacted_on, c.contacted_at, c.how,
        c.made_by, c.raised, c.needs, c.follow_up, c.closes_contact_id,
        (select l.contact_id from contact_log l where l.closes_contact_id = c.contact_id)
            as closed_by_contact_id,
        c.recorded_at
   from contact_log c";

/// A contact to store.
#[derive(Debug, Clone)]
pub struct NewContact<'a> {
    /// The household.
    pub household_id: i64,
    /// The Beijing date.
    pub on: NaiveDate,
    /// The moment, when given.
    pub at: Option<DateTime<Utc>>,
    /// How.
    pub how: &'a str,
    /// Who made it.
    pub made_by: &'a str,
    /// What was raised.
    pub raised: Option<&'a str>,
    /// Needs.
    pub needs: Option<&'a str>,
    /// The follow-up promised.
    pub follow_up: Option<&'a str>,
    /// The contact whose follow-up it closes.
    pub closes: Option<i64>,
    /// Who recorded it.
    pub account_id: i64,
}

/// Inserts a contact inside `tx`; a unique violation means its follow-up was closed already.
pub async fn insert(tx: &mut Tx, c: &NewContact<'_>) -> Result<i64> {
    let now = Utc::now();
    Ok(on_tx!(tx, x => sqlx::query_scalar(
        "insert into contact_log (household_id, contacted_on, contacted_at, how, made_by, raised,
                needs, follow_up, closes_contact_id, recorded_at, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning contact_id")
        .bind(c.household_id).bind(c.on).bind(c.at).bind(c.how).bind(c.made_by).bind(c.raised)
        .bind(c.needs).bind(c.follow_up).bind(c.closes).bind(now).bind(c.account_id)
        .fetch_one(&mut *x).await)?)
}

/// One contact, read inside `tx`.
pub async fn get_in(tx: &mut Tx, contact_id: i64) -> Result<ContactRow> {
    let sql = format!("{ROW} where c.contact_id = $1");
    on_tx!(tx, x => sqlx::query_as(&sql).bind(contact_id).fetch_optional(&mut *x).await)?
        .ok_or(AppError::NotFound("contact"))
}

/// A household's contacts, newest first (at most `limit`).
pub async fn of_household(db: &Db, household_id: i64, limit: i64) -> Result<Vec<ContactRow>> {
    let sql = format!(
        "{ROW} where c.household_id = $1 order by c.contacted_on desc, c.contact_id desc limit $2"
    );
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(household_id).bind(limit).fetch_all(p).await)?)
}

/// Each household's last contact on or before `until` (of `township`'s households, or all).
pub async fn last_contacts(
    db: &Db,
    until: NaiveDate,
    township: Option<&str>,
) -> Result<Vec<(i64, NaiveDate)>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select c.household_id, max(c.contacted_on) as last_on
           from contact_log c join household h on h.household_id = c.household_id
          where c.contacted_on <= $1 and ($2 is null or h.township_id = $2)
          group by c.household_id")
        .bind(until).bind(township).fetch_all(p).await)?)
}
