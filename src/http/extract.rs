//! Request extractors: the authenticated caller with its role checked, and JSON, path and query
//! extractors whose rejections come out in our problem format.

use std::marker::PhantomData;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::AppState;
use crate::auth::{Caller, StaffRole};
use crate::error::AppError;

/// A set of roles allowed at an endpoint.
pub trait Policy: Send + Sync + 'static {
    /// The allowed roles.
    const ROLES: &'static [StaffRole];
    /// What the endpoint is, for the refusal message.
    const WHAT: &'static str;
}

macro_rules! policy {
    ($(#[$m:meta])* $name:ident, $what:literal, [$($role:ident),+]) => {
        $(#[$m])*
        pub struct $name;
        impl Policy for $name {
            const ROLES: &'static [StaffRole] = &[$(StaffRole::$role),+];
            const WHAT: &'static str = $what;
        }
    };
}

policy!(
    /// The district health office only.
    OfficeOnly, "office administration", [Office]);
policy!(
    /// Those who read household files (township staff within their township).
    RegisterRead, "household files", [Office, Township, Auditor]);
policy!(
    /// Those who change household files (township staff within their township).
    RegisterWrite, "changing household files", [Office, Township]);
policy!(
    /// Every staff account.
    AnyStaff, "this service", [Office, Township, Desk, Clinic, Auditor]);

/// The caller, authenticated by bearer token and checked against policy `P`.
pub struct Staff<P: Policy>(pub Caller, PhantomData<P>);

impl<P: Policy> std::ops::Deref for Staff<P> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<P: Policy> FromRequestParts<AppState> for Staff<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = authenticate(parts, state).await?;
        if !P::ROLES.contains(&caller.role) {
            return Err(AppError::Forbidden(format!(
                "the {} role may not use {} / 该角色无权访问",
                caller.role,
                P::WHAT
            )));
        }
        Ok(Staff(caller, PhantomData))
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, AppError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized)?;
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AppError::Unauthorized)?;
    state
        .callers
        .resolve(&state.db, secret)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// `axum::Json` with our rejection.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => AppError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", inner(&e)),
            ),
            JsonRejection::JsonDataError(e) => AppError::BadRequest {
                code: "invalid_body",
                detail: format!("the body does not fit: {}", inner(&e)),
            },
            JsonRejection::MissingJsonContentType(_) => {
                AppError::UnsupportedMediaType("expected Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge
            }
            other => AppError::bad_request("bad_body", other.body_text()),
        }
    }
}

/// The innermost error message (axum wraps serde's message, which names the field and column).
fn inner(e: &dyn std::error::Error) -> String {
    let mut e = e;
    while let Some(s) = e.source() {
        e = s;
    }
    e.to_string()
}

/// `axum::extract::Path` with our rejection.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::bad_request("bad_path", r.body_text())
    }
}

/// `axum::extract::Query` with our rejection.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request("bad_query", r.body_text())
    }
}
