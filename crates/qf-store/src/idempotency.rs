//! Idempotency records: the response to a POST that carried an `Idempotency-Key`, so a
//! retried request gets the same answer instead of creating the work twice.
//!
//! The key is reserved atomically before the work starts ([`Store::idempotency_reserve`]):
//! the insert of the reservation row is the one place where concurrent requests with the
//! same new key are told apart, so exactly one of them does the work. The others find the
//! reservation in progress (and wait, or are told to retry) or, once the first finished,
//! its stored response. The winner then records its response
//! ([`Store::idempotency_complete`]) or, when the work failed, gives the key back
//! ([`Store::idempotency_release`]) so that a retry may run it again.
//!
//! A reservation is a row whose `status` is 0 (no HTTP status is 0) and whose body is empty.

use serde::Serialize;

use crate::clock::now_ns;
use crate::db::{Scope, Store};
use crate::decode;
use crate::error::Result;
use crate::ids::TenantId;

/// `status` of a row that is reserved and whose work is still running.
const IN_PROGRESS: i64 = 0;

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Idem {
    /// Hash of the request body the key was first used with.
    pub request_hash: String,
    /// The HTTP status that was returned.
    pub status: i32,
    /// The response body that was returned.
    pub body: String,
}

/// What [`Store::idempotency_reserve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is now reserved for this request: do the work, then complete or release it.
    Reserved,
    /// Another request holds the key and has not answered yet.
    InProgress {
        /// Hash of that request, to tell a retry from a different request.
        request_hash: String,
    },
    /// The key was used and answered: replay this (or refuse a different request).
    Done(Idem),
}

impl Store {
    /// Reserves `key` under `scope` (e.g. `"POST /v1/backtests"`) in `t` for a request
    /// hashing to `request_hash`, unless it is reserved or used already. A reservation older
    /// than `stale_after_ns` is taken over: its holder died without completing or releasing.
    pub async fn idempotency_reserve(
        &self,
        t: &TenantId,
        key: &str,
        scope: &str,
        request_hash: &str,
        stale_after_ns: i64,
    ) -> Result<Reservation> {
        let now = now_ns();
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, scope, idem_key, request_hash, status, \
                                           body, created_at) \
             VALUES ($1, $2, $3, $4, $5, '', $6) \
             ON CONFLICT (tenant_id, scope, idem_key) DO NOTHING",
        )
        .bind(t.as_str())
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(IN_PROGRESS)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            tx.commit().await?;
            return Ok(Reservation::Reserved);
        }
        // Take over an abandoned reservation in the same statement that checks it, so that
        // two requests racing for it cannot both win.
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET request_hash = $4, created_at = $5 \
             WHERE tenant_id = $1 AND scope = $2 AND idem_key = $3 AND status = $6 \
                   AND created_at < $7",
        )
        .bind(t.as_str())
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(IN_PROGRESS)
        .bind(now.saturating_sub(stale_after_ns))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if taken {
            tx.commit().await?;
            return Ok(Reservation::Reserved);
        }
        let row = sqlx::query(
            "SELECT request_hash, status, body FROM idempotency_keys \
             WHERE tenant_id = $1 AND scope = $2 AND idem_key = $3",
        )
        .bind(t.as_str())
        .bind(scope)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(r) = row else {
            // Released between our insert and our read: the caller may simply try again.
            return Ok(Reservation::InProgress {
                request_hash: request_hash.to_string(),
            });
        };
        let request_hash = decode::text(&r, "request_hash")?;
        let status = decode::int(&r, "status")?;
        if status == IN_PROGRESS {
            return Ok(Reservation::InProgress { request_hash });
        }
        Ok(Reservation::Done(Idem {
            request_hash,
            status: decode::int32(&r, "status")?,
            body: decode::text(&r, "body")?,
        }))
    }

    /// Records the response to the request holding the reservation of `key`. Returns
    /// `false`, and changes nothing, when there is no reservation in progress (it was
    /// released, or already completed).
    pub async fn idempotency_complete(
        &self,
        t: &TenantId,
        key: &str,
        scope: &str,
        status: i32,
        body: &str,
    ) -> Result<bool> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let done = sqlx::query(
            "UPDATE idempotency_keys SET status = $4, body = $5 \
             WHERE tenant_id = $1 AND scope = $2 AND idem_key = $3 AND status = $6",
        )
        .bind(t.as_str())
        .bind(scope)
        .bind(key)
        .bind(i64::from(status))
        .bind(body)
        .bind(IN_PROGRESS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives back the reservation of `key` after the work failed, so that the key may be
    /// used again. A completed record is kept.
    pub async fn idempotency_release(&self, t: &TenantId, key: &str, scope: &str) -> Result<()> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        sqlx::query(
            "DELETE FROM idempotency_keys \
             WHERE tenant_id = $1 AND scope = $2 AND idem_key = $3 AND status = $4",
        )
        .bind(t.as_str())
        .bind(scope)
        .bind(key)
        .bind(IN_PROGRESS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes idempotency records created before `before` (ns) in every tenant and returns
    /// how many went; run it periodically (keys are typically honoured for 24 hours).
    pub async fn idempotency_prune(&self, before: i64) -> Result<u64> {
        let mut tx = self.write(Scope::System).await?;
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
