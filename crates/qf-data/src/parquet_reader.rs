//! Reading bars from Parquet.
//!
//! The file is read with the Arrow reader in large batches, only the columns we need, and a
//! string symbol column is asked for as a dictionary so a million rows of one ticker cost a
//! million small integers rather than a million strings. Each batch's columns are downcast
//! once into a [`Numbers`] or [`Times`] view and converted in plain loops.
//!
//! Conversion runs in up to three passes over the decoded batches: symbol ids (so every
//! symbol is known, in order of first appearance), price-precision inference for symbols the
//! metadata does not cover (a sample of up to [`SAMPLE_ROWS`] rows each), then the bars.

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
use qf_core::{Bar, MAX_PRECISION, PRICE_SCALE, Price, Timestamp, TimestampUnit};

use crate::DataError;
use crate::columns::{ColumnMap, Role};
use crate::error::{Location, file_name};
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

/// Rows per decoded batch: large enough that per-batch work vanishes, small enough that a
/// batch's columns stay in cache while converted.
const BATCH_ROWS: usize = 64 * 1024;

/// No symbol id yet (a dictionary entry not seen) or none at all (a bad symbol cell).
const NO_ID: u32 = u32::MAX;

const NUMBER_TYPES: &str = "a number column (Float64, Float32, Int64, Int32 or Decimal128)";
const TIME_TYPES: &str =
    "a time column (Timestamp, Date32, Date64, an Int64 or Int32 epoch, or Utf8 text)";
const TEXT_TYPES: &str = "a text column (Utf8, LargeUtf8 or a dictionary of Utf8)";

type CellProblem = (String, String);

/// Reads `path` into `sink`.
pub(crate) fn read_parquet<S: RowSink>(
    path: &Path,
    settings: ParquetSettings<'_>,
    sink: &mut S,
) -> Result<ReadSummary, DataError> {
    let file = file_name(path);
    let handle = File::open(path).map_err(|e| DataError::open(path, e))?;
    if handle.metadata().map(|m| m.len()).unwrap_or(1) == 0 {
        return Err(DataError::Empty { file });
    }
    let corrupt = |e: &dyn std::fmt::Display| DataError::Parquet {
        file: file.clone(),
        message: e.to_string(),
    };
    let meta = ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new()).map_err(|e| corrupt(&e))?;
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
    let position = |role: Role| columns.get(role).and_then(|c| wanted.iter().position(|&w| w == c));
    let mask = ProjectionMask::roots(meta.parquet_schema(), wanted.iter().copied());
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta)
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| corrupt(&e))?;
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| corrupt(&e))?;

    let ts_pos = position(Role::Timestamp).unwrap_or(0);
    let price_pos = [Role::Open, Role::High, Role::Low, Role::Close].map(|r| position(r).unwrap_or(0));
    let volume_pos = position(Role::Volume).unwrap_or(0);
    let invalid = |at: Location, role: Role, (expected, found): CellProblem| DataError::InvalidValue {
        file: file.clone(),
        location: at,
        column: columns.name(role).to_string(),
        expected,
        found,
    };

    // Pass 1: symbol ids.
    let mut symbols = Symbols::default();
    let mut ids: Vec<u32> = Vec::new();
    let mut symbol_problems: Vec<DataError> = Vec::new();
    match position(Role::Symbol) {
        Some(pos) => {
            ids.reserve(total_rows);
            let mut offset = 0u64;
            for batch in &batches {
                let before = ids.len();
                symbols.assign(batch.column(pos), &mut ids, sink, |i, problem| {
                    symbol_problems.push(invalid(Location::Row(offset + i as u64), Role::Symbol, problem));
                });
                offset += (ids.len() - before) as u64;
            }
        }
        None if total_rows > 0 => {
            symbols.intern(settings.default_symbol, sink);
        }
        None => {}
    }

    // Pass 2: price precision per symbol.
    let mut precisions: Vec<Option<u8>> = symbols
        .names
        .iter()
        .map(|n| settings.price_precision.or_else(|| known.get(n).copied()))
        .collect();
    if precisions.iter().any(Option::is_none) {
        infer_precisions(&batches, &ids, price_pos, &mut precisions);
    }
    let precisions: Vec<u8> = precisions.into_iter().map(|p| p.unwrap_or(0)).collect();

    // Pass 3: bars.
    let mut times = TimestampColumn::new();
    let mut arrow_unit = None;
    let mut problems = symbol_problems.into_iter();
    let mut rows = 0usize;
    for batch in &batches {
        let ts_column = batch.column(ts_pos);
        let ts = Times::new(ts_column);
        let ts_nullable = (ts_column.null_count() > 0).then_some(ts_column);
        arrow_unit = arrow_unit.or(ts.unit());
        let prices = price_pos.map(|p| Numbers::new(batch.column(p)));
        let volume = Numbers::new(batch.column(volume_pos));
        for i in 0..batch.num_rows() {
            let at = Location::Row(rows as u64);
            let symbol = if ids.is_empty() { 0 } else { ids[rows] };
            rows += 1;
            if symbol == NO_ID {
                if let Some(problem) = problems.next() {
                    sink.reject(problem)?;
                }
                continue;
            }
            if ts_nullable.is_some_and(|a| a.is_null(i)) {
                sink.reject(invalid(at, Role::Timestamp, ("a timestamp".into(), "a null".into())))?;
                continue;
            }
            let ts = match ts.get(i, at, &mut times) {
                Ok(ts) => ts,
                Err(p) => {
                    sink.reject(invalid(at, Role::Timestamp, p))?;
                    continue;
                }
            };
            let p = precisions[symbol as usize];
            let mut values = [Price::ZERO; 4];
            let mut bad = None;
            for (k, role) in [Role::Open, Role::High, Role::Low, Role::Close].into_iter().enumerate() {
                match prices[k].price(i, p) {
                    Ok(v) => values[k] = v,
                    Err(problem) => {
                        bad = Some(invalid(at, role, problem));
                        break;
                    }
                }
            }
            if let Some(error) = bad {
                sink.reject(error)?;
                continue;
            }
            let volume = match volume.volume(i) {
                Ok(v) => v,
                Err(problem) => {
                    sink.reject(invalid(at, Role::Volume, problem))?;
                    continue;
                }
            };
            let [open, high, low, close] = values;
            sink.row(
                symbol,
                Bar {
                    ts,
                    open,
                    high,
                    low,
                    close,
                    volume,
                },
                at,
            )?;
        }
    }

    Ok(ReadSummary {
        rows,
        timestamp_unit: arrow_unit.or(times.unit()),
        price_precisions: precisions,
    })
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
    fields[index] = field
        .clone()
        .with_data_type(DataType::Dictionary(Box::new(DataType::Int32), Box::new(value)));
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
                DataType::Timestamp(TimeUnit::Second, _) => a.as_primitive::<TimestampSecondType>().values(),
                DataType::Timestamp(TimeUnit::Millisecond, _) => a.as_primitive::<TimestampMillisecondType>().values(),
                DataType::Timestamp(TimeUnit::Microsecond, _) => a.as_primitive::<TimestampMicrosecondType>().values(),
                DataType::Timestamp(TimeUnit::Nanosecond, _) => a.as_primitive::<TimestampNanosecondType>().values(),
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
            DataType::Date64 => Self::Scaled(values64(array), 1_000_000, TimestampUnit::EpochMillis),
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

    #[inline]
    fn get(&self, i: usize, at: Location, column: &mut TimestampColumn) -> Result<Timestamp, CellProblem> {
        const RANGE: &str = "a time between the years 1677 and 2262";
        match self {
            Self::Scaled(v, scale, _) => v[i]
                .checked_mul(*scale)
                .map(Timestamp::from_nanos)
                .ok_or_else(|| (RANGE.to_string(), v[i].to_string())),
            Self::Days(v) => i64::from(v[i])
                .checked_mul(86_400_000_000_000)
                .map(Timestamp::from_nanos)
                .ok_or_else(|| (RANGE.to_string(), format!("day {}", v[i]))),
            Self::Epoch64(v) => column
                .epoch(v[i], at, || v[i].to_string())
                .map_err(|p| (p.expected, p.found)),
            Self::Epoch32(v) => column
                .epoch(i64::from(v[i]), at, || v[i].to_string())
                .map_err(|p| (p.expected, p.found)),
            Self::Text(s) => match s.get(i) {
                Some(text) => column.parse(text.as_bytes(), at).map_err(|p| (p.expected, p.found)),
                None => Err(("a timestamp".into(), "nothing".into())),
            },
            Self::Unsupported => Err((TIME_TYPES.into(), "another type".into())),
        }
    }
}

/// A batch's number column, downcast once.
struct Numbers<'a> {
    values: NumberValues<'a>,
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

    /// Row `i` as a price rounded to `precision` decimals.
    #[inline]
    fn price(&self, i: usize, precision: u8) -> Result<Price, CellProblem> {
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
            Price::from_f64(x, precision).ok_or_else(|| {
                let expected = if x.is_finite() { RANGE } else { "a finite number" };
                (expected.to_string(), x.to_string())
            })
        };
        match self.values {
            NumberValues::F64(v) => from_float(v[i]),
            NumberValues::F32(v) => from_float(f64::from(v[i])),
            NumberValues::I64(v) => from_int(v[i]),
            NumberValues::I32(v) => from_int(i64::from(v[i])),
            NumberValues::Decimal(v, scale) => decimal_price(v[i], scale).map(|p| p.round_to(precision)),
            NumberValues::Unsupported => Err((NUMBER_TYPES.into(), "another type".into())),
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
    let range = || ("a price below 9223372036 (the largest a price can hold)".to_string(), shown());
    let shift = i32::from(MAX_PRECISION) - i32::from(scale);
    let raw = if shift >= 0 {
        10i128
            .checked_pow(shift as u32)
            .and_then(|f| mantissa.checked_mul(f))
            .ok_or_else(range)?
    } else {
        let divisor = 10i128.checked_pow(shift.unsigned_abs()).unwrap_or(i128::MAX);
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
fn infer_precisions(
    batches: &[RecordBatch],
    ids: &[u32],
    price_pos: [usize; 4],
    precisions: &mut [Option<u8>],
) {
    let mut inferred = vec![0u8; precisions.len()];
    let mut sampled = vec![0usize; precisions.len()];
    let mut open: usize = precisions.iter().filter(|p| p.is_none()).count();
    let mut row = 0usize;
    'batches: for batch in batches {
        let prices = price_pos.map(|p| Numbers::new(batch.column(p)));
        for i in 0..batch.num_rows() {
            let symbol = if ids.is_empty() { 0 } else { ids[row] as usize };
            row += 1;
            if symbol >= precisions.len() || precisions[symbol].is_some() || sampled[symbol] >= SAMPLE_ROWS {
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
    use super::*;

    #[test]
    fn decimals_convert_exactly() {
        assert_eq!(decimal_price(12_345, 2).unwrap().to_string(), "123.45");
        assert_eq!(decimal_price(5, -2).unwrap().to_string(), "500");
        assert_eq!(decimal_price(1_230_000_000_000, 12).unwrap().to_string(), "1.23");
        assert!(decimal_price(1_230_000_000_001, 12).unwrap_err().0.contains("9 decimal"));
        assert!(decimal_price(i128::MAX, 0).is_err());
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(12_345, 2), "123.45");
        assert_eq!(decimal_text(7, -2), "700");
    }
}
