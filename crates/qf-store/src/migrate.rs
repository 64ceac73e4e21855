//! Schema migrations: SQL files per dialect, embedded in the binary, applied in name order,
//! each in its own transaction, and recorded in `qf_migrations`.
//!
//! sqlx has a migrator of its own, but it keeps one set of files per database and a
//! checksum table of its own design; the store needs the two dialects side by side under
//! the same names and a table both backends read alike, so it keeps this small loop instead.

use sqlx::{Executor, Row};

use crate::clock::now_ns;
use crate::db::{Dialect, Store};
use crate::error::Result;

/// One migration: a name (`NNNN_what`) and the SQL that performs it.
struct Migration {
    name: &'static str,
    sql: &'static str,
}

/// SQLite migrations, in order. Names match [`POSTGRES`] one for one.
const SQLITE: &[Migration] = &[
    Migration {
        name: "0001_init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        name: "0002_queue_index",
        sql: include_str!("../migrations/sqlite/0002_queue_index.sql"),
    },
    Migration {
        name: "0003_hardening",
        sql: include_str!("../migrations/sqlite/0003_hardening.sql"),
    },
];

/// PostgreSQL migrations, in order.
const POSTGRES: &[Migration] = &[
    Migration {
        name: "0001_init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        name: "0002_queue_index",
        sql: include_str!("../migrations/postgres/0002_queue_index.sql"),
    },
    Migration {
        name: "0003_hardening",
        sql: include_str!("../migrations/postgres/0003_hardening.sql"),
    },
];

/// An arbitrary constant naming the PostgreSQL advisory lock that serialises migrations, so
/// that several replicas starting at once apply each migration exactly once.
const PG_MIGRATION_LOCK: i64 = 0x5146_5f6d_6967_7261; // "QF_migra"

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS qf_migrations \
     (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)";

impl Store {
    /// Applies the migrations this database has not seen yet and returns their names, in
    /// the order applied (empty when the schema is current, so calling it twice is safe).
    /// Each migration and its record commit together: a failure leaves the database at the
    /// previous migration.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let migrations = match self.dialect() {
            Dialect::Sqlite => SQLITE,
            Dialect::Postgres => POSTGRES,
        };
        let mut tx = self.begin_migration().await?;
        sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
        tx.commit().await?;

        let mut applied = Vec::new();
        for m in migrations {
            let mut tx = self.begin_migration().await?;
            let done = sqlx::query("SELECT 1 FROM qf_migrations WHERE name = $1")
                .bind(m.name)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if done {
                tx.rollback().await?;
                continue;
            }
            // A plain &str runs without bind parameters, i.e. over the simple protocol, which
            // is what executes a file of many statements. (Also keeps the future Send, which
            // sqlx::raw_sql through a transaction currently does not.)
            let conn: &mut sqlx::AnyConnection = &mut tx;
            conn.execute(m.sql).await?;
            sqlx::query("INSERT INTO qf_migrations (name, applied_at) VALUES ($1, $2)")
                .bind(m.name)
                .bind(now_ns())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(migration = m.name, "applied database migration");
            applied.push(m.name.to_owned());
        }
        Ok(applied)
    }

    /// Names of the migrations recorded as applied, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM qf_migrations ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("name").map_err(Into::into))
            .collect()
    }

    /// A transaction that holds the migration lock until it ends.
    async fn begin_migration(&self) -> Result<crate::db::Tx> {
        Ok(match self.dialect() {
            Dialect::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_migrations_in_order() {
        let names = |ms: &[Migration]| ms.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(SQLITE), names(POSTGRES));
        let mut sorted = names(SQLITE);
        sorted.sort();
        assert_eq!(sorted, names(SQLITE));
    }
}
