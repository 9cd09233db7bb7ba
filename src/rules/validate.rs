//! Validation of a parsed rule set: what the loader refuses, with the key path.

use chrono::NaiveDate;

use super::ruleset::{Param, Params, RuleSet};
use super::RuleError;

impl RuleSet {
    /// Checks every rule the TOML grammar cannot express (paths without the file name;
    /// the caller adds it).
    pub(crate) fn validate(&self) -> Result<(), RuleError> {
        let bad = |path: &str, message: String| RuleError::Invalid {
            file: String::new(),
            path: path.to_string(),
            message,
        };
        if self.id.trim().is_empty() {
            return Err(bad("id", "must not be empty".into()));
        }
        if self.source.trim().is_empty() {
            return Err(bad("source", "must name the document".into()));
        }
        if self.until < self.from {
            return Err(bad(
                "until",
                format!("{} is before from {}", self.until, self.from),
            ));
        }
        let p = &self.params;
        let w = (self.from, self.until);
        check("woman_min_age", &p.woman_min_age, w, |_| Ok(()))?;
        check("elderly_min_age", &p.elderly_min_age, w, |_| Ok(()))?;
        check(
            "qualifying_disability_grades",
            &p.qualifying_disability_grades,
            w,
            |g| match g.iter().find(|x| !(1..=4).contains(*x)) {
                Some(x) => Err(format!("grade {x} is not a grade 1–4")),
                None => Ok(()),
            },
        )?;
        for (name, param) in [
            (
                "special_assistance_bereaved_fen",
                &p.special_assistance_bereaved_fen,
            ),
            (
                "special_assistance_disabled_fen",
                &p.special_assistance_disabled_fen,
            ),
            ("bereavement_relief_fen", &p.bereavement_relief_fen),
            (
                "medical_insurance_contribution_fen",
                &p.medical_insurance_contribution_fen,
            ),
            ("commercial_insurance_fen", &p.commercial_insurance_fen),
            ("dibao_line_urban_fen", &p.dibao_line_urban_fen),
            ("dibao_line_rural_fen", &p.dibao_line_rural_fen),
            ("pension_paid_on_behalf_fen", &p.pension_paid_on_behalf_fen),
            (
                "pension_fp_subsidy_disabled_percent",
                &p.pension_fp_subsidy_disabled_percent,
            ),
            (
                "pension_fp_subsidy_bereaved_percent",
                &p.pension_fp_subsidy_bereaved_percent,
            ),
            ("nursing_subsidy_fen", &p.nursing_subsidy_fen),
            ("ivf_subsidy_fen", &p.ivf_subsidy_fen),
            (
                "household_service_grant_fen",
                &p.household_service_grant_fen,
            ),
        ] {
            check(name, param, w, non_negative)?;
        }
        check("dibao_top_up_fraction", &p.dibao_top_up_fraction, w, |f| {
            if f.denominator <= 0 || f.numerator < 0 {
                Err("numerator must be ≥ 0 and denominator > 0".into())
            } else {
                Ok(())
            }
        })?;
        check(
            "pension_contribution_tiers",
            &p.pension_contribution_tiers,
            w,
            |tiers| {
                let mut seen: Vec<i64> = Vec::new();
                for t in tiers {
                    if t.contribution_fen < 0 || t.subsidy_fen < 0 {
                        return Err("tier amounts must be ≥ 0".into());
                    }
                    if seen.contains(&t.contribution_fen) {
                        return Err(format!("tier {} appears twice", t.contribution_fen));
                    }
                    seen.push(t.contribution_fen);
                }
                Ok(())
            },
        )
    }
}

/// The days parameters change value (a dated value other than the first).
pub(crate) fn change_dates(p: &Params) -> Vec<NaiveDate> {
    macro_rules! froms {
        ($($f:ident),*) => {{
            let mut v = Vec::new();
            $( v.extend(p.$f.values.iter().skip(1).map(|d| d.from)); )*
            v
        }};
    }
    let mut v = froms!(
        woman_min_age,
        elderly_min_age,
        qualifying_disability_grades,
        special_assistance_bereaved_fen,
        special_assistance_disabled_fen,
        bereavement_relief_fen,
        medical_insurance_contribution_fen,
        commercial_insurance_fen,
        dibao_line_urban_fen,
        dibao_line_rural_fen,
        dibao_top_up_fraction,
        pension_contribution_tiers,
        pension_paid_on_behalf_fen,
        pension_fp_subsidy_disabled_percent,
        pension_fp_subsidy_bereaved_percent,
        nursing_subsidy_fen,
        ivf_subsidy_fen,
        household_service_grant_fen
    );
    v.sort();
    v.dedup();
    v
}

pub(crate) fn rename_file(e: RuleError, file: &str) -> RuleError {
    match e {
        RuleError::Invalid { path, message, .. } => RuleError::Invalid {
            file: file.to_string(),
            path,
            message,
        },
        other => other,
    }
}

fn non_negative(v: &i64) -> Result<(), String> {
    if *v < 0 {
        Err(format!("{v} is negative"))
    } else {
        Ok(())
    }
}

/// Checks one parameter: non-empty, strictly increasing dates, the first on the set's
/// first day (so every day in force has a value), all inside the window, sources given.
fn check<T>(
    name: &str,
    param: &Param<T>,
    (from, until): (NaiveDate, NaiveDate),
    value_ok: impl Fn(&T) -> Result<(), String>,
) -> Result<(), RuleError> {
    let bad = |path: String, message: String| RuleError::Invalid {
        file: String::new(),
        path,
        message,
    };
    let base = format!("params.{name}");
    if let Some(prev) = &param.previous {
        if prev.source.trim().is_empty() {
            return Err(bad(
                format!("{base}.previous.source"),
                "must name the document".into(),
            ));
        }
    }
    let Some(first) = param.values.first() else {
        return Err(bad(
            format!("{base}.values"),
            "needs at least one dated value".into(),
        ));
    };
    if first.from != from {
        return Err(bad(
            format!("{base}.values[0].from"),
            format!(
                "the first value must start on the rule set's first day {from}, not {}",
                first.from
            ),
        ));
    }
    for (i, v) in param.values.iter().enumerate() {
        let at = format!("{base}.values[{i}]");
        if v.from < from || v.from > until {
            return Err(bad(
                format!("{at}.from"),
                format!("{} is outside the window {from} ..= {until}", v.from),
            ));
        }
        if i > 0 {
            let prev = param.values[i - 1].from;
            if v.from == prev {
                return Err(bad(
                    format!("{at}.from"),
                    format!("duplicate date {}", v.from),
                ));
            }
            if v.from < prev {
                return Err(bad(
                    format!("{at}.from"),
                    format!(
                        "dates must be in increasing order: {} comes after {prev}",
                        v.from
                    ),
                ));
            }
        }
        if v.source.trim().is_empty() {
            return Err(bad(format!("{at}.source"), "must name the document".into()));
        }
        value_ok(&v.value).map_err(|m| bad(format!("{at}.value"), m))?;
    }
    Ok(())
}
