//! A backtest's closed trades and equity curve as tables: the columns defined once, written
//! as CSV (what `qf backtest --trades/--equity` writes) or as Parquet (what the service
//! stores), and read back from our Parquet to the very same CSV bytes.
//!
//! | table | column | Parquet (Arrow) type | CSV text |
//! | --- | --- | --- | --- |
//! | trades | `symbol` | string | the symbol, quoted when it holds `,` `"` or a line break |
//! | trades | `direction` | string | `long` or `short` |
//! | trades | `quantity` | decimal(19, 9) | exact decimal |
//! | trades | `entry_time`, `exit_time` | timestamp(ns, UTC) | RFC 3339 in UTC |
//! | trades | `entry_price`, `exit_price` | decimal(19, 9) | exact decimal |
//! | trades | `pnl`, `fees` | decimal(38, 18) | exact decimal |
//! | trades | `return` | float64 | shortest text that reads back to the same float |
//! | trades | `bars_held` | uint64 | integer |
//! | equity | `timestamp` | timestamp(ns, UTC) | RFC 3339 in UTC |
//! | equity | `equity`, `cash` | decimal(38, 18) | exact decimal |
//! | equity | `drawdown` | float64 | fraction below the running peak, 0 at a peak |
//!
//! Prices and quantities are 10⁻⁹-scaled integers and money 10⁻¹⁸-scaled ones
//! ([`qf_core`]), so the decimal columns hold them exactly: DuckDB and Polars read them as
//! `DECIMAL`, pandas (pyarrow) as `decimal.Decimal` objects (cast to float when exactness no
//! longer matters). Every column is non-null. Parquet files are snappy-compressed with the
//! timestamps delta-encoded; both ways of writing go through one row formatter, which is why
//! a CSV made from the Parquet is byte-identical to the CSV written directly.

use std::io::{self, Write};
use std::sync::Arc;

use arrow_array::builder::{
    Decimal128Builder, Float64Builder, StringBuilder, TimestampNanosecondBuilder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, Decimal128Array, Float64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use thiserror::Error;

use qf_core::{Money, Price, Quantity, Timestamp};
use qf_engine::BacktestResult;

/// Rows per Parquet record batch, written or read.
const BATCH_ROWS: usize = 64 * 1024;

/// Which table of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// One row per closed trade.
    Trades,
    /// One row per bar time: equity, cash and drawdown.
    Equity,
}

/// How a table is stored or sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableFormat {
    /// Apache Parquet, compressed, with exact decimal columns.
    Parquet,
    /// RFC 4180 CSV with a header line.
    Csv,
}

/// What a column holds; decides its Parquet type and its CSV text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Text.
    Text,
    /// An instant in UTC.
    Time,
    /// An exact price (10⁻⁹).
    Price,
    /// An exact quantity (10⁻⁹).
    Quantity,
    /// An exact amount of money (10⁻¹⁸).
    Money,
    /// A float (statistics: returns, drawdowns).
    Float,
    /// A count.
    Count,
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name, in the CSV header and the Parquet schema.
    pub name: &'static str,
    /// What it holds.
    pub ty: ColumnType,
}

const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column { name, ty }
}

const TRADE_COLUMNS: [Column; 11] = [
    col("symbol", ColumnType::Text),
    col("direction", ColumnType::Text),
    col("quantity", ColumnType::Quantity),
    col("entry_time", ColumnType::Time),
    col("entry_price", ColumnType::Price),
    col("exit_time", ColumnType::Time),
    col("exit_price", ColumnType::Price),
    col("pnl", ColumnType::Money),
    col("fees", ColumnType::Money),
    col("return", ColumnType::Float),
    col("bars_held", ColumnType::Count),
];

const EQUITY_COLUMNS: [Column; 4] = [
    col("timestamp", ColumnType::Time),
    col("equity", ColumnType::Money),
    col("cash", ColumnType::Money),
    col("drawdown", ColumnType::Float),
];

impl Table {
    /// Its columns, in order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Trades => &TRADE_COLUMNS,
            Table::Equity => &EQUITY_COLUMNS,
        }
    }

    /// `trades` or `equity`.
    pub fn name(self) -> &'static str {
        match self {
            Table::Trades => "trades",
            Table::Equity => "equity",
        }
    }

    /// Its file name in `format`: `trades.parquet`, `equity.csv`, …
    pub fn file_name(self, format: TableFormat) -> String {
        format!("{}.{}", self.name(), format.extension())
    }

    /// The Arrow schema of its Parquet files.
    pub fn schema(self) -> Schema {
        Schema::new(
            self.columns()
                .iter()
                .map(|c| Field::new(c.name, c.ty.arrow_type(), false))
                .collect::<Vec<_>>(),
        )
    }
}

impl TableFormat {
    /// `parquet` or `csv`, as in a file extension or a `format=` parameter.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "parquet" => Some(TableFormat::Parquet),
            "csv" => Some(TableFormat::Csv),
            _ => None,
        }
    }

    /// Parquet for a path ending in `.parquet` (any case), CSV otherwise.
    pub fn for_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("parquet") => TableFormat::Parquet,
            _ => TableFormat::Csv,
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Csv => "csv",
        }
    }

    /// The media type (`application/vnd.apache.parquet`, `text/csv; charset=utf-8`).
    pub fn media_type(self) -> &'static str {
        match self {
            TableFormat::Parquet => "application/vnd.apache.parquet",
            TableFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl ColumnType {
    fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Time => DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC"))),
            // Precision 19 holds every i64 count of 10⁻⁹ units.
            ColumnType::Price | ColumnType::Quantity => DataType::Decimal128(19, 9),
            // 38 digits: any amount below 10²⁰ currency units, to 10⁻¹⁸.
            ColumnType::Money => DataType::Decimal128(38, 18),
            ColumnType::Float => DataType::Float64,
            ColumnType::Count => DataType::UInt64,
        }
    }
}

/// A table that cannot be written or read.
#[derive(Debug, Error)]
pub enum TableError {
    /// The output failed.
    #[error("cannot write the {table} table: {source}")]
    Io {
        /// Which table.
        table: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The Parquet encoder or decoder failed.
    #[error("{table} table: {message}")]
    Parquet {
        /// Which table.
        table: &'static str,
        /// What the encoder or decoder said.
        message: String,
    },
    /// A Parquet file that is not this table as we write it.
    #[error("not a {table} table written by Quantforge: {why}")]
    NotOurs {
        /// Which table.
        table: &'static str,
        /// What differs.
        why: String,
    },
}

/// One value of a row, typed by its column.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Time(Timestamp),
    Price(Price),
    Quantity(Quantity),
    Money(Money),
    Float(f64),
    Count(u64),
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// The one CSV formatter: every number by its own `Display`, so exact values keep every
/// digit and the same row always gives the same bytes.
fn write_csv_row(w: &mut impl Write, cells: &[Cell<'_>]) -> io::Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        match cell {
            Cell::Text(s) => w.write_all(csv_field(s).as_bytes()),
            Cell::Time(t) => write!(w, "{t}"),
            Cell::Price(p) => write!(w, "{p}"),
            Cell::Quantity(q) => write!(w, "{q}"),
            Cell::Money(m) => write!(w, "{m}"),
            Cell::Float(x) => write!(w, "{x}"),
            Cell::Count(n) => write!(w, "{n}"),
        }?;
    }
    w.write_all(b"\n")
}

fn write_csv_header(w: &mut impl Write, table: Table) -> io::Result<()> {
    let names: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
    writeln!(w, "{}", names.join(","))
}

/// Calls `f` with each row of `table` of `r`, cells in column order.
fn for_each_row<E>(
    table: Table,
    r: &BacktestResult,
    mut f: impl FnMut(&[Cell<'_>]) -> Result<(), E>,
) -> Result<(), E> {
    match table {
        Table::Trades => {
            for t in &r.trades {
                f(&[
                    Cell::Text(&r.instruments[t.instrument.index()].symbol),
                    Cell::Text(t.direction),
                    Cell::Quantity(t.quantity),
                    Cell::Time(t.entry_time),
                    Cell::Price(t.entry_price),
                    Cell::Time(t.exit_time),
                    Cell::Price(t.exit_price),
                    Cell::Money(t.pnl),
                    Cell::Money(t.fees),
                    Cell::Float(t.return_pct),
                    Cell::Count(t.bars_held),
                ])?;
            }
        }
        Table::Equity => {
            let mut peak = f64::MIN;
            for p in &r.equity {
                let e = p.equity.as_f64();
                peak = peak.max(e);
                let drawdown = if peak > 0.0 { e / peak - 1.0 } else { 0.0 };
                f(&[
                    Cell::Time(p.ts),
                    Cell::Money(p.equity),
                    Cell::Money(p.cash),
                    Cell::Float(drawdown),
                ])?;
            }
        }
    }
    Ok(())
}

/// Writes `table` of `r` as CSV, header first. Buffering is the caller's.
pub fn write_csv(w: &mut impl Write, table: Table, r: &BacktestResult) -> io::Result<()> {
    write_csv_header(w, table)?;
    for_each_row(table, r, |cells| write_csv_row(w, cells))
}

/// Builds one Arrow column from cells.
enum ColumnBuilder {
    Text(StringBuilder),
    Time(TimestampNanosecondBuilder),
    /// With its precision and scale.
    Decimal(Decimal128Builder, u8, i8),
    Float(Float64Builder),
    Count(UInt64Builder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Text => ColumnBuilder::Text(StringBuilder::new()),
            ColumnType::Time => ColumnBuilder::Time(TimestampNanosecondBuilder::new()),
            ColumnType::Price | ColumnType::Quantity => {
                ColumnBuilder::Decimal(Decimal128Builder::new(), 19, 9)
            }
            ColumnType::Money => ColumnBuilder::Decimal(Decimal128Builder::new(), 38, 18),
            ColumnType::Float => ColumnBuilder::Float(Float64Builder::new()),
            ColumnType::Count => ColumnBuilder::Count(UInt64Builder::new()),
        }
    }

    /// Appends `cell`; `false` when the cell does not belong in this column.
    fn push(&mut self, cell: Cell<'_>) -> bool {
        match (self, cell) {
            (ColumnBuilder::Text(b), Cell::Text(s)) => b.append_value(s),
            (ColumnBuilder::Time(b), Cell::Time(t)) => b.append_value(t.nanos()),
            (ColumnBuilder::Decimal(b, ..), Cell::Price(p)) => b.append_value(i128::from(p.raw())),
            (ColumnBuilder::Decimal(b, ..), Cell::Quantity(q)) => {
                b.append_value(i128::from(q.raw()))
            }
            (ColumnBuilder::Decimal(b, ..), Cell::Money(m)) => b.append_value(m.raw()),
            (ColumnBuilder::Float(b), Cell::Float(x)) => b.append_value(x),
            (ColumnBuilder::Count(b), Cell::Count(n)) => b.append_value(n),
            _ => return false,
        }
        true
    }

    fn finish(&mut self) -> Result<ArrayRef, arrow_schema::ArrowError> {
        Ok(match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish().with_timezone("UTC")),
            ColumnBuilder::Decimal(b, precision, scale) => {
                let a = b.finish().with_precision_and_scale(*precision, *scale)?;
                // Refuses (rather than silently mis-stores) an amount beyond the precision.
                a.validate_decimal_precision(*precision)?;
                Arc::new(a)
            }
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Count(b) => Arc::new(b.finish()),
        })
    }
}

/// Writes `table` of `r` as one Parquet file into `out` and gives `out` back, flushed.
pub fn write_parquet<W: Write + Send>(
    out: W,
    table: Table,
    r: &BacktestResult,
) -> Result<W, TableError> {
    let name = table.name();
    let failed = |e: &dyn std::fmt::Display| TableError::Parquet {
        table: name,
        message: e.to_string(),
    };
    let schema = Arc::new(table.schema());
    let mut properties = WriterProperties::builder().set_compression(Compression::SNAPPY);
    for c in table.columns().iter().filter(|c| c.ty == ColumnType::Time) {
        // Bar times are regular: deltas compress to almost nothing.
        properties = properties
            .set_column_dictionary_enabled(ColumnPath::from(c.name), false)
            .set_column_encoding(ColumnPath::from(c.name), Encoding::DELTA_BINARY_PACKED);
    }
    let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(properties.build()))
        .map_err(|e| failed(&e))?;
    let mut builders: Vec<ColumnBuilder> = table
        .columns()
        .iter()
        .map(|c| ColumnBuilder::new(c.ty))
        .collect();
    let mut rows = 0usize;
    let flush = |builders: &mut Vec<ColumnBuilder>,
                 writer: &mut ArrowWriter<W>|
     -> Result<(), TableError> {
        let columns = builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(&e))?;
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| failed(&e))?;
        writer.write(&batch).map_err(|e| failed(&e))
    };
    for_each_row(table, r, |cells| {
        for (b, cell) in builders.iter_mut().zip(cells) {
            if !b.push(*cell) {
                return Err(failed(&"a row does not match the columns"));
            }
        }
        rows += 1;
        if rows.is_multiple_of(BATCH_ROWS) {
            flush(&mut builders, &mut writer)?;
        }
        Ok(())
    })?;
    if rows == 0 || !rows.is_multiple_of(BATCH_ROWS) {
        flush(&mut builders, &mut writer)?;
    }
    let mut out = writer.into_inner().map_err(|e| failed(&e))?;
    out.flush().map_err(|source| TableError::Io {
        table: name,
        source,
    })?;
    Ok(out)
}

/// A column of a decoded batch, typed.
enum ColumnReader<'a> {
    Text(&'a StringArray),
    Time(&'a TimestampNanosecondArray),
    Price(&'a Decimal128Array),
    Quantity(&'a Decimal128Array),
    Money(&'a Decimal128Array),
    Float(&'a Float64Array),
    Count(&'a UInt64Array),
}

impl ColumnReader<'_> {
    fn cell(&self, row: usize) -> Option<Cell<'_>> {
        Some(match self {
            ColumnReader::Text(a) => Cell::Text(a.value(row)),
            ColumnReader::Time(a) => Cell::Time(Timestamp::from_nanos(a.value(row))),
            ColumnReader::Price(a) => Cell::Price(Price::from_raw(a.value(row).try_into().ok()?)),
            ColumnReader::Quantity(a) => {
                Cell::Quantity(Quantity::from_raw(a.value(row).try_into().ok()?))
            }
            ColumnReader::Money(a) => Cell::Money(Money::from_raw(a.value(row))),
            ColumnReader::Float(a) => Cell::Float(a.value(row)),
            ColumnReader::Count(a) => Cell::Count(a.value(row)),
        })
    }
}

/// A Parquet table converted to CSV chunk by chunk: the header, then one chunk per record
/// batch, so a large table is never one giant string. Made by [`csv_from_parquet`].
pub struct CsvFromParquet {
    table: Table,
    reader: ParquetRecordBatchReader,
    header_sent: bool,
}

/// Opens `bytes`, a Parquet file of `table` as [`write_parquet`] writes it, for conversion
/// to the CSV [`write_csv`] would have written. Fails at once when the schema differs.
pub fn csv_from_parquet(table: Table, bytes: Bytes) -> Result<CsvFromParquet, TableError> {
    let not_ours = |why: String| TableError::NotOurs {
        table: table.name(),
        why,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| not_ours(e.to_string()))?
        .with_batch_size(BATCH_ROWS);
    let found = builder.schema().clone();
    let names = |s: &Schema| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect()
    };
    let wanted = table.schema();
    let (found, wanted) = (names(found.as_ref()), names(&wanted));
    if found != wanted {
        return Err(not_ours(format!(
            "its columns are [{}], expected [{}]",
            found.join(", "),
            wanted.join(", ")
        )));
    }
    let reader = builder.build().map_err(|e| not_ours(e.to_string()))?;
    Ok(CsvFromParquet {
        table,
        reader,
        header_sent: false,
    })
}

impl CsvFromParquet {
    fn batch_csv(&self, batch: &RecordBatch) -> Result<Vec<u8>, TableError> {
        let not_ours = |why: String| TableError::NotOurs {
            table: self.table.name(),
            why,
        };
        let mut readers = Vec::with_capacity(batch.num_columns());
        for (c, array) in self.table.columns().iter().zip(batch.columns()) {
            if array.null_count() > 0 {
                return Err(not_ours(format!("column {} has nulls", c.name)));
            }
            let any = array.as_any();
            let reader = match c.ty {
                ColumnType::Text => any.downcast_ref().map(ColumnReader::Text),
                ColumnType::Time => any.downcast_ref().map(ColumnReader::Time),
                ColumnType::Price => any.downcast_ref().map(ColumnReader::Price),
                ColumnType::Quantity => any.downcast_ref().map(ColumnReader::Quantity),
                ColumnType::Money => any.downcast_ref().map(ColumnReader::Money),
                ColumnType::Float => any.downcast_ref().map(ColumnReader::Float),
                ColumnType::Count => any.downcast_ref().map(ColumnReader::Count),
            };
            readers.push(reader.ok_or_else(|| {
                not_ours(format!(
                    "column {} is {}, expected {}",
                    c.name,
                    array.data_type(),
                    c.ty.arrow_type()
                ))
            })?);
        }
        // About 40 bytes a cell: one allocation per batch in the common case.
        let mut out = Vec::with_capacity(batch.num_rows() * readers.len() * 40);
        let mut cells = Vec::with_capacity(readers.len());
        for row in 0..batch.num_rows() {
            cells.clear();
            for (c, r) in self.table.columns().iter().zip(&readers) {
                cells.push(r.cell(row).ok_or_else(|| {
                    not_ours(format!("column {} row {row} is out of range", c.name))
                })?);
            }
            write_csv_row(&mut out, &cells).map_err(|source| TableError::Io {
                table: self.table.name(),
                source,
            })?;
        }
        Ok(out)
    }
}

impl Iterator for CsvFromParquet {
    type Item = Result<Vec<u8>, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.header_sent {
            self.header_sent = true;
            let mut header = Vec::new();
            // Writing into a Vec cannot fail.
            let _ = write_csv_header(&mut header, self.table);
            return Some(Ok(header));
        }
        let batch = match self.reader.next()? {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(TableError::Parquet {
                    table: self.table.name(),
                    message: e.to_string(),
                }));
            }
        };
        Some(self.batch_csv(&batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qf_core::InstrumentId;
    use qf_engine::strategies::builtin;
    use qf_engine::{BacktestConfig, Trade, run_backtest};

    /// A real sma_cross run with recorded equity (over two record batches), its first trade
    /// pushed to the edges of every column's range.
    fn result() -> BacktestResult {
        let series = [qf_data::sample_bars("S", 150_000, 3)];
        let b = builtin("sma_cross").unwrap();
        let params = b.resolve(&[]).unwrap();
        let config = BacktestConfig {
            record: true,
            ..BacktestConfig::default()
        };
        let mut r =
            run_backtest(&config, &series, b.build(&params).unwrap().as_mut(), None).unwrap();
        assert!(r.trades.len() > 10 && r.equity.len() == 150_000);
        r.instruments[0].symbol = "BRK,\"B\"".into();
        r.trades[0] = Trade {
            instrument: InstrumentId(0),
            direction: "short",
            quantity: Quantity::from_raw(i64::MAX),
            entry_time: Timestamp::from_nanos(1_700_000_000_123_456_789),
            entry_price: Price::from_raw(-1),
            exit_time: Timestamp::from_nanos(-1),
            exit_price: Price::from_raw(i64::MIN),
            pnl: Money::from_raw(-99_999_999_999_999_999_999_999_999_999_999_999_999),
            fees: Money::from_raw(1),
            return_pct: 0.1 + 0.2,
            bars_held: u64::MAX,
        };
        r
    }

    #[test]
    fn csv_from_parquet_is_the_csv_byte_for_byte() {
        let r = result();
        for table in [Table::Trades, Table::Equity] {
            let mut csv = Vec::new();
            write_csv(&mut csv, table, &r).unwrap();
            let parquet = write_parquet(Vec::new(), table, &r).unwrap();
            let chunks = csv_from_parquet(table, Bytes::from(parquet))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            // Header plus batches of 65,536 rows.
            let want_chunks = 1 + if table == Table::Equity { 3 } else { 1 };
            assert!(csv.len() > 1000, "{table:?}");
            assert_eq!(chunks.len(), want_chunks, "{table:?}");
            assert_eq!(
                String::from_utf8(chunks.concat()).unwrap(),
                String::from_utf8(csv).unwrap(),
                "{table:?}"
            );
        }
    }

    #[test]
    fn an_empty_table_has_its_header() {
        let mut r = result();
        r.trades.clear();
        let parquet = write_parquet(Vec::new(), Table::Trades, &r).unwrap();
        let csv: Vec<u8> = csv_from_parquet(Table::Trades, Bytes::from(parquet))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "symbol,direction,quantity,entry_time,entry_price,exit_time,exit_price,pnl,fees,return,bars_held\n"
        );
    }

    #[test]
    fn money_beyond_the_decimal_precision_is_refused_not_mangled() {
        let mut r = result();
        r.trades[0].pnl = Money::from_raw(i128::MAX);
        let e = write_parquet(Vec::new(), Table::Trades, &r).unwrap_err();
        assert!(e.to_string().contains("trades table"), "{e}");
    }

    #[test]
    fn another_table_is_not_ours() {
        let parquet = write_parquet(Vec::new(), Table::Equity, &result()).unwrap();
        let Err(e) = csv_from_parquet(Table::Trades, Bytes::from(parquet)) else {
            panic!("an equity file read as trades");
        };
        assert!(
            e.to_string().starts_with(
                "not a trades table written by Quantforge: its columns are [timestamp"
            ),
            "{e}"
        );
    }

    #[test]
    fn formats_by_name_and_extension() {
        assert_eq!(TableFormat::parse("csv"), Some(TableFormat::Csv));
        assert_eq!(TableFormat::parse("CSV"), None);
        assert_eq!(
            TableFormat::for_path(std::path::Path::new("t.PARQUET")),
            TableFormat::Parquet
        );
        assert_eq!(
            TableFormat::for_path(std::path::Path::new("t.txt")),
            TableFormat::Csv
        );
        assert_eq!(
            Table::Equity.file_name(TableFormat::Parquet),
            "equity.parquet"
        );
    }
}
