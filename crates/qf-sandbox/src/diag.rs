//! Problems in tenant code, located in the tenant's own file.

use std::fmt;

use serde::Serialize;

/// One problem in a strategy file: where, what, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file as the tenant named it (never a host path beyond what they gave).
    pub file: String,
    /// 1-based line; 0 when the problem is not tied to a line (a run-wide limit).
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub col: u32,
    /// One line saying what is wrong.
    pub message: String,
    /// What to write instead, when there is a known fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The offending source line, for display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A problem at `line`:`col` of `file`; the source line is filled from `source`.
    pub fn at(file: &str, source: &str, line: u32, col: u32, message: impl Into<String>) -> Self {
        let source_line = (line > 0)
            .then(|| source.lines().nth(line as usize - 1))
            .flatten()
            .map(clip);
        Diagnostic {
            file: file.to_string(),
            line,
            col,
            message: message.into(),
            help: None,
            source_line,
        }
    }

    /// A problem with the file as a whole.
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            line: 0,
            col: 0,
            message: message.into(),
            help: None,
            source_line: None,
        }
    }

    /// Adds what to do instead.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A source line for display: trailing space removed, cut to 160 characters.
pub fn clip(line: &str) -> String {
    let line = line.trim_end();
    match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{} …", &line[..cut]),
        None => line.to_string(),
    }
}

/// Converts a byte offset in `source` to a 1-based (line, column in characters).
pub fn line_col(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count() as u32)
        + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (0, _) => write!(f, "{}: {}", self.file, self.message)?,
            (l, 0) => write!(f, "{}:{}: {}", self.file, l, self.message)?,
            (l, c) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message)?,
        }
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string();
            write!(f, "\n {gutter} | {src}")?;
            if self.col > 0 {
                let pad: String = src
                    .chars()
                    .take(self.col as usize - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n {} | {pad}^", " ".repeat(gutter.len()))?;
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\n help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one file; the error of `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, d) in self.0.iter().enumerate() {
            if k > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "ab\ncdé f\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, 8), (2, 5));
    }

    #[test]
    fn display_points_at_the_column() {
        let src = "x = 1\ny = 1 / 0\n";
        let d = Diagnostic::at("s.py", src, 2, 5, "ZeroDivisionError: division by zero")
            .with_help("check the divisor first");
        assert_eq!(
            d.to_string(),
            "s.py:2:5: ZeroDivisionError: division by zero\n 2 | y = 1 / 0\n   |     ^\n help: check the divisor first"
        );
    }
}
