//! Recording that one of the facts the rules read changed on a day (特困 from 1 March, a
//! guardian appointed, a house renovated): a step added to the fact's timeline, as one change of
//! the household file — kept in its history, refused when stale, with the card changes it causes.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::auth::{Caller, StaffRole};
use crate::db::households::{self, HouseholdRecord};
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::register::{csv_io, text_enum, CivilCapacity, Step, Timeline};
use crate::rules::RuleBook;
use crate::service::register::{change_household, Change};

text_enum! {
    /// A dated fact one step at a time can be recorded for.
    FactKey {
        /// 特困供养 (a member).
        ExtremePoverty = "extreme_poverty",
        /// 经济困难 (a member).
        EconomicDifficulty = "economic_difficulty",
        /// 民事行为能力 (a member): full, limited or none.
        CivilCapacity = "civil_capacity",
        /// 有其他监护人 (a member).
        OtherGuardian = "other_guardian",
        /// 重度残疾等缴费困难 (a member).
        SeverelyDisabled = "severely_disabled",
        /// 在读高中阶段 (the child).
        InSchool = "in_school",
        /// 住房困难 (the household).
        HousingDifficulty = "housing_difficulty",
        /// 符合惠民殡葬补贴条件 (the household).
        FuneralSubsidyConditions = "funeral_subsidy_conditions",
    }
}

impl FactKey {
    /// The name staff use.
    pub fn zh(self) -> &'static str {
        match self {
            Self::ExtremePoverty => "特困供养",
            Self::EconomicDifficulty => "经济困难",
            Self::CivilCapacity => "民事行为能力",
            Self::OtherGuardian => "有其他监护人",
            Self::SeverelyDisabled => "重度残疾（缴费困难）",
            Self::InSchool => "在读高中阶段",
            Self::HousingDifficulty => "住房困难",
            Self::FuneralSubsidyConditions => "符合惠民殡葬补贴条件",
        }
    }

    /// A fact of the household rather than of a member.
    pub fn of_household(self) -> bool {
        matches!(
            self,
            Self::HousingDifficulty | Self::FuneralSubsidyConditions
        )
    }

    /// The member facts, in the order pages list them.
    pub const MEMBER: [FactKey; 6] = [
        Self::ExtremePoverty,
        Self::EconomicDifficulty,
        Self::CivilCapacity,
        Self::OtherGuardian,
        Self::SeverelyDisabled,
        Self::InSchool,
    ];

    /// The household facts.
    pub const HOUSEHOLD: [FactKey; 2] = [Self::HousingDifficulty, Self::FuneralSubsidyConditions];
}

/// That a fact changed on a day (the body of `POST /api/v1/households/{id}/facts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactChange {
    /// The member, for a member's fact; none for the household's.
    #[serde(default)]
    pub member_id: Option<i64>,
    /// Which fact.
    pub fact: FactKey,
    /// Its value from `from` on: `yes` or `no`; for civil capacity `full`, `limited` or `none`.
    pub value: String,
    /// The first day it holds (a Beijing date, not in the future).
    pub from: NaiveDate,
    /// Why, for the file's history.
    pub reason: crate::register::text::Reason,
    /// The file's version the change is made on; without it, the version read now.
    #[serde(default)]
    pub version: Option<i32>,
}

/// Adds `value` from `from` on to a timeline: a step on the same day is replaced, the others
/// stay (a value recorded without its date stays first).
fn with_step<T: Copy>(t: &Timeline<T>, from: NaiveDate, value: T) -> Timeline<T> {
    let mut steps: Vec<Step<T>> = t
        .steps()
        .iter()
        .copied()
        .filter(|s| s.from != Some(from))
        .collect();
    let at = steps.partition_point(|s| s.from.is_none_or(|f| f < from));
    steps.insert(
        at,
        Step {
            from: Some(from),
            value,
        },
    );
    // In order by construction: only the first step can be undated, the dated ones ascend.
    Timeline::new(steps).unwrap_or_else(|_| t.clone())
}

fn yes_no(v: &str) -> Result<bool> {
    csv_io::parse_flag(v).ok_or_else(|| {
        AppError::field(
            "value",
            format!(
                "应为 yes 或 no，而不是“{}” / must be yes or no",
                crate::register::text::echo(v)
            ),
        )
    })
}

fn capacity(v: &str) -> Result<CivilCapacity> {
    csv_io::parse_capacity(v).ok_or_else(|| {
        AppError::field(
            "value",
            format!(
                "民事行为能力应为 full、limited 或 none，而不是“{}” / must be full, limited or none",
                crate::register::text::echo(v)
            ),
        )
    })
}

/// Records the change as a new version of the file, in one transaction with the card changes it
/// causes; answers the file as stored.
pub async fn record(
    db: &Db,
    book: &RuleBook,
    caller: &Caller,
    household_id: i64,
    change: FactChange,
    today: NaiveDate,
) -> Result<HouseholdRecord> {
    if !matches!(caller.role, StaffRole::Office | StaffRole::Township) {
        return Err(AppError::Forbidden(
            "facts are recorded by the townships and the office".into(),
        ));
    }
    let current = households::get(db, household_id).await?;
    if !caller.may_write_township(&current.township_id) {
        return Err(AppError::NotFound("household"));
    }
    if change.from > today {
        return Err(AppError::field(
            "from",
            "日期在将来 / date is in the future",
        ));
    }
    let mut input = current.to_input();
    let f = change.fact;
    if f.of_household() {
        if change.member_id.is_some() {
            return Err(AppError::field(
                "member_id",
                format!(
                    "{}是全户的情况，不填成员 / a household fact takes no member",
                    f.zh()
                ),
            ));
        }
        let v = yes_no(change.value.trim())?;
        let t = match f {
            FactKey::HousingDifficulty => &mut input.facts.housing_difficulty,
            _ => &mut input.facts.funeral_subsidy_conditions,
        };
        *t = with_step(t, change.from, v);
    } else {
        let Some(member_id) = change.member_id else {
            return Err(AppError::field(
                "member_id",
                format!(
                    "{}是成员的情况，须指明成员 / a member fact names the member",
                    f.zh()
                ),
            ));
        };
        let at = current
            .members
            .iter()
            .position(|m| m.member_id == member_id)
            .ok_or_else(|| {
                AppError::field(
                    "member_id",
                    "不是该家庭的成员 / not a member of this household",
                )
            })?;
        let facts = &mut input.members[at].facts;
        if f == FactKey::CivilCapacity {
            let v = capacity(change.value.trim())?;
            facts.civil_capacity = with_step(&facts.civil_capacity, change.from, v);
        } else {
            let v = yes_no(change.value.trim())?;
            let t = match f {
                FactKey::ExtremePoverty => &mut facts.extreme_poverty,
                FactKey::EconomicDifficulty => &mut facts.economic_difficulty,
                FactKey::OtherGuardian => &mut facts.other_guardian,
                FactKey::SeverelyDisabled => &mut facts.severely_disabled,
                _ => &mut facts.in_school,
            };
            *t = with_step(t, change.from, v);
        }
    }
    let changed = change_household(
        db,
        book,
        Change {
            household_id,
            expected_version: change.version.unwrap_or(current.version),
            input: &input,
            account_id: Some(caller.account_id),
            reason: &change.reason,
        },
        today,
    )
    .await?;
    Ok(changed.record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_goes_in_date_order_and_replaces_one_of_the_same_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let t = Timeline::always(false);
        let t = with_step(&t, d("2024-05-01"), true);
        let t = with_step(&t, d("2022-01-01"), true);
        let t = with_step(&t, d("2024-05-01"), false);
        let from: Vec<Option<NaiveDate>> = t.steps().iter().map(|s| s.from).collect();
        assert_eq!(
            from,
            vec![None, Some(d("2022-01-01")), Some(d("2024-05-01"))]
        );
        assert_eq!(t.on(d("2021-12-31")), Some(false));
        assert_eq!(t.on(d("2023-01-01")), Some(true));
        assert_eq!(t.on(d("2024-05-01")), Some(false));
        let empty: Timeline<bool> = Timeline::default();
        assert_eq!(
            with_step(&empty, d("2024-05-01"), true).on(d("2024-04-30")),
            None
        );
    }
}
