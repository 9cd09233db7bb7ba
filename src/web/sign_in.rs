//! Signing in and out, the first page after sign-in (what needs doing), and changing one's
//! password (required at the first sign-in of an account the office created).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use super::page::{render, Chrome};
use super::session::{clear_cookie, cookie, current, form_fields, set_cookie, NoFields};
use super::PageError;
use crate::auth::session::{same_secret, NewSession, COOKIE};
use crate::auth::StaffRole;
use crate::http::AppState;
use crate::service::sign_in::{self, ChangeError, SignInError};

/// The cookie that carries the sign-in form's CSRF token before there is a session.
const LOGIN_COOKIE: &str = "gc_login";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_form).post(change_password))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    csrf: String,
    name: String,
    message: Option<String>,
}

/// The sign-in page, with a fresh login CSRF token in its cookie and its form.
fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    name: &str,
    message: Option<String>,
) -> Response {
    let token = NewSession::new().csrf;
    let page = SignInPage {
        csrf: token.clone(),
        name: name.to_owned(),
        message,
    };
    match render(&page) {
        Ok(mut res) => {
            *res.status_mut() = status;
            if let Ok(v) = set_cookie(LOGIN_COOKIE, &token, state.secure_cookies).parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    township: Option<String>,
    awaiting: usize,
    without_card: Option<usize>,
    drafts: Vec<String>,
    desk_role: bool,
    /// Open emergencies (office: all; township: its own), the newest first.
    emergencies: Vec<super::emergencies::ListRow>,
}

/// `/`: the sign-in page, or what needs doing.
async fn home(State(s): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    let Some(session) = current(&parts, &s).await? else {
        return Ok(sign_in_page(&s, StatusCode::OK, "", None));
    };
    if session.must_change_password {
        return Err(PageError::ChangePassword);
    }
    let role = session.caller.role;
    let mut page = HomePage {
        chrome: Chrome::new(&session, "home"),
        township: None,
        awaiting: 0,
        without_card: None,
        drafts: vec![],
        desk_role: matches!(role, StaffRole::Desk | StaffRole::Clinic),
        emergencies: vec![],
    };
    if matches!(role, StaffRole::Office | StaffRole::Township) {
        let open = crate::service::emergencies::list(
            &s.db,
            &session.caller,
            Some(crate::service::emergencies::EmergencyState::Open),
        )
        .await?;
        let townships = crate::db::places::townships(&s.db).await?;
        page.emergencies = super::emergencies::list_rows(open, &townships);
    }
    match role {
        StaffRole::Office => {
            page.awaiting = crate::db::cards::awaiting_confirmation(&s.db).await?.len();
            // Without a rule set in force nobody can be judged; the page says so by leaving it out.
            if let Ok(book) = s.rule_book().await {
                page.without_card = Some(
                    crate::service::cards::members_without_card(
                        &s.db,
                        &book,
                        crate::time::today(),
                        None,
                    )
                    .await?
                    .len(),
                );
            }
            page.drafts = crate::db::disbursement::list(&s.db)
                .await?
                .into_iter()
                .filter(|d| d.status == "draft")
                .map(|d| d.period)
                .collect();
        }
        StaffRole::Township => {
            let id = session.caller.township_id.clone().unwrap_or_default();
            page.township = Some(
                crate::db::places::townships(&s.db)
                    .await?
                    .into_iter()
                    .find(|t| t.township_id == id)
                    .map_or(id, |t| t.name),
            );
        }
        _ => {}
    }
    render(&page)
}

/// Where a request came from, for throttling: the peer, or behind the TLS proxy the address the
/// proxy appended last to `X-Forwarded-For` (the one it saw; earlier entries are the client's
/// word). IPv6 addresses count by their /64, which one subscriber holds whole.
async fn peer_address(parts: &mut axum::http::request::Parts, s: &AppState) -> String {
    let forwarded = s
        .secure_cookies
        .then(|| parts.headers.get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok());
    let peer = match forwarded {
        Some(a) => Some(a),
        None => ConnectInfo::<SocketAddr>::from_request_parts(parts, s)
            .await
            .ok()
            .map(|ConnectInfo(a)| a.ip()),
    };
    match peer {
        Some(std::net::IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(std::net::IpAddr::V6(a)) => a
            .to_ipv4_mapped()
            .map_or_else(String::new, |v4| v4.to_string()),
        Some(a) => a.to_string(),
        None => "unknown".to_owned(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login` (fields `name`, `password`, and the form's `csrf`).
async fn login(State(s): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (mut parts, body) = req.into_parts();
    let address = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, &s)
        .await
        .map_or_else(
            |_| "unknown".to_owned(),
            |ConnectInfo(a)| a.ip().to_string(),
        );
    let expected = cookie(&parts.headers, LOGIN_COOKIE)
        .unwrap_or("")
        .to_owned();
    let bytes = axum::body::to_bytes(body, super::session::FORM_LIMIT)
        .await
        .map_err(|_| PageError::bad_form("表单过大 / the form is too large"))?;
    let form: LoginForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| PageError::bad_form("表单无法读取 / the form cannot be read"))?;
    if expected.is_empty() || !same_secret(&form.csrf, &expected) {
        return Ok(sign_in_page(
            &s,
            StatusCode::FORBIDDEN,
            &form.name,
            Some("页面已过期，请重新登录 / the page expired; please sign in again".into()),
        ));
    }
    if form.name.chars().count() > 64 || form.name.chars().any(char::is_control) {
        return Ok(sign_in_page(
            &s,
            StatusCode::UNAUTHORIZED,
            "",
            Some(SignInError::Wrong.to_string()),
        ));
    }
    match sign_in::sign_in(&s.db, &form.name, &form.password, &address, Utc::now()).await {
        Ok(signed) => {
            let to = if signed.must_change_password {
                "/password"
            } else {
                "/"
            };
            let mut res = Redirect::to(to).into_response();
            let h = res.headers_mut();
            for c in [
                set_cookie(COOKIE, &signed.cookie, s.secure_cookies),
                clear_cookie(LOGIN_COOKIE, s.secure_cookies),
            ] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            Ok(res)
        }
        Err(SignInError::Store(e)) => Err(e.into()),
        Err(e @ SignInError::Wrong) => Ok(sign_in_page(
            &s,
            StatusCode::UNAUTHORIZED,
            &form.name,
            Some(e.to_string()),
        )),
        Err(e @ SignInError::Throttled(_)) => {
            let mut res = sign_in_page(
                &s,
                StatusCode::TOO_MANY_REQUESTS,
                &form.name,
                Some(e.to_string()),
            );
            if let SignInError::Throttled(minutes) = e {
                if let Ok(v) = (minutes * 60).to_string().parse() {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Ok(res)
        }
    }
}

/// `POST /logout`: ends the session (the form carries its CSRF token).
async fn logout(State(s): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (parts, body) = req.into_parts();
    let mut res = Redirect::to("/").into_response();
    if let Some(session) = current(&parts, &s).await? {
        let _: NoFields = form_fields(Request::from_parts(parts, body), &session.csrf).await?;
        sign_in::sign_out(&s.db, &session).await?;
    }
    if let Ok(v) = clear_cookie(COOKIE, s.secure_cookies).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    required: bool,
    message: Option<String>,
    min_chars: usize,
}

async fn password_form(State(s): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    let session = current(&parts, &s).await?.ok_or(PageError::SignIn)?;
    render(&PasswordPage {
        chrome: Chrome::new(&session, "password"),
        required: session.must_change_password,
        message: None,
        min_chars: crate::auth::password::MIN_CHARS,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    repeated: String,
}

/// Changes the password; the session is replaced by a new one (every other one ends).
async fn change_password(State(s): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (mut parts, body) = req.into_parts();
    let session = current(&parts, &s).await?.ok_or(PageError::SignIn)?;
    let address = peer_address(&mut parts, &s).await;
    let form: PasswordForm = form_fields(Request::from_parts(parts, body), &session.csrf).await?;
    let changed = sign_in::change_password(
        &s.db,
        &session,
        &address,
        &form.current,
        &form.new,
        &form.repeated,
    )
    .await;
    match changed {
        Ok(cookie) => {
            let mut res = Redirect::to("/").into_response();
            if let Ok(v) = set_cookie(COOKIE, &cookie, s.secure_cookies).parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(res)
        }
        Err(ChangeError::Store(e)) => Err(e.into()),
        Err(e) => {
            let mut res = render(&PasswordPage {
                chrome: Chrome::new(&session, "password"),
                required: session.must_change_password,
                message: Some(e.to_string()),
                min_chars: crate::auth::password::MIN_CHARS,
            })?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}
