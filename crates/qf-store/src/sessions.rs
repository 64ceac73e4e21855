//! Login sessions: a short-lived access token and a longer-lived refresh token, both stored
//! only as hashes. Rotation replaces both hashes, so a stolen refresh token stops working
//! once its owner refreshes; the replaced refresh hash is kept, so that whoever presents it
//! again (the thief, or the owner after the thief refreshed) is caught and the session —
//! the whole token family — is revoked.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Scope, Store};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{SessionId, TenantId, UserId};
use crate::roles::Role;

/// A login session of a user in one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// The tenant the session acts in.
    pub tenant_id: TenantId,
    /// Who logged in.
    pub user_id: UserId,
    /// The role granted when the session was issued or last rotated.
    pub role: Role,
    /// When the access token expires (ns).
    pub expires_at: i64,
    /// When the refresh token expires (ns).
    pub refresh_expires_at: i64,
    /// When the session was revoked (logout), if it was.
    pub revoked_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, tenant_id, user_id, role, expires_at, refresh_expires_at, revoked_at, created_at";

impl Session {
    fn from_row(row: &AnyRow) -> Result<Session> {
        Ok(Session {
            id: SessionId::from_db(decode::text(row, "id")?),
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            user_id: UserId::from_db(decode::text(row, "user_id")?),
            role: decode::named(row, "role", Role::parse)?,
            expires_at: decode::int(row, "expires_at")?,
            refresh_expires_at: decode::int(row, "refresh_expires_at")?,
            revoked_at: decode::int_opt(row, "revoked_at")?,
            created_at: decode::int(row, "created_at")?,
        })
    }
}

impl Store {
    /// Opens a session of `user` in `t` with `role`. The token hashes must be unique
    /// (`Conflict` otherwise).
    #[allow(clippy::too_many_arguments)] // the contract the server is written against
    pub async fn create_session(
        &self,
        t: &TenantId,
        user: &UserId,
        role: Role,
        token_hash: &str,
        refresh_hash: &str,
        expires_at: i64,
        refresh_expires_at: i64,
    ) -> Result<Session> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO sessions (id, tenant_id, user_id, role, token_hash, refresh_hash, \
                                   expires_at, refresh_expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
        ))
        .bind(SessionId::new().as_str())
        .bind(t.as_str())
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(token_hash)
        .bind(refresh_hash)
        .bind(expires_at)
        .bind(refresh_expires_at)
        .bind(now_ns())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, || "a session with this token hash exists".into()))?;
        let s = Session::from_row(&row)?;
        tx.commit().await?;
        Ok(s)
    }

    /// The session whose access token hashes to `hash`, revoked and expired ones included:
    /// the caller checks `revoked_at` and `expires_at`.
    pub async fn session_by_token(&self, hash: &str) -> Result<Option<Session>> {
        self.session_by("token_hash", hash).await
    }

    /// The session whose refresh token hashes to `hash`, revoked and expired ones included.
    pub async fn session_by_refresh(&self, hash: &str) -> Result<Option<Session>> {
        self.session_by("refresh_hash", hash).await
    }

    async fn session_by(&self, column: &'static str, hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE {column} = $1"
        ))
        .bind(hash)
        .fetch_optional(self.system())
        .await?;
        row.map(|r| Session::from_row(&r)).transpose()
    }

    /// The session that once had the refresh token hashing to `hash` and has since rotated
    /// away from it. A retired refresh token presented again was copied by someone: the
    /// caller revokes the session (the whole token family).
    pub async fn session_by_retired_refresh(&self, hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE id = \
               (SELECT session_id FROM session_retired_refresh WHERE refresh_hash = $1)"
        ))
        .bind(hash)
        .fetch_optional(self.system())
        .await?;
        row.map(|r| Session::from_row(&r)).transpose()
    }

    /// Replaces both token hashes and expiry times of session `id` (a refresh), provided
    /// its refresh token still hashes to `old_refresh_hash`; the old hash is retired, so that
    /// presenting it again is recognised as reuse. `NotFound` when the session does not
    /// exist; `Conflict` when it was revoked (a refresh racing a logout cannot resurrect it),
    /// or when another refresh with the same token won the race — that is reuse too, and
    /// the session is revoked.
    pub async fn rotate_session(
        &self,
        id: &SessionId,
        old_refresh_hash: &str,
        new_token_hash: &str,
        new_refresh_hash: &str,
        expires_at: i64,
        refresh_expires_at: i64,
    ) -> Result<Session> {
        let now = now_ns();
        let mut tx = self.write(Scope::System).await?;
        let row = sqlx::query(&format!(
            "UPDATE sessions SET token_hash = $2, refresh_hash = $3, expires_at = $4, \
                                 refresh_expires_at = $5 \
             WHERE id = $1 AND refresh_hash = $6 AND revoked_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(new_token_hash)
        .bind(new_refresh_hash)
        .bind(expires_at)
        .bind(refresh_expires_at)
        .bind(old_refresh_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| StoreError::unique(e, || "a session with this token hash exists".into()))?;
        let Some(row) = row else {
            let found = sqlx::query("SELECT revoked_at FROM sessions WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(found) = found else {
                return Err(StoreError::NotFound);
            };
            if decode::int_opt(&found, "revoked_at")?.is_some() {
                return Err(StoreError::Conflict("the session has been revoked".into()));
            }
            // The token changed under us: another refresh used it first.
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1")
                .bind(id.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(StoreError::Conflict(
                "the refresh token was already used; the session has been revoked".into(),
            ));
        };
        let s = Session::from_row(&row)?;
        sqlx::query(
            "INSERT INTO session_retired_refresh (refresh_hash, session_id, tenant_id, retired_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (refresh_hash) DO NOTHING",
        )
        .bind(old_refresh_hash)
        .bind(s.id.as_str())
        .bind(s.tenant_id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Revokes session `id` (logout). Idempotent; `NotFound` when it does not exist.
    pub async fn revoke_session(&self, id: &SessionId) -> Result<()> {
        let mut tx = self.write(Scope::System).await?;
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(id.as_str())
                .bind(now_ns())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
