//! The engine's errors. Every message names the file, field or date at fault.

use chrono::NaiveDate;

/// A rule-set or continuation file (or a rule book operation) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The file is not valid TOML for a rule set, or a key is unknown or missing.
    #[error("{file}: at `{path}`: {message}")]
    Parse {
        /// File name (or a label for text).
        file: String,
        /// Key path, e.g. `params.woman_min_age.values[0].from`.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The file parses but a value is refused (dates, sources, amounts).
    #[error("{file}: `{path}`: {message}")]
    Invalid {
        /// File name.
        file: String,
        /// Key path of the offending value.
        path: String,
        /// Why it is refused.
        message: String,
    },
    /// A rule set would be in force on a day another one already covers.
    #[error(
        "rule set {new} ({new_from} ..= {new_until}) overlaps {existing} ({from} ..= {until})"
    )]
    Overlap {
        /// The rule set being added or extended.
        new: String,
        /// Its first day.
        new_from: NaiveDate,
        /// Its last day.
        new_until: NaiveDate,
        /// The rule set already in the book.
        existing: String,
        /// Its first day.
        from: NaiveDate,
        /// Its last day.
        until: NaiveDate,
    },
    /// A continuation names a rule set the book does not hold, or does not extend it.
    #[error("continuation of {id}: {message}")]
    Continuation {
        /// The rule set named by `continues`.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A rule-set file or folder could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The path.
        file: String,
        /// The I/O error.
        message: String,
    },
}

/// One rule set's window, as listed in a [`NoRuleSet`] error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// The rule set id.
    pub id: String,
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force (inclusive).
    pub until: NaiveDate,
}

/// No rule set is in force on the date asked: nothing is computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no rule set is in force on {date}; rule sets exist for: {}", list(.windows))]
pub struct NoRuleSet {
    /// The date asked.
    pub date: NaiveDate,
    /// Every window the book holds, in date order.
    pub windows: Vec<Window>,
}

fn list(windows: &[Window]) -> String {
    if windows.is_empty() {
        return "(none loaded)".to_string();
    }
    windows
        .iter()
        .map(|w| format!("{} {} ..= {}", w.id, w.from, w.until))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why `eval_json` could not evaluate a household.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The household JSON is malformed or a field is missing, unknown-valued or impossible.
    #[error("household: field `{path}` (line {line}, column {column}): {message}")]
    Household {
        /// Field path, e.g. `members[1].born_on` (`.` for the whole document).
        path: String,
        /// 1-based line in the JSON text.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// No rule set is in force on the date.
    #[error(transparent)]
    NoRuleSet(#[from] NoRuleSet),
}
