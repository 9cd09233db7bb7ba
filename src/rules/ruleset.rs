//! One rule set: a policy document's parameters with the dates their values change.
//!
//! A rule set is a TOML file (see `rules/zhoucun-2018-85.toml`). Every parameter is a
//! [`Param`]: a list of dated values, each with the document it comes from. Loading
//! refuses anything that would make an amount ambiguous: unsorted or duplicate dates,
//! impossible dates, a value dated outside the set's window, unknown keys, a missing
//! or empty source.

use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use serde::Deserialize;

use super::validate::{change_dates, rename_file};
use super::RuleError;

/// A value of a parameter from a date on, with the document that sets it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dated<T> {
    /// First day (inclusive) this value applies.
    pub from: NaiveDate,
    /// The value (money is integer fen).
    pub value: T,
    /// The document (and clause) that sets this value (shared: every basis cites it).
    #[serde(deserialize_with = "arc_str")]
    pub source: Arc<str>,
    /// True when the text leaves the value to a local standard and this is a stand-in.
    #[serde(default)]
    pub placeholder: bool,
    /// Free text for the office (why a placeholder, what to set).
    #[serde(default)]
    pub note: Option<String>,
    /// The value as JSON, made once on first use: every basis that cites the
    /// parameter shares it instead of re-serializing (this keeps 100k households fast).
    #[serde(skip)]
    json: OnceLock<Arc<serde_json::Value>>,
}

impl<T: serde::Serialize> Dated<T> {
    /// The value as JSON (shared).
    pub fn json(&self) -> Arc<serde_json::Value> {
        self.json
            .get_or_init(|| Arc::new(serde_json::to_value(&self.value).unwrap_or_default()))
            .clone()
    }
}

/// The value a parameter had before this document (kept for the record, never applied).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior<T> {
    /// The earlier value.
    pub value: T,
    /// Where the earlier value is stated.
    pub source: String,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
}

/// A parameter: its dated values (sorted, the first on the set's first day). Only
/// loading builds one, so a `Param` in hand is never empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param<T> {
    /// The value before this document, if the text names one.
    // No `#[serde(default)]`: it would demand `T: Default`; serde already treats a
    // missing `Option` field as `None`.
    pub(crate) previous: Option<Prior<T>>,
    /// Dated values in increasing order of `from` (never empty once loaded).
    pub(crate) values: Vec<Dated<T>>,
}

impl<T> Param<T> {
    /// The value before this document, if the text names one.
    pub fn previous(&self) -> Option<&Prior<T>> {
        self.previous.as_ref()
    }

    /// Dated values in increasing order of `from`.
    pub fn values(&self) -> &[Dated<T>] {
        &self.values
    }

    /// The value in force on `on` (the last one whose `from` is not after `on`).
    ///
    /// Validation guarantees the first value starts on the set's first day, so for a
    /// date inside the window this always finds one; outside it falls back to the first.
    pub fn at(&self, on: NaiveDate) -> &Dated<T> {
        let idx = self.values.partition_point(|d| d.from <= on);
        &self.values[idx.saturating_sub(1)]
    }
}

/// A row of the resident pension contribution tier table (二(七)1).
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The yearly contribution of the tier, in fen.
    pub contribution_fen: i64,
    /// The district's yearly subsidy for that tier, in fen.
    pub subsidy_fen: i64,
}

/// A fraction (the dibao top-up is "one third above the line").
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    /// Numerator.
    pub numerator: i64,
    /// Denominator (positive).
    pub denominator: i64,
}

/// Every parameter of the policy. Field names are the keys of the `[params]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// "女方年满49周岁": the woman's age gate (years).
    pub woman_min_age: Param<u32>,
    /// "年满60周岁": the elderly age gate (years).
    pub elderly_min_age: Param<u32>,
    /// Disability grades of the only child that qualify ("三级以上": 1, 2, 3).
    pub qualifying_disability_grades: Param<Vec<u8>>,
    /// 二(三) special assistance, bereaved family, per parent per month (fen).
    pub special_assistance_bereaved_fen: Param<i64>,
    /// 二(三) special assistance, disabled family, per parent per month (fen).
    pub special_assistance_disabled_fen: Param<i64>,
    /// 二(四) one-time relief per household (fen).
    pub bereavement_relief_fen: Param<i64>,
    /// 二(五)1 the year's resident medical insurance personal contribution (fen per person).
    pub medical_insurance_contribution_fen: Param<i64>,
    /// 二(五)3 commercial insurance premium per person per year (fen).
    pub commercial_insurance_fen: Param<i64>,
    /// 二(六) monthly minimum-living line, urban (fen per person).
    pub dibao_line_urban_fen: Param<i64>,
    /// 二(六) monthly minimum-living line, rural (fen per person).
    pub dibao_line_rural_fen: Param<i64>,
    /// 二(六) how far above the line the support is set ("三分之一").
    pub dibao_top_up_fraction: Param<Fraction>,
    /// 二(七)1 contribution tiers and their yearly subsidy.
    pub pension_contribution_tiers: Param<Vec<Tier>>,
    /// 二(七)1 the contribution the district pays for the severely disabled (fen per year).
    pub pension_paid_on_behalf_fen: Param<i64>,
    /// 二(七)2 percent of own basic pension, disabled family.
    pub pension_fp_subsidy_disabled_percent: Param<i64>,
    /// 二(七)2 percent of own basic pension, bereaved family.
    pub pension_fp_subsidy_bereaved_percent: Param<i64>,
    /// 二(七)3 nursing subsidy per person per month (fen).
    pub nursing_subsidy_fen: Param<i64>,
    /// 二(八)1 one-time IVF rebirth subsidy per household (fen).
    pub ivf_subsidy_fen: Param<i64>,
    /// 二(九)1 housekeeping / farm-help grant per household per year (fen).
    pub household_service_grant_fen: Param<i64>,
}

/// A document made extension: the office records that a rule set continues past its end.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    /// The id of the rule set that continues.
    pub continues: String,
    /// The new last day in force (inclusive).
    pub until: NaiveDate,
    /// The document that decides the continuation.
    pub source: String,
    /// Free text (e.g. "demo only").
    #[serde(default)]
    pub note: Option<String>,
}

/// A policy document as data. Build it with [`RuleSet::from_toml_str`]; read it with
/// the accessors (fields are private so a loaded set cannot be made invalid).
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The document number, e.g. `周政发〔2018〕85号`.
    pub(crate) id: Arc<str>,
    /// The document title.
    pub(crate) title: String,
    /// First day in force.
    pub(crate) from: NaiveDate,
    /// Last day in force (inclusive), after any continuation.
    pub(crate) until: NaiveDate,
    /// Where the window is stated.
    pub(crate) source: String,
    /// Continuations recorded by the office, in order.
    pub(crate) continuations: Vec<Continuation>,
    /// The parameters.
    pub(crate) params: Params,
    /// Every day (after the first) on which some parameter changes value, sorted.
    pub(crate) change_dates: Vec<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    id: String,
    title: String,
    from: NaiveDate,
    until: NaiveDate,
    source: String,
    params: Params,
}

fn arc_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    String::deserialize(d).map(Arc::from)
}

/// Deserializes TOML text, naming the key path and the line of any error.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, RuleError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| RuleError::Parse {
        file: file.to_string(),
        path: e.path().to_string(),
        // toml's message already carries the line and column and a snippet.
        message: e.inner().to_string(),
    })
}

impl RuleSet {
    /// Parses and validates a rule set; `file` names it in error messages.
    pub fn from_toml_str(text: &str, file: &str) -> Result<RuleSet, RuleError> {
        let raw: RawRuleSet = parse_toml(text, file)?;
        let set = RuleSet {
            id: Arc::from(raw.id.as_str()),
            title: raw.title,
            from: raw.from,
            until: raw.until,
            source: raw.source,
            continuations: Vec::new(),
            change_dates: Vec::new(),
            params: raw.params,
        };
        set.validate().map_err(|e| rename_file(e, file))?;
        let mut set = set;
        set.change_dates = change_dates(&set.params);
        Ok(set)
    }

    /// The document number, e.g. `周政发〔2018〕85号`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The document title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// First day in force.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// Last day in force (inclusive), after any continuation.
    pub fn until(&self) -> NaiveDate {
        self.until
    }

    /// Where the window is stated.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Continuations recorded by the office, in order.
    pub fn continuations(&self) -> &[Continuation] {
        &self.continuations
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whether any parameter changes value on a day in `(after, upto]`.
    pub fn changes_between(&self, after: NaiveDate, upto: NaiveDate) -> bool {
        self.change_dates.iter().any(|d| after < *d && *d <= upto)
    }
}
