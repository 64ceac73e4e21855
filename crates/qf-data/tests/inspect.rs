//! The quality report on real files: lenient about bad rows, strict only about unreadable
//! files, with counts, examples and a readable text form.

use std::path::PathBuf;

use qf_data::{Location, inspect, sample_bars, write_bars};
use tempfile::TempDir;

fn file(dir: &TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn clean_sample_data() {
    let dir = TempDir::new().unwrap();
    for name in ["demo.csv", "demo.parquet"] {
        let path = dir.path().join(name);
        write_bars(&path, &[sample_bars("DEMO", 5_000, 3)]).unwrap();
        let report = inspect(&path).unwrap();
        assert_eq!(report.rows, 5_000);
        assert_eq!(report.symbols.len(), 1);
        let s = &report.symbols[0];
        assert_eq!(s.interval.as_deref(), Some("1m"));
        assert_eq!(s.first.unwrap().to_string(), "2020-01-02T00:00:00Z");
        assert_eq!(s.last.unwrap().to_string(), "2020-01-05T11:19:00Z");
        assert_eq!(s.gaps.count, 0);
        assert_eq!(report.issue_count(), 0, "{report}");
        let text = report.to_string();
        assert!(text.contains("No problems found."), "{text}");
        assert!(
            text.contains(
                "DEMO: 5,000 rows, 2020-01-02T00:00:00Z to 2020-01-05T11:19:00Z, bar interval 1m"
            ),
            "{text}"
        );
    }
}

#[test]
fn messy_file_counts_every_problem() {
    let dir = TempDir::new().unwrap();
    let mut rows = vec!["timestamp,symbol,open,high,low,close,volume".to_string()];
    // Lines 2..=41: forty clean one-minute bars of A with small moves.
    for i in 0..40 {
        let close = 100.0 + f64::from(i % 5) * 0.1;
        rows.push(format!(
            "2024-01-01T00:{i:02}:00Z,A,{close:.2},{:.2},{:.2},{close:.2},10",
            close + 0.5,
            close - 0.5
        ));
    }
    // Line 42: after a gap, a jump to 200 (an outlier return).
    rows.push("2024-01-01T00:50:00Z,A,200,200.5,199.5,200,10".into());
    // Line 43: a duplicate of line 42's time.
    rows.push("2024-01-01T00:50:00Z,A,200,200.5,199.5,200,10".into());
    // Line 44: out of order.
    rows.push("2024-01-01T00:45:00Z,A,200,200.5,199.5,200,10".into());
    // Line 45: high below close; line 46: zero volume; line 47: a negative price.
    rows.push("2024-01-01T00:51:00Z,A,200,199,199,200.5,10".into());
    rows.push("2024-01-01T00:52:00Z,A,200,200.5,199.5,200,0".into());
    rows.push("2024-01-01T00:53:00Z,A,200,200.5,-1,200,5".into());
    // Lines 48 and 49: unparseable rows; line 50: another symbol.
    rows.push("2024-01-01T00:54:00Z,A,abc,200.5,199.5,200,5".into());
    rows.push("2024-01-01T00:55:00Z,A,200,200.5".into());
    rows.push("2024-01-01T00:00:00Z,B,1,1,1,1,1".into());
    let path = file(&dir, "messy.csv", &(rows.join("\n") + "\n"));

    let report = inspect(&path).unwrap();
    assert_eq!(report.rows, 49);
    assert_eq!(report.failed_rows.count, 2);
    assert!(
        report.failed_rows.first_errors[0]
            .contains("messy.csv line 48, column open: expected a number")
    );
    assert!(report.failed_rows.first_errors[1].contains("line 49: expected 7 fields"));
    assert_eq!(report.symbols.len(), 2);

    let a = &report.symbols[0];
    assert_eq!(a.symbol, "A");
    assert_eq!(a.rows, 46);
    assert_eq!(a.interval.as_deref(), Some("1m"));
    assert_eq!(a.duplicate_timestamps.count, 1, "{report}");
    assert_eq!(
        a.duplicate_timestamps.examples[0].location,
        Location::Line(43)
    );
    assert_eq!(a.out_of_order.count, 1);
    assert_eq!(a.out_of_order.examples[0].location, Location::Line(44));
    assert_eq!(
        a.out_of_order.examples[0].timestamp.to_string(),
        "2024-01-01T00:45:00Z"
    );
    assert_eq!(a.ohlc_inconsistent.count, 1);
    assert_eq!(a.ohlc_inconsistent.examples[0].location, Location::Line(45));
    assert_eq!(a.zero_volume.count, 1);
    assert_eq!(a.zero_volume.examples[0].location, Location::Line(46));
    assert_eq!(a.non_positive_prices.count, 1);
    assert!(a.non_positive_prices.examples[0].note.contains("low is -1"));
    assert_eq!(a.gaps.count, 2);
    assert_eq!(a.gaps.largest[0].from.to_string(), "2024-01-01T00:39:00Z");
    assert_eq!(a.gaps.largest[0].length, "6m");
    assert_eq!(a.gaps.weekends, None);
    assert!(a.outlier_returns.count >= 1);
    let jump = &a.outlier_returns.largest[0];
    assert_eq!(jump.timestamp.to_string(), "2024-01-01T00:45:00Z");
    assert!(jump.log_return > 0.6 && jump.sigmas > 10.0, "{jump:?}");

    let text = report.to_string();
    for part in [
        "messy.csv: CSV, 49 rows, 2 symbols, times as rfc3339",
        "rows that failed to parse: 2",
        "A: 46 rows",
        "duplicate timestamps",
        "line 43",
        "also on line 42",
        "out-of-order rows",
        "earlier than 2024-01-01T00:50:00Z on line 42",
        "outlier returns (> 10σ)",
    ] {
        assert!(text.contains(part), "{part:?} not in\n{text}");
    }
    assert!(!text.contains("No problems found."));

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["format"], "csv");
    assert_eq!(json["symbols"][0]["duplicate_timestamps"]["count"], 1);
    assert_eq!(
        json["symbols"][0]["out_of_order"]["examples"][0]["location"]["line"],
        44
    );
    assert_eq!(json["symbols"][0]["gaps"]["largest"][0]["length"], "6m");
    assert_eq!(json["failed_rows"]["count"], 2);
}

#[test]
fn daily_data_counts_weekend_gaps() {
    let dir = TempDir::new().unwrap();
    let mut content = String::from("date,open,high,low,close,volume\n");
    // Weekdays of March 2024 with one missing Wednesday (the 13th).
    for day in 1..=29 {
        let weekday = (day + 3) % 7; // 2024-03-01 was a Friday: 0 = Monday.
        if weekday >= 5 || day == 13 {
            continue;
        }
        content.push_str(&format!("2024-03-{day:02},10,11,9,10.5,100\n"));
    }
    let report = inspect(&file(&dir, "daily.csv", &content)).unwrap();
    let s = &report.symbols[0];
    assert_eq!(s.symbol, "daily");
    assert_eq!(s.interval.as_deref(), Some("1d"));
    assert_eq!(s.gaps.count, 5);
    assert_eq!(s.gaps.weekends, Some(4));
    assert!(
        report.to_string().contains("(4 exactly a weekend)"),
        "{report}"
    );
}

#[test]
fn only_unreadable_files_are_errors() {
    let dir = TempDir::new().unwrap();
    assert!(inspect(&dir.path().join("missing.csv")).is_err());
    assert!(inspect(&file(&dir, "x.txt", "a")).is_err());
    assert!(inspect(&file(&dir, "empty.csv", "")).is_err());
    let e = inspect(&file(&dir, "cols.csv", "timestamp,open,high\n1,2,3\n")).unwrap_err();
    assert!(e.to_string().contains("missing column \"low\""), "{e}");
    let corrupt = dir.path().join("c.parquet");
    std::fs::write(&corrupt, b"PAR1 not really").unwrap();
    assert!(inspect(&corrupt).is_err());

    let report = inspect(&file(
        &dir,
        "header.csv",
        "timestamp,open,high,low,close,volume\n",
    ))
    .unwrap();
    assert_eq!(report.rows, 0);
    assert!(report.symbols.is_empty());
    assert!(report.to_string().contains("0 rows"));

    // Every row bad still makes a report.
    let report = inspect(&file(
        &dir,
        "bad.csv",
        "timestamp,open,high,low,close,volume\nx,1,1,1,1,1\ny,1,1,1,1,1\n",
    ))
    .unwrap();
    assert_eq!(report.failed_rows.count, 2);
    assert_eq!(report.timestamp_unit, None);
}
