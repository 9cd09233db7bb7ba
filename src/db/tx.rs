//! One transaction over either backend, so that the repository functions of several areas
//! compose into one user action: a household change and the card changes it causes, a rule set
//! checked against the stored ones and inserted.

use sqlx::{Postgres, Sqlite, Transaction};

use super::Db;

/// An open write transaction. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx {
    /// SQLite, begun `IMMEDIATE`: it holds the write lock from its first statement, so a
    /// transaction that reads and then writes waits for other writers (up to the busy timeout)
    /// instead of failing with `SQLITE_BUSY` at its first write.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL, read committed; statements that must not race take row locks or are
    /// guarded by the state they read (`… where state = $read`).
    Postgres(Transaction<'static, Postgres>),
}

/// Expands one body for both arms of a [`Tx`], binding `$conn` to the backend's connection
/// (`&mut SqliteConnection` or `&mut PgConnection`): `on_tx!(tx, c => query.execute(&mut *c))`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $conn: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

impl Db {
    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }
}

impl Tx {
    /// Commits: everything the transaction wrote lands together.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}
