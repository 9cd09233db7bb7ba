//! Rule documents loaded by the office, and the rule book they make with the shipped one.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Db;
use crate::error::{AppError, Result};
use crate::on_db;
use crate::rules::{RuleBook, SHIPPED_FILE};

/// A rule document as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RuleDocument {
    /// Its id; documents apply in this order.
    pub rule_document_id: i64,
    /// The file name or label it was loaded under.
    pub name: String,
    /// When.
    pub loaded_at: DateTime<Utc>,
    /// By whom.
    pub account_id: Option<i64>,
}

/// One rule document's text, as loaded into the book and frozen with approved lists.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RuleText {
    /// The file name or label.
    pub name: String,
    /// The TOML.
    pub body: String,
}

/// Every rule document in loading order: the shipped one, then those the office loaded.
pub async fn texts(db: &Db) -> Result<Vec<RuleText>> {
    let mut texts = vec![RuleText {
        name: SHIPPED_FILE.into(),
        body: RuleBook::shipped_text().into(),
    }];
    let loaded: Vec<RuleText> = on_db!(db, p => sqlx::query_as("select name, body from rule_document order by rule_document_id")
        .fetch_all(p).await)?;
    texts.extend(loaded);
    Ok(texts)
}

/// The rule book of [`texts`], and the id of the last document (to tell when the book must be
/// rebuilt).
pub async fn book(db: &Db) -> Result<(RuleBook, i64)> {
    let mut book = RuleBook::new();
    for d in texts(db).await? {
        book.add_text(&d.body, &d.name).map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "stored rule document {} no longer loads: {e}",
                d.name
            ))
        })?;
    }
    Ok((book, latest(db).await?))
}

/// The id of the last loaded document (0 when none).
pub async fn latest(db: &Db) -> Result<i64> {
    let id: Option<i64> = on_db!(db, p => sqlx::query_scalar("select max(rule_document_id) from rule_document")
        .fetch_one(p).await)?;
    Ok(id.unwrap_or(0))
}

/// Checks a document against the current book (parse errors and overlaps name the field or the
/// other rule set) and stores it only if it loads.
pub async fn load(
    db: &Db,
    name: &str,
    body: &str,
    account_id: Option<i64>,
) -> Result<RuleDocument> {
    let (mut book, _) = book(db).await?;
    book.add_text(body, name)
        .map_err(|e| AppError::bad_request("bad_rule_set", e.to_string()))?;
    let now = Utc::now();
    let id: i64 = on_db!(db, p => sqlx::query_scalar(
        "insert into rule_document (name, body, loaded_at, account_id) values ($1, $2, $3, $4) returning rule_document_id")
        .bind(name).bind(body).bind(now).bind(account_id).fetch_one(p).await)?;
    Ok(RuleDocument {
        rule_document_id: id,
        name: name.to_owned(),
        loaded_at: now,
        account_id,
    })
}

/// Every loaded document.
pub async fn documents(db: &Db) -> Result<Vec<RuleDocument>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select rule_document_id, name, loaded_at, account_id from rule_document order by rule_document_id")
        .fetch_all(p).await)?)
}
