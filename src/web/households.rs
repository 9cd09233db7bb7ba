//! Household pages: finding a family, its file (also as it stood on a past date) with its
//! entitlements and their basis, its history, and — as an explicit, logged action — a member's
//! full ID number.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::page::{refusal_text, render, unprocessable, Chrome};
use super::page::{PagePath as Path, PageQuery as Query};
use super::session::{Posted, Signed};
use super::PageError;
use crate::auth::session::Session;
use crate::auth::StaffRole;
use crate::db::cards::{self, CardRecord};
use crate::db::household_search::{self, Filter, Needle};
use crate::db::households::{self, HouseholdRecord};
use crate::db::{places, sessions};
use crate::error::AppError;
use crate::http::extract::{RegisterRead, RegisterWrite};
use crate::http::AppState;
use crate::register::{csv_io, mask, Child, IdNumber, Timeline};
use crate::rules::{evaluate, Per, Status};
use crate::service::facts::{FactChange, FactKey};
use crate::time::{end_of_day, local_minute, today};

/// Households listed per page of results.
const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households", get(search).post(search_posted))
        .route("/households/{id}", get(file))
        .route("/households/{id}/reveal", post(reveal))
        .route("/households/{id}/facts", post(record_fact))
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    township: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    after: i64,
}

struct FoundView {
    household_id: i64,
    township: String,
    community: String,
    kind: &'static str,
    address: String,
    members: Vec<String>,
}

#[derive(Template)]
#[template(path = "households.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    township: String,
    community: String,
    communities: Vec<(String, String)>,
    kind: String,
    townships: Vec<(String, String)>,
    township_locked: bool,
    results: Vec<FoundView>,
    /// The last household of this page, when there are more.
    next: Option<i64>,
}

fn kind_label(child_status: &str) -> &'static str {
    match child_status {
        "deceased" => "失独家庭",
        "disabled" => "伤残家庭",
        _ => "其他",
    }
}

fn role_label(role: &str) -> &'static str {
    match role {
        "mother" => "母亲",
        "father" => "父亲",
        _ => "子女",
    }
}

/// An ID number as the screen shows it unless asked: the first four and the last four.
fn masked_id(id: &str) -> String {
    IdNumber::parse(id).map(|i| i.masked()).unwrap_or_default()
}

/// The township the caller's searches are held to.
fn forced_township(session: &Session) -> Option<String> {
    match session.caller.role {
        StaffRole::Township => session.caller.township_id.clone(),
        _ => None,
    }
}

async fn search(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    search_page(&s, &signed, q).await
}

/// The search as the page's form sends it: posted, so that a name, an ID number or a phone
/// typed in the box never lands in an address — the browser's history, a proxy's log.
async fn search_posted(
    State(s): State<AppState>,
    Posted(signed, q): Posted<RegisterRead, SearchQuery>,
) -> Result<Response, PageError> {
    search_page(&s, &signed, q).await
}

async fn search_page(
    s: &AppState,
    signed: &Session,
    q: SearchQuery,
) -> Result<Response, PageError> {
    if q.q.chars().count() > 64 {
        return Err(PageError::bad_form(
            "查找内容最多 64 个字符 / at most 64 characters",
        ));
    }
    let forced = forced_township(signed);
    let township = forced
        .clone()
        .or_else(|| Some(q.township.clone()).filter(|t| !t.is_empty()));
    let kind = match q.kind.as_str() {
        "" => None,
        "deceased" | "disabled" => Some(q.kind.as_str()),
        _ => return Err(PageError::bad_form("家庭类型无效 / unknown family kind")),
    };
    let community = Some(q.community.as_str()).filter(|c| !c.is_empty());
    let filter = Filter {
        township: township.as_deref(),
        // A community outside the township held to finds nothing: the township filter stays.
        community,
        child_status: kind,
    };
    let (found, members) =
        household_search::search(&s.db, &Needle::parse(&q.q), &filter, q.after, PAGE_SIZE + 1)
            .await?;
    let more = found.len() as i64 > PAGE_SIZE;
    let mut results: Vec<FoundView> = found
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|f| FoundView {
            household_id: f.household_id,
            township: f.township_name,
            community: f.community_name.unwrap_or_default(),
            kind: kind_label(&f.child_status),
            address: f.address,
            members: vec![],
        })
        .collect();
    for m in members {
        if let Some(r) = results
            .iter_mut()
            .find(|r| r.household_id == m.household_id)
        {
            r.members.push(format!(
                "{}（{}）{}",
                m.name,
                role_label(&m.role),
                masked_id(&m.id_number)
            ));
        }
    }
    let next = more
        .then(|| results.last().map(|r| r.household_id))
        .flatten();
    let townships: Vec<(String, String)> = places::townships(&s.db)
        .await?
        .into_iter()
        .filter(|t| forced.as_deref().is_none_or(|f| f == t.township_id))
        .map(|t| (t.township_id, t.name))
        .collect();
    // The communities of the townships the caller may see, named with their township.
    let communities = places::communities(&s.db)
        .await?
        .into_iter()
        .filter_map(|c| {
            let (_, township_name) = townships.iter().find(|(id, _)| *id == c.township_id)?;
            Some((c.community_id, format!("{township_name} · {}", c.name)))
        })
        .collect();
    render(&SearchPage {
        chrome: Chrome::new(signed, "households"),
        q: q.q,
        township: township.unwrap_or_default(),
        community: q.community,
        communities,
        kind: q.kind,
        townships,
        township_locked: forced.is_some(),
        results,
        next,
    })
}

struct CardLine {
    serial: String,
    state: String,
    state_label: &'static str,
    issued: String,
    expires: String,
    reason: String,
}

struct MemberView {
    member_id: i64,
    name: String,
    role: &'static str,
    born_on: String,
    id_number: String,
    revealed: bool,
    phone: String,
    died_on: String,
    cards: Vec<CardLine>,
    has_current_card: bool,
}

struct EntitlementLine {
    who: String,
    code: String,
    status: &'static str,
    amount: String,
    clause: &'static str,
    basis: String,
}

#[derive(Template)]
#[template(path = "household.html")]
struct FilePage {
    chrome: Chrome,
    id: i64,
    version: i32,
    township: String,
    community: String,
    address: String,
    child: String,
    contact: String,
    updated: String,
    as_of: String,
    historical: bool,
    members: Vec<MemberView>,
    eligible: String,
    rule_set: String,
    entitlements: Vec<EntitlementLine>,
    history: Vec<(i32, String, String)>,
    facts: Vec<FactLine>,
    /// For the form recording a change of a fact: each member's id and name.
    fact_members: Vec<(i64, String)>,
    fact_keys: Vec<(&'static str, &'static str, bool)>,
    today: String,
    alert: Option<String>,
    can_reveal: bool,
    can_edit: bool,
    office: bool,
    message: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct FileQuery {
    /// `YYYY-MM-DD`: the file as it stood at the end of that day (Beijing time).
    #[serde(default)]
    as_of: String,
    /// What the last action did (a fixed code; the page shows its text).
    #[serde(default)]
    done: String,
}

/// The message for an action's code, so that no text from the address bar reaches the page.
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "issued" => "已发卡。",
        "reissued" => "已补办新卡，旧卡已作废。",
        "revoked" => "卡片已作废。",
        "suspended" => "卡片已暂停使用。",
        "reinstated" => "卡片已恢复使用。",
        "edited" => "档案已保存。",
        "fact_recorded" => "情况变更已记入档案。",
        "edited_suspended" => {
            "档案已保存。不再符合条件的成员，其卡片已自动暂停，等待区卫健局确认。"
        }
        _ => return None,
    })
}

/// The household `id` if the caller may read it (judged on the file as it is now, so a move
/// between townships cannot hide it); outside the caller's scope it does not exist.
async fn readable(s: &AppState, session: &Session, id: i64) -> Result<HouseholdRecord, PageError> {
    let current = households::get(&s.db, id).await?;
    if !session.caller.may_read_township(&current.township_id) {
        return Err(AppError::NotFound("household").into());
    }
    Ok(current)
}

async fn file(
    signed: Signed<RegisterRead>,
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<FileQuery>,
) -> Result<Response, PageError> {
    let record = readable(&s, &signed, id).await?;
    let as_of = match q.as_of.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                // Four-digit years only: both databases compare such dates the same way.
                .filter(|d| (1900..=9999).contains(&chrono::Datelike::year(d)))
                .ok_or_else(|| {
                    PageError::bad_form("日期格式应为 2026-01-31 / a date like 2026-01-31")
                })?,
        ),
    };
    let page = file_page(&s, &signed, record, as_of, None, done_message(&q.done)).await?;
    render(&page)
}

#[derive(Deserialize)]
struct RevealForm {
    member_id: i64,
}

/// Shows one member's full ID number, recording who saw whose and when.
async fn reveal(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Posted(signed, form): Posted<RegisterWrite, RevealForm>,
) -> Result<Response, PageError> {
    let record = readable(&s, &signed, id).await?;
    if !record.members.iter().any(|m| m.member_id == form.member_id) {
        return Err(AppError::NotFound("member").into());
    }
    sessions::record_view(
        &s.db,
        signed.caller.account_id,
        id,
        form.member_id,
        Utc::now(),
    )
    .await?;
    tracing::info!(
        account = signed.caller.account_id,
        member = form.member_id,
        "full ID number shown"
    );
    let page = file_page(&s, &signed, record, None, Some(form.member_id), None).await?;
    render(&page)
}

/// One fact the rules read, as on the page's date, with its record of changes.
struct FactLine {
    who: String,
    fact: &'static str,
    value: String,
    steps: String,
}

/// A recorded value in the words staff use; "未登记" when nothing holds for the day.
fn shown_value<T: Copy>(
    t: &Timeline<T>,
    on: NaiveDate,
    word: impl Fn(T) -> &'static str,
) -> (String, String) {
    let value = t
        .on(on)
        .map_or_else(|| "未登记".to_owned(), |v| word(v).to_owned());
    (value, csv_io::format_timeline(t, word))
}

/// Every fact the rules read of the file, each member's and the household's.
fn fact_lines(record: &HouseholdRecord, on: NaiveDate) -> Vec<FactLine> {
    let mut lines = Vec::new();
    for m in &record.members {
        let f = &m.facts;
        for key in FactKey::MEMBER {
            if key == FactKey::InSchool && m.role != crate::register::Role::Child {
                continue;
            }
            let (value, steps) = match key {
                FactKey::ExtremePoverty => shown_value(&f.extreme_poverty, on, csv_io::format_flag),
                FactKey::EconomicDifficulty => {
                    shown_value(&f.economic_difficulty, on, csv_io::format_flag)
                }
                FactKey::CivilCapacity => {
                    shown_value(&f.civil_capacity, on, csv_io::format_capacity)
                }
                FactKey::OtherGuardian => shown_value(&f.other_guardian, on, csv_io::format_flag),
                FactKey::SeverelyDisabled => {
                    shown_value(&f.severely_disabled, on, csv_io::format_flag)
                }
                _ => shown_value(&f.in_school, on, csv_io::format_flag),
            };
            lines.push(FactLine {
                who: m.name.clone(),
                fact: key.zh(),
                value,
                steps,
            });
        }
        if m.role != crate::register::Role::Child {
            let year = chrono::Datelike::year(&on);
            let value = match f.contributions.iter().find(|c| c.year == year) {
                None => "未登记".to_owned(),
                Some(c) => csv_io::format_contributions(std::slice::from_ref(c)),
            };
            lines.push(FactLine {
                who: m.name.clone(),
                fact: "养老保险缴费",
                value,
                steps: csv_io::format_contributions(&f.contributions),
            });
        }
    }
    for (key, t) in [
        (FactKey::HousingDifficulty, &record.facts.housing_difficulty),
        (
            FactKey::FuneralSubsidyConditions,
            &record.facts.funeral_subsidy_conditions,
        ),
    ] {
        let (value, steps) = shown_value(t, on, csv_io::format_flag);
        lines.push(FactLine {
            who: "全户".into(),
            fact: key.zh(),
            value,
            steps,
        });
    }
    lines
}

/// The contact person, their role and the group, phones masked.
fn contact_text(c: &crate::register::Contact) -> String {
    let one = |name: &str, role: Option<crate::register::ContactRole>, phone: &Option<String>| {
        let role = role.map(|r| format!("（{}）", r.zh())).unwrap_or_default();
        let phone = phone.as_deref().map(mask::mask_phone).unwrap_or_default();
        format!("{name}{role} {phone}").trim_end().to_owned()
    };
    let mut text = one(&c.name, c.role, &c.phone);
    if !c.group.is_empty() {
        let group: Vec<String> = c
            .group
            .iter()
            .map(|g| one(&g.name, g.role, &g.phone))
            .collect();
        text.push_str(&format!("；联系小组：{}", group.join("、")));
    }
    text
}

#[derive(Deserialize)]
struct FactForm {
    /// `household`, or a member's id.
    who: String,
    fact: String,
    value: String,
    from: String,
    reason: String,
    /// The version the page showed: a change made since is refused as stale.
    version: i32,
}

impl FactForm {
    /// The change the form asks for, or the field it cannot read.
    fn change(&self) -> Result<FactChange, AppError> {
        Ok(FactChange {
            member_id: match self.who.as_str() {
                "household" => None,
                m => {
                    Some(m.parse().map_err(|_| {
                        AppError::field("who", "请选择对象 / choose whom it concerns")
                    })?)
                }
            },
            fact: self
                .fact
                .parse()
                .map_err(|_| AppError::field("fact", "请选择情况 / choose the fact"))?,
            value: self.value.clone(),
            from: NaiveDate::parse_from_str(self.from.trim(), "%Y-%m-%d").map_err(|_| {
                AppError::field("from", "日期格式应为 2026-01-31 / a date like 2026-01-31")
            })?,
            reason: self
                .reason
                .clone()
                .try_into()
                .map_err(|e: String| AppError::field("reason", e))?,
            version: Some(self.version),
        })
    }
}

/// Records that a fact changed on a day; the file again, saying so or why not.
async fn record_fact(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Posted(signed, f): Posted<RegisterWrite, FactForm>,
) -> Result<Response, PageError> {
    // The service answers a household outside the caller's scope as one that does not exist.
    let done = match f.change() {
        Ok(change) => {
            let book = s.rule_book().await?;
            crate::service::facts::record(&s.db, &book, &signed.caller, id, change, today()).await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(axum::response::Redirect::to(&format!(
            "/households/{id}?done=fact_recorded#facts"
        ))
        .into_response()),
        Err(e) if !e.status_and_code().0.is_server_error() => {
            let current = readable(&s, &signed, id).await?;
            let mut page = file_page(&s, &signed, current, None, None, None).await?;
            page.alert = Some(refusal_text(&e));
            let (status, _) = e.status_and_code();
            let mut res = unprocessable(&page)?;
            // A stale page says so as the edit page does (409); every other refusal is 422.
            if status == axum::http::StatusCode::CONFLICT {
                *res.status_mut() = status;
            }
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        "active" => "有效",
        "suspended" => "已暂停",
        "revoked" => "已作废",
        _ => "未知",
    }
}

fn card_line(c: CardRecord) -> CardLine {
    CardLine {
        state_label: state_label(&c.state),
        issued: c.issued_on.to_string(),
        expires: c.expires_on.to_string(),
        reason: c.state_reason.unwrap_or_default(),
        serial: c.serial,
        state: c.state,
    }
}

fn money(fen: i64, per: Option<Per>) -> String {
    let per = match per {
        Some(Per::Month) => "/月",
        Some(Per::Year) => "/年",
        Some(Per::Once) => "（一次性）",
        None => "",
    };
    format!("{}.{:02} 元{per}", fen / 100, fen % 100)
}

async fn file_page(
    s: &AppState,
    session: &Session,
    current: HouseholdRecord,
    as_of: Option<NaiveDate>,
    revealed: Option<i64>,
    message: Option<&'static str>,
) -> Result<FilePage, PageError> {
    let id = current.household_id;
    let on = as_of.unwrap_or_else(today);
    let record = match as_of {
        None => current,
        Some(d) => households::as_of(&s.db, id, end_of_day(d))
            .await?
            .ok_or(AppError::NotFound("household on that date"))?,
    };
    let townships = places::townships(&s.db).await?;
    let communities = places::communities(&s.db).await?;
    let township = townships
        .iter()
        .find(|t| t.township_id == record.township_id)
        .map_or_else(|| record.township_id.clone(), |t| t.name.clone());
    let community = record
        .community_id
        .as_ref()
        .map(|c| {
            communities
                .iter()
                .find(|x| &x.community_id == c)
                .map_or_else(|| c.clone(), |x| x.name.clone())
        })
        .unwrap_or_default();
    let office = session.caller.role == StaffRole::Office;
    let mut members = Vec::new();
    for m in &record.members {
        let cards = if office {
            cards::of_member(&s.db, m.member_id).await?
        } else {
            vec![]
        };
        let has_current_card = cards.iter().any(|c| c.state != "revoked");
        let shown = revealed == Some(m.member_id);
        members.push(MemberView {
            member_id: m.member_id,
            name: m.name.clone(),
            role: role_label(m.role.as_str()),
            // The full birth date beside the masked number would give the number away (it holds
            // the date, and the county is one of a few): the year only, until it is revealed.
            born_on: if shown {
                m.born_on.to_string()
            } else {
                format!("{} 年", m.born_on.format("%Y"))
            },
            id_number: if shown {
                m.id_number.clone()
            } else {
                masked_id(&m.id_number)
            },
            revealed: shown,
            phone: m.phone.as_deref().map(mask::mask_phone).unwrap_or_default(),
            died_on: m.died_on.map(|d| d.to_string()).unwrap_or_default(),
            cards: cards.into_iter().map(card_line).collect(),
            has_current_card,
        });
    }
    let child = match &record.child {
        Child::Deceased { died_on } => format!("独生子女死亡（{died_on}）"),
        Child::Disabled { disability_grade } => format!("独生子女伤残（{disability_grade} 级）"),
        Child::Healthy => "子女健在，未伤残".to_owned(),
    };
    let name_of = |member: &Option<String>| {
        member
            .as_deref()
            .and_then(|id| id.parse::<i64>().ok())
            .and_then(|id| record.members.iter().find(|m| m.member_id == id))
            .map_or_else(|| "全户".to_owned(), |m| m.name.clone())
    };
    let (eligible, rule_set, entitlements) = match s.rule_book().await {
        Err(_) => ("没有生效的政策规则集".to_owned(), String::new(), vec![]),
        Ok(book) => match evaluate(&book, &record.facts(), on) {
            Err(e) => (format!("无法判断：{e}"), String::new(), vec![]),
            Ok(ev) => {
                let lines = ev
                    .entitlements
                    .iter()
                    .map(|e| EntitlementLine {
                        who: name_of(&e.member),
                        code: format!("{}（{}）", e.code.zh(), e.code.as_str()),
                        status: match e.status {
                            Status::Granted => "享受",
                            Status::NeedsData => "待补充资料",
                            Status::NotApplicable => "不适用",
                        },
                        amount: e.amount_fen.map(|f| money(f, e.per)).unwrap_or_default(),
                        clause: e.basis.clause,
                        basis: e.basis.zh.to_string(),
                    })
                    .collect();
                let verdict = if ev.eligible {
                    "是计生特殊家庭"
                } else {
                    "不是计生特殊家庭"
                };
                (
                    format!("{verdict}：{}", ev.eligibility.zh),
                    ev.rule_set,
                    lines,
                )
            }
        },
    };
    let facts = fact_lines(&record, on);
    let history = households::history(&s.db, id)
        .await?
        .into_iter()
        .rev()
        .map(|h| (h.version, local_minute(h.changed_at), h.reason))
        .collect();
    Ok(FilePage {
        chrome: Chrome::new(session, "households"),
        id,
        version: record.version,
        township,
        community,
        address: record.address.clone(),
        child,
        contact: record
            .contact
            .as_ref()
            .map(contact_text)
            .unwrap_or_default(),
        updated: local_minute(record.updated_at),
        as_of: on.to_string(),
        historical: as_of.is_some(),
        members,
        eligible,
        rule_set,
        entitlements,
        history,
        facts,
        fact_members: record
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id,
                    format!("{}（{}）", m.name, role_label(m.role.as_str())),
                )
            })
            .collect(),
        fact_keys: FactKey::MEMBER
            .iter()
            .chain(&FactKey::HOUSEHOLD)
            .map(|k| (k.as_str(), k.zh(), k.of_household()))
            .collect(),
        today: today().to_string(),
        alert: None,
        can_reveal: matches!(session.caller.role, StaffRole::Office | StaffRole::Township),
        can_edit: session.caller.may_write_township(&record.township_id),
        office,
        message,
    })
}
