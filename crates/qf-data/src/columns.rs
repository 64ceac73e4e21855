//! Which column of a file holds what: header names matched to their meaning.
//!
//! Names are matched case-insensitively after trimming; `time`, `date` and `datetime` are
//! accepted for `timestamp` and nothing fuzzier, so a file never loads with a column
//! silently misread. A near miss (within two edits) is only ever a suggestion in the error.

use crate::DataError;

/// What a column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Timestamp,
    Symbol,
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl Role {
    /// Every role, in the order errors report missing ones.
    pub(crate) const ALL: [Role; 7] = [
        Role::Timestamp,
        Role::Symbol,
        Role::Open,
        Role::High,
        Role::Low,
        Role::Close,
        Role::Volume,
    ];

    /// The canonical column name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Timestamp => "timestamp",
            Role::Symbol => "symbol",
            Role::Open => "open",
            Role::High => "high",
            Role::Low => "low",
            Role::Close => "close",
            Role::Volume => "volume",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Timestamp => &["timestamp", "time", "date", "datetime"],
            Role::Symbol => &["symbol"],
            Role::Open => &["open"],
            Role::High => &["high"],
            Role::Low => &["low"],
            Role::Close => &["close"],
            Role::Volume => &["volume"],
        }
    }

    fn required(self) -> bool {
        self != Role::Symbol
    }

    fn of(normalized: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.aliases().contains(&normalized))
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// The position and written name of each role's column in one file.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMap {
    index: [Option<usize>; 7],
    names: [String; 7],
}

impl ColumnMap {
    /// Matches header names to roles; fails on a missing required column or a role claimed
    /// twice. `headers` are the names as written, in file order.
    pub(crate) fn resolve(file: &str, headers: &[String]) -> Result<Self, DataError> {
        let mut index: [Option<usize>; 7] = [None; 7];
        let mut names: [String; 7] = Default::default();
        for (i, header) in headers.iter().enumerate() {
            let Some(role) = Role::of(&normalize(header)) else {
                continue;
            };
            if let Some(first) = index[role.slot()] {
                return Err(DataError::DuplicateColumn {
                    file: file.to_string(),
                    role: role.name(),
                    first: headers[first].clone(),
                    second: header.clone(),
                });
            }
            index[role.slot()] = Some(i);
            names[role.slot()] = header.trim().to_string();
        }
        for role in Role::ALL {
            if role.required() && index[role.slot()].is_none() {
                return Err(DataError::MissingColumn {
                    file: file.to_string(),
                    column: role.name(),
                    found: headers.iter().map(|h| h.trim().to_string()).collect(),
                    did_you_mean: near_miss(role, headers, &index),
                });
            }
        }
        Ok(Self { index, names })
    }

    /// The column index of `role`, if the file has it.
    pub(crate) fn get(&self, role: Role) -> Option<usize> {
        self.index[role.slot()]
    }

    /// The column index of a required role (always present after [`ColumnMap::resolve`]).
    pub(crate) fn required(&self, role: Role) -> usize {
        // `resolve` returned an error if any required role was missing, and the symbol role
        // is never asked for through this method.
        self.index[role.slot()].unwrap_or(usize::MAX)
    }

    /// The column's name as written in the file.
    pub(crate) fn name(&self, role: Role) -> &str {
        &self.names[role.slot()]
    }
}

fn normalize(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .trim()
        .to_lowercase()
}

/// The unclaimed header closest to one of `role`'s names, if within two edits.
fn near_miss(role: Role, headers: &[String], claimed: &[Option<usize>; 7]) -> Option<String> {
    headers
        .iter()
        .enumerate()
        .filter(|(i, _)| !claimed.contains(&Some(*i)))
        .filter_map(|(_, h)| {
            let n = normalize(h);
            let d = role.aliases().iter().map(|a| edit_distance(&n, a)).min()?;
            (d <= 2 && !n.is_empty()).then(|| (d, h.trim().to_string()))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_any_order_and_case() {
        let h = headers(&[
            " Close", "VOLUME", "Date", "open", "extra", "High ", "low", "Symbol",
        ]);
        let m = ColumnMap::resolve("f.csv", &h).unwrap();
        assert_eq!(m.required(Role::Timestamp), 2);
        assert_eq!(m.required(Role::Close), 0);
        assert_eq!(m.get(Role::Symbol), Some(7));
        assert_eq!(m.name(Role::Close), "Close");
        assert_eq!(m.name(Role::High), "High");
    }

    #[test]
    fn symbol_is_optional() {
        let h = headers(&["time", "open", "high", "low", "close", "volume"]);
        let m = ColumnMap::resolve("f.csv", &h).unwrap();
        assert_eq!(m.get(Role::Symbol), None);
    }

    #[test]
    fn missing_column_with_suggestion() {
        let h = headers(&["timestamp", "open", "high", "low", "clsoe", "volume"]);
        let e = ColumnMap::resolve("f.csv", &h).unwrap_err();
        match e {
            DataError::MissingColumn {
                column,
                did_you_mean,
                found,
                ..
            } => {
                assert_eq!(column, "close");
                assert_eq!(did_you_mean.as_deref(), Some("clsoe"));
                assert_eq!(found.len(), 6);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn no_suggestion_when_far() {
        let h = headers(&["timestamp", "open", "high", "low", "Close Price", "volume"]);
        let e = ColumnMap::resolve("f.csv", &h).unwrap_err();
        assert!(matches!(
            e,
            DataError::MissingColumn {
                did_you_mean: None,
                ..
            }
        ));
    }

    #[test]
    fn duplicate_roles_rejected() {
        let h = headers(&["time", "date", "open", "high", "low", "close", "volume"]);
        let e = ColumnMap::resolve("f.csv", &h).unwrap_err().to_string();
        assert!(e.contains("\"time\" and \"date\""), "{e}");
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("clsoe", "close"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("volume", "volume"), 0);
        assert_eq!(edit_distance("vol", "volume"), 3);
    }
}
