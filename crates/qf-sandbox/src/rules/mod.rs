//! The rules tier: a strategy written as a state machine in TOML or YAML, parsed,
//! type-checked and compiled before the run, and run in process through the engine's
//! [`qf_engine::Strategy`] trait.
//!
//! What it is for: strategies whose logic is "in this state, when this holds, do that and
//! move there". What it is not: a programming language. There are no loops, no strings and
//! no user functions, so the work per bar is bounded by the size of the file and a file that
//! compiles cannot crash or hang the engine.
//!
//! # The file
//!
//! ```toml
//! name = "sma_cross"                # optional; defaults to the file name without extension
//! description = "long when the fast SMA crosses above the slow SMA, flat when below"
//! states = ["flat", "long"]         # every state, declared, so typos are caught
//! initial = "flat"                  # where each instrument's machine starts
//! requires = ["fast < slow"]        # optional: conditions on parameters, checked by `build`
//!
//! [params]                          # optional; values can be overridden per run
//! fast = { default = 10, min = 1, max = 1000, integer = true, help = "fast SMA period" }
//! slow = 30                         # shorthand: a default, any value allowed
//!
//! [indicators]                      # optional named indicators
//! fast_ma = "sma(close, fast)"
//! slow_ma = "sma(close, slow)"
//!
//! [vars]                            # optional numbers per instrument, changed by `set`
//! stop_level = 0
//!
//! [[transitions]]
//! from = "flat"                     # a state, a list of states, or "*" for any state
//! to = "long"                       # optional: without `to` the machine stays put
//! when = "crossed_above(fast_ma, slow_ma)"
//! do = ["enter_long()"]             # optional: one action or a list, run in order
//!
//! [[transitions]]
//! from = "long"
//! to = "flat"
//! when = "crossed_below(fast_ma, slow_ma)"
//! do = ["close()"]
//! ```
//!
//! YAML has the same structure (`transitions:` is a list of mappings). Anchors, aliases and
//! merge keys are refused, and so are several documents in one file. Write the wildcard state
//! quoted (`from: "*"`): unquoted, YAML reads `*` as an alias.
//!
//! Names (states, parameters, indicators, vars) are ASCII letters, digits and `_`, starting
//! with a letter or `_`, at most 64 characters, and may not reuse a built-in name. Parameter
//! tables take `default` (required), `min`, `max`, `integer` and `help`.
//!
//! # Expressions
//!
//! `when` and action arguments are expressions over numbers and conditions:
//!
//! - literals: numbers (`10`, `0.5`, `1e-3`), `true`, `false`;
//! - `and`, `or`, `not`; comparisons `<  <=  >  >=  ==  !=` (not chained); arithmetic
//!   `+ - * /` with unary minus; parentheses;
//! - bar fields `open high low close volume` of the current bar of the instrument;
//! - `position` (signed quantity held in this instrument), `cash`, `equity`,
//!   `bars_in_state` (bars of this instrument since the machine entered its current state,
//!   this one included: 1 on the first bar after a move), `bar_index` (the engine's bar
//!   counter across all instruments);
//! - parameters, named indicators and vars by name;
//! - any indicator of [`crate::indicator::FUNCTIONS`] written inline, e.g.
//!   `rsi(close, 14) < 30`; the first argument is the bar field (`open high low close
//!   volume typical`; none for `atr`), the others numbers or parameter names. The same call
//!   written twice is computed once;
//! - `crossed_above(a, b)`, `crossed_below(a, b)`: `a` was at or below `b` on the previous
//!   bar and is strictly above it now (resp. at or above, now below). Each side is an
//!   indicator or a bar field, or one side may be any number, used as a level for both bars.
//!   Two indicators are compared exactly as the native strategies do
//!   (`Context::crossed_above`), so a rules `sma_cross` trades exactly like the native one;
//! - `prev(x)`: the previous bar's value of an indicator or bar field;
//! - `is_ready(x)`: whether an indicator has finished warming up;
//! - `abs(x)`, `min(a, b)`, `max(a, b)`.
//!
//! **Warm-up and bad numbers.** An indicator still warming up has no value (NaN), as has
//! `prev` on the first bar and a division by zero. Arithmetic, `min` and `max` pass NaN on,
//! and *every comparison with NaN is false*, `!=` included, as is a crossing with a side that
//! is NaN. `not` then turns that false into true: `not (rsi(close, 14) > 70)` holds during
//! warm-up, while `rsi(close, 14) <= 70` does not. Guard with `is_ready(...)` when it matters.
//!
//! # Actions
//!
//! - `enter_long()`, `enter_short()`, `close()`: target a long or short position of the run's
//!   sizing (`--size` or `--percent`), or flat, like the native strategies;
//! - `target_percent(x)`: a position worth `x` of equity at the last close, where `x` is a
//!   fraction (`1.0` = 100 %, `-0.5` = short half), as `Context::order_target_percent`;
//! - `target_quantity(x)`: a position of `x` units (negative = short);
//! - `buy(q)`, `sell(q)`: market orders of `q` ≥ 0 units;
//! - `limit(q, price)`, `stop(q, price)`: GTC limit and stop orders; `q` is signed, `+` buys
//!   and `-` sells;
//! - `cancel_all()`: cancels this instrument's working orders;
//! - `set(var, x)`: sets a var of this instrument; later actions see the new value;
//! - `wait(n)`: no rule of this instrument is evaluated for the next `n` bars, `n` rounded
//!   down (a cooldown; the state the rule moves to is where it waits).
//!
//! Quantities are truncated towards zero to whole lots and a quantity that truncates to zero
//! places no order. Prices are rounded to the nearest tick. A quantity, fraction or price that
//! is NaN or infinite, a negative `buy`/`sell` quantity, a price that is not positive, a
//! negative or NaN `wait`, or an order the engine refuses stops the run with an error naming
//! the action's `file:line:col` and the bar. Fills the engine rejects later (leverage) do not
//! stop the run, as for native strategies.
//!
//! # Running
//!
//! Each instrument runs its own copy of the machine: its own state, `bars_in_state`, vars and
//! cooldown. On each bar of an instrument the rules whose `from` matches its current state are
//! tried in file order; the first whose `when` holds fires: its actions run in order, and if
//! it has a `to` the machine moves there, `bars_in_state` restarts and the move is recorded on
//! the result's state timeline with the `when` text as the reason. At most one rule fires per
//! bar.
//!
//! # Limits
//!
//! A file is at most [`MAX_FILE_BYTES`]; at most [`MAX_STATES`] states,
//! [`MAX_TRANSITIONS`] transitions, [`MAX_INDICATORS`] distinct indicators,
//! [`MAX_PARAMS`] parameters, [`MAX_VARS`] vars and [`MAX_ACTIONS`] actions per transition;
//! expressions nest at most [`MAX_NESTING`] levels, where each operator of a chain such as
//! `a or b or c` counts as a level. Every problem is reported as a [`Diagnostic`] pointing at
//! the offending token in the file, all of them at once (up to 100); [`parse_bytes`] also
//! points at bytes that are not UTF-8.

mod document;
mod expr;
mod ir;
mod locate;
mod machine;
mod program;
mod schema;
mod suggest;
mod toml_source;
mod typecheck;
mod yaml_source;

pub use machine::RulesStrategy;
pub use program::RulesProgram;

use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, line_col};
use locate::Reporter;

/// Largest rules file accepted, in bytes (256 KiB).
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most states a file may declare.
pub const MAX_STATES: usize = 64;
/// Most transitions a file may hold.
pub const MAX_TRANSITIONS: usize = 256;
/// Deepest nesting of an expression (parentheses, calls, operators).
pub const MAX_NESTING: usize = 64;
/// Most distinct indicators a file may use.
pub const MAX_INDICATORS: usize = 64;
/// Most parameters a file may declare.
pub const MAX_PARAMS: usize = 64;
/// Most vars a file may declare.
pub const MAX_VARS: usize = 64;
/// Most actions in one transition.
pub const MAX_ACTIONS: usize = 32;
/// Longest name of a state, parameter, indicator or var.
pub const MAX_NAME_LEN: usize = 64;
/// Deepest nesting of tables and lists in the file itself.
const MAX_DOCUMENT_DEPTH: usize = 16;
/// `from` value meaning any state.
const WILDCARD: &str = "*";

/// The syntax a rules file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (`.toml`).
    Toml,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
}

impl Format {
    /// The format a path's extension names, if any (case-insensitive).
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Parses and checks a rules file: syntax, layout, names, types, states and limits —
/// everything that needs no parameter values. `file` is the name to show in diagnostics.
/// Returns every problem found, each located in the file.
pub fn parse(file: &str, source: &str, format: Format) -> Result<RulesProgram, Diagnostics> {
    if source.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::whole(
            file,
            format!(
                "file is {} bytes; a rules file may be at most {MAX_FILE_BYTES} bytes (256 KiB)",
                source.len()
            ),
        )
        .into());
    }
    if source.trim().is_empty() {
        return Err(Diagnostic::whole(
            file,
            "the file is empty; a rules file needs at least `states`, `initial` and `transitions`",
        )
        .into());
    }
    let mut rep = Reporter::new(file, source);
    let (root, map_word) = match format {
        Format::Toml => (toml_source::load(&mut rep), "table"),
        Format::Yaml => (yaml_source::load(&mut rep), "mapping"),
    };
    let Some(root) = root else {
        rep.finish()?;
        // A loader that fails always reports why; this is never reached.
        return Err(Diagnostic::whole(file, "the file could not be read").into());
    };
    let raw = schema::read(&mut rep, &root, map_word);
    let checked = typecheck::check(&mut rep, &raw);
    let warnings = rep.finish()?;
    let name = raw.name.map(|t| t.value).unwrap_or_else(|| {
        let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
        base.rsplit_once('.')
            .map_or(base, |(stem, _)| stem)
            .to_string()
    });
    Ok(RulesProgram {
        file: Arc::from(file),
        source: source.to_string(),
        name,
        description: raw.description.map(|t| t.value).unwrap_or_default(),
        checked,
        warnings,
    })
}

/// [`parse`] for raw file contents: checks the size and that the bytes are UTF-8 (pointing
/// at the first invalid byte) before parsing.
pub fn parse_bytes(file: &str, bytes: &[u8], format: Format) -> Result<RulesProgram, Diagnostics> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::whole(
            file,
            format!(
                "file is {} bytes; a rules file may be at most {MAX_FILE_BYTES} bytes (256 KiB)",
                bytes.len()
            ),
        )
        .into());
    }
    match std::str::from_utf8(bytes) {
        Ok(source) => parse(file, source, format),
        Err(e) => {
            let valid = e.valid_up_to();
            // The prefix up to `valid` is UTF-8 by definition.
            let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or("");
            let (line, col) = line_col(prefix, valid);
            Err(Diagnostic::at(
                file,
                prefix,
                line,
                col,
                format!(
                    "the file is not UTF-8 text: byte 0x{:02x} at offset {valid} is invalid",
                    bytes[valid]
                ),
            )
            .with_help("save the file as UTF-8")
            .into())
        }
    }
}
