//! Staff accounts and their bearer tokens.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::Db;
use crate::auth::{hash_token, new_token, Caller, StaffRole};
use crate::error::{AppError, Result};
use crate::on_db;

/// A staff account as listed to the office.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Account {
    /// Its id.
    pub account_id: i64,
    /// A unique name, e.g. `zhoucun-street-1`.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The township of a `township` account.
    pub township_id: Option<String>,
    /// The facility of a `desk` or `clinic` account.
    pub facility_id: Option<i64>,
    /// When the office disabled it.
    #[sqlx(default)]
    pub disabled_at: Option<chrono::DateTime<Utc>>,
}

/// A new staff account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// A unique name.
    pub name: String,
    /// Its role.
    pub role: StaffRole,
    /// Required for `township`, refused for the others.
    #[serde(default)]
    pub township_id: Option<String>,
    /// Required for `desk` and `clinic`, refused for the others.
    #[serde(default)]
    pub facility_id: Option<i64>,
}

/// Checks that the scope fields fit the role.
fn check_scope(input: &AccountInput) -> Result<()> {
    let needs_township = input.role == StaffRole::Township;
    let needs_facility = matches!(input.role, StaffRole::Desk | StaffRole::Clinic);
    if input.name.trim().is_empty() {
        return Err(AppError::field("name", "不能为空 / must not be empty"));
    }
    if needs_township != input.township_id.is_some() {
        return Err(AppError::field(
            "township_id",
            "仅镇街账号需要且必须填写 / required for the township role and only for it",
        ));
    }
    if needs_facility != input.facility_id.is_some() {
        return Err(AppError::field(
            "facility_id",
            "仅窗口和诊所账号需要且必须填写 / required for the desk and clinic roles and only for them",
        ));
    }
    Ok(())
}

/// Creates an account with a first token, in one transaction; returns the account and the
/// token's secret (shown once).
pub async fn create_account(db: &Db, input: &AccountInput) -> Result<(Account, String)> {
    create_account_with_password(db, input, None).await
}

/// Like [`create_account`], with a console password (its stored hash, and whether it must be
/// changed at the first sign-in) in the same transaction: the account never exists without it.
pub async fn create_account_with_password(
    db: &Db,
    input: &AccountInput,
    password: Option<(&str, bool)>,
) -> Result<(Account, String)> {
    check_scope(input)?;
    let (hash, must_change) = password.map_or((None, false), |(h, m)| (Some(h), m));
    let token = new_token();
    let now = Utc::now();
    let account: Account = on_db!(db, p => {
        let mut tx = p.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into account (name, role, township_id, facility_id, created_at, password_hash,
                                  password_must_change)
             values ($1, $2, $3, $4, $5, $6, $7) returning account_id")
            .bind(input.name.trim()).bind(input.role.as_str())
            .bind(input.township_id.as_deref()).bind(input.facility_id).bind(now)
            .bind(hash).bind(must_change)
            .fetch_one(&mut *tx).await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => AppError::conflict(
                    "account_exists", format!("an account named '{}' already exists", input.name.trim())),
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => AppError::field(
                    if input.township_id.is_some() { "township_id" } else { "facility_id" },
                    "不存在 / does not exist"),
                _ => AppError::from(e),
            })?;
        sqlx::query("insert into api_token (account_id, token_hash, label, created_at) values ($1, $2, 'initial', $3)")
            .bind(id).bind(&token.hash).bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Account {
            account_id: id,
            name: input.name.trim().to_owned(),
            role: input.role.as_str().to_owned(),
            township_id: input.township_id.clone(),
            facility_id: input.facility_id,
            disabled_at: None,
        }
    });
    Ok((account, token.secret))
}

/// Every account.
pub async fn accounts(db: &Db) -> Result<Vec<Account>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select account_id, name, role, township_id, facility_id, disabled_at from account order by account_id")
        .fetch_all(p).await)?)
}

/// The id of the enabled account of that name.
pub async fn enabled_id(db: &Db, name: &str) -> Result<Option<i64>> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "select account_id from account where name = $1 and disabled_at is null")
        .bind(name).fetch_optional(p).await)?)
}

/// Adds a token to an account; returns its secret.
pub async fn add_token(db: &Db, account_id: i64, label: &str) -> Result<String> {
    let token = new_token();
    let n = on_db!(db, p => sqlx::query(
        "insert into api_token (account_id, token_hash, label, created_at)
         select account_id, $2, $3, $4 from account where account_id = $1 and disabled_at is null")
        .bind(account_id).bind(&token.hash).bind(label).bind(Utc::now()).execute(p).await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(AppError::NotFound("account"));
    }
    Ok(token.secret)
}

/// Revokes every token of an account (e.g. a member of staff leaves).
pub async fn revoke_tokens(db: &Db, account_id: i64) -> Result<u64> {
    Ok(on_db!(db, p => sqlx::query(
        "update api_token set revoked_at = $2 where account_id = $1 and revoked_at is null")
        .bind(account_id).bind(Utc::now()).execute(p).await
        .map(|r| r.rows_affected()))?)
}

/// Disables an account, ending its console sessions and revoking its tokens, in one
/// transaction; returns how many sessions and tokens stopped.
pub async fn disable(db: &Db, account_id: i64) -> Result<(u64, u64)> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let n = crate::on_tx!(&mut tx, c => sqlx::query(
        "update account set disabled_at = $2 where account_id = $1 and disabled_at is null")
        .bind(account_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(AppError::NotFound("enabled account"));
    }
    let sessions = crate::on_tx!(&mut tx, c => sqlx::query(
        "update web_session set ended_at = $2 where account_id = $1 and ended_at is null")
        .bind(account_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let tokens = crate::on_tx!(&mut tx, c => sqlx::query(
        "update api_token set revoked_at = $2 where account_id = $1 and revoked_at is null")
        .bind(account_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok((sessions, tokens))
}

#[derive(sqlx::FromRow)]
struct CallerRow {
    account_id: i64,
    name: String,
    role: String,
    township_id: Option<String>,
    facility_id: Option<i64>,
}

/// The caller a bearer token belongs to, if the token is known, unrevoked and its account active.
pub async fn caller_for_token(db: &Db, secret: &str) -> Result<Option<Caller>> {
    caller_for_hash(db, &hash_token(secret)).await
}

/// Like [`caller_for_token`], given the token's stored hash.
pub async fn caller_for_hash(db: &Db, hash: &str) -> Result<Option<Caller>> {
    let row: Option<CallerRow> = on_db!(db, p => sqlx::query_as(
        "select a.account_id, a.name, a.role, a.township_id, a.facility_id
           from api_token t join account a on a.account_id = t.account_id
          where t.token_hash = $1 and t.revoked_at is null and a.disabled_at is null")
        .bind(hash).fetch_optional(p).await)?;
    row.map(|r| {
        Ok(Caller {
            account_id: r.account_id,
            name: r.name,
            role: r.role.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            township_id: r.township_id,
            facility_id: r.facility_id,
        })
    })
    .transpose()
}

/// Whether any office account exists (bootstrap refuses to make a second "first" one).
pub async fn office_exists(db: &Db) -> Result<bool> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar("select count(*) from account where role = 'office'")
        .fetch_one(p).await)?;
    Ok(n > 0)
}
