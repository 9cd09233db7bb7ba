//! Console sign-in: password checks off the async workers, throttling of repeated failures per
//! account name and per address (the same answer whether or not the name exists), sessions, and
//! password changes.

use chrono::{DateTime, Duration, Utc};

use crate::auth::password::{Password, WeakPassword};
use crate::auth::session::{NewSession, Session};
use crate::db::{sessions, Db};
use crate::error::{AppError, Result};

/// Failures are counted over this window.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failures for one account name within [`WINDOW`] before it is refused for a while.
pub const PER_ACCOUNT: i64 = 5;
/// Failures from one address within [`WINDOW`] (an office behind one NAT address shares it).
pub const PER_ADDRESS: i64 = 20;

/// Why a sign-in did not succeed. Both say nothing about whether the account exists.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown name, wrong password, disabled account or no password set: one answer for all.
    #[error("用户名或密码不正确 / wrong name or password")]
    Wrong,
    /// Too many failures: try again after this many minutes.
    #[error("尝试次数过多，请 {0} 分钟后再试 / too many attempts; try again in {0} min")]
    Throttled(i64),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] AppError),
}

/// Password checks at once: each takes 19 MiB and a core for tens of milliseconds, so a flood
/// of sign-ins from many addresses queues here instead of taking the blocking pool's threads
/// and the machine's memory.
static CHECKS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores.max(2))
});

/// Runs a password hash or check on the blocking pool, at most [`CHECKS`] at a time.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _permit = CHECKS
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password checks closed: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password check stopped: {e}")))
}

/// Records an attempt for `name` from `address` and counts the window's failures with it: the
/// attempt is refused (and forgotten) when over a limit. Returns the attempt's id.
async fn admit(
    db: &Db,
    name: &str,
    address: &str,
    now: DateTime<Utc>,
) -> std::result::Result<i64, SignInError> {
    let attempt = sessions::record_failure(db, name, address, now).await?;
    let ((by_name, name_oldest), (by_address, address_oldest)) =
        sessions::failures_since(db, name, address, now - WINDOW).await?;
    let wait = |oldest: Option<DateTime<Utc>>| {
        let until = oldest.unwrap_or(now) + WINDOW;
        ((until - now).num_seconds() + 59).div_euclid(60).max(1)
    };
    let throttled = if by_name > PER_ACCOUNT {
        Some(wait(name_oldest))
    } else if by_address > PER_ADDRESS {
        Some(wait(address_oldest))
    } else {
        None
    };
    if let Some(minutes) = throttled {
        // Not checked, so not counted: the refusal lifts a window after the last real failure,
        // however long someone goes on trying.
        sessions::forget_failure(db, attempt).await?;
        return Err(SignInError::Throttled(minutes));
    }
    Ok(attempt)
}

/// A signed-in session: the cookie value to set, and its CSRF token.
pub struct SignedIn {
    /// The session cookie's value.
    pub cookie: String,
    /// Whether the account must choose a new password first.
    pub must_change_password: bool,
}

/// Checks `password` for `name` and opens a session.
///
/// The attempt is recorded as a failure *before* the check and counted after, so that however
/// many guesses arrive at once, no more than [`PER_ACCOUNT`] are ever checked in a window: the
/// database's count, not a count read earlier, decides.
pub async fn sign_in(
    db: &Db,
    name: &str,
    password: &str,
    address: &str,
    now: DateTime<Utc>,
) -> std::result::Result<SignedIn, SignInError> {
    let name = name.trim();
    admit(db, name, address, now).await?;
    let row = sessions::sign_in_row(db, name).await?;
    let typed = Password::typed(password);
    let ok = hashing(move || match (typed, row) {
        (
            Some(p),
            Some(sessions::SignInRow {
                password_hash: Some(h),
                account_id,
                password_must_change,
            }),
        ) => p.matches(&h).then_some((account_id, password_must_change)),
        (Some(p), _) => {
            p.spend_a_check();
            None
        }
        (None, _) => None,
    })
    .await?;
    let Some((account_id, must_change_password)) = ok else {
        return Err(SignInError::Wrong);
    };
    sessions::clear_failures(db, name, now - WINDOW).await?;
    let cookie = open(db, account_id, now).await?;
    Ok(SignedIn {
        cookie,
        must_change_password,
    })
}

/// Opens a session for an account that has proved who it is; returns the cookie's value.
async fn open(db: &Db, account_id: i64, now: DateTime<Utc>) -> Result<String> {
    let new = NewSession::new();
    sessions::create(db, account_id, &new.hash, &new.csrf, now).await?;
    Ok(new.secret)
}

/// The live session behind a cookie value, noting the visit.
pub async fn session(db: &Db, cookie: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
    let found = sessions::find(db, &NewSession::hash_of(cookie), now).await?;
    if let Some(s) = &found {
        if now - s.last_seen_at >= crate::auth::session::TOUCH_EVERY {
            sessions::touch(db, s.session_id, now).await?;
        }
    }
    Ok(found)
}

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The current password given is wrong.
    #[error("当前密码不正确 / the current password is wrong")]
    WrongCurrent,
    /// The two new passwords differ.
    #[error("两次输入的新密码不一致 / the new passwords differ")]
    Mismatch,
    /// The new one is the old one.
    #[error("新密码不能与当前密码相同 / the new password must differ from the current one")]
    Unchanged,
    /// The new one breaks a rule.
    #[error(transparent)]
    Weak(#[from] WeakPassword),
    /// Too many wrong current passwords (they count as failed sign-ins of the account).
    #[error("尝试次数过多，请 {0} 分钟后再试 / too many attempts; try again in {0} min")]
    Throttled(i64),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] AppError),
}

/// Changes the signed-in account's password. Every session of the account ends (also on other
/// PCs) and a new one opens here: its cookie is returned.
pub async fn change_password(
    db: &Db,
    session: &Session,
    address: &str,
    current: &str,
    new: &str,
    repeated: &str,
) -> std::result::Result<String, ChangeError> {
    if new != repeated {
        return Err(ChangeError::Mismatch);
    }
    let new = Password::new_for(new, &session.caller.name)?;
    if new.reveal() == current {
        return Err(ChangeError::Unchanged);
    }
    let row = sessions::sign_in_row(db, &session.caller.name)
        .await?
        .ok_or(AppError::Unauthorized)?;
    // A wrong current password is a failed sign-in: someone at an unlocked PC cannot guess on.
    let name = session.caller.name.as_str();
    match admit(db, name, address, Utc::now()).await {
        Ok(_) => {}
        Err(SignInError::Throttled(m)) => return Err(ChangeError::Throttled(m)),
        Err(SignInError::Store(e)) => return Err(e.into()),
        Err(SignInError::Wrong) => return Err(ChangeError::WrongCurrent),
    }
    let current = Password::typed(current).ok_or(ChangeError::WrongCurrent)?;
    let hashed = hashing(move || {
        let ok = row
            .password_hash
            .as_deref()
            .is_some_and(|h| current.matches(h));
        ok.then(|| new.hash())
    })
    .await?
    .ok_or(ChangeError::WrongCurrent)?;
    sessions::clear_failures(db, name, Utc::now() - WINDOW).await?;
    sessions::set_password(db, session.caller.account_id, &hashed, false).await?;
    Ok(open(db, session.caller.account_id, Utc::now()).await?)
}

/// Sets a password for an account (the command line, the office's reset, the demo), hashing on
/// the blocking pool. With `temporary`, the account must choose its own at the next sign-in.
pub async fn set_password(
    db: &Db,
    account_id: i64,
    password: Password,
    temporary: bool,
) -> Result<()> {
    let hashed = hashing(move || password.hash()).await?;
    sessions::set_password(db, account_id, &hashed, temporary).await
}

/// Ends a session.
pub async fn sign_out(db: &Db, session: &Session) -> Result<()> {
    sessions::end(db, session.session_id, Utc::now()).await
}

/// Creates an account with its first token and a console password, in one transaction (the
/// hash is made first, on the blocking pool). With `temporary`, the account must choose its own
/// password at its first sign-in. Returns the account and the token (shown once).
pub async fn create_account(
    db: &Db,
    input: &crate::db::accounts::AccountInput,
    password: Password,
    temporary: bool,
) -> Result<(crate::db::accounts::Account, String)> {
    let hashed = hashing(move || password.hash()).await?;
    crate::db::accounts::create_account_with_password(db, input, Some((&hashed, temporary))).await
}
