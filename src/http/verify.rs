//! The registration desk: `POST /verify`. Each scan has its signature checked exactly as `card
//! verify` checks it (`verify_strict`, or a cache of texts that already passed it:
//! [`VerifiedTexts`]), then goes to the audit log, which reads its card's state and writes its
//! entry in one transaction with whatever other scans queued meanwhile; a desk gets its answer
//! only once its entry is durable.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

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
    /// Beside a valid card: whether the holder may still have this year's free checkup
    /// (entitled today, none booked or done this year); null for any other verdict.
    checkup_available: Option<bool>,
    note_zh: Option<&'static str>,
    /// The card's holder as the audit transaction read it (for the checkup line; not sent).
    #[serde(skip)]
    holder: Option<crate::db::audit::Holder>,
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

/// A scan whose signature is checked, to be judged against its card's state and logged.
struct Checked {
    facility_id: i64,
    account_id: i64,
    text: String,
    signature: std::result::Result<SignatureChecked, Box<Verification>>,
    designated: bool,
}

/// The desk's verifier. Each scan is checked on the thread that received it — its facility's
/// kind (cached), its signature (strictly, or from the cache of texts that passed:
/// [`VerifiedTexts`]) — then handed to the audit log ([`AuditLog`]), which judges it against
/// its card's state in the transaction that records it, with whatever else queued meanwhile,
/// and answers once the entry is durable. No hop through a thread of its own: a scan costs the
/// thread that parsed it, and the log is the only stage scans wait for.
#[derive(Clone)]
pub struct Verifier(Arc<Inner>);

struct Inner {
    db: Db,
    /// The key set in force and the cache of texts verified under it; a new key set replaces
    /// the cache before the next scan is checked.
    texts: std::sync::Mutex<(watch::Receiver<KeySet>, Arc<VerifiedTexts>)>,
    kinds: FacilityKinds,
    log: AuditLog,
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

    /// Whether the facility is designated, from the cache or the database. A lookup that fails
    /// fails only the scan that needed it.
    async fn designated(&self, db: &Db, facility_id: i64) -> Result<bool> {
        if let Some(designated) = self.cached(facility_id) {
            return Ok(designated);
        }
        let looked_up = async {
            let f = crate::db::places::facility(db, facility_id).await?;
            f.kind
                .parse::<FacilityKind>()
                .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))
        };
        let kind = looked_up.await.map_err(|e| {
            tracing::error!(error = %e, facility_id, "facility lookup failed; the scan was not logged");
            AppError::Unavailable
        })?;
        self.lock()
            .insert(facility_id, (kind, std::time::Instant::now()));
        Ok(kind.is_designated())
    }
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
        let texts = Arc::new(VerifiedTexts::new(keys.borrow().clone(), VERIFIED_TEXTS));
        Ok(Self(Arc::new(Inner {
            db,
            texts: std::sync::Mutex::new((keys, texts)),
            kinds: FacilityKinds::default(),
            log_stopped: log.stopped(),
            log,
        })))
    }

    /// Resolves once the verifier has stopped — after every handle was dropped — and its audit
    /// log has written and answered everything queued and closed its connection.
    pub fn stopped(&self) -> Stopped {
        self.0.log_stopped.clone()
    }

    /// Forgets a facility's kind after the office changed it, so its desks' next scans use the
    /// new one.
    pub fn forget_facility(&self, facility_id: i64) {
        self.0.kinds.lock().remove(&facility_id);
    }

    /// The cache of verified texts under the key set in force now.
    fn texts(&self) -> Arc<VerifiedTexts> {
        let mut guard = self.0.texts.lock().unwrap_or_else(|p| p.into_inner());
        let (keys, texts) = &mut *guard;
        if keys.has_changed().unwrap_or(false) {
            *texts = Arc::new(VerifiedTexts::new(
                keys.borrow_and_update().clone(),
                VERIFIED_TEXTS,
            ));
        }
        texts.clone()
    }

    async fn submit(&self, caller: &Caller, text: String) -> Result<Answer> {
        let facility_id = caller
            .facility_id
            .ok_or_else(|| AppError::Forbidden("the account has no facility".into()))?;
        let designated = self.0.kinds.designated(&self.0.db, facility_id).await?;
        let signature = self.texts().check(&text);
        let (respond, answer) = oneshot::channel();
        let checked = Checked {
            facility_id,
            account_id: caller.account_id,
            text,
            signature,
            designated,
        };
        // A full queue means the log is behind: the desk is told to retry in a moment rather
        // than the queue (and the server's memory) growing.
        self.0.log.try_submit(append(checked, respond))?;
        answer.await.map_err(|_| AppError::Unavailable)?
    }

    /// Whether the audit log is running (for `/readyz`).
    pub fn is_running(&self) -> bool {
        !self.0.log_stopped.has_stopped()
    }
}

fn verdict_text(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "malformed".into())
}

/// Judges one scan against the card states read in its audit transaction: what the desk is told
/// and the entry that records it.
fn judge(
    c: &Checked,
    states: &HashMap<String, CardState>,
    now: chrono::DateTime<Utc>,
) -> (NewEntry, Verification, String) {
    let today = crate::time::date_of(now);
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
    let serial = v
        .card
        .as_ref()
        .map(|c| c.serial.clone())
        .or_else(|| decode_text(&c.text).ok().map(|d| d.payload.serial.to_hex()));
    let entry = NewEntry {
        at: now,
        facility_id: c.facility_id,
        account_id: c.account_id,
        card_serial: serial,
        verdict: verdict.clone(),
    };
    (entry, v, verdict)
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
        holder: None,
        verdict,
    }
}

/// The scan for the audit log: judged against its card's state as read in the transaction that
/// records it, and answered once it is durable.
fn append(checked: Checked, respond: oneshot::Sender<Result<Answer>>) -> Append {
    let lookup = checked
        .signature
        .as_ref()
        .ok()
        .map(|s| s.payload().serial.to_hex());
    Append {
        lookup,
        judge: Box::new(move |states, holders| {
            let (entry, v, verdict) = judge(&checked, states, Utc::now());
            let holder = entry
                .card_serial
                .as_ref()
                .and_then(|s| holders.get(s))
                .copied();
            let then: Respond = Box::new(move |(_, copied): Logged| {
                let mut a = answer(&checked, v, verdict, copied.is_some());
                a.holder = holder;
                let _ = respond.send(Ok(a));
            });
            (entry, then)
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
    let mut answer = verifier.submit(&caller, scan.qr).await?;
    // Only beside a valid card, after the verdict is logged: the checkup line never changes it.
    if let Some(card) = answer.card.as_ref().filter(|_| answer.verdict == "valid") {
        let (book, today) = (s.desk_rule_book().await?, crate::time::today());
        s.desk_checkups.prefill_once(&s.db, &book, today);
        answer.checkup_available = match answer.holder {
            // Read with the card's state in the audit transaction: no query of its own.
            Some(h) => Some(s.desk_checkups.judge(&s.db, &book, h, today).await?),
            None => {
                s.desk_checkups
                    .available(&s.db, &book, &card.serial, today)
                    .await?
            }
        };
    }
    Ok(Json(answer))
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
