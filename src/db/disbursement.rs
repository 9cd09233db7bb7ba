//! Disbursement lists (发放名册): every payment due in a month, by household and member, with
//! totals per township and for the district. An approved list is frozen with the rule documents
//! and the household facts it used; later corrections to the register or the rules never rewrite
//! it but yield correction rows (arrears or overpayment) in the next list.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::households::{all_records, HouseholdRecord};
use super::{rules, Db};
use crate::error::{AppError, Result};
use crate::on_db;
use crate::rules::{payments, Per, Period, RuleBook, Status};

/// One line of a list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ListRow {
    /// The household.
    pub household_id: i64,
    /// The member, or none for a household payment.
    pub member_id: Option<i64>,
    /// The member's name (office lists only).
    pub member_name: Option<String>,
    /// The household's township.
    pub township_id: String,
    /// The entitlement code.
    pub code: String,
    /// The month the amount is for (`YYYY-MM`); earlier than the list's month for corrections.
    pub for_month: String,
    /// `due`, `correction` (arrears if positive, overpayment if negative) or `needs_data`.
    pub kind: String,
    /// Amount in fen; none when data is missing.
    pub amount_fen: Option<i64>,
    /// The facts the register must supply (for `needs_data`).
    pub missing: Option<String>,
    /// The rule set applied.
    pub rule_set: String,
    /// Its clause.
    pub clause: String,
    /// What a one-time due row pays (household × entitlement × member), from the engine.
    #[serde(skip)]
    #[sqlx(default)]
    pub once_key: Option<String>,
}

/// A list with its totals: its [`Header`] (whose fields it shows at the top level of its JSON
/// and reaches through `Deref`), the totals per township and the rows.
#[derive(Debug, Clone, Serialize)]
pub struct Disbursement {
    /// Id, period, status, when made and approved, the sum of every amount.
    #[serde(flatten)]
    pub header: Header,
    /// Per township: per code and in all, fen.
    pub townships: BTreeMap<String, TownshipTotal>,
    /// Rows that could not be priced for want of data.
    pub needs_data: usize,
    /// The rows.
    pub rows: Vec<ListRow>,
}

impl std::ops::Deref for Disbursement {
    type Target = Header;
    fn deref(&self) -> &Header {
        &self.header
    }
}

/// One township's totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TownshipTotal {
    /// By code, fen.
    pub by_code: BTreeMap<String, i64>,
    /// In all, fen.
    pub total_fen: i64,
}

/// A list without its rows, as the office's list of lists shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Header {
    /// Its id.
    pub disbursement_id: i64,
    /// `YYYY-MM`, or `YYYY` for a year's overview.
    pub period: String,
    /// `draft` or `approved`.
    pub status: String,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// In all, fen.
    pub total_fen: i64,
}

/// Every list made, newest period first (a draft remade replaces the earlier draft).
pub async fn list(db: &Db) -> Result<Vec<Header>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select disbursement_id, period, status, created_at, approved_at, total_fen from disbursement
          order by period desc, disbursement_id desc")
        .fetch_all(p).await)?)
}

/// Parses `YYYY-MM`.
pub fn parse_month(s: &str) -> Result<(i32, u32)> {
    let bad = || {
        AppError::bad_request(
            "bad_period",
            format!("period '{s}' is not a month like 2020-06"),
        )
    };
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if y.to_string().len() != 4 || !(1..=12).contains(&m) || s.len() != 7 {
        return Err(bad());
    }
    Ok((y, m))
}

fn month_text(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// The rows a household's facts give for one month: dues (minus one-time payments already made)
/// and rows that need data.
fn rows_for(
    book: &RuleBook,
    h: &HouseholdRecord,
    period: Period,
    paid_once: &HashSet<(i64, String)>,
) -> Result<Vec<ListRow>> {
    let dues = payments(book, &h.facts(), period)
        .map_err(|e| AppError::bad_request("no_rule_set", e.to_string()))?;
    let mut rows = Vec::new();
    let paid = |k: &str| {
        paid_once.contains(&(h.household_id, k.to_owned()))
            // Lists approved before keys named the event recorded the code alone.
            || k.split_once(':').is_some_and(|(code, _)| paid_once.contains(&(h.household_id, code.to_owned())))
    };
    for d in dues {
        if d.once_key.as_deref().is_some_and(paid) {
            continue;
        }
        let (kind, amount) = match d.status {
            Status::Granted => ("due", d.amount_fen),
            Status::NeedsData => ("needs_data", None),
            Status::NotApplicable => continue,
        };
        rows.push(ListRow {
            household_id: h.household_id,
            member_id: d.member.as_deref().and_then(|m| m.parse().ok()),
            member_name: None,
            township_id: h.township_id.clone(),
            code: d.code.as_str().to_owned(),
            for_month: month_text(d.month),
            kind: kind.to_owned(),
            amount_fen: amount,
            missing: (!d.missing.is_empty()).then(|| d.missing.join(", ")),
            rule_set: d.rule_set.clone(),
            clause: d.basis.clause.to_owned(),
            // Only one-time payments are recorded as paid: a yearly amount paid in a month later
            // corrected is settled by the correction rows, not by its key.
            once_key: (kind == "due" && d.per == Per::Once)
                .then(|| d.once_key.clone())
                .flatten(),
        });
    }
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct PaidRow {
    household_id: i64,
    member_id: Option<i64>,
    code: String,
    for_month: String,
    amount_fen: Option<i64>,
    once_key: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Approved {
    period: String,
    approved_at: DateTime<Utc>,
}

/// Parses a list's period: a month `YYYY-MM` or a year `YYYY`.
pub fn parse_period(s: &str) -> Result<Period> {
    if s.len() == 4 {
        return s
            .parse()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .map(Period::Year)
            .ok_or_else(|| {
                AppError::bad_request(
                    "bad_period",
                    format!("period '{s}' is not a month like 2020-06 or a year like 2020"),
                )
            });
    }
    parse_month(s).map(|(year, month)| Period::Month { year, month })
}

/// Makes (or remakes) the draft list of a month from the register and rules as they are now, or
/// a year's overview (the twelve months' dues, without corrections; approved month by month).
pub async fn generate(
    db: &Db,
    book: std::sync::Arc<RuleBook>,
    period: &str,
    account_id: Option<i64>,
) -> Result<Disbursement> {
    let parsed = parse_period(period)?;
    let approved: Vec<Approved> = on_db!(db, p => sqlx::query_as(
        "select period, approved_at from disbursement where status = 'approved' and length(period) = 7 order by period")
        .fetch_all(p).await)?;
    if approved.iter().any(|a| a.period == period) {
        return Err(AppError::conflict("already_approved", format!("the list of {period} is approved and frozen; corrections go into a later month's list")));
    }
    let paid: Vec<PaidRow> = on_db!(db, p => sqlx::query_as(
        "select r.household_id, r.member_id, r.code, r.for_month, r.amount_fen, r.once_key
           from disbursement_row r join disbursement d on d.disbursement_id = r.disbursement_id
          where d.status = 'approved' and r.kind in ('due', 'correction')")
        .fetch_all(p).await)?;
    let paid_once: HashSet<(i64, String)> = paid
        .iter()
        .filter_map(|r| r.once_key.clone().map(|k| (r.household_id, k)))
        .collect();
    let records = std::sync::Arc::new(all_records(db, None).await?);
    // Evaluating the whole register is CPU work: on the blocking pool, not the desks' workers.
    let (book2, records2) = (book.clone(), records.clone());
    let mut rows = tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        for h in records2.iter() {
            rows.extend(rows_for(&book2, h, parsed, &paid_once)?);
        }
        Ok::<_, AppError>(rows)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("evaluation stopped: {e}")))??;
    if let Period::Month { .. } = parsed {
        rows.extend(corrections(db, &book, &records, &approved, &paid, period).await?);
    }
    store(db, period, &records, rows, account_id).await
}

/// Correction rows for earlier approved months whose households (or rules) changed since.
async fn corrections(
    db: &Db,
    book: &RuleBook,
    records: &[HouseholdRecord],
    approved: &[Approved],
    paid: &[PaidRow],
    period: &str,
) -> Result<Vec<ListRow>> {
    let mut out = Vec::new();
    let mut paid_by: HashMap<(i64, Option<i64>, &str, &str), i64> = HashMap::new();
    for r in paid {
        *paid_by
            .entry((
                r.household_id,
                r.member_id,
                r.code.as_str(),
                r.for_month.as_str(),
            ))
            .or_default() += r.amount_fen.unwrap_or(0);
    }
    let by_id: HashMap<i64, &HouseholdRecord> =
        records.iter().map(|r| (r.household_id, r)).collect();
    for a in approved.iter().filter(|a| a.period.as_str() < period) {
        let rules_changed: i64 = on_db!(db, p => sqlx::query_scalar("select count(*) from rule_document where loaded_at > $1")
            .bind(a.approved_at).fetch_one(p).await)?;
        let changed: Vec<i64> = if rules_changed > 0 {
            records.iter().map(|r| r.household_id).collect()
        } else {
            on_db!(db, p => sqlx::query_scalar(
                "select distinct entity_id from change_log where entity = 'household' and changed_at > $1")
                .bind(a.approved_at).fetch_all(p).await)?
        };
        let (year, month) = parse_month(&a.period)?;
        for id in changed {
            let Some(h) = by_id.get(&id) else { continue };
            // What should have been paid for that month, whatever was paid once since.
            let expected = rows_for(book, h, Period::Month { year, month }, &HashSet::new())?;
            let mut want: BTreeMap<(Option<i64>, String), (i64, ListRow)> = BTreeMap::new();
            for r in expected
                .into_iter()
                .filter(|r| r.kind == "due" && r.for_month == a.period)
            {
                let e = want
                    .entry((r.member_id, r.code.clone()))
                    .or_insert((0, r.clone()));
                e.0 += r.amount_fen.unwrap_or(0);
            }
            // Every (member, code) paid for that month, even if no longer due.
            let mut keys: Vec<(Option<i64>, String)> = want.keys().cloned().collect();
            for r in paid
                .iter()
                .filter(|r| r.household_id == id && r.for_month == a.period)
            {
                keys.push((r.member_id, r.code.clone()));
            }
            keys.sort();
            keys.dedup();
            for (member, code) in keys {
                let had = paid_by
                    .get(&(id, member, code.as_str(), a.period.as_str()))
                    .copied()
                    .unwrap_or(0);
                let (should, template) = match want.get(&(member, code.clone())) {
                    Some((amount, row)) => (*amount, Some(row)),
                    None => (0, None),
                };
                if should != had {
                    out.push(ListRow {
                        household_id: id,
                        member_id: member,
                        member_name: None,
                        township_id: h.township_id.clone(),
                        code: code.clone(),
                        for_month: a.period.clone(),
                        kind: "correction".into(),
                        amount_fen: Some(should - had),
                        missing: None,
                        rule_set: template.map_or_else(|| "—".into(), |t| t.rule_set.clone()),
                        clause: template.map_or_else(|| "—".into(), |t| t.clause.clone()),
                        once_key: None,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Replaces the month's draft with a new one, in one transaction.
async fn store(
    db: &Db,
    period: &str,
    records: &[HouseholdRecord],
    rows: Vec<ListRow>,
    account_id: Option<i64>,
) -> Result<Disbursement> {
    let now = Utc::now();
    let total: i64 = rows.iter().filter_map(|r| r.amount_fen).sum();
    // The rule documents in force, frozen with the list: the parameter values it used.
    let documents = serde_json::to_string(&rules::texts(db).await?).map_err(anyhow::Error::from)?;
    let in_list: HashSet<i64> = rows.iter().map(|r| r.household_id).collect();
    let facts: Vec<(i64, i32, String)> = records
        .iter()
        .filter(|r| in_list.contains(&r.household_id))
        .map(|r| {
            Ok((
                r.household_id,
                r.version,
                serde_json::to_string(&r.facts()).map_err(anyhow::Error::from)?,
            ))
        })
        .collect::<Result<_>>()?;
    let id: i64 = on_db!(db, p => {
        let mut tx = p.begin().await?;
        sqlx::query("delete from disbursement where period = $1 and status = 'draft'").bind(period).execute(&mut *tx).await?;
        let id: i64 = sqlx::query_scalar(
            "insert into disbursement (period, status, rule_sets, created_at, created_by, total_fen)
             values ($1, 'draft', $2, $3, $4, $5) returning disbursement_id")
            .bind(period).bind(&documents).bind(now).bind(account_id).bind(total).fetch_one(&mut *tx).await?;
        for chunk in facts.chunks(500) {
            let mut q = sqlx::QueryBuilder::new("insert into disbursement_household (disbursement_id, household_id, household_version, facts) ");
            q.push_values(chunk, |mut b, (h, v, f)| { b.push_bind(id).push_bind(*h).push_bind(*v).push_bind(f.as_str()); });
            q.build().execute(&mut *tx).await?;
        }
        for chunk in rows.chunks(500) {
            let mut q = sqlx::QueryBuilder::new("insert into disbursement_row (disbursement_id, household_id, member_id, township_id, code, for_month, kind, amount_fen, once_key, missing, rule_set, clause) ");
            q.push_values(chunk, |mut b, r| {
                b.push_bind(id).push_bind(r.household_id).push_bind(r.member_id).push_bind(r.township_id.as_str())
                    .push_bind(r.code.as_str()).push_bind(r.for_month.as_str()).push_bind(r.kind.as_str()).push_bind(r.amount_fen)
                    .push_bind(r.once_key.as_deref()).push_bind(r.missing.as_deref()).push_bind(r.rule_set.as_str()).push_bind(r.clause.as_str());
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        id
    });
    // The list as stored, without reading 100,000s of rows back: names come from the records,
    // and the order is the one `get` reads in.
    let names: HashMap<i64, &str> = records
        .iter()
        .flat_map(|h| h.members.iter().map(|m| (m.member_id, m.name.as_str())))
        .collect();
    let mut rows = rows;
    for r in &mut rows {
        r.member_name = r
            .member_id
            .and_then(|m| names.get(&m))
            .map(|n| (*n).to_owned());
    }
    let header = Header {
        disbursement_id: id,
        period: period.to_owned(),
        status: "draft".into(),
        created_at: now,
        approved_at: None,
        total_fen: total,
    };
    Ok(assemble(header, rows))
}

/// Approves a draft month list: from now on it is frozen. A year's overview is not approved: the
/// months are paid (and frozen) one by one.
pub async fn approve(db: &Db, id: i64, account_id: Option<i64>) -> Result<Disbursement> {
    let period: String = on_db!(db, p => sqlx::query_scalar("select period from disbursement where disbursement_id = $1")
        .bind(id).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("disbursement list"))?;
    if period.len() == 4 {
        return Err(AppError::conflict(
            "year_overview",
            format!("the list of {period} is a year's overview; approve the month lists"),
        ));
    }
    let n = on_db!(db, p => sqlx::query(
        "update disbursement set status = 'approved', approved_at = $2, approved_by = $3
          where disbursement_id = $1 and status = 'draft'")
        .bind(id).bind(Utc::now()).bind(account_id).execute(p).await.map(|r| r.rows_affected()))
    .map_err(|e| {
        if crate::error::is_unique_violation(&e) {
            AppError::conflict(
                "already_approved",
                "another list of that month is already approved",
            )
        } else {
            e.into()
        }
    })?;
    if n == 0 {
        let d = get(db, id).await?;
        return Err(AppError::conflict(
            "already_approved",
            format!(
                "list {} of {} is already approved",
                d.disbursement_id, d.period
            ),
        ));
    }
    get(db, id).await
}

/// A list with its rows and totals.
pub async fn get(db: &Db, id: i64) -> Result<Disbursement> {
    let header: Header = on_db!(db, p => sqlx::query_as(
        "select disbursement_id, period, status, created_at, approved_at, total_fen from disbursement where disbursement_id = $1")
        .bind(id).fetch_optional(p).await)?
        .ok_or(AppError::NotFound("disbursement list"))?;
    let rows: Vec<ListRow> = on_db!(db, p => sqlx::query_as(
        "select r.household_id, r.member_id, m.name as member_name, r.township_id, r.code, r.for_month, r.kind,
                r.amount_fen, r.missing, r.rule_set, r.clause
           from disbursement_row r left join member m on m.member_id = r.member_id
          where r.disbursement_id = $1")
        .bind(id).fetch_all(p).await)?;
    Ok(assemble(header, rows))
}

/// A list from its header and rows, with the totals computed from the rows. Rows are ordered
/// here rather than in SQL so that both databases (whose collations differ) give one order.
fn assemble(header: Header, mut rows: Vec<ListRow>) -> Disbursement {
    rows.sort_by(|a, b| {
        (
            &a.township_id,
            a.household_id,
            a.member_id,
            &a.code,
            &a.for_month,
            &a.kind,
        )
            .cmp(&(
                &b.township_id,
                b.household_id,
                b.member_id,
                &b.code,
                &b.for_month,
                &b.kind,
            ))
    });
    let mut townships: BTreeMap<String, TownshipTotal> = BTreeMap::new();
    let mut needs_data = 0;
    for r in &rows {
        let t = townships.entry(r.township_id.clone()).or_default();
        match r.amount_fen {
            Some(a) => {
                *t.by_code.entry(r.code.clone()).or_default() += a;
                t.total_fen += a;
            }
            None => needs_data += 1,
        }
    }
    Disbursement {
        header,
        townships,
        needs_data,
        rows,
    }
}

/// The list as CSV: one line per row, then one total line per township and one for the district.
pub fn to_csv(d: &Disbursement) -> Result<Vec<u8>> {
    use crate::register::csv_io::to_spreadsheet;
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let e = |e: csv::Error| AppError::Internal(e.into());
        w.write_record([
            "period",
            "township_id",
            "household_id",
            "member_id",
            "member_name",
            "code",
            "for_month",
            "kind",
            "amount_fen",
            "amount_yuan",
            "missing",
            "rule_set",
            "clause",
        ])
        .map_err(e)?;
        // Text cells are made safe from formula injection; amounts (which may be negative, for
        // a correction) are numbers and stay as they are.
        let text = |t: &str| to_spreadsheet(t).into_owned();
        for r in &d.rows {
            w.write_record([
                text(&d.period),
                text(&r.township_id),
                r.household_id.to_string(),
                r.member_id.map(|m| m.to_string()).unwrap_or_default(),
                text(r.member_name.as_deref().unwrap_or_default()),
                text(&r.code),
                text(&r.for_month),
                text(&r.kind),
                r.amount_fen.map(|a| a.to_string()).unwrap_or_default(),
                r.amount_fen
                    .map(crate::register::csv_io::format_yuan)
                    .unwrap_or_default(),
                text(r.missing.as_deref().unwrap_or_default()),
                text(&r.rule_set),
                text(&r.clause),
            ])
            .map_err(e)?;
        }
        for (t, total) in &d.townships {
            w.write_record([
                d.period.as_str(),
                &text(t),
                "",
                "",
                "",
                "TOTAL",
                "",
                "township_total",
                &total.total_fen.to_string(),
                &crate::register::csv_io::format_yuan(total.total_fen),
                "",
                "",
                "",
            ])
            .map_err(e)?;
        }
        w.write_record([
            d.period.as_str(),
            "",
            "",
            "",
            "",
            "TOTAL",
            "",
            "district_total",
            &d.total_fen.to_string(),
            &crate::register::csv_io::format_yuan(d.total_fen),
            "",
            "",
            "",
        ])
        .map_err(e)?;
        w.flush().map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(out)
}
