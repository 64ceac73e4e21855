//! Idempotency records: the response to a POST that carried an `Idempotency-Key`, so a
//! retried request gets the same answer instead of creating the work twice.
//!
//! The server flow: `idempotency_get` → if present, replay it (or reject when the request
//! hash differs); otherwise do the work and `idempotency_put` the response. When two
//! identical requests race, the first `put` wins and the loser can read the winner's record.

use serde::Serialize;

use crate::clock::now_ns;
use crate::db::{Scope, Store};
use crate::decode;
use crate::error::Result;
use crate::ids::TenantId;

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

impl Store {
    /// The response stored for `key` under `scope` (e.g. `"POST /v1/backtests"`) in `t`.
    pub async fn idempotency_get(
        &self,
        t: &TenantId,
        key: &str,
        scope: &str,
    ) -> Result<Option<Idem>> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
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
        row.map(|r| {
            Ok(Idem {
                request_hash: decode::text(&r, "request_hash")?,
                status: decode::int32(&r, "status")?,
                body: decode::text(&r, "body")?,
            })
        })
        .transpose()
    }

    /// Stores the response for `key` under `scope` in `t`. Returns `false`, and keeps the
    /// stored record, when the key was already used: the first response wins.
    pub async fn idempotency_put(
        &self,
        t: &TenantId,
        key: &str,
        scope: &str,
        request_hash: &str,
        status: i32,
        body: &str,
    ) -> Result<bool> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, scope, idem_key, request_hash, status, \
                                           body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, scope, idem_key) DO NOTHING",
        )
        .bind(t.as_str())
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(i64::from(status))
        .bind(body)
        .bind(now_ns())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
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
