//! Household files and their members: create, read, change with history, list, as-of queries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::register::{
    mask, validate_household, Area, Child, Contact, FieldError, HouseholdFacts, HouseholdInput,
    IdNumber, MemberFacts, MemberInput, PensionInput, Role, SelfCare, Sex, Span,
};
use crate::{on_db, on_tx};

/// A household file as stored, with its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdRecord {
    /// Its id.
    pub household_id: i64,
    /// Township or street code.
    pub township_id: String,
    /// Village or community code.
    pub community_id: Option<String>,
    /// Home address.
    pub address: String,
    /// Hukou in the district.
    pub hukou_in_district: bool,
    /// The day the hukou moved out.
    #[serde(default)]
    pub hukou_moved_out_on: Option<NaiveDate>,
    /// Urban or rural.
    pub area: Area,
    /// The only child's status.
    pub child: Child,
    /// Another child born or adopted since.
    pub other_child_since: bool,
    /// The day of that birth or adoption.
    #[serde(default)]
    pub other_child_on: Option<NaiveDate>,
    /// On minimum living allowance.
    pub dibao: bool,
    /// The periods on 低保, when recorded.
    #[serde(default)]
    pub dibao_periods: Vec<Span>,
    /// Low-income.
    pub low_income: bool,
    /// The periods as a low-income family, when recorded.
    #[serde(default)]
    pub low_income_periods: Vec<Span>,
    /// A successful IVF birth.
    pub ivf_birth_on: Option<NaiveDate>,
    /// The contact person.
    pub contact: Option<Contact>,
    /// The members.
    pub members: Vec<MemberRecord>,
    /// The household's dated facts the rules read.
    #[serde(default)]
    pub facts: HouseholdFacts,
    /// Incremented on every change; updates must name the version they change.
    pub version: i32,
    /// When the file was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Its id.
    pub member_id: i64,
    /// Full name.
    pub name: String,
    /// Sex.
    pub sex: Sex,
    /// Role in the household.
    pub role: Role,
    /// Date of birth.
    pub born_on: NaiveDate,
    /// ID number: full for the office and township staff, masked for everyone else.
    pub id_number: String,
    /// Phone, masked like the ID number.
    pub phone: Option<String>,
    /// Date of death.
    pub died_on: Option<NaiveDate>,
    /// Resident pension enrolment.
    pub resident_pension: Option<PensionInput>,
    /// Resident medical insurance enrolment.
    pub resident_medical_insurance: bool,
    /// Enrolled in it since that day.
    #[serde(default)]
    pub resident_medical_insurance_since: Option<NaiveDate>,
    /// Self-care ability.
    pub self_care: Option<SelfCare>,
    /// The member's dated facts the rules read.
    #[serde(default)]
    pub facts: MemberFacts,
}

impl HouseholdRecord {
    /// The file as an input that would store it again unchanged: the start of an edit.
    pub fn to_input(&self) -> HouseholdInput {
        HouseholdInput {
            township_id: self.township_id.clone(),
            community_id: self.community_id.clone(),
            address: self.address.clone(),
            hukou_in_district: self.hukou_in_district,
            hukou_moved_out_on: self.hukou_moved_out_on,
            area: self.area,
            child: self.child.clone(),
            other_child_since: self.other_child_since,
            other_child_on: self.other_child_on,
            dibao: self.dibao,
            dibao_periods: self.dibao_periods.clone(),
            low_income: self.low_income,
            low_income_periods: self.low_income_periods.clone(),
            ivf_birth_on: self.ivf_birth_on,
            contact: self.contact.clone(),
            members: self
                .members
                .iter()
                .map(|m| MemberInput {
                    name: m.name.clone(),
                    sex: Some(m.sex),
                    role: m.role,
                    born_on: Some(m.born_on),
                    id_number: m.id_number.clone(),
                    phone: m.phone.clone(),
                    died_on: m.died_on,
                    resident_pension: m.resident_pension.clone(),
                    resident_medical_insurance: m.resident_medical_insurance,
                    resident_medical_insurance_since: m.resident_medical_insurance_since,
                    self_care: m.self_care,
                    facts: m.facts.clone(),
                })
                .collect(),
            facts: self.facts.clone(),
        }
    }

    /// Masks ID numbers and phones, for callers who do not need them.
    pub fn masked(mut self) -> Self {
        for m in &mut self.members {
            m.id_number = IdNumber::parse(&m.id_number)
                .map(|id| id.masked())
                .unwrap_or_default();
            m.phone = m.phone.as_deref().map(mask::mask_phone);
        }
        if let Some(c) = &mut self.contact {
            c.phone = c.phone.as_deref().map(mask::mask_phone);
            for g in &mut c.group {
                g.phone = g.phone.as_deref().map(mask::mask_phone);
            }
        }
        self
    }
}

/// One line of a household list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HouseholdSummary {
    /// Its id.
    pub household_id: i64,
    /// Township code.
    pub township_id: String,
    /// Village or community code.
    pub community_id: Option<String>,
    /// `deceased`, `disabled` or `healthy`.
    pub child_status: String,
    /// How many members are on file.
    pub members: i64,
    /// Version.
    pub version: i32,
}

/// One entry of a file's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ChangeEntry {
    /// The version this change produced.
    pub version: i32,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Who (the account), when a person made it.
    pub account_id: Option<i64>,
    /// Why.
    pub reason: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct HouseholdRow {
    household_id: i64,
    township_id: String,
    community_id: Option<String>,
    address: String,
    hukou_in_district: bool,
    hukou_moved_out_on: Option<NaiveDate>,
    area: String,
    child_status: String,
    child_died_on: Option<NaiveDate>,
    child_disability_grade: Option<i32>,
    other_child_since: bool,
    other_child_on: Option<NaiveDate>,
    dibao: bool,
    dibao_periods: String,
    low_income: bool,
    low_income_periods: String,
    ivf_birth_on: Option<NaiveDate>,
    contact_name: Option<String>,
    contact_phone: Option<String>,
    contact_role: Option<String>,
    contact_group: String,
    facts: String,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    member_id: i64,
    household_id: i64,
    name: String,
    sex: String,
    role: String,
    born_on: NaiveDate,
    id_number: String,
    phone: Option<String>,
    died_on: Option<NaiveDate>,
    resident_pension: bool,
    basic_pension_monthly_fen: Option<i64>,
    pension_since: Option<NaiveDate>,
    resident_medical_insurance: bool,
    medical_insurance_since: Option<NaiveDate>,
    self_care: Option<String>,
    facts: String,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("stored {what} is not valid: {e}"))
}

impl HouseholdRow {
    fn into_record(self, members: Vec<MemberRecord>) -> Result<HouseholdRecord> {
        let child = match (
            self.child_status.as_str(),
            self.child_died_on,
            self.child_disability_grade,
        ) {
            ("deceased", Some(died_on), _) => Child::Deceased { died_on },
            ("disabled", _, Some(g)) => Child::Disabled {
                disability_grade: u8::try_from(g).map_err(|e| corrupt("disability grade", e))?,
            },
            ("healthy", _, _) => Child::Healthy,
            (s, _, _) => return Err(corrupt("child status", s)),
        };
        Ok(HouseholdRecord {
            household_id: self.household_id,
            township_id: self.township_id,
            community_id: self.community_id,
            address: self.address,
            hukou_in_district: self.hukou_in_district,
            hukou_moved_out_on: self.hukou_moved_out_on,
            area: self.area.parse().map_err(|e| corrupt("area", e))?,
            child,
            other_child_since: self.other_child_since,
            other_child_on: self.other_child_on,
            dibao: self.dibao,
            dibao_periods: serde_json::from_str(&self.dibao_periods)
                .map_err(|e| corrupt("dibao periods", e))?,
            low_income: self.low_income,
            low_income_periods: serde_json::from_str(&self.low_income_periods)
                .map_err(|e| corrupt("low-income periods", e))?,
            ivf_birth_on: self.ivf_birth_on,
            contact: match self.contact_name {
                None => None,
                Some(name) => Some(Contact {
                    name,
                    phone: self.contact_phone,
                    role: self
                        .contact_role
                        .map(|r| r.parse())
                        .transpose()
                        .map_err(|e| corrupt("contact role", e))?,
                    group: serde_json::from_str(&self.contact_group)
                        .map_err(|e| corrupt("contact group", e))?,
                }),
            },
            members,
            facts: serde_json::from_str(&self.facts).map_err(|e| corrupt("household facts", e))?,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl MemberRow {
    fn into_record(self) -> Result<MemberRecord> {
        Ok(MemberRecord {
            member_id: self.member_id,
            name: self.name,
            sex: self.sex.parse().map_err(|e| corrupt("sex", e))?,
            role: self.role.parse().map_err(|e| corrupt("role", e))?,
            born_on: self.born_on,
            id_number: self.id_number,
            phone: self.phone,
            died_on: self.died_on,
            resident_pension: self.resident_pension.then_some(PensionInput {
                basic_monthly_fen: self.basic_pension_monthly_fen,
                since: self.pension_since,
            }),
            resident_medical_insurance: self.resident_medical_insurance,
            resident_medical_insurance_since: self.medical_insurance_since,
            self_care: self
                .self_care
                .map(|s| s.parse())
                .transpose()
                .map_err(|e| corrupt("self_care", e))?,
            facts: serde_json::from_str(&self.facts).map_err(|e| corrupt("member facts", e))?,
        })
    }
}

pub(crate) const HOUSEHOLD_COLUMNS: &str =
    "household_id, township_id, community_id, address, hukou_in_district, hukou_moved_out_on, area,
    child_status, child_died_on, child_disability_grade, other_child_since, other_child_on, dibao,
    dibao_periods, low_income, low_income_periods,
    ivf_birth_on, contact_name, contact_phone, contact_role, contact_group, facts, version,
    created_at, updated_at";
pub(crate) const MEMBER_COLUMNS: &str =
    "member_id, household_id, name, sex, role, born_on, id_number, phone, died_on,
    resident_pension, basic_pension_monthly_fen, pension_since, resident_medical_insurance,
    medical_insurance_since, self_care, facts";

/// The columns of a household row from an input, in the order of the insert and update below.
pub(crate) struct HouseholdValues<'a> {
    pub input: &'a HouseholdInput,
    pub child_status: &'static str,
    pub died_on: Option<NaiveDate>,
    pub grade: Option<i32>,
    pub dibao_periods: String,
    pub low_income_periods: String,
    pub facts: String,
    pub contact_role: Option<&'static str>,
    pub contact_group: String,
}

impl<'a> HouseholdValues<'a> {
    pub fn of(input: &'a HouseholdInput) -> Self {
        let (child_status, died_on, grade) = match &input.child {
            Child::Deceased { died_on } => ("deceased", Some(*died_on), None),
            Child::Disabled { disability_grade } => {
                ("disabled", None, Some(i32::from(*disability_grade)))
            }
            Child::Healthy => ("healthy", None, None),
        };
        // Serializing plain dates cannot fail.
        Self {
            input,
            child_status,
            died_on,
            grade,
            dibao_periods: json(&input.dibao_periods),
            low_income_periods: json(&input.low_income_periods),
            facts: json(&input.facts),
            contact_role: input
                .contact
                .as_ref()
                .and_then(|c| c.role)
                .map(|r| r.as_str()),
            contact_group: json(&input.contact.as_ref().map_or(&[][..], |c| &c.group[..])),
        }
    }
}

/// A value as its JSON column text. Plain data (dates, numbers, strings) always serializes;
/// the fallback is never reached.
fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Inserts one household with its members and its first change-log entry inside `tx`; returns
/// the new household's id. The input was validated before (`validate_household`).
pub async fn insert(
    tx: &mut Tx,
    input: &HouseholdInput,
    now: DateTime<Utc>,
    account_id: Option<i64>,
    reason: &str,
) -> Result<i64> {
    let v = HouseholdValues::of(input);
    let h = v.input;
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "insert into household (township_id, community_id, address, hukou_in_district, area,
            child_status, child_died_on, child_disability_grade, other_child_since, dibao,
            low_income, ivf_birth_on, contact_name, contact_phone, version, created_at, updated_at,
            hukou_moved_out_on, other_child_on, dibao_periods, low_income_periods, facts,
            contact_role, contact_group)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15,
            $16, $17, $18, $19, $20, $21, $22)
         returning household_id")
        .bind(h.township_id.trim()).bind(h.community_id.as_deref()).bind(h.address.trim())
        .bind(h.hukou_in_district).bind(h.area.as_str()).bind(v.child_status)
        .bind(v.died_on).bind(v.grade).bind(h.other_child_since).bind(h.dibao)
        .bind(h.low_income).bind(h.ivf_birth_on)
        .bind(h.contact.as_ref().map(|c| c.name.trim()))
        .bind(h.contact.as_ref().and_then(|c| c.phone.as_deref()))
        .bind(now)
        .bind(h.hukou_moved_out_on).bind(h.other_child_on)
        .bind(&v.dibao_periods).bind(&v.low_income_periods).bind(&v.facts)
        .bind(v.contact_role).bind(&v.contact_group)
        .fetch_one(&mut *c).await)?;
    for m in &h.members {
        insert_member(tx, id, m).await?;
    }
    let snapshot = fetch_in(tx, id).await?;
    log_change(tx, &snapshot, now, account_id, reason).await?;
    Ok(id)
}

/// Appends a file's new state to its history inside `tx`.
async fn log_change(
    tx: &mut Tx,
    record: &HouseholdRecord,
    now: DateTime<Utc>,
    account_id: Option<i64>,
    reason: &str,
) -> Result<()> {
    let snapshot = serde_json::to_string(record).map_err(anyhow::Error::from)?;
    on_tx!(tx, c => sqlx::query(
        "insert into change_log (entity, entity_id, version, changed_at, account_id, reason, snapshot)
         values ('household', $1, $2, $3, $4, $5, $6)")
        .bind(record.household_id).bind(record.version).bind(now).bind(account_id).bind(reason)
        .bind(&snapshot)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Inserts one member row inside `tx`.
async fn insert_member(tx: &mut Tx, household_id: i64, m: &MemberInput) -> Result<()> {
    // Validated before: the ID number parses, and its birth date and sex are the member's.
    let id =
        IdNumber::parse(&m.id_number).map_err(|e| AppError::field("id_number", e.to_string()))?;
    on_tx!(tx, c => sqlx::query(
        "insert into member (household_id, name, sex, role, born_on, id_number, phone, died_on,
            resident_pension, basic_pension_monthly_fen, resident_medical_insurance, self_care,
            pension_since, medical_insurance_since, facts)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(household_id).bind(m.name.trim()).bind(id.sex().as_str()).bind(m.role.as_str())
        .bind(id.birth_date()).bind(id.as_str()).bind(m.phone.as_deref().filter(|p| !p.is_empty()))
        .bind(m.died_on).bind(m.resident_pension.is_some())
        .bind(m.resident_pension.as_ref().and_then(|p| p.basic_monthly_fen))
        .bind(m.resident_medical_insurance).bind(m.self_care.map(|s| s.as_str()))
        .bind(m.resident_pension.as_ref().and_then(|p| p.since))
        .bind(m.resident_medical_insurance_since).bind(json(&m.facts))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One household file read inside `tx`.
async fn fetch_in(tx: &mut Tx, id: i64) -> Result<HouseholdRecord> {
    let rows = on_tx!(tx, c => fetch_rows!(c, id).await?);
    let (row, members) = rows.ok_or(AppError::NotFound("household"))?;
    assemble(row, members)
}

/// Reads a household row and its member rows through any executor `$ex`; evaluates to a future
/// of `Result<Option<(HouseholdRow, Vec<MemberRow>)>, sqlx::Error>` (`None`: no such household).
/// A macro so that one text serves a pooled connection and either backend's transaction.
macro_rules! fetch_rows {
    ($ex:expr, $id:expr) => {
        async {
            let sql = format!(
                "select {} from household where household_id = $1",
                $crate::db::households::HOUSEHOLD_COLUMNS
            );
            let row: Option<$crate::db::households::HouseholdRow> = sqlx::query_as(&sql)
                .bind($id)
                .fetch_optional(&mut *$ex)
                .await?;
            let Some(row) = row else {
                return Ok::<_, sqlx::Error>(None);
            };
            let sql = format!(
                "select {} from member where household_id = $1 order by member_id",
                $crate::db::households::MEMBER_COLUMNS
            );
            let members: Vec<$crate::db::households::MemberRow> =
                sqlx::query_as(&sql).bind($id).fetch_all(&mut *$ex).await?;
            Ok(Some((row, members)))
        }
    };
}
pub(crate) use fetch_rows;

#[doc(hidden)]
pub(crate) fn assemble(row: HouseholdRow, members: Vec<MemberRow>) -> Result<HouseholdRecord> {
    let members = members
        .into_iter()
        .map(MemberRow::into_record)
        .collect::<Result<Vec<_>>>()?;
    row.into_record(members)
}

/// Checks an input against the database: the township and community exist, and no ID number is
/// already on another household's file. `own` is the household being changed, if any.
pub async fn check_against_db(
    db: &Db,
    input: &HouseholdInput,
    own: Option<i64>,
) -> Result<Vec<FieldError>> {
    let mut errors = Vec::new();
    let township: Option<String> = on_db!(db, p => sqlx::query_scalar(
        "select township_id from township where township_id = $1")
        .bind(input.township_id.trim()).fetch_optional(p).await)?;
    if township.is_none() {
        errors.push(FieldError {
            field: "township_id".into(),
            reason: format!(
                "未知的镇街代码 / unknown township '{}'",
                input.township_id.trim()
            ),
        });
    }
    if let Some(c) = &input.community_id {
        let found: Option<String> = on_db!(db, p => sqlx::query_scalar(
            "select township_id from community where community_id = $1")
            .bind(c).fetch_optional(p).await)?;
        match found {
            None => errors.push(FieldError {
                field: "community_id".into(),
                reason: format!("未知的村居代码 / unknown community '{c}'"),
            }),
            Some(t) if t != input.township_id.trim() => errors.push(FieldError {
                field: "community_id".into(),
                reason: format!(
                    "该村居不属于镇街{} / community '{c}' is not in township '{}'",
                    input.township_id.trim(),
                    input.township_id.trim()
                ),
            }),
            Some(_) => {}
        }
    }
    for (i, m) in input.members.iter().enumerate() {
        let Ok(id) = IdNumber::parse(&m.id_number) else {
            continue;
        };
        let other: Option<i64> = on_db!(db, p => sqlx::query_scalar(
            "select household_id from member where id_number = $1")
            .bind(id.as_str()).fetch_optional(p).await)?;
        if other.is_some_and(|o| Some(o) != own) {
            errors.push(FieldError {
                field: format!("members[{i}].id_number"),
                reason: "该身份证号码已在其他家庭档案中 / this ID number is already on another household's file".into(),
            });
        }
    }
    Ok(errors)
}

/// Validates and creates a household file with its members and first history entry.
pub async fn create(
    db: &Db,
    input: &HouseholdInput,
    account_id: Option<i64>,
    reason: &str,
    today: NaiveDate,
) -> Result<HouseholdRecord> {
    let mut errors = validate_household(input, today);
    if errors.is_empty() {
        errors = check_against_db(db, input, None).await?;
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let id = insert(&mut tx, input, now, account_id, reason)
        .await
        .map_err(duplicate_id)?;
    let record = fetch_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(record)
}

/// A unique violation that slipped past the pre-check (two writers at once) is a duplicate ID.
fn duplicate_id(e: impl Into<AppError>) -> AppError {
    match e.into() {
        AppError::Database(d) if crate::error::is_unique_violation(&d) => AppError::conflict(
            "duplicate_id_number",
            "an ID number in this file is already registered",
        ),
        e => e,
    }
}

/// One household file.
pub async fn get(db: &Db, id: i64) -> Result<HouseholdRecord> {
    let found = on_db!(db, p => {
        let mut conn = p.acquire().await?;
        fetch_rows!(conn, id).await?
    });
    let (row, members) = found.ok_or(AppError::NotFound("household"))?;
    assemble(row, members)
}

/// One household file read inside `tx` with the file locked until `tx` ends (on PostgreSQL a row
/// lock; an `IMMEDIATE` SQLite transaction holds the database's write lock already), so that a
/// decision made on it — a card issued, cards suspended — cannot race a change to it.
pub async fn locked(tx: &mut Tx, id: i64) -> Result<HouseholdRecord> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("select household_id from household where household_id = $1 for update")
            .bind(id)
            .fetch_optional(&mut **t)
            .await?;
    }
    fetch_in(tx, id).await
}

/// The household and township of a member.
pub async fn of_member(db: &Db, member_id: i64) -> Result<(i64, String)> {
    on_db!(db, p => sqlx::query_as(
        "select m.household_id, h.township_id from member m join household h on h.household_id = m.household_id
          where m.member_id = $1")
        .bind(member_id).fetch_optional(p).await)?
    .ok_or(AppError::NotFound("member"))
}

/// Every household's id, in order.
pub async fn ids(db: &Db) -> Result<Vec<i64>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("select household_id from household order by household_id")
        .fetch_all(p).await)?,
    )
}

/// A page of households, optionally of one township, in id order after `after`.
pub async fn list(
    db: &Db,
    township: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<HouseholdSummary>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select h.household_id, h.township_id, h.community_id, h.child_status,
                (select count(*) from member m where m.household_id = h.household_id) as members,
                h.version
           from household h
          where ($1 is null or h.township_id = $1) and h.household_id > $2
          order by h.household_id limit $3")
        .bind(township).bind(after).bind(limit).fetch_all(p).await)?)
}

/// Replaces a household file (members matched by role) inside `tx`, checking the expected
/// version, and appends the new state to its history. The input is validated by the caller
/// (`service::register`).
pub async fn update(
    tx: &mut Tx,
    id: i64,
    expected_version: i32,
    input: &HouseholdInput,
    account_id: Option<i64>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<HouseholdRecord> {
    let v = HouseholdValues::of(input);
    on_tx!(tx, tx => {
        let n = sqlx::query(
            "update household set township_id = $1, community_id = $2, address = $3,
                hukou_in_district = $4, area = $5, child_status = $6, child_died_on = $7,
                child_disability_grade = $8, other_child_since = $9, dibao = $10, low_income = $11,
                ivf_birth_on = $12, contact_name = $13, contact_phone = $14,
                version = version + 1, updated_at = $15,
                hukou_moved_out_on = $18, other_child_on = $19, dibao_periods = $20,
                low_income_periods = $21, facts = $22, contact_role = $23, contact_group = $24
             where household_id = $16 and version = $17")
            .bind(input.township_id.trim()).bind(input.community_id.as_deref()).bind(input.address.trim())
            .bind(input.hukou_in_district).bind(input.area.as_str()).bind(v.child_status)
            .bind(v.died_on).bind(v.grade).bind(input.other_child_since).bind(input.dibao)
            .bind(input.low_income).bind(input.ivf_birth_on)
            .bind(input.contact.as_ref().map(|c| c.name.trim()))
            .bind(input.contact.as_ref().and_then(|c| c.phone.as_deref()))
            .bind(now).bind(id).bind(expected_version)
            .bind(input.hukou_moved_out_on).bind(input.other_child_on)
            .bind(&v.dibao_periods).bind(&v.low_income_periods).bind(&v.facts)
            .bind(v.contact_role).bind(&v.contact_group)
            .execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            let exists: Option<i32> = sqlx::query_scalar("select version from household where household_id = $1")
                .bind(id).fetch_optional(&mut *tx).await?;
            return Err(match exists {
                None => AppError::NotFound("household"),
                Some(v) => AppError::conflict("stale_version", format!(
                    "the file is at version {v}, not {expected_version}: reload it and apply the change again")),
            });
        }
        let roles: Vec<&str> = input.members.iter().map(|m| m.role.as_str()).collect();
        let existing: Vec<(i64, String)> = sqlx::query_as("select member_id, role from member where household_id = $1")
            .bind(id).fetch_all(&mut *tx).await?;
        for (member_id, role) in &existing {
            if !roles.contains(&role.as_str()) {
                sqlx::query("delete from member where member_id = $1").bind(member_id)
                    .execute(&mut *tx).await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(d) if d.is_foreign_key_violation() => AppError::conflict(
                            "member_in_use",
                            format!("the {role} has cards or records and cannot be removed; record a death instead")),
                        _ => AppError::from(e),
                    })?;
            }
        }
    });
    for m in &input.members {
        let idn = IdNumber::parse(&m.id_number)
            .map_err(|e| AppError::field("id_number", e.to_string()))?;
        let changed = on_tx!(tx, c => sqlx::query(
            "update member set name = $1, sex = $2, born_on = $3, id_number = $4, phone = $5,
                died_on = $6, resident_pension = $7, basic_pension_monthly_fen = $8,
                resident_medical_insurance = $9, self_care = $10, pension_since = $13,
                medical_insurance_since = $14, facts = $15
             where household_id = $11 and role = $12")
            .bind(m.name.trim()).bind(idn.sex().as_str()).bind(idn.birth_date()).bind(idn.as_str())
            .bind(m.phone.as_deref().filter(|p| !p.is_empty())).bind(m.died_on)
            .bind(m.resident_pension.is_some())
            .bind(m.resident_pension.as_ref().and_then(|p| p.basic_monthly_fen))
            .bind(m.resident_medical_insurance).bind(m.self_care.map(|s| s.as_str()))
            .bind(id).bind(m.role.as_str())
            .bind(m.resident_pension.as_ref().and_then(|p| p.since))
            .bind(m.resident_medical_insurance_since).bind(json(&m.facts))
            .execute(&mut *c).await.map_err(duplicate_id)?.rows_affected());
        if changed == 0 {
            insert_member(tx, id, m).await.map_err(duplicate_id)?;
        }
    }
    let record = fetch_in(tx, id).await?;
    log_change(tx, &record, now, account_id, reason.trim()).await?;
    Ok(record)
}

/// One period of a household's contact person: from the change that set them.
#[derive(Debug, Clone, Serialize)]
pub struct ContactPeriod {
    /// The version of the file that set them.
    pub version: i32,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The contact person and group then; none when the file had none.
    pub contact: Option<Contact>,
}

/// The contact persons a file has had, oldest first: every version whose contact differs from
/// the one before.
pub async fn contact_history(db: &Db, id: i64) -> Result<Vec<ContactPeriod>> {
    let rows: Vec<(i32, DateTime<Utc>, String, String)> = on_db!(db, p => sqlx::query_as(
        "select version, changed_at, reason, snapshot from change_log
          where entity = 'household' and entity_id = $1 order by version")
        .bind(id).fetch_all(p).await)?;
    let mut out: Vec<ContactPeriod> = Vec::new();
    for (version, changed_at, reason, snapshot) in rows {
        let record: HouseholdRecord =
            serde_json::from_str(&snapshot).map_err(|e| corrupt("history snapshot", e))?;
        if out.last().is_none_or(|p| p.contact != record.contact) {
            out.push(ContactPeriod {
                version,
                changed_at,
                reason,
                contact: record.contact,
            });
        }
    }
    Ok(out)
}

/// Every change to a file, oldest first.
pub async fn history(db: &Db, id: i64) -> Result<Vec<ChangeEntry>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select version, changed_at, account_id, reason from change_log
          where entity = 'household' and entity_id = $1 order by version")
        .bind(id).fetch_all(p).await)?)
}

/// The file as it stood at `at`: the last version recorded at or before that instant.
pub async fn as_of(db: &Db, id: i64, at: DateTime<Utc>) -> Result<Option<HouseholdRecord>> {
    let snapshot: Option<String> = on_db!(db, p => sqlx::query_scalar(
        "select snapshot from change_log
          where entity = 'household' and entity_id = $1 and changed_at <= $2
          order by version desc limit 1")
        .bind(id).bind(at).fetch_optional(p).await)?;
    snapshot
        .map(|s| serde_json::from_str(&s).map_err(|e| corrupt("history snapshot", e)))
        .transpose()
}

/// Every household file (of one township, if given) with its members, in id order.
pub async fn all_records(db: &Db, township: Option<&str>) -> Result<Vec<HouseholdRecord>> {
    let (rows, members): (Vec<HouseholdRow>, Vec<MemberRow>) = on_db!(db, p => {
        let rows = sqlx::query_as(&format!(
            "select {HOUSEHOLD_COLUMNS} from household where ($1 is null or township_id = $1) order by household_id"))
            .bind(township).fetch_all(p).await?;
        let members = sqlx::query_as(&format!(
            "select {} from member m where ($1 is null or exists (select 1 from household h
                where h.household_id = m.household_id and h.township_id = $1)) order by household_id, member_id",
            MEMBER_COLUMNS.replace("member_id, household_id", "m.member_id, m.household_id")))
            .bind(township).fetch_all(p).await?;
        (rows, members)
    });
    let mut by_household: std::collections::HashMap<i64, Vec<MemberRow>> =
        std::collections::HashMap::new();
    for m in members {
        by_household.entry(m.household_id).or_default().push(m);
    }
    rows.into_iter()
        .map(|r| {
            let ms = by_household.remove(&r.household_id).unwrap_or_default();
            assemble(r, ms)
        })
        .collect()
}

impl HouseholdRecord {
    /// The facts the rules engine reads. Member ids are the register's member ids; a fact the
    /// file does not hold stays unrecorded, so a clause needing it says `needs_data`.
    pub fn facts(&self) -> crate::rules::Household {
        use crate::rules as r;
        r::Household {
            hukou_in_district: self.hukou_in_district,
            area: match self.area {
                Area::Urban => r::Area::Urban,
                Area::Rural => r::Area::Rural,
            },
            child: match self.child {
                Child::Deceased { died_on } => r::Child::Deceased { died_on },
                Child::Disabled { disability_grade } => r::Child::Disabled { disability_grade },
                Child::Healthy => r::Child::Healthy,
            },
            hukou_moved_out_on: self.hukou_moved_out_on,
            other_child_since: self.other_child_since,
            other_child_on: self.other_child_on,
            dibao: self.dibao,
            dibao_periods: self.dibao_periods.clone(),
            low_income: self.low_income,
            low_income_periods: self.low_income_periods.clone(),
            ivf_birth_on: Some(self.ivf_birth_on),
            members: self
                .members
                .iter()
                .map(|m| r::Member {
                    id: m.member_id.to_string(),
                    role: match m.role {
                        Role::Mother => r::Role::Mother,
                        Role::Father => r::Role::Father,
                        Role::Child => r::Role::Child,
                    },
                    born_on: m.born_on,
                    resident_pension: Some(m.resident_pension.as_ref().map(|p| {
                        r::ResidentPension {
                            basic_monthly_fen: p.basic_monthly_fen,
                            since: p.since,
                        }
                    })),
                    resident_medical_insurance: m.resident_medical_insurance,
                    resident_medical_insurance_since: m.resident_medical_insurance_since,
                    died_on: m.died_on,
                    self_care: m.self_care.map(|s| match s {
                        SelfCare::Full => r::SelfCare::Full,
                        SelfCare::Partial => r::SelfCare::Partial,
                        SelfCare::None => r::SelfCare::None,
                    }),
                    economic_difficulty: m.facts.economic_difficulty.clone(),
                    extreme_poverty: m.facts.extreme_poverty.clone(),
                    civil_capacity: m.facts.civil_capacity.clone(),
                    other_guardian: m.facts.other_guardian.clone(),
                    pension_paid_this_year: None,
                    pension_tier: None,
                    contributions: m.facts.contributions.clone(),
                    severely_disabled: m.facts.severely_disabled.clone(),
                    in_school: m.facts.in_school.clone(),
                })
                .collect(),
            housing_difficulty: self.facts.housing_difficulty.clone(),
            funeral_subsidy_conditions: self.facts.funeral_subsidy_conditions.clone(),
        }
    }
}
