//! Writing bars and reading them back gives the same bars, in both formats and across them.

use std::path::Path;

use proptest::prelude::*;
use qf_core::{Bar, BarSeries, Instrument, InstrumentId, Price, Timestamp, TimestampUnit};
use qf_data::{FileFormat, LoadOptions, load_bars, sample_bars, write_bars};
use tempfile::TempDir;

fn load(path: &Path) -> qf_data::LoadedData {
    load_bars(path, &LoadOptions::default()).unwrap()
}

#[test]
fn csv_to_parquet_to_csv_multi_symbol() {
    let dir = TempDir::new().unwrap();
    let original = dir.path().join("in.csv");
    std::fs::write(
        &original,
        "Symbol,Date,Open,High,Low,Close,Volume,Notes\n\
         AAPL,2024-03-01T14:30:00Z,180.10,181.255,179.9,181.2,1200,x\n\
         BTC-USD,2024-03-01T14:30:00Z,61000.5,61010,60990.25,61005,0.125,\n\
         AAPL,2024-03-01T14:31:00Z,181.2,181.3,181.0,181.05,900,y\n\
         BTC-USD,2024-03-01T14:31:00.5Z,61005,61100,61000,61099.75,1.5,\n\
         \"WEIRD, INC\",2024-03-01T14:30:00+01:00,1,1,1,1,0,\n",
    )
    .unwrap();
    let first = load(&original);
    assert_eq!(first.format, FileFormat::Csv);
    assert_eq!(first.timestamp_unit, TimestampUnit::Rfc3339);
    let symbols: Vec<&str> = first
        .series
        .iter()
        .map(|s| s.instrument.symbol.as_str())
        .collect();
    assert_eq!(symbols, ["AAPL", "BTC-USD", "WEIRD, INC"]);
    let precisions: Vec<u8> = first
        .series
        .iter()
        .map(|s| s.instrument.price_precision)
        .collect();
    assert_eq!(precisions, [3, 2, 0]);

    let parquet = dir.path().join("mid.parquet");
    write_bars(&parquet, &first.series).unwrap();
    let second = load(&parquet);
    assert_eq!(second.format, FileFormat::Parquet);
    assert_eq!(second.series, first.series);

    let csv = dir.path().join("out.csv");
    write_bars(&csv, &second.series).unwrap();
    let third = load(&csv);
    assert_eq!(third.series, first.series);

    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,symbol,open,high,low,close,volume")
    );
    assert_eq!(
        lines.next(),
        Some("2024-03-01T14:30:00Z,AAPL,180.1,181.255,179.9,181.2,1200")
    );
    assert!(text.contains("2024-03-01T14:31:00.500Z,BTC-USD,61005,61100,61000,61099.75,1.5"));
    assert!(text.contains("2024-03-01T13:30:00Z,\"WEIRD, INC\",1,1,1,1,0"));

    // Writing the re-read CSV again is byte for byte the same file.
    let again = dir.path().join("again.csv");
    write_bars(&again, &third.series).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
}

#[test]
fn sample_data_round_trips() {
    let dir = TempDir::new().unwrap();
    let series = vec![sample_bars("DEMO", 20_000, 7)];
    for name in ["s.csv", "s.parquet", "s.pq"] {
        let path = dir.path().join(name);
        write_bars(&path, &series).unwrap();
        let loaded = load_bars(
            &path,
            &LoadOptions {
                symbol: Some("ignored: the file has a symbol column".into()),
                ..LoadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(loaded.series, series, "{name}");
        assert_eq!(loaded.rows, 20_000);
    }
}

#[test]
fn file_without_symbol_column_is_named_by_option_or_stem() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("SPY.csv");
    std::fs::write(
        &path,
        "timestamp,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,10\n",
    )
    .unwrap();
    let data = load(&path);
    assert_eq!(data.series[0].instrument.symbol, "SPY");
    assert_eq!(data.timestamp_unit, TimestampUnit::EpochSeconds);
    let named = load_bars(
        &path,
        &LoadOptions {
            symbol: Some("SPDR".into()),
            size_precision: 3,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(named.series[0].instrument.symbol, "SPDR");
    assert_eq!(named.series[0].instrument.size_precision, 3);
}

#[test]
fn byte_order_mark_and_crlf_line_ends() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("excel.csv");
    std::fs::write(
        &path,
        "\u{feff}Date,Open,High,Low,Close,Volume\r\n2024-01-02,10,11,9,10.5,100\r\n2024-01-03,10.5,12,10,11,200\r\n",
    )
    .unwrap();
    let data = load(&path);
    assert_eq!(data.series[0].bars.len(), 2);
    assert_eq!(data.series[0].bars[1].close.to_string(), "11");
    assert_eq!(data.series[0].bars[1].volume, 200.0);
}

#[test]
fn epoch_units_detected() {
    let dir = TempDir::new().unwrap();
    for (value, unit) in [
        ("1704067200", TimestampUnit::EpochSeconds),
        ("1704067200000", TimestampUnit::EpochMillis),
        ("1704067200000000", TimestampUnit::EpochMicros),
        ("1704067200000000000", TimestampUnit::EpochNanos),
    ] {
        let path = dir.path().join("e.csv");
        std::fs::write(
            &path,
            format!("timestamp,open,high,low,close,volume\n{value},1,2,0.5,1.5,10\n"),
        )
        .unwrap();
        let data = load(&path);
        assert_eq!(data.timestamp_unit, unit);
        assert_eq!(
            data.series[0].bars[0].ts.to_string(),
            "2024-01-01T00:00:00Z"
        );
    }
}

#[test]
fn price_precision_option_rounds_csv_prices() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("p.csv");
    std::fs::write(
        &path,
        "timestamp,open,high,low,close,volume\n2024-01-01,1.005,2.5,0.5,1.234,10\n",
    )
    .unwrap();
    let inferred = load(&path);
    assert_eq!(inferred.series[0].instrument.price_precision, 3);
    let rounded = load_bars(
        &path,
        &LoadOptions {
            price_precision: Some(2),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let bar = rounded.series[0].bars[0];
    assert_eq!(rounded.series[0].instrument.price_precision, 2);
    assert_eq!(
        (bar.open.to_string(), bar.close.to_string()),
        ("1.01".into(), "1.23".into())
    );
}

#[test]
fn write_refuses_two_series_of_one_symbol() {
    let dir = TempDir::new().unwrap();
    let s = sample_bars("X", 3, 1);
    let e = write_bars(&dir.path().join("x.csv"), &[s.clone(), s])
        .unwrap_err()
        .to_string();
    assert!(e.contains("two series have the symbol \"X\""), "{e}");
    let e = write_bars(&dir.path().join("x.json"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown file type"), "{e}");
}

/// Decimal places a price really uses.
fn places(p: Price) -> u8 {
    let mut raw = p.raw();
    let mut places = 9;
    while places > 0 && raw % 10 == 0 {
        raw /= 10;
        places -= 1;
    }
    places
}

/// Random valid series: 1 to 3 symbols, each with its own precision, strictly increasing
/// times, consistent OHLC, volumes whole, fractional or zero.
fn series_strategy() -> impl Strategy<Value = Vec<BarSeries>> {
    let bar = (
        1i64..5_000_000_000,
        prop::array::uniform4(1i64..10_000_000),
        prop::bool::ANY,
        prop_oneof![
            Just(0.0),
            (0u32..1_000_000).prop_map(f64::from),
            (0u32..1_000_000).prop_map(|v| f64::from(v) / 64.0)
        ],
    );
    let one = (
        0u8..=6,
        -2_000_000_000i64..4_000_000_000,
        prop::collection::vec(bar, 1..40),
    );
    prop::collection::vec(one, 1..4).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(id, (precision, start, bars))| {
                let unit = 10i64.pow(u32::from(9 - precision));
                let mut ts = start * 1_000_000_000;
                let bars: Vec<Bar> = bars
                    .into_iter()
                    .map(|(step, mut ticks, open_first, volume)| {
                        ts += step;
                        ticks.sort_unstable();
                        let price = |t: i64| Price::from_raw(t * unit);
                        let (open, close) = if open_first {
                            (ticks[1], ticks[2])
                        } else {
                            (ticks[2], ticks[1])
                        };
                        Bar {
                            ts: Timestamp::from_nanos(ts),
                            open: price(open),
                            high: price(ticks[3]),
                            low: price(ticks[0]),
                            close: price(close),
                            volume,
                        }
                    })
                    .collect();
                // A CSV reader infers the most places written, so the instrument says that.
                let written = bars
                    .iter()
                    .flat_map(|b| [b.open, b.high, b.low, b.close])
                    .map(places)
                    .max()
                    .unwrap_or(0);
                BarSeries {
                    instrument: Instrument::new(
                        InstrumentId(id as u32),
                        format!("SYM{id}"),
                        written,
                        0,
                    )
                    .unwrap(),
                    bars,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn csv_round_trip(series in series_strategy()) {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("p.csv");
        write_bars(&path, &series).unwrap();
        prop_assert_eq!(load(&path).series, series);
    }

    #[test]
    fn parquet_round_trip(series in series_strategy()) {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("p.parquet");
        write_bars(&path, &series).unwrap();
        prop_assert_eq!(load(&path).series, series);
    }

    #[test]
    fn parquet_without_metadata_infers_the_same_precision(series in series_strategy()) {
        // Rewrite our file without the precision metadata, as another tool would.
        use parquet::arrow::ArrowWriter;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let dir = TempDir::new().unwrap();
        let ours = dir.path().join("ours.parquet");
        write_bars(&ours, &series).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&ours).unwrap()).unwrap().build().unwrap();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        let theirs = dir.path().join("theirs.parquet");
        let mut writer = ArrowWriter::try_new(std::fs::File::create(&theirs).unwrap(), batches[0].schema(), None).unwrap();
        for b in &batches {
            writer.write(b).unwrap();
        }
        writer.close().unwrap();
        prop_assert_eq!(load(&theirs).series, series);
    }
}

#[test]
fn parquet_in_memory_matches_the_file_and_reads_back_the_same_bars() {
    let dir = TempDir::new().unwrap();
    let series = vec![sample_bars("AAA", 5_000, 3), {
        let mut b = sample_bars("B/B", 700, 4);
        b.instrument.id = InstrumentId(1);
        b
    }];
    let bytes = qf_data::parquet_bytes(&series).unwrap();
    let file = dir.path().join("same.parquet");
    write_bars(&file, &series).unwrap();
    assert_eq!(bytes, std::fs::read(&file).unwrap(), "one writer for both");
    let back =
        qf_data::load_parquet_bytes(bytes.into(), "mem.parquet", &LoadOptions::default()).unwrap();
    assert_eq!(back.series, series);
    assert_eq!(back.format, FileFormat::Parquet);

    let twice = [series[0].clone(), series[0].clone()];
    let e = qf_data::parquet_bytes(&twice).unwrap_err().to_string();
    assert!(e.contains("two series have the symbol \"AAA\""), "{e}");
    let e = qf_data::load_parquet_bytes(Vec::new().into(), "x.parquet", &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("x.parquet: the file is empty"), "{e}");
}

#[test]
fn a_file_under_a_temporary_name_is_read_and_reported_by_its_own_name() {
    let dir = TempDir::new().unwrap();
    let tmp = dir.path().join("upload-7f3a.tmp");
    std::fs::write(
        &tmp,
        "timestamp,open,high,low,close,volume\n1,10,11,9,10,5\n2,10,11,9,abc,5\n",
    )
    .unwrap();
    let e = qf_data::load_bars_as(&tmp, "MSFT.csv", &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("MSFT.csv line 3, column close:"), "{e}");
    assert!(!e.contains("upload-7f3a"), "{e}");
    let report = qf_data::inspect_as(&tmp, "MSFT.csv").unwrap();
    assert_eq!(report.file, "MSFT.csv");
    assert_eq!(report.symbols[0].symbol, "MSFT");
    assert_eq!(report.failed_rows.count, 1);

    std::fs::write(
        &tmp,
        "timestamp,open,high,low,close,volume\n1,10,11,9,10,5\n",
    )
    .unwrap();
    let ok = qf_data::load_bars_as(&tmp, "MSFT.csv", &LoadOptions::default()).unwrap();
    assert_eq!(ok.series[0].instrument.symbol, "MSFT");
    let e = qf_data::load_bars_as(&tmp, "MSFT.xlsx", &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("MSFT.xlsx: unknown file type"), "{e}");
}
