//! Changes to a household file, with the card changes they cause, as one transaction.

use chrono::{NaiveDate, Utc};

use crate::db::cards::CardRecord;
use crate::db::households::{self, HouseholdRecord};
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::register::{validate_household, HouseholdInput};
use crate::rules::RuleBook;
use crate::service::cards;

/// A change to a household file.
pub struct Change<'a> {
    /// The household.
    pub household_id: i64,
    /// The version the change was made on; a stale one is refused.
    pub expected_version: i32,
    /// The file as it is to be.
    pub input: &'a HouseholdInput,
    /// Who changes it.
    pub account_id: Option<i64>,
    /// Why (kept in the file's history).
    pub reason: &'a str,
}

/// What a change did.
#[derive(Debug)]
pub struct Changed {
    /// The file as stored.
    pub record: HouseholdRecord,
    /// The cards suspended because their holders are no longer entitled; they wait for the
    /// office to confirm (revoke) or undo (reinstate).
    pub suspended: Vec<CardRecord>,
}

/// Changes a household file and suspends the cards of members it leaves without entitlement,
/// in one transaction: both land or neither does.
pub async fn change_household(
    db: &Db,
    book: &RuleBook,
    change: Change<'_>,
    today: NaiveDate,
) -> Result<Changed> {
    if change.reason.trim().is_empty() {
        return Err(AppError::field(
            "reason",
            "修改须说明原因 / a change must say why",
        ));
    }
    let mut errors = validate_household(change.input, today);
    if errors.is_empty() {
        errors = households::check_against_db(db, change.input, Some(change.household_id)).await?;
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let record = households::update(
        &mut tx,
        change.household_id,
        change.expected_version,
        change.input,
        change.account_id,
        change.reason.trim(),
        now,
    )
    .await?;
    let suspended = cards::reconcile(&mut tx, book, &record, today, now).await?;
    tx.commit().await?;
    Ok(Changed { record, suspended })
}

/// Re-checks one household against the rules, suspending the cards of members no longer
/// entitled, in a transaction of its own on the file as it is then (read and locked in it).
pub async fn reconcile(
    db: &Db,
    book: &RuleBook,
    household_id: i64,
    today: NaiveDate,
) -> Result<Vec<CardRecord>> {
    let mut tx = db.begin().await?;
    let record = households::locked(&mut tx, household_id).await?;
    let suspended = cards::reconcile(&mut tx, book, &record, today, Utc::now()).await?;
    tx.commit().await?;
    Ok(suspended)
}
