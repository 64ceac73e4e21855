//! Tenants: the organisations whose data the store keeps apart.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Scope, Store};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::TenantId;

/// An organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its display name.
    pub name: String,
    /// When it was created (ns since the epoch).
    pub created_at: i64,
}

impl Tenant {
    fn from_row(row: &AnyRow) -> Result<Tenant> {
        Ok(Tenant {
            id: TenantId::from_db(decode::text(row, "id")?),
            name: decode::text(row, "name")?,
            created_at: decode::int(row, "created_at")?,
        })
    }
}

/// A trimmed, non-empty display name of at most 200 characters.
pub(crate) fn clean_name(what: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid(format!(
            "the {what} name must not be empty"
        )));
    }
    if name.chars().count() > 200 {
        return Err(StoreError::Invalid(format!(
            "the {what} name is longer than 200 characters"
        )));
    }
    Ok(name.to_owned())
}

impl Store {
    /// Creates a tenant named `name` (trimmed; `Invalid` when empty or over 200 characters).
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        let name = clean_name("tenant", name)?;
        let id = TenantId::new();
        let mut tx = self.write(Scope::Tenant(&id)).await?;
        let row = sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, created_at",
        )
        .bind(id.as_str())
        .bind(&name)
        .bind(now_ns())
        .fetch_one(&mut *tx)
        .await?;
        let tenant = Tenant::from_row(&row)?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// The tenant `t`.
    pub async fn tenant(&self, t: &TenantId) -> Result<Tenant> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .bind(t.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let tenant = Tenant::from_row(&row)?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Renames the tenant `t`.
    pub async fn rename_tenant(&self, t: &TenantId, name: &str) -> Result<Tenant> {
        let name = clean_name("tenant", name)?;
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(
            "UPDATE tenants SET name = $2 WHERE id = $1 RETURNING id, name, created_at",
        )
        .bind(t.as_str())
        .bind(&name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let tenant = Tenant::from_row(&row)?;
        tx.commit().await?;
        Ok(tenant)
    }
}
