#[global_allocator]
static A: monty_alloc::LimitedAllocator = monty_alloc::LimitedAllocator;

use qf_sandbox::limits::Limits;
use qf_sandbox::pool::{Pool, SharedData};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("sandbox-worker") {
        let mut l = Limits::default();
        l.call_time = std::time::Duration::from_millis(args[3].parse().unwrap());
        std::process::exit(qf_sandbox::worker::worker_main(l));
    }
    let src = std::fs::read_to_string(&args[1]).unwrap();
    let prog = qf_sandbox::python::check(&args[1], &src).unwrap_or_else(|d| panic!("{d}"));
    let n: usize = args.get(2).map_or(100_000, |s| s.parse().unwrap());
    let series = vec![qf_data::sample_bars("DEMO", n, 7)];
    let pool = Pool::new(std::env::current_exe().unwrap(), vec!["sandbox-worker".into()], Limits::default());
    pool.check(&prog).unwrap_or_else(|f| panic!("{f}"));
    let data = SharedData::new(series);
    let params = qf_engine::strategies::resolve("x", &prog.params, &[]).unwrap();
    let config = qf_engine::BacktestConfig::default();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        match pool.run(&prog, &params, &config, &data, &mut |_| {}) {
            Ok(out) => println!("ok: {} ops, tenant {:?}, total {:?} = {:.0} bars/s, iso {:?}, log {:?}", out.ops.len(), out.tenant_time, t.elapsed(), n as f64 / t.elapsed().as_secs_f64(), out.isolation, &out.log[..out.log.len().min(200)]),
            Err(f) => println!("FAILED: {f}"),
        }
    }
}
