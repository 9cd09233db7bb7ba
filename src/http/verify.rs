//! The registration desk: `POST /verify`, answered from batches of concurrent scans. Each scan
//! has its signature checked exactly as `card verify` checks it (`verify_strict`, or a cache of
//! texts that already passed it: [`VerifiedTexts`]); the batch then goes to the audit log, which
//! reads its card states and writes its entries in one transaction with whatever else queued
//! meanwhile; a desk gets its answer only once its entry is durable.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use super::extract::{Json, Policy, Query, Staff};
use super::AppState;
use crate::auth::{Caller, StaffRole};
use crate::card::qr::decode_text;
use crate::card::{
    CardState, KeySet, SignatureChecked, StatusSource, Verdict, Verification, VerifiedTexts,
};
use crate::db::audit::{Append, AuditLog, Logged, NewEntry, Respond, Stopped};
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
/// How many scans may wait for the check stage before desks are told to retry (503 with
/// `Retry-After`).
const QUEUED_SCANS: usize = 4096;
/// How many verified card texts the desk remembers (between this and twice this): a day's
/// scans of a large hospital, a few hundred bytes each (some 30 MB at the most).
const VERIFIED_TEXTS: usize = 32_768;

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

/// The batching verifier: a handle to its check stage, which checks the signatures of batches of
/// scans and hands each batch to the audit log ([`AuditLog`]), which judges it against the card
/// states, records it and answers. The two overlap: one batch's signatures are checked while the
/// previous batches are being committed.
#[derive(Clone)]
pub struct Verifier {
    jobs: mpsc::Sender<Job>,
    kinds: Arc<FacilityKinds>,
    log_stopped: Stopped,
}

/// What kind each facility is (designated or not), read once and kept for [`KIND_TTL`]: a change
/// on this instance is forgotten at once (`forget_facility`), one on another instance within
/// the TTL.
#[derive(Default)]
struct FacilityKinds(std::sync::Mutex<HashMap<i64, (FacilityKind, std::time::Instant)>>);

/// How long a facility's kind is trusted without reading it again.
const KIND_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl FacilityKinds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (FacilityKind, std::time::Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the facility is designated, if its kind is known and fresh.
    fn cached(&self, facility_id: i64) -> Option<bool> {
        self.lock()
            .get(&facility_id)
            .filter(|(_, at)| at.elapsed() < KIND_TTL)
            .map(|(kind, _)| kind.is_designated())
    }

    async fn designated(&self, db: &Db, facility_id: i64) -> Result<bool> {
        if let Some(designated) = self.cached(facility_id) {
            return Ok(designated);
        }
        let f = crate::db::places::facility(db, facility_id).await?;
        let kind: FacilityKind = f
            .kind
            .parse()
            .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))?;
        self.lock()
            .insert(facility_id, (kind, std::time::Instant::now()));
        Ok(kind.is_designated())
    }
}

/// A scan whose signature is checked, to be judged against its card's state and logged.
struct Checked {
    job: Job,
    signature: std::result::Result<SignatureChecked, Box<Verification>>,
    designated: bool,
}

impl Verifier {
    /// Starts the verifier over `db` with the public keys; copies are flagged when one card is
    /// verified at two facilities within `copy_window`.
    pub fn start(
        db: Db,
        keys: watch::Receiver<KeySet>,
        copy_window: chrono::Duration,
    ) -> anyhow::Result<Self> {
        let log = AuditLog::start(&db, copy_window)?;
        let log_stopped = log.stopped();
        let (tx, rx) = mpsc::channel::<Job>(QUEUED_SCANS);
        let kinds = Arc::new(FacilityKinds::default());
        let stage = CheckStage {
            runtime: tokio::runtime::Handle::current(),
            db,
            verified: VerifiedTexts::new(keys.borrow().clone(), VERIFIED_TEXTS),
            keys: keys.clone(),
            kinds: kinds.clone(),
            log,
        };
        // A thread of its own: the scans go straight to it, and it checks signatures without a
        // hand-off to the blocking pool and back for every batch.
        std::thread::Builder::new()
            .name("desk-checker".into())
            .spawn(move || stage.run(rx))?;
        Ok(Self {
            jobs: tx,
            kinds,
            log_stopped,
        })
    }

    /// Resolves once the verifier has stopped — after every handle was dropped — and its audit
    /// log has written and answered everything queued and closed its connection.
    pub fn stopped(&self) -> Stopped {
        self.log_stopped.clone()
    }

    /// Forgets a facility's kind after the office changed it, so its desks' next scans use the
    /// new one.
    pub fn forget_facility(&self, facility_id: i64) {
        self.kinds.lock().remove(&facility_id);
    }

    async fn submit(&self, caller: &Caller, text: String) -> Result<Answer> {
        let facility_id = caller
            .facility_id
            .ok_or_else(|| AppError::Forbidden("the account has no facility".into()))?;
        let (respond, answer) = oneshot::channel();
        // A full queue means the log is behind: the desk is told to retry in a moment rather
        // than the queue (and the server's memory) growing.
        self.jobs
            .try_send(Job {
                text,
                facility_id,
                account_id: caller.account_id,
                respond,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => AppError::Busy,
                mpsc::error::TrySendError::Closed(_) => AppError::Unavailable,
            })?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }

    /// Whether the check stage and the audit log are running (for `/readyz`).
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed() && !self.log_stopped.has_stopped()
    }
}

/// The check stage: batches of scans, each signature checked, handed to the log.
struct CheckStage {
    runtime: tokio::runtime::Handle,
    db: Db,
    /// The key set in force; a new one replaces the cache of verified texts.
    keys: watch::Receiver<KeySet>,
    verified: VerifiedTexts,
    kinds: Arc<FacilityKinds>,
    log: AuditLog,
}

impl CheckStage {
    /// Runs until every [`Verifier`] handle is dropped.
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            if self.keys.has_changed().unwrap_or(false) {
                let keys = self.keys.borrow_and_update().clone();
                self.verified = VerifiedTexts::new(keys, VERIFIED_TEXTS);
            }
            let checked = self.check(jobs);
            if checked.is_empty() {
                continue;
            }
            if self.log.submit(append(checked)).is_err() {
                tracing::error!("the audit log has stopped; the desk's check stage stops too");
                return;
            }
        }
    }

    /// The signature of each scan of a batch, and whether each desk's facility is a
    /// designated one (read from the database only when not cached). A scan whose facility
    /// cannot be read is answered 503 alone; the rest of the batch goes on.
    fn check(&mut self, jobs: Vec<Job>) -> Vec<Checked> {
        let mut checked = Vec::with_capacity(jobs.len());
        // One lookup per facility per batch: a database that does not answer costs the batch
        // one timeout, not one per scan.
        let mut looked_up: HashMap<i64, std::result::Result<bool, ()>> = HashMap::new();
        for job in jobs {
            let designated = match self.kinds.cached(job.facility_id) {
                Some(d) => Ok(d),
                None => *looked_up.entry(job.facility_id).or_insert_with(|| {
                    self.runtime
                        .block_on(self.kinds.designated(&self.db, job.facility_id))
                        .map_err(|e| {
                            tracing::error!(error = %e, facility_id = job.facility_id, "facility lookup failed; its scans were not logged");
                        })
                }),
            };
            let Ok(designated) = designated else {
                let _ = job.respond.send(Err(AppError::Unavailable));
                continue;
            };
            let signature = self.verified.check(&job.text);
            checked.push(Checked {
                job,
                signature,
                designated,
            });
        }
        checked
    }
}

fn verdict_text(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "malformed".into())
}

/// Judges one batch against the card states read in its audit transaction: per scan, what the
/// desk is told and the entry that records it.
fn judge(
    batch: &[Checked],
    states: &HashMap<String, CardState>,
    now: chrono::DateTime<Utc>,
) -> (Vec<NewEntry>, Vec<(Verification, String)>) {
    let today = crate::time::today();
    batch
        .iter()
        .map(|c| {
            let (v, verdict) = match &c.signature {
                Ok(card) => match states.get(&card.payload().serial.to_hex()) {
                    Some(state) => {
                        let v = card.judge(StatusSource::Lookup(*state), today);
                        let verdict = verdict_text(v.verdict);
                        (v, verdict)
                    }
                    // Signed by our key but not on record: never valid.
                    None => {
                        let v = card.judge(StatusSource::Lookup(CardState::Revoked), today);
                        (v, "unknown_card".to_owned())
                    }
                },
                Err(v) => ((**v).clone(), verdict_text(v.verdict)),
            };
            let serial = v.card.as_ref().map(|c| c.serial.clone()).or_else(|| {
                decode_text(&c.job.text)
                    .ok()
                    .map(|d| d.payload.serial.to_hex())
            });
            let entry = NewEntry {
                at: now,
                facility_id: c.job.facility_id,
                account_id: c.job.account_id,
                card_serial: serial,
                verdict: verdict.clone(),
            };
            (entry, (v, verdict))
        })
        .unzip()
}

/// What the desk is told about one logged scan.
fn answer(checked: &Checked, v: Verification, verdict: String, copied: bool) -> Answer {
    let valid = verdict == "valid";
    Answer {
        reason_zh: reason_zh(&verdict),
        card: v
            .card
            .filter(|_| v.verdict != Verdict::BadSignature)
            .map(|f| DeskCard {
                masked_name: f.masked_name,
                id_last_four: f.id_last_four,
                serial: f.serial,
                expires: f.expires,
            }),
        priorities: match (valid, checked.designated) {
            (false, _) => Vec::new(),
            (true, true) => DESIGNATED.to_vec(),
            (true, false) => GREEN_CHANNEL.to_vec(),
        },
        checkup_available: None,
        note_zh: copied.then_some("该卡刚在其他机构使用，请核对持卡人身份证"),
        verdict,
    }
}

/// The batch for the audit log: judged against the card states read in the transaction that
/// records it, and answered once it is durable.
fn append(batch: Vec<Checked>) -> Append {
    let lookup = batch
        .iter()
        .filter_map(|c| {
            c.signature
                .as_ref()
                .ok()
                .map(|s| s.payload().serial.to_hex())
        })
        .collect();
    Append {
        lookup,
        judge: Box::new(move |states| {
            let (entries, judged) = judge(&batch, states, Utc::now());
            let respond: Respond = Box::new(move |logged: Vec<Logged>| {
                for ((c, (v, verdict)), (_, copied)) in batch.into_iter().zip(judged).zip(logged) {
                    let answer = answer(&c, v, verdict, copied.is_some());
                    let _ = c.job.respond.send(Ok(answer));
                }
            });
            (entries, respond)
        }),
    }
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

/// This desk's last scans (its own account at its own facility), newest first.
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
          where v.facility_id = $1 and v.account_id = $2 order by v.verification_id desc limit $3")
        .bind(facility).bind(caller.account_id).bind(limit).fetch_all(p).await)?;
    for r in &mut rows {
        // Masked exactly as on the card the desk scanned.
        r.masked_name = r.name.take().map(|n| {
            crate::card::MaskedName::mask(&n)
                .map_or_else(|_| "*".to_owned(), |m| m.as_str().to_owned())
        });
    }
    Ok(Json(rows))
}
