//! Indicators a tenant strategy declares, written as calls such as `sma(close, fast)` or
//! `atr(20)`. The engine computes them natively and incrementally; tenant code only reads
//! their values.

use std::fmt;

use qf_core::InstrumentId;
use qf_engine::strategies::Params;
use qf_engine::{Line, Source, StartContext, StrategyError};

use crate::shown;

/// An indicator function tenants can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndicatorFn {
    /// Name as written.
    pub name: &'static str,
    /// Whether the first argument is a bar field (`close`, `high`, …).
    pub takes_source: bool,
    /// Names of the numeric arguments after the source, in order.
    pub args: &'static [&'static str],
    /// What it computes.
    pub help: &'static str,
}

/// Every indicator function, with its signature.
pub const FUNCTIONS: &[IndicatorFn] = &[
    IndicatorFn {
        name: "sma",
        takes_source: true,
        args: &["period"],
        help: "simple moving average",
    },
    IndicatorFn {
        name: "ema",
        takes_source: true,
        args: &["period"],
        help: "exponential moving average",
    },
    IndicatorFn {
        name: "wma",
        takes_source: true,
        args: &["period"],
        help: "linearly weighted moving average",
    },
    IndicatorFn {
        name: "rsi",
        takes_source: true,
        args: &["period"],
        help: "relative strength index, 0..100 (Wilder)",
    },
    IndicatorFn {
        name: "stddev",
        takes_source: true,
        args: &["period"],
        help: "rolling population standard deviation",
    },
    IndicatorFn {
        name: "highest",
        takes_source: true,
        args: &["period"],
        help: "rolling maximum",
    },
    IndicatorFn {
        name: "lowest",
        takes_source: true,
        args: &["period"],
        help: "rolling minimum",
    },
    IndicatorFn {
        name: "atr",
        takes_source: false,
        args: &["period"],
        help: "average true range (Wilder)",
    },
    IndicatorFn {
        name: "macd",
        takes_source: true,
        args: &["fast", "slow", "signal"],
        help: "MACD line: fast EMA - slow EMA",
    },
    IndicatorFn {
        name: "macd_signal",
        takes_source: true,
        args: &["fast", "slow", "signal"],
        help: "EMA of the MACD line",
    },
    IndicatorFn {
        name: "macd_hist",
        takes_source: true,
        args: &["fast", "slow", "signal"],
        help: "MACD line - signal",
    },
    IndicatorFn {
        name: "bb_upper",
        takes_source: true,
        args: &["period", "k"],
        help: "Bollinger upper band: SMA + k standard deviations",
    },
    IndicatorFn {
        name: "bb_middle",
        takes_source: true,
        args: &["period", "k"],
        help: "Bollinger middle band (the SMA)",
    },
    IndicatorFn {
        name: "bb_lower",
        takes_source: true,
        args: &["period", "k"],
        help: "Bollinger lower band: SMA - k standard deviations",
    },
];

/// Bar fields an indicator can read.
pub const SOURCES: &[(&str, Source)] = &[
    ("open", Source::Open),
    ("high", Source::High),
    ("low", Source::Low),
    ("close", Source::Close),
    ("volume", Source::Volume),
    ("typical", Source::Typical),
];

/// Finds an indicator function by name.
pub fn function(name: &str) -> Option<&'static IndicatorFn> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Finds a bar field by name.
pub fn source(name: &str) -> Option<Source> {
    SOURCES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

fn source_name(s: Source) -> &'static str {
    SOURCES
        .iter()
        .find(|(_, x)| *x == s)
        .map_or("close", |(n, _)| n)
}

/// A numeric argument: a literal, or the name of a declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A number written in the call.
    Number(f64),
    /// A parameter, resolved when the run starts.
    Param(String),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Number(x) => write!(f, "{x}"),
            Arg::Param(p) => f.write_str(p),
        }
    }
}

/// A checked indicator call.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorSpec {
    /// The function.
    pub func: &'static IndicatorFn,
    /// Its bar field (`close` for functions without one).
    pub source: Source,
    /// Its numeric arguments, as many as `func.args`.
    pub args: Vec<Arg>,
}

impl IndicatorSpec {
    /// Checks a call by name: the function exists and the arguments fit its signature.
    pub fn new(name: &str, source: Option<Source>, args: Vec<Arg>) -> Result<Self, String> {
        let func = function(name).ok_or_else(|| {
            format!(
                "unknown indicator `{name}`; known: {}",
                FUNCTIONS
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let source = match (func.takes_source, source) {
            (true, Some(s)) => s,
            (true, None) => {
                return Err(format!(
                    "`{name}` needs a bar field first, e.g. `{name}(close, {})`",
                    func.args.join(", ")
                ));
            }
            (false, Some(_)) => {
                return Err(format!(
                    "`{name}` reads high, low and close itself: write `{name}({})`",
                    func.args.join(", ")
                ));
            }
            (false, None) => Source::Close,
        };
        if args.len() != func.args.len() {
            return Err(format!(
                "`{name}` takes {}{}, got {} number{}",
                if func.takes_source {
                    "a bar field and "
                } else {
                    ""
                },
                func.args.join(", "),
                args.len(),
                if args.len() == 1 { "" } else { "s" }
            ));
        }
        for (a, what) in args.iter().zip(func.args) {
            if let Arg::Number(x) = a {
                check_arg(name, what, *x)?;
            }
        }
        Ok(IndicatorSpec { func, source, args })
    }

    /// Parses a call written as text, e.g. `sma(close, fast)`. Errors carry the byte offset
    /// of the problem within `text`.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut p = CallParser { s: text, i: 0 };
        p.ws();
        let start = p.i;
        let name = p.ident().ok_or((
            start,
            "expected an indicator call such as `sma(close, 20)`".to_string(),
        ))?;
        p.ws();
        if !p.eat('(') {
            return Err((p.i, format!("expected `(` after `{name}`")));
        }
        let mut source_arg = None;
        let mut args = Vec::new();
        p.ws();
        if !p.eat(')') {
            loop {
                p.ws();
                let at = p.i;
                if let Some(word) = p.ident() {
                    match source(word) {
                        Some(s) if args.is_empty() && source_arg.is_none() => source_arg = Some(s),
                        Some(_) => {
                            return Err((
                                at,
                                format!("bar field `{word}` must be the first argument"),
                            ));
                        }
                        None => args.push(Arg::Param(word.to_string())),
                    }
                } else if let Some(x) = p.number() {
                    args.push(Arg::Number(x));
                } else {
                    return Err((
                        at,
                        "expected a bar field, a number or a parameter name".into(),
                    ));
                }
                p.ws();
                if p.eat(')') {
                    break;
                }
                if !p.eat(',') {
                    return Err((p.i, "expected `,` or `)`".into()));
                }
            }
        }
        p.ws();
        if p.i != text.len() {
            return Err((p.i, "unexpected text after the indicator call".into()));
        }
        IndicatorSpec::new(name, source_arg, args).map_err(|m| (start, m))
    }

    /// Parameter names the call refers to.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.args.iter().filter_map(|a| match a {
            Arg::Param(p) => Some(p.as_str()),
            Arg::Number(_) => None,
        })
    }

    /// The numeric arguments with parameters substituted, checked for range.
    pub fn resolve(&self, params: &Params) -> Result<Vec<f64>, String> {
        self.args
            .iter()
            .zip(self.func.args)
            .map(|(a, what)| {
                let x = match a {
                    Arg::Number(x) => *x,
                    Arg::Param(p) => *params.get(p).ok_or_else(|| {
                        format!("`{}` uses unknown parameter `{p}`", self.func.name)
                    })?,
                };
                check_arg(self.func.name, what, x)?;
                Ok(x)
            })
            .collect()
    }

    /// Registers the indicator for instrument `i` and returns the line to read.
    pub fn register(
        &self,
        ctx: &mut StartContext<'_>,
        i: InstrumentId,
        params: &Params,
    ) -> Result<Line, StrategyError> {
        let a = self
            .resolve(params)
            .map_err(|m| StrategyError::new(format!("{self}: {m}")))?;
        let n = |k: usize| a[k] as usize;
        let src = self.source;
        Ok(match self.func.name {
            "sma" => ctx.sma(i, src, n(0))?,
            "ema" => ctx.ema(i, src, n(0))?,
            "wma" => ctx.wma(i, src, n(0))?,
            "rsi" => ctx.rsi(i, src, n(0))?,
            "stddev" => ctx.stddev(i, src, n(0))?,
            "highest" => ctx.max(i, src, n(0))?,
            "lowest" => ctx.min(i, src, n(0))?,
            "atr" => ctx.atr(i, n(0))?,
            "macd" => ctx.macd(i, src, n(0), n(1), n(2))?.macd,
            "macd_signal" => ctx.macd(i, src, n(0), n(1), n(2))?.signal,
            "macd_hist" => ctx.macd(i, src, n(0), n(1), n(2))?.histogram,
            "bb_upper" => ctx.bollinger(i, src, n(0), a[1])?.upper,
            "bb_middle" => ctx.bollinger(i, src, n(0), a[1])?.middle,
            "bb_lower" => ctx.bollinger(i, src, n(0), a[1])?.lower,
            other => unreachable!("indicator `{other}` is in FUNCTIONS but not registered"),
        })
    }
}

/// Periods are whole numbers from 1 to 100,000; Bollinger's `k` is a positive finite number.
fn check_arg(func: &str, what: &str, x: f64) -> Result<(), String> {
    if what == "k" {
        if x.is_finite() && x > 0.0 && x <= 100.0 {
            return Ok(());
        }
        return Err(format!(
            "`{func}`: k must be a number in (0, 100], got {}",
            shown::float(x)
        ));
    }
    if x.fract() == 0.0 && (1.0..=100_000.0).contains(&x) {
        Ok(())
    } else {
        Err(format!(
            "`{func}`: {what} must be a whole number from 1 to 100000, got {}",
            shown::float(x)
        ))
    }
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name)?;
        let mut first = true;
        if self.func.takes_source {
            f.write_str(source_name(self.source))?;
            first = false;
        }
        for a in &self.args {
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
            first = false;
        }
        f.write_str(")")
    }
}

struct CallParser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> CallParser<'a> {
    fn ws(&mut self) {
        while self.s[self.i..].starts_with([' ', '\t']) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.s[self.i..].starts_with(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        let rest = &self.s[self.i..];
        let first = rest.chars().next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.i += len;
        Some(&rest[..len])
    }

    fn number(&mut self) -> Option<f64> {
        let rest = &self.s[self.i..];
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        let x = rest[..len].replace('_', "").parse::<f64>().ok()?;
        self.i += len;
        Some(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_calls() {
        for text in [
            "sma(close, fast)",
            "atr(20)",
            "bb_upper(close, 20, 2)",
            "macd_signal(typical, 12, 26, 9)",
        ] {
            assert_eq!(IndicatorSpec::parse(text).unwrap().to_string(), text);
        }
        let s = IndicatorSpec::parse("  rsi( close ,14 ) ").unwrap();
        assert_eq!(s.args, vec![Arg::Number(14.0)]);
    }

    #[test]
    fn explains_bad_calls() {
        let cases = [
            ("smaa(close, 3)", "unknown indicator `smaa`"),
            ("sma(3)", "needs a bar field first"),
            ("atr(close, 3)", "reads high, low and close itself"),
            ("sma(close)", "takes a bar field and period, got 0 numbers"),
            ("sma(close, 0)", "period must be a whole number"),
            ("sma(close, 2.5)", "period must be a whole number"),
            ("sma(close, 3) + 1", "unexpected text"),
            ("sma(close, close)", "must be the first argument"),
            ("sma close", "expected `(`"),
        ];
        for (text, want) in cases {
            let (_, msg) = IndicatorSpec::parse(text).unwrap_err();
            assert!(msg.contains(want), "{text}: {msg}");
        }
    }

    #[test]
    fn resolves_parameters() {
        let s = IndicatorSpec::parse("sma(close, fast)").unwrap();
        let mut p = Params::new();
        assert!(
            s.resolve(&p)
                .unwrap_err()
                .contains("unknown parameter `fast`")
        );
        p.insert("fast".into(), 10.0);
        assert_eq!(s.resolve(&p).unwrap(), vec![10.0]);
        p.insert("fast".into(), -1.0);
        assert!(s.resolve(&p).is_err());
    }
}
