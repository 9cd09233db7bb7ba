//! Who is signed in to the console: the session cookie, checked on every request against the
//! database (so signing out or disabling an account takes effect at once), the role checked
//! against a [`Policy`], and for form posts the session's CSRF token.

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use chrono::Utc;
use serde::de::DeserializeOwned;

use super::PageError;
use crate::auth::session::{same_secret, Session, COOKIE};
use crate::http::extract::Policy;
use crate::http::AppState;

/// The largest form body a page accepts (uploads have their own route and limit).
pub const FORM_LIMIT: usize = 64 * 1024;

/// The value of the cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: host-only, for every path, unreadable by script, never sent on a
/// request another site starts; `Secure` when the service is reached over TLS.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    format!("{}; Max-Age=0", set_cookie(name, "", secure))
}

/// The signed-in caller of a page, allowed by policy `P`.
pub struct Signed<P: Policy>(pub Session, PhantomData<P>);

impl<P: Policy> std::ops::Deref for Signed<P> {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

/// The session behind the request's cookie, whatever its role, or `None`.
pub async fn current(parts: &Parts, state: &AppState) -> Result<Option<Session>, PageError> {
    let Some(value) = cookie(&parts.headers, COOKIE) else {
        return Ok(None);
    };
    Ok(crate::service::sign_in::session(&state.db, value, Utc::now()).await?)
}

impl<P: Policy> FromRequestParts<AppState> for Signed<P> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let session = current(parts, state).await?.ok_or(PageError::SignIn)?;
        if session.must_change_password {
            return Err(PageError::ChangePassword);
        }
        if !P::ROLES.contains(&session.caller.role) {
            return Err(PageError::Forbidden);
        }
        Ok(Signed(session, PhantomData))
    }
}

/// A form with no fields of its own (a button): only its CSRF token, which [`Posted`] checks.
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// A form post by a signed-in caller allowed by `P`: the session, and the form's fields parsed
/// into `T` — only when the form carries the session's CSRF token (field `csrf`) and no field
/// holds a control character other than a line break or tab.
pub struct Posted<P: Policy, T>(pub Signed<P>, pub T);

impl<P: Policy, T: DeserializeOwned> FromRequest<AppState> for Posted<P, T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::<P>::from_request_parts(&mut parts, state).await?;
        let fields = form_fields(Request::from_parts(parts, body), &signed.csrf).await?;
        Ok(Posted(signed, fields))
    }
}

/// Reads a urlencoded form, checks its CSRF token against `csrf` and its text, and parses it.
pub async fn form_fields<T: DeserializeOwned>(req: Request, csrf: &str) -> Result<T, PageError> {
    let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
        .await
        .map_err(|_| PageError::bad_form("表单过大 / the form is too large"))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| PageError::bad_form("表单无法读取 / the form cannot be read"))?;
    let token = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if !token.is_some_and(|t| same_secret(t, csrf)) {
        return Err(PageError::Csrf);
    }
    if let Some((k, _)) = pairs.iter().find(|(_, v)| {
        v.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    }) {
        return Err(PageError::bad_form(format!(
            "{k}: 含不可见的控制字符 / holds a control character"
        )));
    }
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| PageError::bad_form(format!("表单内容有误 / the form is not valid: {e}")))
}
