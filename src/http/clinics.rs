//! Clinics' API: checkup places, bookings and their outcomes (二(五)4), family-doctor contracts
//! and follow-ups (二(五)6). Handlers read the request, call [`crate::service::checkups`] and
//! [`crate::service::contracts`], and shape the answer for the caller's role: names masked for
//! the auditor, ID numbers only by their last four.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::extract::{ClinicRead, ClinicWork, Json, Path, Query, Staff};
use super::AppState;
use crate::auth::Caller;
use crate::db::checkups::{self as store, Capacity, CheckupRow, DatePlaces};
use crate::db::contracts::{self, ContractRow, FollowUpRow};
use crate::error::{AppError, Result};
use crate::register::mask::{last_four, shown_name};
use crate::register::text::Reason;
use crate::service::checkups::{self, DayPlaces, Outcome, Patient, REFERENCE, SUMMARY};
use crate::service::contracts::{EndReason, FollowUpKind, Renewal, Signing};
use crate::time::today;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/facilities/{id}/checkup-capacity",
            get(get_capacity).put(put_capacity),
        )
        .route("/checkups", get(day_list).post(book))
        .route("/checkups/due", get(due))
        .route("/checkups/{id}", get(get_checkup))
        .route("/checkups/{id}/complete", post(complete))
        .route("/checkups/{id}/cancel", post(cancel))
        .route("/checkups/{id}/no-show", post(no_show))
        .route("/contracts", post(sign))
        .route("/contracts/renewals-due", get(renewals_due))
        .route("/contracts/follow-ups-overdue", get(follow_ups_overdue))
        .route("/contracts/unsigned", get(unsigned))
        .route("/contracts/{id}", get(get_contract))
        .route("/contracts/{id}/renew", post(renew))
        .route("/contracts/{id}/end", post(end))
        .route(
            "/contracts/{id}/follow-ups",
            get(list_follow_ups).post(add_follow_up),
        )
}

/// The days a capacity answer shows ahead.
const DAYS_SHOWN: u32 = 14;

#[derive(Serialize)]
struct CapacityView {
    facility_id: i64,
    /// Places Monday to Sunday.
    weekdays: [i32; 7],
    /// Dated exceptions from today on.
    dates: Vec<DateView>,
    /// The next 14 days' places, taken and free.
    days: Vec<DayPlaces>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DateView {
    on: NaiveDate,
    places: i32,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityBody {
    weekdays: [i32; 7],
    #[serde(default)]
    dates: Vec<DateView>,
}

async fn get_capacity(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CapacityView>> {
    let f = checkups::facility_for(&s.db, &caller, Some(id)).await?;
    let (c, days) = checkups::coming_days(&s.db, f.facility_id, today(), DAYS_SHOWN).await?;
    Ok(Json(CapacityView {
        facility_id: f.facility_id,
        weekdays: c.weekdays,
        dates: c
            .dates
            .into_iter()
            .map(|d| DateView {
                on: d.on_date,
                places: d.places,
                note: d.note,
            })
            .collect(),
        days,
    }))
}

async fn put_capacity(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<CapacityBody>,
) -> Result<Json<CapacityView>> {
    let mut dates: Vec<DatePlaces> = body
        .dates
        .into_iter()
        .map(|d| DatePlaces {
            on_date: d.on,
            places: d.places,
            note: d.note.filter(|n| !n.trim().is_empty()),
        })
        .collect();
    dates.sort_by_key(|d| d.on_date);
    let c = Capacity {
        weekdays: body.weekdays,
        dates,
    };
    checkups::set_capacity(&s.db, &caller, id, &c, today()).await?;
    get_capacity(caller, State(s), Path(id)).await
}

#[derive(Serialize)]
struct CheckupView {
    checkup_id: i64,
    member_id: i64,
    household_id: i64,
    township_id: String,
    name: String,
    id_last_four: String,
    facility_id: i64,
    on: NaiveDate,
    year: i32,
    state: String,
    booked_at: String,
    completed_on: Option<NaiveDate>,
    result_summary: Option<String>,
    report_ref: Option<String>,
    follow_up_advised: Option<bool>,
    close_reason: Option<String>,
}

fn checkup_view(caller: &Caller, r: CheckupRow) -> CheckupView {
    CheckupView {
        name: shown_name(caller, &r.name),
        id_last_four: last_four(&r.id_number),
        checkup_id: r.checkup_id,
        member_id: r.member_id,
        household_id: r.household_id,
        township_id: r.township_id,
        facility_id: r.facility_id,
        on: r.on_date,
        year: r.year,
        state: r.state,
        booked_at: r
            .booked_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        completed_on: r.completed_on,
        result_summary: r.result_summary,
        report_ref: r.report_ref,
        follow_up_advised: r.follow_up_advised,
        close_reason: r.close_reason,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookBody {
    #[serde(default)]
    member_id: Option<i64>,
    #[serde(default)]
    qr: Option<String>,
    on: NaiveDate,
    #[serde(default)]
    facility_id: Option<i64>,
}

async fn book(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Json(b): Json<BookBody>,
) -> Result<(StatusCode, Json<CheckupView>)> {
    let patient = match (b.member_id, b.qr) {
        (Some(id), None) => Patient::Member(id),
        (None, Some(qr)) if qr.len() <= checkups::QR_MAX => Patient::Card(qr),
        (None, Some(_)) => {
            return Err(AppError::field(
                "qr",
                format!(
                    "最多{}个字符 / at most {} characters",
                    checkups::QR_MAX,
                    checkups::QR_MAX
                ),
            ))
        }
        _ => {
            return Err(AppError::bad_request(
                "invalid_body",
                "give exactly one of member_id and qr / 须给出member_id或qr之一",
            ))
        }
    };
    let book = s.rule_book().await?;
    let keys = s.cards.as_ref().map(|c| c.watch_keys().borrow().clone());
    let row = checkups::book(
        &s.db,
        &book,
        keys.as_ref(),
        &caller,
        &patient,
        b.facility_id,
        b.on,
        today(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(checkup_view(&caller, row))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DayQuery {
    #[serde(default)]
    facility_id: Option<i64>,
    #[serde(default)]
    on: Option<NaiveDate>,
}

async fn day_list(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Query(q): Query<DayQuery>,
) -> Result<Json<Vec<CheckupView>>> {
    let f = checkups::facility_for(&s.db, &caller, q.facility_id).await?;
    let rows = store::day_list(&s.db, f.facility_id, q.on.unwrap_or_else(today)).await?;
    Ok(Json(
        rows.into_iter().map(|r| checkup_view(&caller, r)).collect(),
    ))
}

async fn get_checkup(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CheckupView>> {
    let row = checkups::visible(&s.db, &caller, id).await?;
    Ok(Json(checkup_view(&caller, row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    #[serde(default)]
    on: Option<NaiveDate>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    report_ref: Option<String>,
    #[serde(default)]
    follow_up_advised: bool,
}

async fn complete(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<CompleteBody>,
) -> Result<Json<CheckupView>> {
    let outcome = Outcome::Completed {
        on: b.on.unwrap_or_else(today),
        summary: checkups::optional_text("summary", b.summary.as_deref(), SUMMARY)?,
        report_ref: checkups::optional_text("report_ref", b.report_ref.as_deref(), REFERENCE)?,
        follow_up_advised: b.follow_up_advised,
    };
    let row = checkups::close(&s.db, &caller, id, &outcome, today()).await?;
    Ok(Json(checkup_view(&caller, row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<Reason>,
}

async fn cancel(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<CancelBody>,
) -> Result<Json<CheckupView>> {
    let reason = b
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let row = checkups::close(&s.db, &caller, id, &Outcome::Cancelled(reason), today()).await?;
    Ok(Json(checkup_view(&caller, row)))
}

async fn no_show(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CheckupView>> {
    let row = checkups::close(&s.db, &caller, id, &Outcome::NoShow, today()).await?;
    Ok(Json(checkup_view(&caller, row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DueQuery {
    #[serde(default)]
    year: Option<i32>,
    #[serde(default)]
    township: Option<String>,
}

#[derive(Serialize)]
struct DueView {
    year: i32,
    judged_on: NaiveDate,
    members: Vec<checkups::DueMember>,
    townships: Vec<checkups::TownshipRate>,
}

async fn due(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
    Query(q): Query<DueQuery>,
) -> Result<Json<DueView>> {
    let township = checkups::list_township(&s.db, &caller, q.township).await?;
    let today = today();
    let book = s.rule_book().await?;
    let due = checkups::due(
        &s.db,
        book,
        q.year.unwrap_or(today.year()),
        township.as_deref(),
        today,
    )
    .await?;
    Ok(Json(DueView {
        year: due.year,
        judged_on: due.judged_on,
        members: due
            .members
            .into_iter()
            .map(|mut m| {
                m.name = shown_name(&caller, &m.name);
                m
            })
            .collect(),
        townships: due.townships,
    }))
}

#[derive(Serialize)]
struct ContractView {
    contract_id: i64,
    member_id: i64,
    household_id: i64,
    township_id: String,
    name: String,
    id_last_four: String,
    facility_id: i64,
    doctor_name: String,
    doctor_code: String,
    team: Option<String>,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    health_record_ref: String,
    state: String,
    renews: Option<i64>,
    next_follow_up_on: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
    end_reason: Option<String>,
}

fn contract_view(caller: &Caller, r: ContractRow) -> ContractView {
    ContractView {
        name: shown_name(caller, &r.name),
        id_last_four: last_four(&r.id_number),
        contract_id: r.contract_id,
        member_id: r.member_id,
        household_id: r.household_id,
        township_id: r.township_id,
        facility_id: r.facility_id,
        doctor_name: r.doctor_name,
        doctor_code: r.doctor_code,
        team: r.team,
        starts_on: r.starts_on,
        ends_on: r.ends_on,
        health_record_ref: r.health_record_ref,
        state: r.state,
        renews: r.renews,
        next_follow_up_on: r.next_follow_up_on,
        ended_on: r.ended_on,
        end_reason: r.end_reason,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    member_id: i64,
    #[serde(default)]
    facility_id: Option<i64>,
    doctor_name: String,
    doctor_code: String,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    starts_on: Option<NaiveDate>,
    #[serde(default)]
    term_months: Option<u32>,
    health_record_ref: String,
    #[serde(default)]
    next_follow_up_on: Option<NaiveDate>,
}

async fn sign(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Json(b): Json<SignBody>,
) -> Result<(StatusCode, Json<ContractView>)> {
    let signing = Signing {
        member_id: b.member_id,
        facility_id: b.facility_id,
        doctor_name: b.doctor_name,
        doctor_code: b.doctor_code,
        team: b.team,
        starts_on: b.starts_on,
        term_months: b.term_months,
        health_record_ref: b.health_record_ref,
        next_follow_up_on: b.next_follow_up_on,
    };
    let book = s.rule_book().await?;
    let row = crate::service::contracts::sign(&s.db, &book, &caller, &signing, today()).await?;
    Ok((StatusCode::CREATED, Json(contract_view(&caller, row))))
}

async fn get_contract(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ContractView>> {
    let row = crate::service::contracts::visible(&s.db, &caller, id).await?;
    Ok(Json(contract_view(&caller, row)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    #[serde(default)]
    term_months: Option<u32>,
    #[serde(default)]
    doctor_name: Option<String>,
    #[serde(default)]
    doctor_code: Option<String>,
    #[serde(default)]
    team: Option<String>,
}

async fn renew(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<RenewBody>,
) -> Result<(StatusCode, Json<ContractView>)> {
    let r = Renewal {
        term_months: b.term_months,
        doctor_name: b.doctor_name,
        doctor_code: b.doctor_code,
        team: b.team,
    };
    let book = s.rule_book().await?;
    let row = crate::service::contracts::renew(&s.db, &book, &caller, id, &r, today()).await?;
    Ok((StatusCode::CREATED, Json(contract_view(&caller, row))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    reason: EndReason,
    #[serde(default)]
    on: Option<NaiveDate>,
    #[serde(default)]
    note: Option<Reason>,
}

async fn end(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<EndBody>,
) -> Result<Json<ContractView>> {
    let row = crate::service::contracts::end(
        &s.db,
        &caller,
        id,
        b.reason,
        b.on,
        b.note.as_deref(),
        today(),
    )
    .await?;
    Ok(Json(contract_view(&caller, row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowUpBody {
    on: NaiveDate,
    doctor_name: String,
    kind: FollowUpKind,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    next_due_on: Option<NaiveDate>,
}

async fn add_follow_up(
    caller: Staff<ClinicWork>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<FollowUpBody>,
) -> Result<(StatusCode, Json<FollowUpRow>)> {
    let f = crate::service::contracts::FollowUp {
        on: b.on,
        doctor_name: b.doctor_name,
        kind: b.kind,
        note: b.note,
        next_due_on: b.next_due_on,
    };
    let row = crate::service::contracts::follow_up(&s.db, &caller, id, &f, today()).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

async fn list_follow_ups(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<FollowUpRow>>> {
    crate::service::contracts::visible(&s.db, &caller, id).await?;
    Ok(Json(contracts::follow_ups(&s.db, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithinQuery {
    #[serde(default)]
    within_days: Option<u32>,
}

/// The longest look-ahead of the renewals list.
const MAX_WITHIN_DAYS: u32 = 366;

async fn renewals_due(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
    Query(q): Query<WithinQuery>,
) -> Result<Json<Vec<ContractView>>> {
    let days = q.within_days.unwrap_or(30);
    if days > MAX_WITHIN_DAYS {
        return Err(AppError::field(
            "within_days",
            format!("最多{MAX_WITHIN_DAYS}天 / at most {MAX_WITHIN_DAYS}"),
        ));
    }
    let by = today() + chrono::Duration::days(i64::from(days));
    let rows = contracts::ending_by(&s.db, by, crate::service::contracts::within(&caller)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| contract_view(&caller, r))
            .collect(),
    ))
}

async fn follow_ups_overdue(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
) -> Result<Json<Vec<ContractView>>> {
    let rows =
        contracts::follow_ups_overdue(&s.db, today(), crate::service::contracts::within(&caller))
            .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| contract_view(&caller, r))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TownshipQuery {
    #[serde(default)]
    township: Option<String>,
}

async fn unsigned(
    caller: Staff<ClinicRead>,
    State(s): State<AppState>,
    Query(q): Query<TownshipQuery>,
) -> Result<Json<Vec<crate::service::contracts::Unsigned>>> {
    let township = checkups::list_township(&s.db, &caller, q.township).await?;
    let book = s.rule_book().await?;
    let mut rows =
        crate::service::contracts::unsigned(&s.db, book, township.as_deref(), today()).await?;
    for r in &mut rows {
        r.name = shown_name(&caller, &r.name);
    }
    Ok(Json(rows))
}
