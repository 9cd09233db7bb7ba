//! Payments due for a month or a year: the rows of a disbursement list.

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::Serialize;

use super::entitlement::{Basis, Code, Entitlement, Evaluation, Per, Status};
use super::evaluate::{evaluate_with, Scope};
use super::household::{anniversary, Household};
use super::ruleset::RuleSet;
use super::{NoRuleSet, RuleBook};

/// A calendar month or a calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// One month.
    Month {
        /// Year.
        year: i32,
        /// Month 1–12.
        month: u32,
    },
    /// A calendar year (the twelve months).
    Year(i32),
}

/// One payment due (or blocked for want of a fact) to a member or the household.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Due {
    /// The money code.
    pub code: Code,
    /// Member id, or `None` for the household.
    pub member: Option<String>,
    /// The first day of the month it falls due.
    pub month: NaiveDate,
    /// Amount in fen; `None` when a fact is missing (see `missing`): never guessed.
    pub amount_fen: Option<i64>,
    /// The period the amount covers.
    pub per: Per,
    /// Granted, or needs data.
    pub status: Status,
    /// The facts (JSON paths) the register must supply before paying.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// For `once` and `year` payments: a key, unique within the household, that the
    /// caller records when paying so a re-run never pays twice (qualify it with the
    /// household id). `bereavement_relief` / `ivf_subsidy` (once per household ever),
    /// `<code>:<year>:<member>` for yearly amounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub once_key: Option<String>,
    /// The rule set applied.
    pub rule_set: String,
    /// Why.
    pub basis: Basis,
}

/// Every payment due to `household` in `period`.
///
/// - Monthly amounts: due for a month iff the condition holds on its first day.
/// - Yearly amounts: due in the first month of the calendar year whose first day meets
///   the condition (January normally; February 2019, the first month in force; the
///   month after a gate is crossed mid-year).
/// - One-time amounts: due in the month of the event (death, IVF birth), i.e. granted
///   on the month's last day and not on the previous month's last day.
///
/// A month with no rule set in force (on its first or its last day) is an error; for a
/// year, months without a rule set are skipped and only a year with none is an error.
pub fn payments(
    book: &RuleBook,
    household: &Household,
    period: Period,
) -> Result<Vec<Due>, NoRuleSet> {
    match period {
        Period::Month { year, month } => month_dues(book, household, year, month),
        Period::Year(year) => {
            let mut all = Vec::new();
            let mut first_err = None;
            for month in 1..=12 {
                match month_dues(book, household, year, month) {
                    Ok(mut d) => all.append(&mut d),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            match first_err {
                Some(e) if all.is_empty() && !any_in_force(book, year) => Err(e),
                _ => Ok(all),
            }
        }
    }
}

fn any_in_force(book: &RuleBook, year: i32) -> bool {
    book.sets()
        .iter()
        .any(|s| s.from.year() <= year && year <= s.until.year())
}

fn month_dues(
    book: &RuleBook,
    hh: &Household,
    year: i32,
    month: u32,
) -> Result<Vec<Due>, NoRuleSet> {
    let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
        // An impossible month has no rule set; say so rather than panic.
        return Err(NoRuleSet {
            date: NaiveDate::MIN,
            windows: book.windows(),
        });
    };
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.checked_sub_days(Days::new(1)))
        .unwrap_or(first);
    let at_first = book.in_force(first);
    let at_last = book.in_force(last);
    if let (Err(e), Err(_)) = (&at_first, &at_last) {
        return Err(e.clone());
    }
    let mut dues = Vec::new();
    if let Ok(set) = at_first {
        let mut ev = evaluate_with(set, hh, first, Scope::Money);
        let rule_set = ev.rule_set.clone();
        let mut earlier: Option<Option<Earlier>> = None;
        for e in std::mem::take(&mut ev.entitlements) {
            match e.per {
                Some(Per::Month) => dues.push(due(e, first, &rule_set, None)),
                Some(Per::Year) => {
                    // Due only the first month of the year the condition holds.
                    let prev = earlier.get_or_insert_with(|| {
                        if month == 1 {
                            return Some(Earlier::None);
                        }
                        let p = first.checked_sub_months(Months::new(1))?;
                        let s = book.in_force(p).ok()?;
                        if !may_differ(set, s, hh, p, first) {
                            return Some(Earlier::Same);
                        }
                        Some(Earlier::Ev(evaluate_with(s, hh, p, Scope::Money)))
                    });
                    let already = match prev {
                        Some(Earlier::Same) => true,
                        Some(Earlier::Ev(ev)) => listed(Some(ev), &e),
                        Some(Earlier::None) | None => false,
                    };
                    if !already {
                        let key = format!(
                            "{}:{year}:{}",
                            e.code.as_str(),
                            e.member.as_deref().unwrap_or("household")
                        );
                        dues.push(due(e, first, &rule_set, Some(key)));
                    }
                }
                _ => {}
            }
        }
    }
    if let Ok(set) = at_last {
        if once_possible(hh, last) {
            let ev = evaluate_with(set, hh, last, Scope::Money);
            let rule_set = ev.rule_set.clone();
            let before = first.checked_sub_days(Days::new(1)).and_then(|p| {
                let s = book.in_force(p).ok()?;
                Some(evaluate_with(s, hh, p, Scope::Money))
            });
            for e in ev
                .entitlements
                .into_iter()
                .filter(|e| e.per == Some(Per::Once))
            {
                if !listed(before.as_ref(), &e) {
                    let key = once_key(&e);
                    dues.push(due(e, first, &rule_set, Some(key)));
                }
            }
        }
    }
    Ok(dues)
}

/// A one-time payment's key: the code and who it is for (the household, or a member). Both
/// one-time codes pay for an event a household has once (its only child's death; the rebirth
/// subsidy of 二(八)1 is 一次性), so the event's date is deliberately not part of the key: a
/// corrected date on file must not pay the same event again.
fn once_key(e: &Entitlement) -> String {
    format!(
        "{}:{}",
        e.code.as_str(),
        e.member.as_deref().unwrap_or("household")
    )
}

/// The previous month's listing, for yearly codes.
enum Earlier {
    /// January: a new year, nothing earlier counts.
    None,
    /// Nothing that depends on the date changed: the same codes were listed.
    Same,
    /// Re-evaluated.
    Ev(Evaluation),
}

/// Whether an evaluation on `prev` could list different codes than one on `first`.
/// Only dates make them differ (the household facts are the same snapshot): another
/// rule set, a parameter change, a death, a birth, an age gate, or a dated fact that starts or
/// ends (another child, hukou moved out, 低保 or low income) in `(prev, first]`.
/// Skipping the re-evaluation otherwise keeps a month's list for 100k households fast.
fn may_differ(
    set: &RuleSet,
    prev_set: &RuleSet,
    hh: &Household,
    prev: NaiveDate,
    first: NaiveDate,
) -> bool {
    let within = |d: Option<NaiveDate>| d.is_some_and(|d| prev < d && d <= first);
    if !std::ptr::eq(set, prev_set) || set.changes_between(prev, first) {
        return true;
    }
    if within(hh.child_died_on()) {
        return true;
    }
    if within(hh.ivf_birth_on.flatten()) || hh.fact_changes().any(|d| within(Some(d))) {
        return true;
    }
    let woman = set.params.woman_min_age.at(first).value;
    let elderly = set.params.elderly_min_age.at(first).value;
    hh.members.iter().any(|m| {
        within(m.died_on)
            || within(anniversary(m.born_on, woman))
            || within(anniversary(m.born_on, elderly))
    })
}

/// Cheap pre-check so most households skip the extra evaluations for one-time codes.
fn once_possible(hh: &Household, last: NaiveDate) -> bool {
    match hh.child_died_on() {
        Some(died_on) => {
            died_on.year() == last.year()
                || died_on.year() + 1 == last.year()
                || hh.ivf_birth_on != Some(None)
        }
        None => false,
    }
}

fn listed(ev: Option<&Evaluation>, e: &Entitlement) -> bool {
    ev.is_some_and(|ev| {
        ev.entitlements
            .iter()
            .any(|x| x.code == e.code && x.member == e.member)
    })
}

fn due(e: Entitlement, month: NaiveDate, rule_set: &str, once_key: Option<String>) -> Due {
    Due {
        code: e.code,
        member: e.member,
        month,
        amount_fen: e.amount_fen,
        per: e.per.unwrap_or(Per::Once),
        status: e.status,
        missing: e.missing,
        once_key,
        rule_set: rule_set.to_string(),
        basis: e.basis,
    }
}
