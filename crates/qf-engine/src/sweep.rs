//! Parameter sweeps: every combination of a grid, backtested in parallel on a rayon pool.

use rayon::prelude::*;
use serde::Serialize;

use qf_core::BarSeries;

use crate::strategies::Params;
use crate::{BacktestConfig, EngineError, Metrics, Strategy, StrategyError, run_backtest};

/// Most combinations one sweep may have.
pub const MAX_COMBINATIONS: usize = 1_000_000;

/// One parameter's values.
#[derive(Debug, Clone, PartialEq)]
pub struct GridAxis {
    /// Parameter name.
    pub name: String,
    /// Values, in the order given.
    pub values: Vec<f64>,
}

impl GridAxis {
    /// Parses `name=start..end:step` (inclusive), `name=a,b,c` or `name=v`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, spec) = text.split_once('=').ok_or_else(|| {
            format!("grid `{text}` must look like name=start..end:step or name=a,b,c")
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("grid `{text}` has no parameter name"));
        }
        let num = |s: &str| -> Result<f64, String> {
            let v: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("grid `{text}`: `{}` is not a number", s.trim()))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("grid `{text}`: values must be finite"))
            }
        };
        let values = if let Some((range, step)) = spec
            .split_once("..")
            .map(|(a, rest)| (a, rest.split_once(':')))
        {
            let (end, step) = step.map_or_else(
                || (spec.split_once("..").map_or("", |x| x.1), "1"),
                |(e, s)| (e, s),
            );
            let (start, end, step) = (num(range)?, num(end)?, num(step)?);
            if step <= 0.0 {
                return Err(format!("grid `{text}`: step must be positive"));
            }
            if end < start {
                return Err(format!(
                    "grid `{text}` yields no value: end {end} is below start {start}"
                ));
            }
            let count = ((end - start) / step + 1e-9).floor() as usize + 1;
            if count > MAX_COMBINATIONS {
                return Err(format!(
                    "grid `{text}` has {count} values, more than {MAX_COMBINATIONS}"
                ));
            }
            // Computed from the index, not by repeated addition, so 0.1 steps do not drift.
            (0..count).map(|k| start + step * k as f64).collect()
        } else {
            spec.split(',').map(num).collect::<Result<Vec<_>, _>>()?
        };
        Ok(Self {
            name: name.to_string(),
            values,
        })
    }
}

/// A full grid: the cartesian product of its axes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grid {
    /// Axes in the order given; the last varies fastest.
    pub axes: Vec<GridAxis>,
}

impl Grid {
    /// Number of combinations.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Whether the grid has no combination.
    pub fn is_empty(&self) -> bool {
        self.axes.is_empty() || self.len() == 0
    }

    /// Every combination as `(name, value)` pairs.
    pub fn combinations(&self) -> Result<Vec<Vec<(String, f64)>>, String> {
        if self.is_empty() {
            return Err("the grid yields no combination".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.axes {
            if !seen.insert(&a.name) {
                return Err(format!("parameter `{}` appears in two grids", a.name));
            }
        }
        let total = self
            .axes
            .iter()
            .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
        match total {
            Some(t) if t <= MAX_COMBINATIONS => {}
            _ => {
                return Err(format!(
                    "the grid has more than {MAX_COMBINATIONS} combinations"
                ));
            }
        }
        let mut out = vec![Vec::new()];
        for axis in &self.axes {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    axis.values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push((axis.name.clone(), *v));
                        c
                    })
                })
                .collect();
        }
        Ok(out)
    }
}

/// The outcome of one combination.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// Full parameter set used.
    pub params: Params,
    /// Statistics, when the run succeeded.
    pub metrics: Option<Metrics>,
    /// Why the combination could not run (e.g. fast ≥ slow).
    pub error: Option<String>,
}

/// Runs one backtest per parameter set on `jobs` threads. Results come back in input order
/// whatever the thread count, so a sweep is as deterministic as a single run. `progress` is
/// called with the number of finished combinations.
pub fn run_sweep<B>(
    config: &BacktestConfig,
    data: &[BarSeries],
    params: Vec<Params>,
    build: B,
    jobs: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<SweepRow>, EngineError>
where
    B: Fn(&Params) -> Result<Box<dyn Strategy>, StrategyError> + Sync,
{
    config.validate()?;
    let config = BacktestConfig {
        record: false,
        ..config.clone()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| EngineError::InvalidConfig(format!("cannot start {jobs} threads: {e}")))?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let rows = pool.install(|| {
        params
            .into_par_iter()
            .map(|p| {
                let outcome = build(&p).map_err(|e| e.to_string()).and_then(|mut s| {
                    run_backtest(&config, data, s.as_mut(), None).map_err(|e| e.to_string())
                });
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                match outcome {
                    Ok(r) => SweepRow {
                        params: p,
                        metrics: Some(r.metrics),
                        error: None,
                    },
                    Err(e) => SweepRow {
                        params: p,
                        metrics: None,
                        error: Some(e),
                    },
                }
            })
            .collect()
    });
    Ok(rows)
}

/// A sweep's rows split into those that ran, best first, and those that could not.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Rows with metrics, best first by the chosen metric; rows whose metric is undefined
    /// come last, and ties keep grid order.
    pub ranked: Vec<SweepRow>,
    /// Rows that could not run (invalid combination or a failed run), in grid order.
    pub failed: Vec<SweepRow>,
    /// Whether higher values ranked first.
    pub descending: bool,
}

/// Whether larger values of `metric` are better: every metric but drawdown, its duration
/// and volatility.
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(
        metric,
        "max_drawdown" | "volatility" | "max_drawdown_duration"
    )
}

/// Ranks `rows` by `metric` (one of [`Metrics::SORTABLE`]): best first in the metric's own
/// direction (see [`higher_is_better`]), or lowest first when `ascending`.
pub fn rank(rows: Vec<SweepRow>, metric: &str, ascending: bool) -> Ranking {
    let (mut ranked, failed): (Vec<SweepRow>, Vec<SweepRow>) =
        rows.into_iter().partition(|r| r.metrics.is_some());
    let descending = !ascending && higher_is_better(metric);
    let value = |r: &SweepRow| r.metrics.as_ref().and_then(|m| m.get(metric).flatten());
    // Undefined metrics (None) rank last either way; ties keep grid order (stable sort).
    ranked.sort_by(|x, y| match (value(x), value(y)) {
        (Some(p), Some(q)) => {
            if descending {
                q.total_cmp(&p)
            } else {
                p.total_cmp(&q)
            }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ranking {
        ranked,
        failed,
        descending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_lists() {
        assert_eq!(
            GridAxis::parse("fast=5..50:5").unwrap().values,
            vec![5., 10., 15., 20., 25., 30., 35., 40., 45., 50.]
        );
        assert_eq!(GridAxis::parse("x=1..3").unwrap().values, vec![1., 2., 3.]);
        assert_eq!(GridAxis::parse("x=0.1..0.3:0.1").unwrap().values.len(), 3);
        assert_eq!(GridAxis::parse("x=2,4,8").unwrap().values, vec![2., 4., 8.]);
        for bad in [
            "fast", "=1..2", "x=5..1:1", "x=1..5:0", "x=a..b:1", "x=1,,2",
        ] {
            assert!(GridAxis::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cartesian_product_in_order() {
        let g = Grid {
            axes: vec![
                GridAxis::parse("a=1,2").unwrap(),
                GridAxis::parse("b=10,20,30").unwrap(),
            ],
        };
        let c = g.combinations().unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c[1], vec![("a".to_string(), 1.0), ("b".to_string(), 20.0)]);
        let dup = Grid {
            axes: vec![
                GridAxis::parse("a=1").unwrap(),
                GridAxis::parse("a=2").unwrap(),
            ],
        };
        assert!(dup.combinations().is_err());
        assert!(Grid::default().combinations().is_err());
    }
}
