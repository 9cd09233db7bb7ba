//! Staff accounts and tokens (office only), and `GET /me` for everyone.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use super::extract::{AnyStaff, Json, OfficeOnly, Path, Staff};
use super::AppState;
use crate::auth::Caller;
use crate::db::accounts::{self, Account, AccountInput};
use crate::error::Result;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/accounts", get(list).post(create))
        .route(
            "/accounts/{id}/tokens",
            post(add_token).delete(revoke_tokens),
        )
        .route("/accounts/{id}/disable", post(disable))
        .route("/accounts/{id}/password", post(reset_password))
}

async fn me(caller: Staff<AnyStaff>) -> Json<Caller> {
    Json(caller.0)
}

async fn list(_: Staff<OfficeOnly>, State(s): State<AppState>) -> Result<Json<Vec<Account>>> {
    Ok(Json(accounts::accounts(&s.db).await?))
}

#[derive(Serialize)]
struct Created {
    account: Account,
    /// Shown once; only its hash is stored.
    token: String,
}

async fn create(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Json(input): Json<AccountInput>,
) -> Result<(StatusCode, Json<Created>)> {
    let (account, token) = accounts::create_account(&s.db, &input).await?;
    Ok((StatusCode::CREATED, Json(Created { account, token })))
}

#[derive(Serialize)]
struct NewToken {
    token: String,
}

async fn add_token(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<NewToken>)> {
    let token = accounts::add_token(&s.db, id, "issued by the office").await?;
    Ok((StatusCode::CREATED, Json(NewToken { token })))
}

#[derive(Serialize)]
struct Revoked {
    revoked: u64,
}

async fn revoke_tokens(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Revoked>> {
    let revoked = accounts::revoke_tokens(&s.db, id).await?;
    s.callers.clear();
    Ok(Json(Revoked { revoked }))
}

#[derive(Serialize)]
struct Disabled {
    account_id: i64,
    sessions_ended: u64,
    tokens_revoked: u64,
}

/// Disables an account: its console sessions end and its tokens stop, in one transaction; this
/// instance's token cache forgets them at once (another instance's within
/// [`super::callers::TTL`]).
async fn disable(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Disabled>> {
    if id == caller.account_id {
        return Err(crate::error::AppError::conflict(
            "own_account",
            "an account cannot disable itself / 不能停用自己的账号",
        ));
    }
    let (sessions_ended, tokens_revoked) = accounts::disable(&s.db, id).await?;
    s.callers.clear();
    Ok(Json(Disabled {
        account_id: id,
        sessions_ended,
        tokens_revoked,
    }))
}

#[derive(Serialize)]
struct TemporaryPassword {
    /// Shown once; to be changed at the next sign-in.
    password: String,
}

async fn reset_password(
    _: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<TemporaryPassword>> {
    let password = crate::auth::password::Password::random();
    crate::service::sign_in::set_password(&s.db, id, password.clone(), true).await?;
    Ok(Json(TemporaryPassword {
        password: password.reveal().to_owned(),
    }))
}
