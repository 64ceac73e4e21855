//! Strategies and their immutable versions. A new upload of the source is a new version;
//! runs name the exact version they used, so a report can always be traced to its code.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Arg, Scope, Store, Tx, bind_all};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{StrategyId, TenantId};
use crate::page::{Listed, Page};
use crate::tenants::clean_name;

/// A strategy: a name in a tenant and a line of versions.
#[derive(Debug, Clone, Serialize)]
pub struct Strategy {
    /// Its id.
    pub id: StrategyId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// Its name, unique within the tenant.
    pub name: String,
    /// The sandbox tier or language, e.g. `"python"` or `"wasm"`.
    pub kind: String,
    /// The newest version number (versions count from 1).
    pub latest_version: i64,
    /// When it was created.
    pub created_at: i64,
    /// When its last version was added.
    pub updated_at: i64,
}

/// One immutable version of a strategy.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyVersion {
    /// The strategy.
    pub strategy_id: StrategyId,
    /// 1, 2, 3, …
    pub version: i64,
    /// The source code (encrypted by the caller if it must be).
    pub source: String,
    /// SHA-256 of the source, hex, computed by the caller.
    pub sha256: String,
    /// Default parameters.
    pub params: serde_json::Value,
    /// When it was added.
    pub created_at: i64,
}

/// A strategy at its latest version, without the source: what lists show.
#[derive(Debug, Clone, Serialize)]
pub struct StrategySummary {
    /// The strategy.
    pub strategy: Strategy,
    /// SHA-256 of the latest version's source.
    pub sha256: String,
    /// The latest version's declared parameters.
    pub params: serde_json::Value,
}

const COLUMNS: &str = "id, tenant_id, name, kind, latest_version, created_at, updated_at";
const VERSION_COLUMNS: &str = "strategy_id, version, source, sha256, params, created_at";

impl Strategy {
    fn from_row(row: &AnyRow) -> Result<Strategy> {
        Ok(Strategy {
            id: StrategyId::from_db(decode::text(row, "id")?),
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            name: decode::text(row, "name")?,
            kind: decode::text(row, "kind")?,
            latest_version: decode::int(row, "latest_version")?,
            created_at: decode::int(row, "created_at")?,
            updated_at: decode::int(row, "updated_at")?,
        })
    }
}

impl StrategyVersion {
    fn from_row(row: &AnyRow) -> Result<StrategyVersion> {
        Ok(StrategyVersion {
            strategy_id: StrategyId::from_db(decode::text(row, "strategy_id")?),
            version: decode::int(row, "version")?,
            source: decode::text(row, "source")?,
            sha256: decode::text(row, "sha256")?,
            params: decode::json(row, "params")?,
            created_at: decode::int(row, "created_at")?,
        })
    }
}

/// Inserts version `version` of strategy `id` inside `tx`.
#[allow(clippy::too_many_arguments)] // a private step of two public methods; a struct would only rename them
async fn insert_version(
    tx: &mut Tx,
    t: &TenantId,
    id: &StrategyId,
    version: i64,
    source: &str,
    sha256: &str,
    params: &serde_json::Value,
    now: i64,
) -> Result<StrategyVersion> {
    let row = sqlx::query(&format!(
        "INSERT INTO strategy_versions (tenant_id, strategy_id, version, source, sha256, params, \
                                        created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {VERSION_COLUMNS}"
    ))
    .bind(t.as_str())
    .bind(id.as_str())
    .bind(version)
    .bind(source)
    .bind(sha256)
    .bind(params.to_string())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    StrategyVersion::from_row(&row)
}

impl Store {
    /// Creates strategy `name` in `t` with its version 1. `Conflict` when the tenant already
    /// has a strategy of that name.
    #[allow(clippy::too_many_arguments)] // the contract the server is written against
    pub async fn create_strategy(
        &self,
        t: &TenantId,
        name: &str,
        kind: &str,
        source: &str,
        sha256: &str,
        params: serde_json::Value,
    ) -> Result<(Strategy, StrategyVersion)> {
        let name = clean_name("strategy", name)?;
        let id = StrategyId::new();
        let now = now_ns();
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO strategies (id, tenant_id, name, kind, latest_version, created_at, \
                                     updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING {COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(t.as_str())
        .bind(&name)
        .bind(kind)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, || format!("a strategy named {name:?} exists")))?;
        let strategy = Strategy::from_row(&row)?;
        let version = insert_version(&mut tx, t, &id, 1, source, sha256, &params, now).await?;
        tx.commit().await?;
        Ok((strategy, version))
    }

    /// Adds the next version of strategy `id` of `t` and makes it the latest.
    pub async fn add_strategy_version(
        &self,
        t: &TenantId,
        id: &StrategyId,
        source: &str,
        sha256: &str,
        params: serde_json::Value,
    ) -> Result<StrategyVersion> {
        let now = now_ns();
        let mut tx = self.write(Scope::Tenant(t)).await?;
        // The increment locks the strategy row, so concurrent uploads get 2 and 3, never 2 twice.
        let row = sqlx::query(
            "UPDATE strategies SET latest_version = latest_version + 1, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 RETURNING latest_version",
        )
        .bind(t.as_str())
        .bind(id.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let version = decode::int(&row, "latest_version")?;
        let v = insert_version(&mut tx, t, id, version, source, sha256, &params, now).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Strategy `id` of `t`.
    pub async fn strategy(&self, t: &TenantId, id: &StrategyId) -> Result<Strategy> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let row = crate::db::fetch_row(&mut tx, "strategies", COLUMNS, t, id.as_str(), "").await?;
        tx.commit().await?;
        Strategy::from_row(&row)
    }

    /// Version `version` of strategy `id` of `t`, or its latest version when `None`.
    pub async fn strategy_version(
        &self,
        t: &TenantId,
        id: &StrategyId,
        version: Option<i64>,
    ) -> Result<StrategyVersion> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let row = match version {
            Some(v) => {
                sqlx::query(&format!(
                    "SELECT {VERSION_COLUMNS} FROM strategy_versions \
                     WHERE tenant_id = $1 AND strategy_id = $2 AND version = $3"
                ))
                .bind(t.as_str())
                .bind(id.as_str())
                .bind(v)
                .fetch_optional(&mut *tx)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {VERSION_COLUMNS} FROM strategy_versions \
                     WHERE tenant_id = $1 AND strategy_id = $2 \
                     ORDER BY version DESC LIMIT 1"
                ))
                .bind(t.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
            }
        }
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        StrategyVersion::from_row(&row)
    }

    /// Every version of strategy `id` of `t`, oldest first, sources included. `NotFound`
    /// when the strategy does not exist in `t`.
    pub async fn strategy_versions(
        &self,
        t: &TenantId,
        id: &StrategyId,
    ) -> Result<Vec<StrategyVersion>> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM strategy_versions \
             WHERE tenant_id = $1 AND strategy_id = $2 ORDER BY version"
        ))
        .bind(t.as_str())
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        // Version 1 is written with the strategy, so no versions means no strategy.
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter().map(StrategyVersion::from_row).collect()
    }

    /// A page of the strategies of `t` at their latest version, optionally only those of
    /// `kind`: one query, the latest version joined by its primary key.
    pub async fn strategies(
        &self,
        t: &TenantId,
        kind: Option<&str>,
        page: &Page,
    ) -> Result<Listed<StrategySummary>> {
        // The join lives in a derived table so that the page's `id` and the filters name
        // its columns unambiguously.
        let mut sql = String::from(
            "SELECT * FROM (SELECT s.id, s.tenant_id, s.name, s.kind, s.latest_version, \
                                   s.created_at, s.updated_at, v.sha256, v.params \
                            FROM strategies s JOIN strategy_versions v \
                              ON v.strategy_id = s.id AND v.version = s.latest_version \
                             AND v.tenant_id = s.tenant_id \
                            WHERE s.tenant_id = $1) latest WHERE tenant_id = $1",
        );
        let mut args = vec![Arg::Text(t.to_string())];
        if let Some(kind) = kind {
            args.push(Arg::Text(kind.to_owned()));
            sql.push_str(&format!(" AND kind = ${}", args.len()));
        }
        page.push_sql(&mut sql, &mut args);
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(StrategySummary {
                    strategy: Strategy::from_row(row)?,
                    sha256: decode::text(row, "sha256")?,
                    params: decode::json(row, "params")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items, |s| s.strategy.id.as_str()))
    }
}
