//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document and its page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::problem::Problem;

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "{\"status\": \"ok\"}")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database and the object store answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "both reachable"), (status = 503, description = "one is not; the body says which")))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    let db = app.store.ping().await.map_err(|e| e.to_string());
    let store = qf_jobs::catalog::ping(&app.objects)
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

/// Prometheus text exposition: requests by route and status, latency histograms, jobs by
/// state, queue depth, job durations.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, content_type = "application/openmetrics-text")))]
pub async fn metrics(State(app): State<AppState>) -> Result<Response, Problem> {
    let depth = app.store.queue_depth().await?;
    app.metrics.set_jobs_by_state(&depth);
    Ok(app.metrics.response())
}

/// The OpenAPI 3.1 document, generated from the handlers.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", security(()),
    responses((status = 200, content_type = "application/json")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

/// The interactive documentation page over this document (served by
/// [`crate::docs_page::handler`]; declared here for the OpenAPI document).
#[utoipa::path(get, path = "/v1/docs", tag = "operations", security(()),
    responses((status = 200, content_type = "text/html")))]
#[allow(dead_code)]
async fn docs() {}
