//! Emergencies (二(二)): a township reports one at once — an accident, a disaster, a sudden
//! hardship — and it reaches the office the moment it is committed (the office's home page and
//! the open list read the table, nothing is queued). It stays open until someone closes it with
//! what was done; the report, every step taken meanwhile and the close are kept in order, each
//! with who and when.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::contacts::When;
use crate::auth::{Caller, StaffRole};
use crate::db::emergencies::{self, EmergencyRow, NewEmergency, StepRow};
use crate::db::households;
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::register::{text, text_enum};
use crate::time::date_of;

text_enum! {
    /// What kind of emergency.
    EmergencyKind {
        /// An accident (意外伤害).
        Accident = "accident",
        /// A disaster (灾害).
        Disaster = "disaster",
        /// A sudden hardship (突发困难).
        Hardship = "hardship",
        /// Anything else.
        Other = "other",
    }
}

text_enum! {
    /// Which emergencies a list shows.
    EmergencyState {
        /// Not yet closed.
        Open = "open",
        /// Closed with what was done.
        Closed = "closed",
    }
}

/// The longest text of what happened, is needed, was done.
pub const NOTE: text::TextRule = text::TextRule {
    max_chars: 1000,
    lines: true,
};

/// How far back an emergency may be reported.
pub const BACKDATE_DAYS: i64 = 31;

/// The most emergencies a list shows.
pub const LIST_LIMIT: i64 = 500;

/// An emergency as reported.
#[derive(Debug, Clone)]
pub struct Report {
    /// Its kind.
    pub kind: EmergencyKind,
    /// When it happened (a Beijing date or a moment with its offset).
    pub happened_at: String,
    /// What happened.
    pub what: String,
    /// What is needed.
    pub needs: Option<String>,
}

/// An emergency with its steps.
#[derive(Debug, Clone, Serialize)]
pub struct Emergency {
    /// The emergency.
    #[serde(flatten)]
    pub row: EmergencyRow,
    /// The report, what was done, the close, in order.
    pub steps: Vec<StepRow>,
}

fn writer(caller: &Caller) -> Result<()> {
    if matches!(caller.role, StaffRole::Office | StaffRole::Township) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "emergencies are reported and handled by the townships and the office".into(),
        ))
    }
}

/// Whether `caller` reaches something of `township_id`: the office and the auditor all, a
/// township its own (others do not exist for it).
fn reaches(caller: &Caller, township_id: &str, what: &'static str) -> Result<()> {
    match caller.role {
        StaffRole::Office | StaffRole::Auditor => Ok(()),
        StaffRole::Township if caller.township_id.as_deref() == Some(township_id) => Ok(()),
        StaffRole::Township => Err(AppError::NotFound(what)),
        StaffRole::Desk | StaffRole::Clinic => Err(AppError::Forbidden(
            "emergencies are the townships' and the office's".into(),
        )),
    }
}

/// Reports an emergency of a household, in one transaction with its first step.
pub async fn report(
    db: &Db,
    caller: &Caller,
    household_id: i64,
    r: &Report,
    now: DateTime<Utc>,
) -> Result<Emergency> {
    writer(caller)?;
    let when = When::parse(&r.happened_at).map_err(|e| AppError::field("happened_at", e))?;
    let on = when.day();
    if on > date_of(now) || matches!(when, When::At(t) if t > now) {
        return Err(AppError::Unprocessable {
            code: "date_in_future",
            detail: format!(
                "{}尚未到来 / {} is in the future",
                r.happened_at.trim(),
                r.happened_at.trim()
            ),
        });
    }
    if (date_of(now) - on).num_days() > BACKDATE_DAYS {
        return Err(AppError::field(
            "happened_at",
            format!("紧急情况应即时报告，最多补报{BACKDATE_DAYS}天前的 / at most {BACKDATE_DAYS} days back"),
        ));
    }
    let what = super::contracts::required("what", &r.what, NOTE)?;
    let needs = super::checkups::optional_text("needs", r.needs.as_deref(), NOTE)?;
    let mut tx = db.begin().await?;
    let record = households::locked(&mut tx, household_id).await?;
    reaches(caller, &record.township_id, "household")?;
    let new = NewEmergency {
        household_id,
        kind: r.kind.as_str(),
        on,
        at: match when {
            When::At(t) => Some(t),
            When::Day(_) => None,
        },
        what: &what,
        needs: needs.as_deref(),
        account_id: caller.account_id,
    };
    let id = emergencies::insert(&mut tx, &new).await?;
    let row = emergencies::get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Emergency {
        steps: emergencies::steps(db, id).await?,
        row,
    })
}

/// One emergency with its steps, for a caller who may read it.
pub async fn get(db: &Db, caller: &Caller, id: i64) -> Result<Emergency> {
    let row = emergencies::get(db, id).await?;
    reaches(caller, &row.township_id, "emergency")?;
    Ok(Emergency {
        steps: emergencies::steps(db, id).await?,
        row,
    })
}

/// Emergencies in `state` (or all) that `caller` may read, the newest first.
pub async fn list(
    db: &Db,
    caller: &Caller,
    state: Option<EmergencyState>,
) -> Result<Vec<EmergencyRow>> {
    let township = match caller.role {
        StaffRole::Township => caller.township_id.as_deref(),
        StaffRole::Office | StaffRole::Auditor => None,
        StaffRole::Desk | StaffRole::Clinic => {
            return Err(AppError::Forbidden(
                "emergencies are the townships' and the office's".into(),
            ))
        }
    };
    emergencies::list(db, state.map(EmergencyState::as_str), township, LIST_LIMIT).await
}

/// How a step changes an emergency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Something done meanwhile; it stays open.
    Action,
    /// What was done in the end; it closes.
    Close,
}

/// Records a step on an open emergency (and closes it with [`Step::Close`]), in one
/// transaction; a closed emergency takes no more steps (409 `emergency_closed`).
pub async fn step(db: &Db, caller: &Caller, id: i64, step: Step, note: &str) -> Result<Emergency> {
    writer(caller)?;
    let field = match step {
        Step::Action => "note",
        Step::Close => "outcome",
    };
    let note = super::contracts::required(field, note, NOTE)?;
    let mut tx = db.begin().await?;
    let row = emergencies::get_in(&mut tx, id).await?;
    reaches(caller, &row.township_id, "emergency")?;
    let closed = || {
        AppError::conflict(
            "emergency_closed",
            format!(
                "该紧急情况已于{}处理完毕 / the emergency is closed",
                row.closed_at
                    .map(crate::time::local_minute)
                    .unwrap_or_default()
            ),
        )
    };
    match step {
        Step::Action => {
            if !emergencies::lock_open(&mut tx, id).await? {
                return Err(closed());
            }
            emergencies::add_step(&mut tx, id, "action", &note, caller.account_id).await?;
        }
        Step::Close => {
            if !emergencies::close(&mut tx, id, &note, caller.account_id).await? {
                return Err(closed());
            }
            emergencies::add_step(&mut tx, id, "closed", &note, caller.account_id).await?;
        }
    }
    let row = emergencies::get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Emergency {
        steps: emergencies::steps(db, id).await?,
        row,
    })
}
