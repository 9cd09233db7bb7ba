//! The service clauses: no amount, but whom they apply to (and why not).

use super::entitlement::{Basis, Code, FamilyKind, Per};
use super::evaluate::Ctx;
use super::household::{Area, CivilCapacity, Member, Role};

/// Computes every service code into `ctx`.
pub(crate) fn services(ctx: &mut Ctx) {
    household_services(ctx);
    for (i, m) in ctx.members() {
        member_services(ctx, i, m);
    }
    annual_checkup(ctx);
    disabled_child_support(ctx);
    housing_priority(ctx);
    funeral_subsidy(ctx);
}

/// Services every special family has as a household, unconditionally.
fn household_services(ctx: &mut Ctx) {
    const ALL: [(Code, &str, &str, &str); 5] = [
        (Code::ContactPerson, "二(二)", "联系小组和1名固定联系人，每月联系不少于1次，重大节日走访", "a contact group and one fixed contact person, contact at least monthly"),
        (Code::LegalAid, "二(九)6", "法律宣传、反映诉求、调解纠纷、法律援助", "legal information, mediation and legal aid"),
        (Code::Pairing, "二(十)2", "亲情牵手结对帮扶", "pairing with volunteers and units"),
        (Code::FestivalVisit, "二(十)3", "重大节日由镇（街道）走访慰问", "festival visits by the township"),
        // Offered to every special family: the services are what it gets *if* it has
        // another child, which the office cannot know in advance.
        (Code::RebirthServices, "二(八)2", "再生育的，提供免费孕前优生健康检查、孕期保健和新生儿筛查；农村居民免费取环、复通手术", "if the family has another child: free pre-pregnancy checks, prenatal care, newborn screening; free IUD removal / reversal for rural residents"),
    ];
    for (code, clause, zh, en) in ALL {
        if !ctx.refuse_if_no_living_parent(code, clause) {
            ctx.grant(code, None, None, None, Basis::new(clause, zh, en));
        }
    }
}

/// Services owed to each living member.
fn member_services(ctx: &mut Ctx, i: usize, m: &Member) {
    const EVERYONE: [(Code, &str, &str, &str); 3] = [
        (Code::FamilyDoctor, "二(五)6", "优先签约家庭医生：责任医生、健康档案、随访评估", "priority family-doctor contract: responsible doctor, health record, follow-up"),
        (Code::GreenChannel, "二(五)7", "凭方便就医卡在定点医疗机构优先挂号、就医、交费、检查、取药、住院", "with the card: priority registration, consultation, payment, examination, dispensing, admission"),
        (Code::Counselling, "二(十)1", "心理咨询和疏导；经同意可开展心理健康评估", "psychological counselling; assessment with consent"),
    ];
    for (code, clause, zh, en) in EVERYONE {
        if !ctx.refuse_if_dead(code, clause, m) {
            ctx.grant(code, Some(m), None, None, Basis::new(clause, zh, en));
        }
    }

    let code = Code::MedicalAssistance;
    if !ctx.refuse_if_dead(code, "二(五)2", m) {
        let low = ctx.hh.low_income_on(ctx.on);
        let b = |zh, en| Basis::new("二(五)2", zh, en).fact("low_income", low);
        if low {
            ctx.grant(
                code,
                Some(m),
                None,
                None,
                b(
                    "低收入家庭成员纳入城乡医疗救助",
                    "low-income member: included in medical assistance",
                ),
            );
        } else {
            ctx.refuse(code, Some(m), || {
                b("非低收入家庭", "not a low-income household")
            });
        }
    }

    let code = Code::GuardianConsent;
    if !ctx.refuse_if_dead(code, "二(五)5", m) {
        let (capacity, guardian) = (m.civil_capacity.on(ctx.on), m.other_guardian.on(ctx.on));
        let b = |zh, en| {
            Basis::new("二(五)5", zh, en)
                .fact("civil_capacity", capacity)
                .fact("other_guardian", guardian)
        };
        let rule = ("无（或限制）民事行为能力且无其他监护人：由单位或村（居）委会签字同意手术、特殊检查", "no or limited civil capacity and no other guardian: the unit or village/residents' committee signs consent");
        match (capacity, guardian) {
            (Some(CivilCapacity::Full), _) => ctx.refuse(code, Some(m), || {
                b("具有完全民事行为能力", "has full civil capacity")
            }),
            (Some(_), Some(true)) => {
                ctx.refuse(code, Some(m), || b("有其他监护人", "has another guardian"))
            }
            (Some(_), Some(false)) => ctx.grant(code, Some(m), None, None, b(rule.0, rule.1)),
            (None, _) => ctx.needs(
                code,
                Some(m),
                None,
                vec![format!("members[{i}].civil_capacity")],
                b(rule.0, rule.1),
            ),
            (Some(_), None) => ctx.needs(
                code,
                Some(m),
                None,
                vec![format!("members[{i}].other_guardian")],
                b(rule.0, rule.1),
            ),
        }
    }

    let code = Code::ElderlyCarePriority;
    if !ctx.refuse_if_dead(code, "二(七)4", m) {
        let age = ctx.set.params.elderly_min_age.at(ctx.on);
        let poverty = m.extreme_poverty.on(ctx.on);
        let b = |zh, en| {
            Basis::new("二(七)4", zh, en)
                .param("elderly_min_age", age)
                .fact("born_on", m.born_on)
                .fact("extreme_poverty", poverty)
        };
        let rule = ("符合特困供养条件的纳入特困救助并优先入住供养机构；年满60周岁的优先入住政府兴办养老机构", "extreme-poverty support and priority admission; members 60+ have priority in public care homes");
        if ctx.elderly(m) || poverty == Some(true) {
            ctx.grant(code, Some(m), None, None, b(rule.0, rule.1));
        } else if poverty.is_none() {
            ctx.needs(
                code,
                Some(m),
                None,
                vec![format!("members[{i}].extreme_poverty")],
                b(rule.0, rule.1),
            );
        } else {
            ctx.refuse(code, Some(m), || {
                b(
                    "未满60周岁且不符合特困供养条件",
                    "under 60 and not in extreme poverty",
                )
            });
        }
    }
}

/// 二(五)4: parents of either kind, woman 49+: one free checkup per person per year.
fn annual_checkup(ctx: &mut Ctx) {
    let code = Code::AnnualCheckup;
    let Some(gate) = ctx.woman_gate() else { return };
    for (_, m) in ctx.parents() {
        if ctx.refuse_if_dead(code, "二(五)4", m) {
            continue;
        }
        if gate.met {
            let b = ctx.with_gate(Basis::new("二(五)4", "每人每年在镇卫生院、社区卫生服务中心或区定点医院免费健康查体一次", "one free checkup per person per year at a township or community health centre or the designated hospital"), &gate);
            ctx.grant(code, Some(m), None, Some(Per::Year), b);
        } else {
            let b = ctx.with_gate(
                Basis::new(
                    "二(五)4",
                    "女方未满49周岁",
                    "the woman of the couple is under 49",
                ),
                &gate,
            );
            ctx.refuse(code, Some(m), || b);
        }
    }
}

/// 二(九)4: the disabled only child (the child member if listed, else the household).
fn disabled_child_support(ctx: &mut Ctx) {
    let code = Code::DisabledChildSupport;
    let child = ctx.hh.members.iter().find(|m| m.role == Role::Child);
    if ctx.kind != FamilyKind::Disabled {
        ctx.refuse(code, child, || {
            Basis::new(
                "二(九)4",
                "仅适用于残疾独生子女",
                "applies to a disabled only child",
            )
        });
        return;
    }
    if let Some(c) = child {
        if ctx.refuse_if_dead(code, "二(九)4", c) {
            return;
        }
    }
    let b = Basis::new("二(九)4", "优先医疗康复、优先适配辅助器具；家庭经济困难的在读高中阶段学生免缴学杂费", "priority rehabilitation and assistive devices; senior-secondary tuition waived if the family is poor")
        .fact("child", ctx.hh.child_on(ctx.on))
        .fact("in_school", child.and_then(|c| c.in_school.on(ctx.on)))
        .fact(
            "economic_difficulty",
            child.and_then(|c| c.economic_difficulty.on(ctx.on)),
        );
    ctx.grant(code, child, None, None, b);
}

/// 二(九)3: badly housed poor urban families / rural families meeting the criteria.
fn housing_priority(ctx: &mut Ctx) {
    let code = Code::HousingPriority;
    if ctx.refuse_if_no_living_parent(code, "二(九)3") {
        return;
    }
    let area = ctx.hh.area;
    let (zh, en) = match area {
        Area::Urban => (
            "生活贫困、住房困难的城镇家庭优先安排公共租赁住房",
            "poor, badly housed urban family: priority for public rental housing",
        ),
        Area::Rural => (
            "符合农村危房改造条件的优先纳入改造",
            "rural family meeting the dilapidated-house criteria: priority renovation",
        ),
    };
    let housing = ctx.hh.housing_difficulty.on(ctx.on);
    let b = |zh, en| {
        Basis::new("二(九)3", zh, en)
            .fact("area", area)
            .fact("housing_difficulty", housing)
    };
    match housing {
        Some(true) => {
            let b = b(zh, en);
            ctx.grant(code, None, None, None, b)
        }
        Some(false) => {
            let b = b("无住房困难", "no housing difficulty recorded");
            ctx.refuse(code, None, || b)
        }
        None => {
            let b = b(zh, en);
            ctx.needs(code, None, None, vec!["housing_difficulty".into()], b)
        }
    }
}

/// 二(九)5: after a member's death, the funeral subsidy if the household meets its
/// conditions (the one entitlement that applies to a deceased member).
fn funeral_subsidy(ctx: &mut Ctx) {
    let code = Code::FuneralSubsidy;
    let cond = ctx.hh.funeral_subsidy_conditions.on(ctx.on);
    for (_, m) in ctx.members() {
        let b = |zh, en| {
            Basis::new("二(九)5", zh, en)
                .fact("died_on", m.died_on)
                .fact("funeral_subsidy_conditions", cond)
        };
        if m.alive_on(ctx.on) {
            ctx.refuse(code, Some(m), || b("成员在世", "the member is alive"));
            continue;
        }
        let rule = (
            "符合惠民殡葬补贴条件的家庭成员死亡后按规定享受补贴",
            "member deceased, household meets the funeral-subsidy conditions: the standard subsidy",
        );
        match cond {
            Some(true) => ctx.grant(code, Some(m), None, Some(Per::Once), b(rule.0, rule.1)),
            Some(false) => ctx.refuse(code, Some(m), || {
                b(
                    "不符合惠民殡葬补贴条件",
                    "does not meet the funeral-subsidy conditions",
                )
            }),
            None => ctx.needs(
                code,
                Some(m),
                Some(Per::Once),
                vec!["funeral_subsidy_conditions".into()],
                b(rule.0, rule.1),
            ),
        }
    }
}
