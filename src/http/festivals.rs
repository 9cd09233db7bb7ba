//! Festival visits (二(二), 二(十)3): the office configures the year's festivals, townships
//! record visits, a festival's checklist lists those not yet visited. Handlers read the request,
//! call [`crate::service::festivals`] and mask names for the auditor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::extract::{Json, OfficeOnly, Path, Query, RegisterRead, RegisterWrite, Staff};
use super::AppState;
use crate::db::festivals::{FestivalRow, VisitRow};
use crate::error::Result;
use crate::register::mask::shown_name;
use crate::service::festivals::{self, Checklist, Festival, Visit};

/// Festivals, visits and checklists.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/festivals", get(list_festivals).post(configure_festival))
        .route("/festivals/{id}/not-visited", get(not_visited))
        .route("/households/{id}/visits", post(visit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearQuery {
    #[serde(default)]
    year: Option<i32>,
}

async fn list_festivals(
    _caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<YearQuery>,
) -> Result<Json<Vec<FestivalRow>>> {
    Ok(Json(festivals::list(&s.db, q.year).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FestivalBody {
    name: String,
    on: NaiveDate,
    #[serde(default)]
    visits_from: Option<NaiveDate>,
    #[serde(default)]
    visits_until: Option<NaiveDate>,
}

async fn configure_festival(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Json(b): Json<FestivalBody>,
) -> Result<(StatusCode, Json<FestivalRow>)> {
    let f = Festival {
        name: b.name,
        on: b.on,
        visits_from: b.visits_from,
        visits_until: b.visits_until,
    };
    Ok((
        StatusCode::CREATED,
        Json(festivals::configure(&s.db, &caller, &f).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitBody {
    festival_id: i64,
    on: NaiveDate,
    made_by: String,
    #[serde(default)]
    note: Option<String>,
}

async fn visit(
    caller: Staff<RegisterWrite>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(b): Json<VisitBody>,
) -> Result<(StatusCode, Json<VisitRow>)> {
    let v = Visit {
        festival_id: b.festival_id,
        on: b.on,
        made_by: b.made_by,
        note: b.note,
    };
    Ok((
        StatusCode::CREATED,
        Json(festivals::visit(&s.db, &caller, id, &v, Utc::now()).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TownshipQuery {
    #[serde(default)]
    township: Option<String>,
}

async fn not_visited(
    caller: Staff<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<TownshipQuery>,
) -> Result<Json<Checklist>> {
    let book = s.rule_book().await?;
    let mut list = festivals::checklist(&s.db, book, &caller, id, q.township.as_deref()).await?;
    for h in &mut list.households {
        h.name = shown_name(&caller, &h.name);
    }
    Ok(Json(list))
}
