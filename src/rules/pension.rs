//! The pension and care money clauses (二(七)1–3).

use super::entitlement::{Basis, Code, FamilyKind, Per};
use super::evaluate::{mul_div, Ctx};
use super::household::{ResidentPension, SelfCare};

/// 二(七)1: members enrolled in resident pension who paid on time: subsidy by tier;
/// for the severely disabled the district also pays the contribution.
pub(crate) fn pension_contribution_subsidy(ctx: &mut Ctx) {
    let code = Code::PensionContributionSubsidy;
    let tiers = ctx.set.params.pension_contribution_tiers.at(ctx.on);
    let behalf = ctx.set.params.pension_paid_on_behalf_fen.at(ctx.on);
    for (i, m) in ctx.members() {
        if ctx.refuse_if_dead(code, "二(七)1", m) {
            continue;
        }
        if ctx.elderly(m) {
            // Resident pension contributions are paid until 60; from then on the member
            // draws the pension (二(七)2), so there is no contribution to subsidize.
            let age = ctx.set.params.elderly_min_age.at(ctx.on);
            ctx.refuse(code, Some(m), || {
                Basis::new(
                    "二(七)1",
                    "年满60周岁，按月领取养老金，不再缴费",
                    "60 or older: draws the pension, no longer contributes",
                )
                .param("elderly_min_age", age)
                .fact("born_on", m.born_on)
            });
            continue;
        }
        let base = || {
            Basis::new(
                "二(七)1",
                "参加居民基本养老保险且当年按期缴费的，按缴费档次给予缴费补贴",
                "enrolled in resident pension and paid on time this year: subsidy by tier",
            )
        };
        match m.pension_on(ctx.on) {
            None => {
                ctx.needs(
                    code,
                    Some(m),
                    Some(Per::Year),
                    vec![format!("members[{i}].resident_pension")],
                    base(),
                );
                continue;
            }
            Some(None) => {
                ctx.refuse(code, Some(m), || {
                    Basis::new(
                        "二(七)1",
                        "未参加居民基本养老保险",
                        "not enrolled in resident pension insurance",
                    )
                });
                continue;
            }
            Some(Some(_)) => {}
        }
        let (paid, tier_fen) = m.contribution_on(ctx.on);
        let severely_disabled = m.severely_disabled.on(ctx.on);
        if paid == Some(false) {
            ctx.refuse(code, Some(m), || {
                Basis::new(
                    "二(七)1",
                    "当年未按期缴费",
                    "did not pay this year's contribution on time",
                )
                .fact("pension_paid_this_year", false)
            });
            continue;
        }
        let mut missing = Vec::new();
        if paid.is_none() {
            missing.push(format!("members[{i}].pension_paid_this_year"));
        }
        if tier_fen.is_none() {
            missing.push(format!("members[{i}].pension_tier"));
        }
        if severely_disabled.is_none() {
            missing.push(format!("members[{i}].severely_disabled"));
        }
        let tier = tier_fen.and_then(|t| tiers.value.iter().find(|x| x.contribution_fen == t));
        if tier_fen.is_some() && tier.is_none() {
            missing.push(format!(
                "members[{i}].pension_tier (not a tier of the table)"
            ));
        }
        let b = base()
            .param("pension_contribution_tiers", tiers)
            .fact("pension_tier", tier_fen);
        match (tier, severely_disabled, missing.is_empty()) {
            (Some(t), Some(severe), true) => {
                let mut amount = t.subsidy_fen;
                let mut b = b
                    .fact("pension_paid_this_year", true)
                    .fact("severely_disabled", severe);
                if severe {
                    amount = amount.saturating_add(behalf.value);
                    b = b.param("pension_paid_on_behalf_fen", behalf);
                }
                ctx.grant(code, Some(m), Some(amount), Some(Per::Year), b);
            }
            _ => ctx.needs(code, Some(m), Some(Per::Year), missing, b),
        }
    }
}

/// 二(七)2: parents 60+ in the district's resident pension: 100% / 200% of their own
/// monthly basic pension, monthly.
pub(crate) fn pension_family_planning_subsidy(ctx: &mut Ctx) {
    let code = Code::PensionFamilyPlanningSubsidy;
    let p = &ctx.set.params;
    let pct = match ctx.kind {
        FamilyKind::Bereaved => (
            "pension_fp_subsidy_bereaved_percent",
            p.pension_fp_subsidy_bereaved_percent.at(ctx.on),
        ),
        FamilyKind::Disabled => (
            "pension_fp_subsidy_disabled_percent",
            p.pension_fp_subsidy_disabled_percent.at(ctx.on),
        ),
    };
    let age = p.elderly_min_age.at(ctx.on);
    for (i, m) in ctx.parents() {
        if ctx.refuse_if_dead(code, "二(七)2", m) {
            continue;
        }
        let base = |zh, en| {
            Basis::new("二(七)2", zh, en)
                .param("elderly_min_age", age)
                .fact("born_on", m.born_on)
        };
        if !ctx.elderly(m) {
            let b = base("未满60周岁", "under 60");
            ctx.refuse(code, Some(m), || b);
            continue;
        }
        let rule = ("计划生育养老补助：本人月基础养老金实际计发额的百分比，每月", "family-planning pension subsidy: a percentage of the member's own monthly basic pension");
        match m.pension_on(ctx.on) {
            None => ctx.needs(
                code,
                Some(m),
                Some(Per::Month),
                vec![format!("members[{i}].resident_pension")],
                base(rule.0, rule.1).param(pct.0, pct.1),
            ),
            Some(None) => {
                let b = base(
                    "未参加本区城乡居民基本养老保险",
                    "not in the district's resident pension insurance",
                );
                ctx.refuse(code, Some(m), || b);
            }
            Some(Some(ResidentPension {
                basic_monthly_fen: None,
                ..
            })) => ctx.needs(
                code,
                Some(m),
                Some(Per::Month),
                vec![format!("members[{i}].resident_pension.basic_monthly_fen")],
                base(rule.0, rule.1).param(pct.0, pct.1),
            ),
            Some(Some(ResidentPension {
                basic_monthly_fen: Some(basic),
                ..
            })) => {
                let b = base(rule.0, rule.1)
                    .param(pct.0, pct.1)
                    .fact("basic_monthly_fen", basic);
                ctx.grant(
                    code,
                    Some(m),
                    Some(mul_div(basic, pct.1.value, 100)),
                    Some(Per::Month),
                    b,
                );
            }
        }
    }
}

/// 二(七)3: elderly (60+) members long unable to care for themselves and in economic
/// difficulty: a monthly nursing subsidy.
pub(crate) fn nursing_subsidy(ctx: &mut Ctx) {
    let code = Code::NursingSubsidy;
    let amount = ctx.set.params.nursing_subsidy_fen.at(ctx.on);
    let age = ctx.set.params.elderly_min_age.at(ctx.on);
    for (i, m) in ctx.members() {
        if ctx.refuse_if_dead(code, "二(七)3", m) {
            continue;
        }
        let economic_difficulty = m.economic_difficulty.on(ctx.on);
        let base = |zh, en| {
            Basis::new("二(七)3", zh, en)
                .param("elderly_min_age", age)
                .fact("born_on", m.born_on)
                .fact("self_care", m.self_care)
                .fact("economic_difficulty", economic_difficulty)
        };
        if !ctx.elderly(m) {
            let b = base("非老年人（未满60周岁）", "not elderly (under 60)");
            ctx.refuse(code, Some(m), || b);
            continue;
        }
        if matches!(m.self_care, Some(SelfCare::Full | SelfCare::Partial)) {
            let b = base(
                "非生活长期不能自理",
                "not long-term unable to care for oneself",
            );
            ctx.refuse(code, Some(m), || b);
            continue;
        }
        if economic_difficulty == Some(false) {
            let b = base("无经济困难", "not in economic difficulty");
            ctx.refuse(code, Some(m), || b);
            continue;
        }
        let mut missing = Vec::new();
        if m.self_care.is_none() {
            missing.push(format!("members[{i}].self_care"));
        }
        if economic_difficulty.is_none() {
            missing.push(format!("members[{i}].economic_difficulty"));
        }
        let b = base("生活长期不能自理、经济困难的老年人护理补贴，每月", "nursing subsidy for elderly long unable to care for themselves and in difficulty, per month").param("nursing_subsidy_fen", amount);
        if missing.is_empty() {
            ctx.grant(code, Some(m), Some(amount.value), Some(Per::Month), b);
        } else {
            ctx.needs(code, Some(m), Some(Per::Month), missing, b);
        }
    }
}
