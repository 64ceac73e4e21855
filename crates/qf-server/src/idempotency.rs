//! `Idempotency-Key` on POSTs that create work: a retried request with the same key and
//! the same body gets the first response again instead of creating a second object; the
//! same key with a different body is refused.
//!
//! The key is reserved in the database before any work starts, so that of several
//! concurrent requests with one new key exactly one does the work. The others wait for its
//! answer (up to [`WAIT`]) and replay it, or are refused with `409 idempotency-conflict`
//! when their body differs; past the wait they get `409 idempotency-in-progress`
//! with `Retry-After`, as the IETF Idempotency-Key draft prescribes for a request still in
//! flight. When the work fails — or the request is dropped half-way — the reservation is
//! released, so a retry with the same key runs it again.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use qf_store::{Idem, Reservation, Store, TenantId};

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::Problem;

/// The header's name.
pub const HEADER: &str = "idempotency-key";

/// How long a request waits for a concurrent request with its key to answer.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often a waiting request looks again.
const POLL: Duration = Duration::from_millis(20);

/// A reservation older than this is taken over: its holder died without answering. Far
/// longer than any creation takes (the largest, an upload, is bounded by its size).
const STALE_AFTER_NS: i64 = 15 * 60 * 1_000_000_000;

/// A request that holds the reservation of its `Idempotency-Key`. Pass it to [`remember`]
/// with the answer; dropped without that (an error, or the client went away), it gives the
/// key back.
pub struct Idempotent {
    store: Store,
    tenant: TenantId,
    key: String,
    scope: &'static str,
    done: bool,
}

impl Drop for Idempotent {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (store, tenant, key, scope) = (
            self.store.clone(),
            self.tenant.clone(),
            std::mem::take(&mut self.key),
            self.scope,
        );
        // Drop cannot wait; the release runs on its own. Should it fail, the reservation
        // goes stale and is taken over after STALE_AFTER_NS.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.idempotency_release(&tenant, &key, scope).await {
                    tracing::warn!(error = %e, "cannot release an idempotency key");
                }
            });
        }
    }
}

/// The hex SHA-256 of a request's identifying bytes.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    crate::auth::hex(&h.finalize())
}

/// Reads the request's key, if any, and reserves it: `Ok(Err(response))` is the stored
/// answer to replay; `Ok(Ok(Some(_)))` means go on and call [`remember`] with the result.
pub async fn begin(
    app: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    scope: &'static str,
    request_hash: String,
) -> Result<Result<Option<Idempotent>, Response>, Problem> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(Ok(None));
    };
    let key = v
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            Problem::validation(
                "Idempotency-Key",
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            )
        })?
        .to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = app
            .store
            .idempotency_reserve(&p.tenant, &key, scope, &request_hash, STALE_AFTER_NS)
            .await?;
        match found {
            Reservation::Reserved => {
                return Ok(Ok(Some(Idempotent {
                    store: app.store.clone(),
                    tenant: p.tenant.clone(),
                    key,
                    scope,
                    done: false,
                })));
            }
            Reservation::Done(found) => {
                if found.request_hash != request_hash {
                    return Err(different_request());
                }
                return replay(&found).map(Err);
            }
            // Held by another request, with this body or another: wait for its outcome. It
            // may answer (replayed, or 409 for a different body) or fail and give the key
            // back (then this request runs).
            Reservation::InProgress { .. } => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Problem::idempotency_in_progress(1));
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

fn different_request() -> Problem {
    Problem::idempotency_conflict(
        "this Idempotency-Key was used with a different request; use a new key",
    )
}

fn replay(found: &Idem) -> Result<Response, Problem> {
    let status = u16::try_from(found.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&found.body)
        .map_err(|e| Problem::internal(format!("stored idempotent response: {e}")))?;
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(resp)
}

/// Stores a successful creation's response under the request's key.
pub async fn remember(
    app: &AppState,
    p: &Principal,
    idem: Option<Idempotent>,
    status: StatusCode,
    body: &impl serde::Serialize,
) -> Result<(), Problem> {
    if let Some(mut i) = idem {
        let text = serde_json::to_string(body).map_err(|e| Problem::internal(e.to_string()))?;
        app.store
            .idempotency_complete(
                &p.tenant,
                &i.key,
                i.scope,
                i32::from(status.as_u16()),
                &text,
            )
            .await?;
        i.done = true;
    }
    Ok(())
}
