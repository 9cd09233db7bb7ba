//! The registration desk: `POST /verify`, answered from batches of concurrent scans. Each batch
//! has its signatures checked together (`verify_many`), its card states read in one query and
//! its audit entries written in one transaction; a desk gets its answer only once its entry is
//! durable.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::extract::{Json, Policy, Query, Staff};
use super::AppState;
use crate::auth::{Caller, StaffRole};
use crate::card::qr::decode_text;
use crate::card::{verify_many, CardState, KeySet, StatusSource, Verdict};
use crate::db::audit::{self, Chain, NewEntry};
use crate::db::Db;
use crate::error::{AppError, Result};
use crate::on_db;
use crate::register::FacilityKind;

/// Registration desks and clinics.
pub struct Verifiers;
impl Policy for Verifiers {
    const ROLES: &'static [StaffRole] = &[StaffRole::Desk, StaffRole::Clinic];
    const WHAT: &'static str = "card verification";
}

/// The largest scan accepted: a card's text is ~150 characters.
const VERIFY_BODY_LIMIT: usize = 4096;
/// The most scans checked and logged together.
const MAX_BATCH: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/verify",
            post(verify).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        )
        .route("/verify/recent", get(recent))
}

/// One priority, with its words for the desk.
#[derive(Debug, Clone, Serialize)]
pub struct Priority {
    /// Stable code.
    pub code: &'static str,
    /// What the desk reads.
    pub zh: &'static str,
}

const DESIGNATED: [Priority; 6] = [
    Priority {
        code: "registration",
        zh: "优先挂号",
    },
    Priority {
        code: "consultation",
        zh: "优先就医",
    },
    Priority {
        code: "payment",
        zh: "优先交费",
    },
    Priority {
        code: "examination",
        zh: "优先检查",
    },
    Priority {
        code: "dispensing",
        zh: "优先取药",
    },
    Priority {
        code: "admission",
        zh: "优先住院",
    },
];
const GREEN_CHANNEL: [Priority; 1] = [Priority {
    code: "green_channel",
    zh: "绿色通道",
}];

/// The holder fields a desk may see.
#[derive(Debug, Clone, Serialize)]
pub struct DeskCard {
    masked_name: String,
    id_last_four: String,
    serial: String,
    expires: chrono::NaiveDate,
}

/// The answer to a scan.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    verdict: String,
    reason_zh: &'static str,
    card: Option<DeskCard>,
    priorities: Vec<Priority>,
    /// Whether this year's free checkup is still available; unknown (null) until checkups are
    /// recorded by the clinics' booking.
    checkup_available: Option<bool>,
    note_zh: Option<&'static str>,
}

fn reason_zh(verdict: &str) -> &'static str {
    match verdict {
        "valid" => "有效",
        "revoked" => "此卡已作废（吊销）",
        "suspended" => "此卡已暂停使用，请持卡人联系区卫生健康局",
        "expired" => "此卡已过有效期",
        "not_yet_valid" => "此卡尚未生效",
        "unknown_card" => "此卡不在发卡记录中",
        "unknown_key" => "非本区签发的卡",
        "key_compromised" | "key_retired" | "key_not_valid_for_card" => {
            "此卡签名密钥已停用，请换发新卡"
        }
        "bad_signature" => "此卡签名无效，可能被篡改",
        "malformed" => "无法识别的二维码",
        _ => "此卡无法验证",
    }
}

struct Job {
    text: String,
    facility_id: i64,
    account_id: i64,
    respond: oneshot::Sender<Result<Answer>>,
}

/// The batching verifier: a handle to its task.
#[derive(Clone)]
pub struct Verifier {
    jobs: mpsc::Sender<Job>,
}

impl Verifier {
    /// Starts the verifier task over `db` with the public keys; copies are flagged when one card
    /// is verified at two facilities within `copy_window`.
    pub fn start(db: Db, keys: KeySet, copy_window: chrono::Duration) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        let keys = Arc::new(keys);
        tokio::spawn(async move {
            let mut chain = Chain::new();
            let mut kinds: HashMap<i64, FacilityKind> = HashMap::new();
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let answers =
                    run_batch(&db, &keys, &mut chain, &mut kinds, &jobs, copy_window).await;
                match answers {
                    Ok(answers) => {
                        for (job, answer) in jobs.into_iter().zip(answers) {
                            let _ = job.respond.send(Ok(answer));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "verification batch failed; nothing was logged");
                        for job in jobs {
                            let _ = job.respond.send(Err(AppError::Unavailable));
                        }
                    }
                }
            }
        });
        Self { jobs: tx }
    }

    async fn submit(&self, caller: &Caller, text: String) -> Result<Answer> {
        let facility_id = caller
            .facility_id
            .ok_or_else(|| AppError::Forbidden("the account has no facility".into()))?;
        let (respond, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                text,
                facility_id,
                account_id: caller.account_id,
                respond,
            })
            .await
            .map_err(|_| AppError::Unavailable)?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }
}

async fn run_batch(
    db: &Db,
    keys: &Arc<KeySet>,
    chain: &mut Chain,
    kinds: &mut HashMap<i64, FacilityKind>,
    jobs: &[Job],
    copy_window: chrono::Duration,
) -> Result<Vec<Answer>> {
    let serials: Vec<Option<String>> = jobs
        .iter()
        .map(|j| decode_text(&j.text).ok().map(|c| c.payload.serial.to_hex()))
        .collect();
    let states = card_states(db, serials.iter().flatten().map(String::as_str)).await?;
    for j in jobs {
        if let std::collections::hash_map::Entry::Vacant(slot) = kinds.entry(j.facility_id) {
            let f = crate::db::places::facility(db, j.facility_id).await?;
            slot.insert(
                f.kind
                    .parse()
                    .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?,
            );
        }
    }
    // Signatures are checked together, off the async threads.
    let texts: Vec<String> = jobs.iter().map(|j| j.text.clone()).collect();
    let keys = keys.clone();
    let today = crate::time::today();
    let lookup = states.clone();
    let results = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        verify_many(
            &refs,
            &keys,
            |p| match lookup.get(&p.serial.to_hex()) {
                Some(state) => StatusSource::Lookup(*state),
                // Signed by our key but not on record: never valid.
                None => StatusSource::Lookup(CardState::Revoked),
            },
            today,
        )
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    let now = Utc::now();
    let mut entries = Vec::with_capacity(jobs.len());
    let mut verdicts = Vec::with_capacity(jobs.len());
    for (i, (job, r)) in jobs.iter().zip(&results).enumerate() {
        let serial = r
            .card
            .as_ref()
            .map(|c| c.serial.clone())
            .or_else(|| serials[i].clone());
        let mut verdict = serde_json::to_value(r.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "malformed".into());
        if r.card.is_some()
            && serial.as_ref().is_some_and(|s| !states.contains_key(s))
            && r.verdict == Verdict::Revoked
        {
            verdict = "unknown_card".into();
        }
        entries.push(NewEntry {
            at: now,
            facility_id: job.facility_id,
            account_id: job.account_id,
            card_serial: serial,
            verdict: verdict.clone(),
        });
        verdicts.push(verdict);
    }
    let logged = audit::append(db, chain, &entries, copy_window).await?;
    Ok(jobs
        .iter()
        .zip(results)
        .zip(verdicts)
        .zip(logged)
        .map(|(((job, r), verdict), (_, copied))| {
            let valid = verdict == "valid";
            let designated = kinds
                .get(&job.facility_id)
                .is_some_and(|k| k.is_designated());
            Answer {
                reason_zh: reason_zh(&verdict),
                card: r
                    .card
                    .filter(|_| r.verdict != Verdict::BadSignature)
                    .map(|c| DeskCard {
                        masked_name: c.masked_name,
                        id_last_four: c.id_last_four,
                        serial: c.serial,
                        expires: c.expires,
                    }),
                priorities: match (valid, designated) {
                    (false, _) => Vec::new(),
                    (true, true) => DESIGNATED.to_vec(),
                    (true, false) => GREEN_CHANNEL.to_vec(),
                },
                checkup_available: None,
                note_zh: copied.map(|_| "该卡刚在其他机构使用，请核对持卡人身份证"),
                verdict,
            }
        })
        .collect())
}

async fn card_states<'a>(
    db: &Db,
    serials: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, CardState>> {
    let serials: Vec<&str> = serials.collect();
    if serials.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = on_db!(db, p => {
        let mut q = sqlx::QueryBuilder::new("select serial, state from card where serial in (");
        let mut sep = q.separated(", ");
        for s in &serials {
            sep.push_bind(*s);
        }
        q.push(")");
        q.build_query_as().fetch_all(p).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(serial, state)| {
            let state = match state.as_str() {
                "active" => CardState::Valid,
                "suspended" => CardState::Suspended,
                _ => CardState::Revoked,
            };
            (serial, state)
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scan {
    qr: String,
}

async fn verify(
    caller: Staff<Verifiers>,
    State(s): State<AppState>,
    Json(scan): Json<Scan>,
) -> Result<Json<Answer>> {
    let verifier = s.verifier.as_ref().ok_or(AppError::Unavailable)?;
    Ok(Json(verifier.submit(&caller, scan.qr).await?))
}

#[derive(Serialize, sqlx::FromRow)]
struct Recent {
    at: String,
    verdict: String,
    #[sqlx(skip)]
    masked_name: Option<String>,
    #[serde(skip)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentQuery {
    limit: Option<i64>,
}

/// This desk's facility's last scans, newest first (never another facility's).
async fn recent(
    caller: Staff<Verifiers>,
    State(s): State<AppState>,
    Query(q): Query<RecentQuery>,
) -> Result<Json<Vec<Recent>>> {
    let facility = caller
        .facility_id
        .ok_or_else(|| AppError::Forbidden("the account has no facility".into()))?;
    let limit = q.limit.unwrap_or(10).clamp(1, 50);
    let mut rows: Vec<Recent> = on_db!(&s.db, p => sqlx::query_as(
        "select v.at, v.verdict, m.name from verification v
           left join card c on c.serial = v.card_serial left join member m on m.member_id = c.member_id
          where v.facility_id = $1 order by v.verification_id desc limit $2")
        .bind(facility).bind(limit).fetch_all(p).await)?;
    for r in &mut rows {
        r.masked_name = r.name.take().map(|n| crate::register::mask::mask_name(&n));
    }
    Ok(Json(rows))
}
