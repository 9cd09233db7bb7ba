//! The contact person's work (二(二)): every special family is reached at least once a calendar
//! month, and the log says who reached it, when and how, what it raised and needs, and what was
//! promised. No diagnosis or other medical detail is asked for.
//!
//! **Due and overdue, defined once.** A household is *due* in a calendar month (Asia/Shanghai)
//! when it was registered before the month began (one registered on 15 March is due from April)
//! and the rules grant it `contact_person` on the month's last day — or today, for the month
//! under way — so one that stopped being a special family in the month (another child, the hukou
//! moved out) is not due for it. It is *overdue* for the month once the month has ended with no
//! contact whose Beijing date falls in it: a call at 23:30 on 31 January, Beijing time, counts
//! for January, though it was 15:30 UTC. Its months in a row without contact are the calendar
//! months since its last contact (or since it was first due), up to and including this one.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::Serialize;

use crate::auth::{Caller, StaffRole};
use crate::db::contacts::{self, ContactRow, NewContact};
use crate::db::households::{self, HouseholdRecord};
use crate::db::Db;
use crate::error::{is_unique_violation, AppError, Result};
use crate::register::text::echo as shown;
use crate::register::{text, text_enum};
use crate::rules::{evaluate, Code, RuleBook, Status};
use crate::time::date_of;

text_enum! {
    /// How the family was reached.
    ContactHow {
        /// A visit at home (入户走访).
        Visit = "visit",
        /// A phone call.
        Phone = "phone",
        /// Anything else (a meeting in the village, a message).
        Other = "other",
    }
}

/// The longest text of what was raised, needed or promised.
pub const NOTE: text::TextRule = text::TextRule {
    max_chars: 500,
    lines: true,
};

/// How far back a contact may be entered (a paper log typed in late).
pub const BACKDATE_DAYS: i64 = 366;

/// The most contacts a household's log shows.
pub const LOG_SHOWN: i64 = 200;

/// When a contact was made: a Beijing calendar day, or a moment (RFC 3339 with its offset,
/// whose Beijing date is the day it counts for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// That Beijing day.
    Day(NaiveDate),
    /// That moment.
    At(DateTime<Utc>),
}

impl When {
    /// Parses `YYYY-MM-DD` or an RFC 3339 moment; a moment without an offset is refused, as it
    /// could be read in either time zone.
    pub fn parse(s: &str) -> std::result::Result<When, String> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(When::Day(d));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| When::At(t.with_timezone(&Utc)))
            .map_err(|_| {
                format!(
                    "“{}”不是日期（2027-01-31）或带时区的时间（2027-01-31T23:30:00+08:00） / \
                     not a date or an RFC 3339 time with its offset",
                    shown(s)
                )
            })
    }

    /// The Beijing day it counts for.
    pub fn day(self) -> NaiveDate {
        match self {
            When::Day(d) => d,
            When::At(t) => date_of(t),
        }
    }
}

/// A contact as the township records it.
#[derive(Debug, Clone)]
pub struct Contact {
    /// When (as typed).
    pub at: String,
    /// How.
    pub how: ContactHow,
    /// Who reached the family.
    pub made_by: String,
    /// What the family raised.
    pub raised: Option<String>,
    /// What it needs.
    pub needs: Option<String>,
    /// The follow-up promised.
    pub follow_up: Option<String>,
    /// An earlier contact of the same household whose follow-up this one closes.
    pub closes_contact_id: Option<i64>,
}

/// A 422 with a stable code.
fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code,
        detail: detail.into(),
    }
}

/// The household `caller` may log contacts for or read them of: any for the office and the
/// auditor, its own township's for a township (others do not exist for it), none for others.
fn reachable(caller: &Caller, record: &HouseholdRecord) -> Result<()> {
    match caller.role {
        StaffRole::Office | StaffRole::Auditor => Ok(()),
        StaffRole::Township if caller.township_id.as_deref() == Some(&record.township_id) => Ok(()),
        StaffRole::Township => Err(AppError::NotFound("household")),
        StaffRole::Desk | StaffRole::Clinic => Err(AppError::Forbidden(
            "contacts are the townships' and the office's".into(),
        )),
    }
}

/// Records a contact with a household, in one transaction; `now` is the moment of recording.
pub async fn log(
    db: &Db,
    caller: &Caller,
    household_id: i64,
    c: &Contact,
    now: DateTime<Utc>,
) -> Result<ContactRow> {
    if !matches!(caller.role, StaffRole::Office | StaffRole::Township) {
        return Err(AppError::Forbidden(
            "contacts are logged by the townships and the office".into(),
        ));
    }
    let when = When::parse(&c.at).map_err(|e| AppError::field("at", e))?;
    let today = date_of(now);
    let on = when.day();
    if on > today || matches!(when, When::At(t) if t > now) {
        return Err(unprocessable(
            "date_in_future",
            format!("{}尚未到来 / {} is in the future", c.at.trim(), c.at.trim()),
        ));
    }
    if (today - on).num_days() > BACKDATE_DAYS {
        return Err(AppError::field(
            "at",
            format!("最多补录{BACKDATE_DAYS}天前的联系 / at most {BACKDATE_DAYS} days back"),
        ));
    }
    let made_by = super::contracts::required("made_by", &c.made_by, text::NAME)?;
    let raised = super::checkups::optional_text("raised", c.raised.as_deref(), NOTE)?;
    let needs = super::checkups::optional_text("needs", c.needs.as_deref(), NOTE)?;
    let follow_up = super::checkups::optional_text("follow_up", c.follow_up.as_deref(), NOTE)?;

    let mut tx = db.begin().await?;
    let record = households::locked(&mut tx, household_id).await?;
    reachable(caller, &record)?;
    if let Some(earlier) = c.closes_contact_id {
        let closed = match contacts::get_in(&mut tx, earlier).await {
            Ok(r) if r.household_id == household_id => r,
            Ok(_) | Err(AppError::NotFound(_)) => return Err(AppError::NotFound("contact")),
            Err(e) => return Err(e),
        };
        if closed.follow_up.is_none() {
            return Err(unprocessable(
                "no_follow_up",
                format!(
                    "第{earlier}次联系没有约定跟进事项 / contact {earlier} promised no follow-up"
                ),
            ));
        }
        if closed.contacted_on > on {
            return Err(AppError::field(
                "at",
                "早于所跟进的联系 / before the contact it follows up",
            ));
        }
    }
    let new = NewContact {
        household_id,
        on,
        at: match when {
            When::At(t) => Some(t),
            When::Day(_) => None,
        },
        how: c.how.as_str(),
        made_by: &made_by,
        raised: raised.as_deref(),
        needs: needs.as_deref(),
        follow_up: follow_up.as_deref(),
        closes: c.closes_contact_id,
        account_id: caller.account_id,
    };
    let id = match contacts::insert(&mut tx, &new).await {
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "follow_up_closed",
                "该跟进事项已由另一次联系办结 / another contact closed that follow-up already",
            ))
        }
        r => r?,
    };
    let row = contacts::get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// A household's log, newest first, for a caller who may read it.
pub async fn of_household(db: &Db, caller: &Caller, household_id: i64) -> Result<Vec<ContactRow>> {
    let record = households::get(db, household_id).await?;
    reachable(caller, &record)?;
    contacts::of_household(db, household_id, LOG_SHOWN).await
}

/// A household's contact person and group now, and every change of them, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct ContactPerson {
    /// The household.
    pub household_id: i64,
    /// The file's version (name it to change the contact person without racing another change).
    pub version: i32,
    /// The contact person and group now.
    pub current: Option<crate::register::Contact>,
    /// Each contact person the file has had, from the change that set them.
    pub history: Vec<households::ContactPeriod>,
}

/// The contact person of a household and their history, for a caller who may read it (phones
/// masked for the auditor).
pub async fn person(db: &Db, caller: &Caller, household_id: i64) -> Result<ContactPerson> {
    let record = households::get(db, household_id).await?;
    reachable(caller, &record)?;
    let mut history = households::contact_history(db, household_id).await?;
    let version = record.version;
    let mut current = record.contact.clone();
    if !caller.sees_personal_data() {
        // The auditor: names masked as on every list it reads, phones as in the file.
        let mask = |c: &mut crate::register::Contact| {
            c.name = crate::register::mask::shown_name(caller, &c.name);
            c.phone = c.phone.as_deref().map(crate::register::mask::mask_phone);
            for g in &mut c.group {
                g.name = crate::register::mask::shown_name(caller, &g.name);
                g.phone = g.phone.as_deref().map(crate::register::mask::mask_phone);
            }
        };
        current.iter_mut().for_each(mask);
        history
            .iter_mut()
            .filter_map(|p| p.contact.as_mut())
            .for_each(mask);
    }
    Ok(ContactPerson {
        household_id,
        version,
        current,
        history,
    })
}

/// A new contact person and group for a household (the body of
/// `PUT /api/v1/households/{id}/contact-person`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonChange {
    /// The contact person, with their role and the group's other members.
    pub contact: crate::register::Contact,
    /// The file's version the change is made on; without it, the version read now.
    #[serde(default)]
    pub version: Option<i32>,
    /// Why, for the file's history; a default says the contact person changed.
    #[serde(default)]
    pub reason: Option<text::Reason>,
}

/// Sets a household's contact person and group: a change of the file (one transaction, kept in
/// its history with the reason), on the version named or else the one read now — a change made
/// meanwhile is refused as stale, never overwritten.
pub async fn set_person(
    db: &Db,
    book: &RuleBook,
    caller: &Caller,
    household_id: i64,
    change: PersonChange,
    today: NaiveDate,
) -> Result<ContactPerson> {
    let PersonChange {
        contact,
        version,
        reason,
    } = change;
    if !matches!(caller.role, StaffRole::Office | StaffRole::Township) {
        return Err(AppError::Forbidden(
            "contact persons are set by the townships and the office".into(),
        ));
    }
    let record = households::get(db, household_id).await?;
    reachable(caller, &record)?;
    let mut input = record.to_input();
    input.contact = Some(contact);
    let reason = reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("更换联系人 / contact person changed");
    let change = crate::service::register::Change {
        household_id,
        expected_version: version.unwrap_or(record.version),
        input: &input,
        account_id: Some(caller.account_id),
        reason,
    };
    crate::service::register::change_household(db, book, change, today).await?;
    person(db, caller, household_id).await
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Month {
    first: NaiveDate,
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

impl Month {
    /// Parses `YYYY-MM` (years 2000 to 2099).
    pub fn parse(s: &str) -> std::result::Result<Month, String> {
        let bad = || {
            format!(
                "“{}”不是月份（2027-01） / not a month like 2027-01",
                shown(s)
            )
        };
        let digits = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
        let b = s.as_bytes();
        if s.len() != 7 || b[4] != b'-' || !digits(&b[..4]) || !digits(&b[5..]) {
            return Err(bad());
        }
        let year: i32 = s[..4].parse().map_err(|_| bad())?;
        let month: u32 = s[5..].parse().map_err(|_| bad())?;
        if !(2000..=2099).contains(&year) {
            return Err(bad());
        }
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(|first| Month { first })
            .ok_or_else(bad)
    }

    /// The month `day` falls in.
    pub fn of(day: NaiveDate) -> Month {
        Month {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    /// Its first day.
    pub fn first(self) -> NaiveDate {
        self.first
    }

    /// Its last day.
    pub fn last(self) -> NaiveDate {
        self.next().first.pred_opt().unwrap_or(self.first)
    }

    /// The month after.
    pub fn next(self) -> Month {
        Month {
            first: self.first + Months::new(1),
        }
    }

    /// How many months from `self` to `later` (0 for the same month).
    pub fn until(self, later: Month) -> i32 {
        (later.first.year() - self.first.year()) * 12 + later.first.month() as i32
            - self.first.month() as i32
    }
}

/// One household due in a month, as the contact sheet shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SheetRow {
    /// The household.
    pub household_id: i64,
    /// Its township.
    pub township_id: String,
    /// Its community.
    pub community_id: Option<String>,
    /// A parent's name (the first living one), whole (the caller masks it for its role).
    pub name: String,
    /// The fixed contact person.
    pub contact_person: Option<String>,
    /// Its last contact on or before the month's end.
    pub last_contact_on: Option<NaiveDate>,
    /// Whether a contact is dated in the month.
    pub contacted: bool,
    /// Calendar months in a row without a contact since its last one (or since it was first
    /// due), up to and including this one; 0 when contacted.
    pub months_without_contact: i32,
}

/// A township's figures for a month.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TownshipMonth {
    /// The township.
    pub township_id: String,
    /// Households due.
    pub due: u32,
    /// Of those, reached in the month.
    pub contacted: u32,
    /// Of those, not reached (overdue once the month has ended).
    pub not_contacted: u32,
}

/// A month's contact sheet.
#[derive(Debug, Clone, Serialize)]
pub struct Sheet {
    /// The month.
    pub month: Month,
    /// Whether it has ended (then every household not contacted is overdue).
    pub ended: bool,
    /// The day entitlement was judged on: the month's last day, or today for this month.
    pub judged_on: NaiveDate,
    /// Every household due, those not contacted first, then by the longest run without contact.
    pub households: Vec<SheetRow>,
    /// Figures by township.
    pub townships: Vec<TownshipMonth>,
}

/// The township a sheet is limited to: a township account's own (naming another is refused),
/// or the one the office or the auditor asks for.
fn sheet_township<'a>(caller: &'a Caller, asked: Option<&'a str>) -> Result<Option<&'a str>> {
    match caller.role {
        StaffRole::Township => {
            let own = caller.township_id.as_deref();
            if asked.is_some_and(|a| Some(a) != own) {
                return Err(AppError::NotFound("township"));
            }
            Ok(own)
        }
        StaffRole::Office | StaffRole::Auditor => Ok(asked),
        StaffRole::Desk | StaffRole::Clinic => Err(AppError::Forbidden(
            "contacts are the townships' and the office's".into(),
        )),
    }
}

/// The contact sheet of `month`: every household due in it, whether it was reached, and each
/// township's figures. A month still to come is refused.
pub async fn sheet(
    db: &Db,
    book: std::sync::Arc<RuleBook>,
    caller: &Caller,
    month: Month,
    township: Option<&str>,
    today: NaiveDate,
) -> Result<Sheet> {
    let township = sheet_township(caller, township)?;
    if month.first() > today {
        return Err(AppError::field(
            "month",
            format!("{month}尚未开始 / {month} has not begun"),
        ));
    }
    let judged_on = month.last().min(today);
    let records = households::all_records(db, township).await?;
    let last: std::collections::HashMap<i64, NaiveDate> =
        contacts::last_contacts(db, judged_on, township)
            .await?
            .into_iter()
            .collect();
    tokio::task::spawn_blocking(move || sheet_of(&book, &records, &last, month, judged_on, today))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

fn sheet_of(
    book: &RuleBook,
    records: &[HouseholdRecord],
    last: &std::collections::HashMap<i64, NaiveDate>,
    month: Month,
    judged_on: NaiveDate,
    today: NaiveDate,
) -> Sheet {
    let mut households = Vec::new();
    let mut by_township: std::collections::BTreeMap<String, TownshipMonth> = Default::default();
    for r in records {
        // Due from the month after the one it was registered in.
        let first_due = Month::of(date_of(r.created_at)).next();
        if first_due > month || !contact_granted(book, r, judged_on) {
            continue;
        }
        let last_on = last.get(&r.household_id).copied();
        let contacted = last_on.is_some_and(|d| d >= month.first());
        let since = last_on
            .map_or(first_due, |d| Month::of(d).next())
            .max(first_due);
        let months_without = if contacted { 0 } else { since.until(month) + 1 };
        let t = by_township
            .entry(r.township_id.clone())
            .or_insert_with(|| TownshipMonth {
                township_id: r.township_id.clone(),
                ..TownshipMonth::default()
            });
        t.due += 1;
        if contacted {
            t.contacted += 1;
        } else {
            t.not_contacted += 1;
        }
        households.push(SheetRow {
            household_id: r.household_id,
            township_id: r.township_id.clone(),
            community_id: r.community_id.clone(),
            name: first_parent(r),
            contact_person: r.contact.as_ref().map(|c| c.name.clone()),
            last_contact_on: last_on,
            contacted,
            months_without_contact: months_without,
        });
    }
    households.sort_by(|a, b| {
        (
            a.contacted,
            std::cmp::Reverse(a.months_without_contact),
            a.household_id,
        )
            .cmp(&(
                b.contacted,
                std::cmp::Reverse(b.months_without_contact),
                b.household_id,
            ))
    });
    Sheet {
        month,
        ended: month.last() < today,
        judged_on,
        households,
        townships: by_township.into_values().collect(),
    }
}

/// Whether the rules grant the household its contact person on `on`.
fn contact_granted(book: &RuleBook, r: &HouseholdRecord, on: NaiveDate) -> bool {
    evaluate(book, &r.facts(), on).is_ok_and(|ev| {
        ev.entitlements
            .iter()
            .any(|e| e.code == Code::ContactPerson && e.status == Status::Granted)
    })
}

/// The name the sheet shows for a household: its first living parent's, else its first member's.
pub fn first_parent(r: &HouseholdRecord) -> String {
    use crate::register::Role;
    r.members
        .iter()
        .find(|m| m.role != Role::Child && m.died_on.is_none())
        .or(r.members.first())
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_moment_counts_for_its_beijing_day() {
        let late = When::parse("2026-01-31T15:30:00Z").unwrap();
        assert_eq!(
            late.day(),
            d(2026, 1, 31),
            "23:30 Beijing time is still 31 January"
        );
        let after = When::parse("2026-01-31T16:30:00Z").unwrap();
        assert_eq!(
            after.day(),
            d(2026, 2, 1),
            "00:30 Beijing time is 1 February"
        );
        let local = When::parse("2026-01-31T23:30:00+08:00").unwrap();
        assert_eq!(local.day(), d(2026, 1, 31));
        assert_eq!(When::parse("2026-02-01").unwrap(), When::Day(d(2026, 2, 1)));
        assert!(
            When::parse("2026-01-31T23:30:00").is_err(),
            "no offset, no time zone"
        );
        assert!(When::parse("2026-02-30").is_err());
    }

    #[test]
    fn months_parse_and_count() {
        let jan = Month::parse("2026-01").unwrap();
        assert_eq!((jan.first(), jan.last()), (d(2026, 1, 1), d(2026, 1, 31)));
        assert_eq!(Month::parse("2024-02").unwrap().last(), d(2024, 2, 29));
        assert_eq!(Month::parse("2025-12").unwrap().next(), jan);
        assert_eq!(Month::parse("2025-11").unwrap().until(jan), 2);
        assert_eq!(jan.until(jan), 0);
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "1999-12",
            "２０２６-01",
            "2026-+1",
            "+202-01",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_value(jan).unwrap(),
            serde_json::json!("2026-01")
        );
    }
}
