//! The tearsheet as a user gets it: real engine runs over synthetic bars, rendered and read
//! back as HTML text.

mod support;

use std::time::Duration;

use qf_core::{Instrument, InstrumentId, Money, Price, Quantity, Timestamp};
use qf_engine::{BacktestConfig, BacktestResult, EquityPoint, Metrics, Trade};
use qf_report::{ReportMeta, escape, monthly_returns, render_html};
use support::{run_sma_cross, synthetic_bars};

fn meta(params: Vec<(String, String)>) -> ReportMeta {
    ReportMeta {
        title: "SMA cross on a synthetic walk".into(),
        strategy: "sma_cross".into(),
        params,
        data_sources: vec!["synthetic:random-walk seed=7".into()],
        generated_by: "qf-report tests".into(),
    }
}

/// A few thousand daily bars through the real engine with the default configuration.
fn daily_run() -> (BacktestResult, ReportMeta) {
    let bars = synthetic_bars("ACME", 3_000, 86_400, 0.012, 7);
    let (result, params) = run_sma_cross(&BacktestConfig::default(), bars, &[]);
    (result, meta(params))
}

/// The text of the value cell of the metrics row labelled `label`.
fn metric_cell<'a>(html: &'a str, label: &str) -> &'a str {
    let at = html
        .find(&format!(">{label}</th><td"))
        .unwrap_or_else(|| panic!("no metrics row {label}"));
    let rest = &html[at..];
    let start = rest.find("<td").unwrap();
    let open_end = start + rest[start..].find('>').unwrap() + 1;
    let close = rest[open_end..].find("</td>").unwrap();
    &rest[open_end..open_end + close]
}

/// How the report writes a fraction as a percentage.
fn pct(x: f64) -> String {
    let s = format!("{:.2}%", x * 100.0);
    if s == "-0.00%" { "0.00%".into() } else { s }
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| {
        let s = format!("{v:.2}");
        if s == "-0.00" { "0.00".into() } else { s }
    })
}

/// The section of the page from `marker` to the end of its table.
fn table_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let end = at + html[at..].find("</table>").unwrap();
    &html[at..end]
}

#[test]
fn shows_every_headline_metric_the_engine_computed() {
    let (result, meta) = daily_run();
    let m = &result.metrics;
    assert!(
        m.trades > 10,
        "the synthetic walk should make sma_cross trade: {}",
        m.trades
    );
    let html = render_html(&result, &meta);
    assert_eq!(metric_cell(&html, "Total return"), pct(m.total_return));
    assert_eq!(metric_cell(&html, "CAGR"), m.cagr.map_or("—".into(), pct));
    assert_eq!(
        metric_cell(&html, "Volatility"),
        m.volatility.map_or("—".into(), pct)
    );
    assert_eq!(metric_cell(&html, "Sharpe"), ratio(m.sharpe));
    assert_eq!(metric_cell(&html, "Sortino"), ratio(m.sortino));
    assert_eq!(metric_cell(&html, "Calmar"), ratio(m.calmar));
    assert_eq!(metric_cell(&html, "Max drawdown"), pct(-m.max_drawdown));
    assert!(metric_cell(&html, "Longest drawdown").starts_with(&format!(
        "{} bars",
        grouped(m.max_drawdown_duration as usize)
    )));
    assert_eq!(metric_cell(&html, "Profit factor"), ratio(m.profit_factor));
    assert_eq!(
        metric_cell(&html, "Win rate"),
        m.win_rate.map_or("—".into(), pct)
    );
    assert_eq!(metric_cell(&html, "Exposure"), pct(m.exposure));
    assert_eq!(metric_cell(&html, "Trades"), m.trades.to_string());
    assert_eq!(metric_cell(&html, "Open trades"), m.open_trades.to_string());
    assert_eq!(metric_cell(&html, "Bars"), "3,000");
    assert_eq!(metric_cell(&html, "Initial cash"), "100,000.00");
    let final_equity: f64 = metric_cell(&html, "Final equity")
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(
        (final_equity - m.final_equity).abs() < 0.006,
        "{final_equity} vs {}",
        m.final_equity
    );
    assert!(html.contains(&format!("exact: {}", m.final_equity_exact)));
    let fees: f64 = metric_cell(&html, "Fees").replace(',', "").parse().unwrap();
    assert!((fees - m.fees.as_f64()).abs() < 0.006);
    assert!(
        html.contains(&m.start.unwrap().to_string()) && html.contains(&m.end.unwrap().to_string())
    );
}

#[test]
fn undefined_metrics_show_a_dash() {
    let (mut result, meta) = daily_run();
    result.metrics.sharpe = None;
    result.metrics.calmar = None;
    result.metrics.profit_factor = None;
    result.metrics.cagr = Some(f64::NAN);
    let html = render_html(&result, &meta);
    for label in ["Sharpe", "Calmar", "Profit factor", "CAGR"] {
        assert_eq!(metric_cell(&html, label), "—", "{label}");
    }
    assert!(!html.contains("NaN") && !html.contains(">inf"));
}

#[test]
fn header_states_strategy_data_period_and_the_fill_model_verbatim() {
    let (result, meta) = daily_run();
    let html = render_html(&result, &meta);
    assert!(result.fill_model.len() > 100);
    assert!(html.contains(&escape(&result.fill_model)));
    assert!(html.contains("<title>SMA cross on a synthetic walk</title>"));
    assert!(html.contains("<b>fast</b> = 10") && html.contains("<b>slow</b> = 30"));
    assert!(html.contains("synthetic:random-walk seed=7"));
    assert!(html.contains("ACME"));
    assert!(html.contains("<time>2020-01-01T00:00:00Z</time>"));
    assert!(html.contains("Generated by qf-report tests"));
}

#[test]
fn charts_are_inline_svg_with_axes_and_trade_markers() {
    let (result, meta) = daily_run();
    let html = render_html(&result, &meta);
    assert_eq!(html.matches("<svg").count(), 2, "equity and drawdown");
    assert!(
        html.contains("aria-label=\"Equity curve\"")
            && html.contains("aria-label=\"Drawdown from peak\"")
    );
    // Time labels on both charts: the run spans 2020 into 2028, so years are labelled.
    assert!(html.matches(">2022</text>").count() >= 2);
    assert!(html.contains("class=\"grid\"") && html.contains("class=\"yl\""));
    let entries = html.matches("<path class=\"in\"").count();
    let exits = html.matches("<path class=\"out\"").count();
    assert_eq!(entries, result.trades.len());
    assert_eq!(exits, result.trades.len());
    assert!(html.contains("<title>Long entry · ACME"));
    assert!(html.contains("Max drawdown -"));
}

#[test]
fn monthly_table_matches_month_end_equity() {
    let (result, meta) = daily_run();
    let html = render_html(&result, &meta);
    let years = monthly_returns(&result.equity, result.metrics.initial_cash);
    assert_eq!(years.first().map(|y| y.year), Some(2020));
    // 3,000 daily bars from 2020-01-01 end in 2028-03.
    assert_eq!(years.last().map(|y| y.year), Some(2028));
    let table = table_after(&html, "<table class=\"monthly\">");
    assert_eq!(table.matches("<tr><th>20").count(), years.len());
    // Recompute one month by hand from the raw curve: March 2021 against February's end.
    let month_end = |y: i64, m: u32| {
        result
            .equity
            .iter()
            .rfind(|p| p.ts.year_month() == (y, m))
            .unwrap()
            .equity
            .as_f64()
    };
    let march = month_end(2021, 3) / month_end(2021, 2) - 1.0;
    let row_2021 = years.iter().find(|y| y.year == 2021).unwrap();
    assert!((row_2021.months[2].unwrap() - march).abs() < 1e-12);
    let row_html = &table[table.find("<tr><th>2021</th>").unwrap()..];
    let cells: Vec<&str> = row_html.split("</td>").take(13).collect();
    assert!(
        cells[2].ends_with(&format!(">{}", pct(march))),
        "{}",
        cells[2]
    );
    let year_total = month_end(2021, 12) / month_end(2020, 12) - 1.0;
    assert!(
        cells[12].ends_with(&format!(">{}", pct(year_total))),
        "{}",
        cells[12]
    );
    assert!(table.contains("class=\"p") && table.contains("class=\"n"));
}

#[test]
fn hostile_names_are_escaped_everywhere() {
    let mut bars = synthetic_bars("ACME", 2_000, 86_400, 0.012, 11);
    bars.instrument.symbol = "<script>alert(1)</script>".into();
    let (result, _) = run_sma_cross(&BacktestConfig::default(), bars, &[]);
    assert!(result.trades.len() > 1);
    let hostile = ReportMeta {
        title: "</title><script>alert(2)</script>".into(),
        strategy: "\"><img src=x onerror=alert(3)>".into(),
        params: vec![("<b>".into(), "'\"&".into())],
        data_sources: vec!["<iframe src=javascript:alert(4)>".into()],
        generated_by: "<svg onload=alert(5)>".into(),
    };
    let html = render_html(&result, &hostile);
    assert!(!html.contains("<script"), "raw script tag");
    assert!(!html.contains("<img") && !html.contains("<iframe") && !html.contains("<svg onload"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(3)&gt;"));
    assert!(html.contains("&#39;&quot;&amp;"));
    // The symbol appears in the trade list and in the marker tooltips, escaped in both.
    assert!(html.matches("&lt;script&gt;alert(1)").count() > result.trades.len());
}

#[test]
fn page_references_nothing_outside_itself() {
    let (result, meta) = daily_run();
    let html = render_html(&result, &meta);
    for needle in [
        "http://", "https://", "<script", "<link", "@import", "url(", " src=", "//cdn",
    ] {
        assert!(!html.contains(needle), "found {needle}");
    }
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
}

#[test]
fn same_run_renders_to_the_same_bytes() {
    let (a, meta) = daily_run();
    let (b, _) = daily_run();
    // The engine's wall time differs between runs and must not leak into the page.
    assert_eq!(render_html(&a, &meta), render_html(&b, &meta));
    assert_eq!(render_html(&a, &meta), render_html(&a, &meta));
}

#[test]
fn run_without_a_recorded_curve_says_so() {
    let config = BacktestConfig {
        record: false,
        ..BacktestConfig::default()
    };
    let (result, params) =
        run_sma_cross(&config, synthetic_bars("ACME", 500, 86_400, 0.012, 3), &[]);
    assert!(result.equity.is_empty());
    let html = render_html(&result, &meta(params));
    assert!(!html.contains("<svg"));
    assert!(html.contains("No equity curve was recorded"));
    assert!(html.contains("<table class=\"trades\">"));
}

/// The number of vertices of each drawn line.
fn line_vertices(html: &str) -> Vec<usize> {
    html.split("<polyline class=\"line\" points=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].split(' ').count())
        .collect()
}

#[test]
fn a_million_bars_make_a_small_page() {
    let bars = synthetic_bars("BTC-USD", 1_000_000, 60, 0.0008, 42);
    let (result, params) = run_sma_cross(&BacktestConfig::default(), bars, &[]);
    assert_eq!(result.equity.len(), 1_000_000);
    let html = render_html(&result, &meta(params));
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    let vertices = line_vertices(&html);
    assert_eq!(vertices.len(), 2);
    assert!(
        vertices.iter().all(|&v| v > 1000 && v <= 2002),
        "{vertices:?}"
    );
    assert!(html.contains("1,000,000 equity points drawn as the minimum and maximum"));
    // Many more trades than markers or table rows: both are capped and say so.
    assert!(result.trades.len() > 1000, "{}", result.trades.len());
    assert_eq!(html.matches("<path class=\"in\"").count(), 1000);
    assert!(html.contains(&format!(
        "Markers shown for 1,000 of {} trades",
        grouped(result.trades.len())
    )));
    assert!(html.contains(&format!(
        "Showing the first 500 of {} closed trades",
        grouped(result.trades.len())
    )));
    let trades = table_after(&html, "<table class=\"trades\">");
    assert_eq!(trades.matches("<tr><td>").count(), 500);
}

fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------
// A hand-built result, pinned by a golden file.

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn hand_built() -> BacktestResult {
    let point = |t: &str, e: &str| EquityPoint {
        ts: ts(t),
        equity: Money::parse(e).unwrap(),
        cash: Money::parse(e).unwrap(),
    };
    let equity = vec![
        point("2021-01-04T00:00:00Z", "1000"),
        point("2021-01-29T00:00:00Z", "1100"), // Jan +10% against the initial 1000
        point("2021-02-26T00:00:00Z", "990"),  // Feb −10%
        point("2021-04-30T00:00:00Z", "1089"), // Apr +10% (no March data)
        point("2021-12-31T00:00:00Z", "1089"), // Dec 0%
        point("2022-01-31T00:00:00Z", "1306.8"), // Jan 2022 +20%
    ];
    let trade =
        |dir: &'static str, a: &str, b: &str, pa: &str, pb: &str, pnl: &str, r: f64| Trade {
            instrument: InstrumentId(0),
            direction: dir,
            quantity: Quantity::from_int(10),
            entry_time: ts(a),
            entry_price: Price::parse(pa).unwrap(),
            exit_time: ts(b),
            exit_price: Price::parse(pb).unwrap(),
            pnl: Money::parse(pnl).unwrap(),
            fees: Money::ZERO,
            return_pct: r,
            bars_held: 3,
        };
    BacktestResult {
        instruments: vec![Instrument::new(InstrumentId(0), "ACME & Co", 2, 0).unwrap()],
        metrics: Metrics {
            bars: 6,
            trades: 2,
            open_trades: 0,
            start: Some(ts("2021-01-04T00:00:00Z")),
            end: Some(ts("2022-01-31T00:00:00Z")),
            initial_cash: Money::from_int(1000),
            final_equity: 1306.8,
            final_equity_exact: Money::parse("1306.8").unwrap(),
            final_cash: Money::parse("1306.8").unwrap(),
            fees: Money::ZERO,
            total_return: 0.3068,
            cagr: Some(0.2805),
            volatility: Some(0.31),
            sharpe: Some(1.25),
            sortino: None,
            calmar: Some(2.805),
            max_drawdown: 0.1,
            max_drawdown_duration: 3,
            profit_factor: None,
            win_rate: Some(1.0),
            exposure: 0.5,
            periods_per_year: Some(5.5),
            rejected_orders: 0,
            fills: 4,
        },
        trades: vec![
            trade(
                "long",
                "2021-01-04T00:00:00Z",
                "2021-01-29T00:00:00Z",
                "100",
                "110",
                "100",
                0.1,
            ),
            trade(
                "short",
                "2021-04-30T00:00:00Z",
                "2022-01-31T00:00:00Z",
                "108.9",
                "87.12",
                "217.8",
                0.2,
            ),
        ],
        fills: Vec::new(),
        equity,
        states: Vec::new(),
        fill_model: "market orders fill at the next bar's open; \"quoted\" <rules> & more".into(),
        elapsed: Duration::from_millis(123),
    }
}

#[test]
fn hand_built_curve_gives_the_expected_monthly_cells() {
    let html = render_html(&hand_built(), &ReportMeta::default());
    let table = table_after(&html, "<table class=\"monthly\">");
    let row = |year: &str| {
        let at = table.find(&format!("<tr><th>{year}</th>")).unwrap();
        let end = at + table[at..].find("</tr>").unwrap();
        table[at..end]
            .split("</td>")
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let y21 = row("2021");
    assert!(y21[0].ends_with("<td class=\"p3\">10.00%"), "{}", y21[0]);
    assert!(y21[1].ends_with("<td class=\"n3\">-10.00%"), "{}", y21[1]);
    assert!(y21[2].ends_with("<td>"), "March has no data: {}", y21[2]);
    assert!(y21[3].ends_with("<td class=\"p3\">10.00%"), "{}", y21[3]);
    assert!(y21[11].ends_with("<td class=\"z\">0.00%"), "{}", y21[11]);
    assert!(
        y21[12].ends_with("<td class=\"total p3\">8.90%"),
        "{}",
        y21[12]
    );
    let y22 = row("2022");
    assert!(y22[0].ends_with("<td class=\"p5\">20.00%"), "{}", y22[0]);
    assert!(
        y22[12].ends_with("<td class=\"total p5\">20.00%"),
        "{}",
        y22[12]
    );
    assert!(html.contains("<title>Short entry · ACME &amp; Co"));
    assert!(html.contains("&quot;quoted&quot; &lt;rules&gt; &amp; more"));
}

/// The full page of the hand-built result, byte for byte. After an intended change to the
/// report, regenerate with `QF_BLESS=1 cargo test -p qf-report --test tearsheet golden`
/// and review the diff.
#[test]
fn golden_page_of_a_hand_built_result() {
    let meta = ReportMeta {
        title: "Golden tearsheet".into(),
        strategy: "hand_built".into(),
        params: vec![("lookback".into(), "20".into())],
        data_sources: vec!["tests/tearsheet.rs".into()],
        generated_by: "qf-report golden test".into(),
    };
    let html = render_html(&hand_built(), &meta);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/hand_built.html");
    if std::env::var_os("QF_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &html).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with QF_BLESS=1 to create it", path.display()));
    assert!(
        html == expected,
        "report differs from {}; if intended, rerun with QF_BLESS=1 and review the diff",
        path.display()
    );
}

#[test]
fn state_timeline_shows_time_in_each_state_and_every_reason() {
    let mut r = hand_built();
    let change = |bar: u64, from: &str, to: &str, why: &str| qf_engine::StateChange {
        ts: ts("2021-06-01T00:00:00Z"),
        bar,
        instrument: InstrumentId(0),
        from: from.into(),
        to: to.into(),
        reason: why.into(),
    };
    r.states = vec![
        change(1, "flat", "long", "fast > slow <script>"),
        change(4, "long", "flat", "stop hit"),
    ];
    let html = render_html(&r, &meta(vec![]));
    assert!(html.contains("Strategy states <span class=\"count\">2 changes</span>"));
    // 6 bars: flat 0..1 and 4..6 (3 bars, 50%), long 1..4 (3 bars, 50%).
    assert!(
        html.contains("flat</td><td>1</td><td>3</td><td>50.0%</td>"),
        "{html}"
    );
    assert!(html.contains("long</td><td>1</td><td>3</td><td>50.0%</td>"));
    assert!(html.contains("fast &gt; slow &lt;script&gt;"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("class=\"state-band\""));
    // No states: no section.
    assert!(!render_html(&hand_built(), &meta(vec![])).contains("Strategy states"));
}
