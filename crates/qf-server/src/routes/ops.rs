//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document and its page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::problem::Problem;

/// Alive: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database and the object store answer.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let db = app.store.ping().await.map_err(|e| e.to_string());
    let store = crate::catalog::ping(&app.objects)
        .await
        .map_err(|e| e.to_string());
    let status = if db.is_ok() && store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let show = |r: &Result<(), String>| match r {
        Ok(()) => json!("ok"),
        Err(e) => json!(e),
    };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not ready" },
            "database": show(&db),
            "object_store": show(&store),
        })),
    )
        .into_response()
}

/// Prometheus text exposition.
pub async fn metrics(State(app): State<AppState>) -> Result<Response, Problem> {
    let depth = app.store.queue_depth().await?;
    app.metrics.set_jobs_by_state(&depth);
    Ok(app.metrics.response())
}

/// The OpenAPI 3.1 document, generated from the handlers.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
