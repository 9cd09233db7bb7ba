//! Evaluation of one household on one date: eligibility, then every clause.

use std::borrow::Cow;

use chrono::NaiveDate;

use super::entitlement::{Basis, Code, Entitlement, Evaluation, FamilyKind, Per, Status};
use super::household::{anniversary, Child, Household, Member, Role};
use super::ruleset::RuleSet;
use super::{clauses, services, NoRuleSet, RuleBook};

/// Evaluates `household` on `on` under the rule set in force that day.
///
/// For a special family, every code of the domain table appears in `entitlements`
/// (granted or needing data) or in `not_applicable` (with the failed condition), per
/// member it could concern (personal codes) or once (household codes). For any other
/// household, `eligibility` says which conditions failed and nothing is computed.
pub fn evaluate(
    book: &RuleBook,
    household: &Household,
    on: NaiveDate,
) -> Result<Evaluation, NoRuleSet> {
    let set = book.in_force(on)?;
    Ok(evaluate_with(set, household, on, Scope::All))
}

/// Which clauses to compute: all (for the office) or money only, without refusals
/// (for payment lists, where building refusal texts would be wasted work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    All,
    Money,
}

pub(crate) fn evaluate_with(
    set: &RuleSet,
    hh: &Household,
    on: NaiveDate,
    scope: Scope,
) -> Evaluation {
    let (kind, basis) = eligibility(set, hh, on, scope, true);
    let mut ev = Evaluation {
        rule_set: set.id.to_string(),
        on,
        eligible: kind.is_some(),
        family_kind: kind,
        eligibility: basis,
        entitlements: Vec::new(),
        not_applicable: Vec::new(),
    };
    // A family that was special until an IVF birth (一: "未再生育或收养子女") keeps what 二(八)
    // gives families who have a child again: the one-time subsidy and the services.
    let (kind, reborn) = match kind {
        Some(kind) => (kind, false),
        None => match hh
            .ivf_birth_on
            .flatten()
            .filter(|d| *d <= on)
            .and_then(|_| eligibility(set, hh, on, Scope::Money, false).0)
        {
            Some(kind) => (kind, true),
            None => return ev,
        },
    };
    let mut ctx = Ctx {
        set,
        hh,
        on,
        kind,
        scope,
        out: &mut ev.entitlements,
        refused: &mut ev.not_applicable,
    };
    if reborn {
        clauses::reborn(&mut ctx);
    } else {
        clauses::money(&mut ctx);
        if scope == Scope::All {
            services::services(&mut ctx);
        }
    }
    ev
}

/// Whether the household is a special family on `on`; the basis lists every failed
/// condition, so the office sees all that must change, not just the first. With `count_ivf`
/// false an IVF birth is left out (what the family was before it).
fn eligibility(
    set: &RuleSet,
    hh: &Household,
    on: NaiveDate,
    scope: Scope,
    count_ivf: bool,
) -> (Option<FamilyKind>, Basis) {
    let grades = set.params.qualifying_disability_grades.at(on);
    let mut zh = Vec::new();
    let mut en = Vec::new();
    let in_district = hh.in_district_on(on);
    let other_child = hh.other_child_by(on);
    if !in_district {
        zh.push("户籍不在本区".to_string());
        en.push("hukou is not in the district".to_string());
    }
    let child = hh.child_on(on);
    let kind = match child {
        Child::Deceased { died_on } if died_on <= on => Some(FamilyKind::Bereaved),
        Child::Deceased { died_on } => {
            zh.push(format!("独生子女死亡日期{died_on}晚于评估日"));
            en.push(format!(
                "the child's death ({died_on}) is after the date evaluated"
            ));
            None
        }
        Child::Disabled { disability_grade } if grades.value.contains(&disability_grade) => {
            Some(FamilyKind::Disabled)
        }
        Child::Disabled { disability_grade } => {
            zh.push(format!(
                "独生子女残疾等级为{disability_grade}级，不属于三级以上残疾"
            ));
            en.push(format!(
                "the child's disability grade {disability_grade} is not a qualifying grade (1–3)"
            ));
            None
        }
        Child::Healthy => {
            zh.push("独生子女既未死亡也非三级以上残疾".to_string());
            en.push("the only child is neither deceased nor disabled (grade 1–3)".to_string());
            None
        }
    };
    if other_child {
        zh.push("已再生育或收养子女".to_string());
        en.push("the couple has had or adopted another child since".to_string());
    }
    let ivf = hh.ivf_birth_on.flatten().filter(|d| count_ivf && *d <= on);
    if let Some(born) = ivf {
        zh.push(format!("已通过试管婴儿再生育（{born}）"));
        en.push(format!("the couple has had a child again by IVF ({born})"));
    }
    let basis = |zh: Cow<'static, str>, en: Cow<'static, str>| {
        if scope == Scope::Money {
            // Payment rows carry their own basis; skip building this one.
            return Basis::new("一", zh, en);
        }
        Basis::new("一", zh, en)
            .param("qualifying_disability_grades", grades)
            .fact("hukou_in_district", in_district)
            .fact("child", child)
            .fact("other_child_since", other_child)
    };
    if zh.is_empty() {
        let (z, e) = match kind {
            Some(FamilyKind::Bereaved) => (
                "独生子女死亡、未再生育或收养子女的本区户籍家庭",
                "district hukou, only child deceased, no other child since",
            ),
            _ => (
                "独生子女三级以上残疾、未再生育或收养子女的本区户籍家庭",
                "district hukou, only child disabled grade 1–3, no other child since",
            ),
        };
        (kind, basis(z.into(), e.into()))
    } else {
        (None, basis(zh.join("；").into(), en.join("; ").into()))
    }
}

/// The state shared by the clause functions while one household is evaluated.
pub(crate) struct Ctx<'a> {
    pub set: &'a RuleSet,
    pub hh: &'a Household,
    pub on: NaiveDate,
    pub kind: FamilyKind,
    pub scope: Scope,
    out: &'a mut Vec<Entitlement>,
    refused: &'a mut Vec<Entitlement>,
}

/// The "woman 49+" gate of the couple on the evaluation date.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WomanGate<'a> {
    pub met: bool,
    /// The member whose age is used: the mother; with no mother listed (a single
    /// father), the father's own age, as the national scheme does for single parents.
    pub whose: &'a Member,
    /// The day the gate is (or will be) met.
    pub met_on: Option<NaiveDate>,
}

impl<'a> Ctx<'a> {
    /// The couple's members (mother and father roles), with their index.
    pub fn parents(&self) -> impl Iterator<Item = (usize, &'a Member)> + 'a {
        self.hh
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| matches!(m.role, Role::Mother | Role::Father))
    }

    /// All members, with their index.
    pub fn members(&self) -> impl Iterator<Item = (usize, &'a Member)> + 'a {
        self.hh.members.iter().enumerate()
    }

    /// The woman-49 gate, or `None` if the household lists no parent.
    pub fn woman_gate(&self) -> Option<WomanGate<'a>> {
        let members = &self.hh.members;
        let whose = members
            .iter()
            .find(|m| m.role == Role::Mother)
            .or_else(|| members.iter().find(|m| m.role == Role::Father))?;
        let age = self.set.params.woman_min_age.at(self.on).value;
        Some(WomanGate {
            met: whose.aged(age, self.on),
            whose,
            met_on: anniversary(whose.born_on, age),
        })
    }

    /// Adds the woman-49 gate's parameter and facts to a basis.
    pub fn with_gate(&self, b: Basis, g: &WomanGate) -> Basis {
        b.param("woman_min_age", self.set.params.woman_min_age.at(self.on))
            .fact("age_gate_member", &g.whose.id)
            .fact("age_gate_born_on", g.whose.born_on)
            .fact("age_gate_met_on", g.met_on)
    }

    /// Whether a member has reached the elderly age (60) on the date.
    pub fn elderly(&self, m: &Member) -> bool {
        m.aged(self.set.params.elderly_min_age.at(self.on).value, self.on)
    }

    /// Records a granted entitlement.
    pub fn grant(
        &mut self,
        code: Code,
        member: Option<&Member>,
        amount_fen: Option<i64>,
        per: Option<Per>,
        basis: Basis,
    ) {
        self.out.push(Entitlement {
            code,
            member: member.map(|m| m.id.clone()),
            status: Status::Granted,
            amount_fen,
            per,
            missing: Vec::new(),
            basis,
        });
    }

    /// Records an entitlement that cannot be decided or priced without `missing` facts.
    pub fn needs(
        &mut self,
        code: Code,
        member: Option<&Member>,
        per: Option<Per>,
        missing: Vec<String>,
        basis: Basis,
    ) {
        self.out.push(Entitlement {
            code,
            member: member.map(|m| m.id.clone()),
            status: Status::NeedsData,
            amount_fen: None,
            per,
            missing,
            basis,
        });
    }

    /// Records a refusal; the basis is built only when refusals are kept.
    pub fn refuse(&mut self, code: Code, member: Option<&Member>, basis: impl FnOnce() -> Basis) {
        if self.scope == Scope::Money {
            return;
        }
        self.refused.push(Entitlement {
            code,
            member: member.map(|m| m.id.clone()),
            status: Status::NotApplicable,
            amount_fen: None,
            per: None,
            missing: Vec::new(),
            basis: basis(),
        });
    }

    /// Refuses a personal code for a member who died on or before the date; returns
    /// whether it did (deceased members get nothing personal after their death).
    /// Refuses a household code when no member of the couple is alive on the day (or none is
    /// listed): the household's payments and services are the couple's. True if refused.
    pub fn refuse_if_no_living_parent(&mut self, code: Code, clause: &'static str) -> bool {
        let on = self.on;
        if self.parents().any(|(_, m)| m.alive_on(on)) {
            return false;
        }
        self.refuse(code, None, || {
            Basis::new(
                clause,
                "夫妻双方均已去世（或未登记），不再享受以户为单位的待遇",
                "no member of the couple is alive (or none is listed): no household entitlement",
            )
        });
        true
    }

    pub fn refuse_if_dead(&mut self, code: Code, clause: &'static str, m: &Member) -> bool {
        if m.alive_on(self.on) {
            return false;
        }
        self.refuse(code, Some(m), || {
            Basis::new(clause, "成员已去世", "the member has died").fact("died_on", m.died_on)
        });
        true
    }
}

/// `a × num / den` rounded half up to the fen, without overflow.
pub(crate) fn mul_div(a: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let v = (i128::from(a) * i128::from(num) * 2 + i128::from(den)) / (2 * i128::from(den));
    i64::try_from(v).unwrap_or(i64::MAX)
}
