//! Loading a rule document: checked against every stored one and stored in one transaction that
//! holds the rule documents' lock, so two overlapping documents loaded at once cannot both land.

use chrono::Utc;

use crate::db::rules::{self, RuleDocument};
use crate::db::Db;
use crate::error::{AppError, Result};

/// Checks a document against the shipped and stored ones (parse errors and overlaps name the
/// field or the other rule set) and stores it only if it loads.
pub async fn load(
    db: &Db,
    name: &str,
    body: &str,
    account_id: Option<i64>,
) -> Result<RuleDocument> {
    let mut tx = db.begin().await?;
    rules::lock(&mut tx).await?;
    let mut book = rules::book_of(&rules::texts_in(&mut tx).await?)?;
    book.add_text(body, name)
        .map_err(|e| AppError::bad_request("bad_rule_set", e.to_string()))?;
    let mut document = RuleDocument {
        rule_document_id: 0,
        name: name.to_owned(),
        loaded_at: Utc::now(),
        account_id,
    };
    document.rule_document_id = rules::insert(&mut tx, &document, body).await?;
    tx.commit().await?;
    Ok(document)
}

/// Checks a document as [`load`] would, without storing it: the windows the book would have.
pub async fn check(db: &Db, name: &str, body: &str) -> Result<Vec<crate::rules::Window>> {
    let mut book = rules::book_of(&rules::texts(db).await?)?;
    book.add_text(body, name)
        .map_err(|e| AppError::bad_request("bad_rule_set", e.to_string()))?;
    Ok(book.windows())
}
