//! One error type for the HTTP layer, rendered as RFC 9457 `application/problem+json`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::register::FieldError;

/// The result type of handlers and database calls.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Every way a request can fail. Each variant has a stable machine `code`; 5xx details are
/// logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (bad JSON, wrong types, bad query or CSV).
    #[error("{detail}")]
    BadRequest {
        /// Stable machine code.
        code: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// The request is well-formed but cannot be done as asked (a member not entitled, a date in
    /// the past), with a stable code naming why.
    #[error("{detail}")]
    Unprocessable {
        /// Stable machine code.
        code: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// The request is well-formed but fields fail validation.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// No token, or a token that is unknown or revoked.
    #[error("authentication required")]
    Unauthorized,
    /// The caller's role or scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (or is outside the caller's scope).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with what is stored (duplicate, stale version).
    #[error("{detail}")]
    Conflict {
        /// Stable machine code.
        code: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// The body is larger than this endpoint accepts.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The body's media type is not the one this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Card printing is not set up (e.g. the font is not installed).
    #[error("{0}")]
    PrintingUnavailable(String),
    /// This instance cannot sign cards or status lists (no active key, or its secret is not in
    /// this instance's key folder).
    #[error("{0}")]
    SigningUnavailable(String),
    /// The service cannot take the request now (shutting down, database unreachable).
    #[error("service unavailable")]
    Unavailable,
    /// Too much queued: the caller should retry after a moment (503 with `Retry-After`).
    #[error("the service is busy; retry in a moment")]
    Busy,
    /// A database failure we did not expect.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Any other failure we did not expect.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 400 with a stable code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A 409 with a stable code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// A 422 naming one field.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }])
    }

    /// The HTTP status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Self::PrintingUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "printing_unavailable")
            }
            Self::SigningUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "signing_unavailable"),
            Self::Database(e) if is_unique_violation(e) => (StatusCode::CONFLICT, "duplicate"),
            Self::Database(_) | Self::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

/// The audit log's own SQLite connection (`db::audit`): its errors are internal, like the pool's.
impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// Whether a database error is a unique-constraint violation (a duplicate).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Builds a problem response; used by [`AppError`] and by middleware that fails before a handler.
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    problem_with(status, code, detail, None)
}

fn problem_with(
    status: StatusCode,
    code: &str,
    detail: &str,
    errors: Option<&[FieldError]>,
) -> Response {
    let mut body = json!({
        "type": format!("urn:greenchannel:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    if let Some(errors) = errors {
        body["errors"] = json!(errors);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Validation(errors) => {
                // The first few in words; all of them once, in `errors` (an answer to a file of
                // a thousand bad cells does not carry each one twice).
                const IN_DETAIL: usize = 3;
                let mut detail = errors
                    .iter()
                    .take(IN_DETAIL)
                    .map(|e| format!("{}: {}", e.field, e.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                if errors.len() > IN_DETAIL {
                    let more = errors.len() - IN_DETAIL;
                    detail.push_str(&format!(
                        "; 另有{more}处见errors / and {more} more in errors"
                    ));
                }
                problem_with(status, code, &detail, Some(errors))
            }
            Self::Database(e) if status == StatusCode::CONFLICT => {
                tracing::info!(error = %e, "unique violation");
                problem(
                    status,
                    code,
                    "a record with the same unique value already exists",
                )
            }
            Self::Database(_) | Self::Internal(_) => {
                // Display, not Debug: a database error's Debug carries the server's detail, which
                // can quote the failing row (an ID number). The message alone names the problem.
                tracing::error!(error = %self, "request failed");
                problem(status, code, "internal error; it has been logged")
            }
            Self::Busy => {
                let mut res = problem(status, code, &self.to_string());
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                res
            }
            other => problem(status, code, &other.to_string()),
        }
    }
}
