//! The runners that own this process's chain and append to it: on SQLite a writer thread and a
//! syncer thread, on PostgreSQL a task.
//!
//! SQLite. sqlx's driver runs every statement on its connection's worker thread and hands each
//! result back through a channel, and a pooled connection finds its page cache stale whenever
//! another one wrote; on the desk's log that cost more than the writing itself (README §
//! Benchmarks). So the log has a connection of its own (rusqlite, over the same SQLite library
//! and file as the pool) on a thread of its own, which runs each transaction in one go.
//!
//! Group commit without stalling the writer: the writer commits with `synchronous=NORMAL` (the
//! WAL frames are written, not yet flushed), hands the batch to the syncer and starts on the
//! next one; the syncer flushes the WAL file with `fdatasync` and only then answers every batch
//! committed before that flush began. An answer therefore still means the entry is on disk, as
//! with `synchronous=FULL`, but one flush covers all the commits made while the previous one
//! ran. SQLite itself flushes the WAL before it checkpoints frames into the database (and the
//! database after), so frames a checkpoint moves are durable either way, and the WAL file is
//! never deleted while the writer's connection is open.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};

use super::append::{append_postgres, append_sqlite, Append, Written};
use super::Chain;
use crate::db::Db;
use crate::error::AppError;

/// The most appends (each one scan) folded into one transaction.
const MAX_APPENDS: usize = 256;

/// Where the desk's verifications go: a handle to the runner of this process's chain. The
/// runner finishes what was queued and stops when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct AuditLog {
    queue: Queue,
    stopped: watch::Receiver<bool>,
}

#[derive(Clone, Debug)]
enum Queue {
    /// The SQLite writer thread.
    Sqlite(std_mpsc::SyncSender<Append>),
    /// The PostgreSQL task.
    Postgres(mpsc::Sender<Append>),
}

/// How many appends may wait for the log. When the queue is full, [`AuditLog::try_submit`]
/// refuses and the desk is told to retry (503 with `Retry-After`): memory stays bounded however
/// fast scans arrive.
const QUEUED_APPENDS: usize = 4096;
/// How many committed transactions may wait for the syncer's flush.
const QUEUED_WRITTEN: usize = 64;

/// Resolves once the runner has stopped: every queued scan written and answered, and on SQLite
/// the log's connection closed, so that closing the pool afterwards checkpoints the WAL.
#[derive(Clone, Debug)]
pub struct Stopped(watch::Receiver<bool>);

impl Stopped {
    /// Whether the runner has stopped (or died).
    pub fn has_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Waits for the runner to stop (at once if it already has, or if it died).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

impl AuditLog {
    /// Starts the runner for `db`, flagging a card verified at two facilities within
    /// `copy_window`. On SQLite this opens the log's own connection to the pool's file.
    pub fn start(db: &Db, copy_window: chrono::Duration) -> anyhow::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let queue = match db {
            Db::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_owned();
                Queue::Sqlite(start_sqlite(&path, copy_window, stop)?)
            }
            Db::Postgres(pool) => {
                let (tx, rx) = mpsc::channel(QUEUED_APPENDS);
                let pool = pool.clone();
                tokio::spawn(async move {
                    run_postgres(pool, rx, copy_window).await;
                    let _ = stop.send(true);
                });
                Queue::Postgres(tx)
            }
        };
        Ok(Self { queue, stopped })
    }

    /// Queues an append without waiting: [`AppError::Busy`] when the queue is full,
    /// [`AppError::Unavailable`] when the runner has stopped.
    pub fn try_submit(&self, append: Append) -> Result<(), AppError> {
        match &self.queue {
            Queue::Sqlite(tx) => tx.try_send(append).map_err(|e| match e {
                std_mpsc::TrySendError::Full(_) => AppError::Busy,
                std_mpsc::TrySendError::Disconnected(_) => AppError::Unavailable,
            }),
            Queue::Postgres(tx) => tx.try_send(append).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => AppError::Busy,
                mpsc::error::TrySendError::Closed(_) => AppError::Unavailable,
            }),
        }
    }

    /// A handle that resolves once the runner has stopped, for a clean shutdown; it does not
    /// keep the runner alive.
    pub fn stopped(&self) -> Stopped {
        Stopped(self.stopped.clone())
    }
}

fn start_sqlite(
    path: &Path,
    copy_window: chrono::Duration,
    stop: watch::Sender<bool>,
) -> anyhow::Result<std_mpsc::SyncSender<Append>> {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        anyhow::bail!("--database: the service needs an SQLite file, not an in-memory database");
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} for the audit log", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    // Durability comes from the syncer's flush, not from the commit: see the module comment.
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.set_prepared_statement_cache_capacity(16);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let (appends, queued) = std_mpsc::sync_channel(QUEUED_APPENDS);
    // Bounded too: a stalled flush holds the writer back, and so everything in front of it.
    let (written, to_sync) = std_mpsc::sync_channel(QUEUED_WRITTEN);
    std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || run_writer(conn, queued, written, copy_window))
        .context("starting the audit writer thread")?;
    std::thread::Builder::new()
        .name("audit-syncer".into())
        .spawn(move || {
            run_syncer(PathBuf::from(wal), to_sync);
            let _ = stop.send(true);
        })
        .context("starting the audit syncer thread")?;
    Ok(appends)
}

fn run_writer(
    mut conn: Connection,
    queued: std_mpsc::Receiver<Append>,
    written: std_mpsc::SyncSender<Written>,
    copy_window: chrono::Duration,
) {
    let mut chain = Chain::new();
    while let Ok(first) = queued.recv() {
        let mut appends = vec![first];
        appends.extend(queued.try_iter().take(MAX_APPENDS - 1));
        // A panic loses this transaction's answers (their desks see 503) and rolls it back as
        // it unwinds; the chain is untouched, and the writer goes on with the next batch.
        let run = std::panic::AssertUnwindSafe(|| {
            append_sqlite(&mut conn, &mut chain, appends, copy_window)
        });
        match std::panic::catch_unwind(run) {
            Ok(Ok(done)) => {
                if written.send(done).is_err() {
                    return;
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "audit append failed; nothing was logged"),
            Err(_) => tracing::error!("audit append panicked; nothing was logged"),
        }
    }
    // Close the connection before the syncer (which sees `written` close) reports the stop.
    drop(conn);
    drop(written);
}

fn run_syncer(wal: PathBuf, to_sync: std_mpsc::Receiver<Written>) {
    let mut file: Option<std::fs::File> = None;
    while let Ok(mut done) = to_sync.recv() {
        for more in to_sync.try_iter() {
            done.extend(more);
        }
        match flush(&wal, &mut file) {
            Ok(()) => {
                for (respond, logged) in done {
                    respond(logged);
                }
            }
            // Committed but perhaps not on disk: no desk is told it was logged.
            Err(e) => tracing::error!(error = %e, "flushing the audit log failed"),
        }
    }
}

/// `fdatasync` of the WAL file, through a handle kept open (and reopened should the file at
/// that path ever be a different one).
fn flush(wal: &Path, file: &mut Option<std::fs::File>) -> std::io::Result<()> {
    let current = std::fs::metadata(wal)?;
    let same = match file {
        Some(f) => {
            let m = f.metadata()?;
            m.ino() == current.ino() && m.dev() == current.dev()
        }
        None => false,
    };
    if !same {
        *file = Some(std::fs::File::open(wal)?);
    }
    match file {
        Some(f) => f.sync_data(),
        None => Ok(()),
    }
}

async fn run_postgres(
    pool: PgPool,
    mut queued: mpsc::Receiver<Append>,
    copy_window: chrono::Duration,
) {
    let mut chain = Chain::new();
    while let Some(first) = queued.recv().await {
        let mut appends = vec![first];
        while appends.len() < MAX_APPENDS {
            match queued.try_recv() {
                Ok(a) => appends.push(a),
                Err(_) => break,
            }
        }
        match append_postgres(&pool, &mut chain, appends, copy_window).await {
            Ok(done) => {
                for (respond, logged) in done {
                    respond(logged);
                }
            }
            Err(e) => tracing::error!(error = %e, "audit append failed; nothing was logged"),
        }
    }
}
