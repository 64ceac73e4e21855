//! Tenant strategy files through the `qf` command line: check, backtest, sweep, reports and
//! errors, as a user runs them.

use serde_json::Value;

mod common;
use common::{Dir, fails, ok, walk_csv};

const PY_SMA: &str = "examples/python/sma_cross.py";
const RULES_SMA: &str = "examples/rules/sma_cross.toml";

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).expect("one JSON object")
}

#[test]
fn every_example_strategy_checks_clean() {
    for file in [
        PY_SMA,
        "examples/python/atr_trend.py",
        RULES_SMA,
        "examples/rules/sma_cross.yaml",
        "examples/rules/atr_trend.toml",
    ] {
        let v = json(&["strategy", "check", file, "--json"]);
        assert_eq!(v["ok"], true, "{file}: {v}");
        assert!(!v["params"].as_array().unwrap().is_empty(), "{file}");
    }
    let v = json(&["strategy", "check", PY_SMA, "--json"]);
    assert_eq!(v["tier"], "python");
    assert_eq!(v["params"][0]["name"], "fast");
    assert_eq!(v["states"], serde_json::json!(["flat", "long"]));
}

#[test]
fn check_reports_every_problem_with_file_line_and_column() {
    let d = Dir::new();
    let bad = d.file(
        "bad.py",
        "import os\nPARAMS = {'fast': 10}\nINDICATORS = {'m': 'sma(close, fsat)'}\n\ndef onbar():\n    return eval('1')\n",
    );
    let err = fails(&["strategy", "check", &bad]);
    for want in [
        "bad.py:1:8: module `os` is not available in strategies",
        "bad.py:3:21: indicator `m` uses `fsat`, which is not a parameter",
        "did you mean `fast`?",
        "bad.py:5:5: `onbar` is not a hook the engine calls",
        "bad.py:6:12: `eval` is not available in strategies",
        "no `on_bar` function",
        "5 problems found",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // Syntax errors come from the interpreter, run in a sandbox worker.
    let syntax = d.file("syntax.py", "def on_bar():\n    return (1 +\n");
    let err = fails(&["strategy", "check", &syntax]);
    assert!(
        err.contains("syntax.py:") && err.contains("SyntaxError"),
        "{err}"
    );
    // JSON for tools and the API.
    let out = common::qf(&["strategy", "check", &bad, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"][0]["line"], 1, "problems come in file order");
    assert_eq!(v["problems"].as_array().unwrap().len(), 5);
}

#[test]
fn python_rules_and_native_sma_cross_agree_through_the_cli() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(20_000, 5, None));
    let native = json(&[
        "backtest",
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--json",
    ]);
    assert!(native["trades"].as_u64().unwrap() > 100);
    for file in [PY_SMA, RULES_SMA, "examples/rules/sma_cross.yaml"] {
        let v = json(&["backtest", "--data", &data, "--strategy", file, "--json"]);
        for key in [
            "trades",
            "final_equity_exact",
            "final_cash",
            "fees",
            "max_drawdown",
            "sharpe",
        ] {
            assert_eq!(v[key], native[key], "{file}: {key}");
        }
        assert_eq!(
            v["sandbox"]["tier"],
            if file.ends_with(".py") {
                "python"
            } else {
                "rules"
            }
        );
    }
}

#[test]
fn a_python_runtime_error_is_reported_in_the_tenants_terms() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(500, 3, None));
    let s = d.file("boom.py", "def on_bar():\n    if bar_index == 123:\n        return {'target_percent': 1 / 0}\n    return None\n");
    let err = fails(&["backtest", "--data", &data, "--strategy", &s]);
    assert!(
        err.contains("ZeroDivisionError: division by zero — "),
        "{err}"
    );
    assert!(
        err.contains("boom.py line 3, in on_bar (bar 123 at "),
        "{err}"
    );
    assert!(
        err.contains("3 |         return {'target_percent': 1 / 0}"),
        "{err}"
    );
    assert!(!err.contains(".rs:") && !err.contains("panicked"), "{err}");
}

#[test]
fn sweeps_run_over_a_python_strategys_declared_parameters() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(5_000, 9, None));
    let grid = [
        "--grid",
        "fast=5..15:5",
        "--grid",
        "slow=20..40:10",
        "--json",
        "--top",
        "9",
    ];
    let native: Value = serde_json::from_str(&ok(&[
        &["sweep", "--data", &data, "--strategy", "sma_cross"][..],
        &grid[..],
    ]
    .concat()))
    .unwrap();
    let python: Value = serde_json::from_str(&ok(&[
        &[
            "sweep",
            "--data",
            &data,
            "--strategy",
            PY_SMA,
            "--jobs",
            "2",
        ][..],
        &grid[..],
    ]
    .concat()))
    .unwrap();
    assert_eq!(python["combinations"], 9);
    for k in 0..9 {
        let (n, p) = (&native["top"][k], &python["top"][k]);
        assert_eq!(n["params"]["fast"], p["params"]["fast"]);
        assert_eq!(n["params"]["slow"], p["params"]["slow"]);
        assert_eq!(
            n["metrics"]["final_equity_exact"], p["metrics"]["final_equity_exact"],
            "row {k}"
        );
    }
    let err = fails(
        &[&[
            "sweep",
            "--data",
            &data,
            "--strategy",
            PY_SMA,
            "--grid",
            "fats=5..15:5",
        ][..]]
        .concat(),
    );
    assert!(
        err.contains("no parameter `fats`") && err.contains("fast, slow"),
        "{err}"
    );
}

#[test]
fn printed_output_goes_to_a_bounded_log_and_states_to_the_report() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(2_000, 4, None));
    let s = d.file(
        "talk.py",
        "STATES = ['flat', 'long']\n\ndef on_bar():\n    if bar_index % 500 == 0:\n        print('checkpoint', bar_index)\n    if bar_index == 100:\n        return {'target_percent': 0.5, 'state': 'long', 'reason': 'it is bar 100'}\n    return None\n",
    );
    let log = d.path("run.log");
    let report = d.path("r.html");
    let out = ok(&[
        "backtest",
        "--data",
        &data,
        "--strategy",
        &s,
        "--log",
        log.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.contains("python strategy") && out.contains("1 state changes"),
        "{out}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.starts_with("[bar 0 ") && text.lines().nth(1).unwrap().ends_with("] checkpoint 500"),
        "{text}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Strategy states") && html.contains("it is bar 100"));
}

#[test]
fn oversized_return_values_are_refused_with_what_was_wrong() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(2_000, 6, None));
    let order = |fields: &str| {
        format!("def on_bar():\n    return {{'orders': [{{'side': 'buy', 'qty': 1, {fields}}}]}}\n")
    };
    let cases = [
        (
            "reason.py",
            "STATES = ['flat', 'long']\n\ndef on_bar():\n    return {'target_percent': 0.5, 'state': 'long', 'reason': 'x' * (10 * 1024 * 1024)}\n".to_string(),
            "\"reason\" is 10,485,760 bytes long; at most 1024 bytes (1 KiB) are allowed",
        ),
        (
            "state.py",
            "def on_bar():\n    return {'state': 'long' * 1000}\n".to_string(),
            "\"state\" is 4,000 bytes long; at most 1024 bytes (1 KiB) are allowed",
        ),
        (
            "big_int.py",
            "def on_bar():\n    return {'target_quantity': 10 ** 30}\n".to_string(),
            "target_quantity = 1000000000000000000000000000000 is too large: it must lie within -9223372036..9223372036",
        ),
        (
            "huge_price.py",
            order("'price': 1e300"),
            "order \"price\" = 1e300 is too large: at most 9223372036",
        ),
        (
            "tiny_price.py",
            order("'price': 1e-300"),
            "order \"price\" = 1e-300 is too small: prices of ",
        ),
    ];
    for (name, src, want) in cases {
        let s = d.file(name, &src);
        let err = fails(&["backtest", "--data", &data, "--strategy", &s]);
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}, in on_bar (bar 0 at ")),
            "{name}: {err}"
        );
        let digits = err.split(|c: char| !c.is_ascii_digit()).map(str::len).max();
        assert!(digits < Some(40), "{name}: a number printed in full: {err}");
    }
}
