use qf_engine::strategies::{builtin, resolve};
use qf_engine::{BacktestConfig, run_backtest};
use qf_sandbox::rules::{Format, parse};
const SMA: &str = include_str!("../../../examples/rules/sma_cross.toml");
#[test]
#[ignore]
fn scratch() {
    let which = std::env::var("WHICH").unwrap();
    let data = vec![qf_data::sample_bars("BENCH", 1_000_000, 1)];
    let config = BacktestConfig {
        record: false,
        ..BacktestConfig::default()
    };
    let t = std::time::Instant::now();
    for _ in 0..30 {
        if which == "bah" {
            let b = builtin("buy_and_hold").unwrap();
            let p = b.resolve(&[]).unwrap();
            let mut s = b.build(&p).unwrap();
            run_backtest(&config, &data, s.as_mut(), None).unwrap();
        } else if which == "native" {
            let b = builtin("sma_cross").unwrap();
            let p = b
                .resolve(&[("fast".into(), 10.0), ("slow".into(), 30.0)])
                .unwrap();
            let mut s = b.build(&p).unwrap();
            run_backtest(&config, &data, s.as_mut(), None).unwrap();
        } else {
            let owned;
            let src = if which == "nostay" {
                SMA.split("# As in the native").next().unwrap()
            } else if which.ends_with(".toml") {
                owned = std::fs::read_to_string(&which).unwrap();
                &owned
            } else {
                SMA
            };
            let prog = parse("s.toml", src, Format::Toml).unwrap();
            let p = resolve("x", prog.params(), &[]).unwrap();
            let mut s = prog.build(&p).unwrap();
            run_backtest(&config, &data, &mut s, None).unwrap();
        }
    }
    eprintln!("{which}: {:?} per run", t.elapsed() / 30);
}
