//! Clinics in the console (二(五)4 and 二(五)6): a facility's day of free checkups, printable;
//! booking by scanning the card or from the list of members due, with the coming days' free
//! places; completion, no-show and cancellation; the facility's places per weekday and date.
//! Family-doctor contracts: the lists of members to sign, contracts to renew and follow-ups
//! overdue; signing; a contract with its follow-ups, renewal and end. Every change goes through
//! [`crate::service::checkups`] and [`crate::service::contracts`], the code the API calls, so a
//! page and the API refuse the same things with the same words.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;

use super::page::{refusal_text, render, unprocessable, Chrome, PagePath, PageQuery};
use super::session::{NoFields, Posted, Signed};
use super::PageError;
use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::db::checkups::{self as store, Capacity, DatePlaces};
use crate::db::contracts::{self as contract_store, ContractRow};
use crate::db::places::{self, Facility};
use crate::error::AppError;
use crate::http::extract::{ClinicRead, ClinicWork};
use crate::http::AppState;
use crate::register::mask::{last_four, shown_name};
use crate::register::FacilityKind;
use crate::service::checkups::{self, DayPlaces, Outcome, Patient, REFERENCE, SUMMARY};
use crate::service::contracts::{self, EndReason, FollowUpKind, Renewal, Signing};
use crate::time::today;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkups", get(day))
        .route("/checkups/find", post(find))
        .route("/contracts/find", post(find_to_sign))
        .route("/checkups/book", get(book_form).post(book))
        .route("/checkups/capacity", get(capacity_form).post(save_capacity))
        .route("/checkups/due", get(due))
        .route("/checkups/{id}/complete", post(complete))
        .route("/checkups/{id}/cancel", post(cancel))
        .route("/checkups/{id}/no-show", post(no_show))
        .route("/contracts", get(contracts_home).post(sign))
        .route("/contracts/new", get(sign_form))
        .route("/contracts/{id}", get(contract))
        .route("/contracts/{id}/follow-ups", post(follow_up))
        .route("/contracts/{id}/renew", post(renew))
        .route("/contracts/{id}/end", post(end))
}

/// The days the booking form offers.
const BOOKING_DAYS: u32 = 30;
/// The days the day page shows ahead.
const DAYS_SHOWN: u32 = 14;
/// How far ahead the contracts page looks for renewals.
const RENEWAL_DAYS: i64 = 30;
/// The most rows of dated places the capacity form offers to add at once.
const NEW_DATE_ROWS: usize = 3;

fn checkup_state(state: &str) -> &'static str {
    match state {
        "booked" => "已预约",
        "completed" => "已完成",
        "cancelled" => "已取消",
        "no_show" => "未到",
        _ => "—",
    }
}

fn contract_state(state: &str) -> &'static str {
    match state {
        "active" => "有效",
        "renewed" => "已续约",
        "ended" => "已解约",
        _ => "—",
    }
}

/// The closed list of end reasons, with their words on screen.
const END_REASONS: [(EndReason, &str); 4] = [
    (EndReason::MovedAway, "迁出本辖区"),
    (EndReason::Unreachable, "长期联系不上"),
    (EndReason::MemberWish, "本人要求解约"),
    (EndReason::Death, "死亡"),
];

const FOLLOW_UP_KINDS: [(FollowUpKind, &str); 4] = [
    (FollowUpKind::Visit, "随访"),
    (FollowUpKind::Assessment, "健康评估"),
    (FollowUpKind::Guidance, "健康指导"),
    (FollowUpKind::Other, "其他"),
];

fn end_reason_label(code: &str) -> &'static str {
    END_REASONS
        .iter()
        .find(|(r, _)| r.as_str() == code)
        .map_or("—", |(_, l)| l)
}

fn follow_up_label(code: &str) -> &'static str {
    FOLLOW_UP_KINDS
        .iter()
        .find(|(k, _)| k.as_str() == code)
        .map_or("—", |(_, l)| l)
}

const WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

fn weekday_label(on: NaiveDate) -> &'static str {
    WEEKDAYS[on.weekday().num_days_from_monday() as usize]
}

/// The facilities an office account may pick for `purpose`; empty for a clinic (its own only).
async fn facility_choice(
    s: &AppState,
    session: &Session,
    keep: fn(FacilityKind) -> bool,
) -> Result<Vec<(i64, String)>, PageError> {
    if session.caller.role != StaffRole::Office {
        return Ok(vec![]);
    }
    Ok(places::facilities(&s.db)
        .await?
        .into_iter()
        .filter(|f| f.kind.parse::<FacilityKind>().is_ok_and(keep))
        .map(|f| (f.facility_id, f.name))
        .collect())
}

/// The facility a page works at: a clinic's own; for the office the one named, else the first
/// it may pick. `None` when the office has no such facility yet.
async fn facility_of(
    s: &AppState,
    session: &Session,
    named: Option<i64>,
    choice: &[(i64, String)],
) -> Result<Option<Facility>, PageError> {
    let named = match session.caller.role {
        StaffRole::Office => match named.or_else(|| choice.first().map(|c| c.0)) {
            Some(id) => Some(id),
            None => return Ok(None),
        },
        _ => named,
    };
    Ok(Some(
        checkups::facility_for(&s.db, &session.caller, named).await?,
    ))
}

// ---- The day's checkups ----

struct DayRow {
    id: i64,
    name: String,
    last_four: String,
    state: String,
    state_label: &'static str,
    summary: String,
    /// Still booked: the actions show.
    open: bool,
    /// The day has come: completion and no-show are offered.
    arrived: bool,
}

struct DayLine {
    on: String,
    weekday: &'static str,
    places: i32,
    booked: i32,
    free: i32,
}

fn day_lines(days: &[DayPlaces]) -> Vec<DayLine> {
    days.iter()
        .map(|d| DayLine {
            on: d.on.to_string(),
            weekday: weekday_label(d.on),
            places: d.places,
            booked: d.booked,
            free: d.free,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "checkups.html")]
struct DayPage {
    chrome: Chrome,
    facilities: Vec<(i64, String)>,
    facility_id: i64,
    facility_name: String,
    on: String,
    weekday: &'static str,
    previous: String,
    next: String,
    today: String,
    rows: Vec<DayRow>,
    days: Vec<DayLine>,
    message: Option<String>,
    alert: Option<String>,
}

#[derive(Deserialize)]
struct DayQuery {
    #[serde(default)]
    facility_id: Option<i64>,
    #[serde(default)]
    on: Option<NaiveDate>,
}

async fn day_page(
    s: &AppState,
    session: &Session,
    facility_id: Option<i64>,
    on: Option<NaiveDate>,
) -> Result<DayPage, PageError> {
    let today = today();
    let on = on.unwrap_or(today);
    let facilities = facility_choice(s, session, FacilityKind::does_checkups).await?;
    let facility = facility_of(s, session, facility_id, &facilities).await?;
    let (facility_id, facility_name, rows, days) = match facility {
        Some(f) => {
            let rows = store::day_list(&s.db, f.facility_id, on)
                .await?
                .into_iter()
                .map(|r| DayRow {
                    id: r.checkup_id,
                    name: shown_name(&session.caller, &r.name),
                    last_four: last_four(&r.id_number),
                    state_label: checkup_state(&r.state),
                    open: r.state == "booked",
                    arrived: r.on_date <= today,
                    summary: r
                        .result_summary
                        .or(r.report_ref)
                        .or(r.close_reason)
                        .unwrap_or_default(),
                    state: r.state,
                })
                .collect();
            let (_, days) = checkups::coming_days(&s.db, f.facility_id, today, DAYS_SHOWN).await?;
            (f.facility_id, f.name, rows, day_lines(&days))
        }
        None => (0, String::new(), vec![], vec![]),
    };
    Ok(DayPage {
        chrome: Chrome::new(session, "checkups"),
        facilities,
        facility_id,
        facility_name,
        weekday: weekday_label(on),
        previous: (on - Duration::days(1)).to_string(),
        next: (on + Duration::days(1)).to_string(),
        on: on.to_string(),
        today: today.to_string(),
        rows,
        days,
        message: None,
        alert: None,
    })
}

async fn day(
    signed: Signed<ClinicWork>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<DayQuery>,
) -> Result<Response, PageError> {
    render(&day_page(&s, &signed, q.facility_id, q.on).await?)
}

/// The day page of a booking after an action on it, with what happened or why not.
async fn after_action(
    s: &AppState,
    session: &Session,
    checkup_id: i64,
    done: Result<String, AppError>,
) -> Result<Response, PageError> {
    let row = checkups::visible(&s.db, &session.caller, checkup_id).await?;
    let mut p = day_page(s, session, Some(row.facility_id), Some(row.on_date)).await?;
    match done {
        Ok(m) => {
            p.message = Some(m);
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CompleteForm {
    on: NaiveDate,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    report_ref: String,
    #[serde(default)]
    follow_up_advised: Option<String>,
}

async fn complete(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<ClinicWork, CompleteForm>,
) -> Result<Response, PageError> {
    let done = async {
        let outcome = Outcome::Completed {
            on: f.on,
            summary: checkups::optional_text("summary", Some(&f.summary), SUMMARY)?,
            report_ref: checkups::optional_text("report_ref", Some(&f.report_ref), REFERENCE)?,
            follow_up_advised: f.follow_up_advised.as_deref() == Some("on"),
        };
        let row = checkups::close(&s.db, &signed.caller, id, &outcome, today()).await?;
        Ok(format!("已登记{}完成查体。", row.name))
    }
    .await;
    after_action(&s, &signed, id, done).await
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    reason: String,
}

async fn cancel(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<ClinicWork, CancelForm>,
) -> Result<Response, PageError> {
    let done = async {
        let reason = checkups::optional_text("reason", Some(&f.reason), REFERENCE)?;
        let row = checkups::close(
            &s.db,
            &signed.caller,
            id,
            &Outcome::Cancelled(reason),
            today(),
        )
        .await?;
        Ok(format!("已取消{}的预约，名额已释放。", row.name))
    }
    .await;
    after_action(&s, &signed, id, done).await
}

async fn no_show(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, NoFields {}): Posted<ClinicWork, NoFields>,
) -> Result<Response, PageError> {
    let done = checkups::close(&s.db, &signed.caller, id, &Outcome::NoShow, today())
        .await
        .map(|row| format!("已登记{}未到，本年度可重新预约。", row.name));
    after_action(&s, &signed, id, done).await
}

// ---- Booking ----

#[derive(Template)]
#[template(path = "checkup_book.html")]
struct BookPage {
    chrome: Chrome,
    facilities: Vec<(i64, String)>,
    facility_id: i64,
    facility_name: String,
    /// The member found: id, name, last four of the ID number.
    member: Option<(i64, String, String)>,
    /// The scanned card's text, carried to the booking (a card books beyond the township).
    qr: String,
    /// Members a search by name and last four found: id, name, last four.
    matches: Vec<(i64, String, String)>,
    /// Whether a search was made (so "none found" can be said).
    searched: bool,
    days: Vec<DayLine>,
    alert: Option<String>,
}

#[derive(Deserialize)]
struct BookQuery {
    #[serde(default)]
    member_id: Option<i64>,
    #[serde(default)]
    facility_id: Option<i64>,
}

async fn book_page(
    s: &AppState,
    session: &Session,
    facility_id: Option<i64>,
    patient: Option<&Patient>,
) -> Result<BookPage, PageError> {
    let facilities = facility_choice(s, session, FacilityKind::does_checkups).await?;
    let facility = facility_of(s, session, facility_id, &facilities).await?;
    let mut page = BookPage {
        chrome: Chrome::new(session, "checkups"),
        facilities,
        facility_id: 0,
        facility_name: String::new(),
        member: None,
        qr: String::new(),
        matches: vec![],
        searched: false,
        days: vec![],
        alert: None,
    };
    let Some(f) = facility else {
        return Ok(page);
    };
    let (_, days) = checkups::coming_days(&s.db, f.facility_id, today(), BOOKING_DAYS).await?;
    page.days = day_lines(&days);
    page.facility_id = f.facility_id;
    page.facility_name = f.name.clone();
    if let Some(patient) = patient {
        let keys = s.cards.as_ref().map(|c| c.watch_keys().borrow().clone());
        let found =
            checkups::patient(&s.db, keys.as_ref(), patient, &session.caller, &f, today()).await;
        match found {
            Ok(m) => {
                page.member = Some((
                    m.member_id,
                    shown_name(&session.caller, &m.name),
                    m.id_last_four,
                ));
                if let Patient::Card(qr) = patient {
                    page.qr = qr.clone();
                }
            }
            Err(e) if !e.status_and_code().0.is_server_error() => {
                page.alert = Some(refusal_text(&e));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(page)
}

async fn book_form(
    signed: Signed<ClinicWork>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<BookQuery>,
) -> Result<Response, PageError> {
    let patient = q.member_id.map(Patient::Member);
    render(&book_page(&s, &signed, q.facility_id, patient.as_ref()).await?)
}

#[derive(Deserialize)]
struct FindForm {
    #[serde(default)]
    qr: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_last_four: String,
    #[serde(default)]
    facility_id: Option<i64>,
}

/// The members a name and last four find at the caller's facility, as (id, name, last four), or
/// the refusal to show when the search itself is refused (a bad last four, say).
async fn matches_of(
    s: &AppState,
    session: &Session,
    facility_id: i64,
    f: &FindForm,
) -> Result<Result<Vec<(i64, String, String)>, String>, AppError> {
    let facility = checkups::facility_for(&s.db, &session.caller, Some(facility_id)).await?;
    match checkups::find_members(&s.db, &session.caller, &facility, &f.name, &f.id_last_four).await
    {
        Ok(found) => Ok(Ok(found
            .into_iter()
            .map(|m| {
                (
                    m.member_id,
                    shown_name(&session.caller, &m.name),
                    m.id_last_four,
                )
            })
            .collect())),
        Err(e) if !e.status_and_code().0.is_server_error() => Ok(Err(refusal_text(&e))),
        Err(e) => Err(e),
    }
}

/// The member for a booking: the holder of a scanned card, or those a name and the ID number's
/// last four find (a POST, so neither the card's text nor a name lands in addresses and logs).
async fn find(
    State(s): State<AppState>,
    Posted(signed, f): Posted<ClinicWork, FindForm>,
) -> Result<Response, PageError> {
    let qr = f.qr.trim();
    if qr.len() > checkups::QR_MAX {
        let mut p = book_page(&s, &signed, f.facility_id, None).await?;
        p.alert = Some(format!(
            "二维码内容过长 / at most {} characters",
            checkups::QR_MAX
        ));
        return unprocessable(&p);
    }
    if !qr.is_empty() {
        let p = book_page(
            &s,
            &signed,
            f.facility_id,
            Some(&Patient::Card(qr.to_owned())),
        )
        .await?;
        return if p.alert.is_some() {
            unprocessable(&p)
        } else {
            render(&p)
        };
    }
    let mut p = book_page(&s, &signed, f.facility_id, None).await?;
    if p.facility_id == 0 {
        return render(&p);
    }
    p.searched = true;
    match matches_of(&s, &signed, p.facility_id, &f).await? {
        Ok(m) => {
            p.matches = m;
            render(&p)
        }
        Err(refusal) => {
            p.alert = Some(refusal);
            unprocessable(&p)
        }
    }
}

/// The member to sign a contract with, found by name and the ID number's last four.
async fn find_to_sign(
    State(s): State<AppState>,
    Posted(signed, f): Posted<ClinicWork, FindForm>,
) -> Result<Response, PageError> {
    let mut p = sign_page(&s, &signed, f.facility_id, None).await?;
    if p.facility_id == 0 {
        return render(&p);
    }
    p.searched = true;
    match matches_of(&s, &signed, p.facility_id, &f).await? {
        Ok(m) => {
            p.matches = m;
            render(&p)
        }
        Err(refusal) => {
            p.alert = Some(refusal);
            unprocessable(&p)
        }
    }
}

#[derive(Deserialize)]
struct BookForm {
    #[serde(default)]
    member_id: Option<i64>,
    #[serde(default)]
    qr: String,
    on: NaiveDate,
    #[serde(default)]
    facility_id: Option<i64>,
}

async fn book(
    State(s): State<AppState>,
    Posted(signed, f): Posted<ClinicWork, BookForm>,
) -> Result<Response, PageError> {
    let patient = match (f.member_id, f.qr.trim()) {
        (_, qr) if !qr.is_empty() => Patient::Card(qr.to_owned()),
        (Some(id), _) => Patient::Member(id),
        (None, _) => return Err(PageError::bad_form("未指明成员 / no member named")),
    };
    let rules = s.rule_book().await?;
    let keys = s.cards.as_ref().map(|c| c.watch_keys().borrow().clone());
    let booked = checkups::book(
        &s.db,
        &rules,
        keys.as_ref(),
        &signed.caller,
        &patient,
        f.facility_id,
        f.on,
        today(),
    )
    .await;
    match booked {
        Ok(row) => {
            let mut p = day_page(&s, &signed, Some(row.facility_id), Some(row.on_date)).await?;
            p.message = Some(format!(
                "已为{}预约{}（{}）的免费查体。",
                shown_name(&signed.caller, &row.name),
                row.on_date,
                weekday_label(row.on_date)
            ));
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = book_page(&s, &signed, f.facility_id, Some(&patient)).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Places ----

struct DateRow {
    on: String,
    places: String,
    note: String,
}

#[derive(Template)]
#[template(path = "checkup_capacity.html")]
struct CapacityPage {
    chrome: Chrome,
    facilities: Vec<(i64, String)>,
    facility_id: i64,
    facility_name: String,
    weekdays: Vec<(&'static str, i32)>,
    dates: Vec<DateRow>,
    today: String,
    message: Option<String>,
    alert: Option<String>,
}

async fn capacity_page(
    s: &AppState,
    session: &Session,
    facility_id: Option<i64>,
) -> Result<CapacityPage, PageError> {
    let facilities = facility_choice(s, session, FacilityKind::does_checkups).await?;
    let facility = facility_of(s, session, facility_id, &facilities).await?;
    let mut page = CapacityPage {
        chrome: Chrome::new(session, "checkups"),
        facilities,
        facility_id: 0,
        facility_name: String::new(),
        weekdays: vec![],
        dates: vec![],
        today: today().to_string(),
        message: None,
        alert: None,
    };
    if let Some(f) = facility {
        let (c, _) = checkups::coming_days(&s.db, f.facility_id, today(), 0).await?;
        page.weekdays = WEEKDAYS.iter().copied().zip(c.weekdays).collect();
        page.dates = c
            .dates
            .into_iter()
            .map(|d| DateRow {
                on: d.on_date.to_string(),
                places: d.places.to_string(),
                note: d.note.unwrap_or_default(),
            })
            .collect();
        page.facility_id = f.facility_id;
        page.facility_name = f.name;
    }
    let blank = || DateRow {
        on: String::new(),
        places: String::new(),
        note: String::new(),
    };
    page.dates
        .extend(std::iter::repeat_with(blank).take(NEW_DATE_ROWS));
    Ok(page)
}

#[derive(Deserialize)]
struct FacilityQuery {
    #[serde(default)]
    facility_id: Option<i64>,
}

async fn capacity_form(
    signed: Signed<ClinicWork>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<FacilityQuery>,
) -> Result<Response, PageError> {
    render(&capacity_page(&s, &signed, q.facility_id).await?)
}

/// Reads the capacity form: `weekday1`…`weekday7`, then rows of `on`, `places`, `note` in order
/// (a row with no date is left out). A field that does not parse is named in the refusal.
fn read_capacity(pairs: &[(String, String)]) -> Result<(Option<i64>, Capacity), AppError> {
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    let facility_id = match field("facility_id").filter(|v| !v.is_empty()) {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| AppError::field("facility_id", "不是机构编号 / not a facility id"))?,
        ),
        None => None,
    };
    let places = |name: String, v: &str| {
        v.parse::<i32>()
            .map_err(|_| AppError::field(name, "名额须为整数 / places must be a whole number"))
    };
    let mut weekdays = [0; 7];
    for (i, w) in weekdays.iter_mut().enumerate() {
        let name = format!("weekday{}", i + 1);
        *w = places(
            format!("weekdays[{i}]"),
            field(&name).ok_or_else(|| AppError::field(name.clone(), "缺少 / missing"))?,
        )?;
    }
    let column = |name: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    };
    let (ons, counts, notes) = (column("on"), column("places"), column("note"));
    if ons.len() != counts.len() || ons.len() != notes.len() {
        return Err(AppError::field(
            "dates",
            "表格不完整 / the rows are incomplete",
        ));
    }
    if ons.len() > checkups::MAX_DATES + NEW_DATE_ROWS {
        return Err(AppError::field(
            "dates",
            format!(
                "最多{}个日期 / at most {} dates",
                checkups::MAX_DATES,
                checkups::MAX_DATES
            ),
        ));
    }
    let mut dates = Vec::new();
    for (i, ((on, count), note)) in ons.iter().zip(&counts).zip(&notes).enumerate() {
        if on.is_empty() {
            continue;
        }
        let on_date = on.parse::<NaiveDate>().map_err(|_| {
            AppError::field(
                format!("dates[{i}].on"),
                "日期格式应为YYYY-MM-DD / not a date",
            )
        })?;
        dates.push(DatePlaces {
            on_date,
            places: places(format!("dates[{i}].places"), count)?,
            note: Some(note.to_string()).filter(|n| !n.is_empty()),
        });
    }
    dates.sort_by_key(|d| d.on_date);
    Ok((facility_id, Capacity { weekdays, dates }))
}

async fn save_capacity(
    State(s): State<AppState>,
    Posted(signed, pairs): Posted<ClinicWork, Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let read = read_capacity(&pairs);
    let named = read.as_ref().ok().and_then(|(f, _)| *f);
    let saved = match read {
        Ok((facility_id, c)) => {
            let id = match facility_id.or(signed.caller.facility_id) {
                Some(id) => id,
                None => return Err(PageError::bad_form("未指明机构 / no facility named")),
            };
            checkups::set_capacity(&s.db, &signed.caller, id, &c, today()).await
        }
        Err(e) => Err(e),
    };
    let mut p = capacity_page(&s, &signed, named).await?;
    match saved {
        Ok(()) => {
            p.message = Some("已保存查体名额。".into());
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Who is due ----

struct DueRow {
    member_id: i64,
    name: String,
    last_four: String,
    township: String,
}

struct RateRow {
    township: String,
    entitled: u32,
    booked: u32,
    completed: u32,
    rate: String,
}

#[derive(Template)]
#[template(path = "checkups_due.html")]
struct DuePage {
    chrome: Chrome,
    year: i32,
    judged_on: String,
    members: Vec<DueRow>,
    townships: Vec<RateRow>,
    /// Whether the caller books (office, clinic): the rows link to the booking form.
    books: bool,
    /// The township filter the office may choose; empty for everyone else.
    township_choice: Vec<(String, String)>,
    township: String,
}

#[derive(Deserialize)]
struct DueQuery {
    #[serde(default)]
    year: Option<i32>,
    #[serde(default)]
    township: Option<String>,
}

/// A per-mille rate as a percentage with one decimal: 1000 → 100.0%.
fn per_cent(per_mille: u32) -> String {
    format!("{}.{}%", per_mille / 10, per_mille % 10)
}

async fn due(
    signed: Signed<ClinicRead>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<DueQuery>,
) -> Result<Response, PageError> {
    let asked = q.township.filter(|t| !t.is_empty());
    let township = checkups::list_township(&s.db, &signed.caller, asked).await?;
    let today = today();
    let rules = s.rule_book().await?;
    let due = checkups::due(
        &s.db,
        rules,
        q.year.unwrap_or(today.year()),
        township.as_deref(),
        today,
    )
    .await?;
    let names = places::townships(&s.db).await?;
    let name_of = |id: &str| {
        names
            .iter()
            .find(|t| t.township_id == id)
            .map_or_else(|| id.to_owned(), |t| t.name.clone())
    };
    render(&DuePage {
        books: matches!(signed.caller.role, StaffRole::Office | StaffRole::Clinic),
        township_choice: if signed.caller.role == StaffRole::Office {
            names
                .iter()
                .map(|t| (t.township_id.clone(), t.name.clone()))
                .collect()
        } else {
            vec![]
        },
        township: township.unwrap_or_default(),
        year: due.year,
        judged_on: due.judged_on.to_string(),
        members: due
            .members
            .into_iter()
            .map(|m| DueRow {
                member_id: m.member_id,
                name: shown_name(&signed.caller, &m.name),
                last_four: m.id_last_four,
                township: name_of(&m.township_id),
            })
            .collect(),
        townships: due
            .townships
            .into_iter()
            .map(|t| RateRow {
                township: name_of(&t.township_id),
                entitled: t.entitled,
                booked: t.booked,
                completed: t.completed,
                rate: per_cent(t.completion_per_mille),
            })
            .collect(),
        chrome: Chrome::new(&signed, "checkups"),
    })
}

// ---- Family-doctor contracts ----

struct ContractLine {
    id: i64,
    name: String,
    last_four: String,
    doctor: String,
    starts_on: String,
    ends_on: String,
    next_follow_up_on: String,
}

fn contract_lines(session: &Session, rows: Vec<ContractRow>) -> Vec<ContractLine> {
    rows.into_iter()
        .map(|r| ContractLine {
            id: r.contract_id,
            name: shown_name(&session.caller, &r.name),
            last_four: last_four(&r.id_number),
            doctor: r.doctor_name,
            starts_on: r.starts_on.to_string(),
            ends_on: r.ends_on.to_string(),
            next_follow_up_on: r
                .next_follow_up_on
                .map(|d| d.to_string())
                .unwrap_or_default(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "contracts.html")]
struct ContractsPage {
    chrome: Chrome,
    renewals: Vec<ContractLine>,
    overdue: Vec<ContractLine>,
    unsigned: Vec<DueRow>,
    active: Vec<ContractLine>,
    /// Whether the caller signs (office, a primary-care clinic): the unsigned rows link to it.
    signs: bool,
    renewal_days: i64,
}

async fn contracts_home(
    signed: Signed<ClinicRead>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    let today = today();
    let within = contracts::within(&signed.caller);
    let renewals =
        contract_store::ending_by(&s.db, today + Duration::days(RENEWAL_DAYS), within).await?;
    let overdue = contract_store::follow_ups_overdue(&s.db, today, within).await?;
    let active = contract_store::active(&s.db, within).await?;
    let township = checkups::list_township(&s.db, &signed.caller, None).await?;
    let rules = s.rule_book().await?;
    let unsigned = contracts::unsigned(&s.db, rules, township.as_deref(), today).await?;
    let names = places::townships(&s.db).await?;
    let signs = match signed.caller.role {
        StaffRole::Office => true,
        StaffRole::Clinic => {
            let f = places::facility(&s.db, signed.caller.facility_id.unwrap_or(0)).await?;
            contracts::primary_care(&f).is_ok()
        }
        _ => false,
    };
    render(&ContractsPage {
        renewals: contract_lines(&signed, renewals),
        overdue: contract_lines(&signed, overdue),
        active: contract_lines(&signed, active),
        unsigned: unsigned
            .into_iter()
            .map(|m| DueRow {
                member_id: m.member_id,
                name: shown_name(&signed.caller, &m.name),
                last_four: m.id_last_four,
                township: names
                    .iter()
                    .find(|t| t.township_id == m.township_id)
                    .map_or(m.township_id, |t| t.name.clone()),
            })
            .collect(),
        signs,
        renewal_days: RENEWAL_DAYS,
        chrome: Chrome::new(&signed, "contracts"),
    })
}

#[derive(Template)]
#[template(path = "contract_new.html")]
struct SignPage {
    chrome: Chrome,
    facilities: Vec<(i64, String)>,
    facility_id: i64,
    facility_name: String,
    member: Option<(i64, String, String)>,
    matches: Vec<(i64, String, String)>,
    searched: bool,
    today: String,
    alert: Option<String>,
}

async fn sign_page(
    s: &AppState,
    session: &Session,
    facility_id: Option<i64>,
    member_id: Option<i64>,
) -> Result<SignPage, PageError> {
    let facilities = facility_choice(s, session, FacilityKind::is_primary_care).await?;
    let facility = facility_of(s, session, facility_id, &facilities).await?;
    let mut page = SignPage {
        chrome: Chrome::new(session, "contracts"),
        facilities,
        facility_id: 0,
        facility_name: String::new(),
        member: None,
        matches: vec![],
        searched: false,
        today: today().to_string(),
        alert: None,
    };
    let Some(f) = facility else {
        return Ok(page);
    };
    if let Err(e) = contracts::primary_care(&f) {
        page.alert = Some(refusal_text(&e));
    }
    if let Some(id) = member_id {
        match checkups::patient(
            &s.db,
            None,
            &Patient::Member(id),
            &session.caller,
            &f,
            today(),
        )
        .await
        {
            Ok(m) => {
                page.member = Some((
                    m.member_id,
                    shown_name(&session.caller, &m.name),
                    m.id_last_four,
                ))
            }
            Err(e) if !e.status_and_code().0.is_server_error() => {
                page.alert = Some(refusal_text(&e))
            }
            Err(e) => return Err(e.into()),
        }
    }
    page.facility_id = f.facility_id;
    page.facility_name = f.name;
    Ok(page)
}

#[derive(Deserialize)]
struct SignQuery {
    #[serde(default)]
    member_id: Option<i64>,
    #[serde(default)]
    facility_id: Option<i64>,
}

async fn sign_form(
    signed: Signed<ClinicWork>,
    State(s): State<AppState>,
    PageQuery(q): PageQuery<SignQuery>,
) -> Result<Response, PageError> {
    render(&sign_page(&s, &signed, q.facility_id, q.member_id).await?)
}

/// An optional date field of a form: empty is none.
fn optional_date(field: &str, v: &str) -> Result<Option<NaiveDate>, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| AppError::field(field, "日期格式应为YYYY-MM-DD / not a date"))
}

/// An optional whole number of months: empty is none.
fn optional_months(v: &str) -> Result<Option<u32>, AppError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| AppError::field("term_months", "须为整数月数 / whole months"))
}

#[derive(Deserialize)]
struct SignForm {
    member_id: i64,
    #[serde(default)]
    facility_id: Option<i64>,
    doctor_name: String,
    doctor_code: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    term_months: String,
    health_record_ref: String,
    #[serde(default)]
    next_follow_up_on: String,
}

async fn sign(
    State(s): State<AppState>,
    Posted(signed, f): Posted<ClinicWork, SignForm>,
) -> Result<Response, PageError> {
    let rules = s.rule_book().await?;
    let done = async {
        let signing = Signing {
            member_id: f.member_id,
            facility_id: f.facility_id,
            doctor_name: f.doctor_name.clone(),
            doctor_code: f.doctor_code.clone(),
            team: Some(f.team.clone()),
            starts_on: optional_date("starts_on", &f.starts_on)?,
            term_months: optional_months(&f.term_months)?,
            health_record_ref: f.health_record_ref.clone(),
            next_follow_up_on: optional_date("next_follow_up_on", &f.next_follow_up_on)?,
        };
        contracts::sign(&s.db, &rules, &signed.caller, &signing, today()).await
    }
    .await;
    match done {
        Ok(row) => {
            let mut p = contract_page(&s, &signed, row.contract_id).await?;
            p.message = Some(format!("已与{}签约。", p.name));
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = sign_page(&s, &signed, f.facility_id, Some(f.member_id)).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

struct FollowUpLine {
    on: String,
    doctor: String,
    kind: &'static str,
    note: String,
    next_due_on: String,
}

#[derive(Template)]
#[template(path = "contract.html")]
struct ContractPage {
    chrome: Chrome,
    id: i64,
    name: String,
    last_four: String,
    facility: String,
    doctor_name: String,
    doctor_code: String,
    team: String,
    starts_on: String,
    ends_on: String,
    health_record_ref: String,
    state: String,
    state_label: &'static str,
    next_follow_up_on: String,
    ended: String,
    renews: Option<i64>,
    follow_ups: Vec<FollowUpLine>,
    /// Whether the caller changes it (office, the signing clinic) and it is still active.
    changes: bool,
    today: String,
    end_reasons: Vec<(&'static str, &'static str)>,
    follow_up_kinds: Vec<(&'static str, &'static str)>,
    message: Option<String>,
    alert: Option<String>,
}

async fn contract_page(
    s: &AppState,
    session: &Session,
    id: i64,
) -> Result<ContractPage, PageError> {
    let r = contracts::visible(&s.db, &session.caller, id).await?;
    let facility = places::facility(&s.db, r.facility_id).await?;
    let follow_ups = contract_store::follow_ups(&s.db, id)
        .await?
        .into_iter()
        .map(|f| FollowUpLine {
            on: f.on_date.to_string(),
            doctor: f.doctor_name,
            kind: follow_up_label(&f.kind),
            note: f.note.unwrap_or_default(),
            next_due_on: f.next_due_on.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    let changes = r.state == "active"
        && match session.caller.role {
            StaffRole::Office => true,
            StaffRole::Clinic => session.caller.facility_id == Some(r.facility_id),
            _ => false,
        };
    Ok(ContractPage {
        chrome: Chrome::new(session, "contracts"),
        id,
        name: shown_name(&session.caller, &r.name),
        last_four: last_four(&r.id_number),
        facility: facility.name,
        doctor_name: r.doctor_name,
        doctor_code: r.doctor_code,
        team: r.team.unwrap_or_default(),
        starts_on: r.starts_on.to_string(),
        ends_on: r.ends_on.to_string(),
        health_record_ref: r.health_record_ref,
        state_label: contract_state(&r.state),
        state: r.state,
        next_follow_up_on: r
            .next_follow_up_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        ended: match (r.ended_on, r.end_reason.as_deref()) {
            (Some(on), Some(why)) => format!("{on} {}", end_reason_label(why)),
            (Some(on), None) => on.to_string(),
            _ => String::new(),
        },
        renews: r.renews,
        follow_ups,
        changes,
        today: today().to_string(),
        end_reasons: END_REASONS.iter().map(|(r, l)| (r.as_str(), *l)).collect(),
        follow_up_kinds: FOLLOW_UP_KINDS
            .iter()
            .map(|(k, l)| (k.as_str(), *l))
            .collect(),
        message: None,
        alert: None,
    })
}

async fn contract(
    signed: Signed<ClinicRead>,
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    render(&contract_page(&s, &signed, id).await?)
}

/// The contract page after a change: `shown` is the contract to show (a renewal shows the new
/// one), with what happened or why not.
async fn after_change(
    s: &AppState,
    session: &Session,
    id: i64,
    done: Result<(i64, String), AppError>,
) -> Result<Response, PageError> {
    match done {
        Ok((shown, message)) => {
            let mut p = contract_page(s, session, shown).await?;
            p.message = Some(message);
            render(&p)
        }
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let mut p = contract_page(s, session, id).await?;
            p.alert = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct FollowUpForm {
    on: NaiveDate,
    doctor_name: String,
    kind: FollowUpKind,
    #[serde(default)]
    note: String,
    #[serde(default)]
    next_due_on: String,
}

async fn follow_up(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<ClinicWork, FollowUpForm>,
) -> Result<Response, PageError> {
    let done = async {
        let fu = contracts::FollowUp {
            on: f.on,
            doctor_name: f.doctor_name,
            kind: f.kind,
            note: Some(f.note).filter(|n| !n.trim().is_empty()),
            next_due_on: optional_date("next_due_on", &f.next_due_on)?,
        };
        contracts::follow_up(&s.db, &signed.caller, id, &fu, today()).await?;
        Ok((id, "已记录随访。".to_owned()))
    }
    .await;
    after_change(&s, &signed, id, done).await
}

#[derive(Deserialize)]
struct RenewForm {
    #[serde(default)]
    term_months: String,
    #[serde(default)]
    doctor_name: String,
    #[serde(default)]
    doctor_code: String,
}

async fn renew(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<ClinicWork, RenewForm>,
) -> Result<Response, PageError> {
    let rules = s.rule_book().await?;
    let some = |v: String| Some(v).filter(|v| !v.trim().is_empty());
    let done = async {
        let r = Renewal {
            term_months: optional_months(&f.term_months)?,
            doctor_name: some(f.doctor_name),
            doctor_code: some(f.doctor_code),
            team: None,
        };
        let row = contracts::renew(&s.db, &rules, &signed.caller, id, &r, today()).await?;
        Ok((row.contract_id, format!("已续约至{}。", row.ends_on)))
    }
    .await;
    after_change(&s, &signed, id, done).await
}

#[derive(Deserialize)]
struct EndForm {
    reason: EndReason,
    #[serde(default)]
    on: String,
    #[serde(default)]
    note: String,
}

async fn end(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, f): Posted<ClinicWork, EndForm>,
) -> Result<Response, PageError> {
    let done = async {
        let on = optional_date("on", &f.on)?;
        let note = Some(f.note.trim()).filter(|n| !n.is_empty());
        contracts::end(&s.db, &signed.caller, id, f.reason, on, note, today()).await?;
        Ok((id, "已解约。".to_owned()))
    }
    .await;
    after_change(&s, &signed, id, done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn week(places: &str) -> Vec<(&'static str, String)> {
        (1..=7)
            .map(|i| {
                let name: &'static str = [
                    "weekday1", "weekday2", "weekday3", "weekday4", "weekday5", "weekday6",
                    "weekday7",
                ][i - 1];
                (name, places.to_owned())
            })
            .collect()
    }

    #[test]
    fn the_capacity_form_reads_weekdays_and_dated_rows_in_order() {
        let mut form: Vec<(String, String)> = week("8")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        form.extend(pairs(&[
            ("on", "2027-02-10"),
            ("places", "0"),
            ("note", "春节"),
            ("on", ""),
            ("places", ""),
            ("note", ""),
            ("on", "2027-01-04"),
            ("places", "20"),
            ("note", ""),
        ]));
        let (facility, c) = read_capacity(&form).unwrap();
        assert_eq!(facility, None);
        assert_eq!(c.weekdays, [8; 7]);
        let dates: Vec<_> = c
            .dates
            .iter()
            .map(|d| (d.on_date.to_string(), d.places, d.note.clone()))
            .collect();
        assert_eq!(
            dates,
            vec![
                ("2027-01-04".to_owned(), 20, None),
                ("2027-02-10".to_owned(), 0, Some("春节".to_owned()))
            ]
        );
    }

    #[test]
    fn the_capacity_form_names_the_field_it_cannot_read() {
        let mut form: Vec<(String, String)> = week("8")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        form[2].1 = "八".into();
        let refusal = |form: &[(String, String)]| match read_capacity(form) {
            Err(AppError::Validation(errors)) => errors[0].field.clone(),
            other => panic!("not refused by field: {:?}", other.map(|_| ())),
        };
        assert_eq!(refusal(&form), "weekdays[2]");
        form[2].1 = "8".into();
        form.extend(pairs(&[
            ("on", "2027-02-30"),
            ("places", "1"),
            ("note", ""),
        ]));
        assert_eq!(refusal(&form), "dates[0].on");
        form.truncate(7);
        form.extend(pairs(&[
            ("on", "2027-02-10"),
            ("places", "x"),
            ("note", ""),
        ]));
        assert_eq!(refusal(&form), "dates[0].places");
    }

    #[test]
    fn rates_show_as_percentages_with_one_decimal() {
        assert_eq!(per_cent(0), "0.0%");
        assert_eq!(per_cent(333), "33.3%");
        assert_eq!(per_cent(1000), "100.0%");
    }
}
