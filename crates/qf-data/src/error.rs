//! What can go wrong reading or writing a data file, worded for the person at the terminal.
//!
//! Every message starts with the file as it was named, then the place (a CSV line, 1-based
//! as an editor shows it with the header on line 1, or a Parquet row index, 0-based as
//! pandas and pyarrow show it), the column as written in the file, what was expected and
//! what was found.

use std::fmt;

use qf_core::Timestamp;
use serde::Serialize;
use thiserror::Error;

/// Where in a file a value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// A CSV line, 1-based, the header being line 1.
    Line(u64),
    /// A Parquet row index, 0-based.
    Row(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Errors from loading, inspecting or writing bar data.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error("{file}: no such file")]
    NotFound {
        /// The path as given.
        file: String,
    },
    /// The operating system refused a read or a write.
    #[error("{file}: {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The extension names no format we read or write.
    #[error(
        "{file}: unknown file type {found}; expected a .csv, .parquet or .pq file",
        found = describe_extension(.extension)
    )]
    UnknownFormat {
        /// The path as given.
        file: String,
        /// The extension found, if any.
        extension: Option<String>,
    },
    /// The file has no header line at all.
    #[error(
        "{file}: the file is empty; expected a header line such as timestamp,open,high,low,close,volume"
    )]
    Empty {
        /// The path as given.
        file: String,
    },
    /// The file has a header (or a schema) but no data rows.
    #[error("{file}: the file has a header but no rows of data")]
    NoRows {
        /// The path as given.
        file: String,
    },
    /// A required column is missing.
    #[error(
        "{file}: missing column \"{column}\"; found columns: {found}{hint}",
        found = list_columns(.found),
        hint = suggestion(.did_you_mean)
    )]
    MissingColumn {
        /// The path as given.
        file: String,
        /// The column that is required (`timestamp`, `open`, …).
        column: &'static str,
        /// The columns the file has, as written.
        found: Vec<String>,
        /// A column whose name is within two edits of the missing one.
        did_you_mean: Option<String>,
    },
    /// Two columns map to the same meaning (for example `time` and `date`).
    #[error("{file}: columns \"{first}\" and \"{second}\" both name the {role} column; keep one")]
    DuplicateColumn {
        /// The path as given.
        file: String,
        /// The meaning both columns claim.
        role: &'static str,
        /// The first such column, as written.
        first: String,
        /// The second such column, as written.
        second: String,
    },
    /// A value is not what its column requires.
    #[error("{file} {location}, column {column}: expected {expected}, found {found}")]
    InvalidValue {
        /// The path as given.
        file: String,
        /// Line or row.
        location: Location,
        /// The column as written in the file.
        column: String,
        /// What the column requires.
        expected: String,
        /// What was there (quoted text, or a description such as "an empty cell").
        found: String,
    },
    /// A CSV line has more or fewer fields than the header.
    #[error("{file} {location}: expected {expected} fields as in the header, found {found}")]
    FieldCount {
        /// The path as given.
        file: String,
        /// The line.
        location: Location,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// Rows of one symbol are not in time order.
    #[error(
        "{file} {location}: timestamp {timestamp} of {symbol} is earlier than {previous_timestamp} \
         on {previous_location}; rows must be in time order (use --sort to sort them)"
    )]
    OutOfOrder {
        /// The path as given.
        file: String,
        /// The symbol.
        symbol: String,
        /// The offending row.
        location: Location,
        /// Its timestamp.
        timestamp: Timestamp,
        /// The earlier row with the later time.
        previous_location: Location,
        /// That row's timestamp.
        previous_timestamp: Timestamp,
    },
    /// Two rows of one symbol share a timestamp.
    #[error(
        "{file} {location}: duplicate timestamp {timestamp} for {symbol} (also on {previous_location}); \
         use --dedupe to keep the last of each"
    )]
    Duplicate {
        /// The path as given.
        file: String,
        /// The symbol.
        symbol: String,
        /// The later of the two rows.
        location: Location,
        /// The earlier of the two rows.
        previous_location: Location,
        /// The shared timestamp.
        timestamp: Timestamp,
    },
    /// A column's Parquet/Arrow type cannot hold what the column means.
    #[error("{file}, column {column}: expected {expected}, found type {found}")]
    UnsupportedType {
        /// The path as given.
        file: String,
        /// The column as written in the file.
        column: String,
        /// The types we accept for it.
        expected: &'static str,
        /// The type the file declares.
        found: String,
    },
    /// The Parquet file could not be decoded.
    #[error("{file}: not a readable Parquet file: {message}")]
    Parquet {
        /// The path as given.
        file: String,
        /// What the Parquet reader or writer said.
        message: String,
    },
    /// A file could not be written.
    #[error("{file}: could not write the file: {message}")]
    Write {
        /// The path as given.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The CSV reader or writer failed in a way that is not about one value.
    #[error("{file}: {message}")]
    Csv {
        /// The path as given.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The options or the data to write are not usable.
    #[error("{0}")]
    Invalid(String),
}

fn describe_extension(extension: &Option<String>) -> String {
    match extension {
        Some(e) => format!("\".{e}\""),
        None => "(no extension)".to_string(),
    }
}

fn list_columns(found: &[String]) -> String {
    if found.is_empty() {
        return "(none)".to_string();
    }
    found.join(", ")
}

fn suggestion(did_you_mean: &Option<String>) -> String {
    match did_you_mean {
        Some(name) => format!(". Did you mean \"{name}\"?"),
        None => String::new(),
    }
}

/// Renders a cell for an error message: quoted, escaped, shortened when long.
pub(crate) fn describe_cell(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 40;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return "an empty cell".to_string();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let shown: String = text.chars().take(MAX_CHARS).collect();
            let more = if text.chars().count() > MAX_CHARS {
                "…"
            } else {
                ""
            };
            format!("{:?}{more}", shown)
        }
        Err(_) => format!(
            "bytes that are not valid UTF-8: \"{}\"",
            bytes
                .iter()
                .take(MAX_CHARS)
                .flat_map(|&b| std::ascii::escape_default(b))
                .map(char::from)
                .collect::<String>()
        ),
    }
}

/// The path as it should appear in messages.
pub(crate) fn file_name(path: &std::path::Path) -> String {
    path.display().to_string()
}

impl DataError {
    /// The error for a file, named `file` in messages, that could not be opened.
    pub(crate) fn open(file: &str, source: std::io::Error) -> Self {
        let file = file.to_string();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound { file }
        } else {
            Self::Io { file, source }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_value_reads_like_a_sentence() {
        let e = DataError::InvalidValue {
            file: "bars.csv".into(),
            location: Location::Line(17),
            column: "close".into(),
            expected: "a number".into(),
            found: describe_cell(b"abc"),
        };
        assert_eq!(
            e.to_string(),
            "bars.csv line 17, column close: expected a number, found \"abc\""
        );
    }

    #[test]
    fn cells_are_described() {
        assert_eq!(describe_cell(b""), "an empty cell");
        assert_eq!(describe_cell(b"  "), "an empty cell");
        assert!(describe_cell(b"\xff1").contains("not valid UTF-8"));
        assert!(describe_cell(&[b'x'; 100]).ends_with('…'));
    }

    #[test]
    fn missing_column_suggests() {
        let e = DataError::MissingColumn {
            file: "a.csv".into(),
            column: "close",
            found: vec!["timestamp".into(), "clsoe".into()],
            did_you_mean: Some("clsoe".into()),
        };
        let text = e.to_string();
        assert!(text.contains("missing column \"close\""), "{text}");
        assert!(text.contains("found columns: timestamp, clsoe"), "{text}");
        assert!(text.contains("Did you mean \"clsoe\"?"), "{text}");
    }

    #[test]
    fn locations_print() {
        assert_eq!(Location::Line(3).to_string(), "line 3");
        assert_eq!(Location::Row(0).to_string(), "row 0");
    }
}
