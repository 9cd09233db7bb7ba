//! A household file as it comes in (API body or CSV row) and the checks that make it a valid one.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::text::{self, TextRule};
use super::{Area, ContactRole, IdNumber, Role, SelfCare, Sex};
pub use crate::rules::{CivilCapacity, Contribution, Span, Step, Timeline};

/// The only child's status (独生子女情况).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", try_from = "ChildFields")]
pub enum Child {
    /// The only child died (独生子女死亡).
    Deceased {
        /// Date of death.
        died_on: NaiveDate,
    },
    /// The only child is disabled; grades run 1 (most severe) to 4; only 1–3 qualify.
    Disabled {
        /// Disability grade, 1–4.
        disability_grade: u8,
    },
    /// The only child is neither: the household is on file but not a special family.
    Healthy,
}

/// The child object as written, so that serde names the field of a bad date
/// (`child.died_on`) rather than only `child`, as an internally tagged enum would.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChildFields {
    status: String,
    #[serde(default)]
    died_on: Option<NaiveDate>,
    #[serde(default)]
    disability_grade: Option<u8>,
}

impl TryFrom<ChildFields> for Child {
    type Error = String;

    fn try_from(c: ChildFields) -> Result<Self, String> {
        match (c.status.as_str(), c.died_on, c.disability_grade) {
            ("deceased", Some(died_on), None) => Ok(Child::Deceased { died_on }),
            ("deceased", None, _) => {
                Err("child.died_on is required when status is deceased".into())
            }
            ("disabled", None, Some(disability_grade)) => Ok(Child::Disabled { disability_grade }),
            ("disabled", _, None) => {
                Err("child.disability_grade is required when status is disabled".into())
            }
            ("healthy", None, None) => Ok(Child::Healthy),
            ("deceased" | "disabled" | "healthy", _, _) => Err(format!(
                "child: a {} child has {}",
                c.status,
                match c.status.as_str() {
                    "deceased" => "died_on only",
                    "disabled" => "disability_grade only",
                    _ => "neither died_on nor disability_grade",
                }
            )),
            (other, _, _) => Err(format!(
                "child.status: unknown value '{other}', expected deceased, disabled or healthy"
            )),
        }
    }
}

/// Resident basic pension enrolment (城乡居民基本养老保险).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PensionInput {
    /// The member's actual monthly basic pension in fen, when known and being paid.
    pub basic_monthly_fen: Option<i64>,
    /// Enrolled since that day, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

/// The household's fixed contact person (联系人, 二(二)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name of the contact person.
    pub name: String,
    /// Their phone number.
    pub phone: Option<String>,
    /// What they are: township staff, village or community cadre, association member, volunteer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ContactRole>,
    /// The contact group's other members (联系小组).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<GroupMember>,
}

/// The most members a contact group lists beside the contact person.
pub const MAX_GROUP: usize = 10;

/// A member of a household's contact group other than the contact person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMember {
    /// Name.
    pub name: String,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// What they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ContactRole>,
}

/// What the rules read of a member beyond the file's basics, each fact with the day it holds
/// from (see [`Timeline`]): nothing here is shown at the desk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemberFacts {
    /// Meets the extreme-poverty support conditions (特困供养, 二(七)4).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub extreme_poverty: Timeline<bool>,
    /// In economic difficulty (经济困难, 二(七)3, 二(九)4).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub economic_difficulty: Timeline<bool>,
    /// Civil capacity (民事行为能力, 二(五)5).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub civil_capacity: Timeline<CivilCapacity>,
    /// Has a guardian other than the unit or the village committee (二(五)5).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub other_guardian: Timeline<bool>,
    /// Severely disabled or otherwise unable to pay the pension contribution (二(七)1).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub severely_disabled: Timeline<bool>,
    /// In senior secondary school (the disabled child, 二(九)4).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub in_school: Timeline<bool>,
    /// The resident pension contributions, one per year: tier and whether paid on time (二(七)1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contributions: Vec<Contribution>,
}

impl MemberFacts {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        *self == MemberFacts::default()
    }
}

/// What the rules read of a household beyond the file's basics, dated like [`MemberFacts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HouseholdFacts {
    /// Urban: poor and badly housed; rural: meets the dilapidated-house criteria (二(九)3).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub housing_difficulty: Timeline<bool>,
    /// Meets the 惠民殡葬 funeral-subsidy conditions (二(九)5).
    #[serde(skip_serializing_if = "Timeline::is_empty")]
    pub funeral_subsidy_conditions: Timeline<bool>,
}

impl HouseholdFacts {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        *self == HouseholdFacts::default()
    }
}

/// One member of a household, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    /// Full name.
    pub name: String,
    /// Sex; optional because the ID number encodes it, refused when it disagrees.
    #[serde(default)]
    pub sex: Option<Sex>,
    /// Mother, father or the (disabled) child.
    pub role: Role,
    /// Date of birth; optional because the ID number encodes it, refused when it disagrees.
    #[serde(default)]
    pub born_on: Option<NaiveDate>,
    /// The 18-digit resident ID number.
    pub id_number: String,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Date of death, for a member who has died.
    #[serde(default)]
    pub died_on: Option<NaiveDate>,
    /// Resident basic pension enrolment, or null when not enrolled.
    #[serde(default)]
    pub resident_pension: Option<PensionInput>,
    /// Enrolled in resident basic medical insurance.
    pub resident_medical_insurance: bool,
    /// Enrolled in it since that day, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_medical_insurance_since: Option<NaiveDate>,
    /// Self-care ability, when assessed.
    #[serde(default)]
    pub self_care: Option<SelfCare>,
    /// The dated facts the rules read.
    #[serde(default, skip_serializing_if = "MemberFacts::is_empty")]
    pub facts: MemberFacts,
}

/// A household file, as submitted by the office or a township.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdInput {
    /// The township or street (镇/街道) code.
    pub township_id: String,
    /// The village or community (村/社区) code, when known.
    #[serde(default)]
    pub community_id: Option<String>,
    /// Home address.
    pub address: String,
    /// Hukou registered in the district.
    pub hukou_in_district: bool,
    /// The day the hukou moved out of the district (with `hukou_in_district: false`).
    #[serde(default)]
    pub hukou_moved_out_on: Option<NaiveDate>,
    /// Urban or rural.
    pub area: Area,
    /// The only child's status.
    pub child: Child,
    /// Another child born or adopted since.
    pub other_child_since: bool,
    /// The day of that birth or adoption (required with `other_child_since`): the family's
    /// entitlements end from then on, and what was paid before stays rightly paid.
    #[serde(default)]
    pub other_child_on: Option<NaiveDate>,
    /// On minimum living allowance (低保) now.
    pub dibao: bool,
    /// The periods on 低保, when known; `dibao` must agree with them on today.
    #[serde(default)]
    pub dibao_periods: Vec<Span>,
    /// Recognised as low-income (低收入) now.
    pub low_income: bool,
    /// The periods as a low-income family, when known; `low_income` must agree with them.
    #[serde(default)]
    pub low_income_periods: Vec<Span>,
    /// Date of a successful IVF birth, if any.
    #[serde(default)]
    pub ivf_birth_on: Option<NaiveDate>,
    /// The household's contact person.
    #[serde(default)]
    pub contact: Option<Contact>,
    /// The members: mother and/or father, and optionally the child.
    pub members: Vec<MemberInput>,
    /// The household's dated facts the rules read.
    #[serde(default, skip_serializing_if = "HouseholdFacts::is_empty")]
    pub facts: HouseholdFacts,
}

/// One problem with one field of an input, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field, e.g. `members[1].id_number`.
    pub field: String,
    /// What is wrong, Chinese first, then English.
    pub reason: String,
}

impl FieldError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Periods of a dated yes/no fact: each well-formed and not in the future, none overlapping,
/// and the flag saying what they say of today.
fn check_periods(
    name: &str,
    flag: bool,
    periods: &[Span],
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) {
    let field = format!("{name}_periods");
    for (i, p) in periods.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if p.until.is_some_and(|u| u < p.from) {
            errors.push(FieldError::new(
                format!("{at}.until"),
                "结束日期早于开始日期 / ends before it starts",
            ));
        }
        if p.from > today {
            errors.push(FieldError::new(
                format!("{at}.from"),
                "日期在将来 / date is in the future",
            ));
        }
        let overlaps = periods[..i].iter().any(|q| {
            q.from <= p.until.unwrap_or(NaiveDate::MAX)
                && p.from <= q.until.unwrap_or(NaiveDate::MAX)
        });
        if overlaps {
            errors.push(FieldError::new(
                at,
                "与另一期间重叠 / overlaps another period",
            ));
        }
    }
    if !periods.is_empty() && periods.iter().any(|p| p.covers(today)) != flag {
        errors.push(FieldError::new(
            name,
            format!("与{field}所示今日状态不符 / does not agree with what {field} say of today"),
        ));
    }
}

/// The most steps a timeline keeps: decades of a fact changing every year or two.
pub const MAX_STEPS: usize = 50;

/// The earliest day a step may start on.
const FIRST_STEP_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// A timeline's days lie between 1900 and today and it has at most [`MAX_STEPS`] steps (its
/// order was checked when it was read).
fn check_timeline<T: Copy>(
    field: &str,
    t: &Timeline<T>,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) {
    if t.steps().len() > MAX_STEPS {
        errors.push(FieldError::new(
            field,
            format!("最多{MAX_STEPS}次变更 / at most {MAX_STEPS} steps"),
        ));
    }
    for (i, s) in t.steps().iter().enumerate() {
        if s.from.is_some_and(|f| f > today) {
            errors.push(FieldError::new(
                format!("{field}[{i}].from"),
                "日期在将来 / date is in the future",
            ));
        }
        if s.from.is_some_and(|f| f < FIRST_STEP_DAY) {
            errors.push(FieldError::new(
                format!("{field}[{i}].from"),
                "日期早于1900年 / date is before 1900",
            ));
        }
    }
}

/// The highest yearly contribution tier the register accepts (fen): far above any tier the
/// district offers (the rule set's table decides which tiers count).
const MAX_TIER_FEN: i64 = 10_000_000;

fn check_member_facts(
    field: &str,
    f: &MemberFacts,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) {
    use chrono::Datelike;
    check_timeline(
        &format!("{field}.extreme_poverty"),
        &f.extreme_poverty,
        today,
        errors,
    );
    check_timeline(
        &format!("{field}.economic_difficulty"),
        &f.economic_difficulty,
        today,
        errors,
    );
    check_timeline(
        &format!("{field}.civil_capacity"),
        &f.civil_capacity,
        today,
        errors,
    );
    check_timeline(
        &format!("{field}.other_guardian"),
        &f.other_guardian,
        today,
        errors,
    );
    check_timeline(
        &format!("{field}.severely_disabled"),
        &f.severely_disabled,
        today,
        errors,
    );
    check_timeline(&format!("{field}.in_school"), &f.in_school, today, errors);
    for (j, c) in f.contributions.iter().enumerate() {
        let at = format!("{field}.contributions[{j}]");
        if !(1990..=today.year()).contains(&c.year) {
            errors.push(FieldError::new(
                format!("{at}.year"),
                format!(
                    "年份应在1990至{}之间 / year must be 1990 to {}",
                    today.year(),
                    today.year()
                ),
            ));
        }
        if !(0..=MAX_TIER_FEN).contains(&c.tier_fen) {
            errors.push(FieldError::new(
                format!("{at}.tier_fen"),
                format!(
                    "缴费档次应在0至{MAX_TIER_FEN}分之间 / tier must be 0 to {MAX_TIER_FEN} fen"
                ),
            ));
        }
        if f.contributions[..j].iter().any(|o| o.year == c.year) {
            errors.push(FieldError::new(
                format!("{at}.year"),
                format!("{}年重复 / year {} is given twice", c.year, c.year),
            ));
        }
    }
}

/// Checks everything that can be checked without the database; the township and duplicate
/// ID numbers are checked against it by the caller. Returns every problem, not just the first.
pub fn validate_household(h: &HouseholdInput, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut text = |field: String, value: &str, rule: TextRule| {
        if let Err(reason) = text::check(value, rule) {
            errors.push(FieldError::new(field, reason));
        }
    };
    text("township_id".into(), &h.township_id, text::PLACE);
    if let Some(c) = &h.community_id {
        text("community_id".into(), c, text::PLACE);
    }
    text("address".into(), &h.address, text::ADDRESS);
    if let Some(c) = &h.contact {
        text("contact.name".into(), &c.name, text::NAME);
        for (i, g) in c.group.iter().enumerate() {
            text(format!("contact.group[{i}].name"), &g.name, text::NAME);
        }
    }
    for (i, m) in h.members.iter().enumerate() {
        text(format!("members[{i}].name"), &m.name, text::NAME);
    }
    let group = h.contact.iter().flat_map(|c| {
        c.group
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("contact.group[{i}].phone"), &g.phone))
    });
    let phones = h
        .contact
        .iter()
        .map(|c| ("contact.phone".to_owned(), &c.phone))
        .chain(group)
        .chain(
            h.members
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("members[{i}].phone"), &m.phone)),
        );
    for (field, phone) in phones {
        if let Some(Err(reason)) = phone
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(text::check_phone)
        {
            errors.push(FieldError::new(field, reason));
        }
    }
    if h.township_id.trim().is_empty() {
        errors.push(FieldError::new(
            "township_id",
            "不能为空 / must not be empty",
        ));
    }
    if h.address.trim().is_empty() {
        errors.push(FieldError::new("address", "不能为空 / must not be empty"));
    }
    match &h.child {
        Child::Deceased { died_on } if *died_on > today => {
            errors.push(FieldError::new(
                "child.died_on",
                "日期在将来 / date is in the future",
            ));
        }
        Child::Disabled { disability_grade } if !(1..=4).contains(disability_grade) => {
            errors.push(FieldError::new(
                "child.disability_grade",
                "残疾等级应为1-4 / disability grade must be 1 to 4",
            ));
        }
        _ => {}
    }
    let future = |field: &str, d: Option<NaiveDate>, errors: &mut Vec<FieldError>| {
        if d.is_some_and(|d| d > today) {
            errors.push(FieldError::new(field, "日期在将来 / date is in the future"));
        }
    };
    future("ivf_birth_on", h.ivf_birth_on, &mut errors);
    future("other_child_on", h.other_child_on, &mut errors);
    future("hukou_moved_out_on", h.hukou_moved_out_on, &mut errors);
    match (h.other_child_since, h.other_child_on) {
        (true, None) => errors.push(FieldError::new(
            "other_child_on",
            "须填写再生育或收养的日期 / the date of the birth or adoption is required",
        )),
        (false, Some(_)) => errors.push(FieldError::new(
            "other_child_on",
            "未再生育或收养时不填 / only with other_child_since: true",
        )),
        _ => {}
    }
    if h.hukou_in_district && h.hukou_moved_out_on.is_some() {
        errors.push(FieldError::new(
            "hukou_moved_out_on",
            "户籍在本区时不填 / only with hukou_in_district: false",
        ));
    }
    check_timeline(
        "facts.housing_difficulty",
        &h.facts.housing_difficulty,
        today,
        &mut errors,
    );
    check_timeline(
        "facts.funeral_subsidy_conditions",
        &h.facts.funeral_subsidy_conditions,
        today,
        &mut errors,
    );
    for (i, m) in h.members.iter().enumerate() {
        check_member_facts(&format!("members[{i}].facts"), &m.facts, today, &mut errors);
    }
    check_periods("dibao", h.dibao, &h.dibao_periods, today, &mut errors);
    check_periods(
        "low_income",
        h.low_income,
        &h.low_income_periods,
        today,
        &mut errors,
    );
    if let Some(c) = &h.contact {
        if c.group.len() > MAX_GROUP {
            errors.push(FieldError::new(
                "contact.group",
                format!("联系小组最多{MAX_GROUP}人 / at most {MAX_GROUP} members besides the contact person"),
            ));
        }
        // A group is written in one spreadsheet cell as `name role phone；…`: its names and
        // phones hold no space or separator, so that the cell reads back as it was written.
        let separator = |t: &str| {
            t.chars()
                .any(|c| c.is_whitespace() || c == ';' || c == '；')
        };
        for (i, g) in c.group.iter().enumerate() {
            if g.name.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("contact.group[{i}].name"),
                    "不能为空 / must not be empty",
                ));
            } else if separator(g.name.trim()) {
                errors.push(FieldError::new(
                    format!("contact.group[{i}].name"),
                    "不能含空格或分号 / must hold no space or semicolon",
                ));
            }
            if g.phone.as_deref().is_some_and(separator) {
                errors.push(FieldError::new(
                    format!("contact.group[{i}].phone"),
                    "不能含空格或分号 / must hold no space or semicolon",
                ));
            }
        }
        if c.name.trim().is_empty() {
            errors.push(FieldError::new(
                "contact.name",
                "不能为空 / must not be empty",
            ));
        }
    }
    if h.members.is_empty() {
        errors.push(FieldError::new(
            "members",
            "至少一名成员 / at least one member is required",
        ));
    }
    let mut seen_roles = Vec::new();
    let mut seen_ids = Vec::new();
    for (i, m) in h.members.iter().enumerate() {
        let at = |f: &str| format!("members[{i}].{f}");
        if seen_roles.contains(&m.role) {
            errors.push(FieldError::new(
                at("role"),
                format!(
                    "同一户内角色重复 / role '{}' appears twice in the household",
                    m.role
                ),
            ));
        }
        seen_roles.push(m.role);
        if m.name.trim().is_empty() {
            errors.push(FieldError::new(at("name"), "不能为空 / must not be empty"));
        }
        let id = match IdNumber::parse(&m.id_number) {
            Ok(id) => id,
            Err(e) => {
                errors.push(FieldError::new(at("id_number"), e.to_string()));
                continue;
            }
        };
        if seen_ids.contains(&id) {
            errors.push(FieldError::new(
                at("id_number"),
                "身份证号码在本户重复 / ID number appears twice in the household",
            ));
        }
        let born = id.birth_date();
        if m.born_on.is_some_and(|b| b != born) {
            errors.push(FieldError::new(
                at("born_on"),
                format!("与身份证号码中的出生日期{born}不符 / does not match the birth date {born} in the ID number"),
            ));
        }
        if born > today {
            errors.push(FieldError::new(
                at("id_number"),
                "出生日期在将来 / birth date is in the future",
            ));
        }
        let sex = id.sex();
        if m.sex.is_some_and(|s| s != sex) {
            errors.push(FieldError::new(
                at("sex"),
                format!(
                    "与身份证号码中的性别不符 / does not match the sex '{sex}' in the ID number"
                ),
            ));
        }
        let expected = match m.role {
            Role::Mother => Some(Sex::Female),
            Role::Father => Some(Sex::Male),
            Role::Child => None,
        };
        if expected.is_some_and(|e| e != sex) {
            errors.push(FieldError::new(
                at("role"),
                format!(
                    "身份证号码性别与角色不符 / the ID number is of a {sex} person, not a {}",
                    m.role
                ),
            ));
        }
        if let Some(d) = m.died_on {
            if d < born || d > today {
                errors.push(FieldError::new(
                    at("died_on"),
                    "死亡日期应在出生之后且不在将来 / must be after birth and not in the future",
                ));
            }
        }
        if m.resident_pension
            .as_ref()
            .and_then(|p| p.since)
            .is_some_and(|d| d > today)
        {
            errors.push(FieldError::new(
                at("resident_pension.since"),
                "日期在将来 / date is in the future",
            ));
        }
        match (
            m.resident_medical_insurance,
            m.resident_medical_insurance_since,
        ) {
            (_, Some(d)) if d > today => errors.push(FieldError::new(
                at("resident_medical_insurance_since"),
                "日期在将来 / date is in the future",
            )),
            (false, Some(_)) => errors.push(FieldError::new(
                at("resident_medical_insurance_since"),
                "未参加医保时不填 / only with resident_medical_insurance: true",
            )),
            _ => {}
        }
        if let Some(PensionInput {
            basic_monthly_fen: Some(f),
            ..
        }) = m.resident_pension
        {
            if f < 0 {
                errors.push(FieldError::new(
                    at("resident_pension.basic_monthly_fen"),
                    "金额不能为负 / must not be negative",
                ));
            }
        }
        seen_ids.push(id);
    }
    errors
}
