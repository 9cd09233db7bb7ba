//! The rule book: every rule set the office has loaded, none overlapping.

use std::path::Path;

use chrono::NaiveDate;

use super::ruleset::{parse_toml, Continuation, RuleSet};
use super::{NoRuleSet, RuleError, Window};

/// The shipped rule set, compiled in so the engine works without any file.
const SHIPPED: &str = include_str!("../../rules/zhoucun-2018-85.toml");

/// The file the shipped rule set comes from, as named in errors and frozen lists.
pub const SHIPPED_FILE: &str = "rules/zhoucun-2018-85.toml";

/// Rule sets ordered by date; at most one is in force on any day.
#[derive(Debug, Clone, Default)]
pub struct RuleBook {
    sets: Vec<RuleSet>,
}

impl RuleBook {
    /// The text of the shipped rule set, as frozen with approved lists.
    pub fn shipped_text() -> &'static str {
        SHIPPED
    }

    /// An empty book (every date answers [`NoRuleSet`]).
    pub fn new() -> RuleBook {
        RuleBook::default()
    }

    /// The book with the shipped document only (周政发〔2018〕85号, 2019-02-01 ..= 2022-01-31).
    pub fn shipped() -> Result<RuleBook, RuleError> {
        let mut book = RuleBook::new();
        book.add(RuleSet::from_toml_str(SHIPPED, SHIPPED_FILE)?)?;
        Ok(book)
    }

    /// Loads every `*.toml` in a folder, in file-name order: rule sets first, then
    /// continuations (files with a `continues` key), so a continuation may sit anywhere.
    pub fn load_dir(dir: &Path) -> Result<RuleBook, RuleError> {
        let io = |file: &Path, e: std::io::Error| RuleError::Io {
            file: file.display().to_string(),
            message: e.to_string(),
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut book = RuleBook::new();
        let mut continuations = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let name = path.display().to_string();
            if is_continuation(&text) {
                continuations.push(parse_toml::<Continuation>(&text, &name)?);
            } else {
                book.add(RuleSet::from_toml_str(&text, &name)?)?;
            }
        }
        for c in continuations {
            book.extend(c)?;
        }
        Ok(book)
    }

    /// Reads one file: a rule set (added) or a continuation (applied to a set already
    /// in the book), e.g. a demo's `rules/demo/continuation-demo.toml`.
    pub fn load_file(&mut self, path: &Path) -> Result<(), RuleError> {
        let text = std::fs::read_to_string(path).map_err(|e| RuleError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        let name = path.display().to_string();
        if is_continuation(&text) {
            self.extend(parse_toml::<Continuation>(&text, &name)?)
        } else {
            self.add(RuleSet::from_toml_str(&text, &name)?)
        }
    }

    /// Reads one document's text: a rule set (added) or a continuation (applied), as
    /// [`RuleBook::load_file`] does for a file; `name` labels errors.
    pub fn add_text(&mut self, text: &str, name: &str) -> Result<(), RuleError> {
        if is_continuation(text) {
            self.extend(parse_toml::<Continuation>(text, name)?)
        } else {
            self.add(RuleSet::from_toml_str(text, name)?)
        }
    }

    /// Adds a rule set; refused if it is in force on a day another set covers.
    pub fn add(&mut self, set: RuleSet) -> Result<(), RuleError> {
        if let Some(other) = self
            .sets
            .iter()
            .find(|o| o.from <= set.until && set.from <= o.until)
        {
            return Err(overlap(&set.id, set.from, set.until, other));
        }
        self.sets.push(set);
        self.sets.sort_by_key(|s| s.from);
        Ok(())
    }

    /// Records that a rule set continues past its end (its last values stay in force).
    pub fn extend(&mut self, c: Continuation) -> Result<(), RuleError> {
        let refuse = |message: String| RuleError::Continuation {
            id: c.continues.clone(),
            message,
        };
        if c.source.trim().is_empty() {
            return Err(refuse("`source` must name the document".into()));
        }
        let Some(i) = self.sets.iter().position(|s| *s.id == *c.continues) else {
            let ids: Vec<&str> = self.sets.iter().map(|s| &*s.id).collect();
            return Err(refuse(format!(
                "no such rule set; the book holds: {}",
                ids.join(", ")
            )));
        };
        let set = &self.sets[i];
        if c.until <= set.until {
            return Err(refuse(format!(
                "until {} does not extend the current end {}",
                c.until, set.until
            )));
        }
        if let Some(other) = self
            .sets
            .iter()
            .find(|o| *o.id != *set.id && o.from <= c.until && set.from <= o.until)
        {
            return Err(overlap(&set.id, set.from, c.until, other));
        }
        let set = &mut self.sets[i];
        set.until = c.until;
        set.continuations.push(c);
        Ok(())
    }

    /// The rule set in force on `on`, or an error naming the date and the windows.
    pub fn in_force(&self, on: NaiveDate) -> Result<&RuleSet, NoRuleSet> {
        self.sets
            .iter()
            .find(|s| s.from <= on && on <= s.until)
            .ok_or_else(|| NoRuleSet {
                date: on,
                windows: self.windows(),
            })
    }

    /// The windows of every rule set, in date order.
    pub fn windows(&self) -> Vec<Window> {
        self.sets
            .iter()
            .map(|s| Window {
                id: s.id.to_string(),
                from: s.from,
                until: s.until,
            })
            .collect()
    }

    /// The rule sets, in date order.
    pub fn sets(&self) -> &[RuleSet] {
        &self.sets
    }
}

/// A continuation file is told apart by its top-level `continues` key.
fn is_continuation(text: &str) -> bool {
    text.parse::<toml::Table>()
        .map(|t| t.contains_key("continues"))
        .unwrap_or(false)
}

fn overlap(id: &str, from: NaiveDate, until: NaiveDate, other: &RuleSet) -> RuleError {
    RuleError::Overlap {
        new: id.to_string(),
        new_from: from,
        new_until: until,
        existing: other.id.to_string(),
        from: other.from,
        until: other.until,
    }
}
