//! Where things are in a rules file, and the collector of the problems found there.
//!
//! Every position is a byte offset into the file as the tenant wrote it. A string value keeps
//! both its decoded text and the span of its raw token (quotes, escapes and all), so a
//! problem found at some offset inside an expression can be pointed at in the file itself.

use std::ops::Range;

use crate::diag::{Diagnostic, Diagnostics};

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

/// A name as shown in a message: cut short if a hostile file made it huge.
pub(crate) fn clip(name: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 48;
    if name.chars().count() <= SHOWN {
        name.into()
    } else {
        format!("{}…", name.chars().take(SHOWN).collect::<String>()).into()
    }
}

/// Collects every problem found in one file, each located by byte offset.
pub(crate) struct Reporter<'s> {
    pub file: &'s str,
    pub source: &'s str,
    diags: Vec<Diagnostic>,
    dropped: usize,
    warnings: Vec<Diagnostic>,
    /// Byte offset where each line starts: locating is a binary search, not a scan, so a
    /// file with thousands of problems costs no more than its size times their log.
    line_starts: Vec<usize>,
}

impl<'s> Reporter<'s> {
    pub(crate) fn new(file: &'s str, source: &'s str) -> Self {
        Reporter {
            file,
            source,
            diags: Vec::new(),
            dropped: 0,
            warnings: Vec::new(),
            line_starts: std::iter::once(0)
                .chain(source.match_indices('\n').map(|(k, _)| k + 1))
                .collect(),
        }
    }

    /// 1-based line and column (in characters) of byte `offset`, as [`crate::diag::line_col`].
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.source[start..offset].chars().count() + 1;
        (line as u32, col as u32)
    }

    /// A diagnostic at byte `offset` of the file.
    pub(crate) fn diagnostic(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.line_col(offset);
        let start = self.line_starts[line as usize - 1];
        let end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |k| start + k);
        Diagnostic {
            file: self.file.to_string(),
            line,
            col,
            message: message.into(),
            help: None,
            // Past a final newline there is no line to show (as `Diagnostic::at`).
            source_line: (start < self.source.len() || line == 1)
                .then(|| self.source[start..end].trim_end().to_string()),
        }
    }

    /// Whether the list is full, so further problems are only counted.
    pub(crate) fn full(&self) -> bool {
        self.diags.len() >= MAX_DIAGNOSTICS
    }

    /// Counts a problem found once the list is full, without building it.
    pub(crate) fn count_unlisted(&mut self) {
        self.dropped += 1;
    }

    /// Whether another problem would still be listed (past the cap it is only counted).
    fn listing(&mut self) -> bool {
        if self.diags.len() < MAX_DIAGNOSTICS {
            return true;
        }
        self.dropped += 1;
        false
    }

    /// Records a problem at byte `offset`.
    pub(crate) fn error(&mut self, offset: usize, message: impl Into<String>) {
        if self.listing() {
            let d = self.diagnostic(offset, message);
            self.diags.push(d);
        }
    }

    /// Records a problem at byte `offset` with a suggested fix.
    pub(crate) fn error_help(
        &mut self,
        offset: usize,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        if self.listing() {
            let mut d = self.diagnostic(offset, message);
            d.help = help;
            self.diags.push(d);
        }
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

    fn push(&mut self, d: Diagnostic) {
        if self.listing() {
            self.diags.push(d);
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
    fn locates_like_diag_line_col() {
        let src = "ab\ncdé f\n\nxyz";
        let rep = Reporter::new("f", src);
        for k in 0..=src.len() + 2 {
            assert_eq!(rep.line_col(k), crate::diag::line_col(src, k), "offset {k}");
        }
        assert_eq!(rep.diagnostic(4, "m").source_line.as_deref(), Some("cdé f"));
        assert_eq!(
            rep.diagnostic(src.len(), "m").source_line.as_deref(),
            Some("xyz")
        );
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
