//! A job gives what the command line gives: `qf_jobs::execute::run_backtest` and
//! `run_sweep` on the same bars, strategy and settings return the same result object
//! (timing aside), trades, equity curve, report and sweep table as `qf backtest` and
//! `qf sweep` — built-ins, rules and Python through the real sandbox worker.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};
use tempfile::TempDir;

use qf_data::{LoadOptions, SourceInfo, load_bars};
use qf_jobs::execute::{
    self, BacktestRequest, ExecError, StrategyCode, SweepRequest, compile_strategy,
};
use qf_report::tables::{self, Table};
use qf_sandbox::limits::Limits;
use qf_sandbox::pool::Pool;

mod common;
use common::walk_csv;

fn pool() -> Pool {
    Pool::new(
        env!("CARGO_BIN_EXE_qf"),
        vec!["sandbox-worker".into()],
        Limits::default(),
    )
}

/// Runs `qf` in `dir`, so files are named as the catalog names them (`bars.csv`).
fn qf_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qf"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("qf runs");
    assert!(
        out.status.success(),
        "qf {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `v` as printed and read back: serde_json reads floats to within an ulp, so values are
/// compared after the same trip through text as the command line's output takes.
fn reread(v: &Value) -> Value {
    serde_json::from_str(&v.to_string()).expect("JSON")
}

fn without_timing(mut v: Value) -> Value {
    let o = v.as_object_mut().expect("an object");
    o.remove("elapsed_ms");
    o.remove("bars_per_second");
    if let Some(sb) = o.get_mut("sandbox").and_then(Value::as_object_mut) {
        sb.remove("tenant_time_ms");
    }
    v
}

struct Case {
    dir: TempDir,
}

impl Case {
    fn new() -> Self {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("bars.csv"), walk_csv(6_000, 11, None)).unwrap();
        for f in ["python/sma_cross.py", "rules/sma_cross.toml"] {
            let src = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(f);
            std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
        }
        Case { dir }
    }

    /// The bars and their description, as `catalog::load` returns them for this file
    /// (crates/qf-server/tests/catalog.rs checks that it does).
    fn data(&self) -> (Vec<qf_core::BarSeries>, Value) {
        let loaded = load_bars(&self.dir.path().join("bars.csv"), &LoadOptions::default()).unwrap();
        let data = json!([SourceInfo::of("bars.csv", &loaded)]);
        (loaded.series, data)
    }

    fn code(&self, kind: &str, file: &str) -> StrategyCode {
        let source = match kind {
            "builtin" => file.to_string(),
            _ => std::fs::read_to_string(self.dir.path().join(file)).unwrap(),
        };
        let stem = Path::new(file).file_stem().unwrap().to_str().unwrap();
        compile_strategy(kind, stem, &source).unwrap().0
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }
}

#[test]
fn backtests_match_the_command_line_byte_for_byte() {
    let case = Case::new();
    let pool = pool();
    let cases: [(&str, &str, &str, &[&str]); 3] = [
        (
            "builtin",
            "sma_cross",
            r#"{"params": {"fast": 10, "slow": 40}, "cash": "50000", "size": 3, "fee_bps": "1.5", "fee_min": 0.5, "slippage_bps": 2}"#,
            &[
                "--param",
                "fast=10",
                "--param",
                "slow=40",
                "--cash",
                "50000",
                "--size",
                "3",
                "--fee-bps",
                "1.5",
                "--fee-min",
                "0.5",
                "--slippage-bps",
                "2",
            ],
        ),
        (
            "python",
            "sma_cross.py",
            r#"{"params": {"fast": 12, "slow": 50}, "percent": 50, "leverage": 2}"#,
            &[
                "--param",
                "fast=12",
                "--param",
                "slow=50",
                "--percent",
                "50",
                "--leverage",
                "2",
            ],
        ),
        (
            "rules",
            "sma_cross.toml",
            r#"{"percent": 90, "fill_at_close": true, "slippage_ticks": 1}"#,
            &[
                "--percent",
                "90",
                "--fill-at-close",
                "--slippage-ticks",
                "1",
            ],
        ),
    ];
    for (kind, file, request, flags) in cases {
        let req: BacktestRequest = serde_json::from_str(request).unwrap();
        let (series, data) = case.data();
        let got = execute::run_backtest(
            &case.code(kind, file),
            &req,
            series,
            data,
            &pool,
            &AtomicBool::new(false),
        )
        .unwrap_or_else(|e| panic!("{kind}: {e}"));

        let mut args = vec![
            "backtest",
            "--data",
            "bars.csv",
            "--strategy",
            file,
            "--json",
        ];
        args.extend([
            "--trades", "t.csv", "--equity", "e.csv", "--report", "r.html",
        ]);
        args.extend(flags);
        let want: Value = serde_json::from_str(qf_in(case.dir.path(), &args).trim()).unwrap();
        assert!(
            want["trades"].as_u64().unwrap() > 5,
            "{kind}: the run trades: {want}"
        );
        assert_eq!(
            without_timing(reread(&got.result)),
            without_timing(want),
            "{kind}"
        );
        assert_eq!(got.result.get("sandbox").is_some(), kind != "builtin");
        // What the worker stores is Parquet; as CSV it is the CLI's file, byte for byte.
        for (table, parquet, file) in [
            (Table::Trades, &got.trades_parquet, "t.csv"),
            (Table::Equity, &got.equity_parquet, "e.csv"),
        ] {
            let csv = tables::csv_from_parquet(table, parquet.clone().into())
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .concat();
            assert!(csv == case.read(file), "{kind} {table:?}");
        }
        assert_eq!(
            got.report_html.as_bytes(),
            case.read("r.html"),
            "{kind} report"
        );
    }
}

#[test]
fn sweeps_match_the_command_line() {
    let case = Case::new();
    let pool = pool();
    for (kind, file) in [("builtin", "sma_cross"), ("python", "sma_cross.py")] {
        let req: SweepRequest = serde_json::from_value(json!({
            "grid": {"fast": [5, 10], "slow": [30, 60]}, "sort": "total_return", "top": 3,
            "jobs": 1, "cash": "20000", "size": 2,
        }))
        .unwrap();
        let (series, data) = case.data();
        let got = execute::run_sweep(
            &case.code(kind, file),
            &req,
            series,
            data,
            &pool,
            &AtomicBool::new(false),
        )
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let out = qf_in(
            case.dir.path(),
            &[
                "sweep",
                "--data",
                "bars.csv",
                "--strategy",
                file,
                "--grid",
                "fast=5,10",
                "--grid",
                "slow=30,60",
                "--sort",
                "total_return",
                "--top",
                "3",
                "--jobs",
                "1",
                "--cash",
                "20000",
                "--size",
                "2",
                "--json",
                "--csv",
                "s.csv",
            ],
        );
        let mut want = without_timing(serde_json::from_str(out.trim()).unwrap());
        // The command line names the strategy as given (a file); a job by its name.
        want["strategy"] = json!("sma_cross");
        assert_eq!(without_timing(reread(&got.result)), want, "{kind}");
        assert_eq!(got.table_csv, case.read("s.csv"), "{kind}");
    }
}

#[test]
fn tenant_faults_are_located_and_not_retried() {
    let case = Case::new();
    let boom = std::fs::read_to_string(case.dir.path().join("sma_cross.py"))
        .unwrap()
        .replace(
            "    if prev_fast_ma is None",
            "    x = 1 / 0\n    if prev_fast_ma is None",
        );
    let (code, _) = compile_strategy("python", "boom", &boom).unwrap();
    let (series, data) = case.data();
    let e = execute::run_backtest(
        &code,
        &BacktestRequest::default(),
        series,
        data,
        &pool(),
        &AtomicBool::new(false),
    )
    .unwrap_err();
    let ExecError::Tenant { problem } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        problem["type"],
        "https://quantforge.dev/problems/strategy-failed"
    );
    assert_eq!(problem["kind"], "exception");
    assert_eq!(problem["file"], "boom.py");
    assert_eq!(problem["line"], 23);
    assert!(problem["column"].as_u64().unwrap() > 0, "{problem}");
    assert_eq!(problem["bar"]["index"], 0, "{problem}");
    assert!(e.to_string().contains("ZeroDivisionError"), "{e}");
    assert!(!e.retryable());
    assert_eq!(e.problem(), *problem);
}

#[test]
fn impossible_requests_and_cancelled_runs_stop_before_any_work() {
    let case = Case::new();
    let pool = pool();
    for (kind, file) in [
        ("builtin", "sma_cross"),
        ("python", "sma_cross.py"),
        ("rules", "sma_cross.toml"),
    ] {
        let code = case.code(kind, file);
        let (series, data) = case.data();
        let req: BacktestRequest =
            serde_json::from_str(r#"{"params": {"fast": 30, "slow": 10}}"#).unwrap();
        match execute::run_backtest(&code, &req, series, data, &pool, &AtomicBool::new(false)) {
            // Python declares no `requires`: its own code decides; the others refuse.
            Ok(_) => assert_eq!(kind, "python"),
            Err(e) => assert!(
                matches!(e, ExecError::Invalid(_)) && !e.retryable(),
                "{kind}: {e:?}"
            ),
        }
        let (series, data) = case.data();
        let cancelled = AtomicBool::new(true);
        let e = execute::run_backtest(
            &code,
            &BacktestRequest::default(),
            series,
            data,
            &pool,
            &cancelled,
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::Cancelled), "{kind}: {e:?}");
        let (series, data) = case.data();
        let req: SweepRequest = serde_json::from_str(r#"{"grid": {"fast": [5, 10]}}"#).unwrap();
        let e = execute::run_sweep(&code, &req, series, data, &pool, &cancelled).unwrap_err();
        assert!(matches!(e, ExecError::Cancelled), "{kind}: {e:?}");
    }
}
