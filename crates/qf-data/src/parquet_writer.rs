//! Writing bars to Parquet in the layout the catalog and `load_bars` read fastest.
//!
//! Columns: `timestamp` Timestamp(Nanosecond, "UTC"), `symbol` Utf8 (dictionary-encoded),
//! `open`, `high`, `low`, `close`, `volume` Float64, snappy-compressed, with each symbol's
//! price precision in the key-value metadata so prices read back exactly. Timestamps are
//! delta-encoded (regular bars compress to almost nothing); prices keep Parquet's default
//! dictionary encoding, which measured faster to load than plain doubles under snappy
//! (53 ms against 75 ms for a million bars).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use qf_core::BarSeries;

use crate::DataError;
use crate::error::file_name;
use crate::precision::{self, METADATA_KEY};

/// Rows per written batch.
const BATCH_ROWS: usize = 64 * 1024;

/// The schema of files we write.
fn schema() -> Arc<Schema> {
    let utc = Some(Arc::from("UTC"));
    Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Nanosecond, utc),
            false,
        ),
        Field::new("symbol", DataType::Utf8, false),
        Field::new("open", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("close", DataType::Float64, false),
        Field::new("volume", DataType::Float64, false),
    ]))
}

/// Writes `series` to `path`, one after the other.
pub(crate) fn write_parquet(path: &Path, series: &[BarSeries]) -> Result<(), DataError> {
    let file = file_name(path);
    let handle = File::create(path).map_err(|e| DataError::Io {
        file: file.clone(),
        source: e,
    })?;
    write_parquet_to(BufWriter::new(handle), series, &file).map(drop)
}

/// Writes `series` as one Parquet file into `out` and gives `out` back, flushed; messages
/// call the output `file`.
pub(crate) fn write_parquet_to<W: Write + Send>(
    out: W,
    series: &[BarSeries],
    file: &str,
) -> Result<W, DataError> {
    let failed = |e: &dyn std::fmt::Display| DataError::Write {
        file: file.to_string(),
        message: e.to_string(),
    };
    let entries: Vec<(&str, u8)> = series
        .iter()
        .map(|s| (s.instrument.symbol.as_str(), s.instrument.price_precision))
        .collect();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_column_dictionary_enabled(ColumnPath::from("timestamp"), false)
        .set_column_encoding(ColumnPath::from("timestamp"), Encoding::DELTA_BINARY_PACKED)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            METADATA_KEY.to_string(),
            precision::encode(&entries),
        )]))
        .build();
    let schema = schema();
    let mut writer =
        ArrowWriter::try_new(out, schema.clone(), Some(properties)).map_err(|e| failed(&e))?;
    for s in series {
        for chunk in s.bars.chunks(BATCH_ROWS) {
            let prices = |f: fn(&qf_core::Bar) -> f64| -> ArrayRef {
                Arc::new(chunk.iter().map(f).collect::<Float64Array>())
            };
            let columns: Vec<ArrayRef> = vec![
                Arc::new(
                    TimestampNanosecondArray::from_iter_values(chunk.iter().map(|b| b.ts.nanos()))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    s.instrument.symbol.as_str(),
                    chunk.len(),
                ))),
                prices(|b| b.open.as_f64()),
                prices(|b| b.high.as_f64()),
                prices(|b| b.low.as_f64()),
                prices(|b| b.close.as_f64()),
                prices(|b| b.volume),
            ];
            let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| failed(&e))?;
            writer.write(&batch).map_err(|e| failed(&e))?;
        }
    }
    let mut out = writer.into_inner().map_err(|e| failed(&e))?;
    out.flush().map_err(|e| failed(&e))?;
    Ok(out)
}
