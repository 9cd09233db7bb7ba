//! Console sign-in: passwords, browser sessions, failed attempts, and the log of personal data
//! shown in full.

use chrono::{DateTime, Utc};

use super::Db;
use crate::auth::session::Session;
use crate::auth::Caller;
use crate::error::{AppError, Result};
use crate::on_db;

/// What sign-in needs of an account.
#[derive(Debug, sqlx::FromRow)]
pub struct SignInRow {
    /// Its id.
    pub account_id: i64,
    /// Its stored password hash, if it has a password.
    pub password_hash: Option<String>,
    /// Whether it must choose a new password before anything else.
    pub password_must_change: bool,
}

/// The enabled account named `name`, with its password hash.
pub async fn sign_in_row(db: &Db, name: &str) -> Result<Option<SignInRow>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select account_id, password_hash, password_must_change from account
          where name = $1 and disabled_at is null")
        .bind(name).fetch_optional(p).await)?)
}

/// Sets an account's password hash; `must_change` makes the next sign-in ask for a new one.
/// Every session of the account ends (a password reset locks out whoever knew the old one).
pub async fn set_password(db: &Db, account_id: i64, hash: &str, must_change: bool) -> Result<()> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let n = crate::on_tx!(&mut tx, c => sqlx::query(
        "update account set password_hash = $2, password_must_change = $3
          where account_id = $1 and disabled_at is null")
        .bind(account_id).bind(hash).bind(must_change).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(AppError::NotFound("account"));
    }
    crate::on_tx!(&mut tx, c => sqlx::query(
        "update web_session set ended_at = $2 where account_id = $1 and ended_at is null")
        .bind(account_id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    tx.commit().await?;
    Ok(())
}

/// Records a new session.
pub async fn create(
    db: &Db,
    account_id: i64,
    hash: &str,
    csrf: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "insert into web_session (token_hash, account_id, csrf_token, created_at, last_seen_at)
         values ($1, $2, $3, $4, $4)")
        .bind(hash).bind(account_id).bind(csrf).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    web_session_id: i64,
    csrf_token: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    password_must_change: bool,
    account_id: i64,
    name: String,
    role: String,
    township_id: Option<String>,
    facility_id: Option<i64>,
}

/// The session a cookie's hash names, if it has not ended, its account is enabled, and it is
/// alive at `now` (idle and absolute limits, [`crate::auth::session::alive`]). Read on every
/// request, uncached: disabling an account or signing out takes effect at once.
pub async fn find(db: &Db, hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
    let row: Option<SessionRow> = on_db!(db, p => sqlx::query_as(
        "select s.web_session_id, s.csrf_token, s.created_at, s.last_seen_at,
                a.password_must_change, a.account_id, a.name, a.role, a.township_id, a.facility_id
           from web_session s join account a on a.account_id = s.account_id
          where s.token_hash = $1 and s.ended_at is null and a.disabled_at is null")
        .bind(hash).fetch_optional(p).await)?;
    let Some(r) = row.filter(|r| crate::auth::session::alive(r.created_at, r.last_seen_at, now))
    else {
        return Ok(None);
    };
    Ok(Some(Session {
        session_id: r.web_session_id,
        caller: Caller {
            account_id: r.account_id,
            name: r.name,
            role: r.role.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            township_id: r.township_id,
            facility_id: r.facility_id,
        },
        csrf: r.csrf_token,
        must_change_password: r.password_must_change,
        last_seen_at: r.last_seen_at,
    }))
}

/// Notes that a session was used at `now`.
pub async fn touch(db: &Db, session_id: i64, now: DateTime<Utc>) -> Result<()> {
    on_db!(db, p => sqlx::query("update web_session set last_seen_at = $2 where web_session_id = $1")
        .bind(session_id).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Ends a session (sign-out).
pub async fn end(db: &Db, session_id: i64, now: DateTime<Utc>) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "update web_session set ended_at = $2 where web_session_id = $1 and ended_at is null")
        .bind(session_id).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Records a failed sign-in for the name typed and the address it came from; returns its id.
pub async fn record_failure(db: &Db, name: &str, address: &str, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "insert into sign_in_failure (account_name, address, failed_at) values ($1, $2, $3)
         returning sign_in_failure_id")
        .bind(name).bind(address).bind(now).fetch_one(p).await)?)
}

/// Forgets one recorded attempt (one that was refused unchecked).
pub async fn forget_failure(db: &Db, id: i64) -> Result<()> {
    on_db!(db, p => sqlx::query("delete from sign_in_failure where sign_in_failure_id = $1")
        .bind(id).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Failed sign-ins since `since`: for the name, and from the address, each with the oldest
/// one's time (when the count first drops).
pub async fn failures_since(
    db: &Db,
    name: &str,
    address: &str,
    since: DateTime<Utc>,
) -> Result<((i64, Option<DateTime<Utc>>), (i64, Option<DateTime<Utc>>))> {
    Ok(on_db!(db, p => {
        let by_name: (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "select count(*), min(failed_at) from sign_in_failure where account_name = $1 and failed_at > $2")
            .bind(name).bind(since).fetch_one(p).await?;
        let by_address: (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "select count(*), min(failed_at) from sign_in_failure where address = $1 and failed_at > $2")
            .bind(address).bind(since).fetch_one(p).await?;
        Ok::<_, sqlx::Error>((by_name, by_address))
    })?)
}

/// Forgets the failed sign-ins for a name (after it signs in) and any older than `before`.
pub async fn clear_failures(db: &Db, name: &str, before: DateTime<Utc>) -> Result<()> {
    on_db!(db, p => sqlx::query("delete from sign_in_failure where account_name = $1 or failed_at < $2")
        .bind(name).bind(before).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Records that `account_id` was shown the full ID number of member `member_id` of household
/// `household_id`.
pub async fn record_view(
    db: &Db,
    account_id: i64,
    household_id: i64,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    on_db!(db, p => sqlx::query(
        "insert into personal_data_view (account_id, member_id, household_id, what, viewed_at)
         values ($1, $2, $3, 'id_number', $4)")
        .bind(account_id).bind(member_id).bind(household_id).bind(now).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// One line of the log of full numbers shown.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct View {
    /// When.
    pub viewed_at: DateTime<Utc>,
    /// Who (account name).
    pub account: String,
    /// Whose (member id, and the household).
    pub member_id: i64,
    /// The member's household.
    pub household_id: i64,
}

/// The latest `limit` views, newest first.
pub async fn views(db: &Db, limit: i64) -> Result<Vec<View>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select v.viewed_at, a.name as account, v.member_id, v.household_id
           from personal_data_view v join account a on a.account_id = v.account_id
          order by v.personal_data_view_id desc limit $1")
        .bind(limit).fetch_all(p).await)?)
}

/// An uploaded file waiting for its import.
#[derive(Debug, sqlx::FromRow)]
pub struct PendingImport {
    /// Who uploaded it.
    pub account_id: i64,
    /// The name it had on the user's PC.
    pub file_name: String,
    /// `auto`, `utf-8` or `gbk`.
    pub encoding: String,
    /// The file.
    pub content: Vec<u8>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A file uploaded in the console, to keep.
pub struct NewUpload<'a> {
    /// The random token that names it.
    pub token: &'a str,
    /// Who uploaded it.
    pub account_id: i64,
    /// Its name on the user's PC.
    pub file_name: &'a str,
    /// `auto`, `utf-8` or `gbk`.
    pub encoding: &'a str,
    /// The file.
    pub content: &'a [u8],
}

/// Keeps an uploaded file; files uploaded before `before` are dropped meanwhile.
pub async fn keep_upload(
    db: &Db,
    new: &NewUpload<'_>,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<()> {
    let mut tx = db.begin().await?;
    crate::on_tx!(&mut tx, c => sqlx::query("delete from pending_import where created_at < $1")
        .bind(before).execute(&mut *c).await.map(|_| ()))?;
    crate::on_tx!(&mut tx, c => sqlx::query(
        "insert into pending_import (token, account_id, file_name, encoding, content, created_at)
         values ($1, $2, $3, $4, $5, $6)")
        .bind(new.token).bind(new.account_id).bind(new.file_name).bind(new.encoding)
        .bind(new.content).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    tx.commit().await?;
    Ok(())
}

/// The uploaded file under `token`.
pub async fn upload(db: &Db, token: &str) -> Result<Option<PendingImport>> {
    Ok(on_db!(db, p => sqlx::query_as(
        "select account_id, file_name, encoding, content, created_at from pending_import where token = $1")
        .bind(token).fetch_optional(p).await)?)
}

/// Takes the uploaded file under `token` for its import: only one taker gets it.
pub async fn take_upload(db: &Db, token: &str) -> Result<bool> {
    Ok(
        on_db!(db, p => sqlx::query("delete from pending_import where token = $1")
        .bind(token).execute(p).await.map(|r| r.rows_affected() == 1))?,
    )
}
