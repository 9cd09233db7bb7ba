//! Importing a township's spreadsheet from the console: upload, the check as a table of line,
//! column and reason (downloadable as a sheet), then the import itself — all or nothing, as on
//! the command line and the API.

use askama::Template;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{Duration, Utc};

use super::page::{render, Chrome, PagePath};
use super::session::{NoFields, Posted, Signed};
use super::PageError;
use crate::auth::session::{same_secret, NewSession, Session};
use crate::auth::StaffRole;
use crate::db::import::{import_households, ImportReport};
use crate::db::sessions;
use crate::error::AppError;
use crate::http::extract::RegisterWrite;
use crate::http::AppState;
use crate::register::csv_io::{to_spreadsheet, Encoding};
use crate::time::today;

/// How long a checked file waits for its import.
const KEPT_FOR: Duration = Duration::hours(1);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/import",
            get(form).post(upload).layer(DefaultBodyLimit::max(
                crate::http::import::IMPORT_BODY_LIMIT,
            )),
        )
        .route("/import/{token}", get(checked))
        .route("/import/{token}/commit", post(commit))
        .route("/import/{token}/errors.csv", get(errors_sheet))
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    token: String,
    file_name: String,
    report: Option<ReportView>,
    imported: Option<usize>,
    message: Option<String>,
}

struct ReportView {
    households: usize,
    members: usize,
    errors: Vec<(String, String, String)>,
}

fn view(report: &ImportReport) -> ReportView {
    ReportView {
        households: report.households,
        members: report.members,
        errors: report
            .errors
            .iter()
            .map(|e| {
                let line = if e.line == 0 {
                    "全文件".to_owned()
                } else {
                    e.line.to_string()
                };
                (line, e.field.clone(), e.reason.clone())
            })
            .collect(),
    }
}

fn empty(session: &Session) -> ImportPage {
    ImportPage {
        chrome: Chrome::new(session, "import"),
        token: String::new(),
        file_name: String::new(),
        report: None,
        imported: None,
        message: None,
    }
}

async fn form(signed: Signed<RegisterWrite>) -> Result<Response, PageError> {
    render(&empty(&signed))
}

/// Township staff import only their own township's files.
fn scope(session: &Session) -> Option<&str> {
    match session.caller.role {
        StaffRole::Township => session.caller.township_id.as_deref(),
        _ => None,
    }
}

async fn run(
    s: &AppState,
    session: &Session,
    pending: &sessions::PendingImport,
    dry_run: bool,
) -> Result<ImportReport, PageError> {
    let encoding: Encoding = pending
        .encoding
        .parse()
        .map_err(|e: String| PageError::bad_form(e))?;
    Ok(import_households(
        &s.db,
        &pending.content,
        encoding,
        dry_run,
        scope(session),
        Some(session.caller.account_id),
        &format!("console upload {}", pending.file_name),
        today(),
    )
    .await?)
}

/// The upload: a multipart form of `csrf`, `encoding` and `file` (in that order).
async fn upload(State(s): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (mut parts, body) = req.into_parts();
    let signed = Signed::<RegisterWrite>::from_request_parts(&mut parts, &s).await?;
    let mut multipart = Multipart::from_request(Request::from_parts(parts, body), &s)
        .await
        .map_err(|_| PageError::bad_form("上传的表单无法读取 / not a file upload"))?;
    let too_big = || PageError::bad_form("文件过大（最大 64 MB） / the file is too large");
    let (mut csrf_ok, mut encoding) = (false, "auto".to_owned());
    let mut file: Option<(String, axum::body::Bytes)> = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| too_big())? {
        match field.name() {
            Some("csrf") => {
                let v = field.text().await.map_err(|_| too_big())?;
                csrf_ok = same_secret(&v, &signed.csrf);
            }
            Some("encoding") => encoding = field.text().await.map_err(|_| too_big())?,
            Some("file") if csrf_ok => {
                let name = field
                    .file_name()
                    .unwrap_or("upload.csv")
                    .chars()
                    .take(100)
                    .collect::<String>();
                let bytes = field.bytes().await.map_err(|_| too_big())?;
                file = Some((name, bytes));
            }
            _ => return Err(PageError::Csrf),
        }
    }
    if !csrf_ok {
        return Err(PageError::Csrf);
    }
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        let mut page = empty(&signed);
        page.message = Some("请选择要导入的文件 / choose a file".into());
        return render(&page);
    };
    encoding
        .parse::<Encoding>()
        .map_err(|e: String| PageError::bad_form(format!("encoding: {e}")))?;
    let token = NewSession::new().csrf;
    let now = Utc::now();
    let upload = sessions::NewUpload {
        token: &token,
        account_id: signed.caller.account_id,
        file_name: &file_name,
        encoding: &encoding,
        content: &bytes,
    };
    sessions::keep_upload(&s.db, &upload, now, now - KEPT_FOR).await?;
    Ok(axum::response::Redirect::to(&format!("/import/{token}")).into_response())
}

/// The file under `token`, if this account uploaded it within the hour.
async fn pending(
    s: &AppState,
    session: &Session,
    token: &str,
) -> Result<sessions::PendingImport, PageError> {
    sessions::upload(&s.db, token)
        .await?
        .filter(|p| {
            p.account_id == session.caller.account_id && Utc::now() - p.created_at < KEPT_FOR
        })
        .ok_or_else(|| AppError::NotFound("uploaded file (it is kept for an hour)").into())
}

/// The check of an uploaded file: what it holds, or every problem by line and column.
async fn checked(
    signed: Signed<RegisterWrite>,
    State(s): State<AppState>,
    PagePath(token): PagePath<String>,
) -> Result<Response, PageError> {
    let file = pending(&s, &signed, &token).await?;
    let report = run(&s, &signed, &file, true).await?;
    let mut page = empty(&signed);
    page.token = token;
    page.file_name = file.file_name;
    page.report = Some(view(&report));
    render(&page)
}

async fn commit(
    State(s): State<AppState>,
    PagePath(token): PagePath<String>,
    Posted(signed, NoFields {}): Posted<RegisterWrite, NoFields>,
) -> Result<Response, PageError> {
    let file = pending(&s, &signed, &token).await?;
    let report = run(&s, &signed, &file, false).await?;
    let mut page = empty(&signed);
    page.file_name = file.file_name;
    if report.errors.is_empty() {
        sessions::take_upload(&s.db, &token).await?;
        page.imported = Some(report.household_ids.len());
    } else {
        page.token = token;
        page.report = Some(view(&report));
    }
    render(&page)
}

/// The problems as a sheet for Excel or WPS: UTF-8 with a BOM, CRLF, text cells made safe.
async fn errors_sheet(
    signed: Signed<RegisterWrite>,
    State(s): State<AppState>,
    PagePath(token): PagePath<String>,
) -> Result<Response, PageError> {
    let file = pending(&s, &signed, &token).await?;
    let report = run(&s, &signed, &file, true).await?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let write = |w: &mut csv::Writer<Vec<u8>>, row: [&str; 3]| {
        w.write_record(row.map(to_spreadsheet).iter().map(|c| c.as_ref()))
            .map_err(|e| AppError::Internal(e.into()))
    };
    write(&mut w, ["行 line", "列 column", "问题 problem"])?;
    for e in &report.errors {
        write(&mut w, [&e.line.to_string(), &e.field, &e.reason])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"import-problems.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
