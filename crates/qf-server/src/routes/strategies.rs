//! Strategies: built-ins by name, or tenant code (Python subset, rules) saved as immutable
//! versions after the same checks as `qf strategy check`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use qf_jobs::execute::{StrategyInfo, check_compiles, compile_strategy};
use qf_store::{Strategy, StrategyId, StrategySummary};

use crate::app::AppState;
use crate::auth::{Principal, Scope};
use crate::idempotency;
use crate::problem::{ApiJson, ApiQuery, Problem};
use crate::routes::tenant::check_name;
use crate::routes::{ListQuery, Listed};
use qf_sandbox::pool::Pool;

/// Largest strategy source accepted, in bytes.
const MAX_SOURCE: usize = 256 * 1024;

/// `POST /v1/strategies` and `POST /v1/strategies/validate` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStrategy {
    /// A name unique in the tenant.
    pub name: String,
    /// `python`, `rules` or `builtin`.
    pub kind: String,
    /// The code (Python, or rules as TOML or YAML); for `builtin`, the built-in's name
    /// (`qf strategy list`).
    pub source: String,
}

/// `POST /v1/strategies/{id}/versions` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    /// The new code.
    pub source: String,
}

/// A declared strategy parameter (its name is its key in `params`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParamSpec {
    /// The value when a run does not give one.
    pub default: f64,
    /// The smallest allowed value; `null` when unbounded.
    pub min: Option<f64>,
    /// The largest allowed value; `null` when unbounded.
    pub max: Option<f64>,
    /// Whether only whole numbers are allowed.
    pub integer: bool,
    /// What it means.
    pub help: String,
}

/// Declared parameters by name.
pub type ParamSpecs = BTreeMap<String, ParamSpec>;

/// Parameters as [`StrategyInfo`] declares them and the store keeps them, a list of
/// `{name, default, min, max, integer, help}` in declaration order (or already keyed by
/// name), keyed by name for the API. Another shape is a fault of ours: a 500, logged.
fn param_specs(stored: &serde_json::Value) -> Result<ParamSpecs, Problem> {
    #[derive(Deserialize)]
    struct Named {
        name: String,
        #[serde(flatten)]
        spec: ParamSpec,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        List(Vec<Named>),
        ByName(ParamSpecs),
    }
    match serde_json::from_value(stored.clone()) {
        Ok(Stored::List(list)) => Ok(list.into_iter().map(|n| (n.name, n.spec)).collect()),
        Ok(Stored::ByName(specs)) => Ok(specs),
        Err(e) => Err(Problem::internal(format!(
            "stored strategy parameters {stored}: {e}"
        ))),
    }
}

/// A strategy at one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct StrategyView {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The version this view shows (in lists: the latest).
    pub version: i64,
    pub latest_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Declared parameters by name, with defaults and ranges.
    pub params: ParamSpecs,
    /// SHA-256 of the source.
    pub sha256: String,
    /// The source (in single-strategy responses; lists leave it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn view(
    s: Strategy,
    v: qf_store::StrategyVersion,
    with_source: bool,
) -> Result<StrategyView, Problem> {
    Ok(StrategyView {
        id: s.id.to_string(),
        name: s.name,
        kind: s.kind,
        version: v.version,
        latest_version: s.latest_version,
        created_at: s.created_at,
        updated_at: s.updated_at,
        params: param_specs(&v.params)?,
        sha256: v.sha256,
        source: with_source.then_some(v.source),
    })
}

fn summary_view(l: StrategySummary) -> Result<StrategyView, Problem> {
    let s = l.strategy;
    Ok(StrategyView {
        id: s.id.to_string(),
        name: s.name,
        kind: s.kind,
        version: s.latest_version,
        latest_version: s.latest_version,
        created_at: s.created_at,
        updated_at: s.updated_at,
        params: param_specs(&l.params)?,
        sha256: l.sha256,
        source: None,
    })
}

/// The result of a successful check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validated {
    /// Always true (a failed check answers 422 with the problems).
    pub valid: bool,
    pub kind: String,
    /// Declared parameters by name, with defaults and ranges.
    pub params: ParamSpecs,
    /// Declared states (tenant code).
    pub states: Vec<String>,
    /// Indicators the engine computes for it.
    pub indicators: Vec<String>,
}

/// Runs the checks; a failure is a 422 with every problem at its line and column. Python
/// is also compiled in a sandbox worker, so syntax errors show now, not when a run fails.
fn check(pool: &Pool, name: &str, kind: &str, source: &str) -> Result<StrategyInfo, Problem> {
    if !matches!(kind, "python" | "rules" | "builtin") {
        return Err(Problem::validation(
            "kind",
            format!("kind must be python, rules or builtin, not {kind:?}"),
        ));
    }
    if source.len() > MAX_SOURCE {
        return Err(Problem::validation(
            "source",
            format!(
                "the source is {} bytes; the limit is {MAX_SOURCE}",
                source.len()
            ),
        ));
    }
    let (code, info) = compile_strategy(kind, name, source)?;
    check_compiles(&code, pool)?;
    Ok(info)
}

fn sha256(s: &str) -> String {
    crate::auth::sha256_hex(s.as_bytes())
}

/// Checks a strategy without saving it.
#[utoipa::path(post, path = "/v1/strategies/validate", tag = "strategies", request_body = NewStrategy,
    responses((status = 200, body = Validated), (status = 422, description = "problems with file, line and column")))]
pub async fn validate(
    State(app): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<NewStrategy>,
) -> Result<Json<Validated>, Problem> {
    p.require(Scope::Read)?;
    let name = check_name("name", &body.name)?.to_string();
    let kind = body.kind.clone();
    let pool = app.sandbox.clone();
    let info = tokio::task::spawn_blocking(move || check(&pool, &name, &kind, &body.source))
        .await
        .map_err(|e| Problem::internal(e.to_string()))??;
    Ok(Json(Validated {
        valid: true,
        kind: info.kind,
        params: param_specs(&info.params)?,
        states: info.states,
        indicators: info.indicators,
    }))
}

/// Saves a new strategy at version 1.
#[utoipa::path(post, path = "/v1/strategies", tag = "strategies", request_body = NewStrategy,
    responses((status = 201, body = StrategyView), (status = 409), (status = 422)))]
pub async fn create(
    State(app): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewStrategy>,
) -> Result<Response, Problem> {
    p.require(Scope::Run)?;
    let name = check_name("name", &body.name)?.to_string();
    let raw = serde_json::to_vec(&body).map_err(|e| Problem::internal(e.to_string()))?;
    let idem = match idempotency::begin(
        &app,
        &p,
        &headers,
        "POST /v1/strategies",
        idempotency::digest(&[&raw]),
    )
    .await?
    {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let (n, k, src) = (name.clone(), body.kind.clone(), body.source.clone());
    let pool = app.sandbox.clone();
    let info = tokio::task::spawn_blocking(move || check(&pool, &n, &k, &src))
        .await
        .map_err(|e| Problem::internal(e.to_string()))??;
    let (s, v) = app
        .store
        .create_strategy(
            &p.tenant,
            &name,
            &body.kind,
            &body.source,
            &sha256(&body.source),
            info.params,
        )
        .await?;
    let out = view(s, v, true)?;
    idempotency::remember(&app, &p, idem, StatusCode::CREATED, &out).await?;
    let location = format!("/v1/strategies/{}", out.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(out),
    )
        .into_response())
}

fn strategy_id(id: &str) -> Result<StrategyId, Problem> {
    StrategyId::parse(id).ok_or_else(|| Problem::not_found("no such strategy in this tenant"))
}

/// Saves a new immutable version of a strategy's code.
#[utoipa::path(post, path = "/v1/strategies/{id}/versions", tag = "strategies", request_body = NewVersion,
    params(("id" = String, Path)), responses((status = 201, body = StrategyView), (status = 404), (status = 422)))]
pub async fn add_version(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewVersion>,
) -> Result<Response, Problem> {
    p.require(Scope::Run)?;
    let id = strategy_id(&id)?;
    let s = app.store.strategy(&p.tenant, &id).await?;
    let raw = serde_json::to_vec(&body).map_err(|e| Problem::internal(e.to_string()))?;
    let idem = match idempotency::begin(
        &app,
        &p,
        &headers,
        "POST /v1/strategies/{id}/versions",
        idempotency::digest(&[id.as_str().as_bytes(), &raw]),
    )
    .await?
    {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    if s.kind == "builtin" {
        return Err(Problem::validation(
            "source",
            "a built-in strategy has no code to version",
        ));
    }
    let (n, k, src) = (s.name.clone(), s.kind.clone(), body.source.clone());
    let pool = app.sandbox.clone();
    let info = tokio::task::spawn_blocking(move || check(&pool, &n, &k, &src))
        .await
        .map_err(|e| Problem::internal(e.to_string()))??;
    let v = app
        .store
        .add_strategy_version(
            &p.tenant,
            &id,
            &body.source,
            &sha256(&body.source),
            info.params,
        )
        .await?;
    let s = app.store.strategy(&p.tenant, &id).await?;
    let out = view(s, v, true)?;
    idempotency::remember(&app, &p, idem, StatusCode::CREATED, &out).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Lists strategies at their latest version (without sources); `kind` filters.
#[utoipa::path(get, path = "/v1/strategies", tag = "strategies", params(ListQuery),
    responses((status = 200, body = inline(Listed<StrategyView>))))]
pub async fn list(
    State(app): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listed<StrategyView>>, Problem> {
    p.require(Scope::Read)?;
    let page = q.page("strategies")?;
    let l = app
        .store
        .strategies(&p.tenant, q.kind.as_deref(), &page)
        .await?;
    let listed = q.listed("strategies", l, summary_view);
    Ok(Json(Listed {
        items: listed.items.into_iter().collect::<Result<_, _>>()?,
        next_cursor: listed.next_cursor,
    }))
}

/// Query of `GET /v1/strategies/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version number (default: the latest).
    pub version: Option<i64>,
}

/// One strategy with its source, at the latest or a given version.
#[utoipa::path(get, path = "/v1/strategies/{id}", tag = "strategies", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = StrategyView), (status = 404)))]
pub async fn get_one(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<Json<StrategyView>, Problem> {
    p.require(Scope::Read)?;
    let id = strategy_id(&id)?;
    let s = app.store.strategy(&p.tenant, &id).await?;
    let v = app
        .store
        .strategy_version(&p.tenant, &id, q.version)
        .await?;
    Ok(Json(view(s, v, true)?))
}

/// Every version of a strategy, oldest first, with sources.
#[utoipa::path(get, path = "/v1/strategies/{id}/versions", tag = "strategies", params(("id" = String, Path)),
    responses((status = 200, body = [StrategyView]), (status = 404)))]
pub async fn versions(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<StrategyView>>, Problem> {
    p.require(Scope::Read)?;
    let id = strategy_id(&id)?;
    let s = app.store.strategy(&p.tenant, &id).await?;
    let vs = app.store.strategy_versions(&p.tenant, &id).await?;
    Ok(Json(
        vs.into_iter()
            .map(|v| view(s.clone(), v, true))
            .collect::<Result<_, _>>()?,
    ))
}
