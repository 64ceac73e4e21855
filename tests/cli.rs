//! The `qf` command line, driven as a user drives it: real files, real process, exit codes,
//! stdout and stderr.

use serde_json::Value;

mod common;
use common::{Dir, fails, ok, walk_csv};

fn without_timing(mut v: Value) -> Value {
    let o = v.as_object_mut().expect("object");
    o.remove("elapsed_ms");
    o.remove("bars_per_second");
    v
}

#[test]
fn backtest_json_has_every_documented_key() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(3_000, 1, None));
    let out = ok(&[
        "backtest",
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--cash",
        "1000000",
        "--size",
        "1",
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object on stdout");
    for key in [
        "bars",
        "trades",
        "final_equity",
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "max_drawdown_duration",
        "profit_factor",
        "win_rate",
        "exposure",
        "elapsed_ms",
        "bars_per_second",
        "fill_model",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["bars"], 3000);
    assert!(v["trades"].as_u64().unwrap() > 10, "{v}");
    assert_eq!(v["data"][0]["timestamp_format"], "epoch_s");
    assert!(v["fill_model"].as_str().unwrap().contains("next bar"));
}

#[test]
fn same_inputs_give_byte_identical_outputs() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(5_000, 2, None));
    let run = |tag: &str| {
        let (t, e) = (
            d.path(&format!("t{tag}.csv")),
            d.path(&format!("e{tag}.csv")),
        );
        let out = ok(&[
            "backtest",
            "--data",
            &data,
            "--strategy",
            "sma_cross",
            "--percent",
            "50",
            "--fee-bps",
            "1",
            "--slippage-ticks",
            "1",
            "--json",
            "--trades",
            t.to_str().unwrap(),
            "--equity",
            e.to_str().unwrap(),
        ]);
        (
            without_timing(serde_json::from_str(out.trim()).unwrap()),
            std::fs::read(t).unwrap(),
            std::fs::read(e).unwrap(),
        )
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(
        serde_json::to_string(&a.0).unwrap(),
        serde_json::to_string(&b.0).unwrap()
    );
    assert_eq!(a.1, b.1, "trades files differ");
    assert_eq!(a.2, b.2, "equity files differ");
    assert!(a.1.len() > 200 && a.2.len() > 100_000);
}

#[test]
fn trades_and_equity_files_agree_with_the_summary() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(4_000, 3, None));
    let (t, e) = (d.path("t.csv"), d.path("e.csv"));
    let out = ok(&[
        "backtest",
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--json",
        "--trades",
        t.to_str().unwrap(),
        "--equity",
        e.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let trades = std::fs::read_to_string(t).unwrap();
    assert_eq!(
        trades.lines().count() - 1,
        v["trades"].as_u64().unwrap() as usize
    );
    assert!(
        trades.starts_with(
            "symbol,direction,quantity,entry_time,entry_price,exit_time,exit_price,pnl"
        )
    );
    let equity = std::fs::read_to_string(e).unwrap();
    assert_eq!(equity.lines().count() - 1, 4_000);
    let last = equity.lines().last().unwrap().split(',').nth(1).unwrap();
    assert_eq!(last, v["final_equity_exact"].as_str().unwrap());
}

#[test]
fn several_instruments_share_one_portfolio() {
    let d = Dir::new();
    let a = d.file("aaa.csv", &walk_csv(2_000, 4, None));
    let b = d.file("bbb.csv", &walk_csv(2_000, 5, Some("BBB")));
    let v: Value = serde_json::from_str(
        ok(&[
            "backtest",
            "--data",
            &a,
            "--data",
            &b,
            "--strategy",
            "sma_cross",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(v["bars"], 4000);
    assert_eq!(v["instruments"][0]["symbol"], "aaa");
    assert_eq!(v["instruments"][1]["symbol"], "BBB");
    let err = fails(&[
        "backtest",
        "--data",
        &b,
        "--data",
        &b,
        "--strategy",
        "sma_cross",
    ]);
    assert!(
        err.contains("BBB") && err.contains("more than one data file"),
        "{err}"
    );
}

#[test]
fn demo_runs_with_no_files_and_writes_a_report() {
    let d = Dir::new();
    let report = d.path("demo.html");
    let out = ok(&["backtest", "--demo", "--report", report.to_str().unwrap()]);
    assert!(
        out.contains("final equity") && out.contains("Sharpe"),
        "{out}"
    );
    let html = std::fs::read_to_string(report).unwrap();
    assert!(html.contains("<svg") && html.contains("sma_cross"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "report must open offline"
    );
}

#[test]
fn parquet_and_csv_give_the_same_backtest() {
    let d = Dir::new();
    let csv = d.file("bars.csv", &walk_csv(3_000, 6, None));
    let pq = d.path("bars.parquet");
    ok(&["data", "convert", &csv, pq.to_str().unwrap()]);
    let back = d.path("back.csv");
    ok(&[
        "data",
        "convert",
        pq.to_str().unwrap(),
        back.to_str().unwrap(),
    ]);
    let args = |f: &str| {
        vec![
            "backtest".to_string(),
            "--data".into(),
            f.to_string(),
            "--strategy".into(),
            "sma_cross".into(),
            "--json".into(),
        ]
    };
    let run = |f: &str| {
        let a = args(f);
        let v: Value =
            serde_json::from_str(ok(&a.iter().map(String::as_str).collect::<Vec<_>>()).trim())
                .unwrap();
        (v["final_equity_exact"].clone(), v["trades"].clone())
    };
    assert_eq!(run(&csv), run(pq.to_str().unwrap()));
    assert_eq!(run(&csv), run(back.to_str().unwrap()));
}

#[test]
fn sweep_ranks_every_combination_and_is_independent_of_threads() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(3_000, 7, None));
    let (c1, c2) = (d.path("s1.csv"), d.path("s2.csv"));
    let out = ok(&[
        "sweep",
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5..20:5",
        "--grid",
        "slow=20..40:10",
        "--sort",
        "sharpe",
        "--top",
        "5",
        "--csv",
        c1.to_str().unwrap(),
        "--jobs",
        "1",
    ]);
    assert!(
        out.contains("rank") && out.contains("12 combinations (1 skipped: invalid or failed)"),
        "{out}"
    );
    ok(&[
        "sweep",
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5..20:5",
        "--grid",
        "slow=20..40:10",
        "--csv",
        c2.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    let (a, b) = (
        std::fs::read_to_string(c1).unwrap(),
        std::fs::read_to_string(c2).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 1 + 11);
    let col = a
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == "sharpe")
        .expect("sharpe column");
    let sharpe: Vec<f64> = a
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(col)
                .unwrap()
                .parse()
                .unwrap_or(f64::NEG_INFINITY)
        })
        .collect();
    assert!(
        sharpe.windows(2).all(|w| w[0] >= w[1]),
        "not ranked: {sharpe:?}"
    );
}

#[test]
fn data_inspect_reports_problems() {
    let d = Dir::new();
    let f = d.file(
        "messy.csv",
        "timestamp,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n2024-01-02,10.5,10,9,10.2,0\n2024-01-02,10,11,9,10,5\n2024-01-05,10,11,9,10,5\n",
    );
    let out = ok(&["data", "inspect", &f]);
    assert!(out.to_lowercase().contains("duplicate"), "{out}");
    assert!(out.to_lowercase().contains("ohlc"), "{out}");
    let json: Value = serde_json::from_str(&ok(&["data", "inspect", &f, "--json"])).unwrap();
    assert_eq!(json["rows"], 4);
}

/// Each malformed input: a clear message naming what and where, exit 1, no panic.
#[test]
fn bad_input_is_rejected_clearly() {
    let d = Dir::new();
    let head = "timestamp,open,high,low,close,volume\n";
    let row = |ts: &str, c: &str| format!("{ts},10,11,9,{c},100\n");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("empty.csv", String::new(), vec!["empty.csv", "empty"]),
        (
            "header.csv",
            head.to_string(),
            vec!["header.csv", "no rows"],
        ),
        (
            "missing.csv",
            "timestamp,open,high,low,volume\n1,1,1,1,1\n".into(),
            vec!["missing.csv", "close"],
        ),
        (
            "misspelt.csv",
            "timestamp,open,high,low,clsoe,volume\n1,1,1,1,1,1\n".into(),
            vec!["misspelt.csv", "close", "clsoe"],
        ),
        (
            "text.csv",
            format!("{head}{}{}", row("1", "10"), row("2", "abc")),
            vec!["text.csv", "line 3", "close", "abc"],
        ),
        (
            "nan.csv",
            format!("{head}{}", row("1", "NaN")),
            vec!["nan.csv", "line 2", "close"],
        ),
        (
            "inf.csv",
            format!("{head}{}", row("1", "inf")),
            vec!["inf.csv", "line 2", "close"],
        ),
        (
            "unsorted.csv",
            format!("{head}{}{}", row("5", "10"), row("2", "10")),
            vec!["unsorted.csv", "line 3", "--sort"],
        ),
        (
            "dupes.csv",
            format!("{head}{}{}", row("5", "10"), row("5", "10")),
            vec!["dupes.csv", "line 3", "--dedupe"],
        ),
        (
            "negative.csv",
            format!("{head}1,-10,11,-12,10,100\n"),
            vec!["negative.csv", "line 2", "open"],
        ),
    ];
    for (name, content, needles) in cases {
        let f = d.file(name, &content);
        let err = fails(&["backtest", "--data", &f, "--strategy", "sma_cross"]);
        for n in needles {
            assert!(err.contains(n), "{name}: expected {n:?} in: {err}");
        }
    }
    let unsorted = d.file(
        "u2.csv",
        &format!(
            "{head}{}{}{}",
            row("5", "10"),
            row("2", "10"),
            row("9", "10")
        ),
    );
    ok(&[
        "backtest",
        "--data",
        &unsorted,
        "--strategy",
        "buy_and_hold",
        "--sort",
    ]);
    let dupes = d.file(
        "d2.csv",
        &format!(
            "{head}{}{}{}",
            row("5", "10"),
            row("5", "10"),
            row("9", "10")
        ),
    );
    ok(&[
        "backtest",
        "--data",
        &dupes,
        "--strategy",
        "buy_and_hold",
        "--dedupe",
    ]);

    let good = d.file("good.csv", &walk_csv(100, 8, None));
    let err = fails(&["backtest", "--data", &good, "--strategy", "sma_crosss"]);
    assert!(
        err.contains("unknown strategy") && err.contains("sma_cross"),
        "{err}"
    );
    let err = fails(&[
        "backtest",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--param",
        "fats=3",
    ]);
    assert!(err.contains("fats") && err.contains("fast, slow"), "{err}");
    let err = fails(&[
        "backtest",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--param",
        "fast=2.5",
    ]);
    assert!(err.contains("whole number"), "{err}");
    let err = fails(&[
        "backtest",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--param",
        "fast=30",
        "--param",
        "slow=10",
    ]);
    assert!(err.contains("fast < slow"), "{err}");
    let err = fails(&[
        "backtest",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--cash",
        "-5",
    ]);
    assert!(err.contains("cash"), "{err}");
    let err = fails(&[
        "backtest",
        "--data",
        "/nonexistent/bars.csv",
        "--strategy",
        "sma_cross",
    ]);
    assert!(err.contains("/nonexistent/bars.csv"), "{err}");
    let err = fails(&[
        "sweep",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=50..10:5",
    ]);
    assert!(err.contains("yields no"), "{err}");
    let err = fails(&[
        "sweep",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=40..50:5",
        "--grid",
        "slow=20..30:5",
    ]);
    assert!(err.contains("no combination that can run"), "{err}");
    let err = fails(&[
        "sweep",
        "--data",
        &good,
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5..10",
        "--sort",
        "luck",
    ]);
    assert!(err.contains("luck") && err.contains("sharpe"), "{err}");
}

#[test]
fn optimistic_fills_are_opt_in_and_labelled() {
    let d = Dir::new();
    let data = d.file("bars.csv", &walk_csv(2_000, 9, None));
    let v: Value = serde_json::from_str(
        ok(&[
            "backtest",
            "--data",
            &data,
            "--strategy",
            "sma_cross",
            "--fill-at-close",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    assert!(v["fill_model"].as_str().unwrap().starts_with("OPTIMISTIC"));
}
