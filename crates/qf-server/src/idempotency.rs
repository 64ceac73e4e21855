//! `Idempotency-Key` on POSTs that create work: a retried request with the same key and
//! the same body gets the first response again instead of creating a second object; the
//! same key with a different body is refused.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::Problem;

/// The header's name.
pub const HEADER: &str = "idempotency-key";

/// A request that carried an `Idempotency-Key`, remembered after it succeeds.
pub struct Idempotent {
    key: String,
    scope: &'static str,
    hash: String,
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

/// Reads the request's key, if any, and checks it: `Ok(Err(response))` is the stored answer to
/// replay; `Ok(Ok(Some(_)))` means go on and call [`remember`] with the result.
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
    if let Some(found) = app.store.idempotency_get(&p.tenant, &key, scope).await? {
        if found.request_hash != request_hash {
            return Err(Problem::idempotency_conflict(
                "this Idempotency-Key was used with a different request; use a new key",
            ));
        }
        let status = u16::try_from(found.status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let body: serde_json::Value = serde_json::from_str(&found.body)
            .map_err(|e| Problem::internal(format!("stored idempotent response: {e}")))?;
        let mut resp = (status, Json(body)).into_response();
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(Err(resp));
    }
    Ok(Ok(Some(Idempotent {
        key,
        scope,
        hash: request_hash,
    })))
}

/// Stores a successful creation's response under the request's key.
pub async fn remember(
    app: &AppState,
    p: &Principal,
    idem: Option<Idempotent>,
    status: StatusCode,
    body: &impl serde::Serialize,
) -> Result<(), Problem> {
    if let Some(i) = idem {
        let text = serde_json::to_string(body).map_err(|e| Problem::internal(e.to_string()))?;
        app.store
            .idempotency_put(
                &p.tenant,
                &i.key,
                i.scope,
                &i.hash,
                i32::from(status.as_u16()),
                &text,
            )
            .await?;
    }
    Ok(())
}
