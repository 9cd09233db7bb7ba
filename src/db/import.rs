//! CSV import and export of household files: all-or-nothing, with every bad row named.

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::households::{self, HouseholdRecord};
use super::{places, Db};
use crate::error::Result;
use crate::on_db;
use crate::register::csv_io::{self, Encoding, Places, RowError, COLUMNS};
use crate::register::{Child, IdNumber, Role};

/// What an import did, or would do on a dry run.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Households in the file.
    pub households: usize,
    /// Members in the file.
    pub members: usize,
    /// Every problem; when not empty, nothing was written.
    pub errors: Vec<RowError>,
    /// The households created, in the file's order (empty on a dry run).
    pub household_ids: Vec<i64>,
}

/// The places the office knows, keyed by code and by name, for resolving what staff typed.
pub async fn known_places(db: &Db) -> Result<Places> {
    let mut p = Places::default();
    for t in places::townships(db).await? {
        p.townships.insert(t.name.clone(), t.township_id.clone());
        p.townships.insert(t.township_id.clone(), t.township_id);
    }
    for c in places::communities(db).await? {
        p.communities.insert(
            (c.township_id.clone(), c.name.clone()),
            c.community_id.clone(),
        );
        p.communities
            .insert((c.township_id, c.community_id.clone()), c.community_id);
    }
    Ok(p)
}

/// Reads, checks and (unless `dry_run`, and only if every row is good) stores a file of
/// households in one transaction. `scope` limits the file to one township.
#[allow(clippy::too_many_arguments)]
pub async fn import_households(
    db: &Db,
    bytes: &[u8],
    encoding: Encoding,
    dry_run: bool,
    scope: Option<&str>,
    account_id: Option<i64>,
    source: &str,
    today: NaiveDate,
) -> Result<ImportReport> {
    // Decoding and parsing a large file is seconds of CPU: on the blocking pool, so desks'
    // scans keep their latency while a township uploads.
    let owned = bytes.to_vec();
    let decoded = tokio::task::spawn_blocking(move || csv_io::decode(&owned, encoding))
        .await
        .map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!("decoding stopped: {e}")))?;
    let text = match decoded {
        Ok(t) => t,
        Err(e) => {
            return Ok(ImportReport {
                dry_run,
                households: 0,
                members: 0,
                errors: vec![e],
                household_ids: Vec::new(),
            })
        }
    };
    let places = known_places(db).await?;
    let (rows, mut errors) =
        tokio::task::spawn_blocking(move || csv_io::parse_households(&text, &places, today))
            .await
            .map_err(|e| {
                crate::error::AppError::Internal(anyhow::anyhow!("parsing stopped: {e}"))
            })?;
    // ID numbers already on file.
    let stored: HashSet<String> =
        on_db!(db, p => sqlx::query_scalar::<_, String>("select id_number from member")
        .fetch_all(p).await)?
        .into_iter()
        .collect();
    for row in &rows {
        if scope.is_some_and(|t| t != row.household.township_id) {
            errors.push(RowError {
                line: row.line,
                field: "township".into(),
                reason: "只能导入本镇街的档案 / you may import files of your own township only"
                    .into(),
            });
        }
        for m in &row.household.members {
            if IdNumber::parse(&m.id_number).is_ok_and(|id| stored.contains(id.as_str())) {
                errors.push(RowError {
                    line: row.line,
                    field: format!("{}_id_number", m.role),
                    reason: "该身份证号码已在档案中 / this ID number is already registered".into(),
                });
            }
        }
    }
    let households = rows.len();
    let members = rows.iter().map(|r| r.household.members.len()).sum();
    if !errors.is_empty() || dry_run {
        return Ok(ImportReport {
            dry_run: true,
            households,
            members,
            errors: errors.into_report(),
            household_ids: Vec::new(),
        });
    }
    let now = Utc::now();
    let reason = format!("导入 / imported from {source}");
    let mut tx = db.begin().await?;
    let mut household_ids = Vec::with_capacity(rows.len());
    for row in &rows {
        household_ids
            .push(households::insert(&mut tx, &row.household, now, account_id, &reason).await?);
    }
    tx.commit().await?;
    Ok(ImportReport {
        dry_run: false,
        households,
        members,
        errors: Vec::new(),
        household_ids,
    })
}

/// Writes household files as CSV in the import format (Chinese headers, UTF-8 with a BOM so that
/// Excel opens it correctly). ID numbers and phones are masked unless `full`.
pub fn export_csv(records: &[HouseholdRecord], places: &Places, full: bool) -> Result<Vec<u8>> {
    let name_of = |code: &str| {
        places
            .townships
            .iter()
            .find(|(k, v)| *v == code && *k != code)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(COLUMNS.iter().map(|(_, zh, _)| *zh))
            .map_err(anyhow::Error::from)?;
        for r in records {
            let r = if full { r.clone() } else { r.clone().masked() };
            let yes = |b: bool| if b { "是" } else { "否" }.to_owned();
            let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
            let mut row: Vec<String> = vec![
                name_of(&r.township_id),
                r.community_id.clone().unwrap_or_default(),
                r.address.clone(),
                yes(r.hukou_in_district),
                date(r.hukou_moved_out_on),
                if r.area == crate::register::Area::Urban {
                    "城镇"
                } else {
                    "农村"
                }
                .into(),
            ];
            match &r.child {
                Child::Deceased { died_on } => {
                    row.extend(["死亡".into(), died_on.to_string(), String::new()])
                }
                Child::Disabled { disability_grade } => {
                    row.extend(["伤残".into(), String::new(), disability_grade.to_string()])
                }
                Child::Healthy => row.extend(["健康".into(), String::new(), String::new()]),
            }
            row.extend([
                yes(r.other_child_since),
                date(r.other_child_on),
                yes(r.dibao),
                csv_io::format_periods(&r.dibao_periods),
                yes(r.low_income),
                csv_io::format_periods(&r.low_income_periods),
                r.ivf_birth_on.map(|d| d.to_string()).unwrap_or_default(),
                r.contact
                    .as_ref()
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                r.contact
                    .as_ref()
                    .and_then(|c| c.phone.clone())
                    .unwrap_or_default(),
                r.contact
                    .as_ref()
                    .and_then(|c| c.role)
                    .map(|r| r.zh().to_owned())
                    .unwrap_or_default(),
                r.contact
                    .as_ref()
                    .map(|c| csv_io::format_group(&c.group))
                    .unwrap_or_default(),
                csv_io::format_timeline(&r.facts.housing_difficulty, csv_io::format_flag),
                csv_io::format_timeline(&r.facts.funeral_subsidy_conditions, csv_io::format_flag),
            ]);
            for role in [Role::Mother, Role::Father] {
                match r.members.iter().find(|m| m.role == role) {
                    Some(m) => row.extend([
                        m.name.clone(),
                        m.id_number.clone(),
                        m.phone.clone().unwrap_or_default(),
                        m.died_on.map(|d| d.to_string()).unwrap_or_default(),
                        yes(m.resident_pension.is_some()),
                        m.resident_pension
                            .as_ref()
                            .and_then(|p| p.basic_monthly_fen)
                            .map(csv_io::format_yuan)
                            .unwrap_or_default(),
                        yes(m.resident_medical_insurance),
                        match m.self_care {
                            Some(crate::register::SelfCare::Full) => "完全自理",
                            Some(crate::register::SelfCare::Partial) => "部分自理",
                            Some(crate::register::SelfCare::None) => "不能自理",
                            None => "",
                        }
                        .into(),
                        date(m.resident_pension.as_ref().and_then(|p| p.since)),
                        date(m.resident_medical_insurance_since),
                        csv_io::format_timeline(&m.facts.extreme_poverty, csv_io::format_flag),
                        csv_io::format_timeline(&m.facts.economic_difficulty, csv_io::format_flag),
                        csv_io::format_timeline(&m.facts.civil_capacity, csv_io::format_capacity),
                        csv_io::format_timeline(&m.facts.other_guardian, csv_io::format_flag),
                        csv_io::format_timeline(&m.facts.severely_disabled, csv_io::format_flag),
                        csv_io::format_contributions(&m.facts.contributions),
                    ]),
                    // As many empty cells as the file has columns for one parent.
                    None => row.extend(std::iter::repeat_n(
                        String::new(),
                        COLUMNS
                            .iter()
                            .filter(|(en, _, _)| en.starts_with("mother_"))
                            .count(),
                    )),
                }
            }
            // Every cell is text someone typed, a date, 是/否 or an amount that is never negative:
            // all of them are made safe from formula injection, and import back unchanged.
            w.write_record(row.iter().map(|c| csv_io::to_spreadsheet(c).into_owned()))
                .map_err(anyhow::Error::from)?;
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok(out)
}
