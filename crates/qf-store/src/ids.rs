//! Typed, prefixed, time-ordered identifiers.
//!
//! Every id is `"{prefix}_{32 lowercase hex digits}"`, the hex being a UUID v7. UUID v7 starts
//! with the creation time in milliseconds and is monotonic within a process, so sorting by id
//! sorts by creation time: `ORDER BY id` is the list order and the id of the last row seen is
//! a stable pagination cursor. The prefix makes a pasted id self-describing and stops a run id
//! from being used where a dataset id is expected.
//!
//! A value of these types is always well formed: ids are made by `new()`, by `parse` (which
//! checks the shape) or by deserialising (which runs `parse`). That also makes them safe to
//! place in SQL text where a bind parameter cannot go (see `db::Store::scoped`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// The reason a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} id (expected {prefix}_ followed by 32 hex digits)")]
pub struct InvalidId {
    /// The Rust type that was asked for, e.g. `"RunId"`.
    pub kind: &'static str,
    /// The prefix that type requires, e.g. `"run"`.
    pub prefix: &'static str,
    /// The rejected input (cut to 80 characters so a hostile input cannot flood a log).
    pub value: String,
}

/// Whether `s` is `"{prefix}_"` followed by exactly 32 lowercase hex digits.
fn well_formed(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with (before the `_`).
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id, later in sort order than every id made before it in this process.
            #[allow(clippy::new_without_default)] // a "default" id would be a random one: say new()
            pub fn new() -> Self {
                $name(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// The id in `s`, or `None` when `s` is not `"{prefix}_"` + 32 lowercase hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                well_formed($prefix, s).then(|| $name(s.to_owned()))
            }

            /// The id as text, e.g. for a URL or a log line.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps text read back from the database; the store only ever wrote ids made by
            /// `new`, so the shape is not checked again on every row.
            pub(crate) fn from_db(s: String) -> Self {
                $name(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                $name::parse(s).ok_or_else(|| InvalidId {
                    kind: stringify!($name),
                    prefix: $prefix,
                    value: s.chars().take(80).collect(),
                })
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(
    /// An organisation: the unit of isolation.
    TenantId,
    "ten"
);
define_id!(
    /// A person who can log in; may belong to several tenants.
    UserId,
    "usr"
);
define_id!(
    /// An API key of a tenant.
    ApiKeyId,
    "key"
);
define_id!(
    /// A login session.
    SessionId,
    "ses"
);
define_id!(
    /// An invitation to join a tenant.
    InvitationId,
    "inv"
);
define_id!(
    /// An uploaded market-data set.
    DatasetId,
    "ds"
);
define_id!(
    /// A tenant's strategy (all its versions).
    StrategyId,
    "st"
);
define_id!(
    /// A backtest or sweep run.
    RunId,
    "run"
);
define_id!(
    /// A row of the job queue.
    JobId,
    "job"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_parse_back_and_sort_by_creation() {
        let ids: Vec<RunId> = (0..1000).map(|_| RunId::new()).collect();
        for id in &ids {
            assert_eq!(RunId::parse(id.as_str()).as_ref(), Some(id));
            assert!(id.as_str().starts_with("run_"));
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parse_rejects_wrong_prefix_and_shape() {
        let run = RunId::new();
        assert_eq!(JobId::parse(run.as_str()), None);
        assert_eq!(RunId::parse("run_"), None);
        assert_eq!(RunId::parse("run_0123"), None);
        assert_eq!(RunId::parse("run_0123456789ABCDEF0123456789abcdef"), None);
        assert_eq!(RunId::parse("run_0123456789abcdef0123456789abcde'"), None);
        assert!(RunId::parse("run_0123456789abcdef0123456789abcdef").is_some());
        let err = "x".parse::<DatasetId>().unwrap_err();
        assert!(err.to_string().contains("ds_"));
    }

    #[test]
    fn serde_is_a_plain_string_and_checks_the_shape() {
        let id = TenantId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<TenantId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<TenantId>("\"ten_nope\"").is_err());
    }
}
