//! Strategy code as a run needs it: a built-in named, or a tenant's Python or rules source
//! checked once, with what it declares and, when it does not check, every problem located.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use qf_engine::strategies::{BUILTINS, BuiltinStrategy, ParamError, ParamSpec, Params, builtin};
use qf_sandbox::diag::{Diagnostic, Diagnostics};
use qf_sandbox::pool::Pool;
use qf_sandbox::tenant::TenantStrategy;

use super::PROBLEM_TYPE_BASE;

/// A strategy ready to run.
#[derive(Clone)]
pub enum StrategyCode {
    /// A native built-in (`sma_cross`).
    Builtin {
        /// Its registry name; [`StrategyCode::builtin`] checked that it exists.
        name: String,
    },
    /// Tenant code: Python (run in a sandbox worker) or rules (run in process).
    Tenant {
        /// The file name diagnostics and results give it (`sma_cross.py`).
        file: String,
        /// The checked program.
        strategy: Arc<TenantStrategy>,
    },
}

impl std::fmt::Debug for StrategyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StrategyCode::Builtin { name } => {
                f.debug_struct("Builtin").field("name", name).finish()
            }
            StrategyCode::Tenant { file, strategy } => f
                .debug_struct("Tenant")
                .field("file", file)
                .field("tier", &strategy.tier())
                .finish(),
        }
    }
}

/// What a strategy declares, for the API and the strategy list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyInfo {
    /// `builtin`, `python` or `rules`.
    pub kind: String,
    /// Declared parameters: `[{name, default, min, max, integer, help}]`.
    pub params: Value,
    /// Declared states (tenant code; empty for built-ins).
    pub states: Vec<String>,
    /// Indicators the engine computes for it, as canonical calls (tenant code).
    pub indicators: Vec<String>,
}

/// Tenant code that does not check: every problem, located in the tenant's own file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyProblem {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// One problem of a [`StrategyProblem`] as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeError {
    /// What is wrong.
    pub message: String,
    /// The file as the tenant named it.
    pub file: String,
    /// 1-based line; 0 when the problem is the file as a whole.
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub column: u32,
    /// What to write instead, when there is a known fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The offending line of source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
}

impl From<&Diagnostic> for CodeError {
    fn from(d: &Diagnostic) -> Self {
        CodeError {
            message: d.message.clone(),
            file: d.file.clone(),
            line: d.line,
            column: d.col,
            hint: d.help.clone(),
            source_line: d.source_line.clone(),
        }
    }
}

impl StrategyProblem {
    /// A problem with the strategy as a whole (an unknown built-in, a kind we do not run).
    fn whole(file: &str, message: impl Into<String>) -> Self {
        Diagnostic::whole(file, message).into()
    }

    /// The problems as the API lists them.
    pub fn errors(&self) -> Vec<CodeError> {
        self.diagnostics.iter().map(CodeError::from).collect()
    }

    /// An RFC 9457 problem object (`strategy-invalid`) with every problem in `errors`: the
    /// body of the API's 422, and what a run that fails to compile stores as its error.
    pub fn to_json(&self) -> Value {
        json!({
            "type": format!("{PROBLEM_TYPE_BASE}strategy-invalid"),
            "title": "Strategy is invalid",
            "detail": self.to_string(),
            "errors": self.errors(),
        })
    }
}

impl From<Diagnostics> for StrategyProblem {
    fn from(d: Diagnostics) -> Self {
        StrategyProblem { diagnostics: d.0 }
    }
}

impl From<Diagnostic> for StrategyProblem {
    fn from(d: Diagnostic) -> Self {
        StrategyProblem {
            diagnostics: vec![d],
        }
    }
}

impl std::fmt::Display for StrategyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Diagnostics(self.diagnostics.clone()).fmt(f)
    }
}

impl std::error::Error for StrategyProblem {}

impl Serialize for StrategyProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// Checks strategy source and says what it declares.
///
/// - `kind` `"builtin"`: `source` is the built-in's name (`sma_cross`); `name` is ignored.
/// - `kind` `"python"`: `source` is Python, diagnosed as the file `<name>.py`.
/// - `kind` `"rules"`: `source` is a rules document in TOML or YAML. When `name` ends in
///   `.toml`, `.yaml` or `.yml` that decides the format; otherwise the format is sniffed:
///   YAML when the first line that is not blank or a comment is `---` or starts a
///   `key:` mapping entry, TOML otherwise. Diagnostics name the file `<name>.toml` or
///   `<name>.yaml`.
///
/// These are the checks that need no interpreter, so they are safe to run in the API
/// process. Python syntax errors and unsupported features are found by the interpreter in
/// a sandbox worker: [`check_compiles`] before queuing if a pool is at hand, or the run
/// itself (a `compile` failure located at its line).
pub fn compile_strategy(
    kind: &str,
    name: &str,
    source: &str,
) -> Result<(StrategyCode, StrategyInfo), StrategyProblem> {
    let code = match kind {
        "builtin" => StrategyCode::builtin(source.trim())
            .map_err(|why| StrategyProblem::whole(source.trim(), why))?,
        "python" | "rules" => {
            let file = file_name(kind, name, source);
            let strategy = TenantStrategy::from_source(&file, source)?;
            StrategyCode::Tenant {
                file,
                strategy: Arc::new(strategy),
            }
        }
        other => {
            return Err(StrategyProblem::whole(
                name,
                format!("unknown strategy kind {other:?}; use builtin, python or rules"),
            ));
        }
    };
    let info = code.info();
    Ok((code, info))
}

/// Compiles Python in a sandbox worker (syntax, unsupported features) without running any
/// of it; rules and built-ins are fully checked by [`compile_strategy`].
pub fn check_compiles(code: &StrategyCode, pool: &Pool) -> Result<(), StrategyProblem> {
    let StrategyCode::Tenant { file, strategy } = code else {
        return Ok(());
    };
    strategy.compile_check(pool).map_err(|f| {
        Diagnostic {
            file: file.clone(),
            line: f.line,
            col: f.col,
            message: f.message,
            help: None,
            source_line: f.source_line,
        }
        .into()
    })
}

/// The file name tenant code is diagnosed under.
fn file_name(kind: &str, name: &str, source: &str) -> String {
    // Only the last component: the name is the tenant's, never a path on the host.
    let name = Path::new(name).file_name().map_or_else(
        || "strategy".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let lower = name.to_ascii_lowercase();
    if kind == "python" {
        return if lower.ends_with(".py") {
            name
        } else {
            format!("{name}.py")
        };
    }
    if [".toml", ".yaml", ".yml"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return name;
    }
    if looks_like_yaml(source) {
        format!("{name}.yaml")
    } else {
        format!("{name}.toml")
    }
}

/// Whether a rules document is YAML rather than TOML, from its first meaningful line: a
/// document marker, or `key:` where TOML would have `key =` or `[table]`.
fn looks_like_yaml(source: &str) -> bool {
    let Some(line) = source
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return false;
    };
    if line.starts_with("---") {
        return true;
    }
    let key_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    key_end > 0 && line[key_end..].trim_start().starts_with(':')
}

impl StrategyCode {
    /// A built-in by name, or a message listing those that exist.
    pub fn builtin(name: &str) -> Result<StrategyCode, String> {
        match builtin(name) {
            Some(b) => Ok(StrategyCode::Builtin {
                name: b.name.to_string(),
            }),
            None => Err(format!(
                "unknown strategy {name:?}; built-in strategies are: {}",
                BUILTINS
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The built-in behind a `Builtin`; `None` for tenant code or an unknown name (a value
    /// built by hand rather than by [`StrategyCode::builtin`]).
    pub(crate) fn native(&self) -> Option<&'static BuiltinStrategy> {
        match self {
            StrategyCode::Builtin { name } => builtin(name),
            StrategyCode::Tenant { .. } => None,
        }
    }

    /// The name results carry: the built-in's name, the rules' `name`, or the Python file's
    /// stem.
    pub fn name(&self) -> String {
        match self {
            StrategyCode::Builtin { name } => name.clone(),
            StrategyCode::Tenant { strategy, .. } => strategy.name(),
        }
    }

    /// `builtin`, `python` or `rules`.
    pub fn kind(&self) -> &'static str {
        match self {
            StrategyCode::Builtin { .. } => "builtin",
            StrategyCode::Tenant { strategy, .. } => strategy.tier(),
        }
    }

    /// Declared parameters.
    pub fn params(&self) -> &[ParamSpec] {
        match self {
            StrategyCode::Builtin { .. } => self.native().map_or(&[][..], |b| b.params),
            StrategyCode::Tenant { strategy, .. } => strategy.params(),
        }
    }

    /// Fills in defaults and checks every given value against the declarations.
    pub fn resolve(&self, given: &[(String, f64)]) -> Result<Params, ParamError> {
        qf_engine::strategies::resolve(&self.name(), self.params(), given)
    }

    /// What the strategy declares.
    pub fn info(&self) -> StrategyInfo {
        let params: Vec<Value> = self
            .params()
            .iter()
            .map(|p| {
                json!({"name": p.name, "default": p.default, "min": p.min, "max": p.max,
                    "integer": p.integer, "help": p.help})
            })
            .collect();
        let (states, indicators) = match self {
            StrategyCode::Builtin { .. } => (Vec::new(), Vec::new()),
            StrategyCode::Tenant { strategy, .. } => (strategy.states(), strategy.indicators()),
        };
        StrategyInfo {
            kind: self.kind().to_string(),
            params: Value::Array(params),
            states,
            indicators,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES_TOML: &str = include_str!("../../../../examples/rules/sma_cross.toml");
    const RULES_YAML: &str = include_str!("../../../../examples/rules/sma_cross.yaml");
    const PYTHON: &str = include_str!("../../../../examples/python/sma_cross.py");

    #[test]
    fn every_kind_compiles_and_declares_its_params() {
        for (kind, name, source) in [
            ("builtin", "anything", "sma_cross"),
            ("python", "sma_cross", PYTHON),
            ("rules", "sma_cross", RULES_TOML),
            ("rules", "sma_cross", RULES_YAML),
        ] {
            let (code, info) = compile_strategy(kind, name, source).unwrap();
            assert_eq!(code.name(), "sma_cross", "{kind}");
            assert_eq!(info.kind, kind);
            let names: Vec<&str> = info
                .params
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(&names[..2], ["fast", "slow"], "{kind}");
            assert!(info.params[0]["help"].is_string());
        }
        let (_, info) = compile_strategy("python", "sma_cross", PYTHON).unwrap();
        assert_eq!(info.states, ["flat", "long"]);
        assert_eq!(info.indicators.len(), 2);
    }

    #[test]
    fn problems_are_located_in_the_tenants_file() {
        let bad = PYTHON.replace(
            "STATES = [\"flat\", \"long\"]",
            "import os\nSTATES = [\"flat\", \"long\"]",
        );
        let p = compile_strategy("python", "mine", &bad).unwrap_err();
        let e = &p.errors()[0];
        assert_eq!(e.file, "mine.py");
        assert!(e.line > 0 && e.column > 0, "{e:?}");
        let j = p.to_json();
        assert_eq!(
            j["type"],
            "https://quantforge.dev/problems/strategy-invalid"
        );
        assert_eq!(j["errors"][0]["line"], e.line);

        let yaml = RULES_YAML.replace("fast_ma", "fast ma");
        let p = compile_strategy("rules", "r", &yaml).unwrap_err();
        assert!(p.diagnostics.iter().all(|d| d.file == "r.yaml"), "{p}");

        let p = compile_strategy("builtin", "x", "sma_crosss").unwrap_err();
        assert!(
            p.to_string().contains("built-in strategies are: sma_cross"),
            "{p}"
        );
        let p = compile_strategy("wasm", "x", "").unwrap_err();
        assert!(p.to_string().contains("builtin, python or rules"), "{p}");
    }

    #[test]
    fn rules_format_is_sniffed_or_taken_from_the_name() {
        assert_eq!(file_name("rules", "a", RULES_TOML), "a.toml");
        assert_eq!(file_name("rules", "a", RULES_YAML), "a.yaml");
        assert_eq!(file_name("rules", "a.yml", "x = 1"), "a.yml");
        assert_eq!(file_name("rules", "a", "# c\n\n---\nname: x"), "a.yaml");
        assert_eq!(file_name("rules", "a", "[params]\nx: 1"), "a.toml");
        assert_eq!(file_name("python", "../../etc/s", ""), "s.py");
        assert!(!looks_like_yaml("name = \"a: b\""));
        assert!(looks_like_yaml("name: a"));
    }
}
