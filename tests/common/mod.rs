//! Running the real `qf` binary from tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn qf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qf"))
        .args(args)
        .output()
        .expect("qf runs")
}

pub fn ok(args: &[&str]) -> String {
    let out = qf(args);
    assert!(
        out.status.success(),
        "qf {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs a command that must fail cleanly; returns stderr.
pub fn fails(args: &[&str]) -> String {
    let out = qf(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "qf {args:?} should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        out.status.code(),
        Some(
            if err.starts_with("error: unexpected argument") || err.contains("Usage:") {
                2
            } else {
                1
            }
        ),
        "{err}"
    );
    assert!(!err.contains("panicked"), "qf {args:?} panicked: {err}");
    err
}

/// A seeded random walk of `n` one-minute bars as CSV text with 2-decimal prices.
pub fn walk_csv(n: usize, seed: u64, symbol: Option<&str>) -> String {
    let mut s = seed.max(1);
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = String::from(if symbol.is_some() {
        "timestamp,symbol,open,high,low,close,volume\n"
    } else {
        "timestamp,open,high,low,close,volume\n"
    });
    let mut price = 10_000i64;
    for k in 0..n {
        let open = price;
        let close = (open + ((next() - 0.5) * 60.0) as i64).max(100);
        let high = open.max(close) + (next() * 20.0) as i64;
        let low = (open.min(close) - (next() * 20.0) as i64).max(50);
        price = close;
        let c = |x: i64| format!("{}.{:02}", x / 100, x % 100);
        let ts = 1_577_836_800 + 60 * k as i64;
        let sym = symbol.map(|s| format!("{s},")).unwrap_or_default();
        out.push_str(&format!(
            "{ts},{sym}{},{},{},{},{}\n",
            c(open),
            c(high),
            c(low),
            c(close),
            100 + k % 7
        ));
    }
    out
}

pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Dir(tempfile::tempdir().expect("tempdir"))
    }
    pub fn file(&self, name: &str, content: &str) -> String {
        let p = self.0.path().join(name);
        std::fs::write(&p, content).expect("write");
        p.display().to_string()
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}
