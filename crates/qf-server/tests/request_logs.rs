//! Every JSON log line written while serving a request carries its request id, and nothing
//! secret is logged.
//!
//! Alone in its own test binary: `tracing` caches per-callsite interest, and a test on
//! another thread registering the same callsites (the request middleware's) while this one
//! installs its subscriber can leave them cached as "never", losing lines at random.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header;
use axum::middleware;
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

use qf_server::config::LogFormat;
use qf_server::problem::Problem;
use qf_server::request_id::RequestId;
use qf_server::{logging, request_id};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn traced_app() -> Router {
    Router::new()
        .route(
            "/v1/runs/{id}",
            get(
                |axum::Extension(id): axum::Extension<RequestId>| async move {
                    tracing::info!(rows = 3, "loading the run");
                    id.0
                },
            ),
        )
        .route(
            "/v1/fail",
            get(|| async { Problem::internal("disk on fire") }),
        )
        .layer(middleware::from_fn(request_id::middleware))
}

async fn send(app: &Router, req: Request) {
    let res = app.clone().oneshot(req).await.unwrap();
    to_bytes(res.into_body(), usize::MAX).await.unwrap();
}

fn get_req(uri: &str) -> Request {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn every_json_log_line_of_a_request_carries_its_id() {
    let buf = Captured::default();
    let writer = buf.clone();
    let sub = logging::subscriber(
        LogFormat::Json,
        tracing_subscriber::EnvFilter::new("info"),
        move || writer.clone(),
    );
    let _guard = tracing::subscriber::set_default(sub);
    let app = traced_app();
    let req = Request::get("/v1/runs/0192?api_key=qfk_secret_in_query")
        .header("x-request-id", "trace-me")
        .header(header::AUTHORIZATION, "Bearer qfk_live_supersecret")
        .body(Body::empty())
        .unwrap();
    send(&app, req).await;
    send(&app, get_req("/v1/fail")).await;
    drop(_guard);

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        !text.contains("supersecret") && !text.contains("secret_in_query"),
        "{text}"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| l["request_id"] == "trace-me")
        .collect();
    assert_eq!(ours.len(), 2, "{text}");
    assert_eq!(ours[0]["message"], "loading the run");
    assert_eq!(ours[0]["rows"], 3);
    assert_eq!(
        ours[0]["route"], "/v1/runs/{id}",
        "the template, not the raw path"
    );
    assert_eq!(ours[0]["method"], "GET");
    let done = ours[1];
    assert_eq!(done["message"], "request finished");
    assert_eq!(done["status"], 200);
    assert_eq!(done["level"], "INFO");
    assert!(done["latency_ms"].as_f64().unwrap() >= 0.0);

    // The failing request: the cause is logged at error with its request id, once.
    let failed: Vec<&Value> = lines.iter().filter(|l| l["route"] == "/v1/fail").collect();
    assert_eq!(failed.len(), 2, "{text}");
    assert_eq!(failed[0]["level"], "ERROR");
    assert_eq!(failed[0]["error"], "disk on fire");
    assert_eq!(failed[0]["request_id"], failed[1]["request_id"]);
    assert_eq!(failed[1]["status"], 500);
    // Every line is one of these requests'.
    assert!(lines.iter().all(|l| l["request_id"].is_string()), "{text}");
}
