//! The pure part of `greenchannel rules eval --on DATE household.json`.

use chrono::NaiveDate;

use super::household::Household;
use super::{evaluate, EvalError, RuleBook};

/// Parses household JSON; the error names the field path, line and column.
pub fn parse_household(json: &str) -> Result<Household, EvalError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let household: Household = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        household_error(path, e.into_inner())
    })?;
    // Trailing garbage after the object is an error too.
    de.end().map_err(|e| household_error(".".into(), e))?;
    Ok(household)
}

fn household_error(path: String, e: serde_json::Error) -> EvalError {
    let full = e.to_string();
    // serde_json appends " at line L column C"; we report those as fields.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    EvalError::Household {
        path,
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Evaluates household JSON on `on` and returns the evaluation as JSON.
pub fn eval_json(
    book: &RuleBook,
    household_json: &str,
    on: NaiveDate,
) -> Result<serde_json::Value, EvalError> {
    let household = parse_household(household_json)?;
    let ev = evaluate(book, &household, on)?;
    // Serializing plain data structures with string keys cannot fail.
    Ok(serde_json::to_value(ev).unwrap_or(serde_json::Value::Null))
}
