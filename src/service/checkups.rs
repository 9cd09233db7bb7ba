//! 二(五)4's free annual checkup: who may be booked, where and when, and what a booking's states
//! mean. A booking is one transaction: the member's file is read locked and judged by the rules
//! on the checkup's date, a place is taken from the day's counter by a conditional update, and
//! the booking is inserted under the unique index that allows one booked or completed checkup per
//! member and calendar year. Any refusal rolls all of it back.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::auth::{Caller, StaffRole};
use crate::card::{check_signature, KeySet, StatusSource, Verdict};
use crate::db::checkups::{self, Capacity, CheckupRow, Close};
use crate::db::households::{self, HouseholdRecord};
use crate::db::places::{self, Facility};
use crate::db::{cards, Db};
use crate::error::{is_unique_violation, AppError, Result};
use crate::register::{text, FacilityKind};
use crate::rules::{evaluate, Code, RuleBook};

/// The most days ahead a checkup may be booked.
pub const BOOK_AHEAD_DAYS: i64 = 366;
/// The most places a day may have.
pub const MAX_PLACES: i32 = 1000;
/// The most dated exceptions one capacity holds.
pub const MAX_DATES: usize = 400;
/// The most characters a scanned card's text may have.
pub const QR_MAX: usize = 2048;

/// Who is to be booked: a member by id, or the holder of a scanned card.
#[derive(Debug, Clone)]
pub enum Patient {
    /// A member of the register.
    Member(i64),
    /// A card's QR text (`GC1:…`): the card must be valid today.
    Card(String),
}

/// A 422 with a stable code.
fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code,
        detail: detail.into(),
    }
}

/// The facility the caller books or lists at: a clinic's own (naming another is refused), or
/// the one the office names.
pub async fn facility_for(db: &Db, caller: &Caller, named: Option<i64>) -> Result<Facility> {
    let id = match (caller.role, caller.facility_id, named) {
        (StaffRole::Clinic, Some(own), None) => own,
        (StaffRole::Clinic, Some(own), Some(n)) if n == own => own,
        (StaffRole::Clinic, _, Some(_)) => {
            return Err(AppError::Forbidden(
                "a clinic works at its own facility only / 只能在本机构操作".into(),
            ))
        }
        (StaffRole::Office, _, Some(n)) => n,
        (StaffRole::Office, _, None) => {
            return Err(AppError::field(
                "facility_id",
                "须指明机构 / name the facility",
            ))
        }
        _ => {
            return Err(AppError::Forbidden(
                "only the office and clinics book checkups / 无权操作".into(),
            ))
        }
    };
    places::facility(db, id).await
}

/// Whether a facility may do the free checkup, as a refusal when it may not.
fn does_checkups(f: &Facility) -> Result<()> {
    match f.kind.parse::<FacilityKind>() {
        Ok(k) if k.does_checkups() => Ok(()),
        _ => Err(unprocessable(
            "facility_no_checkups",
            format!(
                "“{}”不是镇卫生院、社区卫生服务中心或区定点医院，不做免费查体 (二(五)4) / this facility does not do the free checkup",
                f.name
            ),
        )),
    }
}

/// Whether a clinic may reach a member of `township_id` by id: a facility of a township serves
/// that township's members; the district hospital (and any facility without a township) all.
/// A card scanned at the counter is the member's own consent and is not limited.
pub fn clinic_reaches(f: &Facility, township_id: &str) -> bool {
    f.kind == FacilityKind::DistrictHospital.as_str()
        || f.township_id.as_deref().is_none_or(|t| t == township_id)
}

/// A member a clinic may book or sign, as its screens show them.
#[derive(Debug, Clone)]
pub struct Found {
    /// The member.
    pub member_id: i64,
    /// Its household.
    pub household_id: i64,
    /// The name, whole (the caller masks it for its role).
    pub name: String,
    /// The ID number's last four.
    pub id_last_four: String,
}

/// The member a patient names, if `caller` at `facility` may reach them: the booking form shows
/// who it is about to book. Refusals are the booking's own (`not_found`, `card_not_valid`).
pub async fn patient(
    db: &Db,
    keys: Option<&KeySet>,
    patient: &Patient,
    caller: &Caller,
    facility: &Facility,
    today: NaiveDate,
) -> Result<Found> {
    let (member_id, household_id) = member_of(db, keys, patient, caller, facility, today).await?;
    let record = households::get(db, household_id).await?;
    let member = record
        .members
        .iter()
        .find(|m| m.member_id == member_id)
        .ok_or(AppError::NotFound("member"))?;
    Ok(Found {
        member_id,
        household_id,
        name: member.name.clone(),
        id_last_four: crate::register::mask::last_four(&member.id_number),
    })
}

/// The most households sharing a last four a search looks through (a district of 100,000
/// households has about ten per last four).
const FIND_LIMIT: i64 = 500;

/// The members `caller` at `facility` finds by a whole name and the ID number's last four —
/// both, so that a clinic finds the person in front of it and cannot browse the register —
/// among those it may reach (a township's facility: its township's members).
pub async fn find_members(
    db: &Db,
    caller: &Caller,
    facility: &Facility,
    name: &str,
    id_last_four: &str,
) -> Result<Vec<Found>> {
    use crate::db::household_search::{search, Filter, Needle};
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::field("name", "请填写姓名 / give the name"));
    }
    text::check(name, text::NAME).map_err(|e| AppError::field("name", e))?;
    let last_four = id_last_four.trim().to_ascii_uppercase();
    let id_char = |c: char| c.is_ascii_digit() || c == 'X';
    if last_four.chars().count() != 4 || !last_four.chars().all(id_char) {
        return Err(AppError::field(
            "id_last_four",
            "身份证号后四位应为4位数字（末位可为X） / four digits, the last may be X",
        ));
    }
    let township = match caller.role {
        StaffRole::Clinic if facility.kind != FacilityKind::DistrictHospital.as_str() => {
            facility.township_id.as_deref()
        }
        StaffRole::Clinic | StaffRole::Office => None,
        _ => return Err(AppError::Forbidden("only the office and clinics".into())),
    };
    let filter = Filter {
        township,
        ..Filter::default()
    };
    let (_, members) = search(
        db,
        &Needle::IdLastFour(last_four.clone()),
        &filter,
        0,
        FIND_LIMIT,
    )
    .await?;
    Ok(members
        .into_iter()
        .filter(|m| m.name == name && m.id_number.to_ascii_uppercase().ends_with(&last_four))
        .map(|m| Found {
            member_id: m.member_id,
            household_id: m.household_id,
            id_last_four: crate::register::mask::last_four(&m.id_number),
            name: m.name,
        })
        .collect())
}

/// The township a list is limited to: a township account's own (naming another is refused), a
/// clinic's facility's (none for a facility that reaches the whole district), or the one asked.
pub async fn list_township(
    db: &Db,
    caller: &Caller,
    asked: Option<String>,
) -> Result<Option<String>> {
    match caller.role {
        StaffRole::Township => {
            let own = caller.township_id.clone();
            if asked.is_some() && asked != own {
                return Err(AppError::NotFound("township"));
            }
            Ok(own)
        }
        StaffRole::Clinic => {
            let f = places::facility(db, caller.facility_id.unwrap_or(0)).await?;
            Ok(if clinic_reaches(&f, "") {
                asked
            } else {
                f.township_id
            })
        }
        _ => Ok(asked),
    }
}

/// A facility's capacity with the places of the `days` days from `today`, taken and free.
pub async fn coming_days(
    db: &Db,
    facility_id: i64,
    today: NaiveDate,
    days: u32,
) -> Result<(Capacity, Vec<DayPlaces>)> {
    let c = checkups::capacity(db, facility_id, today).await?;
    let to = today + chrono::Duration::days(i64::from(days));
    let booked = checkups::booked_between(db, facility_id, today, to).await?;
    let shown = days_ahead(&c, &booked, today, days);
    Ok((c, shown))
}

/// The member a patient names, with the household file it belongs to (read without lock).
async fn member_of(
    db: &Db,
    keys: Option<&KeySet>,
    patient: &Patient,
    caller: &Caller,
    facility: &Facility,
    today: NaiveDate,
) -> Result<(i64, i64)> {
    match patient {
        Patient::Member(id) => {
            let (household_id, township) = households::of_member(db, *id).await?;
            if caller.role == StaffRole::Clinic && !clinic_reaches(facility, &township) {
                return Err(AppError::NotFound("member"));
            }
            Ok((*id, household_id))
        }
        Patient::Card(text) => {
            let keys = keys.ok_or(AppError::Unavailable)?;
            let checked =
                check_signature(text.trim(), keys).map_err(|v| card_refused(v.verdict))?;
            let serial = checked.payload().serial.to_hex();
            let card = match cards::get(db, &serial).await {
                Ok(c) => c,
                Err(AppError::NotFound(_)) => return Err(card_refused(Verdict::Revoked)),
                Err(e) => return Err(e),
            };
            let v = checked.judge(StatusSource::Lookup(cards::parse_state(&card.state)), today);
            if v.verdict != Verdict::Valid {
                return Err(card_refused(v.verdict));
            }
            Ok((card.member_id, card.household_id))
        }
    }
}

fn card_refused(v: Verdict) -> AppError {
    let verdict = serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    unprocessable(
        "card_not_valid",
        format!("此卡今日核验不通过（{verdict}），不能据此预约 / the card does not verify today ({verdict})"),
    )
}

/// Checks that `member_id` is entitled to `code` in `record` on `on`: `not_entitled` naming the
/// failed condition otherwise.
pub fn check_entitled(
    book: &RuleBook,
    record: &HouseholdRecord,
    member_id: i64,
    code: Code,
    on: NaiveDate,
) -> Result<()> {
    let ev = evaluate(book, &record.facts(), on).map_err(|e| {
        unprocessable(
            "not_entitled",
            format!("{on}无有效的政策规则 / no rule set in force on {on}: {e}"),
        )
    })?;
    if super::granted(&ev, code, member_id) {
        Ok(())
    } else {
        Err(unprocessable(
            "not_entitled",
            format!("{on}: {}", super::why_not(&ev, code, member_id)),
        ))
    }
}

/// Books a free checkup on `on`, all of it in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn book(
    db: &Db,
    book: &RuleBook,
    keys: Option<&KeySet>,
    caller: &Caller,
    patient: &Patient,
    facility_id: Option<i64>,
    on: NaiveDate,
    today: NaiveDate,
) -> Result<CheckupRow> {
    let facility = facility_for(db, caller, facility_id).await?;
    does_checkups(&facility)?;
    if on < today {
        return Err(unprocessable(
            "date_in_past",
            format!("预约日期{on}已过 / {on} is in the past (today is {today})"),
        ));
    }
    if (on - today).num_days() > BOOK_AHEAD_DAYS {
        return Err(AppError::field(
            "on",
            format!("最多提前{BOOK_AHEAD_DAYS}天预约 / at most {BOOK_AHEAD_DAYS} days ahead"),
        ));
    }
    let (member_id, household_id) = member_of(db, keys, patient, caller, &facility, today).await?;
    let mut tx = db.begin().await?;
    checkups::lock_facility(&mut tx, facility.facility_id).await?;
    let record = households::locked(&mut tx, household_id).await?;
    check_entitled(book, &record, member_id, Code::AnnualCheckup, on)?;
    let weekday = i32::try_from(on.weekday().number_from_monday()).unwrap_or(1);
    let places = checkups::places_on(&mut tx, facility.facility_id, on, weekday).await?;
    if places == 0 {
        return Err(AppError::conflict(
            "closed_day",
            format!("{on}本机构不安排免费查体 / no checkups on {on} at this facility"),
        ));
    }
    if !checkups::take_place(&mut tx, facility.facility_id, on, places).await? {
        return Err(AppError::conflict(
            "day_full",
            format!("{on}的{places}个名额已满 / all {places} places on {on} are taken"),
        ));
    }
    let year = on.year();
    let id = match checkups::insert(&mut tx, member_id, facility.facility_id, on, year, Some(caller.account_id)).await {
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "already_this_year",
                format!("该成员{year}年已预约或已完成免费查体 / the member has a checkup booked or done in {year}"),
            ))
        }
        r => r?,
    };
    let row = checkups::get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// A booking the caller may act on or see: a clinic's own facility's, any for the office.
pub async fn visible(db: &Db, caller: &Caller, checkup_id: i64) -> Result<CheckupRow> {
    let row = checkups::get(db, checkup_id).await?;
    let ok = match caller.role {
        StaffRole::Office | StaffRole::Auditor => true,
        StaffRole::Clinic => caller.facility_id == Some(row.facility_id),
        StaffRole::Township => caller.township_id.as_deref() == Some(row.township_id.as_str()),
        StaffRole::Desk => false,
    };
    if ok {
        Ok(row)
    } else {
        Err(AppError::NotFound("checkup"))
    }
}

/// How a booking ends.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done.
    Completed {
        /// The day (not in the future, in the booking's year).
        on: NaiveDate,
        /// A short result summary.
        summary: Option<String>,
        /// The report's reference.
        report_ref: Option<String>,
        /// Whether a follow-up is advised.
        follow_up_advised: bool,
    },
    /// Cancelled: the place and that year's checkup are free again.
    Cancelled(Option<String>),
    /// The member did not come (on or after the day): that year's checkup is free again.
    NoShow,
}

/// The longest result summary.
pub const SUMMARY: text::TextRule = text::TextRule {
    max_chars: 200,
    lines: true,
};
/// A report's or record's reference.
pub const REFERENCE: text::TextRule = text::TextRule {
    max_chars: 64,
    lines: false,
};

/// Checks an optional text field: trimmed, empty as none, within its rule.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    rule: text::TextRule,
) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    text::check(v, rule).map_err(|e| AppError::field(field, e))?;
    Ok(Some(v.to_owned()))
}

/// Closes a booking: completed, cancelled or a no-show, guarded by its `booked` state.
pub async fn close(
    db: &Db,
    caller: &Caller,
    checkup_id: i64,
    outcome: &Outcome,
    today: NaiveDate,
) -> Result<CheckupRow> {
    let row = visible(db, caller, checkup_id).await?;
    if !matches!(caller.role, StaffRole::Office | StaffRole::Clinic) {
        return Err(AppError::Forbidden(
            "only the office and clinics record checkups".into(),
        ));
    }
    match outcome {
        Outcome::Completed {
            on,
            summary,
            report_ref,
            ..
        } => {
            if *on > today {
                return Err(unprocessable(
                    "date_in_future",
                    format!("{on}尚未到来 / {on} is in the future"),
                ));
            }
            if on.year() != row.year {
                return Err(AppError::field(
                    "on",
                    format!("完成日期须在{}年内 / the checkup counts for {}: the day must be in that year", row.year, row.year),
                ));
            }
            if summary.is_none() && report_ref.is_none() {
                return Err(AppError::field(
                    "summary",
                    "须填写结果摘要或报告编号 / give a result summary or the report's reference",
                ));
            }
        }
        Outcome::NoShow if row.on_date > today => {
            return Err(unprocessable(
                "date_in_future",
                format!(
                    "预约日{}未到，不能记为未到检 / the day {} has not come yet",
                    row.on_date, row.on_date
                ),
            ));
        }
        _ => {}
    }
    let how = match outcome {
        Outcome::Completed {
            on,
            summary,
            report_ref,
            follow_up_advised,
        } => Close::Completed {
            on: *on,
            summary: summary.as_deref(),
            report_ref: report_ref.as_deref(),
            follow_up_advised: *follow_up_advised,
        },
        Outcome::Cancelled(r) => Close::Cancelled(r.as_deref()),
        Outcome::NoShow => Close::NoShow,
    };
    let mut tx = db.begin().await?;
    if !checkups::close(&mut tx, checkup_id, &how, Some(caller.account_id)).await? {
        return Err(AppError::conflict(
            "not_booked",
            format!(
                "该预约已是“{}”状态 / the checkup is {} already",
                row.state, row.state
            ),
        ));
    }
    if matches!(outcome, Outcome::Cancelled(_)) {
        checkups::free_place(&mut tx, row.facility_id, row.on_date).await?;
    }
    let row = checkups::get_in(&mut tx, checkup_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Checks and stores a facility's capacity (weekday places and dated exceptions from `today` on).
pub async fn set_capacity(
    db: &Db,
    caller: &Caller,
    facility_id: i64,
    c: &Capacity,
    today: NaiveDate,
) -> Result<()> {
    let facility = facility_for(db, caller, Some(facility_id)).await?;
    does_checkups(&facility)?;
    for (i, p) in c.weekdays.iter().enumerate() {
        if !(0..=MAX_PLACES).contains(p) {
            return Err(AppError::field(
                format!("weekdays[{i}]"),
                format!("名额须在0-{MAX_PLACES}之间 / places must be 0 to {MAX_PLACES}"),
            ));
        }
    }
    if c.dates.len() > MAX_DATES {
        return Err(AppError::field(
            "dates",
            format!("最多{MAX_DATES}个日期 / at most {MAX_DATES} dates"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, d) in c.dates.iter().enumerate() {
        if !(0..=MAX_PLACES).contains(&d.places) {
            return Err(AppError::field(
                format!("dates[{i}].places"),
                format!("名额须在0-{MAX_PLACES}之间 / places must be 0 to {MAX_PLACES}"),
            ));
        }
        if d.on_date < today {
            return Err(AppError::field(
                format!("dates[{i}].on"),
                "日期已过 / the date is in the past",
            ));
        }
        if !seen.insert(d.on_date) {
            return Err(AppError::field(
                format!("dates[{i}].on"),
                "日期重复 / the date is listed twice",
            ));
        }
        if let Some(n) = &d.note {
            text::check(n, REFERENCE)
                .map_err(|e| AppError::field(format!("dates[{i}].note"), e))?;
        }
    }
    let mut tx = db.begin().await?;
    checkups::lock_facility(&mut tx, facility.facility_id).await?;
    checkups::set_capacity(&mut tx, facility.facility_id, c, today).await?;
    tx.commit().await?;
    Ok(())
}

/// One day's places at a facility.
#[derive(Debug, Clone, Serialize)]
pub struct DayPlaces {
    /// The day.
    pub on: NaiveDate,
    /// Its places (0: closed).
    pub places: i32,
    /// Taken.
    pub booked: i32,
    /// Still free.
    pub free: i32,
}

/// The places of the `days` days from `from`: what a booking screen shows.
pub fn days_ahead(
    c: &Capacity,
    booked: &[(NaiveDate, i32)],
    from: NaiveDate,
    days: u32,
) -> Vec<DayPlaces> {
    from.iter_days()
        .take(days as usize)
        .map(|on| {
            let places = c.dates.iter().find(|d| d.on_date == on).map_or_else(
                || c.weekdays[on.weekday().num_days_from_monday() as usize],
                |d| d.places,
            );
            let taken = booked.iter().find(|(d, _)| *d == on).map_or(0, |(_, n)| *n);
            DayPlaces {
                on,
                places,
                booked: taken,
                free: (places - taken).max(0),
            }
        })
        .collect()
}

/// A member due for the year's checkup.
#[derive(Debug, Clone, Serialize)]
pub struct DueMember {
    /// The member.
    pub member_id: i64,
    /// Its household.
    pub household_id: i64,
    /// Its township.
    pub township_id: String,
    /// Full name (masked by the handler where the role sees masked data).
    pub name: String,
    /// The ID number's last four.
    pub id_last_four: String,
}

/// A township's figures for a year.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TownshipRate {
    /// The township.
    pub township_id: String,
    /// Members entitled on the day judged, or checked that year.
    pub entitled: u32,
    /// With a checkup booked, not yet done.
    pub booked: u32,
    /// Checked that year.
    pub completed: u32,
    /// completed / entitled, in per mille (integer: 1000 is everyone).
    pub completion_per_mille: u32,
}

/// The outreach list of a year.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    /// The year.
    pub year: i32,
    /// The day entitlement was judged on: today for this year, 31 December for a past one.
    pub judged_on: NaiveDate,
    /// Entitled, and neither booked nor checked that year.
    pub members: Vec<DueMember>,
    /// Figures by township.
    pub townships: Vec<TownshipRate>,
}

/// Members entitled to the year's checkup and not yet booked or checked, with each township's
/// completion rate. A past year is judged on its 31 December; this year on `today`; a year
/// still to come is refused.
pub async fn due(
    db: &Db,
    book: std::sync::Arc<RuleBook>,
    year: i32,
    township: Option<&str>,
    today: NaiveDate,
) -> Result<Due> {
    if year > today.year() || year < 2000 {
        return Err(AppError::field(
            "year",
            format!(
                "须为2000至{}年 / a year from 2000 to {}",
                today.year(),
                today.year()
            ),
        ));
    }
    let judged_on = if year == today.year() {
        today
    } else {
        NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| AppError::field("year", "bad year"))?
    };
    let records = households::all_records(db, township).await?;
    let taken: std::collections::HashMap<i64, String> = checkups::taken_in_year(db, year)
        .await?
        .into_iter()
        .collect();
    tokio::task::spawn_blocking(move || due_of(&book, &records, &taken, year, judged_on))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

fn due_of(
    book: &RuleBook,
    records: &[HouseholdRecord],
    taken: &std::collections::HashMap<i64, String>,
    year: i32,
    judged_on: NaiveDate,
) -> Due {
    let mut members = Vec::new();
    let mut by_township: std::collections::BTreeMap<String, TownshipRate> = Default::default();
    for r in records {
        let ev = evaluate(book, &r.facts(), judged_on).ok();
        for m in &r.members {
            let entitled = ev
                .as_ref()
                .is_some_and(|ev| super::granted(ev, Code::AnnualCheckup, m.member_id));
            let state = taken.get(&m.member_id).map(String::as_str);
            if !entitled && state != Some("completed") {
                continue;
            }
            let t = by_township
                .entry(r.township_id.clone())
                .or_insert_with(|| TownshipRate {
                    township_id: r.township_id.clone(),
                    ..TownshipRate::default()
                });
            t.entitled += 1;
            match state {
                Some("completed") => t.completed += 1,
                Some(_) => t.booked += 1,
                None => members.push(DueMember {
                    member_id: m.member_id,
                    household_id: r.household_id,
                    township_id: r.township_id.clone(),
                    name: m.name.clone(),
                    id_last_four: crate::register::mask::last_four(&m.id_number),
                }),
            }
        }
    }
    let townships = by_township
        .into_values()
        .map(|mut t| {
            t.completion_per_mille = (t.completed * 1000).checked_div(t.entitled).unwrap_or(0);
            t
        })
        .collect();
    Due {
        year,
        judged_on,
        members,
        townships,
    }
}

/// Whether a member may still have this year's free checkup today: entitled today and with no
/// booked or completed checkup this year. What the desk shows beside a valid card.
pub async fn available(
    db: &Db,
    book: &RuleBook,
    member_id: i64,
    household_id: i64,
    today: NaiveDate,
) -> Result<bool> {
    if checkups::has_one_in_year(db, member_id, today.year()).await? {
        return Ok(false);
    }
    let record = households::get(db, household_id).await?;
    Ok(evaluate(book, &record.facts(), today)
        .is_ok_and(|ev| super::granted(&ev, Code::AnnualCheckup, member_id)))
}

/// What the desk shows beside a valid card, kept per member for the day: whether the member is
/// entitled to the checkup, judged on its file at a version under a rule book. The booking
/// state is read fresh at every scan; only the rules' judgement is reused, and only while the
/// file's version, the rule book and the day are the ones it was made with.
///
/// So that a scan does not load and judge a file (several queries and an evaluation, where the
/// scan itself costs tens of microseconds), the whole register is judged once a day in the
/// background ([`DeskEntitlement::prefill`], started by the day's first scan); a file changed
/// since is judged again at its next scan.
#[derive(Debug, Default)]
pub struct DeskEntitlement {
    judged: std::sync::Mutex<std::collections::HashMap<i64, Judged>>,
    /// The day and rule book the register was last judged whole under (or is being).
    prefilled: std::sync::Mutex<Option<(NaiveDate, std::sync::Arc<RuleBook>)>>,
}

/// A judgement and what it was made with (the book is held, so that a new book is never
/// mistaken for the old one at the same address).
#[derive(Debug, Clone)]
struct Judged {
    version: i32,
    book: std::sync::Arc<RuleBook>,
    on: NaiveDate,
    entitled: bool,
}

/// The most members the desk's judgements keep (then they start afresh).
const DESK_ENTRIES: usize = 100_000;

impl DeskEntitlement {
    /// Whether the holder of the card `serial` may still have this year's free checkup today
    /// (`None`: no such card).
    pub async fn available(
        &self,
        db: &Db,
        book: &std::sync::Arc<RuleBook>,
        serial: &str,
        today: NaiveDate,
    ) -> Result<Option<bool>> {
        let year = today.year();
        let row: Option<(i64, i64, i32, i64)> = crate::on_db!(db, p => sqlx::query_as(
            "select c.member_id, c.household_id, h.version,
                    (select count(*) from checkup k where k.member_id = c.member_id and k.year = $2
                        and k.state in ('booked', 'completed'))
               from card c join household h on h.household_id = c.household_id where c.serial = $1")
            .bind(serial).bind(year).fetch_optional(p).await)?;
        let Some((member_id, household_id, version, taken)) = row else {
            return Ok(None);
        };
        let holder = crate::db::audit::Holder {
            member_id,
            household_id,
            household_version: version,
            checkup_this_year: taken > 0,
        };
        self.judge(db, book, holder, today).await.map(Some)
    }

    /// Whether the holder as read with its card's state (in the scan's audit transaction) may
    /// still have this year's free checkup today: its file judged for the day at that version
    /// is reused, any other is judged now.
    pub async fn judge(
        &self,
        db: &Db,
        book: &std::sync::Arc<RuleBook>,
        holder: crate::db::audit::Holder,
        today: NaiveDate,
    ) -> Result<bool> {
        if holder.checkup_this_year {
            return Ok(false);
        }
        let member_id = holder.member_id;
        let known = self.lock().get(&member_id).and_then(|j| {
            (j.version == holder.household_version
                && j.on == today
                && std::sync::Arc::ptr_eq(&j.book, book))
            .then_some(j.entitled)
        });
        if let Some(entitled) = known {
            return Ok(entitled);
        }
        let record = households::get(db, holder.household_id).await?;
        let entitled = evaluate(book, &record.facts(), today)
            .is_ok_and(|ev| super::granted(&ev, Code::AnnualCheckup, member_id));
        let mut judged = self.lock();
        if judged.len() >= DESK_ENTRIES {
            judged.clear();
        }
        judged.insert(
            member_id,
            Judged {
                version: record.version,
                book: book.clone(),
                on: today,
                entitled,
            },
        );
        Ok(entitled)
    }

    /// Judges the whole register for `today` in the background, once per day and rule book: the
    /// first scan of a day (or after a new rule set) starts it, and scans meanwhile judge their
    /// own file as before.
    pub fn prefill_once(
        self: &std::sync::Arc<Self>,
        db: &Db,
        book: &std::sync::Arc<RuleBook>,
        today: NaiveDate,
    ) {
        {
            let mut done = self.prefilled.lock().unwrap_or_else(|p| p.into_inner());
            if done
                .as_ref()
                .is_some_and(|(on, b)| *on == today && std::sync::Arc::ptr_eq(b, book))
            {
                return;
            }
            *done = Some((today, book.clone()));
        }
        let (me, db, book) = (self.clone(), db.clone(), book.clone());
        tokio::spawn(async move {
            if let Err(e) = me.prefill(&db, book, today).await {
                tracing::warn!(error = %e, "judging the register for the desk's checkup line failed");
                *me.prefilled.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
        });
    }

    /// Judges the whole register for `today` now (at start, before the first desk is answered),
    /// so that the day's first scan starts no judgement of its own.
    pub async fn prefill_now(
        &self,
        db: &Db,
        book: &std::sync::Arc<RuleBook>,
        today: NaiveDate,
    ) -> Result<()> {
        *self.prefilled.lock().unwrap_or_else(|p| p.into_inner()) = Some((today, book.clone()));
        let done = self.prefill(db, book.clone(), today).await;
        if done.is_err() {
            *self.prefilled.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        done
    }

    /// Judges every file for `today` under `book` (at most [`DESK_ENTRIES`] members).
    pub async fn prefill(
        &self,
        db: &Db,
        book: std::sync::Arc<RuleBook>,
        today: NaiveDate,
    ) -> Result<()> {
        let records = households::all_records(db, None).await?;
        let judged = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for r in &records {
                let ev = evaluate(&book, &r.facts(), today).ok();
                for m in &r.members {
                    let entitled = ev
                        .as_ref()
                        .is_some_and(|ev| super::granted(ev, Code::AnnualCheckup, m.member_id));
                    out.push((
                        m.member_id,
                        Judged {
                            version: r.version,
                            book: book.clone(),
                            on: today,
                            entitled,
                        },
                    ));
                }
            }
            out
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
        let mut map = self.lock();
        for (member_id, j) in judged {
            if map.len() >= DESK_ENTRIES {
                break;
            }
            // A scan may have judged a newer version meanwhile: keep it.
            match map.get(&member_id) {
                Some(old) if old.on == today && old.version > j.version => {}
                _ => {
                    map.insert(member_id, j);
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, Judged>> {
        self.judged.lock().unwrap_or_else(|p| p.into_inner())
    }
}
