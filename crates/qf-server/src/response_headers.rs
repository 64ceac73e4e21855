//! Headers every response carries, whatever produced it (handler, extractor, fallback):
//!
//! - `X-Content-Type-Options: nosniff`, so a browser never reads JSON or CSV as HTML;
//! - `Cache-Control: no-store` unless the handler chose otherwise: answers carry tenant data,
//!   and some carry secrets shown once (API keys, session tokens) that no cache may keep;
//! - on HTML without a policy of its own (the run report, whose text is partly the
//!   tenant's), a Content-Security-Policy that allows no script at all, inline styles and
//!   `data:` images only, and sandboxes the page. The docs page sets its own, hash-based one.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy for HTML answers that set none: the report needs inline CSS and SVG and
/// nothing else; `sandbox` without `allow-scripts` stops script even if markup slipped past
/// escaping.
pub const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";

/// The middleware.
pub async fn middleware(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.trim_start().get(..9))
        .is_some_and(|essence| essence.eq_ignore_ascii_case("text/html"));
    if is_html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(REPORT_CSP),
        );
    }
    response
}
