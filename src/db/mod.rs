//! The database: one enum over SQLite (the embedded default) and PostgreSQL (scale-out), with
//! migrations embedded for both and queries written once through [`on_db!`].

pub mod accounts;
pub mod audit;
pub mod cards;
pub mod checkups;
pub mod contacts;
pub mod contracts;
pub mod disbursement;
pub mod emergencies;
pub mod festivals;
pub mod household_search;
pub mod households;
pub mod import;
pub mod keys;
pub mod places;
pub mod rules;
pub mod sessions;
pub mod tx;

pub use tx::Tx;

use std::os::unix::fs::DirBuilderExt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    /// The embedded default: one file, WAL mode, foreign keys on.
    Sqlite(SqlitePool),
    /// The scale-out backend.
    Postgres(PgPool),
}

/// Expands one query body for both backends, binding the pool (or transaction source) to `$pool`.
/// Each arm is type-checked against its own driver, so the SQL and the Rust types must suit both.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` / `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// Reads the backend from a database URL's scheme.
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!(
                "--database: unsupported URL '{}': use sqlite:PATH or postgres://USER@HOST/DB",
                redact_url(url)
            )
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Db {
    /// Connects (creating an SQLite file and its folder when missing) and runs the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let db = match Backend::of_url(url)? {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .with_context(|| format!("--database: bad SQLite URL '{url}'"))?;
                if let Some(dir) = opts.get_filename().parent() {
                    if !dir.as_os_str().is_empty() && !dir.exists() {
                        // The register holds personal data: a folder we create is owner-only.
                        std::fs::DirBuilder::new()
                            .recursive(true)
                            .mode(0o700)
                            .create(dir)
                            .with_context(|| format!("creating {}", dir.display()))?;
                    }
                }
                let opts = opts
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .connect_with(opts)
                    .await
                    .with_context(|| format!("opening SQLite database {url}"))?;
                Db::Sqlite(pool)
            }
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(url).with_context(|| {
                    format!("--database: bad PostgreSQL URL '{}'", redact_url(url))
                })?;
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .with_context(|| format!("connecting to {}", redact_url(url)))?;
                Db::Postgres(pool)
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await,
        }
        .context("running database migrations")
    }

    /// A trivial query, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, p => sqlx::query("select 1").execute(p).await.map(|_| ()))
    }

    /// Waits for in-flight queries and closes every connection (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

#[cfg(test)]
mod tests {
    /// The migration files of one backend: version and name.
    fn migrations(backend: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let (sqlite, postgres) = (migrations("sqlite"), migrations("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres differ"
        );
    }
}
