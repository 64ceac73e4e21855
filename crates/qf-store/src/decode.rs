//! Reading column values of a row into domain values, with errors that name the column.

use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};

/// An error for a column whose stored value the domain cannot represent.
fn bad(col: &str, why: String) -> StoreError {
    StoreError::Db(sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: why.into(),
    })
}

/// A text column.
pub(crate) fn text(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

/// A nullable text column.
pub(crate) fn text_opt(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

/// An integer column.
pub(crate) fn int(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

/// A nullable integer column.
pub(crate) fn int_opt(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

/// An integer column that the domain keeps as `i32`.
pub(crate) fn int32(row: &AnyRow, col: &str) -> Result<i32> {
    let v = int(row, col)?;
    i32::try_from(v).map_err(|_| bad(col, format!("{v} does not fit in i32")))
}

/// A 0/1 integer column read as a boolean (booleans are integers on both backends so the
/// Any driver reads them alike).
pub(crate) fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(int(row, col)? != 0)
}

/// A text column holding JSON.
pub(crate) fn json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let s = text(row, col)?;
    serde_json::from_str(&s).map_err(|e| bad(col, format!("invalid JSON: {e}")))
}

/// A nullable text column holding JSON.
pub(crate) fn json_opt<T: DeserializeOwned>(row: &AnyRow, col: &str) -> Result<Option<T>> {
    match text_opt(row, col)? {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| bad(col, format!("invalid JSON: {e}"))),
    }
}

/// A text column holding the name of an enum variant, parsed by `parse`.
pub(crate) fn named<T>(row: &AnyRow, col: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s = text(row, col)?;
    parse(&s).ok_or_else(|| bad(col, format!("unknown value {s:?}")))
}
