//! Parquet files written by other tools: the column types we accept, the ones we refuse, and
//! bad values located by row index.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    TimestampMillisecondArray, TimestampSecondArray,
};
use parquet::arrow::ArrowWriter;
use qf_core::TimestampUnit;
use qf_data::{LoadOptions, load_bars};
use tempfile::TempDir;

fn write(dir: &TempDir, name: &str, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let path = dir.path().join(name);
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn f64s(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

/// Three valid bars' price and volume columns as Float64.
fn prices() -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("open", f64s(&[100.1, 100.2, 100.3])),
        ("high", f64s(&[101.0, 101.25, 101.5])),
        ("low", f64s(&[99.5, 99.75, 99.0])),
        ("close", f64s(&[100.2, 100.3, 100.4])),
        ("volume", f64s(&[10.0, 0.0, 12.5])),
    ]
}

fn epoch_secs() -> ArrayRef {
    Arc::new(Int64Array::from(vec![
        1_704_067_200,
        1_704_067_260,
        1_704_067_320,
    ]))
}

fn load(path: &Path) -> qf_data::LoadedData {
    load_bars(path, &LoadOptions::default()).unwrap()
}

fn error(path: &Path) -> String {
    load_bars(path, &LoadOptions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn float_prices_with_inferred_precision() {
    let dir = TempDir::new().unwrap();
    let mut columns = vec![("time", epoch_secs())];
    columns.extend(prices());
    let path = write(&dir, "EURUSD.parquet", columns);
    let data = load(&path);
    assert_eq!(data.timestamp_unit, TimestampUnit::EpochSeconds);
    let s = &data.series[0];
    assert_eq!(s.instrument.symbol, "EURUSD");
    assert_eq!(s.instrument.price_precision, 2);
    assert_eq!(s.bars[1].high.to_string(), "101.25");
    assert_eq!(s.bars[0].open.to_string(), "100.1");
    assert_eq!(s.bars[0].ts.to_string(), "2024-01-01T00:00:00Z");
}

#[test]
fn timestamp_types() {
    let dir = TempDir::new().unwrap();
    let cases: Vec<(ArrayRef, TimestampUnit)> = vec![
        (
            Arc::new(
                TimestampMillisecondArray::from(vec![
                    1_704_067_200_000,
                    1_704_067_260_000,
                    1_704_067_320_000,
                ])
                .with_timezone("America/New_York"),
            ),
            TimestampUnit::EpochMillis,
        ),
        (
            Arc::new(TimestampSecondArray::from(vec![
                1_704_067_200,
                1_704_067_260,
                1_704_067_320,
            ])),
            TimestampUnit::EpochSeconds,
        ),
        (
            Arc::new(StringArray::from(vec![
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:01:00Z",
                "2024-01-01 00:02:00",
            ])),
            TimestampUnit::Rfc3339,
        ),
        (
            Arc::new(LargeStringArray::from(vec![
                "2024-01-01",
                "2024-01-01T00:01:00+00:00",
                "2024-01-01T00:02:00Z",
            ])),
            TimestampUnit::Rfc3339,
        ),
    ];
    for (i, (ts, unit)) in cases.into_iter().enumerate() {
        let mut columns = vec![("timestamp", ts)];
        columns.extend(prices());
        let path = write(&dir, &format!("t{i}.parquet"), columns);
        let data = load(&path);
        assert_eq!(data.timestamp_unit, unit, "case {i}");
        let bars = &data.series[0].bars;
        assert_eq!(bars[0].ts.to_string(), "2024-01-01T00:00:00Z", "case {i}");
        assert_eq!(bars[2].ts.to_string(), "2024-01-01T00:02:00Z", "case {i}");
    }

    let mut columns: Vec<(&str, ArrayRef)> = vec![(
        "date",
        Arc::new(Date32Array::from(vec![19_723, 19_724, 19_725])),
    )];
    columns.extend(prices());
    let data = load(&write(&dir, "daily.parquet", columns));
    assert_eq!(
        data.series[0].bars[2].ts.to_string(),
        "2024-01-03T00:00:00Z"
    );
}

#[test]
fn integer_float32_and_decimal_prices() {
    let dir = TempDir::new().unwrap();
    let decimal = |v: Vec<i128>| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(18, 4)
                .unwrap(),
        )
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("timestamp", epoch_secs()),
        ("open", Arc::new(Int64Array::from(vec![100, 101, 102]))),
        ("high", decimal(vec![1_030_000, 1_040_500, 1_050_000])),
        (
            "low",
            Arc::new(Float32Array::from(vec![99.1f32, 99.2, 99.3])),
        ),
        ("close", f64s(&[101.0, 102.0, 103.0])),
        ("volume", Arc::new(Int64Array::from(vec![5, 6, 7]))),
    ];
    let data = load(&write(&dir, "mixed.parquet", columns));
    let s = &data.series[0];
    // Decimal 104.05 has two places in use; the float32 99.1 one.
    assert_eq!(s.instrument.price_precision, 2);
    assert_eq!(s.bars[1].high.to_string(), "104.05");
    assert_eq!(s.bars[0].low.to_string(), "99.1");
    assert_eq!(s.bars[2].open.to_string(), "102");
    assert_eq!(s.bars[2].volume, 7.0);
}

#[test]
fn symbols_from_strings_and_dictionaries() {
    let dir = TempDir::new().unwrap();
    let plain: ArrayRef = Arc::new(StringArray::from(vec!["MSFT", "AAPL", "MSFT"]));
    let dict: ArrayRef = Arc::new(
        vec!["MSFT", "AAPL", "MSFT"]
            .into_iter()
            .collect::<DictionaryArray<Int32Type>>(),
    );
    for (i, symbols) in [plain, dict].into_iter().enumerate() {
        let mut columns = vec![("symbol", symbols), ("timestamp", epoch_secs())];
        columns.extend(prices());
        let data = load(&write(&dir, &format!("s{i}.parquet"), columns));
        let names: Vec<&str> = data
            .series
            .iter()
            .map(|s| s.instrument.symbol.as_str())
            .collect();
        assert_eq!(names, ["MSFT", "AAPL"]);
        assert_eq!(data.series[0].instrument.id.0, 0);
        assert_eq!(data.series[1].instrument.id.0, 1);
        assert_eq!(data.series[0].bars.len(), 2);
        assert_eq!(data.series[1].bars[0].close.to_string(), "100.3");
    }
}

#[test]
fn unsupported_types_are_named() {
    let dir = TempDir::new().unwrap();
    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    columns[4] = ("close", Arc::new(StringArray::from(vec!["1", "2", "3"])));
    let m = error(&write(&dir, "bad.parquet", columns));
    assert!(
        m.contains("bad.parquet, column close: expected a number column"),
        "{m}"
    );
    assert!(m.contains("found type Utf8"), "{m}");

    let mut columns: Vec<(&str, ArrayRef)> = vec![(
        "timestamp",
        Arc::new(BooleanArray::from(vec![true, false, true])),
    )];
    columns.extend(prices());
    let m = error(&write(&dir, "bad2.parquet", columns));
    assert!(
        m.contains("column timestamp: expected a time column"),
        "{m}"
    );
    assert!(m.contains("found type Boolean"), "{m}");

    let mut columns = vec![
        ("symbol", f64s(&[1.0, 2.0, 3.0])),
        ("timestamp", epoch_secs()),
    ];
    columns.extend(prices());
    let m = error(&write(&dir, "bad3.parquet", columns));
    assert!(m.contains("column symbol: expected a text column"), "{m}");
}

#[test]
fn bad_values_located_by_row() {
    let dir = TempDir::new().unwrap();
    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    columns[4] = ("close", f64s(&[100.2, 100.3, f64::NAN]));
    let m = error(&write(&dir, "nan.parquet", columns));
    assert!(
        m.contains("nan.parquet row 2, column close: expected a finite number, found NaN"),
        "{m}"
    );

    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    columns[5] = (
        "volume",
        Arc::new(Float64Array::from(vec![Some(1.0), None, Some(2.0)])),
    );
    let m = error(&write(&dir, "null.parquet", columns));
    assert!(
        m.contains("row 1, column volume: expected a number, found a null"),
        "{m}"
    );

    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    columns[3] = ("low", f64s(&[99.5, 101.0, 99.0]));
    let m = error(&write(&dir, "ohlc.parquet", columns));
    assert!(
        m.contains("row 1, column low: expected a low of at most the open and the close"),
        "{m}"
    );

    let columns = vec![(
        "timestamp",
        Arc::new(Int64Array::from(vec![
            1_704_067_260,
            1_704_067_200,
            1_704_067_320,
        ])) as ArrayRef,
    )]
    .into_iter()
    .chain(prices())
    .collect();
    let m = error(&write(&dir, "order.parquet", columns));
    assert!(
        m.contains("order.parquet row 1: timestamp 2024-01-01T00:00:00Z of order is earlier"),
        "{m}"
    );
    assert!(m.contains("on row 0"), "{m}");

    let columns = vec![(
        "timestamp",
        Arc::new(Int64Array::from(vec![
            1_704_067_200,
            1_704_067_260_000,
            1_704_067_320,
        ])) as ArrayRef,
    )]
    .into_iter()
    .chain(prices())
    .collect();
    let m = error(&write(&dir, "units.parquet", columns));
    assert!(
        m.contains(
            "row 1, column timestamp: expected an epoch in seconds like the first row's (row 0)"
        ),
        "{m}"
    );
}

#[test]
fn corrupt_and_empty_files() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("corrupt.parquet");
    std::fs::write(&path, b"this is not parquet at all, just some text").unwrap();
    let m = error(&path);
    assert!(
        m.contains("corrupt.parquet: not a readable Parquet file"),
        "{m}"
    );

    // A real file cut short.
    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    let good = write(&dir, "good.parquet", columns);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(error(&cut).contains("cut.parquet: not a readable Parquet file"));

    let empty = dir.path().join("empty.pq");
    std::fs::write(&empty, b"").unwrap();
    assert!(error(&empty).contains("empty.pq: the file is empty"));
}

#[test]
fn missing_columns_and_no_rows() {
    let dir = TempDir::new().unwrap();
    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    columns[4].0 = "clsoe";
    let m = error(&write(&dir, "cols.parquet", columns));
    assert!(
        m.contains("missing column \"close\"") && m.contains("Did you mean \"clsoe\"?"),
        "{m}"
    );

    let columns: Vec<(&str, ArrayRef)> = vec![
        ("timestamp", Arc::new(Int64Array::from(Vec::<i64>::new()))),
        ("open", f64s(&[])),
        ("high", f64s(&[])),
        ("low", f64s(&[])),
        ("close", f64s(&[])),
        ("volume", f64s(&[])),
    ];
    let m = error(&write(&dir, "none.parquet", columns));
    assert!(
        m.contains("none.parquet: the file has a header but no rows"),
        "{m}"
    );
}

#[test]
fn precision_option_rounds_floats() {
    let dir = TempDir::new().unwrap();
    let mut columns = vec![("timestamp", epoch_secs())];
    columns.extend(prices());
    let path = write(&dir, "r.parquet", columns);
    let opts = LoadOptions {
        price_precision: Some(0),
        ..LoadOptions::default()
    };
    let data = load_bars(&path, &opts).unwrap();
    assert_eq!(data.series[0].instrument.price_precision, 0);
    assert_eq!(data.series[0].bars[1].high.to_string(), "101");
}
