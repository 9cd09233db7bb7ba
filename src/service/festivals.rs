//! Festival visits (二(二), 二(十)3): the office configures the year's major festivals (春节,
//! 中秋节 and others) with their day and the days a visit counts on; a township records each
//! visit, one per household and festival (a unique index); the list of a festival holds the
//! households the rules grant `festival_visit` on its day, registered by then, not yet visited.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::auth::{Caller, StaffRole};
use crate::db::festivals::{self, FestivalRow, NewFestival, VisitRow};
use crate::db::households::{self, HouseholdRecord};
use crate::db::Db;
use crate::error::{is_unique_violation, AppError, Result};
use crate::register::text;
use crate::rules::{evaluate, Code, RuleBook, Status};
use crate::time::date_of;

/// Days before a festival a visit counts from, unless configured.
pub const DEFAULT_DAYS_BEFORE: i64 = 30;
/// Days after a festival a visit counts until, unless configured.
pub const DEFAULT_DAYS_AFTER: i64 = 15;
/// The longest window of visits.
pub const MAX_WINDOW_DAYS: i64 = 92;

/// A note on a visit.
pub const NOTE: text::TextRule = text::TextRule {
    max_chars: 500,
    lines: true,
};

fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code,
        detail: detail.into(),
    }
}

/// A festival as the office configures it.
#[derive(Debug, Clone)]
pub struct Festival {
    /// Its name.
    pub name: String,
    /// Its day.
    pub on: NaiveDate,
    /// The first day a visit counts (default 30 days before).
    pub visits_from: Option<NaiveDate>,
    /// The last day a visit counts (default 15 days after).
    pub visits_until: Option<NaiveDate>,
}

/// Configures a festival (the office only), in one transaction.
pub async fn configure(db: &Db, caller: &Caller, f: &Festival) -> Result<FestivalRow> {
    if caller.role != StaffRole::Office {
        return Err(AppError::Forbidden(
            "festivals are configured by the office".into(),
        ));
    }
    let name = super::contracts::required("name", &f.name, text::NAME)?;
    let in_range = |d: NaiveDate| (2000..=2099).contains(&chrono::Datelike::year(&d));
    for (field, day) in [
        ("on", Some(f.on)),
        ("visits_from", f.visits_from),
        ("visits_until", f.visits_until),
    ] {
        if day.is_some_and(|d| !in_range(d)) {
            return Err(AppError::field(
                field,
                "须在2000至2099年 / a day from 2000 to 2099",
            ));
        }
    }
    let from = f
        .visits_from
        .unwrap_or(f.on - Duration::days(DEFAULT_DAYS_BEFORE));
    let until = f
        .visits_until
        .unwrap_or(f.on + Duration::days(DEFAULT_DAYS_AFTER));
    if from > f.on {
        return Err(AppError::field(
            "visits_from",
            "须不晚于节日 / on or before the festival",
        ));
    }
    if until < f.on {
        return Err(AppError::field(
            "visits_until",
            "须不早于节日 / on or after the festival",
        ));
    }
    if (until - from).num_days() > MAX_WINDOW_DAYS {
        return Err(AppError::field(
            "visits_until",
            format!("走访期最长{MAX_WINDOW_DAYS}天 / at most {MAX_WINDOW_DAYS} days of visits"),
        ));
    }
    let mut tx = db.begin().await?;
    let new = NewFestival {
        name: &name,
        on: f.on,
        visits_from: from,
        visits_until: until,
        account_id: caller.account_id,
    };
    let id = match festivals::insert(&mut tx, &new).await {
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "festival_exists",
                format!(
                    "{}年已有“{name}” / {name} of that year is configured already",
                    chrono::Datelike::year(&f.on)
                ),
            ))
        }
        r => r?,
    };
    let row = festivals::get_in(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound("festival"))?;
    tx.commit().await?;
    Ok(row)
}

/// A visit as a township records it.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The festival.
    pub festival_id: i64,
    /// The day.
    pub on: NaiveDate,
    /// Who visited.
    pub made_by: String,
    /// A note.
    pub note: Option<String>,
}

/// Records a festival visit of a household, in one transaction.
pub async fn visit(
    db: &Db,
    caller: &Caller,
    household_id: i64,
    v: &Visit,
    now: DateTime<Utc>,
) -> Result<VisitRow> {
    if !matches!(caller.role, StaffRole::Office | StaffRole::Township) {
        return Err(AppError::Forbidden(
            "visits are recorded by the townships and the office".into(),
        ));
    }
    let made_by = super::contracts::required("made_by", &v.made_by, text::NAME)?;
    let note = super::checkups::optional_text("note", v.note.as_deref(), NOTE)?;
    if v.on > date_of(now) {
        return Err(unprocessable(
            "date_in_future",
            format!("{}尚未到来 / {} is in the future", v.on, v.on),
        ));
    }
    let mut tx = db.begin().await?;
    let Some(f) = festivals::get_in(&mut tx, v.festival_id).await? else {
        return Err(unprocessable(
            "festival_not_configured",
            format!(
                "没有编号为{}的节日，请区卫健局先配置 / festival {} is not configured",
                v.festival_id, v.festival_id
            ),
        ));
    };
    if v.on < f.visits_from || v.on > f.visits_until {
        return Err(unprocessable(
            "outside_festival_window",
            format!(
                "{}的走访期为{}至{} / visits for {} count from {} to {}",
                f.name, f.visits_from, f.visits_until, f.name, f.visits_from, f.visits_until
            ),
        ));
    }
    let record = households::locked(&mut tx, household_id).await?;
    if caller.role == StaffRole::Township
        && caller.township_id.as_deref() != Some(record.township_id.as_str())
    {
        return Err(AppError::NotFound("household"));
    }
    let row = match festivals::insert_visit(
        &mut tx,
        f.festival_id,
        household_id,
        v.on,
        &made_by,
        note.as_deref(),
        caller.account_id,
    )
    .await
    {
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "already_visited",
                format!(
                    "该家庭已记录{}走访 / the household's {} visit is recorded already",
                    f.name, f.name
                ),
            ))
        }
        r => r?,
    };
    tx.commit().await?;
    Ok(row)
}

/// A household a festival's list holds.
#[derive(Debug, Clone, Serialize)]
pub struct NotVisited {
    /// The household.
    pub household_id: i64,
    /// Its township.
    pub township_id: String,
    /// Its community.
    pub community_id: Option<String>,
    /// A living parent's name, whole (the caller masks it for its role).
    pub name: String,
}

/// A township's figures for a festival.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TownshipVisits {
    /// The township.
    pub township_id: String,
    /// Households to visit.
    pub due: u32,
    /// Of those, visited.
    pub visited: u32,
}

/// The households of a festival not yet visited, with each township's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    /// The festival.
    pub festival: FestivalRow,
    /// Not yet visited.
    pub households: Vec<NotVisited>,
    /// Figures by township.
    pub townships: Vec<TownshipVisits>,
}

/// A festival's checklist: households the rules grant `festival_visit` on its day, registered by
/// then, and not yet visited; a township's own only.
pub async fn checklist(
    db: &Db,
    book: std::sync::Arc<RuleBook>,
    caller: &Caller,
    festival_id: i64,
    township: Option<&str>,
) -> Result<Checklist> {
    let township = match caller.role {
        StaffRole::Township => {
            let own = caller.township_id.as_deref();
            if township.is_some_and(|t| Some(t) != own) {
                return Err(AppError::NotFound("township"));
            }
            own
        }
        StaffRole::Office | StaffRole::Auditor => township,
        StaffRole::Desk | StaffRole::Clinic => {
            return Err(AppError::Forbidden(
                "visits are the townships' and the office's".into(),
            ))
        }
    };
    let festival = festivals::get(db, festival_id)
        .await?
        .ok_or(AppError::NotFound("festival"))?;
    let records = households::all_records(db, township).await?;
    let visited: std::collections::HashSet<i64> = festivals::visited(db, festival_id)
        .await?
        .into_iter()
        .collect();
    tokio::task::spawn_blocking(move || checklist_of(&book, festival, &records, &visited))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

fn checklist_of(
    book: &RuleBook,
    festival: FestivalRow,
    records: &[HouseholdRecord],
    visited: &std::collections::HashSet<i64>,
) -> Checklist {
    let on = festival.on_date;
    let mut households = Vec::new();
    let mut by_township: std::collections::BTreeMap<String, TownshipVisits> = Default::default();
    for r in records {
        let granted = date_of(r.created_at) <= on
            && evaluate(book, &r.facts(), on).is_ok_and(|ev| {
                ev.entitlements
                    .iter()
                    .any(|e| e.code == Code::FestivalVisit && e.status == Status::Granted)
            });
        if !granted {
            continue;
        }
        let t = by_township
            .entry(r.township_id.clone())
            .or_insert_with(|| TownshipVisits {
                township_id: r.township_id.clone(),
                ..TownshipVisits::default()
            });
        t.due += 1;
        if visited.contains(&r.household_id) {
            t.visited += 1;
            continue;
        }
        households.push(NotVisited {
            household_id: r.household_id,
            township_id: r.township_id.clone(),
            community_id: r.community_id.clone(),
            name: super::contacts::first_parent(r),
        });
    }
    Checklist {
        festival,
        households,
        townships: by_township.into_values().collect(),
    }
}

/// The festivals configured for `year` (or every year).
pub async fn list(db: &Db, year: Option<i32>) -> Result<Vec<FestivalRow>> {
    festivals::list(db, year).await
}
