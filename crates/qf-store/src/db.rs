//! The connection pool, the SQL dialect, and the one place where transactions begin.
//!
//! # Transactions and tenant scope
//!
//! Every tenant-scoped store method runs in a transaction opened by `Store::read` or
//! `Store::write`. On PostgreSQL that transaction starts with
//! `set_config('qf.tenant', <tenant id>, true)`: the row-level-security policies of the
//! migration compare it with each row's `tenant_id`, so even a query that forgot its
//! `WHERE tenant_id = $1` could not see another tenant. Connections of this pool carry no
//! session-wide scope, so a statement run outside such a transaction sees no tenant rows.
//!
//! System work that legitimately spans tenants (queue claims, key and session lookups by
//! hash, invitation acceptance) runs on a second, smaller-purpose pool whose connections set
//! `qf.tenant = '*'` for their whole session when they connect. That lets the hot
//! single-statement queue operations (claim, complete, heartbeat) and the per-request key
//! lookup run as one autocommitted statement — one round trip instead of three — while the
//! tenant pool stays closed by default. Only the system-scope methods of this crate use it.
//!
//! On SQLite there is no RLS; the `WHERE tenant_id` in every query is the wall. Writers use
//! `BEGIN IMMEDIATE`, which takes the write lock up front and waits for it under
//! `busy_timeout`. A plain deferred `BEGIN` that reads and then writes could instead fail
//! at once with "database is locked" when another writer got there first (SQLite cannot
//! wait in that case without risking deadlock), which is exactly what concurrent queue
//! claims would do.

use std::borrow::Cow;

use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Transaction};

use crate::error::{Result, StoreError};
use crate::ids::TenantId;

/// Which SQL database a [`Store`] speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Embedded SQLite (WAL mode), the laptop default.
    Sqlite,
    /// PostgreSQL, for production and horizontally scaled workers.
    Postgres,
}

impl Dialect {
    /// The dialect a database URL names, or `None` for an unsupported scheme.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// The row-lock suffix for a `SELECT` that is about to update what it read. SQLite needs
    /// none: its write transactions (`BEGIN IMMEDIATE`) already exclude every other writer.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// The PRAGMAs every SQLite connection gets. `busy_timeout` comes first so that switching
/// to WAL (which briefly needs the lock on a fresh file) already waits instead of failing.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
];

/// A transaction of the store's pool.
pub(crate) type Tx = Transaction<'static, Any>;

/// Row `id` of tenant `t` from `table` (its `columns`), read inside `tx`, with `suffix`
/// appended to the statement (a row lock, or nothing); `NotFound` when there is none.
pub(crate) async fn fetch_row(
    tx: &mut Tx,
    table: &str,
    columns: &str,
    t: &TenantId,
    id: &str,
    suffix: &str,
) -> Result<sqlx::any::AnyRow> {
    sqlx::query(&format!(
        "SELECT {columns} FROM {table} WHERE tenant_id = $1 AND id = $2{suffix}"
    ))
    .bind(t.as_str())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Whose rows a transaction may see on PostgreSQL (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope<'a> {
    /// One tenant's rows.
    Tenant(&'a TenantId),
    /// Every tenant's rows, for work that legitimately spans tenants.
    System,
}

/// A bind value for SQL whose shape is decided at run time (list filters, pagination).
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// Binds `args` in order to `query`.
pub(crate) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    args: &'q [Arg],
) -> Query<'q, Any, AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Text(s) => query.bind(s.as_str()),
            Arg::Int(i) => query.bind(*i),
        };
    }
    query
}

/// The handle to the database. Cheap to clone (the pools are shared); hand one to every
/// request handler and worker.
#[derive(Clone, Debug)]
pub struct Store {
    /// Tenant work (and everything on SQLite).
    pool: AnyPool,
    /// System-scope work: on PostgreSQL its sessions see every tenant (see the module docs);
    /// on SQLite, which has no row-level security, the same pool as `pool`.
    system: AnyPool,
    dialect: Dialect,
}

impl Store {
    /// Connects with a pool sized for the backend: 1 connection for `sqlite::memory:` (each
    /// connection would otherwise get its own empty database), 4 for a SQLite file (readers
    /// run in parallel under WAL, writers take turns anyway), 10 for PostgreSQL.
    ///
    /// Accepted URLs: `sqlite:///abs/path/qf.db`, `sqlite://relative.db`, `sqlite::memory:`
    /// and `postgres://…` (or `postgresql://…`). A SQLite file is created when missing and
    /// opened in WAL mode with `synchronous=NORMAL`, `foreign_keys=ON` and a 5 s busy
    /// timeout. Does not run migrations: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        let size = match Dialect::of_url(url) {
            Some(Dialect::Postgres) => 10,
            _ => 4,
        };
        Store::connect_with(url, size).await
    }

    /// Like [`Store::connect`] with at most `max_connections` pooled connections (at least
    /// 1; always exactly 1 for `sqlite::memory:`). On PostgreSQL the system-scope pool (see
    /// the module docs) may open as many again; both open connections only when needed.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            // Only the scheme is echoed: the rest of a URL may hold a password.
            let scheme = url.split(':').next().unwrap_or_default();
            StoreError::Config(format!(
                "unsupported database URL scheme {scheme:?}: use sqlite:///path/qf.db, \
                 sqlite::memory: or postgres://user@host/db"
            ))
        })?;
        let mut options = AnyPoolOptions::new().max_connections(max_connections.max(1));
        let url: Cow<'_, str> = match dialect {
            Dialect::Postgres => Cow::Borrowed(url),
            Dialect::Sqlite => {
                let memory = is_sqlite_memory(url);
                if memory {
                    // The database lives as long as its one connection: never let the pool
                    // retire it.
                    options = options
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                }
                options = options.after_connect(|conn: &mut AnyConnection, _meta| {
                    Box::pin(async move {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                });
                if memory {
                    Cow::Borrowed(url)
                } else {
                    Cow::Owned(sqlite_create_if_missing(url))
                }
            }
        };
        let pool = options.connect(&url).await?;
        let system = match dialect {
            Dialect::Sqlite => pool.clone(),
            Dialect::Postgres => AnyPoolOptions::new()
                .max_connections(max_connections.max(1))
                .after_connect(|conn: &mut AnyConnection, _meta| {
                    Box::pin(async move {
                        sqlx::query("SELECT set_config('qf.tenant', '*', false)")
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect_lazy(&url)?,
        };
        Ok(Store {
            pool,
            system,
            dialect,
        })
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The backend this store speaks to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The underlying pool, for tests and benchmarks that need raw SQL. Application code
    /// goes through the store's methods, which apply the tenant scope.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection and waits for them to finish; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
        self.system.close().await;
    }

    /// The pool for system-scope statements that need no transaction of their own (a single
    /// statement is atomic by itself). On PostgreSQL its sessions see every tenant.
    pub(crate) fn system(&self) -> &AnyPool {
        &self.system
    }

    /// A transaction that only reads, scoped to `scope` on PostgreSQL.
    pub(crate) async fn read(&self, scope: Scope<'_>) -> Result<Tx> {
        self.scoped(scope, false).await
    }

    /// A transaction that will write, scoped to `scope` on PostgreSQL; on SQLite it holds the
    /// database's write lock from its first statement (`BEGIN IMMEDIATE`).
    pub(crate) async fn write(&self, scope: Scope<'_>) -> Result<Tx> {
        self.scoped(scope, true).await
    }

    /// Opens a transaction for `scope`. On PostgreSQL `BEGIN` and `set_config` travel as one
    /// simple-protocol message, so the scope costs no extra round trip; the tenant id can be
    /// written into that text because a `TenantId` is always `ten_` + hex (checked again here,
    /// and bound as a parameter instead should that ever not hold).
    async fn scoped(&self, scope: Scope<'_>, write: bool) -> Result<Tx> {
        match self.dialect {
            Dialect::Sqlite => Ok(if write {
                self.pool.begin_with("BEGIN IMMEDIATE").await?
            } else {
                self.pool.begin().await?
            }),
            Dialect::Postgres => {
                let value = match scope {
                    Scope::Tenant(t) => t.as_str(),
                    // The system pool's sessions are already scoped to every tenant.
                    Scope::System => return Ok(self.system.begin().await?),
                };
                let inline_safe = value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if inline_safe {
                    let begin = format!("BEGIN; SELECT set_config('qf.tenant', '{value}', true)");
                    Ok(self.pool.begin_with(begin).await?)
                } else {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("SELECT set_config('qf.tenant', $1, true)")
                        .bind(value)
                        .execute(&mut *tx)
                        .await?;
                    Ok(tx)
                }
            }
        }
    }
}

/// Whether a SQLite URL names an in-memory database.
fn is_sqlite_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.starts_with(":memory:") || url.contains("mode=memory")
}

/// Adds `mode=rwc` (create the file when missing) unless the URL already chose a mode.
fn sqlite_create_if_missing(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|kv| kv.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_from_url() {
        assert_eq!(Dialect::of_url("sqlite::memory:"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("sqlite:///tmp/x.db"), Some(Dialect::Sqlite));
        assert_eq!(
            Dialect::of_url("postgres://u@h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(
            Dialect::of_url("postgresql://u@h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("mysql://u@h/db"), None);
    }

    #[test]
    fn sqlite_urls_create_files_but_keep_an_explicit_mode() {
        assert_eq!(
            sqlite_create_if_missing("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_create_if_missing("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(!is_sqlite_memory("sqlite:///tmp/memory.db"));
    }

    #[tokio::test]
    async fn unsupported_scheme_is_a_config_error_without_the_password() {
        let err = Store::connect("mysql://root:hunter2@db/x")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Config(_)));
        assert!(!err.to_string().contains("hunter2"));
    }
}
