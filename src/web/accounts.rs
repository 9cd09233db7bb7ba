//! Staff accounts in the console (office only): who has which role and scope, a new account
//! with a temporary password (changed at its first sign-in) and a first token, a reset
//! password, a new desk token, and disabling — which ends the account's sessions and tokens at
//! once.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::page::{refusal_text, render, role_label, unprocessable, Chrome, PagePath};
use super::session::{NoFields, Posted, Signed};
use super::PageError;
use crate::auth::password::Password;
use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::db::accounts::{self, AccountInput};
use crate::db::places;
use crate::error::AppError;
use crate::http::extract::OfficeOnly;
use crate::http::AppState;
use crate::service::sign_in;
use crate::time::local_minute;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/{id}/disable", post(disable))
        .route("/accounts/{id}/password", post(reset))
        .route("/accounts/{id}/token", post(token))
}

struct AccountLine {
    id: i64,
    name: String,
    role: &'static str,
    scope: String,
    disabled: String,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<AccountLine>,
    townships: Vec<(String, String)>,
    facilities: Vec<(i64, String)>,
    /// A secret to show once: (for whom, what, the secret).
    shown: Option<(String, &'static str, String)>,
    message: Option<String>,
}

async fn page(s: &AppState, session: &Session) -> Result<AccountsPage, PageError> {
    let townships = places::townships(&s.db).await?;
    let facilities = places::facilities(&s.db).await?;
    let accounts = accounts::accounts(&s.db)
        .await?
        .into_iter()
        .map(|a| {
            let scope = match (&a.township_id, a.facility_id) {
                (Some(t), _) => townships
                    .iter()
                    .find(|x| &x.township_id == t)
                    .map_or_else(|| t.clone(), |x| x.name.clone()),
                (_, Some(f)) => facilities
                    .iter()
                    .find(|x| x.facility_id == f)
                    .map_or_else(|| f.to_string(), |x| x.name.clone()),
                _ => "全区".to_owned(),
            };
            AccountLine {
                is_self: a.account_id == session.caller.account_id,
                id: a.account_id,
                role: a.role.parse().map(role_label).unwrap_or("未知"),
                disabled: a.disabled_at.map(local_minute).unwrap_or_default(),
                name: a.name,
                scope,
            }
        })
        .collect();
    Ok(AccountsPage {
        chrome: Chrome::new(session, "accounts"),
        accounts,
        townships: townships
            .into_iter()
            .map(|t| (t.township_id, t.name))
            .collect(),
        facilities: facilities
            .into_iter()
            .map(|f| (f.facility_id, f.name))
            .collect(),
        shown: None,
        message: None,
    })
}

async fn list(
    signed: Signed<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    render(&page(&s, &signed).await?)
}

#[derive(Deserialize)]
struct NewAccount {
    name: String,
    role: String,
    #[serde(default)]
    township_id: String,
    #[serde(default)]
    facility_id: String,
}

/// A new account: its temporary password and first token are shown once, on this page.
async fn create(
    State(s): State<AppState>,
    Posted(signed, f): Posted<OfficeOnly, NewAccount>,
) -> Result<Response, PageError> {
    let role: StaffRole = f
        .role
        .parse()
        .map_err(|_| PageError::bad_form("角色无效 / unknown role"))?;
    let facility_id = match f.facility_id.trim() {
        "" => None,
        v => Some(
            v.parse()
                .map_err(|_| PageError::bad_form("facility_id: 无效"))?,
        ),
    };
    // Only the scope the role needs is kept (the form offers both lists).
    let input = AccountInput {
        name: f.name.trim().to_owned(),
        role,
        township_id: (role == StaffRole::Township)
            .then(|| f.township_id.trim().to_owned())
            .filter(|t| !t.is_empty()),
        facility_id: facility_id.filter(|_| matches!(role, StaffRole::Desk | StaffRole::Clinic)),
    };
    if input.name.chars().count() > 64 {
        return Err(PageError::bad_form(
            "用户名最多 64 个字符 / at most 64 characters",
        ));
    }
    let password = Password::random();
    let created = sign_in::create_account(&s.db, &input, password.clone(), true).await;
    let (account, token) = match created {
        Ok(c) => c,
        Err(e @ (AppError::Conflict { .. } | AppError::Validation(_))) => {
            let mut p = page(&s, &signed).await?;
            p.message = Some(refusal_text(&e));
            return unprocessable(&p);
        }
        Err(e) => return Err(e.into()),
    };
    let mut p = page(&s, &signed).await?;
    p.shown = Some((
        account.name,
        "临时密码（首次登录时须修改）和接口令牌",
        format!("{}　令牌：{token}", password.reveal()),
    ));
    render(&p)
}

async fn disable(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, NoFields {}): Posted<OfficeOnly, NoFields>,
) -> Result<Response, PageError> {
    if id == signed.caller.account_id {
        return Err(AppError::conflict(
            "own_account",
            "不能停用自己的账号 / an account cannot disable itself",
        )
        .into());
    }
    accounts::disable(&s.db, id).await?;
    s.callers.clear();
    let mut p = page(&s, &signed).await?;
    p.message = Some("账号已停用，其登录和令牌已立即失效。".into());
    render(&p)
}

async fn reset(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, NoFields {}): Posted<OfficeOnly, NoFields>,
) -> Result<Response, PageError> {
    let password = Password::random();
    sign_in::set_password(&s.db, id, password.clone(), true).await?;
    let mut p = page(&s, &signed).await?;
    let name = p
        .accounts
        .iter()
        .find(|a| a.id == id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    p.shown = Some((
        name,
        "临时密码（首次登录时须修改）",
        password.reveal().to_owned(),
    ));
    render(&p)
}

async fn token(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, NoFields {}): Posted<OfficeOnly, NoFields>,
) -> Result<Response, PageError> {
    let label = format!("console, by {}", signed.caller.name);
    let secret = accounts::add_token(&s.db, id, &label).await?;
    let mut p = page(&s, &signed).await?;
    let name = p
        .accounts
        .iter()
        .find(|a| a.id == id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    p.shown = Some((name, "新令牌（窗口电脑粘贴到扫码页面）", secret));
    render(&p)
}
