//! Reads a YAML rules file into the format-neutral [`Node`] tree, keeping spans.
//!
//! Built on the event parser, with an explicit stack instead of recursion. Aliases are
//! rejected where they appear and never expanded, so "billion laughs" documents cost no more
//! than their own size; anchors without aliases are harmless and ignored, as are tags.
//! Plain scalars are typed by the YAML 1.2 core schema; quoted and block scalars are strings.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::MAX_DOCUMENT_DEPTH;
use super::document::{Entry, Kind, Node};
use super::locate::{Reporter, Text, clip};

/// Character index → byte offset (the parser counts characters).
struct CharOffsets {
    /// Byte offset of each character, plus the end; empty when the source is ASCII.
    table: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(source: &str) -> Self {
        let table = if source.is_ascii() {
            Vec::new()
        } else {
            source
                .char_indices()
                .map(|(b, _)| b)
                .chain(std::iter::once(source.len()))
                .collect()
        };
        CharOffsets {
            table,
            len: source.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.table.is_empty() {
            char_index.min(self.len)
        } else {
            self.table.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

enum Frame {
    Seq {
        start: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        entries: Vec<Entry>,
        key: Option<Text>,
        /// Keys seen, with where: a hostile mapping may have tens of thousands.
        seen: BTreeMap<String, usize>,
    },
}

/// Parses `source`; reports syntax errors, aliases, extra documents and nesting too deep.
pub(crate) fn load(rep: &mut Reporter<'_>) -> Option<Node> {
    let source = rep.source;
    let offsets = CharOffsets::new(source);
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut fatal = false;
    while let Some(event) = parser.next_event() {
        let (event, span) = match event {
            Ok(e) => e,
            Err(e) => {
                let help = e.info().contains("anchor").then(|| {
                    "YAML reads `*` as an alias; for the wildcard state write `\"*\"` in quotes"
                        .to_string()
                });
                rep.error_help(
                    offsets.byte(e.marker().index()),
                    format!("invalid YAML: {}", e.info()),
                    help,
                );
                return None;
            }
        };
        let span = offsets.byte(span.start.index())..offsets.byte(span.end.index());
        let (node, scalar) = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    rep.error(
                        span.start,
                        "a rules file holds one YAML document, but a second one starts here",
                    );
                    return None;
                }
                continue;
            }
            Event::Alias(_) => {
                rep.error_help(
                    span.start,
                    "YAML aliases (`*name`) are not allowed in rules files",
                    Some(
                        "write the value out in full; for the wildcard state write `\"*\"` in quotes"
                            .into(),
                    ),
                );
                (
                    Node {
                        kind: Kind::Invalid,
                        span,
                    },
                    None,
                )
            }
            Event::Scalar(text, style, _, _) => {
                let kind = scalar(rep, &text, style, span.start);
                (Node { kind, span }, Some(text.into_owned()))
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DOCUMENT_DEPTH {
                    rep.error(
                        span.start,
                        format!("values are nested more than {MAX_DOCUMENT_DEPTH} levels deep"),
                    );
                    return None;
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        start: span.start,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        start: span.start,
                        entries: Vec::new(),
                        key: None,
                        seen: BTreeMap::new(),
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match stack.pop() {
                    Some(Frame::Seq { start, items }) => Node {
                        kind: Kind::Seq(items),
                        span: start..span.end.max(start),
                    },
                    Some(Frame::Map { start, entries, .. }) => Node {
                        kind: Kind::Map(entries),
                        span: start..span.end.max(start),
                    },
                    // The parser balances its events; an unmatched end is ignored.
                    None => continue,
                };
                (node, None)
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {
                continue;
            }
        };
        fatal |= !attach(rep, &mut stack, &mut root, node, scalar);
    }
    if fatal {
        return None;
    }
    Some(root.unwrap_or(Node {
        kind: Kind::Null,
        span: 0..0,
    }))
}

/// Puts a finished value where it belongs: the root, a list, or a mapping's key or value.
/// `false` if it cannot be placed (a key that is not a plain name).
fn attach(
    rep: &mut Reporter<'_>,
    stack: &mut [Frame],
    root: &mut Option<Node>,
    node: Node,
    scalar: Option<String>,
) -> bool {
    match stack.last_mut() {
        None => *root = Some(node),
        Some(Frame::Seq { items, .. }) => items.push(node),
        Some(Frame::Map {
            entries, key, seen, ..
        }) => match key.take() {
            Some(k) => entries.push(Entry {
                key: k,
                value: node,
            }),
            None => {
                let Some(name) = scalar else {
                    rep.error(node.span.start, "a key must be a plain name");
                    return false;
                };
                if let Some(&first) = seen.get(&name) {
                    let (l, c) = rep.line_col(first);
                    rep.error(
                        node.span.start,
                        format!("key `{}` is given twice (first at {l}:{c})", clip(&name)),
                    );
                } else {
                    seen.insert(name.clone(), node.span.start);
                }
                *key = Some(Text {
                    value: name,
                    span: node.span,
                });
            }
        },
    }
    true
}

/// Types a scalar: plain ones by the YAML 1.2 core schema, others as strings. A number out
/// of range is reported and read as null.
fn scalar(rep: &mut Reporter<'_>, text: &str, style: ScalarStyle, at: usize) -> Kind {
    if style != ScalarStyle::Plain {
        return Kind::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Kind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Kind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Kind::Float(f64::NAN),
        _ if is_int(text) => match text.parse::<i64>() {
            Ok(n) => Kind::Int(n),
            Err(_) => {
                rep.error(at, "integer is too large (beyond ±9.2e18)");
                Kind::Invalid
            }
        },
        _ if is_float(text) => match text.parse::<f64>() {
            Ok(x) => Kind::Float(x),
            Err(_) => {
                rep.error(at, "not a valid number");
                Kind::Invalid
            }
        },
        _ => Kind::Str(text.to_string()),
    }
}

/// `[-+]?[0-9]+`
fn is_int(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(k) => (&s[..k], Some(&s[k + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(is_int);
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_numbers() {
        for yes in ["1.5", "-2.", ".5", "1e3", "+1.0E-2", "7"] {
            assert!(is_float(yes), "{yes}");
        }
        for no in ["1.2.3", "e3", ".", "1e", "abc", "1_0"] {
            assert!(!is_float(no), "{no}");
        }
    }
}
