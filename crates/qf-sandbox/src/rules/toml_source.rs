//! Reads a TOML rules file into the format-neutral [`Node`] tree, keeping spans.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::MAX_DOCUMENT_DEPTH;
use super::document::{Entry, Kind, Node};
use super::locate::{Reporter, Text};

/// Parses `source`. A syntax error is reported alone: the parser can recover and go on, but
/// what it reports after the first error is mostly the same mistake seen again.
pub(crate) fn load(rep: &mut Reporter<'_>) -> Option<Node> {
    let source = rep.source;
    let root = match DeTable::parse(source) {
        Ok(root) => root,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            rep.error(at, format!("invalid TOML: {}", e.message().trim_end()));
            return None;
        }
    };
    let span = root.span();
    let table = root.into_inner();
    Some(Node {
        kind: Kind::Map(entries(rep, &table, 1)?),
        span,
    })
}

fn entries(rep: &mut Reporter<'_>, table: &DeTable<'_>, depth: usize) -> Option<Vec<Entry>> {
    let mut out = Vec::with_capacity(table.len());
    for (k, v) in table.iter() {
        out.push(Entry {
            key: Text {
                value: k.get_ref().to_string(),
                span: k.span(),
            },
            value: node(rep, v, depth)?,
        });
    }
    // Tables iterate in key order; the compiler wants the order of the file.
    out.sort_by_key(|e| e.key.span.start);
    Some(out)
}

fn node(rep: &mut Reporter<'_>, v: &Spanned<DeValue<'_>>, depth: usize) -> Option<Node> {
    let span = v.span();
    if depth > MAX_DOCUMENT_DEPTH {
        rep.error(
            span.start,
            format!("values are nested more than {MAX_DOCUMENT_DEPTH} levels deep"),
        );
        return None;
    }
    let kind = match v.get_ref() {
        DeValue::String(s) => Kind::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => Kind::Int(n),
                Err(_) => {
                    rep.error(span.start, "integer is too large (beyond ±9.2e18)");
                    Kind::Invalid
                }
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(x) => Kind::Float(x),
            Err(_) => {
                rep.error(span.start, "not a valid number");
                Kind::Invalid
            }
        },
        DeValue::Boolean(b) => Kind::Bool(*b),
        DeValue::Datetime(_) => Kind::Datetime,
        DeValue::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            for item in a.iter() {
                items.push(node(rep, item, depth + 1)?);
            }
            Kind::Seq(items)
        }
        DeValue::Table(t) => Kind::Map(entries(rep, t, depth + 1)?),
    };
    Some(Node { kind, span })
}
