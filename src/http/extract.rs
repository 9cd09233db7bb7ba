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
    /// Those who book checkups and sign family-doctor contracts (a clinic at its own facility).
    ClinicWork, "checkups and family-doctor contracts", [Office, Clinic]);
policy!(
    /// Those who read checkups and contracts (each within its scope; the auditor masked).
    ClinicRead, "checkup and contract lists", [Office, Township, Clinic, Auditor]);
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
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|s| !s.is_empty())
        .ok_or(AppError::Unauthorized)?;
    state
        .callers
        .resolve(&state.db, secret)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// `axum::Json` with our rejections, refusing control characters in any string of the body
/// (line breaks and tabs aside) with the path of the field: a NUL cannot be stored on
/// PostgreSQL, and both backends must hold the same data. Fields that must be one line or
/// short are checked by their own rules ([`crate::register::text`]).
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        if !json_content_type(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::bad_request("bad_body", e.body_text())
                }
            })?;
        if has_control_escape(&bytes) {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if let Some((field, c)) = control_character_in(&value, String::new()) {
                    return Err(AppError::bad_request(
                        "control_character",
                        format!(
                            "{field}: holds a control character (U+{:04X}) / 含不可见的控制字符",
                            u32::from(c)
                        ),
                    ));
                }
            }
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(t)| Json(t))
            .map_err(AppError::from)
    }
}

/// Whether the request says its body is JSON (`application/json`, or `application/…+json`).
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// A control character allowed in JSON text: line breaks and tabs.
fn allowed_control(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\t')
}

/// Whether a JSON text may hold a control character in a string: an escape `\u00XX` (or
/// `\u007F`–`\u009F`) that is not itself an escaped backslash followed by `u`. Raw control
/// characters are not valid JSON, so this is exact for valid JSON, and cheap: the body is read
/// again only when it says yes.
fn has_control_escape(bytes: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 {
            let hex = bytes
                .get(i + 1..i + 5)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(code) = hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                if char::from_u32(code).is_some_and(|c| c.is_control() && !allowed_control(c)) {
                    return true;
                }
            }
        }
        backslashes = 0;
    }
    false
}

/// The path (`members[0].name`) of the first key or string holding a refused control character.
fn control_character_in(value: &serde_json::Value, at: String) -> Option<(String, char)> {
    let refused = |s: &str| s.chars().find(|&c| c.is_control() && !allowed_control(c));
    match value {
        serde_json::Value::String(s) => refused(s).map(|c| (at, c)),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| control_character_in(v, format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let field = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            match refused(k) {
                Some(c) => Some((field, c)),
                None => control_character_in(v, field),
            }
        }),
        _ => None,
    }
}

/// Refuses a request whose path or query holds a control character once percent-decoded
/// (`%00`, `%0A`, …), naming the query parameter: no handler, log line or statement sees one.
pub async fn refuse_control_characters(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = req.uri();
    let found = if let Some(c) = decoded_control(uri.path().as_bytes()) {
        Some(format!(
            "the path holds a control character (U+{c:04X}) / 路径含不可见的控制字符"
        ))
    } else {
        uri.query().and_then(|q| {
            q.split('&').find_map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let c = decoded_control(name.as_bytes()).or_else(|| decoded_control(value.as_bytes()))?;
                let name = String::from_utf8_lossy(&percent_decoded(name.as_bytes()))
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect::<String>();
                Some(format!(
                    "query parameter '{name}' holds a control character (U+{c:04X}) / 查询参数含不可见的控制字符"
                ))
            })
        })
    };
    match found {
        Some(detail) => AppError::bad_request("control_character", detail).into_response(),
        None => next.run(req).await,
    }
}

/// `%XX` decoded (and `+` left as it is: it decodes to a space, never a control character).
fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// The first control character of percent-decoded text (C0, DEL, or a C1 control in UTF-8).
fn decoded_control(bytes: &[u8]) -> Option<u32> {
    // A URI cannot carry a raw control character (the HTTP parser refuses one), so only an
    // escape can make one: most requests, the desk's scans among them, copy nothing here.
    if !bytes.contains(&b'%') {
        return None;
    }
    let decoded = percent_decoded(bytes);
    String::from_utf8_lossy(&decoded)
        .chars()
        .find(|c| c.is_control())
        .map(u32::from)
}

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
