//! Which format a client wants a result table in: `?format=` when given, else the
//! `Accept` header (RFC 9110 §12.5.1, with q-values), else Parquet.

use axum::http::HeaderMap;
use axum::http::header;

use qf_report::tables::TableFormat;

use crate::problem::Problem;

/// The media types of the formats, as they appear in `Accept`.
const PARQUET: &str = "application/vnd.apache.parquet";
const CSV: &str = "text/csv";

/// The format to send, and whether the client chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// What to send.
    pub format: TableFormat,
    /// The client named this format (`format=`, or its media type in `Accept`) rather than
    /// taking the default; a run that does not have it then answers 406 instead of sending
    /// another format.
    pub named: bool,
}

/// Chooses between Parquet and CSV. A `format` other than `parquet` or `csv` is a 422
/// naming the parameter; an `Accept` that admits neither is a 406.
pub fn table_format(format: Option<&str>, headers: &HeaderMap) -> Result<Wanted, Problem> {
    if let Some(f) = format {
        return TableFormat::parse(f)
            .map(|format| Wanted {
                format,
                named: true,
            })
            .ok_or_else(|| {
                Problem::validation(
                    "format",
                    format!("format must be parquet or csv, not {f:?}"),
                )
            });
    }
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if accept.iter().all(|a| a.trim().is_empty()) {
        return Ok(Wanted {
            format: TableFormat::Parquet,
            named: false,
        });
    }
    let ranges: Vec<Range<'_>> = accept
        .iter()
        .flat_map(|a| a.split(','))
        .filter_map(Range::parse)
        .collect();
    let parquet = preference(&ranges, PARQUET);
    let csv = preference(&ranges, CSV);
    let choice = if csv.q > parquet.q {
        (TableFormat::Csv, csv)
    } else {
        (TableFormat::Parquet, parquet)
    };
    if choice.1.q <= 0.0 {
        return Err(Problem::not_acceptable(format!(
            "this table is sent as {PARQUET} or {CSV}; the Accept header admits neither \
             (or ask with ?format=parquet or ?format=csv)"
        )));
    }
    Ok(Wanted {
        format: choice.0,
        named: choice.1.exact,
    })
}

/// One media range of an `Accept` header.
struct Range<'a> {
    kind: &'a str,
    q: f32,
}

/// How much a client wants one media type: the q of the most specific range matching it.
#[derive(Clone, Copy)]
struct Preference {
    q: f32,
    /// Matched by its full name rather than a wildcard.
    exact: bool,
}

impl<'a> Range<'a> {
    fn parse(text: &'a str) -> Option<Range<'a>> {
        let mut parts = text.split(';');
        let kind = parts.next()?.trim();
        if kind.is_empty() {
            return None;
        }
        let mut q = 1.0;
        for p in parts {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                // A malformed weight counts as the default, as most servers read it.
                q = v.trim().parse::<f32>().unwrap_or(1.0).clamp(0.0, 1.0);
            }
        }
        Some(Range { kind, q })
    }

    /// 3 for the exact type, 2 for `type/*`, 1 for `*/*`, 0 when it does not match.
    fn specificity(&self, media_type: &str) -> u8 {
        let (main, _) = media_type.split_once('/').unwrap_or((media_type, ""));
        if self.kind.eq_ignore_ascii_case(media_type) {
            3
        } else if self
            .kind
            .strip_suffix("/*")
            .is_some_and(|m| m.eq_ignore_ascii_case(main))
        {
            2
        } else if self.kind == "*/*" {
            1
        } else {
            0
        }
    }
}

fn preference(ranges: &[Range<'_>], media_type: &str) -> Preference {
    ranges
        .iter()
        .map(|r| (r.specificity(media_type), r.q))
        .filter(|(s, _)| *s > 0)
        .max_by_key(|(s, _)| *s)
        .map_or(
            Preference {
                q: 0.0,
                exact: false,
            },
            |(s, q)| Preference { q, exact: s == 3 },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn pick(format: Option<&str>, accept: Option<&str>) -> Result<Wanted, Problem> {
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        table_format(format, &h)
    }

    fn ok(format: Option<&str>, accept: Option<&str>) -> (TableFormat, bool) {
        let w = pick(format, accept).unwrap();
        (w.format, w.named)
    }

    #[test]
    fn parquet_unless_csv_is_asked_for() {
        use TableFormat::{Csv, Parquet};
        assert_eq!(ok(None, None), (Parquet, false));
        assert_eq!(ok(None, Some("*/*")), (Parquet, false));
        assert_eq!(ok(None, Some("text/csv")), (Csv, true));
        assert_eq!(ok(None, Some("text/*")), (Csv, false));
        assert_eq!(ok(None, Some("TEXT/CSV;charset=utf-8")), (Csv, true));
        assert_eq!(ok(None, Some("text/csv;q=0.5, */*;q=0.1")), (Csv, true));
        assert_eq!(
            ok(None, Some("text/csv;q=0.5, application/vnd.apache.parquet")),
            (Parquet, true)
        );
        assert_eq!(ok(None, Some("*/*, text/csv;q=0")), (Parquet, false));
        assert_eq!(
            ok(Some("csv"), Some("application/vnd.apache.parquet")),
            (Csv, true)
        );
        assert_eq!(ok(Some("parquet"), None), (Parquet, true));
    }

    #[test]
    fn a_bad_format_names_the_parameter_and_no_acceptable_type_is_406() {
        let p = pick(Some("xlsx"), None).unwrap_err();
        assert_eq!(p.status, 422);
        assert!(p.body().to_string().contains("format"), "{:?}", p.body());
        let p = pick(None, Some("application/json")).unwrap_err();
        assert_eq!(p.status, 406);
    }
}
