//! Editing a household file: the facts a township changes (address, contact, another child,
//! hukou moved out, 低保 and low income, a member's phone or death), with a reason, on the
//! version the form was opened on. A file changed meanwhile gets a clear answer, not an
//! overwrite; the change and the card suspensions it causes land in one transaction.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;

use super::page::{render, unprocessable, Chrome, PagePath};
use super::session::{Posted, Signed};
use super::PageError;
use crate::auth::session::Session;
use crate::db::households::{self, HouseholdRecord};
use crate::db::places;
use crate::error::AppError;
use crate::http::extract::RegisterWrite;
use crate::http::AppState;
use crate::register::{csv_io, Contact, ContactRole, HouseholdInput};
use crate::service::register;
use crate::time::today;

pub fn router() -> Router<AppState> {
    Router::new().route("/households/{id}/edit", get(form).post(save))
}

struct MemberFields {
    index: usize,
    role: &'static str,
    name: String,
    phone: String,
    died_on: String,
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    chrome: Chrome,
    id: i64,
    version: i32,
    reason: String,
    address: String,
    community: String,
    communities: Vec<(String, String)>,
    hukou_in_district: bool,
    hukou_moved_out_on: String,
    other_child_since: bool,
    other_child_on: String,
    dibao: bool,
    low_income: bool,
    contact_name: String,
    contact_phone: String,
    contact_role: String,
    contact_roles: Vec<(&'static str, &'static str)>,
    contact_group: String,
    members: Vec<MemberFields>,
    errors: Vec<String>,
    stale: Option<i32>,
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

async fn page(
    s: &AppState,
    session: &Session,
    id: i64,
    version: i32,
    input: &HouseholdInput,
    reason: String,
) -> Result<EditPage, PageError> {
    let communities = places::communities(&s.db)
        .await?
        .into_iter()
        .filter(|c| c.township_id == input.township_id)
        .map(|c| (c.community_id, c.name))
        .collect();
    Ok(EditPage {
        chrome: Chrome::new(session, "households"),
        id,
        version,
        reason,
        address: input.address.clone(),
        community: input.community_id.clone().unwrap_or_default(),
        communities,
        hukou_in_district: input.hukou_in_district,
        hukou_moved_out_on: date_text(input.hukou_moved_out_on),
        other_child_since: input.other_child_since,
        other_child_on: date_text(input.other_child_on),
        dibao: input.dibao,
        low_income: input.low_income,
        contact_name: input
            .contact
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        contact_phone: input
            .contact
            .as_ref()
            .and_then(|c| c.phone.clone())
            .unwrap_or_default(),
        contact_role: input
            .contact
            .as_ref()
            .and_then(|c| c.role)
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        contact_roles: ContactRole::ALL
            .iter()
            .map(|r| (r.as_str(), r.zh()))
            .collect(),
        contact_group: input
            .contact
            .as_ref()
            .map(|c| csv_io::format_group(&c.group))
            .unwrap_or_default(),
        members: input
            .members
            .iter()
            .enumerate()
            .map(|(index, m)| MemberFields {
                index,
                role: match m.role.as_str() {
                    "mother" => "母亲",
                    "father" => "父亲",
                    _ => "子女",
                },
                name: m.name.clone(),
                phone: m.phone.clone().unwrap_or_default(),
                died_on: date_text(m.died_on),
            })
            .collect(),
        errors: vec![],
        stale: None,
    })
}

/// The file if the caller may change it; outside the caller's township it does not exist.
async fn writable(s: &AppState, session: &Session, id: i64) -> Result<HouseholdRecord, PageError> {
    let record = households::get(&s.db, id).await?;
    if !session.caller.may_write_township(&record.township_id) {
        return Err(AppError::NotFound("household").into());
    }
    Ok(record)
}

async fn form(
    signed: Signed<RegisterWrite>,
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
) -> Result<Response, PageError> {
    let record = writable(&s, &signed, id).await?;
    let p = page(
        &s,
        &signed,
        id,
        record.version,
        &record.to_input(),
        String::new(),
    )
    .await?;
    render(&p)
}

/// The form's fields applied to the file as it was opened; a field that does not parse is
/// reported with its label.
fn apply(
    mut input: HouseholdInput,
    f: &HashMap<String, String>,
) -> Result<HouseholdInput, Vec<String>> {
    let mut errors = Vec::new();
    let text = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let checked = |k: &str| f.get(k).is_some_and(|v| v == "on");
    let mut date = |k: &str, label: &str| -> Option<NaiveDate> {
        let v = text(k);
        if v.is_empty() {
            return None;
        }
        NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .map_err(|_| errors.push(format!("{label}：日期格式应为 2026-01-31")))
            .ok()
    };
    input.address = text("address");
    input.community_id = Some(text("community_id")).filter(|c| !c.is_empty());
    input.hukou_in_district = checked("hukou_in_district");
    input.hukou_moved_out_on = date("hukou_moved_out_on", "户籍迁出日期");
    input.other_child_since = checked("other_child_since");
    input.other_child_on = date("other_child_on", "再生育或收养日期");
    input.dibao = checked("dibao");
    input.low_income = checked("low_income");
    let contact_name = text("contact_name");
    let contact_phone = Some(text("contact_phone")).filter(|p| !p.is_empty());
    let mut contact_errors = Vec::new();
    let role = match text("contact_role").as_str() {
        "" => None,
        r => r
            .parse::<ContactRole>()
            .map_err(|_| contact_errors.push("联系人身份：请从列表中选择".to_owned()))
            .ok(),
    };
    let group = csv_io::parse_group(&text("contact_group")).unwrap_or_else(|bad| {
        contact_errors.push(format!(
            "联系小组：“{}”应为 姓名 身份 电话",
            crate::register::text::echo(&bad)
        ));
        Vec::new()
    });
    input.contact = (!contact_name.is_empty() || contact_phone.is_some() || !group.is_empty())
        .then_some(Contact {
            name: contact_name,
            phone: contact_phone,
            role,
            group,
        });
    for (i, m) in input.members.iter_mut().enumerate() {
        m.name = text(&format!("m{i}_name"));
        m.phone = Some(text(&format!("m{i}_phone"))).filter(|p| !p.is_empty());
        m.died_on = date(
            &format!("m{i}_died_on"),
            &format!("成员 {} 去世日期", i + 1),
        );
    }
    errors.extend(contact_errors);
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

async fn save(
    State(s): State<AppState>,
    PagePath(id): PagePath<i64>,
    Posted(signed, fields): Posted<RegisterWrite, Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let record = writable(&s, &signed, id).await?;
    let f: HashMap<String, String> = fields.into_iter().collect();
    let reason = f
        .get("reason")
        .map(|r| r.trim().to_owned())
        .unwrap_or_default();
    let version: i32 = f
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| PageError::bad_form("version: 缺少档案版本 / missing"))?;
    // The form edits the file as it was opened; fields it does not show are kept as stored.
    let input = match apply(record.to_input(), &f) {
        Ok(input) => input,
        Err(errors) => {
            let mut p = page(&s, &signed, id, version, &record.to_input(), reason).await?;
            p.errors = errors;
            return unprocessable(&p);
        }
    };
    let book = s.rule_book().await?;
    let change = register::Change {
        household_id: id,
        expected_version: version,
        input: &input,
        account_id: Some(signed.caller.account_id),
        reason: &reason,
    };
    match register::change_household(&s.db, &book, change, today()).await {
        Ok(changed) => {
            let done = if changed.suspended.is_empty() {
                "edited"
            } else {
                "edited_suspended"
            };
            Ok(Redirect::to(&format!("/households/{id}?done={done}")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            let mut p = page(&s, &signed, id, version, &input, reason).await?;
            p.errors = errors
                .into_iter()
                .map(|e| format!("{}：{}", e.field, e.reason))
                .collect();
            unprocessable(&p)
        }
        Err(AppError::Conflict {
            code: "stale_version",
            ..
        }) => {
            let mut p = page(&s, &signed, id, version, &input, reason).await?;
            p.stale = Some(record.version);
            let mut res = render(&p)?;
            *res.status_mut() = StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}
