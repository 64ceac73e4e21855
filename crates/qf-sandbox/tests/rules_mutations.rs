//! The no-panic property without a fuzzer: thousands of deterministic pseudo-random
//! mutations of the example files go through parse, build and a short run. Any outcome but a
//! panic is fine; a panic prints the input that caused it. (`fuzz/` runs the same property
//! under libFuzzer, which needs a nightly-capable toolchain.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use qf_engine::strategies::resolve;
use qf_engine::{BacktestConfig, run_backtest};
use qf_sandbox::rules::{Format, parse};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Fragments that matter to the parsers and the checker.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "((((",
    "))))",
    ",",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "[[transitions]]",
    "\n",
    " = ",
    ": ",
    "- ",
    "*",
    "\"*\"",
    "&a ",
    "*a",
    "---\n",
    "#",
    "\\",
    "1e999",
    "-",
    "0",
    "1/0",
    "0/0",
    "99999999999999999999",
    "-1",
    "0.5",
    "not ",
    " and ",
    " or ",
    " < ",
    " == ",
    " != ",
    "close",
    "position",
    "equity",
    "bars_in_state",
    "sma(close, 0)",
    "atr(3)",
    "prev(close)",
    "crossed_above(close, 1)",
    "is_ready(",
    "set(",
    "wait(",
    "buy(",
    "stop(",
    "limit(",
    "target_percent(",
    "enter_long()",
    "cancel_all()",
    "fast",
    "slow",
    "flat",
    "long",
    "é",
    "\u{feff}",
    "\t",
    "integer = true",
    "default = ",
    "min = 3",
    "max = 1",
    "from = \"*\"",
    "to = \"long\"",
    "when = \"true\"",
    "do = [\"wait(1e300)\"]",
    "!",
];

fn mutate(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let n = chars.len();
        let at = rng.below(n + 1);
        match rng.below(6) {
            0 => {
                let len = rng.below(12).min(n - at.min(n));
                chars.drain(at..at + len);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                chars.splice(at..at, t.chars());
            }
            2 if n > 0 => {
                let from = rng.below(n);
                let len = rng.below(40).min(n - from);
                let chunk: Vec<char> = chars[from..from + len].to_vec();
                chars.splice(at..at, chunk);
            }
            3 if at < n => {
                chars[at] = (b' ' + rng.below(95) as u8) as char;
            }
            4 => {
                // Repeat a token many times: deep nesting, long lists.
                let t = TOKENS[rng.below(TOKENS.len())];
                let times = 1 + rng.below(300);
                chars.splice(at..at, t.repeat(times).chars());
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let len = rng.below(8).min(n - at.min(n));
                chars.splice(at..at + len, t.chars());
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_examples_never_panic() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "examples", "rules"]
        .iter()
        .collect();
    let data = vec![qf_data::sample_bars("DEMO", 300, 11)];
    let config = BacktestConfig::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut ran) = (0, 0);
    for name in ["sma_cross.toml", "sma_cross.yaml", "atr_trend.toml"] {
        let original = std::fs::read_to_string(dir.join(name)).expect("example exists");
        let format = Format::from_path(name).expect("known extension");
        for _ in 0..1500 {
            let source = mutate(&mut rng, &original);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let Ok(p) = parse(name, &source, format) else {
                    return (false, false);
                };
                let Ok(params) = resolve(p.name(), p.params(), &[]) else {
                    return (true, false);
                };
                let Ok(mut s) = p.build(&params) else {
                    return (true, false);
                };
                let _ = run_backtest(&config, &data, &mut s, None);
                (true, true)
            }));
            match outcome {
                Ok((a, r)) => {
                    accepted += usize::from(a);
                    ran += usize::from(r);
                }
                Err(_) => panic!("panicked on this mutation of {name}:\n{source}"),
            }
        }
    }
    // The mutations must exercise both the error paths and the machine.
    assert!(accepted > 300, "only {accepted} mutations compiled");
    assert!(ran > 200, "only {ran} mutations ran");
}
