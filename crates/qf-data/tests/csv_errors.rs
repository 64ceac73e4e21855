//! Every way a CSV file can be bad, as a user meets it: the message must name the file, the
//! line, the column, what was expected and what was found.

use std::path::{Path, PathBuf};

use qf_data::{DataError, LoadOptions, load_bars};
use tempfile::TempDir;

const HEADER: &str = "timestamp,open,high,low,close,volume\n";

fn file(dir: &TempDir, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Loads `body` (after the standard header) from `bars.csv` and returns the error message.
fn error_of(body: &str) -> String {
    error_with(&format!("{HEADER}{body}"), &LoadOptions::default())
}

fn error_with(content: &str, opts: &LoadOptions) -> String {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "bars.csv", content.as_bytes());
    load_error(&path, opts)
}

fn load_error(path: &Path, opts: &LoadOptions) -> String {
    match load_bars(path, opts) {
        Ok(data) => panic!("expected an error, loaded {} rows", data.rows),
        Err(e) => e.to_string(),
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

#[test]
fn missing_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nope.csv");
    let e = load_bars(&path, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }));
    assert_contains(&e.to_string(), &["nope.csv", "no such file"]);
}

#[test]
fn unknown_extension() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir, "bars.xlsx", b"whatever");
    assert_contains(
        &load_error(&path, &LoadOptions::default()),
        &[
            "bars.xlsx",
            "unknown file type \".xlsx\"",
            ".csv, .parquet or .pq",
        ],
    );
    let path = file(&dir, "bars", b"whatever");
    assert_contains(
        &load_error(&path, &LoadOptions::default()),
        &["(no extension)"],
    );
}

#[test]
fn empty_file() {
    let m = error_with("", &LoadOptions::default());
    assert_contains(
        &m,
        &[
            "bars.csv",
            "the file is empty",
            "timestamp,open,high,low,close,volume",
        ],
    );
    let m = error_with("\n\n", &LoadOptions::default());
    assert_contains(&m, &["the file is empty"]);
}

#[test]
fn header_only() {
    let m = error_with(HEADER, &LoadOptions::default());
    assert_contains(&m, &["bars.csv", "has a header but no rows of data"]);
}

#[test]
fn missing_column_lists_found_and_suggests() {
    let m = error_with(
        "timestamp,open,high,low,clsoe,volume\n2024-01-01,1,1,1,1,1\n",
        &LoadOptions::default(),
    );
    assert_contains(
        &m,
        &[
            "bars.csv",
            "missing column \"close\"",
            "found columns: timestamp, open, high, low, clsoe, volume",
            "Did you mean \"clsoe\"?",
        ],
    );
}

#[test]
fn missing_column_without_near_miss() {
    let m = error_with(
        "Date,Open,High,Low,Close Price,Volume\n2024-01-01,1,1,1,1,1\n",
        &LoadOptions::default(),
    );
    assert_contains(&m, &["missing column \"close\"", "Close Price"]);
    assert!(!m.contains("Did you mean"), "{m}");
    let m = error_with(
        "open,high,low,close,volume\n1,1,1,1,1\n",
        &LoadOptions::default(),
    );
    assert_contains(&m, &["missing column \"timestamp\""]);
}

#[test]
fn text_in_a_number_column() {
    let m = error_of("2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T00:01:00Z,1,2,0.5,abc,10\n");
    assert!(
        m.ends_with("bars.csv line 3, column close: expected a number, found \"abc\""),
        "{m}"
    );
}

#[test]
fn column_named_as_written() {
    let m = error_with(
        "Date,Open,High,Low,Close,Volume\n2024-01-01,1,2,0.5,x,10\n",
        &LoadOptions::default(),
    );
    assert_contains(
        &m,
        &["line 2, column Close: expected a number, found \"x\""],
    );
}

#[test]
fn nan_inf_and_empty_cells() {
    let m = error_of("2024-01-01,NaN,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column open: expected a number, found \"NaN\""],
    );
    let m = error_of("2024-01-01,1,inf,0.5,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column high: expected a number, found \"inf\""],
    );
    let m = error_of("2024-01-01,1,2,0.5,1.5,inf\n");
    assert_contains(
        &m,
        &["line 2, column volume: expected a finite number, found \"inf\""],
    );
    let m = error_of("2024-01-01,1,2,0.5,1.5,NaN\n");
    assert_contains(
        &m,
        &["column volume: expected a finite number, found \"NaN\""],
    );
    let m = error_of("2024-01-01,1,2,,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column low: expected a number, found an empty cell"],
    );
    let m = error_of(",1,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column timestamp: expected a timestamp, found an empty cell"],
    );
}

#[test]
fn wrong_number_of_fields() {
    let m = error_of("2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1,2,0.5,1.5,10,7\n");
    assert_contains(
        &m,
        &["bars.csv line 3: expected 6 fields as in the header, found 7"],
    );
    let m = error_of("2024-01-01,1,2,0.5\n");
    assert_contains(&m, &["line 2: expected 6 fields as in the header, found 4"]);
}

#[test]
fn non_positive_prices() {
    let m = error_of("2024-01-01,0,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column open: expected a price above 0, found 0"],
    );
    let m = error_of("2024-01-01,1,2,-0.5,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column low: expected a price above 0, found -0.5"],
    );
}

#[test]
fn negative_volume() {
    let m = error_of("2024-01-01,1,2,0.5,1.5,-3\n");
    assert_contains(
        &m,
        &["line 2, column volume: expected a volume of 0 or more, found -3"],
    );
}

#[test]
fn ohlc_inconsistency() {
    let m = error_of("2024-01-01,1,1.4,0.5,1.5,10\n");
    assert_contains(
        &m,
        &[
            "line 2, column high: expected a high of at least the open and the close (1.5), found 1.4",
        ],
    );
    let m = error_of("2024-01-01,1,2,1.2,1.5,10\n");
    assert_contains(
        &m,
        &["line 2, column low: expected a low of at most the open and the close (1), found 1.2"],
    );
}

#[test]
fn too_many_decimals() {
    let m = error_of("2024-01-01,1.0000000001,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &[
            "line 2, column open: expected a price with at most 9 decimal places, found \"1.0000000001\"",
        ],
    );
}

#[test]
fn bad_timestamp() {
    let m = error_of("2024-13-01,1,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &[
            "line 2, column timestamp: expected an RFC 3339 timestamp such as 2024-03-01T14:30:00Z",
            "found \"2024-13-01\" (month must be 01 to 12)",
        ],
    );
    let m = error_of("2024-01-01,1,2,0.5,1.5,10\n01/02/2024,1,2,0.5,1.5,10\n");
    assert_contains(&m, &["line 3, column timestamp", "found \"01/02/2024\""]);
}

#[test]
fn timestamp_kind_must_match_the_first_row() {
    let m = error_of("1704067200,1,2,0.5,1.5,10\n2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &[
            "line 3, column timestamp: expected an integer epoch in seconds like the first row's (line 2)",
            "found \"2024-01-01T00:01:00Z\"",
        ],
    );
    let m = error_of("2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n1704067260,1,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &["line 3, column timestamp: expected an RFC 3339 timestamp like the first row's (line 2)"],
    );
}

#[test]
fn epoch_unit_must_match_the_first_row() {
    let m = error_of("1704067200000,1,2,0.5,1.5,10\n1704067260,1,2,0.5,1.5,10\n");
    assert_contains(
        &m,
        &[
            "line 3, column timestamp: expected an epoch in milliseconds like the first row's (line 2)",
            "found \"1704067260\", which looks like seconds",
        ],
    );
}

#[test]
fn out_of_order_rows() {
    let body = "2024-01-01T00:02:00Z,1,2,0.5,1.5,10\n2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n";
    let m = error_of(body);
    assert_contains(
        &m,
        &[
            "bars.csv line 3: timestamp 2024-01-01T00:01:00Z of bars is earlier than 2024-01-01T00:02:00Z on line 2",
            "--sort",
        ],
    );
}

#[test]
fn out_of_order_rows_sorted_on_request() {
    let dir = TempDir::new().unwrap();
    let body = "2024-01-01T00:02:00Z,1,2,0.5,1.5,10\n2024-01-01T00:01:00Z,1,2,0.5,1.6,10\n\
                2024-01-01T00:00:00Z,1,2,0.5,1.7,10\n2024-01-01T00:03:00Z,1,2,0.5,1.8,10\n";
    let path = file(&dir, "bars.csv", format!("{HEADER}{body}").as_bytes());
    let opts = LoadOptions {
        sort: true,
        ..LoadOptions::default()
    };
    let data = load_bars(&path, &opts).unwrap();
    assert_eq!(data.reordered_rows, 2);
    assert_eq!(data.rows, 4);
    let closes: Vec<String> = data.series[0]
        .bars
        .iter()
        .map(|b| b.close.to_string())
        .collect();
    assert_eq!(closes, ["1.7", "1.6", "1.5", "1.8"]);
}

#[test]
fn duplicate_timestamps() {
    let body = "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T00:00:00Z,1,2,0.5,1.6,11\n";
    let m = error_of(body);
    assert_contains(
        &m,
        &[
            "bars.csv line 3: duplicate timestamp 2024-01-01T00:00:00Z for bars (also on line 2)",
            "--dedupe",
        ],
    );
}

#[test]
fn duplicates_kept_last_on_request() {
    let dir = TempDir::new().unwrap();
    let body = "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T00:00:00Z,1,2,0.5,1.6,11\n\
                2024-01-01T00:01:00Z,1,2,0.5,1.7,12\n";
    let path = file(&dir, "bars.csv", format!("{HEADER}{body}").as_bytes());
    let opts = LoadOptions {
        dedupe: true,
        ..LoadOptions::default()
    };
    let data = load_bars(&path, &opts).unwrap();
    assert_eq!(data.dropped_duplicates, 1);
    assert_eq!(data.series[0].bars.len(), 2);
    assert_eq!(data.series[0].bars[0].close.to_string(), "1.6");
    assert_eq!(data.series[0].bars[0].volume, 11.0);

    // With sorting too, duplicates apart in the file are found after the sort.
    let body = "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n2024-01-01T00:00:00Z,1,2,0.5,1.6,11\n\
                2024-01-01T00:01:00Z,1,2,0.5,1.7,12\n";
    std::fs::write(&path, format!("{HEADER}{body}")).unwrap();
    let m = load_error(
        &path,
        &LoadOptions {
            sort: true,
            ..LoadOptions::default()
        },
    );
    assert_contains(
        &m,
        &[
            "line 4: duplicate timestamp 2024-01-01T00:01:00Z",
            "also on line 2",
        ],
    );
    let opts = LoadOptions {
        sort: true,
        dedupe: true,
        ..LoadOptions::default()
    };
    let data = load_bars(&path, &opts).unwrap();
    assert_eq!((data.reordered_rows, data.dropped_duplicates), (1, 1));
    assert_eq!(data.series[0].bars[1].close.to_string(), "1.7");
}

#[test]
fn order_is_per_symbol() {
    let dir = TempDir::new().unwrap();
    let content = "symbol,timestamp,open,high,low,close,volume\n\
                   A,2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n\
                   B,2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n\
                   A,2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n";
    let path = file(&dir, "multi.csv", content.as_bytes());
    let m = load_error(&path, &LoadOptions::default());
    assert_contains(
        &m,
        &[
            "multi.csv line 4: timestamp 2024-01-01T00:00:00Z of A",
            "on line 2",
        ],
    );
}

#[test]
fn invalid_utf8() {
    let dir = TempDir::new().unwrap();
    let path = file(
        &dir,
        "bars.csv",
        b"symbol,timestamp,open,high,low,close,volume\nA\xff,2024-01-01,1,2,0.5,1.5,10\n",
    );
    let m = load_error(&path, &LoadOptions::default());
    assert_contains(
        &m,
        &[
            "bars.csv line 2, column symbol: expected a symbol in UTF-8 text, found bytes that are not valid UTF-8: \"A\\xff\"",
        ],
    );
    let path = file(
        &dir,
        "bars.csv",
        b"timestamp,open,high,low,close,volume\n2024-01-01,1\xe9,2,0.5,1.5,10\n",
    );
    let m = load_error(&path, &LoadOptions::default());
    assert_contains(
        &m,
        &[
            "line 2, column open: expected a number in UTF-8 text",
            "not valid UTF-8",
        ],
    );
    let path = file(
        &dir,
        "bars.csv",
        b"timestamp,op\xffen,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n",
    );
    let m = load_error(&path, &LoadOptions::default());
    assert_contains(
        &m,
        &["line 1, column 2: expected a column name in UTF-8 text"],
    );
}

#[test]
fn empty_symbol() {
    let m = error_with(
        "symbol,timestamp,open,high,low,close,volume\n,2024-01-01,1,2,0.5,1.5,10\n",
        &LoadOptions::default(),
    );
    assert_contains(
        &m,
        &["line 2, column symbol: expected a symbol, found an empty cell"],
    );
}

#[test]
fn first_problem_wins() {
    // Line 3 has a bad close, line 4 a bad open: the report is about line 3.
    let m = error_of(
        "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T00:01:00Z,1,2,0.5,x,10\n2024-01-01T00:02:00Z,y,2,0.5,1.5,10\n",
    );
    assert_contains(&m, &["line 3, column close"]);
}

#[test]
fn quoted_multiline_fields_keep_line_numbers_right() {
    let m = error_with(
        "timestamp,open,high,low,close,volume,note\n\
         2024-01-01T00:00:00Z,1,2,0.5,1.5,10,\"two\nlines\"\n\
         2024-01-01T00:01:00Z,1,2,0.5,bad,10,x\n",
        &LoadOptions::default(),
    );
    assert_contains(&m, &["line 4, column close"]);
}
