//! The money clauses (二(三), 二(四), 二(五)1 and 3, 二(六), 二(八)1, 二(九)1); the
//! pension and care clauses 二(七)1–3 are in `pension.rs`.

use chrono::Datelike;

use super::entitlement::{Basis, Code, FamilyKind, Per};
use super::evaluate::{mul_div, Ctx};
use super::household::Area;
use super::pension;

/// Computes every money code into `ctx`.
pub(crate) fn money(ctx: &mut Ctx) {
    special_assistance(ctx);
    bereavement_relief(ctx);
    medical_insurance_premium(ctx);
    commercial_insurance(ctx);
    dibao_top_up(ctx);
    pension::pension_contribution_subsidy(ctx);
    pension::pension_family_planning_subsidy(ctx);
    pension::nursing_subsidy(ctx);
    ivf_subsidy(ctx);
    household_service_grant(ctx);
}

const BEREAVED_ONLY_ZH: &str = "仅适用于独生子女死亡家庭";
const BEREAVED_ONLY_EN: &str = "applies to bereaved families only";

/// 二(三): each parent, woman 49+, monthly at the rate of the family kind.
fn special_assistance(ctx: &mut Ctx) {
    let code = Code::SpecialAssistance;
    let p = &ctx.set.params;
    let rate = match ctx.kind {
        FamilyKind::Bereaved => (
            "special_assistance_bereaved_fen",
            &p.special_assistance_bereaved_fen,
        ),
        FamilyKind::Disabled => (
            "special_assistance_disabled_fen",
            &p.special_assistance_disabled_fen,
        ),
    };
    let Some(gate) = ctx.woman_gate() else { return };
    for (_, m) in ctx.parents() {
        if ctx.refuse_if_dead(code, "二(三)", m) {
            continue;
        }
        let b = |zh, en| ctx.with_gate(Basis::new("二(三)", zh, en), &gate);
        if !gate.met {
            let b = b("女方未满49周岁", "the woman of the couple is under 49");
            ctx.refuse(code, Some(m), || b);
            continue;
        }
        let dated = rate.1.at(ctx.on);
        let mut basis = b(
            "计划生育特别扶助金，每人每月",
            "special assistance, per parent per month",
        )
        .param(rate.0, dated)
        .fact("family_kind", ctx.kind);
        if let Some(prev) = &rate.1.previous {
            basis = basis
                .fact("previous_rate_fen", prev.value)
                .fact("previous_rate_source", &*prev.source);
        }
        ctx.grant(code, Some(m), Some(dated.value), Some(Per::Month), basis);
    }
}

/// 二(四): a household whose only child died in the calendar year evaluated.
fn bereavement_relief(ctx: &mut Ctx) {
    let code = Code::BereavementRelief;
    let died_on = match ctx.hh.child_on(ctx.on) {
        super::household::Child::Deceased { died_on } => died_on,
        _ => {
            ctx.refuse(code, None, || {
                Basis::new("二(四)", BEREAVED_ONLY_ZH, BEREAVED_ONLY_EN)
            });
            return;
        }
    };
    let dated = ctx.set.params.bereavement_relief_fen.at(ctx.on);
    if died_on.year() != ctx.on.year() {
        ctx.refuse(code, None, || {
            Basis::new(
                "二(四)",
                "独生子女非当年死亡",
                "the child did not die in the year evaluated",
            )
            .fact("child_died_on", died_on)
        });
        return;
    }
    let basis = Basis::new(
        "二(四)",
        "当年失独家庭一次性扶助金，每户",
        "one-time relief for a household bereaved this year",
    )
    .param("bereavement_relief_fen", dated)
    .fact("child_died_on", died_on);
    ctx.grant(code, None, Some(dated.value), Some(Per::Once), basis);
}

/// 二(五)1: parents on dibao enrolled in resident medical insurance: the year's contribution.
fn medical_insurance_premium(ctx: &mut Ctx) {
    let code = Code::MedicalInsurancePremium;
    let dated = ctx.set.params.medical_insurance_contribution_fen.at(ctx.on);
    for (_, m) in ctx.parents() {
        if ctx.refuse_if_dead(code, "二(五)1", m) {
            continue;
        }
        let dibao = ctx.hh.dibao_on(ctx.on);
        let insured = m.medical_insurance_on(ctx.on);
        let base = |zh, en| {
            Basis::new("二(五)1", zh, en)
                .fact("dibao", dibao)
                .fact("resident_medical_insurance", insured)
        };
        if !dibao {
            let b = base(
                "未享受低保",
                "the household is not on minimum living allowance",
            );
            ctx.refuse(code, Some(m), || b);
        } else if !insured {
            let b = base(
                "未参加城乡居民基本医疗保险",
                "not enrolled in resident medical insurance",
            );
            ctx.refuse(code, Some(m), || b);
        } else {
            let b = base(
                "低保夫妇当年居民医保个人缴费由区财政承担",
                "the district pays this year's personal contribution",
            )
            .param("medical_insurance_contribution_fen", dated);
            ctx.grant(code, Some(m), Some(dated.value), Some(Per::Year), b);
        }
    }
}

/// 二(五)3: bereaved parents, woman 49+: insurance premium per person per year.
fn commercial_insurance(ctx: &mut Ctx) {
    let code = Code::CommercialInsurance;
    let Some(gate) = ctx.woman_gate() else { return };
    let dated = ctx.set.params.commercial_insurance_fen.at(ctx.on);
    for (_, m) in ctx.parents() {
        if ctx.refuse_if_dead(code, "二(五)3", m) {
            continue;
        }
        if ctx.kind != FamilyKind::Bereaved {
            ctx.refuse(code, Some(m), || {
                Basis::new("二(五)3", BEREAVED_ONLY_ZH, BEREAVED_ONLY_EN)
            });
        } else if !gate.met {
            let b = ctx.with_gate(
                Basis::new(
                    "二(五)3",
                    "女方未满49周岁",
                    "the woman of the couple is under 49",
                ),
                &gate,
            );
            ctx.refuse(code, Some(m), || b);
        } else {
            let b = ctx
                .with_gate(
                    Basis::new(
                        "二(五)3",
                        "意外伤害、住院医疗和住院护理补贴保险，保费每人每年",
                        "accident, inpatient and care insurance premium per person per year",
                    ),
                    &gate,
                )
                .param("commercial_insurance_fen", dated);
            ctx.grant(code, Some(m), Some(dated.value), Some(Per::Year), b);
        }
    }
}

/// 二(六): bereaved parents on dibao get support one third above the line. The engine
/// reports the top-up itself (line × 1/3 per parent per month), not line + top-up:
/// the dibao is paid by civil affairs, the district adds the third.
fn dibao_top_up(ctx: &mut Ctx) {
    let code = Code::DibaoTopUp;
    let p = &ctx.set.params;
    let (name, line) = match ctx.hh.area {
        Area::Urban => ("dibao_line_urban_fen", p.dibao_line_urban_fen.at(ctx.on)),
        Area::Rural => ("dibao_line_rural_fen", p.dibao_line_rural_fen.at(ctx.on)),
    };
    let frac = p.dibao_top_up_fraction.at(ctx.on);
    for (_, m) in ctx.parents() {
        if ctx.refuse_if_dead(code, "二(六)", m) {
            continue;
        }
        if ctx.kind != FamilyKind::Bereaved {
            ctx.refuse(code, Some(m), || {
                Basis::new("二(六)", BEREAVED_ONLY_ZH, BEREAVED_ONLY_EN)
            });
        } else if !ctx.hh.dibao_on(ctx.on) {
            ctx.refuse(code, Some(m), || {
                Basis::new(
                    "二(六)",
                    "未享受最低生活保障",
                    "not on minimum living allowance",
                )
                .fact("dibao", false)
            });
        } else {
            let amount = mul_div(line.value, frac.value.numerator, frac.value.denominator);
            let b = Basis::new("二(六)", "高出最低生活保障线三分之一的照顾（报告高出部分），每人每月", "the top-up of one third above the minimum-living line (the extra only), per parent per month")
                .param(name, line)
                .param("dibao_top_up_fraction", frac)
                .fact("dibao", true)
                .fact("area", ctx.hh.area);
            ctx.grant(code, Some(m), Some(amount), Some(Per::Month), b);
        }
    }
}

/// A family no longer special since its IVF birth: 二(八)1's one-time subsidy (a bereaved
/// family's, in the month of the birth) and 二(八)2's services for families who have a child
/// again; every other code ended with the birth.
pub(crate) fn reborn(ctx: &mut Ctx) {
    ivf_subsidy(ctx);
    if ctx.scope == super::evaluate::Scope::All {
        let born = ctx.hh.ivf_birth_on.flatten();
        ctx.grant(
            Code::RebirthServices,
            None,
            None,
            None,
            Basis::new(
                "二(八)2",
                "计划生育特殊家庭再生育的，提供免费孕前优生健康检查、孕期保健和新生儿筛查；农村居民免费取环、复通手术",
                "a special family that has a child again: free pre-pregnancy checks, prenatal care, newborn screening; free IUD removal / reversal for rural residents",
            )
            .fact("ivf_birth_on", born),
        );
    }
}

/// 二(八)1: bereaved household with a successful IVF birth while the rule set is in force.
fn ivf_subsidy(ctx: &mut Ctx) {
    let code = Code::IvfSubsidy;
    let dated = ctx.set.params.ivf_subsidy_fen.at(ctx.on);
    let base = || {
        Basis::new(
            "二(八)1",
            "失独家庭通过试管婴儿方式成功再生育，每户一次性补助",
            "bereaved household with a successful IVF birth: one-time subsidy",
        )
        .param("ivf_subsidy_fen", dated)
    };
    if ctx.kind != FamilyKind::Bereaved {
        ctx.refuse(code, None, || {
            Basis::new("二(八)1", BEREAVED_ONLY_ZH, BEREAVED_ONLY_EN)
        });
        return;
    }
    match ctx.hh.ivf_birth_on {
        None => ctx.needs(
            code,
            None,
            Some(Per::Once),
            vec!["ivf_birth_on".into()],
            base(),
        ),
        Some(None) => ctx.refuse(code, None, || {
            Basis::new("二(八)1", "无试管婴儿再生育", "no IVF birth recorded")
                .fact("ivf_birth_on", None::<()>)
        }),
        Some(Some(born)) if born < ctx.set.from || born > ctx.on => {
            let from = ctx.set.from;
            ctx.refuse(code, None, || {
                Basis::new(
                    "二(八)1",
                    "试管婴儿出生日期不在本文件执行期内（或晚于评估日）",
                    "the IVF birth is not between the rule set's first day and the date evaluated",
                )
                .fact("ivf_birth_on", born)
                .fact("rule_set_from", from)
            })
        }
        Some(Some(born)) => {
            let b = base().fact("ivf_birth_on", born);
            ctx.grant(code, None, Some(dated.value), Some(Per::Once), b);
        }
    }
}

/// 二(九)1: bereaved households: 家政金 (urban) or 助农金 (rural), per year.
fn household_service_grant(ctx: &mut Ctx) {
    let code = Code::HouseholdServiceGrant;
    if ctx.kind != FamilyKind::Bereaved {
        ctx.refuse(code, None, || {
            Basis::new("二(九)1", BEREAVED_ONLY_ZH, BEREAVED_ONLY_EN)
        });
        return;
    }
    if ctx.refuse_if_no_living_parent(code, "二(九)1") {
        return;
    }
    let dated = ctx.set.params.household_service_grant_fen.at(ctx.on);
    let (zh, en) = match ctx.hh.area {
        Area::Urban => (
            "城区失独家庭家政金，每户每年",
            "housekeeping grant (家政金) for an urban bereaved household, per year",
        ),
        Area::Rural => (
            "农村失独家庭助农金，每户每年",
            "farm-help grant (助农金) for a rural bereaved household, per year",
        ),
    };
    let b = Basis::new("二(九)1", zh, en)
        .param("household_service_grant_fen", dated)
        .fact("area", ctx.hh.area);
    ctx.grant(code, None, Some(dated.value), Some(Per::Year), b);
}
