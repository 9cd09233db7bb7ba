//! The public half of the card-signing keys, shared by every instance (`card_key`).

use chrono::{DateTime, NaiveDate, Utc};

use super::Db;
use crate::card::{KeyEntry, KeyId, KeySet};
use crate::error::{AppError, Result};
use crate::on_db;

#[derive(sqlx::FromRow)]
struct KeyRow {
    key_id: String,
    public_key: String,
    status: String,
    created_at: DateTime<Utc>,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    signed_until: Option<NaiveDate>,
}

/// The key set as the database has it (empty before any instance published one).
pub async fn load(db: &Db) -> Result<KeySet> {
    let rows: Vec<KeyRow> = on_db!(db, p => sqlx::query_as(
        "select key_id, public_key, status, created_at, valid_from, valid_until, signed_until
           from card_key order by created_at, key_id")
        .fetch_all(p).await)?;
    let keys = rows
        .into_iter()
        .map(|r| {
            Ok(KeyEntry {
                key_id: KeyId::parse_hex(&r.key_id).ok_or_else(|| corrupt("key id", &r.key_id))?,
                public_key: r.public_key,
                status: r
                    .status
                    .parse()
                    .map_err(|e: String| corrupt("key status", &e))?,
                created: r.created_at,
                valid_from: r.valid_from,
                valid_until: r.valid_until,
                signed_until: r.signed_until,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The same checks as a key set read from a file: canonical, prime-order keys with their ids.
    KeySet::from_json(&KeySet::new(keys).to_json()).map_err(|e| corrupt("key set", &e.to_string()))
}

fn corrupt(what: &str, e: &str) -> AppError {
    AppError::Internal(anyhow::anyhow!("stored {what} is not valid: {e}"))
}

/// Publishes a key set: new keys are added, known ones only move forward — the more final status
/// and the earlier `signed_until` win, in the database itself, so two instances publishing at
/// once cannot undo each other's changes.
pub async fn publish(db: &Db, set: &KeySet) -> Result<()> {
    const FINALITY: &str =
        "case {} when 'active' then 0 when 'verify_only' then 1 when 'retired' then 2 else 3 end";
    let sql = format!(
        "insert into card_key (key_id, public_key, status, created_at, valid_from, valid_until, signed_until)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (key_id) do update set
           status = case when {new} > {old} then excluded.status else card_key.status end,
           signed_until = case
             when card_key.signed_until is null then excluded.signed_until
             when excluded.signed_until is null then card_key.signed_until
             when excluded.signed_until < card_key.signed_until then excluded.signed_until
             else card_key.signed_until end",
        new = FINALITY.replace("{}", "excluded.status"),
        old = FINALITY.replace("{}", "card_key.status"),
    );
    for k in &set.keys {
        on_db!(db, p => sqlx::query(&sql)
            .bind(k.key_id.to_hex()).bind(&k.public_key).bind(k.status.as_str()).bind(k.created)
            .bind(k.valid_from).bind(k.valid_until).bind(k.signed_until)
            .execute(p).await.map(|_| ()))?;
    }
    Ok(())
}
