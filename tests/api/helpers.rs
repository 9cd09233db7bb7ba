//! The test application: a fresh database per test on either backend, one account per role,
//! and a small client for in-process requests.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use greenchannel::auth::StaffRole;
use greenchannel::db::accounts::{create_account, AccountInput};
use greenchannel::db::places::{add_facility, FacilityInput};
use greenchannel::db::Db;
use greenchannel::demo::seed_places;
use greenchannel::http::{app, AppState, CardService};
use greenchannel::register::FacilityKind;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The environment variable naming the PostgreSQL server the tests may create databases on;
/// `off` skips the PostgreSQL halves (loudly). CI never sets it to `off`.
pub const PG_ENV: &str = "GREENCHANNEL_TEST_POSTGRES";
/// The server used when [`PG_ENV`] is not set: the local one.
pub const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server to test on, or `None` when the run opted out with `PG_ENV=off`.
/// Without the variable the local server is used, so a missing server fails the run.
pub fn postgres_url() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(v) if v.eq_ignore_ascii_case("off") => {
            eprintln!("\n*** SKIPPED: {PG_ENV}=off, so this PostgreSQL test did NOT run ***\n");
            None
        }
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => Some(PG_DEFAULT.to_owned()),
    }
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running application over a fresh database.
pub struct TestApp {
    pub db: Db,
    pub router: Router,
    pub backend: Backend,
    /// One token per role: office, township (丝绸路街道 370306001), desk and clinic (facility 1),
    /// auditor; plus a second township's staff.
    pub office: String,
    pub township: String,
    pub other_township: String,
    pub desk: String,
    pub clinic: String,
    pub auditor: String,
    pub facility_id: i64,
    _guard: Guard,
    _keys: KeysGuard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// Holds the temporary key folder for as long as the app lives.
struct KeysGuard(tempfile::TempDir);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = self {
            let (url, name) = (admin_url.clone(), name.clone());
            // Async work cannot run in Drop; a short-lived runtime on its own thread drops the database.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let pool = sqlx::PgPool::connect(&url).await.ok()?;
                    sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&pool)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

impl TestApp {
    /// The service's card-signing key folder.
    pub fn keys_dir(&self) -> &std::path::Path {
        self._keys.0.path()
    }

    /// On a fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("test.db").display());
        let db = Db::connect(&url, 4).await.expect("sqlite connects");
        Self::with_db(db, Backend::Sqlite, Guard::Sqlite(dir)).await
    }

    /// On a fresh PostgreSQL database, or `None` (said loudly) when the run opted out.
    /// An unreachable server fails the test.
    pub async fn postgres() -> Option<TestApp> {
        let admin_url = postgres_url()?;
        let name = format!("gc_test_{}", hex_id());
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin_url} does not answer ({e}); start it, or set {PG_ENV}=off \
                 to skip the PostgreSQL halves"
            )
        });
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = match admin_url.rfind('/') {
            Some(i)
                if admin_url[..i].contains("://") && i > admin_url.find("://").unwrap_or(0) + 2 =>
            {
                format!("{}/{name}", &admin_url[..i])
            }
            _ => format!("{admin_url}/{name}"),
        };
        let db = Db::connect(&url, 4).await.expect("test database connects");
        Some(Self::with_db(db, Backend::Postgres, Guard::Postgres { admin_url, name }).await)
    }

    async fn with_db(db: Db, backend: Backend, guard: Guard) -> TestApp {
        seed_places(&db).await.expect("seed places");
        let hospital = FacilityInput {
            name: "周村区人民医院".into(),
            kind: FacilityKind::DistrictHospital,
            level: 2,
            township_id: Some("370306002".into()),
        };
        let facility_id = add_facility(&db, &hospital, None, "test")
            .await
            .expect("facility")
            .facility_id;
        let token = |name: &str, role: StaffRole, township: Option<&str>, facility: Option<i64>| {
            let input = AccountInput {
                name: name.into(),
                role,
                township_id: township.map(Into::into),
                facility_id: facility,
            };
            let db = db.clone();
            async move { create_account(&db, &input).await.expect("account").1 }
        };
        let office = token("office", StaffRole::Office, None, None).await;
        let township = token("township", StaffRole::Township, Some("370306001"), None).await;
        let other_township =
            token("township-2", StaffRole::Township, Some("370306100"), None).await;
        let desk = token("desk", StaffRole::Desk, None, Some(facility_id)).await;
        let clinic = token("clinic", StaffRole::Clinic, None, Some(facility_id)).await;
        let auditor = token("auditor", StaffRole::Auditor, None, None).await;
        let keys = tempfile::tempdir().expect("keys dir");
        // The built-in template, as a service started from any directory has.
        let cards = CardService::open(keys.path(), None, &db)
            .await
            .expect("card service");
        let audit_key =
            greenchannel::service::audit::AuditKey::open_or_create(keys.path()).expect("audit key");
        let router = app(AppState::new(db.clone())
            .with_cards(cards)
            .expect("verifier")
            .with_audit_key(audit_key));
        TestApp {
            db,
            router,
            backend,
            office,
            township,
            other_township,
            desk,
            clinic,
            auditor,
            facility_id,
            _guard: guard,
            _keys: KeysGuard(keys),
        }
    }

    /// Sends a request in-process; returns the status, the content type and the body as JSON
    /// (or as a JSON string when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
        content_type: Option<&str>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req.body(body.unwrap_or_else(Body::empty)).expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Response {
            status,
            content_type,
            body: json,
            bytes: bytes.to_vec(),
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.call(
            Method::POST,
            path,
            Some(token),
            Some(Body::from(body.to_string())),
            Some("application/json"),
        )
        .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.call(
            Method::PUT,
            path,
            Some(token),
            Some(Body::from(body.to_string())),
            Some("application/json"),
        )
        .await
    }

    /// Creates a household as the office and returns its stored record.
    pub async fn create_household(&self, body: &Value) -> Value {
        let res = self.post("/api/v1/households", &self.office, body).await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "creating a household: {}",
            res.body
        );
        res.body
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Response {
    /// Asserts a problem response with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a problem has a detail: {}",
            self.body
        );
    }
}

fn hex_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:04x}", nanos, rand_u16())
}

fn rand_u16() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static N: AtomicU16 = AtomicU16::new(0);
    N.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u16)
}

/// A valid household body: a bereaved couple of 丝绸路街道 with valid ID numbers.
pub fn bereaved_household() -> Value {
    serde_json::json!({
        "township_id": "370306001",
        "community_id": "370306001001",
        "address": "丝绸路12号",
        "hukou_in_district": true,
        "area": "urban",
        "child": {"status": "deceased", "died_on": "2015-08-10"},
        "other_child_since": false,
        "dibao": false,
        "low_income": false,
        "contact": {"name": "王干事", "phone": "05336412345"},
        "members": [
            {"name": "张秀兰", "role": "mother", "id_number": id(1966, 3, 20, true, 1),
             "phone": "13912345678", "resident_pension": {"basic_monthly_fen": 16000},
             "resident_medical_insurance": true},
            {"name": "李建国", "role": "father", "id_number": id(1964, 11, 2, false, 1),
             "resident_pension": null, "resident_medical_insurance": true}
        ]
    })
}

/// A valid ID number for a birth date and sex; `n` keeps numbers apart.
pub fn id(y: i32, m: u32, d: u32, female: bool, n: u32) -> String {
    greenchannel::demo::id_number(
        chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date"),
        female,
        n,
    )
}

/// Each role's token, with its name.
pub fn roles(app: &TestApp) -> Vec<(&'static str, &str)> {
    vec![
        ("office", &app.office),
        ("township", &app.township),
        ("desk", &app.desk),
        ("clinic", &app.clinic),
        ("auditor", &app.auditor),
    ]
}

/// Records the demo continuation so that a rule set is in force today (the shipped document
/// ended on 2022-01-31).
pub async fn continue_rules_to_today(app: &TestApp) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/demo/continuation-demo.toml"),
    )
    .expect("demo continuation");
    greenchannel::service::rules::load(&app.db, "continuation-demo.toml", &text, None)
        .await
        .expect("continuation loads");
}
