//! What an evaluation returns: codes, statuses, amounts and their basis.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

use super::household::{Area, Child, CivilCapacity, SelfCare};
use super::ruleset::Dated;

/// The stable code of each entitlement of the domain table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // the variant names are the domain table's codes
pub enum Code {
    ContactPerson,
    SpecialAssistance,
    BereavementRelief,
    MedicalInsurancePremium,
    MedicalAssistance,
    CommercialInsurance,
    AnnualCheckup,
    GuardianConsent,
    FamilyDoctor,
    GreenChannel,
    DibaoTopUp,
    PensionContributionSubsidy,
    PensionFamilyPlanningSubsidy,
    NursingSubsidy,
    ElderlyCarePriority,
    IvfSubsidy,
    RebirthServices,
    HouseholdServiceGrant,
    HousingPriority,
    DisabledChildSupport,
    FuneralSubsidy,
    LegalAid,
    Counselling,
    Pairing,
    FestivalVisit,
}

impl Code {
    /// Every code of the domain table, in clause order.
    pub const ALL: [Code; 25] = {
        use Code::*;
        [
            ContactPerson,
            SpecialAssistance,
            BereavementRelief,
            MedicalInsurancePremium,
            MedicalAssistance,
            CommercialInsurance,
            AnnualCheckup,
            GuardianConsent,
            FamilyDoctor,
            GreenChannel,
            DibaoTopUp,
            PensionContributionSubsidy,
            PensionFamilyPlanningSubsidy,
            NursingSubsidy,
            ElderlyCarePriority,
            IvfSubsidy,
            RebirthServices,
            HouseholdServiceGrant,
            HousingPriority,
            DisabledChildSupport,
            FuneralSubsidy,
            LegalAid,
            Counselling,
            Pairing,
            FestivalVisit,
        ]
    };

    /// Whether the code is a money payment (it then appears in [`super::payments`]).
    pub fn is_money(self) -> bool {
        use Code::*;
        matches!(
            self,
            SpecialAssistance
                | BereavementRelief
                | MedicalInsurancePremium
                | CommercialInsurance
                | DibaoTopUp
                | PensionContributionSubsidy
                | PensionFamilyPlanningSubsidy
                | NursingSubsidy
                | IvfSubsidy
                | HouseholdServiceGrant
        )
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            ContactPerson => "contact_person",
            SpecialAssistance => "special_assistance",
            BereavementRelief => "bereavement_relief",
            MedicalInsurancePremium => "medical_insurance_premium",
            MedicalAssistance => "medical_assistance",
            CommercialInsurance => "commercial_insurance",
            AnnualCheckup => "annual_checkup",
            GuardianConsent => "guardian_consent",
            FamilyDoctor => "family_doctor",
            GreenChannel => "green_channel",
            DibaoTopUp => "dibao_top_up",
            PensionContributionSubsidy => "pension_contribution_subsidy",
            PensionFamilyPlanningSubsidy => "pension_family_planning_subsidy",
            NursingSubsidy => "nursing_subsidy",
            ElderlyCarePriority => "elderly_care_priority",
            IvfSubsidy => "ivf_subsidy",
            RebirthServices => "rebirth_services",
            HouseholdServiceGrant => "household_service_grant",
            HousingPriority => "housing_priority",
            DisabledChildSupport => "disabled_child_support",
            FuneralSubsidy => "funeral_subsidy",
            LegalAid => "legal_aid",
            Counselling => "counselling",
            Pairing => "pairing",
            FestivalVisit => "festival_visit",
        }
    }

    /// The entitlement's name as the office says it (the policy's own words, shortened).
    pub fn zh(self) -> &'static str {
        use Code::*;
        match self {
            ContactPerson => "固定联系人",
            SpecialAssistance => "特别扶助金",
            BereavementRelief => "一次性抚慰金",
            MedicalInsurancePremium => "代缴居民医保费",
            MedicalAssistance => "医疗救助",
            CommercialInsurance => "商业保险",
            AnnualCheckup => "免费健康体检",
            GuardianConsent => "监护人代签",
            FamilyDoctor => "家庭医生优先签约",
            GreenChannel => "就医绿色通道",
            DibaoTopUp => "低保提标",
            PensionContributionSubsidy => "养老保险缴费补助",
            PensionFamilyPlanningSubsidy => "养老保险计生补贴",
            NursingSubsidy => "护理补贴",
            ElderlyCarePriority => "优先入住养老机构",
            IvfSubsidy => "试管婴儿补助",
            RebirthServices => "再生育服务",
            HouseholdServiceGrant => "家政服务补助",
            HousingPriority => "住房保障优先",
            DisabledChildSupport => "伤残子女助学",
            FuneralSubsidy => "殡葬补贴",
            LegalAid => "法律援助",
            Counselling => "心理疏导",
            Pairing => "结对帮扶",
            FestivalVisit => "节日走访",
        }
    }
}

/// How often an amount is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// Each month.
    Month,
    /// Each calendar year.
    Year,
    /// Once per household, ever.
    Once,
}

/// Whether the entitlement is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Due; `amount_fen` is set for money codes.
    Granted,
    /// Cannot be decided (or priced) without a fact the household lacks; see `missing`.
    NeedsData,
    /// Not due; the basis says which condition failed.
    NotApplicable,
}

/// The two kinds of special family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FamilyKind {
    /// 独生子女死亡家庭 (失独).
    Bereaved,
    /// 独生子女伤残家庭 (grade 1–3).
    Disabled,
}

/// A parameter value used, with its source document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamUse {
    /// The value.
    #[serde(serialize_with = "arc_json")]
    pub value: Arc<serde_json::Value>,
    /// The document that sets it.
    #[serde(serialize_with = "arc_str")]
    pub source: Arc<str>,
    /// True when the value is a stand-in for a local standard.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub placeholder: bool,
    /// First day of this value.
    pub from: NaiveDate,
}

impl ParamUse {
    /// Records the dated value used.
    pub fn of<T: Serialize>(d: &Dated<T>) -> ParamUse {
        ParamUse {
            value: d.json(),
            source: d.source.clone(),
            placeholder: d.placeholder,
            from: d.from,
        }
    }
}

fn arc_json<S: Serializer>(v: &Arc<serde_json::Value>, ser: S) -> Result<S::Ok, S::Error> {
    v.serialize(ser)
}

fn arc_str<S: Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// Why an entitlement is (or is not) due: clause, text in Chinese and English,
/// the parameters and the facts used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Basis {
    /// The clause of the document, e.g. `二(三)`.
    pub clause: &'static str,
    /// The rule applied, or the condition that failed, in Chinese.
    pub zh: Cow<'static, str>,
    /// The same in English.
    pub en: Cow<'static, str>,
    /// Parameters used, by name.
    #[serde(serialize_with = "pairs")]
    pub params: Vec<(&'static str, ParamUse)>,
    /// Household facts used, by name.
    #[serde(serialize_with = "pairs")]
    pub facts: Vec<(&'static str, FactValue)>,
}

impl Basis {
    /// A basis with no parameters or facts yet.
    pub fn new(
        clause: &'static str,
        zh: impl Into<Cow<'static, str>>,
        en: impl Into<Cow<'static, str>>,
    ) -> Basis {
        Basis {
            clause,
            zh: zh.into(),
            en: en.into(),
            params: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param<T: Serialize>(mut self, name: &'static str, d: &Dated<T>) -> Basis {
        self.params.push((name, ParamUse::of(d)));
        self
    }

    /// Adds a fact.
    pub fn fact(mut self, name: &'static str, v: impl Into<FactValue>) -> Basis {
        self.facts.push((name, v.into()));
        self
    }
}

/// A fact's value in a basis. Kept typed until output: a date or a word costs no
/// allocation, which matters when 100,000 households are evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FactValue {
    /// Not recorded.
    Null,
    /// A yes/no fact.
    Bool(bool),
    /// A number (fen, grade, years).
    Int(i64),
    /// A date.
    Date(NaiveDate),
    /// A fixed word of the vocabulary (`bereaved`, `urban`, `none` …).
    Word(&'static str),
    /// Free text (a member id, a source).
    Text(String),
    /// Anything structured (the child).
    Json(serde_json::Value),
}

impl From<()> for FactValue {
    fn from(_: ()) -> FactValue {
        FactValue::Null
    }
}
impl From<bool> for FactValue {
    fn from(v: bool) -> FactValue {
        FactValue::Bool(v)
    }
}
impl From<i64> for FactValue {
    fn from(v: i64) -> FactValue {
        FactValue::Int(v)
    }
}
impl From<NaiveDate> for FactValue {
    fn from(v: NaiveDate) -> FactValue {
        FactValue::Date(v)
    }
}
impl From<&str> for FactValue {
    fn from(v: &str) -> FactValue {
        FactValue::Text(v.to_string())
    }
}
impl From<&String> for FactValue {
    fn from(v: &String) -> FactValue {
        FactValue::Text(v.clone())
    }
}
impl From<FamilyKind> for FactValue {
    fn from(v: FamilyKind) -> FactValue {
        FactValue::Word(match v {
            FamilyKind::Bereaved => "bereaved",
            FamilyKind::Disabled => "disabled",
        })
    }
}
impl From<Area> for FactValue {
    fn from(v: Area) -> FactValue {
        FactValue::Word(match v {
            Area::Urban => "urban",
            Area::Rural => "rural",
        })
    }
}
impl From<SelfCare> for FactValue {
    fn from(v: SelfCare) -> FactValue {
        FactValue::Word(match v {
            SelfCare::Full => "full",
            SelfCare::Partial => "partial",
            SelfCare::None => "none",
        })
    }
}
impl From<CivilCapacity> for FactValue {
    fn from(v: CivilCapacity) -> FactValue {
        FactValue::Word(match v {
            CivilCapacity::Full => "full",
            CivilCapacity::Limited => "limited",
            CivilCapacity::None => "none",
        })
    }
}
impl From<Child> for FactValue {
    fn from(v: Child) -> FactValue {
        FactValue::Json(serde_json::to_value(v).unwrap_or_default())
    }
}
impl<T: Into<FactValue>> From<Option<T>> for FactValue {
    fn from(v: Option<T>) -> FactValue {
        v.map_or(FactValue::Null, Into::into)
    }
}

fn pairs<S: Serializer, V: Serialize>(v: &[(&'static str, V)], ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_map(v.iter().map(|(k, v)| (k, v)))
}

/// One entitlement (or refusal) of one member, or of the household (`member: None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entitlement {
    /// The code.
    pub code: Code,
    /// The member id, or `None` for the household.
    pub member: Option<String>,
    /// Granted, needs data, or not applicable.
    pub status: Status,
    /// Amount in fen for money codes (`None` for services and when data is missing).
    pub amount_fen: Option<i64>,
    /// Period of the amount (`annual_checkup` is `year`: one per person per year).
    pub per: Option<Per>,
    /// The facts (JSON paths) that must be recorded before this can be decided.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Why.
    pub basis: Basis,
}

/// The result of evaluating one household on one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The id of the rule set in force.
    pub rule_set: String,
    /// The date evaluated.
    pub on: NaiveDate,
    /// Whether the household is a special family on that date.
    pub eligible: bool,
    /// Bereaved or disabled; `None` when not eligible.
    pub family_kind: Option<FamilyKind>,
    /// Why the household is (or is not) a special family.
    pub eligibility: Basis,
    /// Entitlements granted or needing data.
    pub entitlements: Vec<Entitlement>,
    /// Entitlements considered and refused, each with the failed condition.
    pub not_applicable: Vec<Entitlement>,
}
