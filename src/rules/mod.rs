//! Rule sets and entitlement evaluation for 周政发〔2018〕85号: pure functions, no I/O
//! except reading rule-set files.
//!
//! # Shape
//! - [`RuleSet`] (`ruleset.rs`): one document's parameters as dated values, each with its
//!   source; loaded from TOML (`rules/zhoucun-2018-85.toml` is shipped and compiled in).
//! - [`RuleBook`] (`book.rs`): the rule sets, never overlapping; a [`Continuation`] file
//!   (`continues = "<id>"`, `until`, `source`) extends one without code.
//! - [`Household`] (`household.rs`): the facts; [`evaluate`] (`evaluate.rs`, with the
//!   clauses in `clauses.rs` for money and `services.rs` for services) gives an
//!   [`Evaluation`]; [`payments`] (`payments.rs`) the rows of a month's or a year's
//!   list; [`diff`] (`diff.rs`) what changed; [`eval_json`] (`cli.rs`) the CLI's core.
//!
//! # Decisions
//! - **Money** is integer fen. Percentages and fractions round half up to the fen.
//! - **Statuses.** Every code is considered for every member it could concern (household
//!   codes once). `entitlements` holds `granted` and `needs_data` entries; a `needs_data`
//!   entry has `amount_fen: null` and `missing` naming the absent facts as JSON paths
//!   (e.g. `members[0].self_care`) — an absent optional fact is never defaulted.
//!   `not_applicable` holds every refusal with the failed condition (zh/en) so the office
//!   sees why a member did not get something. A household that is not a special family
//!   has `eligible: false`, `family_kind: null`, no entitlements and the failed
//!   conditions (all of them) in `eligibility`.
//! - **Dates.** A rule set's `until` is inclusive. Evaluation on a date with no rule set
//!   is a [`NoRuleSet`] error naming the date and every window. Values before this
//!   document (535 / 400 yuan) are kept as `previous` with their source, never applied.
//! - **Age gates.** "Woman 49+" is met from the mother's 49th birthday (the day itself);
//!   with no mother listed (a single father) the father's own age is used, as the
//!   national scheme does for single parents. Someone born on 29 February turns N on
//!   1 March in common years. A deceased mother's birth date still sets the couple's
//!   gate. "60+" (二(七)2/4, elderly for 二(七)3) is the member's own age; from 60 a
//!   member draws the resident pension and gets no contribution subsidy (二(七)1).
//! - **Deaths.** A member who died gets nothing personal from the day of death on
//!   (only `funeral_subsidy`). The child's death makes a family bereaved from that day;
//!   `bereavement_relief` is due when the child died in the calendar year evaluated.
//!   The family follows the child's death (一: "独生子女为三级以上残疾或死亡"): a file whose
//!   `child` still says disabled (or healthy) while the child's member record has a
//!   `died_on` is a disabled family before that day and a bereaved one from it (610, 二(四)'s
//!   2000 in the year of death), never a disabled family after the death
//!   ([`Household::child_on`](household::Household::child_on)).
//! - **Mid-month.** [`evaluate`] answers for the day asked. [`payments`]: a monthly
//!   amount is due for a month iff its condition holds on the **first day** of that month
//!   (turning 49 on 2020-06-15 is paid from July; a member who dies in June is paid for
//!   June, not July).
//! - **Yearly amounts** fall due in the first month of the calendar year whose first day
//!   meets the condition: January normally, February 2019 (the first month in force),
//!   the month after a gate is crossed. Each carries `once_key = <code>:<year>:<member>`.
//! - **One-time amounts** (`bereavement_relief`, `ivf_subsidy`) fall due in the month of
//!   the event (granted on the month's last day, not on the previous month's) and carry
//!   `once_key = <code>:<member or "household">`: the caller pays a key at most once per
//!   household. Both events happen once to a household (its only child's death; 二(八)1's
//!   subsidy is 一次性), so a corrected date on file never pays the event again.
//! - **IVF.** `ivf_birth_on` records the IVF birth. From that day the household is no
//!   longer a special family (一: "未再生育或收养子女"): every code ends (the month of the birth
//!   is still paid, by the mid-month rule) except what 二(八) gives families who have a child
//!   again — 二(八)1's one-time subsidy for a bereaved family, due in the month of the birth
//!   if it falls between the rule set's first day and the date evaluated, and 二(八)2's
//!   services. `other_child_since` stays for a birth or adoption 二(八) does not cover.
//! - **Household codes need a living member of the couple.** With every listed parent dead on
//!   the day (or none listed) the household codes — 二(九)1's grant, the contact person and
//!   the other household services, housing priority — are refused; members' funeral
//!   subsidies remain (`Ctx::refuse_if_no_living_parent`).
//! - **Placeholders.** Values the text leaves to local standards (minimum-living lines,
//!   the year's medical-insurance contribution, pension tiers and the contribution paid
//!   on behalf of the severely disabled, the nursing subsidy) carry `placeholder = true`,
//!   and every basis citing them says so. `dibao_top_up` reports the extra third only
//!   (line × 1/3 per parent per month), not line + third: the allowance itself is paid
//!   by civil affairs.
//! - **Services** have `amount_fen: null` and `per: null`, except `annual_checkup`
//!   (`per: "year"`, one per person per year) and `funeral_subsidy` (`per: "once"`).

mod book;
mod clauses;
mod cli;
mod diff;
mod entitlement;
mod error;
mod evaluate;
mod household;
mod payments;
mod pension;
mod ruleset;
mod services;
mod validate;

pub use book::{RuleBook, SHIPPED_FILE};
pub use cli::{eval_json, parse_household};
pub use diff::{diff, Change, ChangeKind, Side};
pub use entitlement::{
    Basis, Code, Entitlement, Evaluation, FactValue, FamilyKind, ParamUse, Per, Status,
};
pub use error::{EvalError, NoRuleSet, RuleError, Window};
pub use evaluate::evaluate;
pub use household::{
    anniversary, Area, Child, CivilCapacity, Contribution, Household, Member, ResidentPension,
    Role, SelfCare, Span, Step, Timeline,
};
pub use payments::{payments, Due, Period};
pub use ruleset::{Continuation, Dated, Fraction, Param, Params, Prior, RuleSet, Tier};

#[cfg(test)]
mod tests;
