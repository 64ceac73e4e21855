//! API keys: long-lived credentials of a tenant for programs. The key itself is shown once
//! by the caller and never stored; the store keeps its hash (the lookup key), a short
//! public prefix for recognising it in lists, and its role and scopes.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Scope, Store};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{ApiKeyId, TenantId, UserId};
use crate::roles::Role;
use crate::tenants::clean_name;

/// Who created an API key: a signed-in person, or a program holding another key. Keys made
/// by `qf admin` or the demo have no creator.
#[derive(Debug, Clone, Copy)]
pub enum CreatedBy<'a> {
    /// A person, by their user id.
    User(&'a UserId),
    /// Another API key of the tenant.
    Key(&'a ApiKeyId),
}

/// An API key (without its secret).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The tenant it acts for.
    pub tenant_id: TenantId,
    /// A label chosen by its creator.
    pub name: String,
    /// The first characters of the key, shown in lists so people can tell keys apart.
    pub prefix: String,
    /// The most it may do.
    pub role: Role,
    /// Finer limits within the role (meaning defined by the server).
    pub scopes: Vec<String>,
    /// Who created it, when a signed-in person did.
    pub created_by: Option<UserId>,
    /// The key it was created with, when another API key did.
    pub created_by_key: Option<ApiKeyId>,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// Roughly when it was last used (updated at most once a minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
}

const COLUMNS: &str = "id, tenant_id, name, prefix, role, scopes, created_by, created_by_key, \
     expires_at, last_used_at, revoked_at, created_at";

/// `touch_api_key` writes at most once per this many nanoseconds per key.
const TOUCH_INTERVAL_NS: i64 = 60_000_000_000;

impl ApiKey {
    fn from_row(row: &AnyRow) -> Result<ApiKey> {
        Ok(ApiKey {
            id: ApiKeyId::from_db(decode::text(row, "id")?),
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            name: decode::text(row, "name")?,
            prefix: decode::text(row, "prefix")?,
            role: decode::named(row, "role", Role::parse)?,
            scopes: decode::json(row, "scopes")?,
            created_by: decode::text_opt(row, "created_by")?.map(UserId::from_db),
            created_by_key: decode::text_opt(row, "created_by_key")?.map(ApiKeyId::from_db),
            expires_at: decode::int_opt(row, "expires_at")?,
            last_used_at: decode::int_opt(row, "last_used_at")?,
            revoked_at: decode::int_opt(row, "revoked_at")?,
            created_at: decode::int(row, "created_at")?,
        })
    }

    /// Whether the key may be used at `now`: not revoked and not expired.
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

impl Store {
    /// Stores a new key of `t`. `hash` is the hash of the secret key and must be unique
    /// (`Conflict` otherwise).
    #[allow(clippy::too_many_arguments)] // the contract the server is written against
    pub async fn create_api_key(
        &self,
        t: &TenantId,
        name: &str,
        prefix: &str,
        hash: &str,
        role: Role,
        scopes: &[String],
        created_by: Option<CreatedBy<'_>>,
        expires_at: Option<i64>,
    ) -> Result<ApiKey> {
        let name = clean_name("API key", name)?;
        let scopes = serde_json::to_string(scopes)
            .map_err(|e| StoreError::Invalid(format!("scopes: {e}")))?;
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, scopes, \
                                   created_by, created_by_key, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
        ))
        .bind(ApiKeyId::new().as_str())
        .bind(t.as_str())
        .bind(&name)
        .bind(prefix)
        .bind(hash)
        .bind(role.as_str())
        .bind(&scopes)
        .bind(match created_by {
            Some(CreatedBy::User(u)) => Some(u.as_str()),
            _ => None,
        })
        .bind(match created_by {
            Some(CreatedBy::Key(k)) => Some(k.as_str()),
            _ => None,
        })
        .bind(expires_at)
        .bind(now_ns())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, || "an API key with this hash exists".into()))?;
        let key = ApiKey::from_row(&row)?;
        tx.commit().await?;
        Ok(key)
    }

    /// The key whose secret hashes to `hash`, in any tenant, including revoked and expired
    /// keys: the caller decides (see [`ApiKey::is_active`]).
    pub async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.system())
        .await?;
        row.map(|r| ApiKey::from_row(&r)).transpose()
    }

    /// Records that key `id` was used at `now`, but only when the recorded time is unset or
    /// more than a minute older: most authenticated requests then write nothing. Callers
    /// holding the [`ApiKey`] can skip the call when `last_used_at` is recent enough.
    pub async fn touch_api_key(&self, id: &ApiKeyId, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(id.as_str())
        .bind(now)
        .bind(now.saturating_sub(TOUCH_INTERVAL_NS))
        .execute(self.system())
        .await?;
        Ok(())
    }

    /// Every key of `t` (revoked ones too), oldest first.
    pub async fn api_keys(&self, t: &TenantId) -> Result<Vec<ApiKey>> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(t.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(ApiKey::from_row).collect()
    }

    /// Key `id` of `t`, revoked and expired ones included.
    pub async fn api_key(&self, t: &TenantId, id: &ApiKeyId) -> Result<ApiKey> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let row = crate::db::fetch_row(&mut tx, "api_keys", COLUMNS, t, id.as_str(), "").await?;
        tx.commit().await?;
        ApiKey::from_row(&row)
    }

    /// Revokes key `id` of `t`. Idempotent: revoking again keeps the first revocation time.
    pub async fn revoke_api_key(&self, t: &TenantId, id: &ApiKeyId) -> Result<ApiKey> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        ))
        .bind(t.as_str())
        .bind(id.as_str())
        .bind(now_ns())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let key = ApiKey::from_row(&row)?;
        tx.commit().await?;
        Ok(key)
    }
}
