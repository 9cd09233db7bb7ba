//! Rule documents loaded by the office, and the rule book they make with the shipped one.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Db, Tx};
use crate::error::{AppError, Result};
use crate::rules::{RuleBook, SHIPPED_FILE};
use crate::{on_db, on_tx};

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

/// The shipped document, which every book starts with.
fn shipped() -> RuleText {
    RuleText {
        name: SHIPPED_FILE.into(),
        body: RuleBook::shipped_text().into(),
    }
}

/// Every rule document in loading order: the shipped one, then those the office loaded.
pub async fn texts(db: &Db) -> Result<Vec<RuleText>> {
    let mut texts = vec![shipped()];
    let loaded: Vec<RuleText> = on_db!(db, p => sqlx::query_as("select name, body from rule_document order by rule_document_id")
        .fetch_all(p).await)?;
    texts.extend(loaded);
    Ok(texts)
}

/// The rule book of stored documents (a stored one that no longer loads is an internal error).
pub fn book_of(texts: &[RuleText]) -> Result<RuleBook> {
    let mut book = RuleBook::new();
    for d in texts {
        book.add_text(&d.body, &d.name).map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "stored rule document {} no longer loads: {e}",
                d.name
            ))
        })?;
    }
    Ok(book)
}

/// The rule book of [`texts`], and the id of the last document (to tell when the book must be
/// rebuilt).
pub async fn book(db: &Db) -> Result<(RuleBook, i64)> {
    Ok((book_of(&texts(db).await?)?, latest(db).await?))
}

/// The id of the last loaded document (0 when none).
pub async fn latest(db: &Db) -> Result<i64> {
    let id: Option<i64> = on_db!(db, p => sqlx::query_scalar("select max(rule_document_id) from rule_document")
        .fetch_one(p).await)?;
    Ok(id.unwrap_or(0))
}

/// Takes the rule documents' write lock for the rest of `tx`, so that checking a new document
/// against the stored ones and inserting it cannot interleave with another load (on SQLite an
/// `IMMEDIATE` transaction already holds the database's write lock).
pub async fn lock(tx: &mut Tx) -> Result<()> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("lock table rule_document in share row exclusive mode")
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// Like [`texts`], read inside `tx`.
pub async fn texts_in(tx: &mut Tx) -> Result<Vec<RuleText>> {
    let mut texts = vec![shipped()];
    let loaded: Vec<RuleText> = on_tx!(tx, c => sqlx::query_as("select name, body from rule_document order by rule_document_id")
        .fetch_all(&mut *c).await)?;
    texts.extend(loaded);
    Ok(texts)
}

/// Stores a document; the caller has checked that it loads with the others.
pub async fn insert(tx: &mut Tx, document: &RuleDocument, body: &str) -> Result<i64> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "insert into rule_document (name, body, loaded_at, account_id) values ($1, $2, $3, $4) returning rule_document_id")
        .bind(&document.name).bind(body).bind(document.loaded_at).bind(document.account_id)
        .fetch_one(&mut *c).await)?)
}

/// Every loaded document.
pub async fn documents(db: &Db) -> Result<Vec<RuleDocument>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select rule_document_id, name, loaded_at, account_id from rule_document order by rule_document_id")
        .fetch_all(p).await)?)
}
