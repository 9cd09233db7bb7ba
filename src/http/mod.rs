//! The HTTP API under `/api/v1`: state, router, and the server with graceful shutdown.

mod accounts;
pub(crate) mod audit;
mod callers;
mod card_service;
pub(crate) mod cards;
pub(crate) mod clinics;
pub(crate) mod contacts;
mod desk;
mod emergencies;
pub mod extract;
mod festivals;
mod health;
mod households;
pub(crate) mod import;
mod openapi;
mod places;
pub(crate) mod rules;
mod verify;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::RwLock;
use tower_http::trace::TraceLayer;

pub use callers::CallerCache;
pub use card_service::{CardService, KEY_REFRESH, STATUS_LIST_VALIDITY_HOURS};
pub use openapi::SPEC as OPENAPI_SPEC;
pub use verify::Verifier;

use crate::db::Db;
use crate::error::problem;
use crate::rules::RuleBook;

/// A card verified at two facilities within this many minutes is flagged as a possible copy.
pub const COPY_WINDOW_MINUTES: i64 = 10;

/// The largest JSON body an ordinary endpoint accepts.
pub const JSON_BODY_LIMIT: usize = 256 * 1024;

/// A rule book and the id of the last rule document in it.
type BookAt = (Arc<RuleBook>, i64);

/// A rule book and when it was last checked against the database.
type CheckedBook = (std::time::Instant, Arc<RuleBook>);

/// What every handler can reach: one shared [`Shared`], so that handing it to a handler (axum
/// does for every request) costs one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state behind [`AppState`].
#[derive(Clone)]
pub struct Shared {
    /// The database.
    pub db: Db,
    /// Resolved bearer tokens.
    pub callers: Arc<CallerCache>,
    /// The rule book and the id of the last rule document it holds.
    rules: Arc<RwLock<Option<BookAt>>>,
    /// Keys, printer and status list; `None` in a service without cards.
    pub cards: Option<Arc<CardService>>,
    /// The desk's batching verifier (started with the cards).
    pub verifier: Option<Verifier>,
    /// The key that signs the audit log's checkpoints.
    pub audit_key: Option<Arc<crate::service::audit::AuditKey>>,
    /// Whether console cookies carry `Secure` (the service is reached over TLS).
    pub secure_cookies: bool,
    /// The desk's judgements of who may still have this year's free checkup.
    pub desk_checkups: Arc<crate::service::checkups::DeskEntitlement>,
    /// The rule book the desk's checkup line reads, and when it was last checked.
    desk_rules: Arc<std::sync::Mutex<Option<CheckedBook>>>,
}

/// How long the desk's checkup line reads a rule book before asking the database whether a new
/// document was loaded: a valid scan then costs no rules query, and a new rule set reaches the
/// line within this.
pub const DESK_RULES_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    /// State over a connected database.
    pub fn new(db: Db) -> Self {
        Self(Arc::new(Shared {
            db,
            callers: Arc::new(CallerCache::default()),
            rules: Arc::default(),
            cards: None,
            verifier: None,
            audit_key: None,
            secure_cookies: false,
            desk_checkups: Arc::default(),
            desk_rules: Arc::default(),
        }))
    }

    /// The same state with `Secure` console cookies (behind a TLS proxy).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.building().secure_cookies = secure;
        self
    }

    /// The state to change while the service is being put together (a copy if it is shared
    /// already).
    fn building(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// The same state with the audit key, and a task that signs the audit chains' heads every
    /// [`crate::service::audit::CHECKPOINT_EVERY`]. Call it inside the runtime.
    pub fn with_audit_key(mut self, key: crate::service::audit::AuditKey) -> Self {
        use crate::service::audit::{checkpoint, CHECKPOINT_EVERY};
        let key = Arc::new(key);
        let (weak, db) = (Arc::downgrade(&key), self.db.clone());
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + CHECKPOINT_EVERY;
            let mut tick = tokio::time::interval_at(start, CHECKPOINT_EVERY);
            loop {
                tick.tick().await;
                let Some(key) = weak.upgrade() else { break };
                if let Err(e) = checkpoint(&db, &key).await {
                    tracing::error!(error = %e, "signing the audit checkpoints failed");
                }
            }
        });
        self.building().audit_key = Some(key);
        self
    }

    /// The same state with cards (and the desk's verifier, with its audit writer), and a task
    /// that reads the shared key set every [`card_service::KEY_REFRESH`] for as long as the
    /// cards are in use. Call it inside the runtime.
    pub fn with_cards(mut self, cards: CardService) -> anyhow::Result<Self> {
        self.building().verifier = Some(Verifier::start(
            self.db.clone(),
            cards.watch_keys(),
            chrono::Duration::minutes(COPY_WINDOW_MINUTES),
        )?);
        let cards = Arc::new(cards);
        let (weak, db) = (Arc::downgrade(&cards), self.db.clone());
        tokio::spawn(async move {
            // The first sync ran when the card service opened: the next one is due a period later.
            let start = tokio::time::Instant::now() + card_service::KEY_REFRESH;
            let mut tick = tokio::time::interval_at(start, card_service::KEY_REFRESH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(cards) = weak.upgrade() else { break };
                if let Err(e) = cards.refresh(&db).await {
                    tracing::error!(error = %e, "reading the shared key set failed; the keys in force stay");
                }
            }
        });
        self.building().cards = Some(cards);
        Ok(self)
    }

    /// The card service, or a 503 when this instance has none.
    pub fn card_service(&self) -> crate::error::Result<&CardService> {
        self.cards
            .as_deref()
            .ok_or(crate::error::AppError::Unavailable)
    }

    /// The rule book for the desk's checkup line: [`AppState::rule_book`], asked again at most
    /// every [`DESK_RULES_FRESH`].
    pub async fn desk_rule_book(&self) -> crate::error::Result<Arc<RuleBook>> {
        let lock = || self.desk_rules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, book)) = lock().as_ref() {
            if at.elapsed() < DESK_RULES_FRESH {
                return Ok(book.clone());
            }
        }
        let book = self.rule_book().await?;
        *lock() = Some((std::time::Instant::now(), book.clone()));
        Ok(book)
    }

    /// Makes the desk's checkup line ask for the rule book at its next scan: called when this
    /// instance loads a rule document (another instance's load reaches it within
    /// [`DESK_RULES_FRESH`]).
    pub fn rules_changed(&self) {
        *self.desk_rules.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The rule book, rebuilt when a document was loaded since (on this or another instance).
    pub async fn rule_book(&self) -> crate::error::Result<Arc<RuleBook>> {
        let latest = crate::db::rules::latest(&self.db).await?;
        if let Some((book, at)) = self.rules.read().await.as_ref() {
            if *at == latest {
                return Ok(book.clone());
            }
        }
        // One rebuild at a time, and a book another request built meanwhile is taken as it is:
        // requests arriving together share one book (the desk's judgements are kept per book).
        let mut slot = self.rules.write().await;
        if let Some((book, at)) = slot.as_ref() {
            if *at >= latest {
                return Ok(book.clone());
            }
        }
        let (book, at) = crate::db::rules::book(&self.db).await?;
        let book = Arc::new(book);
        *slot = Some((book.clone(), at));
        Ok(book)
    }
}

/// The whole application, ready to serve or to be called in tests with `oneshot`.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .merge(places::router())
        .merge(clinics::router())
        .merge(contacts::router())
        .merge(emergencies::router())
        .merge(festivals::router())
        .merge(accounts::router())
        .merge(households::router())
        .merge(rules::router())
        .merge(cards::router())
        .merge(verify::router())
        .merge(audit::router())
        .merge(openapi::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        // The import endpoint reads whole spreadsheets; it sets its own, larger limit.
        .merge(import::router());
    Router::new()
        .merge(health::router())
        .merge(desk::router())
        .merge(crate::web::router())
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(
            extract::refuse_control_characters,
        ))
        .layer(
            // Spans carry the method and the matched route template only (`/households/{id}`):
            // a path or query string could hold an ID number someone typed.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("(no route)", axum::extract::MatchedPath::as_str);
                tracing::info_span!("request", method = %req.method(), route = %route)
            }),
        )
        .with_state(state)
}

async fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /api/v1/openapi.json",
    )
}

async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish
/// (at most `grace`) so that no accepted write is lost.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The peer's address reaches handlers (the console throttles failed sign-ins per address).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    // Wait for the server to end; once shutdown began, give in-flight requests `grace`.
    let mut server = server;
    tokio::select! {
        r = &mut server => return r.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        _ = rx => {}
    }
    match tokio::time::timeout(grace, &mut server).await {
        Ok(r) => r.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        Err(_) => {
            tracing::warn!(
                ?grace,
                "requests still running after the grace period; stopping"
            );
            server.abort();
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
