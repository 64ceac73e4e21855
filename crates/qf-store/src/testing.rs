//! Test harness (cargo feature `testing`): a fresh, migrated store on each backend, so every
//! crate's tests can run the same test against SQLite and PostgreSQL.
//!
//! PostgreSQL comes from `QF_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`): the harness connects there, creates a
//! database `qf_t_<uuid>` for the test and connects to it. When the server cannot be
//! reached the test is skipped with a note on stderr, except under CI (`CI` set), where a
//! missing database is a failure and panics.
//!
//! This is test support: it panics with a message rather than returning errors, because a
//! broken fixture should stop the test that asked for it.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;

use crate::db::Store;

/// The variable holding the PostgreSQL server URL for tests.
pub const POSTGRES_URL_ENV: &str = "QF_TEST_POSTGRES_URL";
/// The URL used when [`POSTGRES_URL_ENV`] is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Every database the harness creates starts with this; [`drop_postgres`] drops no other.
const DB_PREFIX: &str = "qf_t_";

/// A migrated store on a new SQLite file in `dir` (a temporary directory of the test).
pub async fn fresh_sqlite(dir: &Path) -> Store {
    let path = dir.join(format!("qf-{}.db", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("opening test SQLite database {}: {e}", path.display()));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrating test SQLite database: {e}"));
    store
}

/// A migrated store on a new, empty PostgreSQL database and that database's URL (for
/// [`drop_postgres`]); `None` when PostgreSQL is unreachable outside CI. The store connects
/// as the server's user (a superuser in the default setup, which row-level security does
/// not bind).
pub async fn fresh_postgres() -> Option<(Store, String)> {
    fresh_postgres_db(None).await
}

/// Like [`fresh_postgres`], but the database belongs to [`APP_ROLE`], an ordinary role
/// (no superuser, no BYPASSRLS), and the store acts as that role (the URL sets
/// `options=-c role=…`). It runs the migrations and owns the tables, as an application role
/// does in production, so the FORCEd row-level-security policies bind every statement the
/// store makes: a store method that forgot its scope fails here.
pub async fn fresh_postgres_as_app() -> Option<(Store, String)> {
    fresh_postgres_db(Some(APP_ROLE)).await
}

/// The ordinary role of [`fresh_postgres_as_app`]; created on first use (cluster-wide).
pub const APP_ROLE: &str = "qf_test_app";

async fn fresh_postgres_db(role: Option<&str>) -> Option<(Store, String)> {
    let server = std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    sqlx::any::install_default_drivers();
    let admin = match AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&server)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "PostgreSQL is required under CI but unreachable ({POSTGRES_URL_ENV} or \
                     {DEFAULT_POSTGRES_URL}): {e}"
                );
            }
            eprintln!("skipping PostgreSQL: {e} (set {POSTGRES_URL_ENV} to a reachable server)");
            return None;
        }
    };
    let name = format!("{DB_PREFIX}{}", uuid::Uuid::now_v7().simple());
    let mut create = format!("CREATE DATABASE {name}");
    if let Some(role) = role {
        // Roles are cluster-wide and test binaries run in parallel: tolerate losing the race.
        sqlx::query(&format!(
            "DO $$ BEGIN CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("creating role {role}: {e}"));
        create.push_str(&format!(" OWNER {role}"));
    }
    sqlx::query(&create)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    admin.close().await;
    let mut url = with_database(&server, &name);
    if let Some(role) = role {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("options=-c%20role%3D{role}"));
    }
    let store = Store::connect_with(&url, 8)
        .await
        .unwrap_or_else(|e| panic!("connecting to test database {name}: {e}"));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrating test database {name}: {e}"));
    Some((store, url))
}

/// Drops a database made by [`fresh_postgres`], best effort (errors are printed, not
/// raised). Close the store's pool first.
pub async fn drop_postgres(db_url: &str) {
    let Some(name) = database_name(db_url).filter(|n| n.starts_with(DB_PREFIX)) else {
        eprintln!("not dropping a database the test harness did not create");
        return;
    };
    // Only [a-z0-9_] by construction, so it may be spliced into the statement.
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return;
    }
    let server = std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let dropped = async {
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&server)
            .await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok::<_, sqlx::Error>(())
    };
    if let Err(e) = dropped.await {
        eprintln!("could not drop test database {name}: {e}");
    }
}

/// Runs `test` on a fresh SQLite store in a temporary directory.
pub async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("creating a temporary directory: {e}"));
    let store = fresh_sqlite(dir.path()).await;
    test(store.clone()).await;
    store.close().await;
}

/// Runs `test` on a fresh PostgreSQL database ([`fresh_postgres`]) and drops the database
/// afterwards, also when the test panics (the panic is then resumed). Skips as
/// [`fresh_postgres`] does.
pub async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_and_drop(fresh_postgres().await, test).await;
}

/// Like [`with_postgres`] on a database of [`fresh_postgres_as_app`], where row-level
/// security binds the store.
pub async fn with_postgres_as_app<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_and_drop(fresh_postgres_as_app().await, test).await;
}

async fn run_and_drop<F, Fut>(db: Option<(Store, String)>, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some((store, url)) = db else {
        return;
    };
    let outcome = tokio::spawn(test(store.clone())).await;
    store.close().await;
    drop_postgres(&url).await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// `url` with its database name replaced by `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The database name in a PostgreSQL URL.
fn database_name(url: &str) -> Option<&str> {
    let base = url.split('?').next()?;
    let authority_start = base.find("://")? + 3;
    let path = &base[authority_start..];
    let name = &path[path.find('/')? + 1..];
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_in_urls() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/test", "qf_t_1"),
            "postgres://u:p@h:5432/qf_t_1"
        );
        assert_eq!(
            with_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(database_name("postgres://u@h:1/qf_t_9?a=b"), Some("qf_t_9"));
        assert_eq!(database_name("postgres://h"), None);
    }
}
