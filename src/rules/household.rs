//! The household facts the engine reads (the input of `rules eval`).
//!
//! Unknown JSON fields are ignored (the register may send more). Required fields and
//! closed vocabularies are checked while deserializing, so an error names its field.
//! Optional facts are `Option`: `None` means "not recorded", and a clause that needs
//! it answers `needs_data` rather than guessing.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

/// Urban or rural household (decides 家政金 vs 助农金 and the dibao line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// 城区.
    Urban,
    /// 农村.
    Rural,
}

/// The only child's situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawChild", tag = "status", rename_all = "lowercase")]
pub enum Child {
    /// The only child died on that day.
    Deceased {
        /// Day of death.
        died_on: NaiveDate,
    },
    /// The only child is disabled, grade 1 (most severe) to 4.
    Disabled {
        /// Disability grade 1–4.
        disability_grade: u8,
    },
    /// Neither: the household is not a special family.
    Healthy,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChildStatus {
    Deceased,
    Disabled,
    Healthy,
}

#[derive(Deserialize)]
struct RawChild {
    status: ChildStatus,
    #[serde(default)]
    died_on: Option<NaiveDate>,
    #[serde(default)]
    disability_grade: Option<i64>,
}

impl TryFrom<RawChild> for Child {
    type Error = String;
    fn try_from(raw: RawChild) -> Result<Child, String> {
        match raw.status {
            ChildStatus::Deceased => match raw.died_on {
                Some(died_on) => Ok(Child::Deceased { died_on }),
                None => Err("child.died_on is required when status is \"deceased\"".into()),
            },
            ChildStatus::Disabled => match raw.disability_grade {
                Some(g @ 1..=4) => Ok(Child::Disabled {
                    disability_grade: g as u8,
                }),
                Some(g) => Err(format!("child.disability_grade must be 1–4, got {g}")),
                None => {
                    Err("child.disability_grade is required when status is \"disabled\"".into())
                }
            },
            ChildStatus::Healthy => Ok(Child::Healthy),
        }
    }
}

/// A member's role in the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The woman of the couple (女方).
    Mother,
    /// The man of the couple.
    Father,
    /// The (disabled) only child.
    Child,
}

/// Ability to look after oneself (生活自理能力).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelfCare {
    /// Fully able.
    Full,
    /// Partly unable (部分失能).
    Partial,
    /// Long-term unable (生活长期不能自理 / 失能).
    None,
}

/// Civil capacity (民事行为能力).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CivilCapacity {
    /// 完全民事行为能力.
    Full,
    /// 限制民事行为能力.
    Limited,
    /// 无民事行为能力.
    None,
}

/// A period in which a fact held, both days included; an open period holds from `from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// The first day.
    pub from: NaiveDate,
    /// The last day; none while it still holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl Span {
    /// Whether the period covers `on`.
    pub fn covers(&self, on: NaiveDate) -> bool {
        self.from <= on && self.until.is_none_or(|u| on <= u)
    }
}

/// A fact that may change over time (特困 status, civil capacity, housing …): each step gives
/// its value from a day on, until the next step. A value written without a date holds on
/// every day (a file kept before the dates were recorded); before the first dated step the
/// fact is not recorded; an empty timeline is not recorded at all.
///
/// In JSON it is the plain value (`true`), `null`, or the steps
/// (`[{"from": "2021-03-01", "value": true}, {"from": "2024-01-01", "value": false}]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline<T>(Vec<Step<T>>);

/// One step of a [`Timeline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step<T> {
    /// The first day the value holds; none for a value recorded without its date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// The value.
    pub value: T,
}

impl<T> Default for Timeline<T> {
    fn default() -> Self {
        Timeline(Vec::new())
    }
}

impl<T: Copy> Timeline<T> {
    /// A value recorded without its date: it holds on every day.
    pub fn always(value: T) -> Self {
        Timeline(vec![Step { from: None, value }])
    }

    /// The steps, checked: at most one undated step and only first, dated steps in strictly
    /// increasing order. The error says what is wrong (the caller names the field).
    pub fn new(steps: Vec<Step<T>>) -> Result<Self, String> {
        for (i, w) in steps.windows(2).enumerate() {
            match (w[0].from, w[1].from) {
                (_, None) => {
                    return Err(format!(
                        "[{}]: only the first step may be without a date",
                        i + 1
                    ))
                }
                (Some(a), Some(b)) if b <= a => {
                    return Err(format!("[{}]: from must be after the step before", i + 1))
                }
                _ => {}
            }
        }
        Ok(Timeline(steps))
    }

    /// The value on `on`; `None` when not recorded for that day.
    pub fn on(&self, on: NaiveDate) -> Option<T> {
        self.0
            .iter()
            .rev()
            .find(|s| s.from.is_none_or(|f| f <= on))
            .map(|s| s.value)
    }

    /// The steps.
    pub fn steps(&self) -> &[Step<T>] {
        &self.0
    }

    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The days the value changes.
    pub fn changes(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.0.iter().filter_map(|s| s.from)
    }
}

impl<T: Serialize> Serialize for Timeline<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [] => s.serialize_none(),
            [Step { from: None, value }] => value.serialize(s),
            steps => steps.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de> + Copy> Deserialize<'de> for Timeline<T> {
    /// A visitor rather than an untagged enum, so that a wrong value says what it is and what
    /// was expected (`invalid type: string "yes", expected a boolean`), not only that nothing
    /// matched.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{value, Error, IntoDeserializer, SeqAccess, Visitor};
        use std::marker::PhantomData;

        struct V<T>(PhantomData<T>);

        impl<T> V<T> {
            fn plain<'de, E: Error>(v: impl IntoDeserializer<'de, E>) -> Result<Timeline<T>, E>
            where
                T: Deserialize<'de> + Copy,
            {
                T::deserialize(v.into_deserializer()).map(Timeline::always)
            }
        }

        impl<'de, T: Deserialize<'de> + Copy> Visitor<'de> for V<T> {
            type Value = Timeline<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value, null, or steps [{\"from\": date, \"value\": …}]")
            }
            fn visit_bool<E: Error>(self, v: bool) -> Result<Self::Value, E> {
                Self::plain(v)
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
                Self::plain(v)
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
                Self::plain(v)
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
                Self::plain(v)
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(value::StrDeserializer::<E>::new(v)).map(Timeline::always)
            }
            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(Timeline::default())
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(Timeline::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let steps = Vec::<Step<T>>::deserialize(value::SeqAccessDeserializer::new(seq))?;
                Timeline::new(steps).map_err(A::Error::custom)
            }
        }

        d.deserialize_any(V(PhantomData))
    }
}

/// One year's resident pension contribution (二(七)1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contribution {
    /// The calendar year.
    pub year: i32,
    /// The tier chosen (its yearly amount, fen).
    pub tier_fen: i64,
    /// Paid on time.
    pub on_time: bool,
}

/// A yes/no fact and, when recorded, the periods it held: with periods they decide, without
/// them the flag holds on every day (a file kept before the dates were recorded).
fn holds(flag: bool, periods: &[Span], on: NaiveDate) -> bool {
    if periods.is_empty() {
        flag
    } else {
        periods.iter().any(|p| p.covers(on))
    }
}

/// Enrolment in the district's resident basic pension insurance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentPension {
    /// The member's own actual monthly basic pension (fen); `null` if not yet drawn or unknown.
    #[serde(default)]
    pub basic_monthly_fen: Option<i64>,
    /// Enrolled since that day; without it, on every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

/// A member of the household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Stable id (unique in the household).
    pub id: String,
    /// Mother, father or child.
    pub role: Role,
    /// Date of birth.
    pub born_on: NaiveDate,
    /// Resident pension: `Some(Some(_))` enrolled, `Some(None)` (JSON null) not enrolled,
    /// `None` (field absent) not recorded.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub resident_pension: Option<Option<ResidentPension>>,
    /// Enrolled in resident basic medical insurance.
    pub resident_medical_insurance: bool,
    /// Enrolled in it since that day; without it, on every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_medical_insurance_since: Option<NaiveDate>,
    /// Day of death, if the member died.
    #[serde(default)]
    pub died_on: Option<NaiveDate>,
    /// Ability to care for oneself.
    #[serde(default)]
    pub self_care: Option<SelfCare>,
    /// In economic difficulty (经济困难).
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub economic_difficulty: Timeline<bool>,
    /// Meets the extreme-poverty (特困) support conditions.
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub extreme_poverty: Timeline<bool>,
    /// Civil capacity.
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub civil_capacity: Timeline<CivilCapacity>,
    /// Has a guardian other than the unit / committee.
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub other_guardian: Timeline<bool>,
    /// Paid the resident pension contribution on time, in every year, when `contributions` is
    /// empty (a file kept before the years were recorded); with contributions recorded, a year
    /// without one is not recorded.
    #[serde(default)]
    pub pension_paid_this_year: Option<bool>,
    /// The contribution tier (its yearly amount, fen), read as `pension_paid_this_year` is.
    #[serde(default)]
    pub pension_tier: Option<i64>,
    /// The resident pension contributions, year by year.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributions: Vec<Contribution>,
    /// Severely disabled or otherwise unable to pay (重度残疾人等缴费困难群体).
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub severely_disabled: Timeline<bool>,
    /// In senior secondary school (for the disabled child).
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub in_school: Timeline<bool>,
}

/// A household as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawHousehold")]
pub struct Household {
    /// Hukou registered in the district.
    pub hukou_in_district: bool,
    /// Urban or rural.
    pub area: Area,
    /// The only child.
    pub child: Child,
    /// Hukou moved out of the district on that day (with `hukou_in_district: false`): in the
    /// district until the day before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hukou_moved_out_on: Option<NaiveDate>,
    /// A child was born or adopted since (not counting `ivf_birth_on`).
    pub other_child_since: bool,
    /// The day of that birth or adoption: a special family until the day before. Without it
    /// the other child counts on every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_child_on: Option<NaiveDate>,
    /// On minimum living allowance (低保) now.
    pub dibao: bool,
    /// The periods on 低保, when recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dibao_periods: Vec<Span>,
    /// Low-income family (低收入) now.
    pub low_income: bool,
    /// The periods as a low-income family, when recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub low_income_periods: Vec<Span>,
    /// Day of a successful IVF birth: `Some(None)` none, `None` not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ivf_birth_on: Option<Option<NaiveDate>>,
    /// The members (parents and possibly the disabled child).
    pub members: Vec<Member>,
    /// Urban: poor and badly housed; rural: meets the dilapidated-house criteria.
    pub housing_difficulty: Timeline<bool>,
    /// Meets the 惠民殡葬 subsidy conditions.
    pub funeral_subsidy_conditions: Timeline<bool>,
}

#[derive(Deserialize)]
struct RawHousehold {
    hukou_in_district: bool,
    #[serde(default)]
    hukou_moved_out_on: Option<NaiveDate>,
    area: Area,
    child: Child,
    other_child_since: bool,
    #[serde(default)]
    other_child_on: Option<NaiveDate>,
    dibao: bool,
    #[serde(default)]
    dibao_periods: Vec<Span>,
    low_income: bool,
    #[serde(default)]
    low_income_periods: Vec<Span>,
    #[serde(default, deserialize_with = "present")]
    ivf_birth_on: Option<Option<NaiveDate>>,
    members: Vec<Member>,
    #[serde(default)]
    housing_difficulty: Timeline<bool>,
    #[serde(default)]
    funeral_subsidy_conditions: Timeline<bool>,
}

impl TryFrom<RawHousehold> for Household {
    type Error = String;
    fn try_from(r: RawHousehold) -> Result<Household, String> {
        for (i, m) in r.members.iter().enumerate() {
            if m.id.trim().is_empty() {
                return Err(format!("members[{i}].id must not be empty"));
            }
            if r.members[..i].iter().any(|o| o.id == m.id) {
                return Err(format!("members[{i}].id \"{}\" is used twice", m.id));
            }
            if let Some(t) = m.pension_tier {
                if t < 0 {
                    return Err(format!("members[{i}].pension_tier must be ≥ 0"));
                }
            }
            for (j, c) in m.contributions.iter().enumerate() {
                if c.tier_fen < 0 {
                    return Err(format!(
                        "members[{i}].contributions[{j}].tier_fen must be ≥ 0"
                    ));
                }
                if m.contributions[..j].iter().any(|o| o.year == c.year) {
                    return Err(format!(
                        "members[{i}].contributions[{j}]: year {} is given twice",
                        c.year
                    ));
                }
            }
            if let Some(Some(ResidentPension {
                basic_monthly_fen: Some(b),
                ..
            })) = m.resident_pension
            {
                if b < 0 {
                    return Err(format!(
                        "members[{i}].resident_pension.basic_monthly_fen must be ≥ 0"
                    ));
                }
            }
        }
        if r.hukou_in_district && r.hukou_moved_out_on.is_some() {
            return Err("hukou_moved_out_on goes with hukou_in_district: false".into());
        }
        if !r.other_child_since && r.other_child_on.is_some() {
            return Err("other_child_on goes with other_child_since: true".into());
        }
        for (name, periods) in [
            ("dibao_periods", &r.dibao_periods),
            ("low_income_periods", &r.low_income_periods),
        ] {
            if let Some((i, _)) = periods
                .iter()
                .enumerate()
                .find(|(_, p)| p.until.is_some_and(|u| u < p.from))
            {
                return Err(format!("{name}[{i}]: until is before from"));
            }
        }
        Ok(Household {
            hukou_in_district: r.hukou_in_district,
            hukou_moved_out_on: r.hukou_moved_out_on,
            area: r.area,
            child: r.child,
            other_child_since: r.other_child_since,
            other_child_on: r.other_child_on,
            dibao: r.dibao,
            dibao_periods: r.dibao_periods,
            low_income: r.low_income,
            low_income_periods: r.low_income_periods,
            ivf_birth_on: r.ivf_birth_on,
            members: r.members,
            housing_difficulty: r.housing_difficulty,
            funeral_subsidy_conditions: r.funeral_subsidy_conditions,
        })
    }
}

/// Tells an explicit `null` (`Some(None)`) from an absent field (`None`, via `default`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl Household {
    /// The only child as on `on`. The family follows the child's death (一: "独生子女为三级以上
    /// 残疾或死亡"): a file whose `child` still says disabled (or healthy) while the child's
    /// member record carries a death date is a bereaved family from that date, and before it
    /// what `child` says.
    pub fn child_on(&self, on: NaiveDate) -> Child {
        match (self.child, self.child_member_died_on()) {
            (Child::Disabled { .. } | Child::Healthy, Some(died_on)) if died_on <= on => {
                Child::Deceased { died_on }
            }
            (child, _) => child,
        }
    }

    /// The day the only child died, as `child` or the child's member record says.
    pub fn child_died_on(&self) -> Option<NaiveDate> {
        match self.child {
            Child::Deceased { died_on } => Some(died_on),
            _ => self.child_member_died_on(),
        }
    }

    fn child_member_died_on(&self) -> Option<NaiveDate> {
        self.members
            .iter()
            .find(|m| m.role == Role::Child)
            .and_then(|m| m.died_on)
    }

    /// Hukou in the district on `on`.
    pub fn in_district_on(&self, on: NaiveDate) -> bool {
        self.hukou_in_district || self.hukou_moved_out_on.is_some_and(|m| on < m)
    }

    /// Another child born or adopted by `on`.
    pub fn other_child_by(&self, on: NaiveDate) -> bool {
        self.other_child_since && self.other_child_on.is_none_or(|d| d <= on)
    }

    /// On 低保 on `on`.
    pub fn dibao_on(&self, on: NaiveDate) -> bool {
        holds(self.dibao, &self.dibao_periods, on)
    }

    /// A low-income family on `on`.
    pub fn low_income_on(&self, on: NaiveDate) -> bool {
        holds(self.low_income, &self.low_income_periods, on)
    }

    /// The days on which a dated fact changes (the first day it holds or no longer holds), for
    /// callers that skip re-evaluating when nothing can have changed between two days.
    pub fn fact_changes(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        let spans = self.dibao_periods.iter().chain(&self.low_income_periods);
        let enrolments = self.members.iter().flat_map(|m| {
            m.resident_medical_insurance_since
                .into_iter()
                .chain(m.resident_pension.flatten().and_then(|p| p.since))
                .chain(m.timeline_changes())
        });
        let timelines = self
            .housing_difficulty
            .changes()
            .chain(self.funeral_subsidy_conditions.changes());
        self.hukou_moved_out_on
            .into_iter()
            .chain(self.other_child_on)
            .chain(enrolments)
            .chain(timelines)
            .chain(
                spans.flat_map(|p| {
                    std::iter::once(p.from).chain(p.until.and_then(|u| u.succ_opt()))
                }),
            )
    }
}

impl Member {
    /// The days one of the member's timelines changes, and the first day of each year whose
    /// contribution is recorded.
    fn timeline_changes(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.economic_difficulty
            .changes()
            .chain(self.extreme_poverty.changes())
            .chain(self.civil_capacity.changes())
            .chain(self.other_guardian.changes())
            .chain(self.severely_disabled.changes())
            .chain(self.in_school.changes())
            .chain(self.contributions.iter().flat_map(|c| {
                [c.year, c.year + 1]
                    .into_iter()
                    .filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1))
            }))
    }

    /// The contribution of `on`'s year: paid on time, and the tier (its yearly amount, fen).
    pub fn contribution_on(&self, on: NaiveDate) -> (Option<bool>, Option<i64>) {
        use chrono::Datelike;
        match self.contributions.iter().find(|c| c.year == on.year()) {
            Some(c) => (Some(c.on_time), Some(c.tier_fen)),
            None if self.contributions.is_empty() => {
                (self.pension_paid_this_year, self.pension_tier)
            }
            None => (None, None),
        }
    }

    /// The resident pension enrolment as it stood on `on` (enrolled from its `since`).
    pub fn pension_on(&self, on: NaiveDate) -> Option<Option<ResidentPension>> {
        self.resident_pension
            .map(|p| p.filter(|p| p.since.is_none_or(|s| s <= on)))
    }

    /// Enrolled in resident medical insurance on `on`.
    pub fn medical_insurance_on(&self, on: NaiveDate) -> bool {
        self.resident_medical_insurance
            && self
                .resident_medical_insurance_since
                .is_none_or(|s| s <= on)
    }

    /// Alive on `on`: personal entitlements stop on the day of death.
    pub fn alive_on(&self, on: NaiveDate) -> bool {
        self.died_on.is_none_or(|d| on < d)
    }

    /// Whether the member is at least `years` old on `on` (see [`anniversary`]).
    pub fn aged(&self, years: u32, on: NaiveDate) -> bool {
        anniversary(self.born_on, years).is_some_and(|a| on >= a)
    }
}

/// The day someone born on `born` turns `years`. A 29 February birthday falls on
/// 1 March in common years (the person has not completed the year on 28 February).
pub fn anniversary(born: NaiveDate, years: u32) -> Option<NaiveDate> {
    use chrono::Datelike;
    let year = born.year().checked_add(i32::try_from(years).ok()?)?;
    born.with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
}

#[cfg(test)]
mod timeline_tests {
    use super::*;

    fn read<T: for<'de> Deserialize<'de> + Copy>(json: &str) -> Result<Timeline<T>, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_timeline_reads_a_value_null_or_steps_and_says_what_is_wrong() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(read::<bool>("true"), Ok(Timeline::always(true)));
        assert_eq!(read::<bool>("null"), Ok(Timeline::default()));
        assert_eq!(
            read::<CivilCapacity>("\"limited\""),
            Ok(Timeline::always(CivilCapacity::Limited))
        );
        let t = read::<bool>(r#"[{"value": false}, {"from": "2021-03-01", "value": true}]"#)
            .expect("steps");
        assert_eq!(t.on(d("2021-02-28")), Some(false));
        assert_eq!(t.on(d("2021-03-01")), Some(true));
        let dated = read::<bool>(r#"[{"from": "2021-03-01", "value": true}]"#).expect("steps");
        assert_eq!(
            dated.on(d("2021-02-28")),
            None,
            "before the first dated step: not recorded"
        );
        assert_eq!(
            serde_json::to_string(&t).expect("json"),
            r#"[{"value":false},{"from":"2021-03-01","value":true}]"#
        );
        assert_eq!(
            serde_json::to_string(&Timeline::always(true)).expect("json"),
            "true"
        );
        let wrong = read::<bool>("\"yes\"").unwrap_err();
        assert!(wrong.contains("expected a boolean"), "{wrong}");
        let wrong = read::<CivilCapacity>("\"some\"").unwrap_err();
        assert!(
            wrong.contains("full") && wrong.contains("limited"),
            "{wrong}"
        );
        let wrong = read::<bool>(
            r#"[{"from": "2021-03-01", "value": true}, {"from": "2020-01-01", "value": false}]"#,
        )
        .unwrap_err();
        assert!(wrong.contains("after the step before"), "{wrong}");
        let wrong = read::<bool>(r#"[{"from": "2021-03-01", "value": true}, {"value": false}]"#)
            .unwrap_err();
        assert!(wrong.contains("only the first step"), "{wrong}");
        let wrong =
            read::<bool>(r#"[{"from": "2021-03-01", "value": true, "until": "2022-01-01"}]"#)
                .unwrap_err();
        assert!(wrong.contains("until"), "{wrong}");
    }
}
