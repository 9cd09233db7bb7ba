//! Runs the rule cases in `tests/rules/cases/*.toml` (see the README there) and
//! reports every failing case by file name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use greenchannel::rules::{
    evaluate, parse_household, payments, Code, Due, Entitlement, FamilyKind, Per, Period, RuleBook,
    Status,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[allow(dead_code)] // for the reader of the file
    description: String,
    on: NaiveDate,
    household: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    payments: Vec<PaymentCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    eligible: Option<bool>,
    /// "bereaved", "disabled" or "none".
    family_kind: Option<String>,
    #[serde(default)]
    entitlements: Vec<ExpEnt>,
    #[serde(default)]
    absent: Vec<Code>,
    #[serde(default)]
    not_applicable: Vec<ExpNa>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ExpEnt {
    code: Code,
    member: Option<String>,
    amount_fen: Option<i64>,
    per: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpNa {
    code: Code,
    member: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentCase {
    /// "YYYY-MM" or "YYYY".
    period: String,
    #[serde(default)]
    expect: Vec<ExpDue>,
    #[serde(default)]
    absent: Vec<Code>,
    total_fen: Option<i64>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ExpDue {
    code: Code,
    member: Option<String>,
    amount_fen: Option<i64>,
    /// "YYYY-MM": the month it falls due (for yearly periods).
    month: Option<String>,
}

fn per_str(p: Option<Per>) -> Option<String> {
    p.map(|p| format!("{p:?}").to_lowercase())
}

fn status_str(s: Status) -> String {
    match s {
        Status::Granted => "granted",
        Status::NeedsData => "needs_data",
        Status::NotApplicable => "not_applicable",
    }
    .to_string()
}

fn actual(e: &Entitlement) -> ExpEnt {
    ExpEnt {
        code: e.code,
        member: e.member.clone(),
        amount_fen: e.amount_fen,
        per: per_str(e.per),
        status: Some(status_str(e.status)),
    }
}

fn actual_due(d: &Due) -> ExpDue {
    ExpDue {
        code: d.code,
        member: d.member.clone(),
        amount_fen: d.amount_fen,
        month: Some(d.month.format("%Y-%m").to_string()),
    }
}

/// Runs one case; returns its failures.
fn run(book: &RuleBook, case: &Case) -> Vec<String> {
    let mut fails = Vec::new();
    let hh = match parse_household(&case.household) {
        Ok(h) => h,
        Err(e) => return vec![format!("household does not parse: {e}")],
    };
    match (evaluate(book, &hh, case.on), case.error.as_deref()) {
        (Err(e), Some("no_rule_set")) => {
            if e.date != case.on || !e.to_string().contains(&case.on.to_string()) {
                fails.push(format!("error does not name the date: {e}"));
            }
        }
        (Err(e), _) => fails.push(format!("unexpected error: {e}")),
        (Ok(ev), Some(err)) => fails.push(format!(
            "expected error {err}, got rule set {}",
            ev.rule_set
        )),
        (Ok(ev), None) => {
            if let Some(x) = &case.expect {
                check_expect(x, &ev, &mut fails);
            }
        }
    }
    for p in &case.payments {
        check_payments(book, &hh, p, &mut fails);
    }
    fails
}

fn check_expect(x: &Expect, ev: &greenchannel::rules::Evaluation, fails: &mut Vec<String>) {
    if let Some(e) = x.eligible {
        if e != ev.eligible {
            fails.push(format!(
                "eligible: expected {e}, got {} ({})",
                ev.eligible, ev.eligibility.en
            ));
        }
    }
    if let Some(k) = &x.family_kind {
        let got = match ev.family_kind {
            Some(FamilyKind::Bereaved) => "bereaved",
            Some(FamilyKind::Disabled) => "disabled",
            None => "none",
        };
        if k != got {
            fails.push(format!("family_kind: expected {k}, got {got}"));
        }
    }
    // The expected list is complete for each code it mentions.
    let codes: BTreeSet<Code> = x.entitlements.iter().map(|e| e.code).collect();
    for code in codes {
        let mut want: Vec<ExpEnt> = x
            .entitlements
            .iter()
            .filter(|e| e.code == code)
            .map(|e| ExpEnt {
                status: Some(e.status.clone().unwrap_or_else(|| "granted".into())),
                ..e.clone()
            })
            .collect();
        let mut got: Vec<ExpEnt> = ev
            .entitlements
            .iter()
            .filter(|e| e.code == code)
            .map(actual)
            .collect();
        want.sort();
        got.sort();
        if want != got {
            fails.push(format!(
                "{}: expected {want:?}\n      got {got:?}",
                code.as_str()
            ));
        }
    }
    for code in &x.absent {
        let got: Vec<ExpEnt> = ev
            .entitlements
            .iter()
            .filter(|e| e.code == *code)
            .map(actual)
            .collect();
        if !got.is_empty() {
            fails.push(format!("{}: expected absent, got {got:?}", code.as_str()));
        }
    }
    for na in &x.not_applicable {
        let hit = ev
            .not_applicable
            .iter()
            .find(|e| e.code == na.code && e.member == na.member);
        match hit {
            None => fails.push(format!(
                "{}/{:?}: expected in not_applicable",
                na.code.as_str(),
                na.member
            )),
            Some(e) if e.basis.zh.is_empty() || e.basis.en.is_empty() => {
                fails.push(format!("{}: refusal without a reason", na.code.as_str()))
            }
            Some(_) => {}
        }
    }
}

fn check_payments(
    book: &RuleBook,
    hh: &greenchannel::rules::Household,
    p: &PaymentCase,
    fails: &mut Vec<String>,
) {
    let period = match p.period.split_once('-') {
        Some((y, m)) => y
            .parse()
            .ok()
            .zip(m.parse().ok())
            .map(|(year, month)| Period::Month { year, month }),
        None => p.period.parse().ok().map(Period::Year),
    };
    let Some(period) = period else {
        fails.push(format!("bad period {}", p.period));
        return;
    };
    let dues = match payments(book, hh, period) {
        Ok(d) => d,
        Err(e) => {
            fails.push(format!("payments {}: {e}", p.period));
            return;
        }
    };
    let codes: BTreeSet<Code> = p.expect.iter().map(|e| e.code).collect();
    for code in codes {
        let mut want: Vec<ExpDue> = p
            .expect
            .iter()
            .filter(|e| e.code == code)
            .cloned()
            .collect();
        let mut got: Vec<ExpDue> = dues
            .iter()
            .filter(|d| d.code == code)
            .map(actual_due)
            .collect();
        // Months are compared only when the case gives them (on every row of the code).
        if want.iter().all(|w| w.month.is_none()) {
            got.iter_mut().for_each(|g| g.month = None);
        }
        want.sort();
        got.sort();
        if want != got {
            fails.push(format!(
                "payments {} {}: expected {want:?}\n      got {got:?}",
                p.period,
                code.as_str()
            ));
        }
    }
    for code in &p.absent {
        if dues.iter().any(|d| d.code == *code) {
            fails.push(format!(
                "payments {} {}: expected absent",
                p.period,
                code.as_str()
            ));
        }
    }
    if let Some(t) = p.total_fen {
        let sum: i64 = dues.iter().filter_map(|d| d.amount_fen).sum();
        if sum != t {
            fails.push(format!(
                "payments {}: total expected {t}, got {sum}",
                p.period
            ));
        }
    }
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/rules/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e| e.to_string())
}

fn book() -> RuleBook {
    RuleBook::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
        .expect("shipped rules load")
}

#[test]
fn rule_cases_pass() {
    let book = book();
    let mut report = Vec::new();
    let files = case_files();
    assert!(!files.is_empty(), "no rule cases found");
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match load(path) {
            Err(e) => report.push(format!("{name}: cannot read case: {e}")),
            Ok(case) => {
                for f in run(&book, &case) {
                    report.push(format!("{name}: {f}"));
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn cases_cover_every_code_and_every_money_amount() {
    let mut seen = BTreeSet::new();
    let mut priced = BTreeSet::new();
    for path in case_files() {
        let Ok(case) = load(&path) else { continue };
        for e in case.expect.iter().flat_map(|x| &x.entitlements) {
            seen.insert(e.code);
            if e.amount_fen.is_some() {
                priced.insert(e.code);
            }
        }
    }
    let unseen: Vec<_> = Code::ALL
        .iter()
        .filter(|c| !seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(unseen.is_empty(), "codes without a case: {unseen:?}");
    let unpriced: Vec<_> = Code::ALL
        .iter()
        .filter(|c| c.is_money() && !priced.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        unpriced.is_empty(),
        "money codes without an exact amount: {unpriced:?}"
    );
}
