//! What `qf` learns from a Python strategy without running it: its declarations (literals),
//! its hooks and their arity, the engine-provided names it reads, and every use of a feature
//! the sandbox does not offer — each reported at its line and column with what to write
//! instead. Nothing here executes tenant code, so it is safe in the parent process; parsing
//! and compiling with the interpreter happens in the sandbox worker.

use std::collections::BTreeSet;

use qf_engine::strategies::ParamSpec;

use super::literal::{self, Lit};
use crate::diag::{Diagnostic, Diagnostics, line_col};
use crate::indicator::IndicatorSpec;
use crate::shown;

/// Largest strategy file accepted.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
/// Most parameters, indicators or states one strategy may declare.
pub const MAX_DECLARED: usize = 64;

/// Names the engine sets before every call of `on_bar`.
pub const BAR_NAMES: &[(&str, &str)] = &[
    ("open", "the bar's opening price (float)"),
    ("high", "the bar's high (float)"),
    ("low", "the bar's low (float)"),
    ("close", "the bar's close (float)"),
    ("volume", "the bar's volume (float)"),
    (
        "time",
        "the bar's time, integer nanoseconds since 1970-01-01 UTC",
    ),
    (
        "bar_index",
        "how many bars (all instruments) came before this one",
    ),
    ("symbol", "the instrument's symbol (str)"),
    (
        "position",
        "signed position in this instrument (float; negative when short)",
    ),
    ("cash", "cash (float)"),
    ("equity", "cash plus positions at their last closes (float)"),
    ("state", "the current state (str)"),
    ("bars_in_state", "bars since the state last changed (int)"),
    (
        "mem",
        "a dict kept between bars of this instrument; store your own state here",
    ),
];

/// Builtins that reach outside the sandbox or defeat its checks.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "eval",
        "build the logic in code; there is no eval in strategies",
    ),
    (
        "exec",
        "build the logic in code; there is no exec in strategies",
    ),
    ("compile", "there is no code compilation in strategies"),
    ("__import__", "strategies cannot import at run time"),
    (
        "globals",
        "keep state in `mem` (a dict that persists between bars)",
    ),
    (
        "locals",
        "keep state in `mem` (a dict that persists between bars)",
    ),
    (
        "vars",
        "keep state in `mem` (a dict that persists between bars)",
    ),
    (
        "input",
        "strategies cannot read input; declare a parameter in PARAMS",
    ),
    (
        "breakpoint",
        "there is no debugger; use print(), which goes to the run log",
    ),
    ("exit", "return None from on_bar to do nothing"),
    ("quit", "return None from on_bar to do nothing"),
];

/// Modules a strategy may import (pure computation).
const ALLOWED_MODULES: &[&str] = &["math", "json", "re", "typing", "dataclasses"];

/// Modules refused with a hint.
const MODULE_HELP: &[(&str, &str)] = &[
    (
        "time",
        "use `time`, the bar's timestamp, which the engine provides",
    ),
    (
        "datetime",
        "use `time`, the bar's timestamp in nanoseconds; the clock is not available",
    ),
    (
        "random",
        "randomness is not available, so a run is reproducible; derive decisions from the data",
    ),
    (
        "statistics",
        "compute it in code, or declare an indicator such as stddev(close, 20)",
    ),
    ("os", "strategies have no access to the host"),
    ("sys", "strategies have no access to the host"),
    ("subprocess", "strategies cannot start programs"),
    ("socket", "strategies have no network"),
    ("pathlib", "strategies have no filesystem"),
    ("io", "strategies have no filesystem"),
];

/// One engine-provided value a strategy reads, in the order the worker passes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One of [`BAR_NAMES`], by index.
    Bar(usize),
    /// A declared parameter, by index.
    Param(usize),
    /// A declared indicator's current value, by index.
    Indicator(usize),
    /// A declared indicator's previous value (`prev_<name>`), by index.
    Previous(usize),
}

/// A checked Python strategy: its source and everything learned without running it.
#[derive(Debug, Clone)]
pub struct PythonProgram {
    /// File name as given (used in every message).
    pub file: String,
    /// The source.
    pub source: String,
    /// Declared parameters (PARAMS).
    pub params: Vec<ParamSpec>,
    /// Declared indicators (INDICATORS), by name.
    pub indicators: Vec<(String, IndicatorSpec)>,
    /// Declared states (STATES); the first is the initial one. Empty: any state name.
    pub states: Vec<String>,
    /// Whether it defines `execute(signal)`.
    pub has_execute: bool,
    /// The engine-provided names it reads.
    pub inputs: Vec<Input>,
    /// The source as run: declarations nobody else reads are blanked out (same lines and
    /// columns), so the interpreter does not rebuild them on every bar.
    pub runtime_source: String,
}

impl PythonProgram {
    /// The state every instrument starts in.
    pub fn initial_state(&self) -> &str {
        self.states.first().map_or("flat", String::as_str)
    }

    /// The name the interpreter sees for input `k`.
    pub fn input_name(&self, input: &Input) -> String {
        match input {
            Input::Bar(k) => BAR_NAMES[*k].0.to_string(),
            Input::Param(k) => self.params[*k].name.to_string(),
            Input::Indicator(k) => self.indicators[*k].0.clone(),
            Input::Previous(k) => format!("prev_{}", self.indicators[*k].0),
        }
    }

    /// Whether it reads or writes `mem`.
    pub fn uses_mem(&self) -> bool {
        self.inputs.contains(&Input::Bar(mem_index()))
    }

    /// The code the worker compiles: the tenant's source unchanged (so line numbers are
    /// theirs), then one final expression that calls the hooks.
    pub fn runnable(&self) -> String {
        let call = if self.has_execute {
            "execute(on_bar())"
        } else {
            "on_bar()"
        };
        let tail = if self.uses_mem() {
            format!("({call}, mem)")
        } else {
            format!("({call}, None)")
        };
        let mut s = self.runtime_source.clone();
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&tail);
        s.push('\n');
        s
    }

    /// Lines of the tenant's own source (errors past it are in the generated call).
    pub fn source_lines(&self) -> u32 {
        self.source.lines().count() as u32
    }
}

fn mem_index() -> usize {
    BAR_NAMES
        .iter()
        .position(|(n, _)| *n == "mem")
        .expect("mem is a bar name")
}

/// Checks a Python strategy without running it. Reports every problem found.
pub fn check(file: &str, source: &str) -> Result<PythonProgram, Diagnostics> {
    // A byte-order mark is not code (editors on Windows write one).
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::whole(
            file,
            format!(
                "the file is {} bytes; strategies are limited to {MAX_SOURCE_BYTES} bytes",
                source.len()
            ),
        )
        .into());
    }
    let mut c = Checker {
        file,
        source,
        code: blank_strings_and_comments(source),
        problems: Vec::new(),
        spans: Vec::new(),
    };
    let hooks = c.hooks();
    c.imports();
    let assigned = c.top_level_assignments();
    let params = c.params(&assigned);
    let indicators = c.indicators(&assigned, &params);
    // A declared parameter or indicator named like a builtin (`exit`) is a value, not it.
    let declared: Vec<&str> = params
        .iter()
        .map(|p| &*p.name)
        .chain(indicators.iter().map(|(n, _)| n.as_str()))
        .collect();
    c.forbidden_names(&declared);
    let states = c.states(&assigned);
    c.reserved(&assigned, &params, &indicators);
    let has_execute = hooks.iter().any(|(n, ..)| n == "execute");
    if !c.problems.is_empty() {
        // In file order, problems with the file as a whole last.
        c.problems.sort_by_key(|d| (d.line == 0, d.line, d.col));
        return Err(Diagnostics(c.problems));
    }
    // Identifier words of the code (strings blanked but for f-string `{…}` parts): an
    // over-approximation of the engine names it reads, which only costs passing a value.
    let all_words = words(&c.code);
    let used: BTreeSet<&str> = all_words.iter().map(|(w, _)| *w).collect();
    let mut runtime_source = source.as_bytes().to_vec();
    for (name, start, end) in &c.spans {
        let uses = all_words.iter().filter(|(w, _)| w == name).count();
        if uses == 1 {
            for b in &mut runtime_source[*start..*end] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
    }
    // Only whole declarations were replaced, byte for byte, by ASCII spaces.
    let runtime_source = String::from_utf8(runtime_source).unwrap_or_else(|_| source.to_string());
    let mut inputs = Vec::new();
    for (k, (name, _)) in BAR_NAMES.iter().enumerate() {
        if used.contains(*name) {
            inputs.push(Input::Bar(k));
        }
    }
    for (k, p) in params.iter().enumerate() {
        if used.contains(&*p.name) {
            inputs.push(Input::Param(k));
        }
    }
    for (k, (name, _)) in indicators.iter().enumerate() {
        if used.contains(name.as_str()) {
            inputs.push(Input::Indicator(k));
        }
        if used.contains(format!("prev_{name}").as_str()) {
            inputs.push(Input::Previous(k));
        }
    }
    Ok(PythonProgram {
        file: file.to_string(),
        source: source.to_string(),
        params,
        indicators,
        states,
        has_execute,
        inputs,
        runtime_source,
    })
}

struct Checker<'a> {
    file: &'a str,
    source: &'a str,
    /// `source` with string contents and comments replaced by spaces (same byte offsets).
    code: String,
    problems: Vec<Diagnostic>,
    /// Byte ranges of the declarations read: (name, start, end).
    spans: Vec<(String, usize, usize)>,
}

impl Checker<'_> {
    fn at(&self, offset: usize, msg: impl Into<String>) -> Diagnostic {
        let (l, c) = line_col(self.source, offset);
        Diagnostic::at(self.file, self.source, l, c, msg)
    }

    fn push(&mut self, offset: usize, msg: impl Into<String>, help: Option<String>) {
        let mut d = self.at(offset, msg);
        d.help = help;
        self.problems.push(d);
    }

    /// Top-level `def`s: `on_bar()` is required, `execute(signal)` optional, nothing else
    /// may look like a hook.
    fn hooks(&mut self) -> Vec<(String, usize, usize)> {
        let mut hooks = Vec::new();
        let mut offset = 0;
        let code = self.code.clone();
        for line in code.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix("def ") {
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let arity = def_arity(&code[offset..]);
                hooks.push((name, arity, offset + 4));
            }
            offset += line.len();
        }
        let expected = [
            ("on_bar", 0usize, "on_bar()"),
            ("execute", 1, "execute(signal)"),
        ];
        let mut found_on_bar = false;
        for (name, arity, at) in &hooks {
            if let Some((_, want, sig)) = expected.iter().find(|(n, ..)| n == name) {
                found_on_bar |= name == "on_bar";
                if arity != want {
                    self.push(
                        *at,
                        format!("`{name}` takes {arity} argument(s); it must be `def {sig}:`"),
                        Some(if name == "on_bar" {
                            "on_bar reads the bar through names the engine sets: close, position, your indicators (see the strategy guide)".into()
                        } else {
                            "execute receives what on_bar returned and returns the orders".into()
                        }),
                    );
                }
            } else if expected.iter().any(|(n, ..)| edit_distance(n, name) <= 2) {
                let guess = expected
                    .iter()
                    .min_by_key(|(n, ..)| edit_distance(n, name))
                    .map(|(n, ..)| *n)
                    .unwrap_or("on_bar");
                self.push(
                    *at,
                    format!("`{name}` is not a hook the engine calls"),
                    Some(format!(
                        "the hooks are `on_bar()` (every bar) and `execute(signal)` (optional); did you mean `{guess}`?"
                    )),
                );
            }
        }
        if !found_on_bar && !hooks.iter().any(|(n, ..)| n == "on_bar") {
            self.problems.push(
                Diagnostic::whole(self.file, "no `on_bar` function: the engine calls `on_bar()` on every bar")
                    .with_help("define `def on_bar():` at the top level of the file; return None, or a dict such as {\"target_percent\": 1.0}"),
            );
        }
        hooks
    }

    fn forbidden_names(&mut self, declared: &[&str]) {
        let code = self.code.clone();
        for (word, at) in words(&code) {
            if declared.contains(&word) {
                continue;
            }
            let after_dot = code[..at].trim_end().ends_with('.');
            if let Some((_, help)) = FORBIDDEN.iter().find(|(n, _)| *n == word) {
                if !after_dot {
                    self.push(
                        at,
                        format!("`{word}` is not available in strategies"),
                        Some(help.to_string()),
                    );
                }
            } else if word.len() > 4
                && word.starts_with("__")
                && word.ends_with("__")
                && word != "__name__"
            {
                self.push(
                    at,
                    format!("`{word}`: double-underscore names are not available in strategies"),
                    Some("use plain functions, dicts and lists".into()),
                );
            } else if word == "global" || word == "nonlocal" {
                self.push(
                    at,
                    format!("`{word}`: module-level names are set afresh on every bar, so state kept in them is lost"),
                    Some("keep state between bars in `mem`, e.g. mem[\"count\"] = mem.get(\"count\", 0) + 1".into()),
                );
            } else if word == "open" && !after_dot && code[at + 4..].trim_start().starts_with('(') {
                self.push(
                    at,
                    "open() is not available: strategies cannot read files",
                    Some("`open` is the bar's opening price; data comes from the engine".into()),
                );
            }
        }
    }

    fn imports(&mut self) {
        let code = self.code.clone();
        let mut offset = 0;
        for line in code.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let modules: Vec<(String, usize)> = if let Some(rest) = trimmed.strip_prefix("import ")
            {
                let mut pos = offset + indent + 7;
                rest.split(',')
                    .map(|m| {
                        let lead = m.len() - m.trim_start().len();
                        let name = m.trim().split([' ', '.']).next().unwrap_or("").to_string();
                        let at = pos + lead;
                        pos += m.len() + 1;
                        (name, at)
                    })
                    .collect()
            } else if let Some(rest) = trimmed.strip_prefix("from ") {
                let lead = rest.len() - rest.trim_start().len();
                let name = rest
                    .trim()
                    .split([' ', '.'])
                    .next()
                    .unwrap_or("")
                    .to_string();
                vec![(name, offset + indent + 5 + lead)]
            } else {
                Vec::new()
            };
            for (m, at) in modules {
                if ALLOWED_MODULES.contains(&m.as_str()) {
                    continue;
                }
                let help = MODULE_HELP
                    .iter()
                    .find(|(n, _)| *n == m)
                    .map(|(_, h)| h.to_string())
                    .unwrap_or_else(|| {
                        format!("modules available: {}", ALLOWED_MODULES.join(", "))
                    });
                self.push(
                    at,
                    format!("module `{m}` is not available in strategies"),
                    Some(help),
                );
            }
            offset += line.len();
        }
    }

    /// `NAME = …` at the top level: (name, offset of name, offset after `=`).
    fn top_level_assignments(&self) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut offset = 0;
        for line in self.code.split_inclusive('\n') {
            let name: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                let rest = &line[name.len()..];
                let t = rest.trim_start();
                let eq = t.starts_with('=') && !t.starts_with("==")
                    || t.starts_with(':') && t.contains('=')
                    || ["+=", "-=", "*=", "/="].iter().any(|op| t.starts_with(op));
                if eq
                    && !matches!(
                        name.as_str(),
                        "def" | "if" | "for" | "while" | "class" | "return"
                    )
                {
                    let eq_at =
                        offset + name.len() + (rest.len() - t.len()) + t.find('=').unwrap_or(0) + 1;
                    out.push((name, offset, eq_at));
                }
            }
            offset += line.len();
        }
        out
    }

    fn declaration(&mut self, assigned: &[(String, usize, usize)], name: &str) -> Option<Lit> {
        let mut found = assigned.iter().filter(|(n, ..)| n == name);
        let (_, start, eq) = found.next()?;
        let start = *start;
        if let Some((_, at, _)) = found.next() {
            self.push(
                *at,
                format!("`{name}` is assigned more than once"),
                Some(format!("declare {name} once, as a literal")),
            );
            return None;
        }
        match literal::parse(self.source, *eq) {
            Ok((v, end)) => {
                let rest = self.code[end..].split('\n').next().unwrap_or("");
                if !rest.trim().is_empty() {
                    self.push(
                        end,
                        format!("`{name}` must be a single literal value"),
                        Some("declarations are read without running your code".into()),
                    );
                    return None;
                }
                self.spans.push((name.to_string(), start, end));
                Some(v)
            }
            Err((at, msg)) => {
                self.push(at, format!("in `{name}`: {msg}"), None);
                None
            }
        }
    }

    fn params(&mut self, assigned: &[(String, usize, usize)]) -> Vec<ParamSpec> {
        let Some(decl) = self.declaration(assigned, "PARAMS") else {
            return Vec::new();
        };
        let Lit::Dict(items, at) = decl else {
            self.push(decl.offset(), format!("PARAMS must be a dict of name to default, got {}", decl.kind()), Some("PARAMS = {\"fast\": 10, \"slow\": {\"default\": 30, \"min\": 2, \"max\": 500}}".into()));
            return Vec::new();
        };
        if items.len() > MAX_DECLARED {
            self.push(
                at,
                format!(
                    "PARAMS declares {} parameters; at most {MAX_DECLARED}",
                    items.len()
                ),
                None,
            );
            return Vec::new();
        }
        let mut out: Vec<ParamSpec> = Vec::new();
        for (k, v) in items {
            let Some(name) = self.identifier_key(&k, "parameter") else {
                continue;
            };
            if out.iter().any(|p| p.name == name) {
                self.push(
                    k.offset(),
                    format!("parameter `{name}` is declared twice"),
                    None,
                );
                continue;
            }
            let spec = match &v {
                Lit::Int(..) | Lit::Float(..) => Some(ParamSpec {
                    name: name.clone().into(),
                    default: v.number().unwrap_or(0.0),
                    min: -1e15,
                    max: 1e15,
                    integer: matches!(v, Lit::Int(..)),
                    help: "".into(),
                }),
                Lit::Dict(fields, _) => self.param_table(&name, fields, v.offset()),
                other => {
                    self.push(other.offset(), format!("parameter `{name}`: expected a number or a dict with \"default\", got {}", other.kind()), None);
                    None
                }
            };
            out.extend(spec);
        }
        out
    }

    fn param_table(&mut self, name: &str, fields: &[(Lit, Lit)], at: usize) -> Option<ParamSpec> {
        let mut spec = ParamSpec {
            name: name.to_string().into(),
            default: f64::NAN,
            min: -1e15,
            max: 1e15,
            integer: false,
            help: "".into(),
        };
        let mut integer = None;
        for (k, v) in fields {
            let Lit::Str(key, _) = k else {
                self.push(k.offset(), "parameter fields are strings: \"default\", \"min\", \"max\", \"integer\", \"help\"", None);
                return None;
            };
            match (key.as_str(), v) {
                ("default", v) if v.number().is_some() => {
                    spec.default = v.number().unwrap_or(0.0);
                    integer.get_or_insert(matches!(v, Lit::Int(..)));
                }
                ("min", v) if v.number().is_some() => spec.min = v.number().unwrap_or(0.0),
                ("max", v) if v.number().is_some() => spec.max = v.number().unwrap_or(0.0),
                ("integer", Lit::Bool(b, _)) => integer = Some(*b),
                ("help", Lit::Str(h, _)) => spec.help = h.clone().into(),
                (key, v) => {
                    self.push(v.offset(), format!("parameter `{name}`: field \"{key}\" cannot be {}", v.kind()), Some("fields: \"default\" (number), \"min\", \"max\" (numbers), \"integer\" (True/False), \"help\" (string)".into()));
                    return None;
                }
            }
        }
        spec.integer = integer.unwrap_or(false);
        if spec.default.is_nan() {
            self.push(at, format!("parameter `{name}` has no \"default\""), None);
            return None;
        }
        if !(spec.min <= spec.default && spec.default <= spec.max) {
            self.push(
                at,
                format!(
                    "parameter `{name}`: default {} is outside min {} .. max {}",
                    shown::float(spec.default),
                    shown::float(spec.min),
                    shown::float(spec.max)
                ),
                None,
            );
            return None;
        }
        Some(spec)
    }

    fn identifier_key(&mut self, k: &Lit, what: &str) -> Option<String> {
        match k {
            Lit::Str(s, at) if is_identifier(s) => {
                let _ = at;
                Some(s.clone())
            }
            Lit::Str(s, at) => {
                self.push(
                    *at,
                    format!("{what} name \"{s}\" is not a valid Python identifier"),
                    None,
                );
                None
            }
            other => {
                self.push(
                    other.offset(),
                    format!("{what} names are strings, got {}", other.kind()),
                    None,
                );
                None
            }
        }
    }

    fn indicators(
        &mut self,
        assigned: &[(String, usize, usize)],
        params: &[ParamSpec],
    ) -> Vec<(String, IndicatorSpec)> {
        let Some(decl) = self.declaration(assigned, "INDICATORS") else {
            return Vec::new();
        };
        let Lit::Dict(items, at) = decl else {
            self.push(
                decl.offset(),
                format!(
                    "INDICATORS must be a dict of name to call, got {}",
                    decl.kind()
                ),
                Some("INDICATORS = {\"fast_ma\": \"sma(close, fast)\"}".into()),
            );
            return Vec::new();
        };
        if items.len() > MAX_DECLARED {
            self.push(
                at,
                format!(
                    "INDICATORS declares {} indicators; at most {MAX_DECLARED}",
                    items.len()
                ),
                None,
            );
            return Vec::new();
        }
        let mut out: Vec<(String, IndicatorSpec)> = Vec::new();
        for (k, v) in items {
            let Some(name) = self.identifier_key(&k, "indicator") else {
                continue;
            };
            if out.iter().any(|(n, _)| *n == name) || params.iter().any(|p| p.name == name) {
                self.push(k.offset(), format!("`{name}` is declared twice (names of parameters and indicators must differ)"), None);
                continue;
            }
            let Lit::Str(text, at) = &v else {
                self.push(v.offset(), format!("indicator `{name}`: expected a call written as a string, such as \"sma(close, 20)\", got {}", v.kind()), None);
                continue;
            };
            match IndicatorSpec::parse(text) {
                Ok(spec) => {
                    for p in spec.params() {
                        if !params.iter().any(|d| d.name == p) {
                            let known: Vec<&str> = params.iter().map(|d| &*d.name).collect();
                            let help = known
                                .iter()
                                .min_by_key(|n| edit_distance(n, p))
                                .filter(|n| edit_distance(n, p) <= 2)
                                .map(|n| format!("did you mean `{n}`?"))
                                .unwrap_or_else(|| "declare it in PARAMS or write a number".into());
                            self.push(
                                *at + 1,
                                format!("indicator `{name}` uses `{p}`, which is not a parameter"),
                                Some(help),
                            );
                        }
                    }
                    out.push((name, spec));
                }
                Err((off, msg)) => {
                    self.push(*at + 1 + off, format!("indicator `{name}`: {msg}"), None)
                }
            }
        }
        out
    }

    fn states(&mut self, assigned: &[(String, usize, usize)]) -> Vec<String> {
        let Some(decl) = self.declaration(assigned, "STATES") else {
            return Vec::new();
        };
        let Lit::List(items, at) = decl else {
            self.push(
                decl.offset(),
                format!("STATES must be a list of state names, got {}", decl.kind()),
                Some("STATES = [\"flat\", \"long\"]".into()),
            );
            return Vec::new();
        };
        if items.is_empty() || items.len() > MAX_DECLARED {
            self.push(
                at,
                format!("STATES must list 1 to {MAX_DECLARED} states"),
                None,
            );
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for v in items {
            match v {
                Lit::Str(s, at) if !s.is_empty() && s.len() <= 64 => {
                    if out.contains(&s) {
                        self.push(at, format!("state \"{s}\" is listed twice"), None);
                    } else {
                        out.push(s);
                    }
                }
                other => self.push(
                    other.offset(),
                    format!(
                        "a state is a non-empty string of at most 64 bytes, got {}",
                        other.kind()
                    ),
                    None,
                ),
            }
        }
        out
    }

    /// The engine sets these names on every call; assigning them at the top level would
    /// silently hide the engine's value.
    fn reserved(
        &mut self,
        assigned: &[(String, usize, usize)],
        params: &[ParamSpec],
        indicators: &[(String, IndicatorSpec)],
    ) {
        for (name, at, _) in assigned {
            let taken = BAR_NAMES.iter().any(|(n, _)| n == name)
                || params.iter().any(|p| p.name == *name)
                || indicators
                    .iter()
                    .any(|(n, _)| n == name || format!("prev_{n}") == *name);
            if taken {
                self.push(*at, format!("`{name}` is set by the engine on every bar; assigning it here would hide that value"), Some("pick another name".into()));
            }
        }
        for p in params {
            if BAR_NAMES.iter().any(|(n, _)| *n == p.name) {
                self.problems.push(Diagnostic::whole(
                    self.file,
                    format!(
                        "parameter `{}` has the name of an engine value; pick another",
                        p.name
                    ),
                ));
            }
        }
        for (n, _) in indicators {
            if BAR_NAMES.iter().any(|(b, _)| b == n) {
                self.problems.push(Diagnostic::whole(
                    self.file,
                    format!("indicator `{n}` has the name of an engine value; pick another"),
                ));
            }
        }
    }
}

/// Number of parameters of the `def` starting at the beginning of `code`.
fn def_arity(code: &str) -> usize {
    let head = &code[..floor_boundary(code, 4096)];
    let Some(open) = head.find('(') else { return 0 };
    let mut depth = 0;
    let mut inner = String::new();
    // A signature is short; never scan the rest of the file for an unclosed one.
    for c in head[open..].chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        if depth == 1 && c == ',' {
            inner.push('\u{0}');
        } else if depth >= 1 {
            inner.push(c);
        }
    }
    // Parameters without a default are the ones a caller must pass.
    inner
        .split('\u{0}')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.contains('=') && !p.starts_with('*') && *p != "/")
        .count()
}

fn floor_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Identifier words of `code` with their byte offsets.
fn words(code: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((&code[start..i], start));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s,
            "None"
                | "True"
                | "False"
                | "def"
                | "return"
                | "if"
                | "else"
                | "for"
                | "while"
                | "in"
                | "and"
                | "or"
                | "not"
                | "lambda"
                | "class"
                | "import"
                | "from"
        )
}

/// `source` with the insides of strings and comments replaced by spaces, byte for byte.
pub(crate) fn blank_strings_and_comments(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let prefix = &b[i.saturating_sub(2)..i];
                let raw = prefix.iter().any(|c| matches!(c, b'r' | b'R'));
                let fstring = prefix.iter().any(|c| matches!(c, b'f' | b'F'));
                let mut braces = 0usize;
                let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
                let open = if triple { 3 } else { 1 };
                i += open;
                loop {
                    if i >= b.len() {
                        break;
                    }
                    if b[i] == b'\\' && !raw {
                        out[i] = b' ';
                        if i + 1 < b.len() && b[i + 1] != b'\n' {
                            out[i + 1] = b' ';
                        }
                        i += 2;
                        continue;
                    }
                    if b[i] == q
                        && (!triple || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q)))
                    {
                        i += open;
                        break;
                    }
                    if b[i] == b'\n' && !triple {
                        break;
                    }
                    if fstring && b[i] == b'{' {
                        braces += 1;
                    }
                    if b[i] != b'\n' && braces == 0 {
                        out[i] = b' ';
                    }
                    if fstring && b[i] == b'}' {
                        braces = braces.saturating_sub(1);
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces and every byte of a multi-byte
    // character inside a string or comment was replaced too, so this is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| " ".repeat(source.len()))
}

/// Levenshtein distance, for "did you mean".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMA: &str = "PARAMS = {\"fast\": 10, \"slow\": 30}\nINDICATORS = {\"f\": \"sma(close, fast)\", \"s\": \"sma(close, slow)\"}\n\ndef on_bar():\n    if prev_f <= prev_s and f > s:\n        return {\"enter\": \"long\"}\n    return None\n";

    #[test]
    fn learns_declarations_and_inputs() {
        let p = check("s.py", SMA).unwrap();
        assert_eq!(p.params.len(), 2);
        assert!(p.params[0].integer);
        assert_eq!(p.indicators[1].1.to_string(), "sma(close, slow)");
        let names: Vec<String> = p.inputs.iter().map(|i| p.input_name(i)).collect();
        assert_eq!(names, ["f", "prev_f", "s", "prev_s"]);
        assert!(!p.runnable().contains("PARAMS"));
        assert_eq!(p.runnable().lines().count(), SMA.lines().count() + 1);
        assert!(!p.uses_mem());
        assert!(p.runnable().ends_with("(on_bar(), None)\n"));
    }

    fn problems(src: &str) -> Vec<String> {
        check("s.py", src).map(|_| Vec::new()).unwrap_or_else(|d| {
            d.0.iter()
                .map(|d| {
                    format!(
                        "{}:{} {} | {}",
                        d.line,
                        d.col,
                        d.message,
                        d.help.clone().unwrap_or_default()
                    )
                })
                .collect()
        })
    }

    #[test]
    fn locates_problems() {
        let p = problems("import os\ndef on_bar():\n    return eval('1')\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("1:8 module `os` is not available"),
            "{p:?}"
        );
        assert!(p[1].starts_with("3:12 `eval` is not available"), "{p:?}");
        let p = problems("def onbar():\n    pass\n");
        assert!(
            p[0].contains("`onbar` is not a hook") && p[0].contains("did you mean `on_bar`"),
            "{p:?}"
        );
        let p = problems("def on_bar(bar, ctx):\n    pass\n");
        assert!(
            p[0].starts_with("1:5 `on_bar` takes 2 argument(s)"),
            "{p:?}"
        );
        let p = problems(
            "PARAMS = {'fast': 10}\nINDICATORS = {'m': 'sma(close, fats)'}\ndef on_bar():\n    pass\n",
        );
        assert!(
            p[0].contains("uses `fats`, which is not a parameter")
                && p[0].contains("did you mean `fast`"),
            "{p:?}"
        );
        let p = problems("close = 3\ndef on_bar():\n    return None\n");
        assert!(
            p[0].starts_with("1:1 `close` is set by the engine"),
            "{p:?}"
        );
        let p = problems("x = 1\n");
        assert!(p[0].contains("no `on_bar` function"), "{p:?}");
        let p = problems("# eval( in a comment\ns = \"exec(\"\ndef on_bar():\n    return None\n");
        assert!(p.is_empty(), "{p:?}");
        let p = problems("def on_bar():\n    return ().__class__\n");
        assert!(p[0].contains("double-underscore"), "{p:?}");
    }

    #[test]
    fn accepts_what_python_users_write() {
        // A byte-order mark, helpers named like events, defaults on the hook.
        let src = "\u{feff}PARAMS = {'n': 3}\ndef on_fill_helper(x):\n    return x\ndef next_level(a, b):\n    return a\ndef on_bar(debug=False):\n    return None\n";
        let p = check("s.py", src).unwrap();
        assert_eq!(p.params.len(), 1);
        assert!(p.source.starts_with("PARAMS"));
        let p = problems("def on_bar():\n    global n\n    return None\n");
        assert!(
            p[0].starts_with("2:5 `global`: module-level names are set afresh"),
            "{p:?}"
        );
        // An unclosed signature costs a bounded scan, not the rest of the file.
        let big = "def a(\n".repeat(5_000);
        assert!(check("s.py", &big).is_err());
    }

    #[test]
    fn blanking_keeps_offsets() {
        let src = "a = 'x#y' # c\nb = \"\"\"q\nr\"\"\"\n";
        let b = blank_strings_and_comments(src);
        assert_eq!(b.len(), src.len());
        assert_eq!(b, "a = '   '    \nb = \"\"\" \n \"\"\"\n");
    }
}
