//! The audit pages (office and auditors): desk verifications by facility and day, copied-card
//! alerts, the hash chains' check, and the log of full ID numbers shown in the console.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;

use super::page::{render, Chrome};
use super::session::{NoFields, Posted, Signed};
use super::PageError;
use crate::db::audit;
use crate::db::{places, sessions};
use crate::http::audit::AuditReaders;
use crate::http::AppState;
use crate::time::{local_minute, today};

/// Days of verifications shown.
const DAYS: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(overview))
        .route("/audit/check", post(check))
}

struct DayLine {
    day: String,
    facility: String,
    valid: i64,
    refused: i64,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    days: i64,
    per_day: Vec<DayLine>,
    alerts: Vec<(String, String, String, String, String)>,
    views: Vec<(String, String, i64, i64)>,
    check: Option<String>,
    check_ok: bool,
}

async fn page(s: &AppState, signed: &Signed<AuditReaders>) -> Result<AuditPage, PageError> {
    let facilities = places::facilities(&s.db).await?;
    let name = |id: i64| {
        facilities
            .iter()
            .find(|f| f.facility_id == id)
            .map_or_else(|| id.to_string(), |f| f.name.clone())
    };
    let to = today();
    let from = to - Duration::days(DAYS - 1);
    let mut grouped: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for c in audit::per_day(&s.db, &from.to_string(), &to.to_string()).await? {
        let e = grouped.entry((c.day, c.facility_id)).or_default();
        if c.verdict == "valid" {
            e.0 += c.count;
        } else {
            e.1 += c.count;
        }
    }
    let per_day = grouped
        .into_iter()
        .rev()
        .map(|((day, facility), (valid, refused))| DayLine {
            day,
            facility: name(facility),
            valid,
            refused,
        })
        .collect();
    let alerts = audit::copy_alerts(&s.db)
        .await?
        .into_iter()
        .take(200)
        .map(|a| {
            (
                a.card_serial,
                name(a.first_facility_id),
                a.first_at,
                name(a.second_facility_id),
                a.second_at,
            )
        })
        .collect();
    // Who was shown whose full number is for the office; auditors see the counts only above.
    let views = if signed.caller.role == crate::auth::StaffRole::Office {
        sessions::views(&s.db, 200)
            .await?
            .into_iter()
            .map(|v| {
                (
                    local_minute(v.viewed_at),
                    v.account,
                    v.member_id,
                    v.household_id,
                )
            })
            .collect()
    } else {
        vec![]
    };
    Ok(AuditPage {
        chrome: Chrome::new(signed, "audit"),
        days: DAYS,
        per_day,
        alerts,
        views,
        check: None,
        check_ok: false,
    })
}

async fn overview(
    signed: Signed<AuditReaders>,
    State(s): State<AppState>,
) -> Result<Response, PageError> {
    render(&page(&s, &signed).await?)
}

/// Walks every hash chain (a read, but heavy: a form post, not a link a crawler could follow).
async fn check(
    State(s): State<AppState>,
    Posted(signed, NoFields {}): Posted<AuditReaders, NoFields>,
) -> Result<Response, PageError> {
    let report = audit::check(&s.db).await?;
    let mut p = page(&s, &signed).await?;
    p.check_ok = report.first_bad.is_none();
    p.check = Some(match &report.first_bad {
        None => format!(
            "{} 条记录、{} 条链，全部完好。",
            report.entries, report.chains
        ),
        Some(b) => format!(
            "发现问题：记录 {}（链 {}，第 {} 条）：{}",
            b.verification_id, b.chain_id, b.seq, b.problem
        ),
    });
    render(&p)
}
