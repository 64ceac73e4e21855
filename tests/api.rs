//! The `/v1` HTTP API used as its users use it: the real `qf serve` (and `qf worker`) over
//! real HTTP, each test once on SQLite and once on PostgreSQL. The role matrix is in
//! `api_roles.rs`.

#[macro_use]
mod api_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use api_support::{
    Backend, Deployment, PASSWORD, Server, cli, sma_cross_path, sma_cross_py, str_of,
};

backend_tests!(
    main_flow_as_a_user,
    bad_json_bodies_are_problems_that_change_nothing,
    bad_uploads_are_problems_that_leave_no_files,
    bad_queries_cursors_and_paths_are_problems,
    bad_credentials_are_401,
    idempotency_key_replays_the_first_answer,
    rate_limit_answers_429_with_headers,
    operations_endpoints_request_ids_and_logs,
    openapi_document_covers_the_router,
    responses_have_the_shapes_the_openapi_document_declares,
    worker_killed_mid_job_is_retried_once,
);

const FINISHED: &[&str] = &["succeeded", "failed", "cancelled"];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// The number of items of a list endpoint (one page of 200 is enough here).
fn count(server: &Server, key: &str, path: &str) -> usize {
    let sep = if path.contains('?') { '&' } else { '?' };
    let v = server
        .get(&format!("{path}{sep}limit=200"))
        .auth(key)
        .send()
        .ok(200);
    let items = v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no items in {v}"));
    assert!(
        v.get("next_cursor").is_none_or(Value::is_null),
        "{path}: more than one page"
    );
    items.len()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Checks that `parquet` (a trades or equity table from the API) has the columns of `csv`
/// (the CLI's file), typed as documented, and the same values row by row: decimals to the
/// last digit, times to the nanosecond, floats to the bit.
#[track_caller]
fn assert_parquet_has_the_csv_rows(name: &str, parquet: &[u8], csv: &str) {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Float64Type, TimestampNanosecondType, UInt64Type};
    use arrow_schema::{DataType, TimeUnit};

    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::copy_from_slice(parquet),
    )
    .unwrap_or_else(|e| panic!("{name}: not Parquet: {e}"))
    .build()
    .expect("a reader");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a CSV header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 10, "{name}: {} rows", rows.len());
    let mut at = 0;
    for batch in reader {
        let batch = batch.expect("a record batch");
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, header, "{name}: Parquet columns and CSV header");
        for (c, column) in batch.columns().iter().enumerate() {
            let col = header[c];
            for i in 0..batch.num_rows() {
                let text = rows[at + i][c];
                let same = match column.data_type() {
                    DataType::Utf8 => column.as_string::<i32>().value(i) == text,
                    DataType::Timestamp(TimeUnit::Nanosecond, Some(tz)) if &**tz == "UTC" => {
                        column.as_primitive::<TimestampNanosecondType>().value(i)
                            == qf_core::Timestamp::parse_rfc3339(text)
                                .expect("a time")
                                .nanos()
                    }
                    DataType::Decimal128(19, 9) if col.ends_with("price") || col == "quantity" => {
                        column.as_primitive::<Decimal128Type>().value(i) == scaled(text, 9)
                    }
                    DataType::Decimal128(38, 18)
                        if ["pnl", "fees", "equity", "cash"].contains(&col) =>
                    {
                        column.as_primitive::<Decimal128Type>().value(i) == scaled(text, 18)
                    }
                    DataType::Float64 => {
                        column.as_primitive::<Float64Type>().value(i).to_bits()
                            == text.parse::<f64>().expect("a float").to_bits()
                    }
                    DataType::UInt64 => {
                        column.as_primitive::<UInt64Type>().value(i)
                            == text.parse::<u64>().expect("a count")
                    }
                    other => panic!("{name}.{col}: unexpected type {other}"),
                };
                assert!(same, "{name} row {} column {col}: CSV {text:?}", at + i);
            }
        }
        at += batch.num_rows();
    }
    assert_eq!(at, rows.len(), "{name}: Parquet rows and CSV rows");
}

/// An exact decimal as an integer count of 10^-`scale`: `"-1.5"`, 2 → -150.
fn scaled(text: &str, scale: usize) -> i128 {
    let (neg, digits) = text
        .strip_prefix('-')
        .map_or((false, text), |rest| (true, rest));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(frac.len() <= scale, "{text}: more than {scale} decimals");
    let n: i128 = format!("{int}{frac:0<scale$}").parse().expect("a decimal");
    if neg { -n } else { n }
}

/// Upload, strategies (Python and built-in), backtests and a sweep, their results next to the
/// CLI's on the same file, artifacts, pagination, and the session's life: login, refresh,
/// logout.
fn main_flow_as_a_user(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let csv = d.path("bars.csv");
    api_support::write_sample_csv(&csv, 20_000, 7);
    let csv_s = csv.display().to_string();
    let t = d.create_tenant("Acme Research", Some("owner@acme.test"));
    assert!(t.key.starts_with("qf_"), "{t:?}");
    let dev = d.create_user("dev@acme.test", &t.id, "developer");
    assert_eq!(dev["tenant_id"], t.id.as_str());
    let server = d.serve(&["--workers", "1"]);

    // The owner key from `qf admin` works at once.
    let me = server.get("/v1/tenant").auth(&t.key).send().ok(200);
    assert_eq!(
        (me["id"].as_str(), me["role"].as_str()),
        (Some(t.id.as_str()), Some("owner"))
    );
    assert_eq!(me["name"], "Acme Research");

    // People sign in with a password; a wrong one is a 401 problem.
    server
        .post("/v1/auth/login")
        .json(&json!({"email": "dev@acme.test", "password": "not the password"}))
        .send()
        .problem(401);
    let login = server
        .post("/v1/auth/login")
        .json(&json!({"email": "dev@acme.test", "password": PASSWORD}))
        .send()
        .ok(200);
    let token = str_of(&login, "token");
    assert_eq!(login["tenant_id"], t.id.as_str());
    assert_eq!(login["role"], "developer");
    assert_eq!(login["user_id"], dev["user_id"]);
    let me = server.get("/v1/tenant").auth(&token).send().ok(200);
    assert_eq!(me["role"], "developer");
    let owner = server
        .post("/v1/auth/login")
        .json(&json!({"email": "owner@acme.test", "password": PASSWORD}))
        .send()
        .ok(200);
    assert_eq!(owner["role"], "owner");
    assert_eq!(owner["user_id"].as_str(), t.owner_user_id.as_deref());

    // Upload the CSV as a form.
    let bytes = std::fs::read(&csv).expect("csv");
    let up = server
        .post("/v1/datasets")
        .auth(&token)
        .multipart(&[
            ("name", None, b"bars 20k"),
            ("file", Some("bars.csv"), &bytes),
        ])
        .send();
    let ds = up.ok(201);
    let dataset_id = str_of(&ds, "id");
    assert_eq!(ds["name"], "bars 20k");
    assert_eq!(ds["rows"], 20_000);
    assert_eq!(ds["format"], "csv");
    assert_eq!(ds["bytes"], bytes.len());
    assert_eq!(ds["symbols"], json!(["TEST"]));
    assert_eq!(
        up.header("location"),
        Some(format!("/v1/datasets/{dataset_id}").as_str())
    );
    let got = server
        .get(&format!("/v1/datasets/{dataset_id}"))
        .auth(&token)
        .send()
        .ok(200);
    assert_eq!(got["id"], dataset_id.as_str());
    assert!(got["quality"].is_object(), "{got}");

    // A Python strategy and a built-in.
    let py = server
        .post("/v1/strategies")
        .auth(&token)
        .json(&json!({"name": "sma cross (python)", "kind": "python", "source": sma_cross_py()}))
        .send()
        .ok(201);
    assert_eq!(
        (py["version"].as_i64(), py["kind"].as_str()),
        (Some(1), Some("python"))
    );
    assert_eq!(py["source"], sma_cross_py().as_str());
    let py_id = str_of(&py, "id");
    let builtin = server
        .post("/v1/strategies")
        .auth(&token)
        .json(&json!({"name": "sma cross (built-in)", "kind": "builtin", "source": "sma_cross"}))
        .send()
        .ok(201);
    assert_eq!(builtin["version"], 1);
    let builtin_id = str_of(&builtin, "id");

    // Lists page with cursors: two strategies, one per page.
    let p1 = server
        .get("/v1/strategies?limit=1")
        .auth(&token)
        .send()
        .ok(200);
    assert_eq!(p1["items"].as_array().map(Vec::len), Some(1), "{p1}");
    let cursor = str_of(&p1, "next_cursor");
    let p2 = server
        .get(&format!("/v1/strategies?limit=1&cursor={cursor}"))
        .auth(&token)
        .send()
        .ok(200);
    assert_eq!(p2["items"].as_array().map(Vec::len), Some(1), "{p2}");
    assert!(p2.get("next_cursor").is_none_or(Value::is_null), "{p2}");
    let seen: BTreeSet<String> = [&p1, &p2]
        .iter()
        .map(|p| str_of(&p["items"][0], "id"))
        .collect();
    assert_eq!(seen, BTreeSet::from([py_id.clone(), builtin_id.clone()]));
    // Newest first by default.
    assert_eq!(p1["items"][0]["id"], builtin_id.as_str());

    // A Python backtest, next to `qf backtest --json` on the same file.
    let sub = server
        .post("/v1/backtests")
        .auth(&token)
        .json(&json!({
            "dataset_id": dataset_id, "strategy_id": py_id,
            "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
        }))
        .send();
    let run = sub.ok(202);
    let run_id = str_of(&run, "id");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["kind"], "backtest");
    assert_eq!(run["strategy_version"], 1);
    assert_eq!(
        sub.header("location"),
        Some(format!("/v1/backtests/{run_id}").as_str())
    );
    let trades_csv = d.path("trades.csv");
    let equity_csv = d.path("equity.csv");
    let cli_out: Value = serde_json::from_str(
        cli(&[
            "backtest",
            "--data",
            &csv_s,
            "--strategy",
            &sma_cross_path(),
            "--param",
            "fast=10",
            "--param",
            "slow=30",
            "--cash",
            "100000",
            "--size",
            "10",
            "--json",
            "--trades",
            &trades_csv.display().to_string(),
            "--equity",
            &equity_csv.display().to_string(),
        ])
        .trim(),
    )
    .expect("qf backtest --json");
    let done = server.wait_for(
        &token,
        &format!("/v1/backtests/{run_id}"),
        "status",
        FINISHED,
        Duration::from_secs(120),
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(
        done["started_at"].is_i64() && done["finished_at"].is_i64(),
        "{done}"
    );
    let result = &done["result"];
    assert_eq!(
        keys(result),
        keys(&cli_out),
        "the API's result and `qf backtest --json`"
    );
    assert!(
        cli_out["trades"].as_u64().is_some_and(|n| n > 10),
        "{cli_out}"
    );
    for k in [
        "trades",
        "final_equity",
        "final_equity_exact",
        "bars",
        "fills",
        "sharpe",
        "max_drawdown",
    ] {
        assert_eq!(
            result[k], cli_out[k],
            "{k}: API {} vs CLI {}",
            result[k], cli_out[k]
        );
    }

    // Its artifacts: the report, and the CLI's trades and equity files, byte for byte.
    let report = server
        .get(&format!("/v1/backtests/{run_id}/report"))
        .auth(&token)
        .send();
    assert_eq!(report.status, 200, "{report:?}");
    assert!(
        report
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{report:?}"
    );
    assert!(
        report.text().to_ascii_lowercase().contains("<html"),
        "{report:?}"
    );
    // Trades and equity: Parquet by default, the same rows as the CLI's CSV, the same bytes
    // as `qf backtest --trades FILE.parquet`; CSV on request, byte for byte the CLI's.
    let trades_parquet = d.path("trades.parquet");
    let equity_parquet = d.path("equity.parquet");
    cli(&[
        "backtest",
        "--data",
        &csv_s,
        "--strategy",
        &sma_cross_path(),
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--cash",
        "100000",
        "--size",
        "10",
        "--trades",
        &trades_parquet.display().to_string(),
        "--equity",
        &equity_parquet.display().to_string(),
    ]);
    for (name, file, cli_parquet) in [
        ("trades", &trades_csv, &trades_parquet),
        ("equity", &equity_csv, &equity_parquet),
    ] {
        let path = format!("/v1/backtests/{run_id}/{name}");
        let cli_csv = read(file);
        let r = server.get(&path).auth(&token).send();
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.header("content-type"),
            Some("application/vnd.apache.parquet"),
            "{r:?}"
        );
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{run_id}-{name}.parquet\"").as_str()),
            "{r:?}"
        );
        assert_parquet_has_the_csv_rows(name, &r.body, &cli_csv);
        let from_cli = std::fs::read(cli_parquet).expect("the CLI's Parquet");
        assert!(
            r.body == from_cli,
            "{name}: the API's Parquet and `qf backtest --{name} {name}.parquet` differ"
        );
        for csv in [
            server
                .get(&format!("{path}?format=csv"))
                .auth(&token)
                .send(),
            server
                .get(&path)
                .auth(&token)
                .header("Accept", "text/csv")
                .send(),
        ] {
            assert_eq!(csv.status, 200, "{csv:?}");
            assert_eq!(
                csv.header("content-type"),
                Some("text/csv; charset=utf-8"),
                "{csv:?}"
            );
            assert_eq!(
                first_line(&csv.text()),
                first_line(&cli_csv),
                "{name} CSV header"
            );
            assert!(
                csv.text() == cli_csv,
                "{name} CSV: API and `qf backtest --{name}` differ ({csv:?})"
            );
        }
        let p = server
            .get(&format!("{path}?format=xlsx"))
            .auth(&token)
            .send()
            .problem(422);
        assert_eq!(p["field"], "format", "{p}");
        assert!(detail(&p).contains("xlsx"), "{p}");
    }

    // A run stored before tables were Parquet has only trades.csv and equity.csv: it still
    // serves them as they are, by default and on request, and says 406 to Parquet by name.
    let run_dir = d
        .data_dir
        .join(format!("objects/tenants/{}/runs/{run_id}", t.id));
    for (name, file) in [("trades", &trades_csv), ("equity", &equity_csv)] {
        std::fs::remove_file(run_dir.join(format!("{name}.parquet"))).expect("stored Parquet");
        std::fs::copy(file, run_dir.join(format!("{name}.csv"))).expect("a legacy CSV");
        let path = format!("/v1/backtests/{run_id}/{name}");
        let cli_csv = read(file);
        for csv in [
            server.get(&path).auth(&token).send(),
            server
                .get(&format!("{path}?format=csv"))
                .auth(&token)
                .send(),
        ] {
            assert_eq!(csv.status, 200, "{csv:?}");
            assert!(
                csv.header("content-type")
                    .is_some_and(|c| c.starts_with("text/csv")),
                "{csv:?}"
            );
            assert!(csv.text() == cli_csv, "legacy {name} CSV ({csv:?})");
        }
        for parquet in [
            server
                .get(&format!("{path}?format=parquet"))
                .auth(&token)
                .send(),
            server
                .get(&path)
                .auth(&token)
                .header("Accept", "application/vnd.apache.parquet")
                .send(),
        ] {
            let p = parquet.problem(406);
            assert!(detail(&p).contains("format=csv"), "{p}");
        }
    }

    // What the strategy printed: nothing, as text.
    let log = server
        .get(&format!("/v1/backtests/{run_id}/log"))
        .auth(&token)
        .send();
    assert_eq!(log.status, 200, "{log:?}");
    assert!(
        log.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{log:?}"
    );
    assert_eq!(log.text(), "", "sma_cross.py prints nothing");

    // The built-in on the same data.
    let bt = server
        .post("/v1/backtests")
        .auth(&token)
        .json(&json!({
            "dataset_id": dataset_id, "strategy_id": builtin_id,
            "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
        }))
        .send()
        .ok(202);
    let bt_id = str_of(&bt, "id");
    let cli_builtin: Value = serde_json::from_str(
        cli(&[
            "backtest",
            "--data",
            &csv_s,
            "--strategy",
            "sma_cross",
            "--param",
            "fast=10",
            "--param",
            "slow=30",
            "--cash",
            "100000",
            "--size",
            "10",
            "--json",
        ])
        .trim(),
    )
    .expect("qf backtest --json");
    let done = server.wait_for(
        &token,
        &format!("/v1/backtests/{bt_id}"),
        "status",
        FINISHED,
        Duration::from_secs(120),
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(keys(&done["result"]), keys(&cli_builtin));
    for k in ["trades", "final_equity", "final_equity_exact"] {
        assert_eq!(done["result"][k], cli_builtin[k], "{k}");
    }

    // A sweep over a grid, next to `qf sweep --json`.
    let sw = server
        .post("/v1/sweeps")
        .auth(&token)
        .json(&json!({
            "dataset_id": dataset_id, "strategy_id": builtin_id,
            "grid": {"fast": [5, 10], "slow": [20, 30]}, "cash": "100000", "size": "10",
        }))
        .send();
    let sweep = sw.ok(202);
    let sweep_id = str_of(&sweep, "id");
    assert_eq!(sweep["kind"], "sweep");
    assert_eq!(
        sw.header("location"),
        Some(format!("/v1/sweeps/{sweep_id}").as_str())
    );
    let table_csv = d.path("sweep.csv");
    let cli_sweep: Value = serde_json::from_str(
        cli(&[
            "sweep",
            "--data",
            &csv_s,
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--grid",
            "slow=20,30",
            "--cash",
            "100000",
            "--size",
            "10",
            "--json",
            "--csv",
            &table_csv.display().to_string(),
        ])
        .trim(),
    )
    .expect("qf sweep --json");
    let done = server.wait_for(
        &token,
        &format!("/v1/sweeps/{sweep_id}"),
        "status",
        FINISHED,
        Duration::from_secs(120),
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    let result = &done["result"];
    assert_eq!(result["combinations"], 4, "{result}");
    assert_eq!(
        keys(result),
        keys(&cli_sweep),
        "the API's sweep result and `qf sweep --json`"
    );
    assert_eq!(result["top"], cli_sweep["top"], "ranked rows");
    let table = server
        .get(&format!("/v1/sweeps/{sweep_id}/table"))
        .auth(&token)
        .send();
    assert_eq!(table.status, 200, "{table:?}");
    assert!(
        table
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/csv")),
        "{table:?}"
    );
    assert_eq!(
        table.text(),
        read(&table_csv),
        "sweep table: API and `qf sweep --csv`"
    );

    // Lists agree: two backtests, one sweep, three jobs that each ran once.
    assert_eq!(count(&server, &token, "/v1/backtests"), 2);
    assert_eq!(count(&server, &token, "/v1/sweeps"), 1);
    let jobs = server.get("/v1/jobs").auth(&token).send().ok(200);
    let jobs = jobs["items"].as_array().expect("items").clone();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    for j in &jobs {
        assert_eq!(
            (j["state"].as_str(), j["attempts"].as_i64()),
            (Some("succeeded"), Some(1)),
            "{j}"
        );
    }
    let filtered = server
        .get(&format!("/v1/backtests?strategy_id={py_id}"))
        .auth(&token)
        .send()
        .ok(200);
    assert_eq!(
        filtered["items"].as_array().map(Vec::len),
        Some(1),
        "{filtered}"
    );
    assert_eq!(filtered["items"][0]["id"], run_id.as_str());

    // Refresh rotates the pair: the old token and the old refresh token stop working.
    let refreshed = server
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .ok(200);
    let token2 = str_of(&refreshed, "token");
    assert_ne!(token2, token);
    server.get("/v1/tenant").auth(&token).send().problem(401);
    server.get("/v1/tenant").auth(&token2).send().ok(200);
    // The rotated-away refresh token used again was copied: the whole session goes.
    server
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .problem(401);
    server.get("/v1/tenant").auth(&token2).send().problem(401);
    // Logout ends a session at once, refresh token included.
    let session = server
        .post("/v1/auth/login")
        .json(&json!({"email": "dev@acme.test", "password": PASSWORD}))
        .send()
        .ok(200);
    let token3 = str_of(&session, "token");
    server.get("/v1/tenant").auth(&token3).send().ok(200);
    let out = server.post("/v1/auth/logout").auth(&token3).send();
    assert_eq!(out.status, 204, "{out:?}");
    server.get("/v1/tenant").auth(&token3).send().problem(401);
    server
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": session["refresh_token"]}))
        .send()
        .problem(401);
    // The owner's session and key are untouched.
    server
        .get("/v1/tenant")
        .auth(&str_of(&owner, "token"))
        .send()
        .ok(200);
    server.get("/v1/tenant").auth(&t.key).send().ok(200);
}

/// A snapshot of everything a refused request must not change: every list's length and
/// every stored file.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    counts: Vec<(&'static str, usize)>,
    files: Vec<String>,
}

fn snapshot(d: &Deployment, server: &Server, owner: &str) -> Snapshot {
    let mut counts = Vec::new();
    for path in [
        "/v1/datasets",
        "/v1/strategies",
        "/v1/backtests",
        "/v1/sweeps",
        "/v1/jobs",
    ] {
        counts.push((path, count(server, owner, path)));
    }
    for path in ["/v1/api-keys", "/v1/members", "/v1/invitations"] {
        let v = server.get(path).auth(owner).send().ok(200);
        counts.push((path, v.as_array().map_or(usize::MAX, Vec::len)));
    }
    Snapshot {
        counts,
        files: d.stored_files(),
    }
}

fn detail(p: &Value) -> String {
    p["detail"].as_str().unwrap_or_default().to_string()
}

#[track_caller]
fn type_is(p: &Value, slug: &str) {
    let ty = p["type"].as_str().unwrap_or_default();
    assert!(
        ty.ends_with(&format!("/{slug}")),
        "expected a {slug} problem: {p}"
    );
}

/// A tenant with a dataset, a Python and a built-in strategy, on a server with small body
/// limits, 2 s sessions, no rate limit to speak of and no workers (nothing submitted here
/// may run, and nothing should even be queued).
struct Careful {
    // Declared before the deployment: the server stops before its database goes.
    server: Server,
    d: Deployment,
    tenant: api_support::Tenant,
    dataset_id: String,
    strategy_id: String,
    /// The sample CSV uploaded as the dataset.
    good_csv: Vec<u8>,
    before: Snapshot,
}

impl Careful {
    fn new(backend: Backend) -> Option<Careful> {
        let mut d = Deployment::new(backend)?;
        d.set("QF_LIMITS_JSON_MAX_BYTES", "8192")
            .set("QF_LIMITS_UPLOAD_MAX_BYTES", "200000")
            .set("QF_AUTH_SESSION_TTL_SECS", "2")
            .set("QF_RATE_LIMIT_REQUESTS_PER_SECOND", "100000")
            .set("QF_RATE_LIMIT_BURST", "100000");
        let tenant = d.create_tenant("Careful Ltd", None);
        d.create_user("dev@careful.test", &tenant.id, "developer");
        let server = d.serve(&["--workers", "0"]);
        let key = tenant.key.as_str();
        let good = d.path("good.csv");
        api_support::write_sample_csv(&good, 1_500, 3);
        let good_csv = std::fs::read(&good).expect("csv");
        assert!(good_csv.len() < 200_000, "{}", good_csv.len());
        let ds = server
            .post("/v1/datasets")
            .auth(key)
            .multipart(&[("file", Some("good.csv"), &good_csv)])
            .send()
            .ok(201);
        let strategy = server
            .post("/v1/strategies")
            .auth(key)
            .json(&json!({"name": "py", "kind": "python", "source": sma_cross_py()}))
            .send()
            .ok(201);
        server
            .post("/v1/strategies")
            .auth(key)
            .json(&json!({"name": "builtin", "kind": "builtin", "source": "sma_cross"}))
            .send()
            .ok(201);
        let before = snapshot(&d, &server, key);
        assert_eq!(before.counts[0], ("/v1/datasets", 1));
        assert!(
            before.files.iter().any(|f| f.starts_with("objects/")),
            "{before:?}"
        );
        Some(Careful {
            dataset_id: str_of(&ds, "id"),
            strategy_id: str_of(&strategy, "id"),
            server,
            d,
            tenant,
            good_csv,
            before,
        })
    }

    fn key(&self) -> &str {
        &self.tenant.key
    }

    fn post_json(&self, path: &str, body: &str) -> api_support::Resp {
        self.server
            .post(path)
            .auth(self.key())
            .body("application/json", body.as_bytes().to_vec())
            .send()
    }

    /// A valid backtest body with `extra` merged in.
    fn backtest(&self, extra: Value) -> Value {
        let mut b = json!({
            "dataset_id": self.dataset_id, "strategy_id": self.strategy_id,
            "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
        });
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    }

    fn submit(&self, extra: Value) -> api_support::Resp {
        self.server
            .post("/v1/backtests")
            .auth(self.key())
            .json(&self.backtest(extra))
            .send()
    }

    #[track_caller]
    fn unchanged(&self, after: &str) {
        assert_eq!(
            snapshot(&self.d, &self.server, self.key()),
            self.before,
            "{after} changed something"
        );
    }
}

/// Malformed JSON, wrong types, unknown fields, unacceptable values, invalid strategy code
/// and oversized bodies: each a 4xx problem that changes nothing.
fn bad_json_bodies_are_problems_that_change_nothing(backend: Backend) {
    let Some(c) = Careful::new(backend) else {
        return;
    };
    let (server, key) = (&c.server, c.key());

    // Malformed JSON: 400 invalid-body.
    let p = c
        .post_json("/v1/strategies", r#"{"name": "x", "kind": "python","#)
        .problem(400);
    type_is(&p, "invalid-body");
    let p = c
        .post_json("/v1/backtests", r#"{"dataset_id": "#)
        .problem(400);
    type_is(&p, "invalid-body");
    c.post_json("/v1/backtests", "[1, 2]").client_problem();
    c.post_json("/v1/api-keys", "").client_problem();
    // Not JSON by its content type: 415.
    let p = server
        .post("/v1/strategies")
        .auth(key)
        .body(
            "text/plain",
            br#"{"name": "x", "kind": "builtin", "source": "sma_cross"}"#.to_vec(),
        )
        .send()
        .problem(415);
    type_is(&p, "unsupported-media-type");
    c.unchanged("malformed JSON");

    // Wrong types.
    let p = c
        .post_json(
            "/v1/strategies",
            r#"{"name": 5, "kind": "python", "source": "x"}"#,
        )
        .problem(422);
    assert!(
        p["errors"][0]["field"] == "name" || detail(&p).contains("name"),
        "{p}"
    );
    c.submit(json!({"dataset_id": 5})).client_problem();
    c.submit(json!({"params": "fast=10"})).client_problem();
    c.submit(json!({"cash": true})).client_problem();
    c.submit(json!({"params": {"fast": "ten", "slow": 30}}))
        .client_problem();
    server
        .post("/v1/api-keys")
        .auth(key)
        .json(&json!({"name": ["k"]}))
        .send()
        .client_problem();
    c.unchanged("a body with a wrong type");

    // Unknown fields, named in the problem.
    let p = c
        .post_json(
            "/v1/strategies",
            r#"{"name": "x", "kind": "builtin", "source": "sma_cross", "visibility": "public"}"#,
        )
        .client_problem();
    assert!(
        p.to_string().contains("visibility"),
        "the problem names the field: {p}"
    );
    let p = c.submit(json!({"casch": "100"})).client_problem();
    assert!(
        p.to_string().contains("casch"),
        "the problem names the field: {p}"
    );
    server
        .post("/v1/sweeps")
        .auth(key)
        .json(&c.backtest(json!({"grid": {"fast": [5, 10]}, "gird": 1})))
        .send()
        .client_problem();
    server
        .post("/v1/api-keys")
        .auth(key)
        .json(&json!({"name": "k", "role": "viewer", "admin": true}))
        .send()
        .client_problem();
    server
        .post("/v1/auth/login")
        .json(&json!({"email": "dev@careful.test", "password": PASSWORD, "remember": true}))
        .send()
        .client_problem();
    c.unchanged("a body with an unknown field");

    // Values that parse but are not acceptable.
    c.submit(json!({"params": {"fast": 0, "slow": 30}}))
        .client_problem();
    c.submit(json!({"params": {"fats": 10}})).client_problem();
    c.submit(json!({"cash": "-5"})).client_problem();
    c.submit(json!({"size": "10", "percent": 95}))
        .client_problem();
    for body in [
        json!({"name": "x", "kind": "cobol", "source": "x"}),
        json!({"name": "x", "kind": "builtin", "source": "no_such_builtin"}),
        json!({"name": "  ", "kind": "builtin", "source": "sma_cross"}),
    ] {
        server
            .post("/v1/strategies")
            .auth(key)
            .json(&body)
            .send()
            .problem(422);
    }
    // A strategy name is unique in the tenant.
    server
        .post("/v1/strategies")
        .auth(key)
        .json(&json!({"name": "py", "kind": "builtin", "source": "sma_cross"}))
        .send()
        .problem(409);
    // Ids that name nothing.
    c.submit(json!({"dataset_id": "ds_0123456789abcdef0123456789abcdef"}))
        .problem(404);
    c.unchanged("an unacceptable value");

    // Invalid Python: 422 with every problem at its line and column.
    let bad_py =
        "STATES = [\"flat\"]\n\n\ndef on_bar():\n    x = open(\"/etc/passwd\")\n    return None\n";
    for path in ["/v1/strategies", "/v1/strategies/validate"] {
        let p = server
            .post(path)
            .auth(key)
            .json(&json!({"name": "bad", "kind": "python", "source": bad_py}))
            .send()
            .problem(422);
        type_is(&p, "strategy-invalid");
        let e = &p["errors"][0];
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(5), Some(9)),
            "{p}"
        );
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains("open")),
            "{p}"
        );
    }
    let v = server
        .post(&format!("/v1/strategies/{}/versions", c.strategy_id))
        .auth(key)
        .json(&json!({"source": bad_py}))
        .send()
        .problem(422);
    assert_eq!(v["errors"][0]["line"], 5, "{v}");
    // A valid one validates without being saved.
    let v = server
        .post("/v1/strategies/validate")
        .auth(key)
        .json(&json!({"name": "ok", "kind": "python", "source": sma_cross_py()}))
        .send()
        .ok(200);
    assert_eq!(v["valid"], true);
    let versions = server
        .get(&format!("/v1/strategies/{}/versions", c.strategy_id))
        .auth(key)
        .send()
        .ok(200);
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions}");
    c.unchanged("invalid strategy code");

    // Oversized JSON: 413 before anything is parsed.
    let big_source = format!("{}\n# {}\n", sma_cross_py(), "x".repeat(10_000));
    let p = server
        .post("/v1/strategies")
        .auth(key)
        .json(&json!({"name": "big", "kind": "python", "source": big_source}))
        .send()
        .problem(413);
    type_is(&p, "payload-too-large");
    let p = c.submit(json!({"note": "x".repeat(10_000)})).problem(413);
    type_is(&p, "payload-too-large");
    c.unchanged("an oversized JSON body");
}

/// Oversized, broken, empty and malformed uploads: 4xx problems, no dataset, no file left
/// behind.
fn bad_uploads_are_problems_that_leave_no_files(backend: Backend) {
    let Some(c) = Careful::new(backend) else {
        return;
    };
    let (server, key) = (&c.server, c.key());

    let big = c.d.path("big.csv");
    api_support::write_sample_csv(&big, 5_000, 4);
    let big_bytes = std::fs::read(&big).expect("csv");
    assert!(big_bytes.len() > 200_000, "{}", big_bytes.len());
    let p = server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[("file", Some("big.csv"), &big_bytes)])
        .send()
        .problem(413);
    type_is(&p, "payload-too-large");
    c.unchanged("an oversized form upload");
    let p = server
        .post("/v1/datasets?name=raw")
        .auth(key)
        .body("text/csv", big_bytes.clone())
        .send()
        .problem(413);
    type_is(&p, "payload-too-large");
    c.unchanged("an oversized raw upload");

    // A broken row: 422 naming the line.
    let broken = "timestamp,open,high,low,close,volume\n\
                  1577836800,100.00,101.00,99.00,100.50,10\n\
                  1577836860,100.50,101.50,99.50,101.00,11\n\
                  1577836920,101.00,102.00,100.00,101.50,12\n\
                  1577836980,101.50,abc,100.50,102.00,13\n\
                  1577837040,102.00,103.00,101.00,102.50,14\n";
    let p = server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[
            ("name", None, b"broken"),
            ("file", Some("broken.csv"), broken.as_bytes()),
        ])
        .send()
        .problem(422);
    assert!(
        detail(&p).contains("line 5"),
        "the problem names line 5: {p}"
    );
    c.unchanged("a CSV with a broken row");
    // Rows out of order.
    let unordered = "timestamp,open,high,low,close,volume\n\
                     1577836860,100.00,101.00,99.00,100.50,10\n\
                     1577836800,100.50,101.50,99.50,101.00,11\n";
    server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[("file", Some("unordered.csv"), unordered.as_bytes())])
        .send()
        .problem(422);
    // Not a CSV of bars at all.
    server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[("file", Some("notes.csv"), b"hello\nworld\n")])
        .send()
        .problem(422);
    // An empty file, a form without a file, a form with a stray field, a bad format.
    server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[("file", Some("empty.csv"), b"")])
        .send()
        .client_problem();
    server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[("name", None, b"no file")])
        .send()
        .client_problem();
    server
        .post("/v1/datasets")
        .auth(key)
        .multipart(&[
            ("file", Some("good.csv"), &c.good_csv),
            ("colour", None, b"blue"),
        ])
        .send()
        .client_problem();
    server
        .post("/v1/datasets?format=xlsx")
        .auth(key)
        .body("application/octet-stream", c.good_csv.clone())
        .send()
        .client_problem();
    c.unchanged("a malformed upload");
}

/// Cursors from another list or order, bad query strings, unknown paths and methods: 4xx
/// problems.
fn bad_queries_cursors_and_paths_are_problems(backend: Backend) {
    let Some(c) = Careful::new(backend) else {
        return;
    };
    let (server, key) = (&c.server, c.key());

    // Cursors belong to one list in one order.
    let page = server
        .get("/v1/strategies?limit=1")
        .auth(key)
        .send()
        .ok(200);
    let cursor = str_of(&page, "next_cursor");
    server
        .get(&format!("/v1/strategies?limit=1&cursor={cursor}"))
        .auth(key)
        .send()
        .ok(200);
    let p = server
        .get(&format!("/v1/datasets?cursor={cursor}"))
        .auth(key)
        .send()
        .problem(400);
    type_is(&p, "invalid-cursor");
    let p = server
        .get(&format!("/v1/strategies?order=asc&cursor={cursor}"))
        .auth(key)
        .send()
        .problem(400);
    type_is(&p, "invalid-cursor");
    let p = server
        .get("/v1/jobs?cursor=not-a-cursor")
        .auth(key)
        .send()
        .problem(400);
    type_is(&p, "invalid-cursor");

    // Paths and methods that do not exist.
    server.get("/v1/nothing-here").auth(key).send().problem(404);
    server.delete("/v1/tenant").auth(key).send().problem(405);
    server
        .get("/v1/datasets/not-an-id")
        .auth(key)
        .send()
        .problem(404);

    // Query strings are checked as strictly as bodies: each bad one a 4xx problem (all
    // checked, then every miss reported at once).
    let mut misses = Vec::new();
    for query in [
        "/v1/datasets?limit=0",
        "/v1/datasets?limit=ten",
        "/v1/datasets?colour=blue",
        "/v1/backtests?status=sleeping",
        "/v1/jobs?order=sideways",
        "/v1/strategies?kind=python&limit=-1",
        "/v1/strategies/{strategy}?version=latest",
        "/v1/strategies/{strategy}?version=1&colour=blue",
    ] {
        let path = query.replace("{strategy}", &c.strategy_id);
        let r = server.get(&path).auth(key).send();
        let problem = r
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/problem+json"));
        if !(400..500).contains(&r.status) || !problem {
            misses.push(format!("{r:?}"));
        }
    }
    assert!(
        misses.is_empty(),
        "bad query strings without a 4xx problem:\n{}",
        misses.join("\n")
    );
    c.unchanged("a bad query");
}

/// No credential, a malformed one, an unknown, revoked or expired key, an expired or ended
/// session: 401 problems.
fn bad_credentials_are_401(backend: Backend) {
    let Some(c) = Careful::new(backend) else {
        return;
    };
    let (server, key) = (&c.server, c.key());

    let p = server.get("/v1/datasets").send().problem(401);
    type_is(&p, "unauthorized");
    let r = server
        .get("/v1/datasets")
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send();
    r.problem(401);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{r:?}"
    );
    server
        .get("/v1/datasets")
        .auth("qf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .problem(401);
    server
        .get("/v1/datasets")
        .auth("qfs_nope")
        .send()
        .problem(401);
    server.get("/v1/datasets").auth("").send().problem(401);
    c.unchanged("a bad credential");

    // A revoked key stops working at once.
    let k = server
        .post("/v1/api-keys")
        .auth(key)
        .json(&json!({"name": "temporary", "role": "developer"}))
        .send()
        .ok(201);
    let temp = str_of(&k, "key");
    server.get("/v1/datasets").auth(&temp).send().ok(200);
    let revoked = server
        .delete(&format!("/v1/api-keys/{}", str_of(&k, "id")))
        .auth(key)
        .send()
        .ok(200);
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    assert!(
        revoked.get("key").is_none_or(Value::is_null),
        "the secret is shown once: {revoked}"
    );
    server.get("/v1/datasets").auth(&temp).send().problem(401);
    let listed = server.get("/v1/api-keys").auth(key).send();
    assert!(
        !listed.text().contains(&temp),
        "a listing shows a secret: {listed:?}"
    );

    // An expired key: one that expired a second ago (no command makes one, so through the
    // store, the way the server itself issues keys).
    let tenant = qf_store::TenantId::parse(&c.tenant.id).expect("tenant id");
    let expired = c.d.with_store(async |store| {
        let past = qf_store::now_ns() - 1_000_000_000;
        let (_, secret) = qf_server::routes::tenant::issue_key(
            store,
            &tenant,
            "expired",
            qf_store::Role::Owner,
            &["read".to_string()],
            None,
            Some(past),
        )
        .await
        .expect("key issued");
        secret
    });
    server
        .get("/v1/datasets")
        .auth(&expired)
        .send()
        .problem(401);
    let fresh = c.d.qf_json(&[
        "admin",
        "key",
        "create",
        "--tenant",
        &c.tenant.id,
        "--role",
        "viewer",
        "--expires-in-days",
        "1",
        "--json",
    ]);
    server
        .get("/v1/datasets")
        .auth(&str_of(&fresh, "api_key"))
        .send()
        .ok(200);

    // An expired session (the access token lives 2 s here); its refresh token still works.
    let login = server
        .post("/v1/auth/login")
        .json(&json!({"email": "dev@careful.test", "password": PASSWORD}))
        .send()
        .ok(200);
    let token = str_of(&login, "token");
    server.get("/v1/datasets").auth(&token).send().ok(200);
    std::thread::sleep(Duration::from_millis(2_500));
    server.get("/v1/datasets").auth(&token).send().problem(401);
    let again = server
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .ok(200);
    let token2 = str_of(&again, "token");
    server.get("/v1/datasets").auth(&token2).send().ok(200);
    // An ended session.
    server.post("/v1/auth/logout").auth(&token2).send().ok(204);
    server.get("/v1/datasets").auth(&token2).send().problem(401);
    // An API key has no session to end.
    server.post("/v1/auth/logout").auth(key).send().problem(400);
}

/// `Idempotency-Key`: a retry gets the first answer and creates nothing; the same key with
/// another body is refused; keys are per tenant.
fn idempotency_key_replays_the_first_answer(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let t = d.create_tenant("Retry Inc", None);
    let other = d.create_tenant("Other Inc", None);
    let server = d.serve(&["--workers", "0"]);
    let key = t.key.as_str();

    // Datasets.
    let csv = d.path("bars.csv");
    api_support::write_sample_csv(&csv, 1_000, 5);
    let bytes = std::fs::read(&csv).expect("csv");
    let upload = |idem: &str, name: &[u8]| {
        server
            .post("/v1/datasets")
            .auth(key)
            .header("Idempotency-Key", idem)
            .multipart(&[("name", None, name), ("file", Some("bars.csv"), &bytes)])
            .send()
    };
    let first = upload("ds-1", b"bars").ok(201);
    let files = d.stored_files();
    let again = upload("ds-1", b"bars");
    assert_eq!(again.ok(201)["id"], first["id"], "{again:?}");
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{again:?}"
    );
    assert_eq!(d.stored_files(), files, "a replayed upload stored files");
    upload("ds-1", b"other name").client_problem();
    assert_eq!(count(&server, key, "/v1/datasets"), 1);
    let dataset_id = str_of(&first, "id");

    // Strategies.
    let create = |idem: &str, name: &str| {
        server
            .post("/v1/strategies")
            .auth(key)
            .header("Idempotency-Key", idem)
            .json(&json!({"name": name, "kind": "builtin", "source": "sma_cross"}))
            .send()
    };
    let s1 = create("strategy-1", "sma").ok(201);
    let s2 = create("strategy-1", "sma");
    assert_eq!(s2.ok(201)["id"], s1["id"], "{s2:?}");
    assert_eq!(s2.header("idempotent-replayed"), Some("true"));
    create("strategy-1", "another name").client_problem();
    assert_eq!(count(&server, key, "/v1/strategies"), 1);
    // Without the key the same body is a second request (a name conflict here).
    create("strategy-2", "sma").problem(409);
    // Keys are per tenant: the same key in another tenant is a new request.
    let theirs = server
        .post("/v1/strategies")
        .auth(&other.key)
        .header("Idempotency-Key", "strategy-1")
        .json(&json!({"name": "sma", "kind": "builtin", "source": "sma_cross"}))
        .send()
        .ok(201);
    assert_ne!(theirs["id"], s1["id"]);

    // Backtests: one run and one job however often the request is retried.
    let body = json!({
        "dataset_id": dataset_id, "strategy_id": s1["id"],
        "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
    });
    let submit = |idem: &str, body: &Value| {
        server
            .post("/v1/backtests")
            .auth(key)
            .header("Idempotency-Key", idem)
            .json(body)
            .send()
    };
    let r1 = submit("run-1", &body).ok(202);
    for _ in 0..2 {
        let r = submit("run-1", &body);
        assert_eq!(r.ok(202)["id"], r1["id"], "{r:?}");
    }
    let mut changed = body.clone();
    changed["size"] = json!("20");
    submit("run-1", &changed).client_problem();
    assert_eq!(count(&server, key, "/v1/backtests"), 1);
    assert_eq!(count(&server, key, "/v1/jobs"), 1);
    let r2 = submit("run-2", &body).ok(202);
    assert_ne!(r2["id"], r1["id"]);
    assert_eq!(count(&server, key, "/v1/backtests"), 2);
    assert_eq!(count(&server, key, "/v1/jobs"), 2);
    // A key too long to be one.
    submit(&"k".repeat(300), &body).client_problem();
    assert_eq!(count(&server, key, "/v1/backtests"), 2);
}

/// Over the limit: 429 with Retry-After and RateLimit-* headers, per credential.
fn rate_limit_answers_429_with_headers(backend: Backend) {
    let Some(mut d) = Deployment::new(backend) else {
        return;
    };
    d.set("QF_RATE_LIMIT_REQUESTS_PER_SECOND", "1")
        .set("QF_RATE_LIMIT_BURST", "3");
    let t = d.create_tenant("Busy Co", None);
    let second = d.qf_json(&[
        "admin", "key", "create", "--tenant", &t.id, "--role", "viewer", "--json",
    ]);
    let server = d.serve(&["--workers", "0"]);

    let first = server.get("/v1/tenant").auth(&t.key).send();
    assert_eq!(first.status, 200, "{first:?}");
    // The quota is the sustained rate per one-second window; the burst is in the policy.
    // Remaining never reads above the quota, though the bucket still holds 2.
    assert_eq!(first.header("ratelimit-limit"), Some("1"), "{first:?}");
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("1;w=1;burst=3"),
        "{first:?}"
    );
    assert_eq!(first.header("ratelimit-remaining"), Some("1"), "{first:?}");
    assert!(first.header("ratelimit-reset").is_some(), "{first:?}");
    let mut limited = None;
    for _ in 0..10 {
        let r = server.get("/v1/tenant").auth(&t.key).send();
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{r:?}");
    }
    let r = limited.expect("no 429 within 11 requests at 1/s with a burst of 3");
    let p = r.problem(429);
    type_is(&p, "rate-limited");
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in whole seconds: {r:?}"));
    assert!((1..=3).contains(&retry), "{r:?}");
    assert_eq!(r.header("ratelimit-limit"), Some("1"), "{r:?}");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"), "{r:?}");
    assert!(
        r.header("ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some(),
        "{r:?}"
    );

    // Another credential has its own budget.
    server
        .get("/v1/tenant")
        .auth(&str_of(&second, "api_key"))
        .send()
        .ok(200);
    // After Retry-After the first works again.
    std::thread::sleep(Duration::from_secs(retry) + Duration::from_millis(100));
    server.get("/v1/tenant").auth(&t.key).send().ok(200);
}

/// Health, readiness and metrics; request ids from header to log; no secret in the logs.
fn operations_endpoints_request_ids_and_logs(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let t = d.create_tenant("Ops Ltd", Some("ops@ops.test"));
    let server = d.serve(&["--workers", "0"]);

    let h = server.get("/healthz").send().ok(200);
    assert_eq!(h["status"], "ok");
    let r = server.get("/readyz").send().ok(200);
    assert_eq!(r["status"], "ready", "{r}");
    assert_eq!(
        (r["database"].as_str(), r["object_store"].as_str()),
        (Some("ok"), Some("ok")),
        "{r}"
    );

    // A queued job for the jobs gauge (no workers here, so it stays queued).
    let csv = d.path("bars.csv");
    api_support::write_sample_csv(&csv, 500, 9);
    let ds = server
        .post("/v1/datasets")
        .auth(&t.key)
        .multipart(&[("file", Some("bars.csv"), &std::fs::read(&csv).expect("csv"))])
        .send()
        .ok(201);
    let st = server
        .post("/v1/strategies")
        .auth(&t.key)
        .json(&json!({"name": "sma", "kind": "builtin", "source": "sma_cross"}))
        .send()
        .ok(201);
    server
        .post("/v1/backtests")
        .auth(&t.key)
        .json(&json!({"dataset_id": ds["id"], "strategy_id": st["id"], "params": {"fast": 5, "slow": 20}}))
        .send()
        .ok(202);

    let m = server.get("/metrics").send();
    assert_eq!(m.status, 200, "{m:?}");
    let text = m.text();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/v1/backtests\"")),
        "http_requests_total by route: {text}"
    );
    assert!(
        text.contains("# TYPE qf_jobs gauge"),
        "a jobs gauge: {text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("qf_jobs{")
            && l.contains("state=\"queued\"")
            && l.ends_with(" 1")),
        "one queued job in qf_jobs: {text}"
    );
    assert!(!text.contains(&t.id), "no tenant ids in metrics labels");

    // X-Request-Id: a caller's id is echoed, else one is made; either way it is on the log.
    let mine = "api-test-req-42.x";
    let r = server
        .get("/v1/tenant")
        .auth(&t.key)
        .header("X-Request-Id", mine)
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-request-id"), Some(mine));
    let made = server.get("/v1/tenant").auth(&t.key).send();
    let made_id = made
        .header("x-request-id")
        .expect("a request id")
        .to_string();
    assert!(!made_id.is_empty() && made_id != mine);
    let forged = server
        .get("/healthz")
        .header("X-Request-Id", "evil\" id")
        .send();
    assert_ne!(forged.header("x-request-id"), Some("evil\" id"));

    // Secrets in use: the owner key (also on a failing request), a password, session and
    // refresh tokens, a key made through the API, and an unknown key.
    server
        .get("/v1/datasets/ds_0123456789abcdef0123456789abcdef")
        .auth(&t.key)
        .send()
        .problem(404);
    let login = server
        .post("/v1/auth/login")
        .json(&json!({"email": "ops@ops.test", "password": PASSWORD}))
        .send()
        .ok(200);
    let token = str_of(&login, "token");
    let refresh = str_of(&login, "refresh_token");
    let new_key = str_of(
        &server
            .post("/v1/api-keys")
            .auth(&token)
            .json(&json!({"name": "ci", "role": "viewer"}))
            .send()
            .ok(201),
        "key",
    );
    server.get("/v1/jobs").auth(&new_key).send().ok(200);
    let unknown = "qf_ZZZZunknownZZZZkeyZZZZthatZZZZisZZZZnotZZ";
    server.get("/v1/jobs").auth(unknown).send().problem(401);
    server
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": refresh}))
        .send()
        .ok(200);
    server
        .post("/v1/auth/login")
        .json(&json!({"email": "ops@ops.test", "password": "wrong password 123"}))
        .send()
        .problem(401);

    // The request lines reach the log (written by another thread: wait a little).
    let deadline = Instant::now() + Duration::from_secs(10);
    let has = |id: &str| {
        server
            .process
            .log_lines()
            .iter()
            .any(|l| l["request_id"] == id && l["status"].is_u64())
    };
    while !(has(mine) && has(&made_id)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = server.process.log_lines();
    let line = lines
        .iter()
        .find(|l| l["request_id"] == mine && l["status"].is_u64())
        .unwrap_or_else(|| {
            panic!(
                "no log line with request_id {mine}:\n{}",
                server.process.logs()
            )
        });
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["route"], "/v1/tenant", "{line}");
    assert!(
        has(&made_id),
        "no log line with the generated request id {made_id}"
    );
    let logs = server.process.logs();
    for (what, secret) in [
        ("the owner API key", t.key.as_str()),
        ("an API key made through the API", new_key.as_str()),
        ("an unknown API key", unknown),
        ("a session token", token.as_str()),
        ("a refresh token", refresh.as_str()),
        ("a password", PASSWORD),
        ("a wrong password", "wrong password 123"),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs");
    }
    // Nor the long random part of a key on its own.
    assert!(
        !logs.contains(&t.key[11..]),
        "the secret part of the owner key is in the logs"
    );
}

/// `/v1/openapi.json` is OpenAPI 3.1 and documents every route of the router, and nothing
/// else; `/v1/docs` is the page that renders it.
fn openapi_document_covers_the_router(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let server = d.serve(&["--workers", "0"]);
    let doc = server.get("/v1/openapi.json").send().ok(200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = api_support::router_routes().into_iter().collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from /v1/openapi.json: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        extra.is_empty(),
        "documented operations no route serves: {extra:?}"
    );
    let page = server.get("/v1/docs").send();
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{page:?}"
    );
    assert!(
        page.text().contains("openapi.json"),
        "the page loads the document"
    );
}

/// Where `value` does not fit `schema` of the OpenAPI document `doc` (the JSON Schema that
/// utoipa writes: `$ref`, `type`, `required`, `properties`, `additionalProperties`, `items`,
/// `allOf`, `oneOf`), each as `pointer: what`.
fn misfits(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{at}: dangling {r}");
        return misfits(doc, target, value, at, out);
    }
    for s in schema["allOf"].as_array().into_iter().flatten() {
        misfits(doc, s, value, at, out);
    }
    if let Some(one) = schema["oneOf"].as_array() {
        let fits = one
            .iter()
            .filter(|s| {
                let mut o = Vec::new();
                misfits(doc, s, value, at, &mut o);
                o.is_empty()
            })
            .count();
        if fits == 0 {
            out.push(format!("{at}: {value} fits none of {one:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits_type = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|t| fits_type(t)) {
        out.push(format!("{at}: {value} is not {}", types.join(" or ")));
        return;
    }
    if let Some(obj) = value.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                out.push(format!("{at}: the required `{r}` is missing"));
            }
        }
        for (k, v) in obj {
            let here = format!("{at}/{k}");
            match (
                schema["properties"].get(k),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => misfits(doc, s, v, &here, out),
                (None, Some(Value::Bool(false))) => out.push(format!("{here}: not declared")),
                (None, Some(s)) if s.is_object() => misfits(doc, s, v, &here, out),
                _ => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            misfits(doc, items, v, &format!("{at}/{i}"), out);
        }
    }
}

/// The required fields of a schema, through `$ref` and `allOf`.
fn required_fields(doc: &Value, schema: &Value) -> BTreeSet<String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return required_fields(doc, &doc["components"]["schemas"][name]);
    }
    let mut out: BTreeSet<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(String::from))
        .collect();
    for s in schema["allOf"].as_array().into_iter().flatten() {
        out.extend(required_fields(doc, s));
    }
    out
}

/// What schemathesis found, checked: strategy responses (create, new version, one, versions,
/// validate, list) have the shapes `/v1/openapi.json` declares (`params` an object keyed by
/// name; list items with their latest `version`, `params` and `sha256`); every list takes an
/// empty `cursor=` as the first page; run submissions require `dataset_id` and
/// `strategy_id` in the document as the server does.
fn responses_have_the_shapes_the_openapi_document_declares(backend: Backend) {
    let Some(c) = Careful::new(backend) else {
        return;
    };
    let (server, key) = (&c.server, c.key());
    let doc = server.get("/v1/openapi.json").send().ok(200);
    let mut problems = Vec::new();
    let mut check = |method: &str, path: &str, status: &str, value: &Value| {
        let schema = &doc["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status}: no JSON schema in the document"
        );
        misfits(
            &doc,
            schema,
            value,
            &format!("{method} {path} {status} "),
            &mut problems,
        );
    };

    let created = server
        .post("/v1/strategies")
        .auth(key)
        .json(&json!({"name": "shapes", "kind": "python", "source": sma_cross_py()}))
        .send()
        .ok(201);
    check("post", "/v1/strategies", "201", &created);
    let id = str_of(&created, "id");
    let v2 = server
        .post(&format!("/v1/strategies/{id}/versions"))
        .auth(key)
        .json(&json!({"source": format!("{}\n# v2\n", sma_cross_py())}))
        .send()
        .ok(201);
    check("post", "/v1/strategies/{id}/versions", "201", &v2);
    let one = server
        .get(&format!("/v1/strategies/{id}"))
        .auth(key)
        .send()
        .ok(200);
    check("get", "/v1/strategies/{id}", "200", &one);
    let versions = server
        .get(&format!("/v1/strategies/{id}/versions"))
        .auth(key)
        .send()
        .ok(200);
    check("get", "/v1/strategies/{id}/versions", "200", &versions);
    let validated = server
        .post("/v1/strategies/validate")
        .auth(key)
        .json(&json!({"name": "check", "kind": "builtin", "source": "sma_cross"}))
        .send()
        .ok(200);
    check("post", "/v1/strategies/validate", "200", &validated);
    let list = server.get("/v1/strategies").auth(key).send().ok(200);
    check("get", "/v1/strategies", "200", &list);

    // `params` is an object keyed by parameter name, everywhere.
    for (what, v) in [
        ("created", &created),
        ("new version", &v2),
        ("one", &one),
        ("version 1", &versions[0]),
        ("validated", &validated),
    ] {
        let params = &v["params"];
        assert!(
            params["fast"]["default"].is_number() && params["slow"]["integer"].is_boolean(),
            "{what}: params {params}"
        );
    }
    // List items are the latest version, without its source.
    let item = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("{id} not listed: {list}"));
    assert_eq!(
        (&item["version"], &item["latest_version"]),
        (&json!(2), &json!(2)),
        "{item}"
    );
    assert_eq!(
        (&item["sha256"], &item["params"]),
        (&one["sha256"], &one["params"]),
        "{item}"
    );
    assert_ne!(
        item["sha256"], created["sha256"],
        "the latest version's digest"
    );
    assert!(item.get("source").is_none(), "{item}");

    // A queued backtest, so that every list has an item.
    let body_schema = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    for path in ["/v1/backtests", "/v1/sweeps"] {
        let required = required_fields(&doc, &body_schema(path));
        assert!(
            required.contains("dataset_id") && required.contains("strategy_id"),
            "{path}: the document requires {required:?}"
        );
    }
    let p = server
        .post("/v1/backtests")
        .auth(key)
        .json(&json!({"dataset_id": c.dataset_id}))
        .send()
        .problem(422);
    assert_eq!(p["field"], "strategy_id", "{p}");
    let queued = server
        .post("/v1/backtests")
        .auth(key)
        .json(&json!({"dataset_id": c.dataset_id, "strategy_id": id}))
        .send()
        .ok(202);
    check("post", "/v1/backtests", "202", &queued);

    // `cursor=` (empty) is the first page of every list.
    for path in [
        "/v1/datasets",
        "/v1/strategies",
        "/v1/backtests",
        "/v1/sweeps",
        "/v1/jobs",
    ] {
        let first = server.get(path).auth(key).send().ok(200);
        let empty = server
            .get(&format!("{path}?cursor="))
            .auth(key)
            .send()
            .ok(200);
        assert_eq!(empty, first, "{path}?cursor=");
        let one = server
            .get(&format!("{path}?limit=1&cursor="))
            .auth(key)
            .send()
            .ok(200);
        assert_eq!(one["items"].get(0), first["items"].get(0), "{path}");
        check("get", path, "200", &empty);
    }
    assert!(
        problems.is_empty(),
        "responses that do not fit the document:\n{}",
        problems.join("\n")
    );
}

/// Bars in the dataset of the kill -9 test: enough for the Python strategy to run for
/// several seconds in a debug build.
const BIG_BARS: usize = 1_000_000;

/// The big CSV, written once per test process (both backends use it) under Cargo's
/// per-target temporary directory, and kept for later runs.
fn big_csv() -> &'static Path {
    static CSV: OnceLock<PathBuf> = OnceLock::new();
    CSV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qf-api-tests");
        std::fs::create_dir_all(&dir).expect("target tmpdir");
        let path = dir.join(format!("bars-{BIG_BARS}-v1.csv"));
        if !path.exists() {
            let tmp = dir.join(format!("bars-{BIG_BARS}-v1.{}.tmp.csv", std::process::id()));
            api_support::write_sample_csv(&tmp, BIG_BARS, 11);
            std::fs::rename(&tmp, &path).expect("rename");
        }
        path
    })
}

/// A result without what differs between two runs of the same request: timings.
fn without_timing(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("elapsed_ms");
        o.remove("bars_per_second");
        if let Some(sb) = o.get_mut("sandbox").and_then(Value::as_object_mut) {
            sb.remove("tenant_time_ms");
        }
    }
    v
}

/// `kill -9` of a worker in the middle of a job: the lease expires, a second worker runs it
/// again, and the run succeeds once, on its second attempt, with the result a clean run
/// gets.
fn worker_killed_mid_job_is_retried_once(backend: Backend) {
    let Some(mut d) = Deployment::new(backend) else {
        return;
    };
    d.set("QF_JOBS_LEASE_SECS", "2")
        .set("QF_JOBS_HEARTBEAT_SECS", "1")
        .set("QF_JOBS_POLL_MS", "100");
    let t = d.create_tenant("Crash Test", None);
    let server = d.serve(&["--workers", "0"]);
    let key = t.key.as_str();
    let bytes = std::fs::read(big_csv()).expect("big csv");
    let ds = server
        .post("/v1/datasets")
        .auth(key)
        .body("text/csv", bytes)
        .send()
        .ok(201);
    assert_eq!(ds["rows"], BIG_BARS);
    let st = server
        .post("/v1/strategies")
        .auth(key)
        .json(&json!({"name": "sma py", "kind": "python", "source": sma_cross_py()}))
        .send()
        .ok(201);
    let body = json!({
        "dataset_id": ds["id"], "strategy_id": st["id"],
        "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
    });
    let run = server
        .post("/v1/backtests")
        .auth(key)
        .json(&body)
        .send()
        .ok(202);
    let run_id = str_of(&run, "id");
    let job_path = format!("/v1/jobs/{}", str_of(&run, "job_id"));

    let mut first = d.worker("worker-1", &["--workers", "1"]);
    let job = server.wait_for(
        key,
        &job_path,
        "state",
        &["running", "succeeded", "failed", "dead"],
        Duration::from_secs(60),
    );
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_i64()),
        (Some("running"), Some(1)),
        "{job}"
    );
    // Into the run, past a heartbeat or two.
    std::thread::sleep(Duration::from_millis(1_500));
    let job = server.get(&job_path).auth(key).send().ok(200);
    assert_eq!(
        job["state"],
        "running",
        "the job ended before the worker could be killed; give it more bars: {job}\n{}",
        first.logs()
    );
    assert!(first.is_running());
    first.kill_9();
    let killed_at = Instant::now();

    let second = d.worker("worker-2", &["--workers", "1"]);
    let done = server.wait_for(
        key,
        &format!("/v1/backtests/{run_id}"),
        "status",
        FINISHED,
        Duration::from_secs(180),
    );
    assert_eq!(done["status"], "succeeded", "{done}\n{}", second.logs());
    assert!(
        killed_at.elapsed() > Duration::from_secs(1),
        "finished before the killed worker's lease could have expired"
    );
    let job = server.get(&job_path).auth(key).send().ok(200);
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_i64()),
        (Some("succeeded"), Some(2)),
        "{job}"
    );

    // A clean run of the same request, for comparison.
    let clean = server
        .post("/v1/backtests")
        .auth(key)
        .json(&body)
        .send()
        .ok(202);
    let clean_id = str_of(&clean, "id");
    let clean_done = server.wait_for(
        key,
        &format!("/v1/backtests/{clean_id}"),
        "status",
        FINISHED,
        Duration::from_secs(180),
    );
    assert_eq!(clean_done["status"], "succeeded", "{clean_done}");
    let clean_job = server
        .get(&format!("/v1/jobs/{}", str_of(&clean, "job_id")))
        .auth(key)
        .send()
        .ok(200);
    assert_eq!(clean_job["attempts"], 1, "{clean_job}");
    assert_eq!(
        without_timing(done["result"].clone()),
        without_timing(clean_done["result"].clone()),
        "the retried run's result differs from a clean run's"
    );
    for artifact in ["trades", "equity"] {
        let a = server
            .get(&format!("/v1/backtests/{run_id}/{artifact}"))
            .auth(key)
            .send();
        let b = server
            .get(&format!("/v1/backtests/{clean_id}/{artifact}"))
            .auth(key)
            .send();
        assert_eq!((a.status, b.status), (200, 200), "{a:?} {b:?}");
        assert!(
            a.text() == b.text(),
            "{artifact} of the retried run differs from a clean run's"
        );
    }

    // Nothing twice: two runs, two jobs, one set of artifacts per run.
    assert_eq!(count(&server, key, "/v1/backtests"), 2);
    assert_eq!(count(&server, key, "/v1/jobs"), 2);
    let files = d.stored_files();
    let of = |id: &str| -> Vec<String> {
        files
            .iter()
            .filter(|f| f.contains(id))
            .map(|f| f.rsplit('/').next().unwrap_or_default().to_string())
            .collect()
    };
    let (retried, fresh) = (of(&run_id), of(&clean_id));
    assert!(!retried.is_empty(), "no artifacts of {run_id} in {files:?}");
    assert_eq!(
        retried, fresh,
        "the retried run's stored files differ from a clean run's"
    );
    assert!(
        !files.iter().any(|f| f.starts_with("tmp/")),
        "upload leftovers: {files:?}"
    );
}
