//! The cross-cutting edges of the API (problems, request ids and logs, metrics, rate limits,
//! the docs page) driven through small routers, as a client sees them.

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tower::ServiceExt;

use qf_server::metrics::Metrics;
use qf_server::problem::{ApiJson, ApiQuery, Problem, not_found_fallback, problem_fallbacks};
use qf_server::rate_limit::{RateKey, RateLimiter};
use qf_server::request_id::RequestId;
use qf_server::{docs_page, metrics, rate_limit, request_id};

async fn send(app: &Router, req: Request) -> (StatusCode, HeaderMap, Bytes) {
    let res = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, bytes)
}

fn json_of(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn post_json(uri: &str, body: &str) -> Request {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get_req(uri: &str) -> Request {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Order {
    symbol: String,
    legs: Vec<Leg>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Leg {
    qty: u32,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Page {
    limit: u32,
}

fn problem_app() -> Router {
    Router::new()
        .route(
            "/orders",
            post(|ApiJson(o): ApiJson<Order>| async move { ApiJson(o) }),
        )
        .route(
            "/raw",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/items",
            get(|ApiQuery(p): ApiQuery<Page>| async move { p.limit.to_string() }),
        )
        .route(
            "/private",
            get(|| async { Problem::unauthorized("send a bearer token") }),
        )
        .route("/slow", get(|| async { Problem::rate_limited(0) }))
        .route(
            "/boom",
            get(|| async { Problem::internal("SELECT * FROM secrets failed at /var/lib/qf") }),
        )
        .fallback(not_found_fallback)
        .layer(DefaultBodyLimit::max(64))
        .layer(middleware::from_fn(problem_fallbacks))
}

fn assert_problem(status: StatusCode, headers: &HeaderMap, body: &Bytes, slug: &str) -> Value {
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{}",
        String::from_utf8_lossy(body)
    );
    let v = json_of(body);
    assert_eq!(
        v["type"],
        format!("https://quantforge.dev/problems/{slug}"),
        "{v}"
    );
    assert_eq!(v["status"], status.as_u16(), "{v}");
    assert!(v["title"].is_string(), "{v}");
    v
}

#[tokio::test]
async fn json_bodies_round_trip() {
    let app = problem_app();
    let (status, headers, body) = send(
        &app,
        post_json("/orders", r#"{"symbol":"ES","legs":[{"qty":2}]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        json_of(&body),
        json!({"symbol": "ES", "legs": [{"qty": 2}]})
    );
    // A +json media type with parameters is JSON too.
    let mut req = post_json("/orders", r#"{"symbol":"ES","legs":[]}"#);
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/vnd.qf+json; charset=utf-8".parse().unwrap(),
    );
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_json_rejection_is_a_problem_saying_what_and_where() {
    let app = problem_app();

    // Malformed JSON: where it broke.
    let (s, h, b) = send(
        &app,
        post_json("/orders", "{\"symbol\": \"ES\",\n \"legs\": [}"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v = assert_problem(s, &h, &b, "invalid-body");
    assert_eq!(
        v["detail"], "invalid JSON at line 2, column 11: expected value",
        "{v}"
    );

    // Wrong type, deep inside: the field path.
    let (s, h, b) = send(
        &app,
        post_json("/orders", r#"{"symbol":"ES","legs":[{"qty":"two"}]}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let v = assert_problem(s, &h, &b, "validation");
    assert_eq!(v["field"], "legs[0].qty", "{v}");
    assert_eq!(v["errors"][0]["field"], "legs[0].qty");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("legs[0].qty: invalid type: string \"two\", expected u32"),
        "{detail}"
    );
    assert!(detail.ends_with("(line 1, column 35)"), "{detail}");

    // Unknown field.
    let (s, h, b) = send(
        &app,
        post_json("/orders", r#"{"symbol":"ES","legs":[],"side":"buy"}"#),
    )
    .await;
    let v = assert_problem(s, &h, &b, "validation");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `side`"),
        "{v}"
    );

    // Missing field: named, not its parent.
    let (s, h, b) = send(&app, post_json("/orders", r#"{"legs":[]}"#)).await;
    let v = assert_problem(s, &h, &b, "validation");
    assert_eq!(v["field"], "symbol", "{v}");

    // Empty body.
    let (s, h, b) = send(&app, post_json("/orders", "")).await;
    let v = assert_problem(s, &h, &b, "invalid-body");
    assert_eq!(v["detail"], "the body is empty; expected a JSON document");

    // No or wrong content type.
    let req = Request::post("/orders").body(Body::from("{}")).unwrap();
    let (s, h, b) = send(&app, req).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let v = assert_problem(s, &h, &b, "unsupported-media-type");
    assert_eq!(
        v["detail"],
        "expected Content-Type: application/json, found no Content-Type header"
    );
    let req = Request::post("/orders")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let (s, h, b) = send(&app, req).await;
    let v = assert_problem(s, &h, &b, "unsupported-media-type");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .ends_with("found \"text/plain\""),
        "{v}"
    );

    // Over DefaultBodyLimit (64 bytes here).
    let big = format!(r#"{{"symbol":"{}","legs":[]}}"#, "X".repeat(100));
    let (s, h, b) = send(&app, post_json("/orders", &big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_problem(s, &h, &b, "payload-too-large");
}

#[tokio::test]
async fn plain_text_errors_from_below_the_handlers_become_problems() {
    let app = problem_app();
    // axum's own 413 for an extractor other than ApiJson.
    let req = Request::post("/raw")
        .body(Body::from(vec![b'x'; 100]))
        .unwrap();
    let (s, h, b) = send(&app, req).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_problem(s, &h, &b, "payload-too-large");

    // The router's 405 keeps Allow.
    let (s, h, b) = send(&app, get_req("/orders")).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let v = assert_problem(s, &h, &b, "method-not-allowed");
    assert_eq!(h[header::ALLOW], "POST");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("GET is not allowed here"),
        "{v}"
    );

    // The fallback's 404.
    let (s, h, b) = send(&app, get_req("/nowhere?token=abc")).await;
    let v = assert_problem(s, &h, &b, "not-found");
    assert_eq!(v["detail"], "no operation at /nowhere");
}

#[tokio::test]
async fn query_problems_name_the_parameter() {
    let app = problem_app();
    assert_eq!(send(&app, get_req("/items?limit=5")).await.2, "5");
    let (s, h, b) = send(&app, get_req("/items?limit=lots")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v = assert_problem(s, &h, &b, "invalid-query");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("limit: invalid digit"),
        "{v}"
    );
    let (s, h, b) = send(&app, get_req("/items")).await;
    let v = assert_problem(s, &h, &b, "invalid-query");
    assert_eq!(v["detail"], "missing field `limit`");
}

#[tokio::test]
async fn problem_headers_and_internal_errors() {
    let app = problem_app();
    let (s, h, b) = send(&app, get_req("/private")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_problem(s, &h, &b, "unauthorized");
    assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer");

    let (s, h, b) = send(&app, get_req("/slow")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_problem(s, &h, &b, "rate-limited");
    assert_eq!(
        h[header::RETRY_AFTER],
        "1",
        "Retry-After is at least one second"
    );

    let (s, h, b) = send(&app, get_req("/boom")).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let v = assert_problem(s, &h, &b, "internal");
    let text = v.to_string();
    assert!(
        !text.contains("SELECT") && !text.contains("/var/lib"),
        "{text}"
    );
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

#[tokio::test]
async fn request_ids_are_taken_or_made_and_echoed() {
    let app = traced_app();
    let req = Request::get("/v1/runs/7")
        .header("x-request-id", "edge-42:a.b_c")
        .body(Body::empty())
        .unwrap();
    let (s, h, b) = send(&app, req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["x-request-id"], "edge-42:a.b_c");
    assert_eq!(b, "edge-42:a.b_c", "the handler sees the same id");

    let req = Request::get("/v1/runs/7")
        .header("x-request-id", "bad id with spaces")
        .body(Body::empty())
        .unwrap();
    let (_, h, b) = send(&app, req).await;
    let id = h["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(b, id);

    let (_, h1, _) = send(&app, get_req("/v1/runs/7")).await;
    let (_, h2, _) = send(&app, get_req("/v1/runs/7")).await;
    assert_ne!(h1["x-request-id"], h2["x-request-id"]);
}

#[tokio::test]
async fn metrics_label_routes_by_template() {
    let m = Metrics::new();
    let app = Router::new()
        .route("/v1/runs/{id}", get(|| async { "ok" }))
        .route(
            "/metrics",
            get({
                let m = m.clone();
                move || async move { m.response() }
            }),
        )
        .fallback(not_found_fallback)
        .layer(middleware::from_fn_with_state(
            m.clone(),
            metrics::middleware,
        ));
    for id in ["a", "b", "c"] {
        send(&app, get_req(&format!("/v1/runs/{id}"))).await;
    }
    send(&app, get_req("/no/such/path")).await;
    let (s, h, b) = send(&app, get_req("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], metrics::CONTENT_TYPE);
    let text = String::from_utf8(b.to_vec()).unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/v1/runs/{id}",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="<unmatched>",status="404"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/v1/runs/a") && !text.contains("/no/such"),
        "{text}"
    );
    assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.0005",method="GET",route="/v1/runs/{id}"}"#)
        || text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/v1/runs/{id}",le="0.0005"}"#), "{text}");
}

/// Stands in for the auth layer: `x-principal` becomes the RateKey.
async fn fake_auth(mut req: Request, next: Next) -> Response {
    if let Some(p) = req
        .headers()
        .get("x-principal")
        .and_then(|v| v.to_str().ok())
    {
        let key = RateKey(format!("key:{p}"));
        req.extensions_mut().insert(key);
    }
    next.run(req).await
}

fn limited_app(limiter: RateLimiter) -> Router {
    Router::new()
        .route("/v1/things", get(|| async { "ok" }))
        .layer(middleware::from_fn_with_state(
            limiter,
            rate_limit::middleware,
        ))
        .layer(middleware::from_fn(fake_auth))
}

fn as_principal(p: &str) -> Request {
    Request::get("/v1/things")
        .header("x-principal", p)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn rate_limits_per_principal_with_headers() {
    let app = limited_app(RateLimiter::new(1, 2));
    let (s, h, _) = send(&app, as_principal("alice")).await;
    assert_eq!(s, StatusCode::OK);
    // The quota is the rate (1 per second); the burst of 2 is in the policy.
    assert_eq!(
        (
            &h["ratelimit-limit"],
            &h["ratelimit-remaining"],
            &h["ratelimit-reset"],
            &h["ratelimit-policy"]
        ),
        (
            &"1".parse().unwrap(),
            &"1".parse().unwrap(),
            &"1".parse().unwrap(),
            &"1;w=1;burst=2".parse().unwrap()
        )
    );
    let (s, h, _) = send(&app, as_principal("alice")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["ratelimit-remaining"], "0");
    assert_eq!(h["ratelimit-reset"], "2");

    let (s, h, b) = send(&app, as_principal("alice")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let v = assert_problem(s, &h, &b, "rate-limited");
    let retry: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
    assert_eq!(v["retry_after"], retry);
    assert_eq!(h["ratelimit-remaining"], "0");

    // Another principal has its own bucket.
    let (s, h, _) = send(&app, as_principal("bob")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["ratelimit-remaining"], "1");
}

#[tokio::test]
async fn anonymous_requests_are_limited_by_client_address() {
    let app = limited_app(RateLimiter::new(1, 1));
    let from = |ip: &str| {
        let mut req = get_req("/v1/things");
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    };
    assert_eq!(send(&app, from("10.0.0.1")).await.0, StatusCode::OK);
    assert_eq!(
        send(&app, from("10.0.0.1")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(send(&app, from("10.0.0.2")).await.0, StatusCode::OK);
    // A principal is not limited by its address's bucket.
    let mut req = from("10.0.0.1");
    req.headers_mut()
        .insert("x-principal", "carol".parse().unwrap());
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn docs_page_is_served_with_a_strict_policy() {
    let app = Router::new().route("/v1/docs", get(docs_page::handler));
    let (s, h, b) = send(
        &app,
        Request::builder()
            .method(Method::GET)
            .uri("/v1/docs")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{csp}"
    );
    assert_eq!(b, docs_page::PAGE);
}
