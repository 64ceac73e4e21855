//! Cursor pagination: lists are ordered by id (= creation time, see [`crate::ids`]) and
//! continue after the id of the last row seen, so pages stay stable while rows are added.

use serde::{Deserialize, Serialize};

use crate::db::Arg;

/// Which slice of a list to return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Page {
    /// How many rows at most; clamped to `1..=200` (default 50).
    pub limit: i64,
    /// The cursor: the id of the last row of the previous page. Ascending lists continue
    /// with ids greater than it, descending lists with ids less than it.
    pub after: Option<String>,
    /// Newest first instead of oldest first.
    pub desc: bool,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: Page::DEFAULT_LIMIT,
            after: None,
            desc: false,
        }
    }
}

impl Page {
    /// The limit when none is given.
    pub const DEFAULT_LIMIT: i64 = 50;
    /// The largest page the store returns.
    pub const MAX_LIMIT: i64 = 200;

    /// The first page of `limit` rows, oldest first.
    pub fn first(limit: i64) -> Page {
        Page {
            limit,
            ..Page::default()
        }
    }

    /// The limit actually applied.
    pub fn effective_limit(&self) -> i64 {
        self.limit.clamp(1, Page::MAX_LIMIT)
    }

    /// Appends the cursor condition (`AND id > $n`), the order and the limit to `sql`, whose
    /// `WHERE` clause must already exist, pushing the bind values onto `args`. One row more
    /// than the limit is fetched so that [`Page::finish`] knows whether more exist.
    pub(crate) fn push_sql(&self, sql: &mut String, args: &mut Vec<Arg>) {
        use std::fmt::Write as _;
        let (cmp, order) = if self.desc {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(after) = &self.after {
            args.push(Arg::Text(after.clone()));
            // Writing to a String cannot fail.
            let _ = write!(sql, " AND id {cmp} ${}", args.len());
        }
        args.push(Arg::Int(self.effective_limit() + 1));
        let _ = write!(sql, " ORDER BY id {order} LIMIT ${}", args.len());
    }

    /// Cuts the extra row fetched by [`Page::push_sql`] and sets the cursor for the next page.
    pub(crate) fn finish<T>(&self, mut items: Vec<T>, id: impl Fn(&T) -> &str) -> Listed<T> {
        let limit = usize::try_from(self.effective_limit()).unwrap_or(usize::MAX);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| id(last).to_owned())
        } else {
            None
        };
        Listed { items, next }
    }
}

/// One page of a list.
#[derive(Clone, Debug, Serialize)]
pub struct Listed<T> {
    /// The rows, in the order asked for.
    pub items: Vec<T>,
    /// The cursor for the next page (the id of the last item) when more rows exist.
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped() {
        assert_eq!(Page::first(0).effective_limit(), 1);
        assert_eq!(Page::first(-5).effective_limit(), 1);
        assert_eq!(Page::first(10_000).effective_limit(), 200);
        assert_eq!(Page::default().effective_limit(), 50);
    }

    #[test]
    fn sql_and_cursor() {
        let page = Page {
            limit: 2,
            after: Some("run_1".into()),
            desc: true,
        };
        let mut sql = String::from("SELECT id FROM runs WHERE tenant_id = $1");
        let mut args = vec![Arg::Text("ten".into())];
        page.push_sql(&mut sql, &mut args);
        assert_eq!(
            sql,
            "SELECT id FROM runs WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        assert!(matches!(args[2], Arg::Int(3)));
        let listed = page.finish(vec!["a", "b", "c"], |s| s);
        assert_eq!(listed.items, vec!["a", "b"]);
        assert_eq!(listed.next.as_deref(), Some("b"));
        let listed = page.finish(vec!["a", "b"], |s| s);
        assert_eq!(listed.next, None);
    }
}
