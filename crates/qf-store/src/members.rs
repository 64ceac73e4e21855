//! Memberships: which users belong to which tenant, in which role.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Scope, Store, Tx};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{TenantId, UserId};
use crate::roles::Role;

/// A user's place in a tenant, with the user's email and name joined in for display.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The member.
    pub user_id: UserId,
    /// The member's email.
    pub email: String,
    /// The member's display name.
    pub name: String,
    /// What the member may do in the tenant.
    pub role: Role,
    /// When the user joined (ns since the epoch).
    pub created_at: i64,
}

const SELECT: &str = "SELECT m.tenant_id, m.user_id, u.email, u.name, m.role, m.created_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

impl Membership {
    fn from_row(row: &AnyRow) -> Result<Membership> {
        Ok(Membership {
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            user_id: UserId::from_db(decode::text(row, "user_id")?),
            email: decode::text(row, "email")?,
            name: decode::text(row, "name")?,
            role: decode::named(row, "role", Role::parse)?,
            created_at: decode::int(row, "created_at")?,
        })
    }
}

/// The membership of `user` in `t`, read inside `tx`.
async fn fetch(tx: &mut Tx, t: &TenantId, user: &UserId) -> Result<Option<Membership>> {
    sqlx::query(&format!(
        "{SELECT} WHERE m.tenant_id = $1 AND m.user_id = $2"
    ))
    .bind(t.as_str())
    .bind(user.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| Membership::from_row(&r))
    .transpose()
}

/// Adds `user` to `t` as `role` inside `tx`: `NotFound` when the tenant or user does not
/// exist, `Conflict` when the user is already a member.
pub(crate) async fn insert(
    tx: &mut Tx,
    t: &TenantId,
    user: &UserId,
    role: Role,
) -> Result<Membership> {
    let exists = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM tenants WHERE id = $1) AS tenants, \
                (SELECT COUNT(*) FROM users WHERE id = $2) AS users",
    )
    .bind(t.as_str())
    .bind(user.as_str())
    .fetch_one(&mut **tx)
    .await?;
    if decode::int(&exists, "tenants")? == 0 || decode::int(&exists, "users")? == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(t.as_str())
    .bind(user.as_str())
    .bind(role.as_str())
    .bind(now_ns())
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::unique(e, || format!("user {user} is already a member")))?;
    fetch(tx, t, user).await?.ok_or(StoreError::NotFound)
}

impl Store {
    /// Adds `user` to tenant `t` as `role`. `Conflict` when already a member, `NotFound`
    /// when the user does not exist.
    pub async fn add_member(&self, t: &TenantId, user: &UserId, role: Role) -> Result<Membership> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let m = insert(&mut tx, t, user, role).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Every member of `t`, in the order they joined.
    pub async fn members(&self, t: &TenantId) -> Result<Vec<Membership>> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE m.tenant_id = $1 ORDER BY m.created_at, m.user_id"
        ))
        .bind(t.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(Membership::from_row).collect()
    }

    /// The membership of `user` in `t`, if any.
    pub async fn member(&self, t: &TenantId, user: &UserId) -> Result<Option<Membership>> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let m = fetch(&mut tx, t, user).await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Changes the role of `user` in `t`. Sessions keep the role they were issued with until
    /// they are rotated; the caller revokes them when a demotion must bite at once.
    pub async fn set_member_role(
        &self,
        t: &TenantId,
        user: &UserId,
        role: Role,
    ) -> Result<Membership> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let done =
            sqlx::query("UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
                .bind(t.as_str())
                .bind(user.as_str())
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let m = fetch(&mut tx, t, user).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(m)
    }

    /// Removes `user` from `t` and revokes their sessions in `t` in the same transaction, so
    /// a removed member is out at once rather than when their token expires.
    pub async fn remove_member(&self, t: &TenantId, user: &UserId) -> Result<()> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let done = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(t.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE sessions SET revoked_at = $3 \
             WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(t.as_str())
        .bind(user.as_str())
        .bind(now_ns())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every tenant `user` belongs to (across tenants, for login and tenant pickers).
    pub async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE m.user_id = $1 ORDER BY m.created_at, m.tenant_id"
        ))
        .bind(user.as_str())
        .fetch_all(self.system())
        .await?;
        rows.iter().map(Membership::from_row).collect()
    }
}
