//! Budgets for tenant code, and how a run that broke one (or failed otherwise) is reported.

use std::fmt;
use std::time::Duration;

use qf_core::Timestamp;
use serde::Serialize;

use crate::wire::{Malformed, Reader, Writer};

/// What one isolated run may use. Defaults suit an interactive backtest of a few million
/// bars; a deployment sets its own per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Longest one call of `on_bar` (with `execute`) may run.
    pub call_time: Duration,
    /// Total time in tenant code over the whole run.
    pub run_cpu: Duration,
    /// Wall-clock time for the whole run, start-up included; the parent kills the worker
    /// past it, whatever it is doing.
    pub run_wall: Duration,
    /// Memory of the worker process, bars and engine included.
    pub memory_bytes: usize,
    /// Deepest call stack in tenant code.
    pub recursion: usize,
    /// Bytes of `print()` output kept in the run log; the rest is counted and dropped.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_time: Duration::from_millis(100),
            run_cpu: Duration::from_secs(300),
            run_wall: Duration::from_secs(600),
            memory_bytes: 1 << 30,
            recursion: 200,
            log_bytes: 64 * 1024,
        }
    }
}

/// Why a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The tenant's code raised an exception.
    Exception,
    /// A limit was reached.
    Limit,
    /// The tenant's code returned something the engine cannot act on.
    BadReturn,
    /// The worker died or broke the protocol (an interpreter crash).
    Crash,
    /// The file could not be compiled.
    Compile,
}

/// A failed run, in the tenant's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// One line: `ZeroDivisionError: division by zero`.
    pub message: String,
    /// Strategy file.
    pub file: String,
    /// Line in the strategy file (0 when not tied to a line).
    pub line: u32,
    /// Column (0 when unknown).
    pub col: u32,
    /// Function the error happened in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The source line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
    /// Bar index (all instruments) and time, when the run had started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bar: Option<(u64, Timestamp)>,
}

impl RunFailure {
    /// A failure not tied to a line.
    pub fn new(kind: FailureKind, file: &str, message: impl Into<String>) -> Self {
        RunFailure {
            kind,
            message: message.into(),
            file: file.to_string(),
            line: 0,
            col: 0,
            function: None,
            source_line: None,
            bar: None,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(self.kind as u8)
            .str(&self.message)
            .str(&self.file)
            .u32(self.line)
            .u32(self.col)
            .str(self.function.as_deref().unwrap_or(""))
            .str(self.source_line.as_deref().unwrap_or(""));
        match self.bar {
            Some((b, ts)) => w.u8(1).u64(b).i64(ts.nanos()),
            None => w.u8(0).u64(0).i64(0),
        };
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        let kind = match r.u8()? {
            0 => FailureKind::Exception,
            1 => FailureKind::Limit,
            2 => FailureKind::BadReturn,
            3 => FailureKind::Crash,
            4 => FailureKind::Compile,
            _ => return Err(Malformed("failure kind")),
        };
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let message = r.str()?.to_string();
        let file = r.str()?.to_string();
        let (line, col) = (r.u32()?, r.u32()?);
        let function = some(r.str()?);
        let source_line = some(r.str()?);
        let has_bar = r.u8()? == 1;
        let (b, ts) = (r.u64()?, r.i64()?);
        Ok(RunFailure {
            kind,
            message,
            file,
            line,
            col,
            function,
            source_line,
            bar: has_bar.then(|| (b, Timestamp::from_nanos(ts))),
        })
    }
}

/// `1284` → `1,284`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (k, c) in s.chars().enumerate() {
        if k > 0 && (s.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Tenant text for a terminal: control characters (escape sequences) shown as `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} — {}", printable(&self.message), self.file)?;
        if self.line > 0 {
            write!(f, " line {}", self.line)?;
        }
        if let Some(func) = &self.function {
            write!(f, ", in {func}")?;
        }
        if let Some((bar, ts)) = self.bar {
            write!(f, " (bar {} at {ts})", thousands(bar))?;
        }
        if let Some(src) = &self.source_line {
            write!(f, "\n    {} | {}", self.line, printable(src.trim_end()))?;
        }
        Ok(())
    }
}

impl std::error::Error for RunFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_the_tenant_expects() {
        let f = RunFailure {
            kind: FailureKind::Exception,
            message: "ZeroDivisionError: division by zero".into(),
            file: "strategy.py".into(),
            line: 5,
            col: 12,
            function: Some("on_bar".into()),
            source_line: Some("    x = 1 / 0".into()),
            bar: Some((
                1284,
                Timestamp::parse_rfc3339("2024-03-01T14:30:00Z").unwrap(),
            )),
        };
        assert_eq!(
            f.to_string(),
            "ZeroDivisionError: division by zero — strategy.py line 5, in on_bar (bar 1,284 at 2024-03-01T14:30:00Z)\n    5 |     x = 1 / 0"
        );
        let mut w = Writer::default();
        f.write(&mut w);
        assert_eq!(RunFailure::read(&mut Reader::new(&w.0)).unwrap(), f);
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }
}
