//! 二(五)6's priority family-doctor contracts: a primary-care institution signs a member entitled
//! to `family_doctor`, for a term; renewing ends the old contract and starts the next on the day
//! after, in one transaction; a follow-up moves the contract's next due date in the same
//! transaction that records it. One active contract per member is the database's unique index.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::checkups::{check_entitled, clinic_reaches, facility_for, optional_text, REFERENCE};
use crate::auth::{Caller, StaffRole};
use crate::db::contracts::{self, ContractRow, NewContract, NewFollowUp, Within};
use crate::db::households::{self, HouseholdRecord};
use crate::db::places::Facility;
use crate::db::Db;
use crate::error::{is_unique_violation, AppError, Result};
use crate::register::{text, text_enum, FacilityKind};
use crate::rules::{evaluate, Code, RuleBook};

/// The term when none is given.
pub const DEFAULT_TERM_MONTHS: u32 = 12;
/// The longest term.
pub const MAX_TERM_MONTHS: u32 = 60;
/// How far back a paper contract may be entered, or forward one may start.
pub const BACKDATE_DAYS: i64 = 366;

text_enum! {
    /// Why a contract ended, as 家庭医生签约 systems record it.
    EndReason {
        /// Moved away.
        MovedAway = "moved_away",
        /// Unreachable for a year.
        Unreachable = "unreachable",
        /// The member's wish.
        MemberWish = "member_wish",
        /// The member died.
        Death = "death",
    }
}

text_enum! {
    /// What a follow-up was.
    FollowUpKind {
        /// A visit (随访).
        Visit = "visit",
        /// A health assessment (健康评估).
        Assessment = "assessment",
        /// Health guidance (健康指导).
        Guidance = "guidance",
        /// Anything else.
        Other = "other",
    }
}

/// The last day of a term of `months` from `start`: the day before the same day `months` later,
/// where a day the later month lacks (31 January + 1 month, 29 February + 12 months) is taken
/// as the first of the month after, as an age's anniversary is. So a year from 1 March 2023
/// ends on 29 February 2024, and a year from 29 February 2024 on 28 February 2025.
pub fn term_end(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    let total = start.month0() + months;
    let year = start.year() + i32::try_from(total / 12).ok()?;
    let month = total % 12 + 1;
    let anniversary = NaiveDate::from_ymd_opt(year, month, start.day()).or_else(|| {
        let (y, m) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)
    })?;
    anniversary.pred_opt()
}

/// What signing needs.
#[derive(Debug, Clone)]
pub struct Signing {
    /// The member.
    pub member_id: i64,
    /// The institution (the office names it; a clinic signs at its own).
    pub facility_id: Option<i64>,
    /// The responsible doctor.
    pub doctor_name: String,
    /// The doctor's staff code.
    pub doctor_code: String,
    /// The team.
    pub team: Option<String>,
    /// First day (today when none).
    pub starts_on: Option<NaiveDate>,
    /// Term in months (12 when none).
    pub term_months: Option<u32>,
    /// The health record's reference.
    pub health_record_ref: String,
    /// The first follow-up's due date.
    pub next_follow_up_on: Option<NaiveDate>,
}

fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code,
        detail: detail.into(),
    }
}

/// A required text field: trimmed, not empty, within its rule.
pub fn required(field: &str, value: &str, rule: text::TextRule) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::field(field, "不能为空 / must not be empty"));
    }
    text::check(v, rule).map_err(|e| AppError::field(field, e))?;
    Ok(v.to_owned())
}

/// Whether a facility signs family doctors, as a refusal when it does not.
pub fn primary_care(f: &Facility) -> Result<()> {
    match f.kind.parse::<FacilityKind>() {
        Ok(k) if k.is_primary_care() => Ok(()),
        _ => Err(unprocessable(
            "facility_not_primary_care",
            format!("“{}”不是基层医疗机构（镇卫生院或社区卫生服务中心），不签约家庭医生 / only a township or community health centre signs family-doctor contracts", f.name),
        )),
    }
}

fn term(months: Option<u32>) -> Result<u32> {
    let m = months.unwrap_or(DEFAULT_TERM_MONTHS);
    if (1..=MAX_TERM_MONTHS).contains(&m) {
        Ok(m)
    } else {
        Err(AppError::field(
            "term_months",
            format!("签约期限须为1-{MAX_TERM_MONTHS}个月 / 1 to {MAX_TERM_MONTHS} months"),
        ))
    }
}

fn already() -> AppError {
    AppError::conflict(
        "already_contracted",
        "该成员已有生效的家庭医生签约 / the member has an active contract already",
    )
}

/// Signs a contract, in one transaction with the member's file read locked and judged on the
/// first day.
pub async fn sign(
    db: &Db,
    book: &RuleBook,
    caller: &Caller,
    s: &Signing,
    today: NaiveDate,
) -> Result<ContractRow> {
    let facility = facility_for(db, caller, s.facility_id).await?;
    primary_care(&facility)?;
    let doctor_name = required("doctor_name", &s.doctor_name, text::NAME)?;
    let doctor_code = required("doctor_code", &s.doctor_code, REFERENCE)?;
    let record_ref = required("health_record_ref", &s.health_record_ref, REFERENCE)?;
    let team = optional_text("team", s.team.as_deref(), text::NAME)?;
    let starts_on = s.starts_on.unwrap_or(today);
    if (starts_on - today).num_days().abs() > BACKDATE_DAYS {
        return Err(AppError::field(
            "starts_on",
            format!("须在今天前后{BACKDATE_DAYS}天内 / within {BACKDATE_DAYS} days of today"),
        ));
    }
    let ends_on = term_end(starts_on, term(s.term_months)?)
        .ok_or_else(|| AppError::field("starts_on", "bad date"))?;
    if let Some(next) = s.next_follow_up_on {
        if next < starts_on || next > ends_on {
            return Err(AppError::field(
                "next_follow_up_on",
                "须在签约期内 / must fall within the term",
            ));
        }
    }
    let (household_id, _) = households::of_member(db, s.member_id).await?;
    let mut tx = db.begin().await?;
    let record = households::locked(&mut tx, household_id).await?;
    if caller.role == StaffRole::Clinic && !clinic_reaches(&facility, &record.township_id) {
        return Err(AppError::NotFound("member"));
    }
    check_entitled(
        book,
        &record,
        s.member_id,
        Code::FamilyDoctor,
        starts_on.min(today),
    )?;
    let id = match contracts::insert(
        &mut tx,
        &NewContract {
            member_id: s.member_id,
            facility_id: facility.facility_id,
            doctor_name: &doctor_name,
            doctor_code: &doctor_code,
            team: team.as_deref(),
            starts_on,
            ends_on,
            health_record_ref: &record_ref,
            renews: None,
            next_follow_up_on: s.next_follow_up_on,
            account_id: Some(caller.account_id),
        },
    )
    .await
    {
        Err(AppError::Database(e)) if is_unique_violation(&e) => return Err(already()),
        r => r?,
    };
    let row = contracts::get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// A contract the caller may see: its facility's for a clinic, its members' for a township.
pub async fn visible(db: &Db, caller: &Caller, id: i64) -> Result<ContractRow> {
    let row = contracts::get(db, id).await?;
    let ok = match caller.role {
        StaffRole::Office | StaffRole::Auditor => true,
        StaffRole::Clinic => caller.facility_id == Some(row.facility_id),
        StaffRole::Township => caller.township_id.as_deref() == Some(row.township_id.as_str()),
        StaffRole::Desk => false,
    };
    if ok {
        Ok(row)
    } else {
        Err(AppError::NotFound("contract"))
    }
}

/// A contract the caller may change: the office's, or its own facility's for a clinic.
async fn changeable(db: &Db, caller: &Caller, id: i64) -> Result<ContractRow> {
    let row = visible(db, caller, id).await?;
    match caller.role {
        StaffRole::Office | StaffRole::Clinic => Ok(row),
        _ => Err(AppError::Forbidden(
            "only the office and the signing clinic change a contract".into(),
        )),
    }
}

fn not_active(row: &ContractRow) -> AppError {
    AppError::conflict(
        "contract_not_active",
        format!(
            "该签约已是“{}”状态 / the contract is {}",
            row.state, row.state
        ),
    )
}

/// What a renewal may change.
#[derive(Debug, Clone, Default)]
pub struct Renewal {
    /// Term in months (12 when none).
    pub term_months: Option<u32>,
    /// A new responsible doctor.
    pub doctor_name: Option<String>,
    /// Their staff code.
    pub doctor_code: Option<String>,
    /// A new team.
    pub team: Option<String>,
}

/// Renews an active contract: it becomes `renewed` and the next one starts the day after it
/// ends, in one transaction (the member is judged entitled today).
pub async fn renew(
    db: &Db,
    book: &RuleBook,
    caller: &Caller,
    id: i64,
    r: &Renewal,
    today: NaiveDate,
) -> Result<ContractRow> {
    let old = changeable(db, caller, id).await?;
    if old.state != "active" {
        return Err(not_active(&old));
    }
    let doctor_name = match &r.doctor_name {
        Some(n) => required("doctor_name", n, text::NAME)?,
        None => old.doctor_name.clone(),
    };
    let doctor_code = match &r.doctor_code {
        Some(c) => required("doctor_code", c, REFERENCE)?,
        None => old.doctor_code.clone(),
    };
    let team = match &r.team {
        Some(t) => optional_text("team", Some(t), text::NAME)?,
        None => old.team.clone(),
    };
    let starts_on = old
        .ends_on
        .succ_opt()
        .ok_or_else(|| AppError::field("ends_on", "bad date"))?;
    let ends_on = term_end(starts_on, term(r.term_months)?)
        .ok_or_else(|| AppError::field("term_months", "bad date"))?;
    let mut tx = db.begin().await?;
    let record = households::locked(&mut tx, old.household_id).await?;
    check_entitled(book, &record, old.member_id, Code::FamilyDoctor, today)?;
    if !contracts::close(&mut tx, id, "renewed", None, Some(caller.account_id)).await? {
        return Err(not_active(&old));
    }
    let new_id = match contracts::insert(
        &mut tx,
        &NewContract {
            member_id: old.member_id,
            facility_id: old.facility_id,
            doctor_name: &doctor_name,
            doctor_code: &doctor_code,
            team: team.as_deref(),
            starts_on,
            ends_on,
            health_record_ref: &old.health_record_ref,
            renews: Some(id),
            next_follow_up_on: old.next_follow_up_on,
            account_id: Some(caller.account_id),
        },
    )
    .await
    {
        Err(AppError::Database(e)) if is_unique_violation(&e) => return Err(already()),
        r => r?,
    };
    let row = contracts::get_in(&mut tx, new_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Ends an active contract on a day (not in the future, not before it started), with the reason.
pub async fn end(
    db: &Db,
    caller: &Caller,
    id: i64,
    reason: EndReason,
    on: Option<NaiveDate>,
    note: Option<&str>,
    today: NaiveDate,
) -> Result<ContractRow> {
    let row = changeable(db, caller, id).await?;
    let on = on.unwrap_or(today);
    if on > today {
        return Err(unprocessable(
            "date_in_future",
            format!("{on}尚未到来 / {on} is in the future"),
        ));
    }
    if on < row.starts_on {
        return Err(AppError::field(
            "on",
            "早于签约开始日 / before the contract started",
        ));
    }
    let note = optional_text("note", note, text::REASON)?;
    let mut tx = db.begin().await?;
    if !contracts::close(
        &mut tx,
        id,
        "ended",
        Some((on, reason.as_str(), note.as_deref())),
        Some(caller.account_id),
    )
    .await?
    {
        return Err(not_active(&row));
    }
    let row = contracts::get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// A follow-up as entered.
#[derive(Debug, Clone)]
pub struct FollowUp {
    /// The day (not in the future, within the contract).
    pub on: NaiveDate,
    /// Who made it.
    pub doctor_name: String,
    /// What kind.
    pub kind: FollowUpKind,
    /// A short note (no diagnosis is asked for).
    pub note: Option<String>,
    /// When the next one is due (after `on`).
    pub next_due_on: Option<NaiveDate>,
}

/// The longest follow-up note.
pub const NOTE: text::TextRule = text::TextRule {
    max_chars: 500,
    lines: true,
};

/// Records a follow-up of an active contract.
pub async fn follow_up(
    db: &Db,
    caller: &Caller,
    id: i64,
    f: &FollowUp,
    today: NaiveDate,
) -> Result<contracts::FollowUpRow> {
    let row = changeable(db, caller, id).await?;
    if f.on > today {
        return Err(unprocessable(
            "date_in_future",
            format!("{}尚未到来 / {} is in the future", f.on, f.on),
        ));
    }
    if f.on < row.starts_on {
        return Err(AppError::field(
            "on",
            "早于签约开始日 / before the contract started",
        ));
    }
    if f.next_due_on.is_some_and(|n| n <= f.on) {
        return Err(AppError::field(
            "next_due_on",
            "须晚于本次随访 / must be after this follow-up",
        ));
    }
    let doctor_name = required("doctor_name", &f.doctor_name, text::NAME)?;
    let note = optional_text("note", f.note.as_deref(), NOTE)?;
    let mut tx = db.begin().await?;
    let new = NewFollowUp {
        on: f.on,
        doctor_name: &doctor_name,
        kind: f.kind.as_str(),
        note: note.as_deref(),
        next_due_on: f.next_due_on,
        account_id: Some(caller.account_id),
    };
    let Some(fid) = contracts::add_follow_up(&mut tx, id, &new).await? else {
        return Err(not_active(&row));
    };
    tx.commit().await?;
    Ok(contracts::FollowUpRow {
        follow_up_id: fid,
        contract_id: id,
        on_date: f.on,
        doctor_name,
        kind: f.kind.as_str().to_owned(),
        note,
        next_due_on: f.next_due_on,
    })
}

/// The contracts a caller's lists cover.
pub fn within(caller: &Caller) -> Within<'_> {
    match (
        caller.role,
        caller.facility_id,
        caller.township_id.as_deref(),
    ) {
        (StaffRole::Clinic, Some(f), _) => Within::Facility(f),
        (StaffRole::Township, _, Some(t)) => Within::Township(t),
        _ => Within::District,
    }
}

/// A member entitled to a family doctor without an active contract: the signing list.
#[derive(Debug, Clone, Serialize)]
pub struct Unsigned {
    /// The member.
    pub member_id: i64,
    /// Its household.
    pub household_id: i64,
    /// Its township.
    pub township_id: String,
    /// Name (masked by the handler where the role sees masked data).
    pub name: String,
    /// The ID number's last four.
    pub id_last_four: String,
}

/// Members of a township (or all) entitled to `family_doctor` today with no active contract.
pub async fn unsigned(
    db: &Db,
    book: std::sync::Arc<RuleBook>,
    township: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<Unsigned>> {
    let records = households::all_records(db, township).await?;
    let signed = contracts::members_with_active(db).await?;
    tokio::task::spawn_blocking(move || unsigned_of(&book, &records, &signed, today))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

fn unsigned_of(
    book: &RuleBook,
    records: &[HouseholdRecord],
    signed: &std::collections::HashSet<i64>,
    today: NaiveDate,
) -> Vec<Unsigned> {
    let mut out = Vec::new();
    for r in records {
        let Ok(ev) = evaluate(book, &r.facts(), today) else {
            continue;
        };
        for m in &r.members {
            if !signed.contains(&m.member_id)
                && super::granted(&ev, Code::FamilyDoctor, m.member_id)
            {
                out.push(Unsigned {
                    member_id: m.member_id,
                    household_id: r.household_id,
                    township_id: r.township_id.clone(),
                    name: m.name.clone(),
                    id_last_four: crate::register::mask::last_four(&m.id_number),
                });
            }
        }
    }
    out
}
