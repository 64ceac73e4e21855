//! Reading bars from CSV.
//!
//! Speed comes from the `csv` crate's [`ByteRecord`] reused for every line, cells parsed
//! straight from bytes, and a symbol compared with the previous row's before any hash
//! lookup; a typical row allocates nothing. Prices are parsed exactly from their text with
//! [`Price::parse_with_precision`], never through `f64`, and each symbol's price precision
//! is the most decimal places written in any of its prices.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use csv::ByteRecord;
use qf_core::{Bar, Price};

use crate::DataError;
use crate::columns::{ColumnMap, Role};
use crate::error::{Location, describe_cell};
use crate::row_sink::{ReadSummary, RowSink};
use crate::timestamp_column::TimestampColumn;

/// How to read one CSV file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvSettings<'a> {
    /// The symbol of every row when the file has no symbol column.
    pub(crate) default_symbol: &'a str,
    /// Round every price to this many decimals instead of inferring the precision.
    pub(crate) price_precision: Option<u8>,
}

/// What a cell should have been and what it was.
type CellProblem = (String, String);

/// Reads `path` into `sink`; messages call it `file`.
pub(crate) fn read_csv<S: RowSink>(
    path: &Path,
    file: &str,
    settings: CsvSettings<'_>,
    sink: &mut S,
) -> Result<ReadSummary, DataError> {
    let handle = File::open(path).map_err(|e| DataError::open(file, e))?;
    let file = file.to_string();
    let file_len = handle.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(handle);

    let header_record = reader
        .byte_headers()
        .map_err(|e| csv_error(&file, e))?
        .clone();
    if header_record.is_empty()
        || (header_record.len() == 1 && header_record[0].trim_ascii().is_empty())
    {
        return Err(DataError::Empty { file });
    }
    let headers = header_names(&file, &header_record)?;
    let columns = ColumnMap::resolve(&file, &headers)?;
    let header_bytes = reader.position().byte();
    let width = header_record.len();

    let ts_col = columns.required(Role::Timestamp);
    let symbol_col = columns.get(Role::Symbol);
    let price_cols = [
        columns.required(Role::Open),
        columns.required(Role::High),
        columns.required(Role::Low),
        columns.required(Role::Close),
    ];
    let price_roles = [Role::Open, Role::High, Role::Low, Role::Close];
    let volume_col = columns.required(Role::Volume);

    let mut record = ByteRecord::new();
    let mut timestamps = TimestampColumn::new();
    let mut symbols: Vec<String> = Vec::new();
    let mut places: Vec<u8> = Vec::new();
    let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut last_symbol: Vec<u8> = Vec::new();
    let mut last_id: u32 = 0;
    let mut rows = 0usize;
    let mut started = false;

    let invalid =
        |at: Location, role: Role, (expected, found): CellProblem| DataError::InvalidValue {
            file: file.clone(),
            location: at,
            column: columns.name(role).to_string(),
            expected,
            found,
        };

    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&file, e)),
        }
        rows += 1;
        let line = record.position().map_or(0, |p| p.line());
        let at = Location::Line(line);
        if !started {
            started = true;
            // Estimate the row count from the first line's length, for preallocation.
            let first_len = reader.position().byte().saturating_sub(header_bytes).max(1);
            let hint = (file_len.saturating_sub(header_bytes) / first_len + 1).min(1 << 28);
            sink.start(&file, &columns, hint as usize);
            if symbol_col.is_none() {
                symbols.push(settings.default_symbol.to_string());
                places.push(0);
                sink.add_symbol(settings.default_symbol);
            }
        }
        if record.len() != width {
            sink.reject(DataError::FieldCount {
                file: file.clone(),
                location: at,
                expected: width,
                found: record.len(),
            })?;
            continue;
        }

        let symbol = match symbol_col {
            None => 0,
            Some(c) => {
                let cell = record[c].trim_ascii();
                if cell == last_symbol.as_slice() && !symbols.is_empty() {
                    last_id
                } else {
                    let id = match ids.get(cell) {
                        Some(&id) => id,
                        None => match symbol_name(cell) {
                            Ok(name) => {
                                let id = symbols.len() as u32;
                                ids.insert(cell.to_vec(), id);
                                sink.add_symbol(name);
                                symbols.push(name.to_string());
                                places.push(0);
                                id
                            }
                            Err(problem) => {
                                sink.reject(invalid(at, Role::Symbol, problem))?;
                                continue;
                            }
                        },
                    };
                    last_symbol.clear();
                    last_symbol.extend_from_slice(cell);
                    last_id = id;
                    id
                }
            }
        };

        let ts = match timestamps.parse(&record[ts_col], at) {
            Ok(ts) => ts,
            Err(p) => {
                sink.reject(invalid(at, Role::Timestamp, (p.expected, p.found)))?;
                continue;
            }
        };

        let mut prices = [Price::ZERO; 4];
        let mut most_places = 0u8;
        let mut bad = None;
        for k in 0..4 {
            match price_cell(&record[price_cols[k]]) {
                Ok((p, n)) => {
                    prices[k] = p;
                    most_places = most_places.max(n);
                }
                Err(problem) => {
                    bad = Some(invalid(at, price_roles[k], problem));
                    break;
                }
            }
        }
        if let Some(error) = bad {
            sink.reject(error)?;
            continue;
        }
        let volume = match volume_cell(&record[volume_col]) {
            Ok(v) => v,
            Err(problem) => {
                sink.reject(invalid(at, Role::Volume, problem))?;
                continue;
            }
        };

        let slot = &mut places[symbol as usize];
        *slot = (*slot).max(most_places);
        if let Some(p) = settings.price_precision
            && most_places > p
        {
            for price in &mut prices {
                *price = price.round_to(p);
            }
        }
        let [open, high, low, close] = prices;
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

    let price_precisions = match settings.price_precision {
        Some(p) => vec![p; symbols.len()],
        None => places,
    };
    Ok(ReadSummary {
        rows,
        timestamp_unit: timestamps.unit(),
        price_precisions,
    })
}

fn header_names(file: &str, record: &ByteRecord) -> Result<Vec<String>, DataError> {
    record
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let cell = if i == 0 {
                cell.strip_prefix(b"\xef\xbb\xbf").unwrap_or(cell)
            } else {
                cell
            };
            std::str::from_utf8(cell)
                .map(|s| s.trim().to_string())
                .map_err(|_| DataError::InvalidValue {
                    file: file.to_string(),
                    location: Location::Line(1),
                    column: (i + 1).to_string(),
                    expected: "a column name in UTF-8 text".into(),
                    found: describe_cell(cell),
                })
        })
        .collect()
}

fn csv_error(file: &str, error: csv::Error) -> DataError {
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => DataError::Io {
            file: file.to_string(),
            source,
        },
        _ => DataError::Csv {
            file: file.to_string(),
            message,
        },
    }
}

fn symbol_name(cell: &[u8]) -> Result<&str, CellProblem> {
    match std::str::from_utf8(cell) {
        Ok("") => Err(("a symbol".into(), "an empty cell".into())),
        Ok(name) => Ok(name),
        Err(_) => Err(("a symbol in UTF-8 text".into(), describe_cell(cell))),
    }
}

/// An exact price and the number of decimal places it was written with.
#[inline]
pub(crate) fn price_cell(cell: &[u8]) -> Result<(Price, u8), CellProblem> {
    let text = std::str::from_utf8(cell)
        .map_err(|_| ("a number in UTF-8 text".to_string(), describe_cell(cell)))?;
    Price::parse_with_precision(text).map_err(|e| {
        let expected = match e {
            qf_core::CoreError::TooPrecise { .. } => "a price with at most 9 decimal places",
            qf_core::CoreError::OutOfRange { .. } => {
                "a price below 9223372036 (the largest a price can hold)"
            }
            _ => "a number",
        };
        (expected.to_string(), describe_cell(cell))
    })
}

/// A finite volume (its sign is checked with the other bar rules).
#[inline]
pub(crate) fn volume_cell(cell: &[u8]) -> Result<f64, CellProblem> {
    let problem = || ("a number".to_string(), describe_cell(cell));
    let text = std::str::from_utf8(cell.trim_ascii())
        .map_err(|_| ("a number in UTF-8 text".to_string(), describe_cell(cell)))?;
    let v: f64 = text.parse().map_err(|_| problem())?;
    if !v.is_finite() {
        return Err(("a finite number".to_string(), describe_cell(cell)));
    }
    // `-0` would print back as "-0"; a volume has no sign at zero.
    Ok(v + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_cells() {
        let (p, n) = price_cell(b" 101.250 ").unwrap();
        assert_eq!((p.to_string().as_str(), n), ("101.25", 2));
        assert_eq!(
            price_cell(b"abc").unwrap_err(),
            ("a number".to_string(), "\"abc\"".to_string())
        );
        assert_eq!(price_cell(b"").unwrap_err().1, "an empty cell");
        assert_eq!(price_cell(b"NaN").unwrap_err().0, "a number");
        assert_eq!(price_cell(b"inf").unwrap_err().0, "a number");
        assert!(
            price_cell(b"1.0000000001")
                .unwrap_err()
                .0
                .contains("at most 9 decimal")
        );
        assert!(price_cell(b"\xff").unwrap_err().1.contains("UTF-8"));
    }

    #[test]
    fn volume_cells() {
        assert_eq!(volume_cell(b" 12.5").unwrap(), 12.5);
        assert_eq!(volume_cell(b"-0").unwrap().to_bits(), 0f64.to_bits());
        assert_eq!(volume_cell(b"-3").unwrap(), -3.0);
        assert_eq!(volume_cell(b"NaN").unwrap_err().0, "a finite number");
        assert_eq!(volume_cell(b"inf").unwrap_err().0, "a finite number");
        assert_eq!(volume_cell(b"x").unwrap_err().0, "a number");
        assert_eq!(volume_cell(b"").unwrap_err().1, "an empty cell");
    }

    #[test]
    fn symbol_names() {
        assert_eq!(symbol_name(b"AAPL").unwrap(), "AAPL");
        assert!(symbol_name(b"").is_err());
        assert!(symbol_name(b"\xff").is_err());
    }
}
