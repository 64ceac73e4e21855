//! Where things are in a rules file, and the collector of the problems found there.
//!
//! Every position is a byte offset into the file as the tenant wrote it. A string value keeps
//! both its decoded text and the span of its raw token (quotes, escapes and all), so a
//! problem found at some offset inside an expression can be pointed at in the file itself.

use std::ops::Range;

use crate::diag::{Diagnostic, Diagnostics, line_col};

/// A byte range in the source file.
pub(crate) type Span = Range<usize>;

/// At most this many problems are listed; a file with more is reported as "and N more".
const MAX_DIAGNOSTICS: usize = 100;

/// A string value from the file: its decoded text, and the span of the raw token it was
/// written as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Text {
    pub value: String,
    pub span: Span,
}

impl Text {
    /// The file offset of byte `at` of the decoded value.
    ///
    /// The raw token may differ from the value by quotes, escapes, YAML folding or
    /// indentation, so the two are walked side by side: each decoded character is matched to
    /// the next equal raw character, skipping raw characters that produce nothing. An
    /// expression never contains quotes or backslashes, so for any real strategy this is
    /// exact; for an escaped character that cannot be matched it falls back to the start of
    /// the token, which is still the right line.
    pub(crate) fn offset_of(&self, source: &str, at: usize) -> usize {
        let Some(raw) = source.get(self.span.clone()) else {
            return self.span.start.min(source.len());
        };
        let mut raw_chars = raw.char_indices().peekable();
        let mut target = None;
        for (d, dc) in self.value.char_indices() {
            if d >= at {
                target = Some(dc);
                break;
            }
            loop {
                match raw_chars.next() {
                    Some((_, rc)) if rc == dc => break,
                    Some(_) => {}
                    None => return self.span.start,
                }
            }
        }
        // Land on the raw character that spells the target, past any quote or indentation.
        match target {
            Some(dc) => {
                while let Some(&(r, rc)) = raw_chars.peek() {
                    if rc == dc {
                        return self.span.start + r;
                    }
                    raw_chars.next();
                }
                self.span.start
            }
            None => raw_chars
                .peek()
                .map_or(self.span.end, |&(r, _)| self.span.start + r),
        }
    }
}

/// Collects every problem found in one file, each located by byte offset.
pub(crate) struct Reporter<'s> {
    pub file: &'s str,
    pub source: &'s str,
    diags: Vec<Diagnostic>,
    dropped: usize,
    warnings: Vec<Diagnostic>,
}

impl<'s> Reporter<'s> {
    pub(crate) fn new(file: &'s str, source: &'s str) -> Self {
        Reporter {
            file,
            source,
            diags: Vec::new(),
            dropped: 0,
            warnings: Vec::new(),
        }
    }

    /// A diagnostic at byte `offset` of the file.
    pub(crate) fn diagnostic(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        let (line, col) = line_col(self.source, offset);
        Diagnostic::at(self.file, self.source, line, col, message)
    }

    /// Records a problem at byte `offset`.
    pub(crate) fn error(&mut self, offset: usize, message: impl Into<String>) {
        let d = self.diagnostic(offset, message);
        self.push(d);
    }

    /// Records a problem at byte `offset` with a suggested fix.
    pub(crate) fn error_help(
        &mut self,
        offset: usize,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let mut d = self.diagnostic(offset, message);
        d.help = help;
        self.push(d);
    }

    /// Records a problem with the file as a whole (no line).
    pub(crate) fn whole(&mut self, message: impl Into<String>) {
        let d = Diagnostic::whole(self.file, message);
        self.push(d);
    }

    /// Records a note that does not stop the file from compiling.
    pub(crate) fn warn(&mut self, offset: usize, message: impl Into<String>) {
        let d = self.diagnostic(offset, message);
        self.warnings.push(d);
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        if self.diags.len() < MAX_DIAGNOSTICS {
            self.diags.push(d);
        } else {
            self.dropped += 1;
        }
    }

    /// Number of problems recorded so far.
    pub(crate) fn count(&self) -> usize {
        self.diags.len() + self.dropped
    }

    /// The notes, or every problem found.
    pub(crate) fn finish(mut self) -> Result<Vec<Diagnostic>, Diagnostics> {
        if self.diags.is_empty() {
            return Ok(self.warnings);
        }
        if self.dropped > 0 {
            let more = format!(
                "... and {} more problem{} not shown",
                self.dropped,
                if self.dropped == 1 { "" } else { "s" }
            );
            self.diags.push(Diagnostic::whole(self.file, more));
        }
        Err(Diagnostics(self.diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(source: &str, token: &str, value: &str) -> Text {
        let start = source.find(token).unwrap();
        Text {
            value: value.into(),
            span: start..start + token.len(),
        }
    }

    #[test]
    fn maps_offsets_through_quotes_and_escapes() {
        let src = r#"when = "a > \"b\" and c""#;
        let t = text(src, r#""a > \"b\" and c""#, r#"a > "b" and c"#);
        assert_eq!(&src[t.offset_of(src, 0)..][..1], "a");
        assert_eq!(&src[t.offset_of(src, 4)..][..2], "\"b");
        assert_eq!(&src[t.offset_of(src, 12)..][..1], "c");
        // Past the end: the closing quote.
        assert_eq!(&src[t.offset_of(src, 13)..], "\"");
    }

    #[test]
    fn maps_offsets_through_yaml_folding() {
        let src = "when: >\n  close > 1\n  and open < 2\n";
        let start = src.find('>').unwrap();
        let t = Text {
            value: "close > 1 and open < 2\n".into(),
            span: start..src.len(),
        };
        let at = t.offset_of(src, "close > 1 and ".len());
        assert_eq!(&src[at..at + 4], "open");
    }
}
