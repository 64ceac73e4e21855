//! Backtests and sweeps: submitted as queued jobs, read back with their results and
//! artifacts (report HTML, trades and equity as Parquet or CSV, sweep table CSV).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use qf_report::tables::{self, Table, TableFormat};

use qf_jobs::catalog;
use qf_jobs::execute::{
    BacktestRequest, SweepRequest, check_backtest, check_sweep, compile_strategy,
};
use qf_store::{DatasetId, NewRun, Run, RunFilter, RunId, RunKind, Status, StrategyId};

use crate::app::AppState;
use crate::auth::{Principal, Scope};
use crate::idempotency;
use crate::negotiate;
use crate::problem::{ApiQuery, Problem};
use crate::routes::datasets::artifact_response;
use crate::routes::{ListQuery, Listed};

/// A backtest or sweep.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    /// `backtest` or `sweep`.
    pub kind: String,
    /// queued, running, succeeded, failed or cancelled.
    pub status: String,
    pub dataset_id: String,
    pub strategy_id: String,
    pub strategy_version: i64,
    /// The job that runs it.
    pub job_id: String,
    /// What was asked for: params, cash, size, … (and the grid of a sweep).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Once succeeded: for a backtest the same object as `qf backtest --json`, for a sweep
    /// the same as `qf sweep --json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Once failed: a problem object (tenant-code faults carry file, line and column).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
}

impl RunView {
    fn new(r: Run, with_result: bool) -> Self {
        RunView {
            id: r.id.to_string(),
            kind: match r.kind {
                RunKind::Backtest => "backtest".into(),
                RunKind::Sweep => "sweep".into(),
            },
            status: r.status.as_str().into(),
            dataset_id: r.dataset_id.to_string(),
            strategy_id: r.strategy_id.to_string(),
            strategy_version: r.strategy_version,
            job_id: r.job_id.to_string(),
            request: r.request,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            result: if with_result { r.result } else { None },
            error: r.error,
        }
    }
}

/// `POST /v1/backtests` body, as the OpenAPI document shows it. [`take_target`] reads the
/// first four fields, [`BacktestRequest`] the rest (unknown fields are refused).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // only describes the body: `submit` reads it with `take_target`, then the request type
pub struct BacktestSubmission {
    /// The dataset to run on.
    dataset_id: String,
    /// The strategy to run.
    strategy_id: String,
    /// Its version (default: the latest).
    #[schema(minimum = 1)]
    strategy_version: Option<i64>,
    /// Queue priority, -100 to 100 (default 0); higher runs first.
    #[schema(minimum = -100, maximum = 100)]
    priority: Option<i32>,
    /// Strategy parameters by name; absent ones take their defaults.
    #[serde(default)]
    params: std::collections::BTreeMap<String, f64>,
    #[serde(flatten)]
    engine: qf_jobs::execute::EngineSettings,
}

/// `POST /v1/sweeps` body, as the OpenAPI document shows it. [`take_target`] reads the
/// first four fields, [`SweepRequest`] the rest (unknown fields are refused).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // only describes the body: `submit` reads it with `take_target`, then the request type
pub struct SweepSubmission {
    /// The dataset to run on.
    dataset_id: String,
    /// The strategy to run.
    strategy_id: String,
    /// Its version (default: the latest).
    #[schema(minimum = 1)]
    strategy_version: Option<i64>,
    /// Queue priority, -100 to 100 (default 0); higher runs first.
    #[schema(minimum = -100, maximum = 100)]
    priority: Option<i32>,
    /// Values of each swept parameter.
    grid: std::collections::BTreeMap<String, Vec<f64>>,
    /// Parameters fixed for every combination.
    #[serde(default)]
    params: std::collections::BTreeMap<String, f64>,
    /// The metric to rank by (default `sharpe`).
    sort: Option<String>,
    /// Rank lowest first.
    #[serde(default)]
    ascending: bool,
    /// How many best rows the result lists (default 20).
    #[schema(minimum = 0)]
    top: Option<usize>,
    /// Threads (default and most: the machine's cores).
    #[schema(minimum = 0)]
    jobs: Option<usize>,
    #[serde(flatten)]
    engine: qf_jobs::execute::EngineSettings,
}

/// The fields of a submission that name what to run; the rest is the request proper.
struct Target {
    dataset_id: DatasetId,
    strategy_id: StrategyId,
    strategy_version: Option<i64>,
    priority: i32,
}

fn take_target(body: &mut serde_json::Map<String, serde_json::Value>) -> Result<Target, Problem> {
    fn text(
        body: &mut serde_json::Map<String, serde_json::Value>,
        field: &str,
    ) -> Result<String, Problem> {
        match body.remove(field) {
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(other) => Err(Problem::validation(
                field,
                format!("{field} must be a string id, not {other}"),
            )),
            None => Err(Problem::validation(field, format!("{field} is required"))),
        }
    }
    fn int(
        body: &mut serde_json::Map<String, serde_json::Value>,
        field: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, Problem> {
        match body.remove(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| {
                    Problem::validation(
                        field,
                        format!(
                            "{field} must be a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )
                }),
        }
    }
    let not_found = |what: &str| Problem::not_found(format!("no such {what} in this tenant"));
    let dataset_id =
        DatasetId::parse(&text(body, "dataset_id")?).ok_or_else(|| not_found("dataset"))?;
    let strategy_id =
        StrategyId::parse(&text(body, "strategy_id")?).ok_or_else(|| not_found("strategy"))?;
    let strategy_version = int(body, "strategy_version", 1..=i64::MAX)?;
    let priority = int(body, "priority", -100..=100)?.unwrap_or(0);
    Ok(Target {
        dataset_id,
        strategy_id,
        strategy_version,
        priority: i32::try_from(priority).unwrap_or(0),
    })
}

/// Parses, checks and queues a run.
async fn submit(
    app: AppState,
    p: Principal,
    headers: HeaderMap,
    body: axum::body::Bytes,
    kind: RunKind,
) -> Result<Response, Problem> {
    p.require(Scope::Run)?;
    let scope = match kind {
        RunKind::Backtest => "POST /v1/backtests",
        RunKind::Sweep => "POST /v1/sweeps",
    };
    let mut value: serde_json::Value = crate::problem::parse_json_body(&headers, &body)?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| Problem::invalid_body("the body must be a JSON object"))?;
    let target = take_target(obj)?;
    let idem =
        match idempotency::begin(&app, &p, &headers, scope, idempotency::digest(&[&body])).await? {
            Ok(i) => i,
            Err(replay) => return Ok(replay),
        };
    let request = serde_json::Value::Object(obj.clone());

    // Both must exist in the caller's tenant (404 otherwise, like any other object).
    app.store.dataset(&p.tenant, &target.dataset_id).await?;
    let strategy = app.store.strategy(&p.tenant, &target.strategy_id).await?;
    let version = app
        .store
        .strategy_version(&p.tenant, &target.strategy_id, target.strategy_version)
        .await?;
    let (name, skind, source, req) = (
        strategy.name.clone(),
        strategy.kind.clone(),
        version.source.clone(),
        request.clone(),
    );
    tokio::task::spawn_blocking(move || -> Result<(), Problem> {
        let (code, _) = compile_strategy(&skind, &name, &source).map_err(Problem::from)?;
        match kind {
            RunKind::Backtest => {
                let r: BacktestRequest = serde_json::from_value(req)
                    .map_err(|e| Problem::invalid_body(format!("invalid backtest request: {e}")))?;
                check_backtest(&code, &r).map_err(Problem::from)
            }
            RunKind::Sweep => {
                let r: SweepRequest = serde_json::from_value(req)
                    .map_err(|e| Problem::invalid_body(format!("invalid sweep request: {e}")))?;
                check_sweep(&code, &r).map_err(Problem::from)
            }
        }
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))??;

    let (run, _job) = app
        .store
        .submit_run(
            &p.tenant,
            &NewRun {
                kind,
                dataset_id: target.dataset_id,
                strategy_id: target.strategy_id,
                strategy_version: version.version,
                request,
                priority: target.priority,
                max_attempts: i32::try_from(app.config.jobs.max_attempts).unwrap_or(3),
            },
        )
        .await?;
    app.job_queued.notify_waiters();
    app.metrics.job_submitted();
    let out = RunView::new(run, false);
    idempotency::remember(&app, &p, idem, StatusCode::ACCEPTED, &out).await?;
    let location = format!("/v1/{}s/{}", out.kind, out.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(out),
    )
        .into_response())
}

/// Queues a backtest. Body: `dataset_id`, `strategy_id`, optional `strategy_version` and
/// `priority` (-100 to 100), and the settings of `qf backtest`: `params`, `cash`, `size`,
/// `percent`, fees, slippage, leverage, `fill_at_close`.
#[utoipa::path(post, path = "/v1/backtests", tag = "backtests",
    request_body = BacktestSubmission,
    responses((status = 202, body = RunView), (status = 404), (status = 422)))]
pub async fn submit_backtest(
    State(app): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    submit(app, p, headers, body, RunKind::Backtest).await
}

/// Queues a sweep: like a backtest, with `grid` (parameter name → list of values) and
/// optionally `sort` (the ranking metric) instead of fixed `params`.
#[utoipa::path(post, path = "/v1/sweeps", tag = "sweeps",
    request_body = SweepSubmission,
    responses((status = 202, body = RunView), (status = 404), (status = 422)))]
pub async fn submit_sweep(
    State(app): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    submit(app, p, headers, body, RunKind::Sweep).await
}

fn run_id(id: &str) -> Result<RunId, Problem> {
    RunId::parse(id).ok_or_else(|| Problem::not_found("no such run in this tenant"))
}

/// Loads a run of the given kind (a sweep's id under /backtests is "not found").
async fn load(app: &AppState, p: &Principal, id: &str, kind: RunKind) -> Result<Run, Problem> {
    p.require(Scope::Read)?;
    let r = app.store.run(&p.tenant, &run_id(id)?).await?;
    if r.kind != kind {
        return Err(Problem::not_found("no such run in this tenant"));
    }
    Ok(r)
}

async fn list(
    app: AppState,
    p: Principal,
    q: ListQuery,
    kind: RunKind,
    name: &str,
) -> Result<Json<Listed<RunView>>, Problem> {
    p.require(Scope::Read)?;
    let page = q.page(name)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            Problem::validation(
                "status",
                format!(
                    "status must be queued, running, succeeded, failed or cancelled, not {s:?}"
                ),
            )
        })?),
    };
    // An id that cannot exist matches nothing.
    let empty = || {
        Json(Listed {
            items: Vec::new(),
            next_cursor: None,
        })
    };
    let strategy_id = match q.strategy_id.as_deref() {
        None => None,
        Some(s) => match StrategyId::parse(s) {
            Some(id) => Some(id),
            None => return Ok(empty()),
        },
    };
    let dataset_id = match q.dataset_id.as_deref() {
        None => None,
        Some(s) => match DatasetId::parse(s) {
            Some(id) => Some(id),
            None => return Ok(empty()),
        },
    };
    let filter = RunFilter {
        kind,
        status,
        strategy_id,
        dataset_id,
    };
    let l = app.store.runs(&p.tenant, &filter, &page).await?;
    Ok(Json(q.listed(name, l, |r| RunView::new(r, false))))
}

/// Lists backtests, newest first; filters: `status`, `strategy_id`, `dataset_id`.
#[utoipa::path(get, path = "/v1/backtests", tag = "backtests", params(ListQuery),
    responses((status = 200, body = inline(Listed<RunView>))))]
pub async fn list_backtests(
    State(app): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listed<RunView>>, Problem> {
    list(app, p, q, RunKind::Backtest, "backtests").await
}

/// Lists sweeps, newest first; filters: `status`, `strategy_id`, `dataset_id`.
#[utoipa::path(get, path = "/v1/sweeps", tag = "sweeps", params(ListQuery),
    responses((status = 200, body = inline(Listed<RunView>))))]
pub async fn list_sweeps(
    State(app): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listed<RunView>>, Problem> {
    list(app, p, q, RunKind::Sweep, "sweeps").await
}

/// One backtest; `result` holds the `qf backtest --json` object once it succeeded.
#[utoipa::path(get, path = "/v1/backtests/{id}", tag = "backtests", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404)))]
pub async fn get_backtest(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Problem> {
    Ok(Json(RunView::new(
        load(&app, &p, &id, RunKind::Backtest).await?,
        true,
    )))
}

/// One sweep; `result` holds the `qf sweep --json` object once it succeeded.
#[utoipa::path(get, path = "/v1/sweeps/{id}", tag = "sweeps", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404)))]
pub async fn get_sweep(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Problem> {
    Ok(Json(RunView::new(
        load(&app, &p, &id, RunKind::Sweep).await?,
        true,
    )))
}

async fn cancel(
    app: AppState,
    p: Principal,
    id: String,
    kind: RunKind,
) -> Result<Json<RunView>, Problem> {
    load(&app, &p, &id, kind).await?;
    p.require(Scope::Run)?;
    let r = app.store.cancel_run(&p.tenant, &run_id(&id)?).await?;
    Ok(Json(RunView::new(r, false)))
}

/// Cancels a queued or running backtest (a running one stops at its next heartbeat).
#[utoipa::path(post, path = "/v1/backtests/{id}/cancel", tag = "backtests", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404), (status = 409, description = "already finished")))]
pub async fn cancel_backtest(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Problem> {
    cancel(app, p, id, RunKind::Backtest).await
}

/// Cancels a queued or running sweep.
#[utoipa::path(post, path = "/v1/sweeps/{id}/cancel", tag = "sweeps", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404), (status = 409, description = "already finished")))]
pub async fn cancel_sweep(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Problem> {
    cancel(app, p, id, RunKind::Sweep).await
}

/// Loads a run that has succeeded (its artifacts exist only then).
async fn finished(app: &AppState, p: &Principal, id: &str, kind: RunKind) -> Result<Run, Problem> {
    let r = load(app, p, id, kind).await?;
    if r.status != Status::Succeeded {
        return Err(Problem::not_found(format!(
            "the run is {}; its artifacts exist once it has succeeded",
            r.status.as_str()
        )));
    }
    Ok(r)
}

async fn get_artifact(app: &AppState, r: &Run, name: &str) -> Result<Option<Bytes>, Problem> {
    catalog::get_artifact(&app.objects, r.tenant_id.as_str(), r.id.as_str(), name)
        .await
        .map_err(|e| Problem::internal(e.to_string()))
}

async fn artifact(
    app: AppState,
    p: Principal,
    id: String,
    kind: RunKind,
    name: &str,
    content_type: &'static str,
) -> Result<Response, Problem> {
    let r = finished(&app, &p, &id, kind).await?;
    artifact_response(get_artifact(&app, &r, name).await?, content_type)
}

/// The backtest's self-contained HTML report.
#[utoipa::path(get, path = "/v1/backtests/{id}/report", tag = "backtests", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/html"), (status = 404)))]
pub async fn report(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    artifact(
        app,
        p,
        id,
        RunKind::Backtest,
        "report.html",
        "text/html; charset=utf-8",
    )
    .await
}

/// Query of the trades and equity tables.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TableQuery {
    /// `parquet` (the default) or `csv`; wins over `Accept`.
    #[param(pattern = "^(parquet|csv)$")]
    pub format: Option<String>,
}

/// One table of a backtest in the format the client wants: stored Parquet as it is, or
/// converted to CSV on the fly, a record batch at a time. Runs stored before tables were
/// kept as Parquet have only CSV: that is what they send, unless Parquet was asked for by
/// name (406).
async fn table(
    app: AppState,
    p: Principal,
    id: String,
    table: Table,
    q: TableQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let wanted = negotiate::table_format(q.format.as_deref(), &headers)?;
    let r = finished(&app, &p, &id, RunKind::Backtest).await?;
    let download = |format: TableFormat| {
        format!(
            "attachment; filename=\"{}-{}\"",
            r.id,
            table.file_name(format)
        )
    };
    let headers_for = |format: TableFormat| {
        [
            (header::CONTENT_TYPE, format.media_type().to_string()),
            (header::CONTENT_DISPOSITION, download(format)),
            (header::VARY, "Accept".to_string()),
        ]
    };
    if let Some(parquet) = get_artifact(&app, &r, &table.file_name(TableFormat::Parquet)).await? {
        return Ok(match wanted.format {
            TableFormat::Parquet => (headers_for(TableFormat::Parquet), parquet).into_response(),
            TableFormat::Csv => {
                (headers_for(TableFormat::Csv), csv_body(table, parquet)?).into_response()
            }
        });
    }
    let csv = get_artifact(&app, &r, &table.file_name(TableFormat::Csv))
        .await?
        .ok_or_else(|| Problem::not_found("this run has no such artifact"))?;
    if wanted.format == TableFormat::Parquet && wanted.named {
        return Err(Problem::not_acceptable(format!(
            "this run was stored before {} tables were kept as Parquet: it has them as CSV \
             only; ask with ?format=csv or Accept: text/csv",
            table.name()
        )));
    }
    Ok((headers_for(TableFormat::Csv), csv).into_response())
}

/// Record batches in flight between the converting thread and the response.
const CSV_CHUNKS_IN_FLIGHT: usize = 2;

/// Streams `parquet` as CSV, converted on a blocking thread one record batch at a time, so a
/// million-row table never sits in memory as one string. A file that is not the table we
/// write fails before the response starts; a decoding error later cuts the body short.
fn csv_body(table: Table, parquet: Bytes) -> Result<Body, Problem> {
    let chunks = tables::csv_from_parquet(table, parquet).map_err(Problem::internal)?;
    let (tx, rx) = tokio::sync::mpsc::channel(CSV_CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        for chunk in chunks {
            let chunk = chunk.map_err(|e| {
                tracing::error!(error = %e, "converting a stored table to CSV");
                std::io::Error::other(e)
            });
            let stop = chunk.is_err();
            // A closed channel means the client went away: stop converting.
            if tx.blocking_send(chunk.map(Bytes::from)).is_err() || stop {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok(Body::from_stream(stream))
}

/// The backtest's closed trades: Parquet by default, CSV (byte for byte what
/// `qf backtest --trades` writes) with `format=csv` or `Accept: text/csv`. Columns:
/// `symbol`, `direction` (long or short), `quantity`, `entry_time`, `entry_price`,
/// `exit_time`, `exit_price`, `pnl`, `fees`, `return` (a fraction), `bars_held`. In
/// Parquet, times are timestamp(ns, UTC), prices and quantities decimal(19, 9), money
/// decimal(38, 18), `return` float64 and `bars_held` uint64.
#[utoipa::path(get, path = "/v1/backtests/{id}/trades", tag = "backtests",
    params(("id" = String, Path), TableQuery,
        ("Accept" = Option<String>, Header, description = "`text/csv` for CSV; Parquet otherwise")),
    responses(
        (status = 200, description = "the trades table",
            content(("application/vnd.apache.parquet"), ("text/csv")),
            headers(("Content-Disposition" = String, description = "attachment; filename=\"{id}-trades.parquet\" (or .csv)"))),
        (status = 404),
        (status = 406, description = "Parquet asked for by name, and the run (stored before Parquet tables) has only CSV; or an Accept that admits neither format"),
        (status = 422, description = "a `format` other than parquet or csv")))]
pub async fn trades(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TableQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    table(app, p, id, Table::Trades, q, headers).await
}

/// The backtest's equity curve, one row per bar time: Parquet by default, CSV (byte for
/// byte what `qf backtest --equity` writes) with `format=csv` or `Accept: text/csv`.
/// Columns: `timestamp`, `equity`, `cash`, `drawdown` (a fraction below the running peak).
/// In Parquet, `timestamp` is timestamp(ns, UTC), `equity` and `cash` decimal(38, 18),
/// `drawdown` float64.
#[utoipa::path(get, path = "/v1/backtests/{id}/equity", tag = "backtests",
    params(("id" = String, Path), TableQuery,
        ("Accept" = Option<String>, Header, description = "`text/csv` for CSV; Parquet otherwise")),
    responses(
        (status = 200, description = "the equity table",
            content(("application/vnd.apache.parquet"), ("text/csv")),
            headers(("Content-Disposition" = String, description = "attachment; filename=\"{id}-equity.parquet\" (or .csv)"))),
        (status = 404),
        (status = 406, description = "Parquet asked for by name, and the run (stored before Parquet tables) has only CSV; or an Accept that admits neither format"),
        (status = 422, description = "a `format` other than parquet or csv")))]
pub async fn equity(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TableQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    table(app, p, id, Table::Equity, q, headers).await
}

/// What the backtest's strategy printed (tenant code), as text.
#[utoipa::path(get, path = "/v1/backtests/{id}/log", tag = "backtests", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/plain"), (status = 404)))]
pub async fn log(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    artifact(
        app,
        p,
        id,
        RunKind::Backtest,
        "log.txt",
        "text/plain; charset=utf-8",
    )
    .await
}

/// The sweep's ranked table as CSV.
#[utoipa::path(get, path = "/v1/sweeps/{id}/table", tag = "sweeps", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/csv"), (status = 404)))]
pub async fn sweep_table(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    artifact(
        app,
        p,
        id,
        RunKind::Sweep,
        "sweep.csv",
        "text/csv; charset=utf-8",
    )
    .await
}
