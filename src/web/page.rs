//! What every page shares: the frame around it (who is signed in, the menu, the CSRF token for
//! its forms), rendering, and errors shown as pages.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::error::AppError;

/// The frame of a signed-in page.
pub struct Chrome {
    /// The account's name.
    pub user: String,
    /// Its role, in Chinese.
    pub role: &'static str,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
    /// Whether the office's menu entries show.
    pub office: bool,
    /// Whether the account reads household files and rules (office, township, auditor): the
    /// menu shows only what the role can open.
    pub reads: bool,
    /// Whether the account changes household files (office, township).
    pub writes: bool,
    /// Whether the account reads the audit pages (office, auditor).
    pub audits: bool,
    /// Whether the account books checkups and signs family doctors (office, clinic).
    pub clinic_work: bool,
    /// Whether the account reads the checkup and contract lists (all but the desk).
    pub clinic_lists: bool,
    /// The menu entry of this page.
    pub active: &'static str,
}

impl Chrome {
    /// The frame for `session`, with `active` highlighted.
    pub fn new(session: &Session, active: &'static str) -> Self {
        Self {
            user: session.caller.name.clone(),
            role: role_label(session.caller.role),
            csrf: session.csrf.clone(),
            office: session.caller.role == StaffRole::Office,
            reads: matches!(
                session.caller.role,
                StaffRole::Office | StaffRole::Township | StaffRole::Auditor
            ),
            writes: matches!(session.caller.role, StaffRole::Office | StaffRole::Township),
            audits: matches!(session.caller.role, StaffRole::Office | StaffRole::Auditor),
            clinic_work: matches!(session.caller.role, StaffRole::Office | StaffRole::Clinic),
            clinic_lists: session.caller.role != StaffRole::Desk,
            active,
        }
    }
}

/// A role's name on screen.
pub fn role_label(role: StaffRole) -> &'static str {
    match role {
        StaffRole::Office => "区卫健局",
        StaffRole::Township => "镇街",
        StaffRole::Desk => "挂号窗口",
        StaffRole::Clinic => "医疗机构",
        StaffRole::Auditor => "审计",
    }
}

/// Renders a template to a page.
pub fn render(t: &impl Template) -> Result<Response, PageError> {
    t.render()
        .map(|html| Html(html).into_response())
        .map_err(|e| PageError::App(AppError::Internal(anyhow::anyhow!("template: {e}"))))
}

/// What a refused change says on its form: the fields' problems, or the refusal.
pub fn refusal_text(e: &AppError) -> String {
    match e {
        AppError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}：{}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("；"),
        e => e.to_string(),
    }
}

/// The form again with what was wrong: 422.
pub fn unprocessable(t: &impl Template) -> Result<Response, PageError> {
    let mut res = render(t)?;
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

/// A page that failed, shown as a page (never as JSON).
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): to the sign-in page.
    SignIn,
    /// The account must choose a new password first.
    ChangePassword,
    /// The role may not see this page.
    Forbidden,
    /// A form post without the session's CSRF token.
    Csrf,
    /// A form that cannot be read.
    BadForm(String),
    /// What the service answered.
    App(AppError),
}

impl PageError {
    /// A 400 for a form that cannot be read.
    pub fn bad_form(detail: impl Into<String>) -> Self {
        Self::BadForm(detail.into())
    }
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthorized => Self::SignIn,
            e => Self::App(e),
        }
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self::App(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: String,
    details: Vec<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, detail, details) = match self {
            Self::SignIn => return Redirect::to("/").into_response(),
            Self::ChangePassword => return Redirect::to("/password").into_response(),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "无权访问",
                "您的账号无权使用此页面 / your role may not use this page".to_owned(),
                vec![],
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "页面已过期",
                "表单已过期或不是从本系统提交的，请返回重新操作 / the form is stale or was not sent from this console"
                    .to_owned(),
                vec![],
            ),
            Self::BadForm(d) => (StatusCode::BAD_REQUEST, "表单有误", d, vec![]),
            Self::App(e) => {
                let (status, _) = e.status_and_code();
                if status.is_server_error() {
                    tracing::error!(error = %e, "a console page failed");
                    (
                        status,
                        "系统暂时无法完成操作",
                        "请稍后重试；如仍失败请联系系统管理员 / please retry later".to_owned(),
                        vec![],
                    )
                } else {
                    let details = match &e {
                        AppError::Validation(errors) => errors
                            .iter()
                            .map(|f| format!("{}: {}", f.field, f.reason))
                            .collect(),
                        _ => vec![],
                    };
                    let title = match status {
                        StatusCode::NOT_FOUND => "未找到",
                        StatusCode::CONFLICT => "无法完成",
                        _ => "操作未完成",
                    };
                    (status, title, e.to_string(), details)
                }
            }
        };
        let page = ErrorPage {
            title,
            detail,
            details,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                title.to_owned(),
            )
                .into_response(),
        }
    }
}

/// A path parameter; one that does not parse names no page (404, as a page).
pub struct PagePath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for PagePath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(t)| PagePath(t))
            .map_err(|_| PageError::App(AppError::NotFound("page")))
    }
}

/// A query string; one that does not parse is a 400 page.
pub struct PageQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for PageQuery<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| PageQuery(t))
            .map_err(|_| PageError::bad_form("查询参数有误 / the query is not valid"))
    }
}
