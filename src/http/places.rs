//! Townships, communities and facilities.

use crate::register::text::Reason;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use super::extract::{AnyStaff, Json, OfficeOnly, Path, Staff};
use super::AppState;
use crate::db::places::{self, Community, Facility, FacilityInput, Township};
use crate::error::Result;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/townships", get(list_townships))
        .route("/communities", get(list_communities))
        .route("/facilities", get(list_facilities).post(add_facility))
        .route("/facilities/{id}", get(get_facility).put(update_facility))
        .route("/facilities/{id}/history", get(facility_history))
}

async fn list_townships(
    _: Staff<AnyStaff>,
    State(s): State<AppState>,
) -> Result<Json<Vec<Township>>> {
    Ok(Json(places::townships(&s.db).await?))
}

async fn list_communities(
    _: Staff<AnyStaff>,
    State(s): State<AppState>,
) -> Result<Json<Vec<Community>>> {
    Ok(Json(places::communities(&s.db).await?))
}

async fn list_facilities(
    _: Staff<AnyStaff>,
    State(s): State<AppState>,
) -> Result<Json<Vec<Facility>>> {
    Ok(Json(places::facilities(&s.db).await?))
}

async fn get_facility(
    _: Staff<AnyStaff>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Facility>> {
    Ok(Json(places::facility(&s.db, id).await?))
}

async fn add_facility(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Json(input): Json<FacilityInput>,
) -> Result<(StatusCode, Json<Facility>)> {
    let f = places::add_facility(
        &s.db,
        &input,
        Some(caller.account_id),
        "新增机构 / facility added",
    )
    .await?;
    Ok((StatusCode::CREATED, Json(f)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateFacility {
    /// Why the facility changes (kept in its history).
    reason: Reason,
    facility: FacilityInput,
}

async fn update_facility(
    caller: Staff<OfficeOnly>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Json(body): Json<UpdateFacility>,
) -> Result<Json<Facility>> {
    let facility = places::update_facility(
        &s.db,
        id,
        &body.facility,
        Some(caller.account_id),
        &body.reason,
    )
    .await?;
    if let Some(v) = &s.verifier {
        v.forget_facility(id);
    }
    Ok(Json(facility))
}

async fn facility_history(
    _: Staff<AnyStaff>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<crate::db::households::ChangeEntry>>> {
    places::facility(&s.db, id).await?;
    Ok(Json(places::facility_history(&s.db, id).await?))
}
