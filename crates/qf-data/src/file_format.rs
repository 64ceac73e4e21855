//! Which format a file is in, decided by its extension.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::DataError;
use crate::error::file_name;

/// A file format we read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated text with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl FileFormat {
    /// The format named by the path's extension: `.csv`, or `.parquet` / `.pq` (any case).
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let extension = path.extension().map(|e| e.to_string_lossy().into_owned());
        match extension.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("parquet" | "pq") => Ok(Self::Parquet),
            _ => Err(DataError::UnknownFormat {
                file: file_name(path),
                extension,
            }),
        }
    }

    /// `csv` or `parquet`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Csv => "CSV",
            Self::Parquet => "Parquet",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_extension() {
        let f = |p: &str| FileFormat::from_path(Path::new(p));
        assert_eq!(f("a/b.csv").unwrap(), FileFormat::Csv);
        assert_eq!(f("b.CSV").unwrap(), FileFormat::Csv);
        assert_eq!(f("b.parquet").unwrap(), FileFormat::Parquet);
        assert_eq!(f("b.pq").unwrap(), FileFormat::Parquet);
        let e = f("b.xlsx").unwrap_err().to_string();
        assert!(e.contains("b.xlsx") && e.contains("\".xlsx\""), "{e}");
        let e = f("bars").unwrap_err().to_string();
        assert!(e.contains("no extension"), "{e}");
    }
}
