use qf_engine::strategies::{builtin, resolve};
use qf_engine::{BacktestConfig, run_backtest};
use qf_sandbox::rules::{Format, parse};
const SMA: &str = include_str!("../../../examples/rules/sma_cross.toml");
#[test]
#[ignore]
fn scratch() {
    let data = vec![qf_data::sample_bars("BENCH", 1_000_000, 1)];
    let config = BacktestConfig { record: false, ..BacktestConfig::default() };
    let one = std::fs::read_to_string("/tmp/rv/one_state.toml").unwrap();
    let b = builtin("sma_cross").unwrap();
    let bp = b.resolve(&[("fast".into(), 10.0), ("slow".into(), 30.0)]).unwrap();
    let progs = [parse("s.toml", SMA, Format::Toml).unwrap(), parse("o.toml", &one, Format::Toml).unwrap()];
    let mut best = [f64::MAX; 3];
    for _ in 0..40 {
        for k in 0..3 {
            let t = std::time::Instant::now();
            if k == 0 {
                let mut s = b.build(&bp).unwrap();
                run_backtest(&config, &data, s.as_mut(), None).unwrap();
            } else {
                let p = &progs[k - 1];
                let mut s = p.build(&resolve("x", p.params(), &[]).unwrap()).unwrap();
                run_backtest(&config, &data, &mut s, None).unwrap();
            }
            best[k] = best[k].min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    eprintln!("min ms: native {:.1} rules {:.1} one_state {:.1}", best[0], best[1], best[2]);
}
