use std::borrow::Cow;
use std::collections::BTreeMap;

use thiserror::Error;

/// Resolved parameter values by name.
pub type Params = BTreeMap<String, f64>;

/// A declared strategy parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name used in `--param name=value`.
    pub name: Cow<'static, str>,
    /// Value when not given.
    pub default: f64,
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// Whether only whole numbers are allowed.
    pub integer: bool,
    /// What it means.
    pub help: Cow<'static, str>,
}

/// A parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParamError {
    /// Not declared by the strategy.
    #[error("strategy {strategy} has no parameter `{name}`; its parameters are: {known}")]
    Unknown {
        /// Strategy name.
        strategy: String,
        /// The name given.
        name: String,
        /// Declared names.
        known: String,
    },
    /// Outside its declared range or not whole.
    #[error("parameter `{name}` = {value} is invalid: {why}")]
    Invalid {
        /// Parameter name.
        name: String,
        /// Value given.
        value: f64,
        /// What is expected.
        why: String,
    },
    /// Given twice.
    #[error("parameter `{0}` is given more than once")]
    Repeated(String),
}

/// Fills in defaults for `specs` and checks every given value: declared, given once, in
/// range, whole where it must be. `strategy` names the strategy in errors.
pub fn resolve(
    strategy: &str,
    specs: &[ParamSpec],
    given: &[(String, f64)],
) -> Result<Params, ParamError> {
    let mut out: Params = specs
        .iter()
        .map(|s| (s.name.to_string(), s.default))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in given {
        let Some(spec) = specs.iter().find(|s| s.name == *name) else {
            let known = if specs.is_empty() {
                "(none)".to_string()
            } else {
                specs
                    .iter()
                    .map(|s| &*s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ParamError::Unknown {
                strategy: strategy.into(),
                name: name.clone(),
                known,
            });
        };
        if !seen.insert(name.clone()) {
            return Err(ParamError::Repeated(name.clone()));
        }
        let invalid = |why: String| ParamError::Invalid {
            name: name.clone(),
            value: *value,
            why,
        };
        if !value.is_finite() {
            return Err(invalid("must be a finite number".into()));
        }
        if spec.integer && value.fract() != 0.0 {
            return Err(invalid("must be a whole number".into()));
        }
        if *value < spec.min || *value > spec.max {
            return Err(invalid(format!(
                "must be between {} and {}",
                spec.min, spec.max
            )));
        }
        out.insert(name.clone(), *value);
    }
    Ok(out)
}

/// Reads a resolved parameter (present by construction) as a period.
pub(crate) fn period(p: &Params, name: &str) -> usize {
    p.get(name).copied().unwrap_or(0.0) as usize
}
