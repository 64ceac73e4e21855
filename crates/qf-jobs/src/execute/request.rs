//! What a run is asked to do, as the API receives it, and the checks that turn it into
//! engine values: the same settings and rules as `qf backtest` / `qf sweep`, whose flags
//! convert into the same [`EngineSettings`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use qf_core::{Money, Price, Quantity};
use qf_engine::strategies::{ParamError, Params};
use qf_engine::{
    BacktestConfig, EngineError, FeeModel, FillModel, FillTiming, Grid, GridAxis, Metrics, Sizing,
    Slippage,
};

use super::code::StrategyCode;

/// Starting cash when none is given.
pub const DEFAULT_CASH: &str = "100000";
/// The metric a sweep ranks by when none is given.
pub const DEFAULT_SORT: &str = "sharpe";
/// Rows of a sweep's `top` when not given.
pub const DEFAULT_TOP: usize = 20;

/// An exact decimal as a request gave it: JSON text (`"100000.50"`, every digit kept) or a
/// JSON number (read as its shortest round-trip decimal, `0.1` as 0.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Decimal {
    /// As text.
    Text(String),
    /// As a number.
    Number(serde_json::Number),
}

// By hand: the derive cannot describe `serde_json::Number`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Decimal {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "An exact decimal: text keeps every digit (\"100000.50\"); a number is read as its shortest round-trip decimal",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Decimal {}

impl Decimal {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Decimal::Text(t) => Cow::Borrowed(t),
            Decimal::Number(n) => Cow::Owned(n.to_string()),
        }
    }
}

impl From<&str> for Decimal {
    fn from(s: &str) -> Self {
        Decimal::Text(s.to_string())
    }
}

/// Money, fees, fills and sizing: the settings of `qf backtest` other than data and
/// strategy. Absent values take the command line's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct EngineSettings {
    /// Starting cash (default 100000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash: Option<Decimal>,
    /// A fixed quantity per entry (default 1 unless `percent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<Decimal>,
    /// Size each entry to this percent of equity (e.g. 95); excludes `size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Commission per unit traded (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_per_unit: Option<Decimal>,
    /// Commission in basis points of notional (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_bps: Option<Decimal>,
    /// Minimum commission per fill (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_min: Option<Decimal>,
    /// Slippage in basis points on market and stop fills; excludes `slippage_ticks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slippage_bps: Option<Decimal>,
    /// Slippage in ticks on market and stop fills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slippage_ticks: Option<u32>,
    /// Largest gross exposure as a multiple of equity (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leverage: Option<f64>,
    /// OPTIMISTIC: fill market orders at the close of the bar they were decided on.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fill_at_close: bool,
}

/// A request that cannot run: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestProblem {
    /// The request field (`cash`, `params.fast`, `grid`, …).
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
    /// The same said in terms of command-line flags.
    #[serde(skip)]
    command_line: String,
}

impl RequestProblem {
    /// A problem with `field`, worded the same for the API and the command line.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        RequestProblem {
            field: field.into(),
            command_line: message.clone(),
            message,
        }
    }

    fn with_command_line(mut self, text: String) -> Self {
        self.command_line = text;
        self
    }

    /// The problem as `qf` prints it: `--cash "abc": …`, flags rather than fields.
    pub fn command_line_message(&self) -> &str {
        &self.command_line
    }

    fn from_engine(e: EngineError) -> Self {
        let field = match &e {
            EngineError::InvalidSetting { setting, .. } => *setting,
            _ => "settings",
        };
        let message = match &e {
            EngineError::InvalidSetting { message, .. } => message.clone(),
            other => other.to_string(),
        };
        RequestProblem::new(field, message).with_command_line(e.to_string())
    }

    fn param(e: ParamError) -> Self {
        let field = match &e {
            ParamError::Unknown { name, .. }
            | ParamError::Invalid { name, .. }
            | ParamError::Repeated(name) => format!("params.{name}"),
        };
        RequestProblem::new(field, e.to_string())
    }
}

impl std::fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RequestProblem {}

/// Parses one decimal setting; the command line says `--fee-bps "x": …`.
fn decimal<T>(
    field: &'static str,
    value: Option<&Decimal>,
    default: &str,
    parse: impl Fn(&str) -> Result<T, qf_core::CoreError>,
) -> Result<T, RequestProblem> {
    let text = value.map_or(Cow::Borrowed(default), Decimal::text);
    parse(&text).map_err(|e| {
        let flag = field.replace('_', "-");
        RequestProblem::new(field, e.to_string())
            .with_command_line(format!("--{flag} {text:?}: {e}"))
    })
}

impl EngineSettings {
    /// The engine configuration these settings describe; `record` keeps the equity curve
    /// and fills (reports need them, sweeps do not).
    pub fn config(&self, record: bool) -> Result<BacktestConfig, RequestProblem> {
        if self.size.is_some() && self.percent.is_some() {
            return Err(RequestProblem::new(
                "percent",
                "give either size or percent, not both",
            ));
        }
        if self.slippage_bps.is_some() && self.slippage_ticks.is_some() {
            return Err(RequestProblem::new(
                "slippage_ticks",
                "give either slippage_bps or slippage_ticks, not both",
            ));
        }
        let sizing = match (&self.size, self.percent) {
            (Some(q), _) => Sizing::Fixed(decimal("size", Some(q), "", Quantity::parse)?),
            (None, Some(p)) => {
                if !(p.is_finite() && p > 0.0) {
                    let why = format!("must be a positive number of percent, got {p}");
                    return Err(RequestProblem::new("percent", why.clone())
                        .with_command_line(format!("--percent {why}")));
                }
                Sizing::PercentOfEquity(p / 100.0)
            }
            (None, None) => Sizing::Fixed(Quantity::from_int(1)),
        };
        let slippage = match (&self.slippage_bps, self.slippage_ticks) {
            (Some(b), _) => Slippage::Bps(decimal("slippage_bps", Some(b), "", Price::parse)?),
            (None, Some(t)) => Slippage::Ticks(t),
            (None, None) => Slippage::None,
        };
        let config = BacktestConfig {
            cash: decimal("cash", self.cash.as_ref(), DEFAULT_CASH, Money::parse)?,
            fill: FillModel {
                timing: if self.fill_at_close {
                    FillTiming::SameClose
                } else {
                    FillTiming::NextOpen
                },
                fees: FeeModel {
                    per_unit: decimal(
                        "fee_per_unit",
                        self.fee_per_unit.as_ref(),
                        "0",
                        Price::parse,
                    )?,
                    bps: decimal("fee_bps", self.fee_bps.as_ref(), "0", Price::parse)?,
                    minimum: decimal("fee_min", self.fee_min.as_ref(), "0", Money::parse)?,
                },
                slippage,
                max_leverage: self.leverage.unwrap_or(1.0),
            },
            sizing,
            record,
        };
        config.validate().map_err(RequestProblem::from_engine)?;
        Ok(config)
    }
}

/// A backtest as the API takes it: `qf backtest`'s parameters and settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Strategy parameters by name; undeclared ones are refused, absent ones take their
    /// defaults.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// Money, fees, fills and sizing.
    #[serde(flatten)]
    pub engine: EngineSettings,
}

/// A sweep as the API takes it: `qf sweep`'s grid, ranking and settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// Values of each swept parameter. Axes go in name order, the last varying fastest.
    pub grid: BTreeMap<String, Vec<f64>>,
    /// Parameters fixed for every combination.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// The metric to rank by (default `sharpe`), one of `Metrics::SORTABLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// Rank lowest first (default: highest first, except drawdown and volatility).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ascending: bool,
    /// How many best rows the result lists (default 20); the CSV has them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    /// Threads (default and most: the machine's cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<usize>,
    /// Money, fees, fills and sizing, the same for every combination.
    #[serde(flatten)]
    pub engine: EngineSettings,
}

impl SweepRequest {
    /// The ranking metric.
    pub fn sort(&self) -> &str {
        self.sort.as_deref().unwrap_or(DEFAULT_SORT)
    }

    /// How many rows the result lists.
    pub fn top(&self) -> usize {
        self.top.unwrap_or(DEFAULT_TOP)
    }

    /// The grid with its axes in name order.
    pub fn grid(&self) -> Grid {
        Grid {
            axes: self
                .grid
                .iter()
                .map(|(name, values)| GridAxis {
                    name: name.clone(),
                    values: values.clone(),
                })
                .collect(),
        }
    }
}

fn given(params: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    params.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// Resolves a backtest's parameters and settings, and builds the strategy where that is
/// cheap and in process (built-ins, rules) so that impossible combinations (`fast` not
/// below `slow`) are refused before queuing.
pub(crate) fn plan_backtest(
    code: &StrategyCode,
    req: &BacktestRequest,
    record: bool,
) -> Result<(Params, BacktestConfig), RequestProblem> {
    let params = code
        .resolve(&given(&req.params))
        .map_err(RequestProblem::param)?;
    buildable(code, &params)?;
    let config = req.engine.config(record)?;
    Ok((params, config))
}

/// Refuses parameters a built-in or rules strategy rejects when built.
fn buildable(code: &StrategyCode, params: &Params) -> Result<(), RequestProblem> {
    let why = match code {
        StrategyCode::Builtin { .. } => code
            .native()
            .and_then(|b| b.build(params).err())
            .map(|e| e.to_string()),
        StrategyCode::Tenant { strategy, .. } => match &**strategy {
            qf_sandbox::tenant::TenantStrategy::Rules(r) => {
                r.build(params).err().map(|d| d.to_string())
            }
            qf_sandbox::tenant::TenantStrategy::Python(_) => None,
        },
    };
    match why {
        Some(message) => Err(RequestProblem::new("params", message)),
        None => Ok(()),
    }
}

/// Checks a backtest request against the strategy at submit time: every parameter
/// declared and in range, the combination buildable, every setting valid. A request that
/// passes runs unless the data or the tenant's code fails.
pub fn check_backtest(code: &StrategyCode, req: &BacktestRequest) -> Result<(), RequestProblem> {
    plan_backtest(code, req, true).map(drop)
}

/// Why a sweep's parameter sets cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    /// A parameter both fixed and swept.
    Both(String),
    /// The grid yields no combination, or too many.
    Grid(String),
    /// A combination with an undeclared or out-of-range value.
    Param(ParamError),
}

/// Every parameter set of a sweep: each combination of `grid` with `fixed`, resolved.
pub fn sweep_params(
    code: &StrategyCode,
    grid: &Grid,
    fixed: &[(String, f64)],
) -> Result<Vec<Params>, PlanError> {
    if let Some((name, _)) = fixed
        .iter()
        .find(|(n, _)| grid.axes.iter().any(|g| &g.name == n))
    {
        return Err(PlanError::Both(name.clone()));
    }
    let combos = grid.combinations().map_err(PlanError::Grid)?;
    combos
        .into_iter()
        .map(|c| {
            let mut all = fixed.to_vec();
            all.extend(c);
            code.resolve(&all).map_err(PlanError::Param)
        })
        .collect()
}

/// Checks the metric a sweep ranks by; the message lists the metrics.
pub fn check_sort(metric: &str) -> Result<(), String> {
    if Metrics::SORTABLE.contains(&metric) {
        Ok(())
    } else {
        Err(format!(
            "{metric:?} is not a metric; choose one of: {}",
            Metrics::SORTABLE.join(", ")
        ))
    }
}

/// A sweep's parameter sets and configuration, checked.
pub(crate) fn plan_sweep(
    code: &StrategyCode,
    req: &SweepRequest,
) -> Result<(Vec<Params>, BacktestConfig), RequestProblem> {
    check_sort(req.sort()).map_err(|m| RequestProblem::new("sort", m))?;
    if req.jobs == Some(0) {
        return Err(RequestProblem::new("jobs", "must be at least 1"));
    }
    let params = sweep_params(code, &req.grid(), &given(&req.params)).map_err(|e| match e {
        PlanError::Both(name) => RequestProblem::new(
            format!("params.{name}"),
            format!("parameter `{name}` is given both in params and in grid"),
        ),
        PlanError::Grid(m) => RequestProblem::new("grid", m),
        PlanError::Param(p) => RequestProblem {
            field: "grid".into(),
            ..RequestProblem::param(p)
        },
    })?;
    let config = req.engine.config(false)?;
    Ok((params, config))
}

/// Checks a sweep request at submit time: the metric, the grid (every combination resolves
/// against the declared parameters; at most a million) and the settings. Combinations the
/// strategy refuses when built (`fast` not below `slow`) are skipped by the run, as in
/// `qf sweep`, not refused here.
pub fn check_sweep(code: &StrategyCode, req: &SweepRequest) -> Result<(), RequestProblem> {
    plan_sweep(code, req).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backtest(json: &str) -> Result<BacktestRequest, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    fn sma() -> StrategyCode {
        StrategyCode::builtin("sma_cross").unwrap()
    }

    #[test]
    fn settings_read_text_or_numbers_and_default_like_the_command_line() {
        let r = backtest(
            r#"{"params": {"fast": 5}, "cash": "2500.50", "size": 3, "fee_bps": 1.5,
            "slippage_ticks": 2, "leverage": 2, "fill_at_close": true}"#,
        )
        .unwrap();
        let c = r.engine.config(true).unwrap();
        assert_eq!(c.cash, Money::parse("2500.50").unwrap());
        assert_eq!(c.sizing, Sizing::Fixed(Quantity::from_int(3)));
        assert_eq!(c.fill.fees.bps, Price::parse("1.5").unwrap());
        assert_eq!(c.fill.slippage, Slippage::Ticks(2));
        assert_eq!(c.fill.timing, FillTiming::SameClose);
        assert_eq!(c.fill.max_leverage, 2.0);
        let back: BacktestRequest =
            serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);

        let d = BacktestRequest::default().engine.config(false).unwrap();
        assert_eq!(
            d,
            BacktestConfig {
                record: false,
                ..BacktestConfig::default()
            }
        );
    }

    #[test]
    fn bad_requests_name_the_field() {
        let e = backtest(r#"{"cahs": "1"}"#).unwrap_err();
        assert!(e.contains("unknown field `cahs`"), "{e}");
        let e = backtest(r#"{"leverage": "x"}"#).unwrap_err();
        assert!(e.contains("expected f64"), "{e}");

        let cases = [
            (
                r#"{"cash": "abc"}"#,
                "cash",
                "--cash \"abc\": `abc` is not a decimal number",
            ),
            (
                r#"{"cash": -5}"#,
                "cash",
                "invalid configuration: cash must be positive, got -5",
            ),
            (
                r#"{"percent": -1}"#,
                "percent",
                "--percent must be a positive number of percent, got -1",
            ),
            (
                r#"{"fee_min": "-2"}"#,
                "fee_min",
                "invalid configuration: fees cannot be negative",
            ),
            (
                r#"{"size": 1, "percent": 5}"#,
                "percent",
                "give either size or percent, not both",
            ),
            (
                r#"{"leverage": 0}"#,
                "leverage",
                "invalid configuration: max leverage must be a positive number, got 0",
            ),
            (
                r#"{"params": {"fats": 3}}"#,
                "params.fats",
                "strategy sma_cross has no parameter `fats`; its parameters are: fast, slow, short",
            ),
            (r#"{"params": {"fast": 30, "slow": 10}}"#, "params", ""),
        ];
        for (json, field, cli) in cases {
            let p = check_backtest(&sma(), &backtest(json).unwrap()).unwrap_err();
            assert_eq!(p.field, field, "{json}: {p}");
            if !cli.is_empty() {
                assert_eq!(p.command_line_message(), cli, "{json}");
            }
        }
        assert!(
            check_backtest(
                &sma(),
                &backtest(r#"{"params": {"fast": 3, "slow": 9}}"#).unwrap()
            )
            .is_ok()
        );
    }

    #[test]
    fn sweeps_are_checked_before_they_queue() {
        let sweep = |json: &str| -> SweepRequest { serde_json::from_str(json).unwrap() };
        let ok = sweep(r#"{"grid": {"fast": [5, 10], "slow": [20, 40]}, "params": {"short": 0}}"#);
        assert!(check_sweep(&sma(), &ok).is_ok());
        let (params, _) = plan_sweep(&sma(), &ok).unwrap();
        assert_eq!(params.len(), 4);
        assert_eq!(params[1]["slow"], 40.0);
        for (json, field) in [
            (r#"{"grid": {"fast": [5]}, "sort": "luck"}"#, "sort"),
            (r#"{"grid": {"fast": [5]}, "jobs": 0}"#, "jobs"),
            (r#"{"grid": {"fast": []}}"#, "grid"),
            (r#"{"grid": {"fast": [2.5]}}"#, "grid"),
            (
                r#"{"grid": {"fast": [5]}, "params": {"fast": 3}}"#,
                "params.fast",
            ),
            (r#"{"grid": {"fast": [5]}, "cash": "0"}"#, "cash"),
        ] {
            let p = check_sweep(&sma(), &sweep(json)).unwrap_err();
            assert_eq!(p.field, field, "{json}: {p}");
        }
    }
}
