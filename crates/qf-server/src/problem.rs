//! Errors over HTTP as RFC 9457 `application/problem+json`, and the JSON and query extractors
//! whose every rejection is one.
//!
//! A [`Problem`] is `{"type": "https://quantforge.dev/problems/<slug>", "title", "status",
//! "detail", ...extra}`. The slug (`kind`) is stable and documented; clients branch on it,
//! never on `title` or `detail`, which are for people.
//!
//! | slug | status | constructor |
//! | --- | --- | --- |
//! | `not-found` | 404 | [`Problem::not_found`] |
//! | `method-not-allowed` | 405 | [`Problem::method_not_allowed`] |
//! | `unauthorized` | 401 | [`Problem::unauthorized`] (sets `WWW-Authenticate: Bearer`) |
//! | `forbidden` | 403 | [`Problem::forbidden`], [`Problem::missing_scope`] |
//! | `invalid-body` | 400 | [`Problem::invalid_body`] |
//! | `invalid-query` | 400 | [`Problem::invalid_query`] |
//! | `validation` | 422 | [`Problem::validation`], [`Problem::validation_errors`] (`errors: [{field, message}]`) |
//! | `conflict` | 409 | [`Problem::conflict`] |
//! | `payload-too-large` | 413 | [`Problem::payload_too_large`] |
//! | `unsupported-media-type` | 415 | [`Problem::unsupported_media_type`] |
//! | `not-acceptable` | 406 | [`Problem::not_acceptable`] |
//! | `rate-limited` | 429 | [`Problem::rate_limited`] (sets `Retry-After`) |
//! | `idempotency-conflict` | 409 | [`Problem::idempotency_conflict`] |
//! | `idempotency-in-progress` | 409 | [`Problem::idempotency_in_progress`] (sets `Retry-After`) |
//! | `invalid-cursor` | 400 | [`Problem::invalid_cursor`] |
//! | `strategy-invalid` | 422 | [`Problem::strategy_invalid`] (`errors: [{file, line, column, message, hint}]`) |
//! | `too-many-connections` | 503 | written by [`crate::connections`] to a connection over the per-address cap |
//! | `internal` | 500 | [`Problem::internal`] (logs the cause, never sends it) |
//!
//! [`ApiJson`] and [`ApiQuery`] replace axum's `Json` and `Query` so that a bad request body
//! or query string gets a problem that says what is wrong and where; [`problem_fallbacks`]
//! turns the plain-text 405/413 responses axum and tower-http make on their own into
//! problems, and [`not_found_fallback`] is the router's 404.

use std::borrow::Cow;
use std::fmt;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Where problem types are documented; the slug is appended. The same base as the problems
/// a failed run stores ([`qf_jobs::execute::PROBLEM_TYPE_BASE`]).
pub const TYPE_BASE: &str = qf_jobs::execute::PROBLEM_TYPE_BASE;

/// The media type of a problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem: what went wrong with a request, for a program (`kind`) and for a
/// person (`title`, `detail`).
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status, repeated in the body.
    pub status: StatusCode,
    /// The stable slug of the problem type, e.g. `validation`.
    pub kind: &'static str,
    /// A short summary of the problem type; the same for every occurrence.
    pub title: Cow<'static, str>,
    /// What happened this time, and what to do about it.
    pub detail: Option<String>,
    /// Extension members, e.g. `errors` or `field`; merged into the body's top level.
    pub extra: Map<String, Value>,
    /// Headers the problem needs on its response (`WWW-Authenticate`, `Retry-After`). A
    /// list rather than a `HeaderMap` keeps `Result<_, Problem>` small (clippy's
    /// `result_large_err`), and there are rarely more than one.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// One invalid field of a request, for [`Problem::validation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where in the request: a JSON path such as `legs[0].qty`, or a query parameter.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    /// A problem of type `kind` with no detail.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        Problem {
            status,
            kind,
            title: title.into(),
            detail: None,
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// Sets the detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member to the body.
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Sets a response header (replacing one of the same name).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        self
    }

    /// The detail if there is one, else the title: one line for a person (CLI output,
    /// logs of a background task).
    pub fn detail_or_title(&self) -> &str {
        self.detail.as_deref().unwrap_or(&self.title)
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> String {
        format!("{TYPE_BASE}{}", self.kind)
    }

    /// The body, as sent.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), Value::String(self.type_uri()));
        body.insert("title".into(), Value::String(self.title.to_string()));
        body.insert("status".into(), Value::from(self.status.as_u16()));
        if let Some(detail) = &self.detail {
            body.insert("detail".into(), Value::String(detail.clone()));
        }
        for (k, v) in &self.extra {
            // The standard members win: an extension cannot change what the problem is.
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(body)
    }

    /// 404: the thing does not exist, or is not the caller's to see (the detail must not
    /// tell which: "no such run in this tenant").
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found").with_detail(detail)
    }

    /// 405: the path exists but not with `method`; `allow` lists the methods that work
    /// (the router adds `Allow` itself when it makes the 405, so it may be unknown here).
    pub fn method_not_allowed(method: &axum::http::Method, allow: Option<HeaderValue>) -> Self {
        let p = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
        );
        match allow {
            Some(allow) => {
                let methods = allow.to_str().unwrap_or("other methods").to_string();
                p.with_detail(format!("{method} is not allowed here; this resource accepts {methods}"))
                    .with_header(header::ALLOW, allow)
            }
            None => p.with_detail(format!(
                "{method} is not allowed here; the Allow header lists the methods this resource accepts"
            )),
        }
    }

    /// 401: no credentials, or ones that are not valid; sets `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .with_detail(detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403: authenticated, but the role does not allow this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail(detail)
    }

    /// 403: the credential lacks `scope` (named in `required_scope`).
    pub fn missing_scope(scope: &str) -> Self {
        Problem::forbidden(format!("this needs a credential with the {scope:?} scope"))
            .with_extra("required_scope", scope)
    }

    /// 400: the body is not what this operation takes (bad JSON, wrong shape).
    pub fn invalid_body(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "Invalid request body",
        )
        .with_detail(detail)
    }

    /// 400: the query string is not what this operation takes.
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query string",
        )
        .with_detail(detail)
    }

    /// 422: well-formed, but `field` is not acceptable. The body names it in `field` and in
    /// `errors`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Problem::validation_errors(vec![FieldError::new(field.clone(), message)])
            .with_extra("field", field)
    }

    /// 422: well-formed, but some fields are not acceptable; each is listed in `errors`.
    pub fn validation_errors(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let errors = serde_json::to_value(&errors).unwrap_or(Value::Null);
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Validation failed",
        )
        .with_detail(detail)
        .with_extra("errors", errors)
    }

    /// 409: the request conflicts with the resource's current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(detail)
    }

    /// 413: the body is over the limit; say which limit and how large it is.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
        )
        .with_detail(detail)
    }

    /// The 413 for a body cut off by a body-size layer, which does not say its limit.
    fn body_limit_reached() -> Self {
        Problem::payload_too_large(
            "the request body is larger than this operation accepts (limits.json_max_bytes for JSON, limits.upload_max_bytes for uploads)",
        )
    }

    /// 415: the body's `Content-Type` is not `expected`.
    pub fn unsupported_media_type(expected: &str, found: Option<&str>) -> Self {
        let detail = match found {
            Some(found) => format!("expected Content-Type: {expected}, found {found:?}"),
            None => format!("expected Content-Type: {expected}, found no Content-Type header"),
        };
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .with_detail(detail)
    }

    /// 406: the resource exists, but not in any format the request accepts; the detail says
    /// which formats it has and how to ask for one.
    pub fn not_acceptable(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-acceptable",
            "Not acceptable",
        )
        .with_detail(detail)
    }

    /// 429: over the rate limit; sets `Retry-After` to `retry_after_secs` (at least 1).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let secs = retry_after_secs.max(1);
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        )
        .with_detail(format!("rate limit reached; retry in {secs} s"))
        .with_extra("retry_after", secs)
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    }

    /// 409: this `Idempotency-Key` cannot be honoured: it was used with a different
    /// request, or its first request is still being processed (the detail says which).
    pub fn idempotency_conflict(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::CONFLICT,
            "idempotency-conflict",
            "Idempotency key conflict",
        )
        .with_detail(detail)
    }

    /// 409: the first request with this `Idempotency-Key` has not answered yet; retrying
    /// after `Retry-After` seconds gets its answer.
    pub fn idempotency_in_progress(retry_after_secs: u64) -> Self {
        Problem::new(
            StatusCode::CONFLICT,
            "idempotency-in-progress",
            "A request with this Idempotency-Key is in progress",
        )
        .with_detail(
            "the first request with this key has not answered yet; retry in a moment to get \
             its answer",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs))
    }

    /// 400: a pagination cursor that this server did not issue, or that has expired.
    pub fn invalid_cursor(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-cursor", "Invalid cursor")
            .with_detail(detail)
    }

    /// 422: the tenant's strategy does not compile or check; each fault is listed in
    /// `errors` with its file, line and column (1-based; 0 when not tied to one).
    pub fn strategy_invalid(diagnostics: &[qf_sandbox::diag::Diagnostic]) -> Self {
        let errors: Vec<Value> = diagnostics
            .iter()
            .map(|d| {
                let mut e = json!({
                    "file": d.file,
                    "line": d.line,
                    "column": d.col,
                    "message": d.message,
                    "hint": d.help,
                });
                if let (Some(source), Some(obj)) = (&d.source_line, e.as_object_mut()) {
                    obj.insert("source_line".into(), Value::String(source.clone()));
                }
                e
            })
            .collect();
        let detail = match diagnostics {
            [one] if one.line > 0 => {
                format!("{}:{}:{}: {}", one.file, one.line, one.col, one.message)
            }
            [one] => format!("{}: {}", one.file, one.message),
            many => format!("{} problems in the strategy", many.len()),
        };
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "strategy-invalid",
            "Strategy is invalid",
        )
        .with_detail(detail)
        .with_extra("errors", errors)
    }

    /// 500: something failed on our side. `cause` is logged (with the request id of the
    /// current span) and never sent: it may hold SQL, paths or another tenant's data.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail(
            "something went wrong on our side; if it persists, report it with the X-Request-Id of this response",
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl From<anyhow::Error> for Problem {
    /// Anything unexpected is an internal error; its chain is logged, not sent.
    fn from(err: anyhow::Error) -> Self {
        Problem::internal(format!("{err:#}"))
    }
}

/// The body with its members in the RFC's order (type, title, status, detail, then the
/// extensions), for people reading it with curl.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl Problem {
    fn to_json(&self) -> String {
        let mut extra = self.extra.clone();
        for standard in ["type", "title", "status", "detail"] {
            extra.remove(standard);
        }
        let wire = Wire {
            type_uri: self.type_uri(),
            title: &self.title,
            status: self.status.as_u16(),
            detail: self.detail.as_deref(),
            extra,
        };
        // A struct of strings, numbers and JSON values always serializes; the fallback
        // keeps the member order aside, not the content.
        serde_json::to_string(&wire).unwrap_or_else(|_| self.body().to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.to_json();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<JsonRejection> for Problem {
    /// For handlers that use axum's own `Json`: the same statuses, as problems.
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Validation failed",
            )
            .with_detail(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => Problem::invalid_body(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                Problem::unsupported_media_type("application/json", None)
            }
            JsonRejection::BytesRejection(e) => body_rejection(e.status(), e.body_text()),
            other => body_rejection(other.status(), other.body_text()),
        }
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        // axum's text already names the parameter: "Failed to deserialize query string:
        // limit: invalid digit found in string".
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Problem::invalid_query(detail.to_string())
    }
}

/// A body that could not be read: too large, or cut off.
fn body_rejection(status: StatusCode, text: String) -> Problem {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::body_limit_reached()
    } else if status.is_server_error() {
        Problem::internal(text)
    } else {
        Problem::invalid_body(text)
    }
}

/// A JSON body, read and written.
///
/// As an extractor it takes `Content-Type: application/json` (or any `+json` type) and turns
/// every failure into a problem: 415 for the content type, 413 over the body limit, 400
/// `invalid-body` for malformed JSON (with line and column), 422 `validation` for JSON of
/// the wrong shape (with the field path, line and column). As a response it is
/// `200 application/json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_rejection(e.status(), e.body_text()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => Problem::internal(format!("serializing a response: {e}")).into_response(),
        }
    }
}

/// For handlers that take the body as `Bytes` (to keep it, hash it, or read it twice): the
/// same checks and problems as [`ApiJson`].
pub fn parse_json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    check_json_content_type(headers)?;
    parse_json(body)
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Problem::unsupported_media_type("application/json", None));
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ok = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if ok {
        Ok(())
    } else {
        Err(Problem::unsupported_media_type(
            "application/json",
            Some(text),
        ))
    }
}

/// Parses a JSON body into `T`, describing a failure by what and where.
///
/// Text may not hold U+0000 anywhere (PostgreSQL cannot store it, and no name, email or
/// source needs it): a string or key with `\u0000` is a 422 naming its field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    // JSON can only carry NUL escaped (a raw control byte is a syntax error), so the bytes
    // are scanned for the escape first and only a body that has it is walked.
    if bytes.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<Value>(bytes)
        && let Some(field) = nul_field(&value, "")
    {
        return Err(nul_problem(&field));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_problem)?;
    // Trailing characters after the value.
    de.end().map_err(|e| {
        Problem::invalid_body(format!(
            "invalid JSON at line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ))
    })?;
    Ok(value)
}

/// The path (`a.b[2]`, as serde_path_to_error writes it) of the first string or key in
/// `value` that holds U+0000.
fn nul_field(value: &Value, path: &str) -> Option<String> {
    let at = |p: &str| {
        if p.is_empty() {
            ".".to_string()
        } else {
            p.to_string()
        }
    };
    match value {
        Value::String(text) => text.contains('\0').then(|| at(path)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_field(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let child = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(at(path))
            } else {
                nul_field(v, &child)
            }
        }),
        _ => None,
    }
}

/// 422 for text holding U+0000 in `field` (a body path or a query parameter).
fn nul_problem(field: &str) -> Problem {
    let message = "must not contain the NUL character (U+0000)";
    let mut p = Problem::validation_errors(vec![FieldError::new(field, message)]);
    p.detail = Some(format!("{field}: {message}"));
    p.with_extra("field", field)
}

/// The name of the first query parameter whose name or value holds an encoded U+0000.
fn nul_query_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let has_nul = |s: &str| s.contains("%00");
        if has_nul(name) {
            Some("query string".to_string())
        } else if has_nul(value) {
            Some(name.replace('+', " "))
        } else {
            None
        }
    })
}

fn json_problem(err: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    use serde_json::error::Category;
    let inner = err.inner();
    let (line, column) = (inner.line(), inner.column());
    let message = strip_position(&inner.to_string());
    match inner.classify() {
        Category::Eof if line == 1 && column == 0 => {
            Problem::invalid_body("the body is empty; expected a JSON document")
        }
        Category::Syntax | Category::Eof | Category::Io => Problem::invalid_body(format!(
            "invalid JSON at line {line}, column {column}: {message}"
        )),
        Category::Data => {
            let mut field = err.path().to_string();
            // A missing field is reported at its parent; name the field itself.
            if let Some(name) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                field = if field == "." {
                    name.to_string()
                } else {
                    format!("{field}.{name}")
                };
            }
            let field = if field == "." { String::new() } else { field };
            let mut p =
                Problem::validation_errors(vec![FieldError::new(field.clone(), message.clone())]);
            let at = if field.is_empty() {
                "the body".to_string()
            } else {
                field.clone()
            };
            p.detail = Some(format!("{at}: {message} (line {line}, column {column})"));
            if !field.is_empty() {
                p = p.with_extra("field", field);
            }
            p
        }
    }
}

/// serde_json appends " at line L column C"; the problem says where in its own words.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A query string, deserialized into `T`; a failure is a 400 `invalid-query` problem naming
/// the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(field) = parts.uri.query().and_then(nul_query_param) {
            return Err(nul_problem(&field));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(Problem::from)
    }
}

/// Middleware that turns the plain-text errors made below the handlers into problems: 413
/// from `DefaultBodyLimit` or tower-http's `RequestBodyLimit`, 405 from the router (keeping
/// `Allow`). Responses that already are problems, or have a body of their own kind, pass.
pub async fn problem_fallbacks(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let response = next.run(req).await;
    let status = response.status();
    if status != StatusCode::PAYLOAD_TOO_LARGE && status != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let is_problem_or_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if is_problem_or_json {
        return response;
    }
    let problem = if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::body_limit_reached()
    } else {
        Problem::method_not_allowed(&method, response.headers().get(header::ALLOW).cloned())
    };
    let mut out = problem.into_response();
    // Keep what outer layers or the handler put on the response (request id, rate limits).
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut()
                .entry(name)
                .or_insert_with(|| value.clone());
        }
    }
    out
}

/// The router's fallback: a 404 problem for a path no route matches.
pub async fn not_found_fallback(uri: axum::http::Uri) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
        .with_detail(format!("no operation at {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_rfc_9457_members_and_extensions() {
        let p = Problem::validation("qty", "must be positive");
        assert_eq!(
            p.body(),
            json!({
                "type": "https://quantforge.dev/problems/validation",
                "title": "Validation failed",
                "status": 422,
                "detail": "qty: must be positive",
                "field": "qty",
                "errors": [{"field": "qty", "message": "must be positive"}],
            })
        );
        let p =
            Problem::validation_errors(vec![FieldError::new("a", "x"), FieldError::new("b", "y")]);
        assert_eq!(p.detail.as_deref(), Some("2 fields are invalid"));
        assert_eq!(p.body()["errors"][1]["field"], "b");
        // An extension cannot overwrite a standard member.
        let p = Problem::conflict("x").with_extra("status", 200);
        assert_eq!(p.body()["status"], 409);
        // On the wire the standard members come first, in the RFC's order.
        let p = Problem::validation("qty", "must be positive").with_extra("title", "no");
        assert_eq!(
            p.to_json(),
            r#"{"type":"https://quantforge.dev/problems/validation","title":"Validation failed","status":422,"detail":"qty: must be positive","errors":[{"field":"qty","message":"must be positive"}],"field":"qty"}"#
        );
    }

    #[test]
    fn results_with_a_problem_stay_small() {
        // clippy's result_large_err fires at 128 bytes, in every handler of the crate.
        assert!(
            std::mem::size_of::<Problem>() < 128,
            "{}",
            std::mem::size_of::<Problem>()
        );
    }

    #[test]
    fn missing_field_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Leg {
            qty: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Order {
            legs: Vec<Leg>,
        }
        let p = parse_json::<Order>(br#"{"legs": [{"qty": 1}, {}]}"#).unwrap_err();
        assert_eq!(p.kind, "validation");
        assert_eq!(p.body()["errors"][0]["field"], "legs[1].qty");
        let p = parse_json::<Order>(b"{}").unwrap_err();
        assert_eq!(p.body()["field"], "legs");
        let p = parse_json::<Order>(br#"{"legs": []} x"#).unwrap_err();
        assert_eq!(p.kind, "invalid-body");
        assert!(p.detail.unwrap().contains("trailing characters"));
    }

    #[test]
    fn nul_in_text_is_a_422_naming_the_field() {
        let p = parse_json::<Value>(br#"{"email": "a\u0000@b.test"}"#).unwrap_err();
        assert_eq!((p.status.as_u16(), p.kind), (422, "validation"));
        assert_eq!(p.body()["field"], "email");
        let p = parse_json::<Value>(br#"{"legs": [{"n": "x"}, {"n": "\u0000"}]}"#).unwrap_err();
        assert_eq!(p.body()["field"], "legs[1].n");
        let p = parse_json::<Value>(br#"{"params": {"a\u0000": 1}}"#).unwrap_err();
        assert_eq!(p.body()["field"], "params");
        // An escaped backslash followed by "u0000" is not a NUL.
        assert!(parse_json::<Value>(br#"{"s": "\\u0000"}"#).is_ok());
        assert_eq!(
            nul_query_param("limit=2&name=a%00b").as_deref(),
            Some("name")
        );
        assert_eq!(nul_query_param("limit=2&name=a%20b"), None);
    }

    #[test]
    fn strategy_invalid_lists_locations() {
        let d = qf_sandbox::diag::Diagnostic::at(
            "s.py",
            "x = 1\ny = z\n",
            2,
            5,
            "name 'z' is not defined",
        )
        .with_help("define z before using it");
        let p = Problem::strategy_invalid(&[d]);
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            p.detail.as_deref(),
            Some("s.py:2:5: name 'z' is not defined")
        );
        assert_eq!(
            p.body()["errors"][0],
            json!({"file": "s.py", "line": 2, "column": 5, "message": "name 'z' is not defined",
                   "hint": "define z before using it", "source_line": "y = z"})
        );
    }
}
