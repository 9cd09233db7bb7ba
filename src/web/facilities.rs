//! Facilities in the console (office): the designated hospitals and clinics whose desks scan
//! cards, and adding one.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::page::{refusal_text, render, unprocessable, Chrome};
use super::session::{Posted, Signed};
use super::PageError;
use crate::auth::session::Session;
use crate::db::places::{self, FacilityInput};
use crate::error::AppError;
use crate::http::extract::OfficeOnly;
use crate::http::AppState;
use crate::register::FacilityKind;

pub fn router() -> Router<AppState> {
    Router::new().route("/facilities", get(list).post(add))
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "district_hospital" => "区级医院",
        "township_health_centre" => "镇卫生院",
        "community_health_centre" => "社区卫生服务中心",
        _ => "其他",
    }
}

#[derive(Template)]
#[template(path = "facilities.html")]
struct FacilitiesPage {
    chrome: Chrome,
    facilities: Vec<(i64, String, &'static str, i32, String)>,
    townships: Vec<(String, String)>,
    message: Option<String>,
}

async fn page(s: &AppState, session: &Session) -> Result<FacilitiesPage, PageError> {
    let townships = places::townships(&s.db).await?;
    let facilities = places::facilities(&s.db)
        .await?
        .into_iter()
        .map(|f| {
            let township = f
                .township_id
                .as_ref()
                .and_then(|t| townships.iter().find(|x| &x.township_id == t))
                .map(|t| t.name.clone())
                .unwrap_or_default();
            (
                f.facility_id,
                f.name,
                kind_label(&f.kind),
                f.level,
                township,
            )
        })
        .collect();
    Ok(FacilitiesPage {
        chrome: Chrome::new(session, "facilities"),
        facilities,
        townships: townships
            .into_iter()
            .map(|t| (t.township_id, t.name))
            .collect(),
        message: None,
    })
}

async fn list(
    signed: Signed<OfficeOnly>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    render(&page(&s, &signed).await?)
}

#[derive(Deserialize)]
struct NewFacility {
    name: String,
    kind: FacilityKind,
    level: i32,
    #[serde(default)]
    township_id: String,
}

async fn add(
    State(s): State<AppState>,
    Posted(signed, f): Posted<OfficeOnly, NewFacility>,
) -> Result<Response, PageError> {
    let input = FacilityInput {
        name: f.name.trim().to_owned(),
        kind: f.kind,
        level: f.level,
        township_id: Some(f.township_id.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    let added = places::add_facility(
        &s.db,
        &input,
        Some(signed.caller.account_id),
        "控制台新增 / added in the console",
    )
    .await;
    let mut p = page(&s, &signed).await?;
    match added {
        Ok(f) => {
            p.message = Some(format!("已新增“{}”。", f.name));
            render(&p)
        }
        Err(e @ (AppError::Conflict { .. } | AppError::Validation(_))) => {
            p.message = Some(refusal_text(&e));
            unprocessable(&p)
        }
        Err(AppError::Database(e)) if crate::error::is_unique_violation(&e) => {
            p.message = Some(format!(
                "已有名为“{}”的机构 / a facility of that name exists",
                input.name
            ));
            unprocessable(&p)
        }
        Err(e) => Err(e.into()),
    }
}
