//! A rules file as a tree of values with spans, the same for TOML and YAML, so the rest of
//! the compiler reads one shape whatever the tenant wrote.

use super::locate::{Span, Text};

/// One value and the span of the source that wrote it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
}

/// What a value is.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// YAML's empty value or `null`.
    Null,
    /// A TOML date or time: never valid in a rules file, kept so it can be named.
    Datetime,
    /// A value already reported as invalid (a number out of range); readers skip it
    /// silently so one mistake is reported once.
    Invalid,
    Seq(Vec<Node>),
    /// Entries in the order they were written.
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: Text,
    pub value: Node,
}

impl Node {
    /// How the value is called in messages ("a string", "a table").
    pub(crate) fn type_name(&self, map_word: &'static str) -> &'static str {
        match self.kind {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Bool(_) => "a boolean",
            Kind::Null => "an empty value",
            Kind::Datetime => "a date",
            Kind::Invalid => "an invalid value",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => map_word,
        }
    }

    /// The value as text, if it is a string.
    pub(crate) fn as_text(&self) -> Option<Text> {
        match &self.kind {
            Kind::Str(s) => Some(Text {
                value: s.clone(),
                span: self.span.clone(),
            }),
            _ => None,
        }
    }

    /// The value as a number, if it is an integer or a float.
    pub(crate) fn as_number(&self) -> Option<f64> {
        match self.kind {
            Kind::Int(i) => Some(i as f64),
            Kind::Float(x) => Some(x),
            _ => None,
        }
    }
}
