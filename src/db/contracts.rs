//! Family-doctor contracts (二(五)6) and their follow-ups, as stored. One active contract per
//! member is the unique partial index's; what may be signed is [`crate::service::contracts`]'s.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::{on_db, on_tx};

/// A contract, with what the lists show of the member.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContractRow {
    /// Its id.
    pub contract_id: i64,
    /// The member.
    pub member_id: i64,
    /// The member's household.
    pub household_id: i64,
    /// The member's township.
    pub township_id: String,
    /// The member's name (masked by the handler where the role sees masked data).
    pub name: String,
    /// The member's ID number (the handler shows its last four).
    pub id_number: String,
    /// The signing institution.
    pub facility_id: i64,
    /// The responsible doctor.
    pub doctor_name: String,
    /// The doctor's staff code.
    pub doctor_code: String,
    /// The team.
    pub team: Option<String>,
    /// First day covered.
    pub starts_on: NaiveDate,
    /// Last day covered.
    pub ends_on: NaiveDate,
    /// The health record's reference (健康档案编号).
    pub health_record_ref: String,
    /// `active`, `renewed` or `ended`.
    pub state: String,
    /// The contract this one renews.
    pub renews: Option<i64>,
    /// When the next follow-up is due.
    pub next_follow_up_on: Option<NaiveDate>,
    /// The day it ended.
    pub ended_on: Option<NaiveDate>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// When it was signed (recorded).
    pub created_at: DateTime<Utc>,
}

const ROW: &str = "select c.contract_id, c.member_id, m.household_id, h.township_id, m.name, m.id_number,
        c.facility_id, c.doctor_name, c.doctor_code, c.team, c.starts_on, c.ends_on, c.health_record_ref,
        c.state, c.renews, c.next_follow_up_on, c.ended_on, c.end_reason, c.created_at
   from family_doctor_contract c join member m on m.member_id = c.member_id
   join household h on h.household_id = m.household_id";

/// A contract to store.
#[derive(Debug, Clone)]
pub struct NewContract<'a> {
    /// The member.
    pub member_id: i64,
    /// The signing institution.
    pub facility_id: i64,
    /// The responsible doctor.
    pub doctor_name: &'a str,
    /// The doctor's staff code.
    pub doctor_code: &'a str,
    /// The team.
    pub team: Option<&'a str>,
    /// First day covered.
    pub starts_on: NaiveDate,
    /// Last day covered.
    pub ends_on: NaiveDate,
    /// The health record's reference.
    pub health_record_ref: &'a str,
    /// The contract it renews.
    pub renews: Option<i64>,
    /// The first follow-up's due date.
    pub next_follow_up_on: Option<NaiveDate>,
    /// Who signed it.
    pub account_id: Option<i64>,
}

/// Inserts an active contract inside `tx`; a unique violation means the member has one already.
pub async fn insert(tx: &mut Tx, c: &NewContract<'_>) -> Result<i64> {
    let now = Utc::now();
    Ok(on_tx!(tx, x => sqlx::query_scalar(
        "insert into family_doctor_contract (member_id, facility_id, doctor_name, doctor_code, team, starts_on,
            ends_on, health_record_ref, state, renews, next_follow_up_on, created_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $12) returning contract_id")
        .bind(c.member_id).bind(c.facility_id).bind(c.doctor_name).bind(c.doctor_code).bind(c.team)
        .bind(c.starts_on).bind(c.ends_on).bind(c.health_record_ref).bind(c.renews)
        .bind(c.next_follow_up_on).bind(now).bind(c.account_id)
        .fetch_one(&mut *x).await)?)
}

/// One contract.
pub async fn get(db: &Db, id: i64) -> Result<ContractRow> {
    let sql = format!("{ROW} where c.contract_id = $1");
    on_db!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("contract"))
}

/// One contract, read inside `tx`.
pub async fn get_in(tx: &mut Tx, id: i64) -> Result<ContractRow> {
    let sql = format!("{ROW} where c.contract_id = $1");
    on_tx!(tx, x => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *x).await)?
        .ok_or(AppError::NotFound("contract"))
}

/// Moves an active contract to `renewed` or `ended` inside `tx`, guarded by `active`: false when
/// it was not active any more.
pub async fn close(
    tx: &mut Tx,
    id: i64,
    state: &str,
    ended: Option<(NaiveDate, &str, Option<&str>)>,
    account_id: Option<i64>,
) -> Result<bool> {
    let now = Utc::now();
    let n = on_tx!(tx, x => sqlx::query(
        "update family_doctor_contract set state = $2, ended_on = $3, end_reason = $4, end_note = $5,
                closed_at = $6, closed_by = $7
          where contract_id = $1 and state = 'active'")
        .bind(id).bind(state).bind(ended.map(|e| e.0)).bind(ended.map(|e| e.1)).bind(ended.and_then(|e| e.2))
        .bind(now).bind(account_id).execute(&mut *x).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A follow-up to store.
#[derive(Debug, Clone)]
pub struct NewFollowUp<'a> {
    /// The day.
    pub on: NaiveDate,
    /// Who made it.
    pub doctor_name: &'a str,
    /// `visit`, `assessment`, `guidance` or `other`.
    pub kind: &'a str,
    /// A short note.
    pub note: Option<&'a str>,
    /// When the next one is due.
    pub next_due_on: Option<NaiveDate>,
    /// Who recorded it.
    pub account_id: Option<i64>,
}

/// A recorded follow-up.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FollowUpRow {
    /// Its id.
    pub follow_up_id: i64,
    /// The contract.
    pub contract_id: i64,
    /// The day.
    pub on_date: NaiveDate,
    /// Who made it.
    pub doctor_name: String,
    /// What kind.
    pub kind: String,
    /// A short note.
    pub note: Option<String>,
    /// When the next one is due.
    pub next_due_on: Option<NaiveDate>,
}

/// Records a follow-up of an active contract and moves its next due date, inside `tx`: false
/// when the contract is not active.
pub async fn add_follow_up(
    tx: &mut Tx,
    contract_id: i64,
    f: &NewFollowUp<'_>,
) -> Result<Option<i64>> {
    let now = Utc::now();
    Ok(on_tx!(tx, x => {
        let n = sqlx::query("update family_doctor_contract set next_follow_up_on = $2
                              where contract_id = $1 and state = 'active'")
            .bind(contract_id).bind(f.next_due_on).execute(&mut *x).await?.rows_affected();
        if n == 0 {
            None
        } else {
            Some(sqlx::query_scalar(
                "insert into contract_follow_up (contract_id, on_date, doctor_name, kind, note, next_due_on, created_at, created_by)
                 values ($1, $2, $3, $4, $5, $6, $7, $8) returning follow_up_id")
                .bind(contract_id).bind(f.on).bind(f.doctor_name).bind(f.kind).bind(f.note)
                .bind(f.next_due_on).bind(now).bind(f.account_id)
                .fetch_one(&mut *x).await?)
        }
    }))
}

/// A contract's follow-ups, oldest first.
pub async fn follow_ups(db: &Db, contract_id: i64) -> Result<Vec<FollowUpRow>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select follow_up_id, contract_id, on_date, doctor_name, kind, note, next_due_on
           from contract_follow_up where contract_id = $1 order by on_date, follow_up_id")
        .bind(contract_id).fetch_all(p).await)?)
}

/// Which contracts a list covers.
#[derive(Debug, Clone, Copy)]
pub enum Within<'a> {
    /// Every one.
    District,
    /// Those of members of a township.
    Township(&'a str),
    /// Those signed by a facility.
    Facility(i64),
}

fn scoped(base: &str, within: Within<'_>, next: usize) -> String {
    match within {
        Within::District => format!("{base} and ${next} = ${next}"),
        Within::Township(_) => format!("{base} and h.township_id = ${next}"),
        Within::Facility(_) => format!("{base} and c.facility_id = ${next}"),
    }
}

/// Active contracts ending on or before `by` (lapsed ones first), in end-date order.
pub async fn ending_by(db: &Db, by: NaiveDate, within: Within<'_>) -> Result<Vec<ContractRow>> {
    let sql = format!(
        "{} order by c.ends_on, c.contract_id",
        scoped(
            &format!("{ROW} where c.state = 'active' and c.ends_on <= $1"),
            within,
            2
        )
    );
    list(db, &sql, by, within).await
}

/// Every active contract within reach, the soonest ending first.
pub async fn active(db: &Db, within: Within<'_>) -> Result<Vec<ContractRow>> {
    let never = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    ending_by(db, never, within).await
}

/// Active contracts whose next follow-up was due before `today`, the longest overdue first.
pub async fn follow_ups_overdue(
    db: &Db,
    today: NaiveDate,
    within: Within<'_>,
) -> Result<Vec<ContractRow>> {
    let sql = format!(
        "{} order by c.next_follow_up_on, c.contract_id",
        scoped(
            &format!("{ROW} where c.state = 'active' and c.next_follow_up_on < $1"),
            within,
            2
        )
    );
    list(db, &sql, today, within).await
}

async fn list(db: &Db, sql: &str, date: NaiveDate, within: Within<'_>) -> Result<Vec<ContractRow>> {
    Ok(match within {
        Within::District => {
            on_db!(db, p => sqlx::query_as(sql).bind(date).bind(1_i64).fetch_all(p).await)?
        }
        Within::Township(t) => {
            on_db!(db, p => sqlx::query_as(sql).bind(date).bind(t).fetch_all(p).await)?
        }
        Within::Facility(f) => {
            on_db!(db, p => sqlx::query_as(sql).bind(date).bind(f).fetch_all(p).await)?
        }
    })
}

/// The members with an active contract.
pub async fn members_with_active(db: &Db) -> Result<std::collections::HashSet<i64>> {
    let ids: Vec<i64> = on_db!(db, p => sqlx::query_scalar(
        "select member_id from family_doctor_contract where state = 'active'").fetch_all(p).await)?;
    Ok(ids.into_iter().collect())
}

/// A member's contracts, newest first.
pub async fn of_member(db: &Db, member_id: i64) -> Result<Vec<ContractRow>> {
    let sql = format!("{ROW} where c.member_id = $1 order by c.starts_on desc, c.contract_id desc");
    Ok(on_db!(db, p => sqlx::query_as(&sql).bind(member_id).fetch_all(p).await)?)
}
