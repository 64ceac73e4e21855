//! Invitations: a tenant asks an email address to join in a role; whoever presents the
//! invitation token (hashed by the caller) before it expires joins.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Scope, Store};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{InvitationId, TenantId, UserId};
use crate::members::{self, Membership};
use crate::roles::Role;
use crate::users::normalize_email;

/// An invitation to join a tenant. The token itself is never stored, only its hash.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The inviting tenant.
    pub tenant_id: TenantId,
    /// The invited address (lowercased).
    pub email: String,
    /// The role the invitee gets.
    pub role: Role,
    /// After this time (ns) the invitation can no longer be accepted.
    pub expires_at: i64,
    /// When it was accepted, if it was.
    pub accepted_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
}

const COLUMNS: &str = "id, tenant_id, email, role, expires_at, accepted_at, revoked_at, created_at";

impl Invitation {
    fn from_row(row: &AnyRow) -> Result<Invitation> {
        Ok(Invitation {
            id: InvitationId::from_db(decode::text(row, "id")?),
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            email: decode::text(row, "email")?,
            role: decode::named(row, "role", Role::parse)?,
            expires_at: decode::int(row, "expires_at")?,
            accepted_at: decode::int_opt(row, "accepted_at")?,
            revoked_at: decode::int_opt(row, "revoked_at")?,
            created_at: decode::int(row, "created_at")?,
        })
    }
}

impl Store {
    /// Invites `email` to `t` as `role`. `token_hash` is the hash of the secret token sent to
    /// the invitee; `Conflict` if that hash is already in use.
    pub async fn create_invitation(
        &self,
        t: &TenantId,
        email: &str,
        role: Role,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<Invitation> {
        let email = normalize_email(email)?;
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO invitations (id, tenant_id, email, role, token_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        ))
        .bind(InvitationId::new().as_str())
        .bind(t.as_str())
        .bind(&email)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(expires_at)
        .bind(now_ns())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, || "the invitation token is already in use".into()))?;
        let inv = Invitation::from_row(&row)?;
        tx.commit().await?;
        Ok(inv)
    }

    /// Every invitation of `t` (pending, accepted, revoked and expired), oldest first.
    pub async fn invitations(&self, t: &TenantId) -> Result<Vec<Invitation>> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(t.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(Invitation::from_row).collect()
    }

    /// Revokes invitation `id` of `t` (idempotent). `Conflict` when it was already accepted.
    pub async fn revoke_invitation(&self, t: &TenantId, id: &InvitationId) -> Result<()> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(
            "UPDATE invitations SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL RETURNING id",
        )
        .bind(t.as_str())
        .bind(id.as_str())
        .bind(now_ns())
        .fetch_optional(&mut *tx)
        .await?;
        if row.is_none() {
            let exists = sqlx::query("SELECT 1 FROM invitations WHERE tenant_id = $1 AND id = $2")
                .bind(t.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Conflict("the invitation has already been accepted".into())
            } else {
                StoreError::NotFound
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Accepts the invitation whose token hashes to `token_hash` on behalf of `user`: marks
    /// it accepted and adds the membership in one transaction. `NotFound` when no pending,
    /// unexpired invitation has that hash; `Conflict` when the user is already a member
    /// (the invitation then stays pending). Whether `user`'s email must match the invited
    /// address is the caller's policy.
    pub async fn accept_invitation(&self, token_hash: &str, user: &UserId) -> Result<Membership> {
        let now = now_ns();
        let mut tx = self.write(Scope::System).await?;
        let row = sqlx::query(
            "UPDATE invitations SET accepted_at = $2 \
             WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
               AND expires_at > $2 \
             RETURNING tenant_id, role",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let t = TenantId::from_db(decode::text(&row, "tenant_id")?);
        let role = decode::named(&row, "role", Role::parse)?;
        let m = members::insert(&mut tx, &t, user, role).await?;
        tx.commit().await?;
        Ok(m)
    }
}
