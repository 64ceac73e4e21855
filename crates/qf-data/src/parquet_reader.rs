//! Reading bars from Parquet.
//!
//! The file is read with the Arrow reader, only the columns we need, and a string symbol
//! column is asked for as a dictionary so a million rows of one ticker cost a million small
//! integers rather than a million strings. Each batch's columns are downcast once; a clean
//! batch (the usual case: a timestamp column, float prices, no nulls, nothing out of range,
//! checked in vectorisable loops first) is turned into bars in one tight loop, and any other
//! batch goes through a general path that converts column by column and reports each bad
//! cell at its row.
//!
//! Prices need their symbol's precision. It comes from the options, from our
//! `qf.price_precision` metadata, or is inferred from a sample of up to [`SAMPLE_ROWS`] rows
//! of the symbol; batches are converted as they are decoded until a symbol with no known
//! precision appears, and from there held until the sample has been looked at.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, GenericStringArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::reader::ChunkReader;
use qf_core::{Bar, MAX_PRECISION, PRICE_SCALE, Price, Timestamp, TimestampUnit};

use crate::DataError;
use crate::columns::{ColumnMap, Role};
use crate::error::Location;
use crate::precision::{self, METADATA_KEY, SAMPLE_ROWS};
use crate::row_sink::{ReadSummary, RowSink};
use crate::timestamp_column::TimestampColumn;

/// How to read one Parquet file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParquetSettings<'a> {
    /// The symbol of every row when the file has no symbol column.
    pub(crate) default_symbol: &'a str,
    /// Round every price to this many decimals instead of using the metadata or inferring.
    pub(crate) price_precision: Option<u8>,
}

/// Rows per decoded batch. Measured: with 8 Ki rows a batch's buffers (64 KiB a column)
/// stay below the allocator's `mmap` threshold and are reused from batch to batch, while
/// 64 Ki-row batches were mapped and unmapped each time, and the page faults cost more than
/// the whole conversion. Per-batch overhead is negligible at this size.
const BATCH_ROWS: usize = 8 * 1024;

/// No symbol id yet (a dictionary entry not seen) or none at all (a bad symbol cell).
const NO_ID: u32 = u32::MAX;

const NUMBER_TYPES: &str = "a number column (Float64, Float32, Int64, Int32 or Decimal128)";
const TIME_TYPES: &str =
    "a time column (Timestamp, Date32, Date64, an Int64 or Int32 epoch, or Utf8 text)";
const TEXT_TYPES: &str = "a text column (Utf8, LargeUtf8 or a dictionary of Utf8)";

type CellProblem = (String, String);

/// Reads the Parquet file at `path` into `sink`; messages call it `file`.
pub(crate) fn read_parquet<S: RowSink>(
    path: &Path,
    file: &str,
    settings: ParquetSettings<'_>,
    sink: &mut S,
) -> Result<ReadSummary, DataError> {
    let handle = File::open(path).map_err(|e| DataError::open(file, e))?;
    read_parquet_from(handle, file, settings, sink)
}

/// Reads Parquet from any source the decoder can seek in (a file, bytes in memory) into
/// `sink`; messages call it `file`.
pub(crate) fn read_parquet_from<S: RowSink, R: ChunkReader + 'static>(
    handle: R,
    file: &str,
    settings: ParquetSettings<'_>,
    sink: &mut S,
) -> Result<ReadSummary, DataError> {
    let file = file.to_string();
    if handle.len() == 0 {
        return Err(DataError::Empty { file });
    }
    let corrupt = |e: &dyn std::fmt::Display| DataError::Parquet {
        file: file.clone(),
        message: e.to_string(),
    };
    let meta = unpanicked(|| ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new()))
        .map_err(|e| corrupt(&e))?;
    let schema = meta.schema().clone();
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    if headers.is_empty() {
        return Err(DataError::Empty { file });
    }
    let columns = ColumnMap::resolve(&file, &headers)?;
    check_types(&file, &schema, &columns)?;

    let known: HashMap<String, u8> = meta
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == METADATA_KEY))
        .and_then(|e| e.value.as_deref())
        .map(precision::decode)
        .unwrap_or_default();
    let total_rows = usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0);
    sink.start(&file, &columns, total_rows);

    let meta = with_dictionary_symbols(meta, &schema, &columns);
    let mut wanted: Vec<usize> = Role::ALL.iter().filter_map(|&r| columns.get(r)).collect();
    wanted.sort_unstable();
    // Projected batches keep the file's column order.
    let position = |role: Role| {
        columns
            .get(role)
            .and_then(|c| wanted.iter().position(|&w| w == c))
    };
    let mask = ProjectionMask::roots(meta.parquet_schema(), wanted.iter().copied());
    let mut reader = unpanicked(|| {
        ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta)
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
    })
    .map_err(|e| corrupt(&e))?;

    let mut converter = Converter {
        file: &file,
        columns: &columns,
        ts_pos: position(Role::Timestamp).unwrap_or(0),
        price_pos: PRICE_ROLES.map(|r| position(r).unwrap_or(0)),
        volume_pos: position(Role::Volume).unwrap_or(0),
        times: TimestampColumn::new(),
        arrow_unit: None,
        rows: 0,
        buffers: Buffers::default(),
    };
    let symbol_pos = position(Role::Symbol);
    let mut symbols = Symbols::default();
    let mut precisions: Vec<Option<u8>> = Vec::new();
    // Batches are converted as they are decoded while every symbol seen has a known
    // precision; from the first symbol without one, they are held until it is inferred.
    let mut held: Vec<Decoded> = Vec::new();
    let mut offset = 0u64;
    while let Some(batch) = unpanicked(|| reader.next().transpose()).transpose() {
        let batch = batch.map_err(|e| corrupt(&e))?;
        let mut decoded = Decoded {
            ids: Vec::new(),
            symbol_problems: Vec::new(),
            batch,
        };
        match symbol_pos {
            Some(pos) => {
                decoded.ids.reserve(decoded.batch.num_rows());
                let problems = &mut decoded.symbol_problems;
                symbols.assign(
                    decoded.batch.column(pos),
                    &mut decoded.ids,
                    sink,
                    |i, problem| {
                        let at = Location::Row(offset + i as u64);
                        let error = converter.invalid(at, Role::Symbol, problem);
                        problems.push(BadCell {
                            row: i,
                            rank: 0,
                            error,
                        });
                    },
                );
            }
            None => {
                symbols.intern(settings.default_symbol, sink);
            }
        }
        offset += decoded.batch.num_rows() as u64;
        for name in &symbols.names[precisions.len()..] {
            precisions.push(
                settings
                    .price_precision
                    .or_else(|| known.get(name).copied()),
            );
        }
        if held.is_empty() && precisions.iter().all(Option::is_some) {
            let ticks: Vec<Tick> = precisions
                .iter()
                .map(|p| Tick::new(p.unwrap_or(0)))
                .collect();
            converter.convert(decoded, &ticks, sink)?;
        } else {
            held.push(decoded);
        }
    }
    if !held.is_empty() {
        infer_precisions(&held, converter.price_pos, &mut precisions);
        let ticks: Vec<Tick> = precisions
            .iter()
            .map(|p| Tick::new(p.unwrap_or(0)))
            .collect();
        for decoded in held {
            converter.convert(decoded, &ticks, sink)?;
        }
    }

    Ok(ReadSummary {
        rows: converter.rows,
        timestamp_unit: converter.arrow_unit.or(converter.times.unit()),
        price_precisions: precisions.into_iter().map(|p| p.unwrap_or(0)).collect(),
    })
}

const PRICE_ROLES: [Role; 4] = [Role::Open, Role::High, Role::Low, Role::Close];

/// One decoded batch with its rows' symbol ids.
struct Decoded {
    batch: RecordBatch,
    /// Per row ([`NO_ID`] for a bad symbol cell); empty when the file has no symbol column.
    ids: Vec<u32>,
    /// The bad symbol cells, in row order.
    symbol_problems: Vec<BadCell>,
}

/// A cell that could not be converted. `rank` orders the cells of one row as the CSV reader
/// checks them (symbol, timestamp, open, high, low, close, volume), so the row's error is
/// about the same cell whichever format the file is in.
struct BadCell {
    row: usize,
    rank: u8,
    error: DataError,
}

/// Reused per-batch column buffers: each column is converted whole in its own loop (one
/// type dispatch per batch, not per value), then rows are assembled from the buffers.
#[derive(Default)]
struct Buffers {
    times: Vec<i64>,
    prices: [Vec<i64>; 4],
    volumes: Vec<f64>,
}

/// Turns decoded batches into bars for a sink, in file order.
struct Converter<'a> {
    file: &'a str,
    columns: &'a ColumnMap,
    ts_pos: usize,
    price_pos: [usize; 4],
    volume_pos: usize,
    times: TimestampColumn,
    /// The unit implied by an Arrow timestamp or date type.
    arrow_unit: Option<TimestampUnit>,
    /// Rows converted so far (the next row's index).
    rows: usize,
    buffers: Buffers,
}

impl Converter<'_> {
    /// The fast path for the common batch: a timestamp column, float prices and volume, no
    /// nulls, and (checked first, in loops the compiler can vectorise) no value out of range.
    /// Builds each bar straight from the Arrow buffers. Returns `false`, having done nothing,
    /// when the batch does not qualify; the general path then finds and reports the bad cells
    /// in row order.
    fn convert_clean<S: RowSink>(
        &mut self,
        batch: &RecordBatch,
        ids: &[u32],
        uniform: Option<Tick>,
        ticks: &[Tick],
        sink: &mut S,
    ) -> Result<bool, DataError> {
        let ts_column = batch.column(self.ts_pos);
        let Times::Scaled(times, scale, unit) = Times::new(ts_column) else {
            return Ok(false);
        };
        let floats = |pos: usize| {
            let array = batch.column(pos);
            match (array.null_count(), array.as_primitive_opt::<Float64Type>()) {
                (0, Some(a)) => Some(a.values().as_ref()),
                _ => None,
            }
        };
        let (Some(open), Some(high), Some(low), Some(close), Some(volume)) = (
            floats(self.price_pos[0]),
            floats(self.price_pos[1]),
            floats(self.price_pos[2]),
            floats(self.price_pos[3]),
            floats(self.volume_pos),
        ) else {
            return Ok(false);
        };
        if ts_column.null_count() > 0 {
            return Ok(false);
        }
        let limit = (i64::MAX / scale).unsigned_abs();
        let times_ok = times
            .iter()
            .fold(true, |ok, &t| ok & (t.unsigned_abs() <= limit));
        let volume_ok = volume.iter().fold(true, |ok, &v| ok & v.is_finite());
        let prices_ok = match uniform {
            Some(tick) => [open, high, low, close]
                .iter()
                .all(|column| column.iter().fold(true, |ok, &x| ok & tick.raw(x).1)),
            None => [open, high, low, close].iter().all(|column| {
                column.iter().zip(ids).fold(true, |ok, (&x, &id)| {
                    ok & ticks.get(id as usize).is_some_and(|t| t.raw(x).1)
                })
            }),
        };
        if !(times_ok && volume_ok && prices_ok) {
            return Ok(false);
        }
        self.arrow_unit = self.arrow_unit.or(Some(unit));
        let first_row = self.rows;
        let mut emit = |i: usize, symbol: u32, tick: Tick| {
            let bar = Bar {
                ts: Timestamp::from_nanos(times[i].wrapping_mul(scale)),
                open: Price::from_raw(tick.raw(open[i]).0),
                high: Price::from_raw(tick.raw(high[i]).0),
                low: Price::from_raw(tick.raw(low[i]).0),
                close: Price::from_raw(tick.raw(close[i]).0),
                volume: volume[i] + 0.0,
            };
            sink.row(symbol, bar, Location::Row((first_row + i) as u64))
        };
        let n = batch.num_rows();
        match uniform {
            Some(tick) if ids.is_empty() => (0..n).try_for_each(|i| emit(i, 0, tick))?,
            Some(tick) => (0..n).try_for_each(|i| emit(i, ids[i], tick))?,
            None => (0..n).try_for_each(|i| {
                let symbol = ids.get(i).copied().unwrap_or(0);
                emit(
                    i,
                    symbol,
                    ticks.get(symbol as usize).copied().unwrap_or(Tick::new(0)),
                )
            })?,
        }
        Ok(true)
    }

    fn invalid(&self, at: Location, role: Role, (expected, found): CellProblem) -> DataError {
        DataError::InvalidValue {
            file: self.file.to_string(),
            location: at,
            column: self.columns.name(role).to_string(),
            expected,
            found,
        }
    }

    fn convert<S: RowSink>(
        &mut self,
        decoded: Decoded,
        ticks: &[Tick],
        sink: &mut S,
    ) -> Result<(), DataError> {
        let Decoded {
            batch,
            ids,
            symbol_problems,
        } = decoded;
        let n = batch.num_rows();
        let first_row = self.rows;
        let uniform = ticks
            .first()
            .copied()
            .filter(|t| ticks.iter().all(|u| u.precision == t.precision));
        if symbol_problems.is_empty() && self.convert_clean(&batch, &ids, uniform, ticks, sink)? {
            self.rows += n;
            return Ok(());
        }
        let mut buffers = std::mem::take(&mut self.buffers);
        let mut bad = symbol_problems;

        let ts_column = batch.column(self.ts_pos);
        let times = Times::new(ts_column);
        self.arrow_unit = self.arrow_unit.or(times.unit());
        buffers.times.clear();
        let mut problems: Vec<(usize, CellProblem)> = Vec::new();
        times.convert(
            ts_column,
            first_row,
            &mut self.times,
            &mut buffers.times,
            &mut problems,
        );
        for (row, problem) in problems.drain(..) {
            let error = self.invalid(
                Location::Row((first_row + row) as u64),
                Role::Timestamp,
                problem,
            );
            bad.push(BadCell {
                row,
                rank: 1,
                error,
            });
        }

        for (k, role) in PRICE_ROLES.into_iter().enumerate() {
            let numbers = Numbers::new(batch.column(self.price_pos[k]));
            let out = &mut buffers.prices[k];
            out.clear();
            match uniform {
                Some(tick) => numbers.prices(|_| tick, out, &mut problems),
                None => numbers.prices(
                    |i| {
                        ticks
                            .get(ids.get(i).copied().unwrap_or(0) as usize)
                            .copied()
                            .unwrap_or(Tick::new(0))
                    },
                    out,
                    &mut problems,
                ),
            }
            for (row, problem) in problems.drain(..) {
                let error = self.invalid(Location::Row((first_row + row) as u64), role, problem);
                bad.push(BadCell {
                    row,
                    rank: 2 + k as u8,
                    error,
                });
            }
        }
        buffers.volumes.clear();
        Numbers::new(batch.column(self.volume_pos)).volumes(&mut buffers.volumes, &mut problems);
        for (row, problem) in problems.drain(..) {
            let error = self.invalid(
                Location::Row((first_row + row) as u64),
                Role::Volume,
                problem,
            );
            bad.push(BadCell {
                row,
                rank: 6,
                error,
            });
        }
        bad.sort_by_key(|c| (c.row, c.rank));
        let mut bad = bad.into_iter().peekable();
        let [opens, highs, lows, closes] = &buffers.prices;
        let rows = buffers
            .times
            .iter()
            .zip(opens)
            .zip(highs)
            .zip(lows)
            .zip(closes)
            .zip(&buffers.volumes)
            .take(n);
        for (i, (((((&ts, &open), &high), &low), &close), &volume)) in rows.enumerate() {
            if bad.peek().is_some_and(|c| c.row == i) {
                if let Some(first) = bad.next() {
                    sink.reject(first.error)?;
                }
                while bad.next_if(|c| c.row == i).is_some() {}
                continue;
            }
            let bar = Bar {
                ts: Timestamp::from_nanos(ts),
                open: Price::from_raw(open),
                high: Price::from_raw(high),
                low: Price::from_raw(low),
                close: Price::from_raw(close),
                volume,
            };
            let symbol = ids.get(i).copied().unwrap_or(0);
            sink.row(symbol, bar, Location::Row((first_row + i) as u64))?;
        }
        self.rows += n;
        self.buffers = buffers;
        Ok(())
    }
}

/// A price precision prepared for converting floats quickly.
#[derive(Debug, Clone, Copy)]
struct Tick {
    precision: u8,
    /// 10^precision.
    per_unit: f64,
    /// Raw price units per tick: 10^(9 - precision).
    raw: i64,
    /// The largest number of ticks a price can hold.
    max_ticks: f64,
}

impl Tick {
    fn new(precision: u8) -> Self {
        let precision = precision.min(MAX_PRECISION);
        let raw = 10i64.pow(u32::from(MAX_PRECISION - precision));
        Self {
            precision,
            per_unit: 10f64.powi(i32::from(precision)),
            raw,
            max_ticks: (i64::MAX / raw) as f64,
        }
    }

    /// `x` rounded half away from zero to a whole number of ticks, as
    /// [`Price::from_f64`] does; `None` for NaN, infinities and out-of-range values.
    ///
    /// Written out because `f64::round` is a library call on baseline x86-64 and this runs
    /// four times per bar: truncating to an integer is one instruction, and the fraction
    /// `y - trunc(y)` is exact for any `y` in range, so the result is the same.
    #[inline]
    fn price(self, x: f64) -> Option<Price> {
        let (raw, valid) = self.raw(x);
        valid.then_some(Price::from_raw(raw))
    }

    /// The raw price for `x` and whether it is valid, without branches: prices stored as
    /// floats land just above or just below a whole tick at random, so a branch on the
    /// rounding direction would be mispredicted half the time.
    #[inline(always)]
    fn raw(self, x: f64) -> (i64, bool) {
        let y = x * self.per_unit;
        let valid = y.abs() < self.max_ticks;
        let y = if valid { y } else { 0.0 };
        let whole = y as i64;
        let fraction = y - whole as f64;
        let ticks = whole + i64::from(fraction >= 0.5) - i64::from(fraction <= -0.5);
        (ticks * self.raw, valid)
    }
}

thread_local! {
    /// Whether this thread is inside [`unpanicked`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
}

/// Runs a step of the Parquet reader, turning a panic into an error.
///
/// The `parquet` crate still panics on some damaged files (for example a data page that
/// refers to a dictionary page that is not there) instead of returning an error. A damaged
/// file must be reported, never crash the caller, so each step is run under
/// `catch_unwind`; after a panic the reader is not used again. (With `panic = "abort"` this
/// cannot help; the workspace keeps the default.)
///
/// The panic is expected and turned into a clear error, so the default hook's "thread main
/// panicked at …" must not reach the user's terminal: a hook installed once stays silent for
/// a thread while it is inside this function and defers to the previous hook otherwise.
fn unpanicked<T, E: std::fmt::Display>(step: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    install_quiet_hook();
    QUIET.with(|q| q.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step));
    QUIET.with(|q| q.set(false));
    match outcome {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".to_string());
            Err(format!("the decoder failed on damaged data ({why})"))
        }
    }
}

/// Fails on a column whose type cannot mean what its name says.
fn check_types(file: &str, schema: &Schema, columns: &ColumnMap) -> Result<(), DataError> {
    for role in Role::ALL {
        let Some(index) = columns.get(role) else {
            continue;
        };
        let data_type = schema.field(index).data_type();
        let (ok, expected) = match role {
            Role::Timestamp => (
                matches!(
                    data_type,
                    DataType::Timestamp(_, _)
                        | DataType::Date32
                        | DataType::Date64
                        | DataType::Int64
                        | DataType::Int32
                        | DataType::Utf8
                        | DataType::LargeUtf8
                ),
                TIME_TYPES,
            ),
            Role::Symbol => (is_text(data_type), TEXT_TYPES),
            _ => (
                matches!(
                    data_type,
                    DataType::Float64
                        | DataType::Float32
                        | DataType::Int64
                        | DataType::Int32
                        | DataType::Decimal128(_, _)
                ),
                NUMBER_TYPES,
            ),
        };
        if !ok {
            return Err(DataError::UnsupportedType {
                file: file.to_string(),
                column: columns.name(role).to_string(),
                expected,
                found: data_type.to_string(),
            });
        }
    }
    Ok(())
}

fn is_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 => true,
        DataType::Dictionary(key, value) => {
            key.is_dictionary_key_type() && matches!(**value, DataType::Utf8 | DataType::LargeUtf8)
        }
        _ => false,
    }
}

/// Asks the reader for a plain string symbol column as a dictionary (see the module docs);
/// keeps the plain reading if the reader will not have it.
fn with_dictionary_symbols(
    meta: ArrowReaderMetadata,
    schema: &Schema,
    columns: &ColumnMap,
) -> ArrowReaderMetadata {
    let Some(index) = columns.get(Role::Symbol) else {
        return meta;
    };
    let field = schema.field(index);
    let value = match field.data_type() {
        DataType::Utf8 => DataType::Utf8,
        DataType::LargeUtf8 => DataType::LargeUtf8,
        _ => return meta,
    };
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[index] = field.clone().with_data_type(DataType::Dictionary(
        Box::new(DataType::Int32),
        Box::new(value),
    ));
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = ArrowReaderOptions::new().with_schema(hinted);
    ArrowReaderMetadata::try_new(meta.metadata().clone(), options).unwrap_or(meta)
}

/// Symbol names and their ids, in order of first appearance.
#[derive(Debug, Default)]
struct Symbols {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Symbols {
    fn intern<S: RowSink>(&mut self, name: &str, sink: &mut S) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        sink.add_symbol(name);
        id
    }

    /// Appends one id per row of `column` to `ids` ([`NO_ID`] for a bad cell, reported
    /// through `problem` with the row's index within the batch).
    fn assign<S: RowSink>(
        &mut self,
        column: &ArrayRef,
        ids: &mut Vec<u32>,
        sink: &mut S,
        mut problem: impl FnMut(usize, CellProblem),
    ) {
        let nulls = column.logical_nulls();
        let is_null = |i: usize| nulls.as_ref().is_some_and(|n| n.is_null(i));
        let null = || ("a symbol".to_string(), "a null".to_string());
        let empty = || ("a symbol".to_string(), "an empty cell".to_string());
        if let Some(dict) = column.as_any_dictionary_opt() {
            let values = Strings::new(dict.values());
            let mut entry_ids = vec![NO_ID; dict.values().len()];
            for (i, key) in dict.normalized_keys().into_iter().enumerate() {
                let id = if is_null(i) {
                    problem(i, null());
                    NO_ID
                } else if entry_ids.get(key).is_some_and(|&id| id != NO_ID) {
                    entry_ids[key]
                } else {
                    match values.get(key) {
                        Some("") | None => {
                            problem(i, empty());
                            NO_ID
                        }
                        Some(name) => {
                            let id = self.intern(name, sink);
                            entry_ids[key] = id;
                            id
                        }
                    }
                };
                ids.push(id);
            }
            return;
        }
        let strings = Strings::new(column);
        let mut last: Option<(&str, u32)> = None;
        for i in 0..column.len() {
            let id = match strings.get(i) {
                _ if is_null(i) => {
                    problem(i, null());
                    NO_ID
                }
                Some("") | None => {
                    problem(i, empty());
                    NO_ID
                }
                Some(name) => match last {
                    Some((prev, id)) if prev == name => id,
                    _ => {
                        let id = self.intern(name, sink);
                        last = Some((name, id));
                        id
                    }
                },
            };
            ids.push(id);
        }
    }
}

/// A string column of either offset width.
enum Strings<'a> {
    Small(&'a GenericStringArray<i32>),
    Large(&'a GenericStringArray<i64>),
    Other,
}

impl<'a> Strings<'a> {
    fn new(array: &'a ArrayRef) -> Self {
        if let Some(a) = array.as_string_opt::<i32>() {
            Self::Small(a)
        } else if let Some(a) = array.as_string_opt::<i64>() {
            Self::Large(a)
        } else {
            Self::Other
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Self::Small(a) => (i < a.len()).then(|| a.value(i)),
            Self::Large(a) => (i < a.len()).then(|| a.value(i)),
            Self::Other => None,
        }
    }
}

/// A batch's timestamp column, downcast once.
enum Times<'a> {
    /// Integers times a fixed number of nanoseconds (Arrow timestamps and dates).
    Scaled(&'a [i64], i64, TimestampUnit),
    Days(&'a [i32]),
    Epoch64(&'a [i64]),
    Epoch32(&'a [i32]),
    Text(Strings<'a>),
    Unsupported,
}

impl<'a> Times<'a> {
    fn new(array: &'a ArrayRef) -> Self {
        let values64 = |a: &'a ArrayRef| -> &'a [i64] {
            match a.data_type() {
                DataType::Timestamp(TimeUnit::Second, _) => {
                    a.as_primitive::<TimestampSecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Millisecond, _) => {
                    a.as_primitive::<TimestampMillisecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    a.as_primitive::<TimestampMicrosecondType>().values()
                }
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    a.as_primitive::<TimestampNanosecondType>().values()
                }
                DataType::Date64 => a.as_primitive::<Date64Type>().values(),
                _ => a.as_primitive::<Int64Type>().values(),
            }
        };
        match array.data_type() {
            DataType::Timestamp(unit, _) => {
                let (scale, unit) = match unit {
                    TimeUnit::Second => (1_000_000_000, TimestampUnit::EpochSeconds),
                    TimeUnit::Millisecond => (1_000_000, TimestampUnit::EpochMillis),
                    TimeUnit::Microsecond => (1_000, TimestampUnit::EpochMicros),
                    TimeUnit::Nanosecond => (1, TimestampUnit::EpochNanos),
                };
                Self::Scaled(values64(array), scale, unit)
            }
            DataType::Date64 => {
                Self::Scaled(values64(array), 1_000_000, TimestampUnit::EpochMillis)
            }
            DataType::Date32 => Self::Days(array.as_primitive::<Date32Type>().values()),
            DataType::Int64 => Self::Epoch64(values64(array)),
            DataType::Int32 => Self::Epoch32(array.as_primitive::<Int32Type>().values()),
            DataType::Utf8 | DataType::LargeUtf8 => Self::Text(Strings::new(array)),
            _ => Self::Unsupported,
        }
    }

    /// The unit implied by the Arrow type, when the type fixes it.
    fn unit(&self) -> Option<TimestampUnit> {
        match self {
            Self::Scaled(_, _, unit) => Some(*unit),
            // A date is a whole number of days; we report it as whole seconds.
            Self::Days(_) => Some(TimestampUnit::EpochSeconds),
            _ => None,
        }
    }

    /// Converts the whole column to nanoseconds into `out` (one value per row, 0 for a bad
    /// cell), reporting bad cells by row within the batch. `first_row` is the batch's first
    /// row index in the file.
    fn convert(
        &self,
        array: &ArrayRef,
        first_row: usize,
        column: &mut TimestampColumn,
        out: &mut Vec<i64>,
        bad: &mut Vec<(usize, CellProblem)>,
    ) {
        const RANGE: &str = "a time between the years 1677 and 2262";
        let n = array.len();
        out.reserve(n);
        let mut emit = |i: usize, value: Result<i64, CellProblem>, out: &mut Vec<i64>| match value {
            Ok(v) => out.push(v),
            Err(problem) => {
                bad.push((i, problem));
                out.push(0);
            }
        };
        let at = |i: usize| Location::Row((first_row + i) as u64);
        match self {
            // The common case, a nanosecond timestamp column, is a copy.
            Self::Scaled(v, 1, _) => out.extend_from_slice(v),
            Self::Scaled(v, scale, _) => {
                for (i, &x) in v.iter().enumerate() {
                    let value = x
                        .checked_mul(*scale)
                        .ok_or_else(|| (RANGE.to_string(), x.to_string()));
                    emit(i, value, out);
                }
            }
            Self::Days(v) => {
                for (i, &x) in v.iter().enumerate() {
                    let value = i64::from(x)
                        .checked_mul(86_400_000_000_000)
                        .ok_or_else(|| (RANGE.to_string(), format!("day {x}")));
                    emit(i, value, out);
                }
            }
            Self::Epoch64(v) => {
                for (i, &x) in v.iter().enumerate() {
                    let value = column.epoch(x, at(i), || x.to_string());
                    emit(
                        i,
                        value
                            .map(Timestamp::nanos)
                            .map_err(|p| (p.expected, p.found)),
                        out,
                    );
                }
            }
            Self::Epoch32(v) => {
                for (i, &x) in v.iter().enumerate() {
                    let value = column.epoch(i64::from(x), at(i), || x.to_string());
                    emit(
                        i,
                        value
                            .map(Timestamp::nanos)
                            .map_err(|p| (p.expected, p.found)),
                        out,
                    );
                }
            }
            Self::Text(s) => {
                for i in 0..n {
                    let value = match s.get(i) {
                        Some(text) if !array.is_null(i) => column
                            .parse(text.as_bytes(), at(i))
                            .map(Timestamp::nanos)
                            .map_err(|p| (p.expected, p.found)),
                        _ => Err(("a timestamp".into(), "a null".into())),
                    };
                    emit(i, value, out);
                }
            }
            Self::Unsupported => {
                for i in 0..n {
                    emit(i, Err((TIME_TYPES.into(), "another type".into())), out);
                }
            }
        }
        if array.null_count() > 0 && !matches!(self, Self::Text(_)) {
            for i in 0..n {
                if array.is_null(i) {
                    bad.push((i, ("a timestamp".into(), "a null".into())));
                }
            }
        }
    }
}

/// A batch's number column, downcast once.
struct Numbers<'a> {
    values: NumberValues<'a>,
    len: usize,
    /// The array itself when it has nulls, to ask per row; `None` (the fast path) otherwise.
    nullable: Option<&'a ArrayRef>,
}

enum NumberValues<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
    I64(&'a [i64]),
    I32(&'a [i32]),
    Decimal(&'a [i128], i8),
    Unsupported,
}

impl<'a> Numbers<'a> {
    fn new(array: &'a ArrayRef) -> Self {
        let values = match array.data_type() {
            DataType::Float64 => NumberValues::F64(array.as_primitive::<Float64Type>().values()),
            DataType::Float32 => NumberValues::F32(array.as_primitive::<Float32Type>().values()),
            DataType::Int64 => NumberValues::I64(array.as_primitive::<Int64Type>().values()),
            DataType::Int32 => NumberValues::I32(array.as_primitive::<Int32Type>().values()),
            DataType::Decimal128(_, scale) => {
                NumberValues::Decimal(array.as_primitive::<Decimal128Type>().values(), *scale)
            }
            _ => NumberValues::Unsupported,
        };
        Self {
            values,
            len: array.len(),
            nullable: (array.null_count() > 0).then_some(array),
        }
    }

    #[inline]
    fn is_null(&self, i: usize) -> bool {
        self.nullable.is_some_and(|a| a.is_null(i))
    }

    /// The smallest precision (at least `at_least`) at which row `i` is a whole number of
    /// ticks.
    fn precision(&self, i: usize, at_least: u8) -> u8 {
        if self.is_null(i) {
            return at_least;
        }
        match self.values {
            NumberValues::F64(v) => precision::float_precision(v[i], at_least, 0.0),
            // A float32 carries about seven significant digits; judge it at that resolution.
            NumberValues::F32(v) => {
                precision::float_precision(f64::from(v[i]), at_least, f64::from(f32::EPSILON))
            }
            NumberValues::Decimal(v, scale) => {
                at_least.max(precision::decimal_precision(v[i], scale).min(MAX_PRECISION))
            }
            NumberValues::I64(_) | NumberValues::I32(_) | NumberValues::Unsupported => at_least,
        }
    }

    /// Row `i` as a price rounded to the tick (the per-value path, and the error details).
    fn price(&self, i: usize, tick: Tick) -> Result<Price, CellProblem> {
        const RANGE: &str = "a price below 9223372036 (the largest a price can hold)";
        if self.is_null(i) {
            return Err(("a number".into(), "a null".into()));
        }
        let from_int = |x: i64| {
            x.checked_mul(PRICE_SCALE)
                .map(Price::from_raw)
                .ok_or_else(|| (RANGE.to_string(), x.to_string()))
        };
        let from_float = |x: f64| {
            tick.price(x).ok_or_else(|| {
                let expected = if x.is_finite() {
                    RANGE
                } else {
                    "a finite number"
                };
                (expected.to_string(), x.to_string())
            })
        };
        match self.values {
            NumberValues::F64(v) => from_float(v[i]),
            NumberValues::F32(v) => from_float(f64::from(v[i])),
            NumberValues::I64(v) => from_int(v[i]),
            NumberValues::I32(v) => from_int(i64::from(v[i])),
            NumberValues::Decimal(v, scale) => {
                decimal_price(v[i], scale).map(|p| p.round_to(tick.precision))
            }
            NumberValues::Unsupported => Err((NUMBER_TYPES.into(), "another type".into())),
        }
    }

    /// Converts the whole column to raw prices into `out` (0 for a bad cell), with the tick
    /// of each row from `tick`.
    #[inline]
    fn prices(
        &self,
        tick: impl Fn(usize) -> Tick,
        out: &mut Vec<i64>,
        bad: &mut Vec<(usize, CellProblem)>,
    ) {
        let n = self.len;
        out.reserve(n);
        match self.values {
            // The hot loop: float prices without nulls, converted without branches; the rare
            // bad value is found afterwards.
            NumberValues::F64(v) if self.nullable.is_none() => {
                let start = out.len();
                let mut all_valid = true;
                out.extend(v.iter().enumerate().map(|(i, &x)| {
                    let (raw, valid) = tick(i).raw(x);
                    all_valid &= valid;
                    raw
                }));
                if !all_valid {
                    for (i, &x) in v.iter().enumerate() {
                        if !tick(i).raw(x).1 {
                            bad.push((i, self.price(i, tick(i)).err().unwrap_or_default()));
                            out[start + i] = 0;
                        }
                    }
                }
            }
            _ => {
                for i in 0..n {
                    match self.price(i, tick(i)) {
                        Ok(p) => out.push(p.raw()),
                        Err(problem) => {
                            bad.push((i, problem));
                            out.push(0);
                        }
                    }
                }
            }
        }
    }

    /// Converts the whole column to volumes into `out` (0 for a bad cell).
    fn volumes(&self, out: &mut Vec<f64>, bad: &mut Vec<(usize, CellProblem)>) {
        let n = self.len;
        out.reserve(n);
        match self.values {
            NumberValues::F64(v) if self.nullable.is_none() => {
                let start = out.len();
                let mut all_finite = true;
                out.extend(v.iter().map(|&x| {
                    all_finite &= x.is_finite();
                    x + 0.0
                }));
                if !all_finite {
                    for (i, &x) in v.iter().enumerate() {
                        if !x.is_finite() {
                            bad.push((i, ("a finite number".into(), x.to_string())));
                            out[start + i] = 0.0;
                        }
                    }
                }
            }
            _ => {
                for i in 0..n {
                    match self.volume(i) {
                        Ok(v) => out.push(v),
                        Err(problem) => {
                            bad.push((i, problem));
                            out.push(0.0);
                        }
                    }
                }
            }
        }
    }

    /// Row `i` as a finite volume.
    #[inline]
    fn volume(&self, i: usize) -> Result<f64, CellProblem> {
        if self.is_null(i) {
            return Err(("a number".into(), "a null".into()));
        }
        let v = match self.values {
            NumberValues::F64(v) => v[i],
            NumberValues::F32(v) => f64::from(v[i]),
            NumberValues::I64(v) => v[i] as f64,
            NumberValues::I32(v) => f64::from(v[i]),
            NumberValues::Decimal(v, scale) => v[i] as f64 / 10f64.powi(i32::from(scale)),
            NumberValues::Unsupported => return Err((NUMBER_TYPES.into(), "another type".into())),
        };
        if !v.is_finite() {
            return Err(("a finite number".into(), v.to_string()));
        }
        Ok(v + 0.0)
    }
}

/// An exact price from a decimal mantissa and scale.
fn decimal_price(mantissa: i128, scale: i8) -> Result<Price, CellProblem> {
    let shown = || decimal_text(mantissa, scale);
    let range = || {
        (
            "a price below 9223372036 (the largest a price can hold)".to_string(),
            shown(),
        )
    };
    let shift = i32::from(MAX_PRECISION) - i32::from(scale);
    let raw = if shift >= 0 {
        10i128
            .checked_pow(shift as u32)
            .and_then(|f| mantissa.checked_mul(f))
            .ok_or_else(range)?
    } else {
        let divisor = 10i128
            .checked_pow(shift.unsigned_abs())
            .unwrap_or(i128::MAX);
        if mantissa % divisor != 0 {
            return Err(("a price with at most 9 decimal places".into(), shown()));
        }
        mantissa / divisor
    };
    i64::try_from(raw).map(Price::from_raw).map_err(|_| range())
}

/// A decimal mantissa and scale written out, for messages.
fn decimal_text(mantissa: i128, scale: i8) -> String {
    if scale <= 0 {
        return format!("{mantissa}{}", "0".repeat(scale.unsigned_abs() as usize));
    }
    let digits = mantissa.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if mantissa < 0 { "-" } else { "" };
    format!("{sign}{int}.{frac}")
}

/// Fills in each `None` precision from a sample of up to [`SAMPLE_ROWS`] rows of its symbol.
fn infer_precisions(held: &[Decoded], price_pos: [usize; 4], precisions: &mut [Option<u8>]) {
    let mut inferred = vec![0u8; precisions.len()];
    let mut sampled = vec![0usize; precisions.len()];
    let mut open: usize = precisions.iter().filter(|p| p.is_none()).count();
    'batches: for decoded in held {
        let prices = price_pos.map(|p| Numbers::new(decoded.batch.column(p)));
        for i in 0..decoded.batch.num_rows() {
            let symbol = decoded.ids.get(i).map_or(0, |&id| id as usize);
            if precisions.get(symbol).is_none_or(Option::is_some) || sampled[symbol] >= SAMPLE_ROWS
            {
                continue;
            }
            for column in &prices {
                inferred[symbol] = column.precision(i, inferred[symbol]);
            }
            sampled[symbol] += 1;
            if sampled[symbol] == SAMPLE_ROWS {
                open -= 1;
                if open == 0 {
                    break 'batches;
                }
            }
        }
    }
    for (p, q) in precisions.iter_mut().zip(inferred) {
        p.get_or_insert(q);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn decoder_panics_become_errors_and_the_hook_recovers() {
        let failed: Result<(), String> =
            super::unpanicked(|| -> Result<(), String> { panic!("dictionary page missing") });
        let msg = failed.unwrap_err();
        assert!(
            msg.contains("damaged data") && msg.contains("dictionary page missing"),
            "{msg}"
        );
        assert!(
            !super::QUIET.with(|q| q.get()),
            "quiet only inside the step"
        );
        let ok: Result<u8, String> = super::unpanicked(|| Ok::<u8, String>(7));
        assert_eq!(ok, Ok(7));
    }
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tick_rounding_matches_core(x in -1e9f64..1e9, p in 0u8..=9) {
            prop_assert_eq!(Tick::new(p).price(x), Price::from_f64(x, p));
        }

        #[test]
        fn tick_rounding_at_halves(units in -1_000_000_000i64..1_000_000_000, p in 0u8..=6) {
            let x = (units as f64 + 0.5) / 10f64.powi(i32::from(p));
            prop_assert_eq!(Tick::new(p).price(x), Price::from_f64(x, p));
        }
    }

    #[test]
    fn tick_rejects_what_core_rejects() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300] {
            assert_eq!(Tick::new(2).price(x), None);
        }
        // The value just below one half, where `trunc(y + 0.5)` would round the wrong way.
        let below_half = 0.499_999_999_999_999_94;
        assert_eq!(Tick::new(0).price(below_half), Some(Price::ZERO));
        assert_eq!(
            Tick::new(0).price(below_half),
            Price::from_f64(below_half, 0)
        );
        assert_eq!(Tick::new(0).price(-2.5), Price::from_f64(-2.5, 0));
    }

    #[test]
    fn decimals_convert_exactly() {
        assert_eq!(decimal_price(12_345, 2).unwrap().to_string(), "123.45");
        assert_eq!(decimal_price(5, -2).unwrap().to_string(), "500");
        assert_eq!(
            decimal_price(1_230_000_000_000, 12).unwrap().to_string(),
            "1.23"
        );
        assert!(
            decimal_price(1_230_000_000_001, 12)
                .unwrap_err()
                .0
                .contains("9 decimal")
        );
        assert!(decimal_price(i128::MAX, 0).is_err());
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(12_345, 2), "123.45");
        assert_eq!(decimal_text(7, -2), "700");
    }
}
