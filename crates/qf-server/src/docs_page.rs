//! `GET /v1/docs`: the API reference as one self-contained page.
//!
//! The page (`docs_page.html`, compiled in) has no external assets, so it works offline and
//! behind any firewall. Its script fetches `openapi.json` next to it (`/v1/openapi.json`)
//! and renders every operation grouped by tag, with parameters, request body schema and
//! responses, and a "Try it" form per operation that sends the request with the bearer
//! token entered at the top (kept in `sessionStorage`, so it is gone with the tab) and shows
//! the status, headers and body.
//!
//! The response carries a strict Content-Security-Policy: the inline script and style are
//! allowed by their SHA-256 hashes, and the page may connect only to its own origin.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The page.
pub const PAGE: &str = include_str!("docs_page.html");

/// The handler: `.route("/v1/docs", get(docs_page::handler))`.
pub async fn handler() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp().clone()),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE,
    )
        .into_response()
}

/// The policy, built once from the page's inline script and style.
fn csp() -> &'static HeaderValue {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    CSP.get_or_init(|| {
        let policy = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash_of(inline(PAGE, "script")),
            hash_of(inline(PAGE, "style")),
        );
        // Hashes are base64 and the rest is ASCII, so the value is always valid; fall back
        // to forbidding everything rather than panicking if that ever changes.
        HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
    })
}

/// The text between `<tag>` and `</tag>`, as the browser hashes it.
fn inline<'a>(html: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    html.find(&open)
        .map(|i| &html[i + open.len()..])
        .and_then(|rest| rest.find(&close).map(|j| &rest[..j]))
        .unwrap_or_default()
}

fn hash_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained_and_modest() {
        assert!(PAGE.len() < 40 * 1024, "{} bytes", PAGE.len());
        // No CDN, no external asset of any kind.
        for needle in ["http://", "https://", "src=", "href=", "@import", "url("] {
            assert!(!PAGE.contains(needle), "page refers to {needle}");
        }
        assert!(PAGE.contains("/openapi.json"));
        assert!(PAGE.contains("sessionStorage"));
        // One inline script and one inline style, both covered by the policy.
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert_eq!(PAGE.matches("<style>").count(), 1);
        assert!(!inline(PAGE, "script").is_empty());
        let csp = csp().to_str().unwrap();
        assert!(csp.contains(&hash_of(inline(PAGE, "script"))), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        // Inline style attributes would be refused by the policy.
        assert!(!PAGE.contains(" style="));
    }
}
