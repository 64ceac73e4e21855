//! The hostile corpus: Python strategies that try to escape, exhaust or confuse the sandbox.
//! Each must be contained with the right error, and the worker pool must stay healthy: after
//! every hostile program, an honest strategy runs on the same pool and gives the same result
//! as before.
//!
//! Workers are the real `qf` binary in its `sandbox-worker` mode, as in production.

use std::time::Duration;

use qf_engine::BacktestConfig;
use qf_sandbox::limits::{FailureKind, Limits, RunFailure};
use qf_sandbox::pool::{Pool, RunOutput, SharedData};
use qf_sandbox::python;

const HONEST: &str = include_str!("../examples/python/sma_cross.py");

fn limits() -> Limits {
    Limits {
        call_time: Duration::from_millis(250),
        run_cpu: Duration::from_secs(20),
        run_wall: Duration::from_secs(30),
        memory_bytes: 256 << 20,
        recursion: 200,
        log_bytes: 4096,
    }
}

fn pool() -> Pool {
    Pool::new(
        env!("CARGO_BIN_EXE_qf"),
        vec!["sandbox-worker".into()],
        limits(),
    )
}

fn data() -> SharedData {
    SharedData::new(vec![qf_data::sample_bars("HOST", 400, 11)])
}

enum Outcome {
    /// Refused before running, by the static check.
    Refused(String),
    /// Ran and failed.
    Failed(RunFailure),
    /// Ran to the end.
    Ran(RunOutput),
}

fn run(pool: &Pool, data: &SharedData, src: &str) -> Outcome {
    let prog = match python::check("hostile.py", src) {
        Ok(p) => p,
        Err(d) => return Outcome::Refused(d.to_string()),
    };
    let params = qf_engine::strategies::resolve("hostile", &prog.params, &[]).unwrap();
    match pool.run(
        &prog,
        &params,
        &BacktestConfig::default(),
        data,
        &mut |_| {},
    ) {
        Ok(out) => Outcome::Ran(out),
        Err(f) => Outcome::Failed(f),
    }
}

fn honest_ops(pool: &Pool, data: &SharedData) -> usize {
    match run(pool, data, HONEST) {
        Outcome::Ran(out) => out.ops.len(),
        Outcome::Failed(f) => panic!("the honest strategy failed after a hostile one: {f}"),
        Outcome::Refused(d) => panic!("the honest strategy was refused: {d}"),
    }
}

/// What a hostile program must come to.
enum Expect {
    Refused(&'static str),
    Failed(FailureKind, &'static str),
    /// Fails on the memory limit; run with a generous time limit so memory trips first.
    OutOfMemory,
    /// Ran; the check is on the output.
    Ran(fn(&RunOutput) -> bool),
}

fn on_bar(body: &str) -> String {
    let mut s = String::from("def on_bar():\n");
    for line in body.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

fn corpus() -> Vec<(&'static str, String, Expect)> {
    use Expect::*;
    use FailureKind::*;
    vec![
        // Infinite loops.
        (
            "plain loop",
            on_bar("while True:\n    pass"),
            Failed(Limit, "time limit exceeded"),
        ),
        (
            "loop in except",
            on_bar("try:\n    x = 1 / 0\nexcept ZeroDivisionError:\n    while True:\n        pass"),
            Failed(Limit, "time limit exceeded"),
        ),
        (
            "loop in finally",
            on_bar("try:\n    return None\nfinally:\n    while True:\n        pass"),
            Failed(Limit, "time limit exceeded"),
        ),
        (
            "huge range",
            on_bar("for i in range(10 ** 12):\n    pass"),
            Failed(Limit, "time limit exceeded"),
        ),
        (
            "loop at top level",
            format!("while True:\n    pass\n{}", on_bar("return None")),
            Failed(Limit, "time limit exceeded"),
        ),
        (
            "infinite recursion",
            format!("def f():\n    return f()\n{}", on_bar("return f()")),
            Failed(Limit, "RecursionError"),
        ),
        (
            "mutual recursion",
            format!(
                "def a(n):\n    return b(n + 1)\ndef b(n):\n    return a(n + 1)\n{}",
                on_bar("return a(0)")
            ),
            Failed(Limit, "RecursionError"),
        ),
        (
            "recursion in a loop",
            format!(
                "def f(n):\n    while True:\n        f(n + 1)\n{}",
                on_bar("return f(0)")
            ),
            Failed(Limit, "RecursionError"),
        ),
        (
            "deep but finite recursion",
            format!(
                "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n{}",
                on_bar("return f(100000)")
            ),
            Failed(Limit, "RecursionError"),
        ),
        // Memory bombs.
        (
            "list growth",
            on_bar("x = [0]\nwhile True:\n    x = x + x"),
            OutOfMemory,
        ),
        (
            "string repetition",
            on_bar("s = 'a' * 10 ** 10\nreturn None"),
            OutOfMemory,
        ),
        (
            "huge power",
            on_bar("x = 10 ** 10 ** 8\nreturn None"),
            Failed(Limit, "limit exceeded"),
        ),
        (
            "nested comprehensions",
            on_bar("x = [[[0] * 1000 for _ in range(1000)] for _ in range(1000)]\nreturn None"),
            OutOfMemory,
        ),
        (
            "big list",
            on_bar("x = [0] * 10 ** 9\nreturn None"),
            OutOfMemory,
        ),
        (
            "string doubling",
            on_bar("s = 'ab'\nwhile True:\n    s = s + s"),
            OutOfMemory,
        ),
        (
            "dict bomb",
            on_bar("d = {i: str(i) for i in range(10 ** 9)}\nreturn None"),
            OutOfMemory,
        ),
        (
            "mem hoarding across bars",
            on_bar("mem['x'] = mem.get('x', []) + list(range(50000))\nreturn None"),
            Failed(Limit, "`mem` holds more than"),
        ),
        // The host, statically refused.
        (
            "import os",
            format!("import os\n{}", on_bar("return None")),
            Refused("module `os` is not available"),
        ),
        (
            "import sys",
            format!("import sys\n{}", on_bar("return None")),
            Refused("module `sys` is not available"),
        ),
        (
            "import subprocess",
            format!("import subprocess\n{}", on_bar("return None")),
            Refused("module `subprocess` is not available"),
        ),
        (
            "import socket",
            format!("import socket\n{}", on_bar("return None")),
            Refused("module `socket` is not available"),
        ),
        (
            "from os import path",
            format!("from os import path\n{}", on_bar("return None")),
            Refused("module `os` is not available"),
        ),
        (
            "import inside on_bar",
            on_bar("import pathlib\nreturn None"),
            Refused("module `pathlib` is not available"),
        ),
        (
            "open a file",
            on_bar("return open('/etc/passwd').read()"),
            Refused("open() is not available"),
        ),
        (
            "__import__",
            on_bar("return __import__('os')"),
            Refused("`__import__` is not available"),
        ),
        (
            "eval",
            on_bar("return eval('1')"),
            Refused("`eval` is not available"),
        ),
        (
            "exec",
            on_bar("exec('x = 1')\nreturn None"),
            Refused("`exec` is not available"),
        ),
        (
            "globals",
            on_bar("return globals()"),
            Refused("`globals` is not available"),
        ),
        // The attribute name is a string, so this one reaches the interpreter, which has none.
        (
            "getattr games",
            on_bar("return getattr(print, '__globals__')"),
            Failed(Exception, "AttributeError"),
        ),
        (
            "subclass walk",
            on_bar("return ().__class__.__bases__[0].__subclasses__()"),
            Refused("double-underscore names"),
        ),
        (
            "eval in an f-string",
            on_bar("return f\"{eval('1')}\""),
            Refused("`eval` is not available"),
        ),
        // The host at run time: names that slip past the static check still reach nothing.
        (
            "open by another name",
            on_bar("o = open\nreturn o('/etc/passwd')"),
            Failed(Exception, "TypeError"),
        ),
        (
            "getattr on a module",
            format!(
                "import math\n{}",
                on_bar("return getattr(math, 'system')('ls')")
            ),
            Failed(Exception, "AttributeError"),
        ),
        (
            "deeply nested JSON",
            format!(
                "import json\n{}",
                on_bar("return json.loads('[' * 100000 + ']' * 100000)")
            ),
            Failed(Exception, ""),
        ),
        // Nondeterminism: no clock and no randomness to be had.
        (
            "import time",
            format!("import time\n{}", on_bar("return None")),
            Refused("module `time` is not available"),
        ),
        (
            "import random",
            format!("import random\n{}", on_bar("return None")),
            Refused("randomness is not available"),
        ),
        (
            "import datetime",
            format!("import datetime\n{}", on_bar("return None")),
            Refused("the clock is not available"),
        ),
        // Output floods: kept to the cap, counted, the run carries on.
        (
            "print flood",
            on_bar("for i in range(1000):\n    print('spam', i)\nreturn None"),
            Ran(|o| o.log.len() <= 4096 + 64 && o.log_dropped > 1_000_000),
        ),
        (
            "one huge print",
            on_bar("print('x' * 10 ** 7)\nreturn None"),
            Ran(|o| o.log.len() <= 4096 + 64 && o.log_dropped >= 10_000_000),
        ),
        // Enormous or malformed return values.
        (
            "too many orders",
            on_bar("return {'orders': [{'side': 'buy', 'qty': 1}] * 100000}"),
            Failed(BadReturn, "at most 100"),
        ),
        (
            "huge string returned",
            on_bar("return 'x' * 10 ** 7"),
            Failed(BadReturn, "must return None or a dict"),
        ),
        (
            "NaN target",
            on_bar("return {'target_percent': float('nan')}"),
            Failed(BadReturn, "finite"),
        ),
        (
            "infinite quantity",
            on_bar("return {'target_quantity': float('inf')}"),
            Failed(BadReturn, "finite"),
        ),
        (
            "negative order size",
            on_bar("return {'orders': [{'side': 'buy', 'qty': -5}]}"),
            Failed(BadReturn, "must be positive"),
        ),
        (
            "zero limit price",
            on_bar("return {'orders': [{'side': 'buy', 'qty': 1, 'price': 0}]}"),
            Failed(BadReturn, "positive price"),
        ),
        (
            "absurd leverage",
            on_bar("return {'target_percent': 1e300}"),
            Failed(BadReturn, "target_percent = 1e300 is too large"),
        ),
        (
            "size past any quantity",
            on_bar("return {'target_quantity': 10 ** 30}"),
            Failed(
                BadReturn,
                "target_quantity = 1000000000000000000000000000000 is too large",
            ),
        ),
        (
            "price below any tick",
            on_bar("return {'orders': [{'side': 'buy', 'qty': 1, 'price': 1e-300}]}"),
            Failed(BadReturn, "order \"price\" = 1e-300 is too small"),
        ),
        // Oversized text sent back on every bar.
        (
            "ten-megabyte reason",
            on_bar("return {'reason': 'x' * (10 * 1024 * 1024)}"),
            Failed(
                BadReturn,
                "\"reason\" is 10,485,760 bytes long; at most 1024 bytes",
            ),
        ),
        (
            "ten-megabyte state",
            on_bar("return {'state': 'x' * (10 * 1024 * 1024)}"),
            Failed(
                BadReturn,
                "\"state\" is 10,485,760 bytes long; at most 1024 bytes",
            ),
        ),
        (
            "ten-megabyte unknown key",
            on_bar("return {'x' * (10 * 1024 * 1024): 1}"),
            Failed(BadReturn, "unknown key \"xxxx"),
        ),
        (
            "two position actions",
            on_bar("return {'enter': 'long', 'close': True}"),
            Failed(BadReturn, "at most one"),
        ),
        // Unknown symbols.
        (
            "misspelt key",
            on_bar("return {'taget_percent': 1.0}"),
            Failed(BadReturn, "did you mean \"target_percent\""),
        ),
        (
            "undefined name",
            on_bar("return {'target_percent': sizing}"),
            Failed(Exception, "NameError"),
        ),
        (
            "bad enter",
            on_bar("return {'enter': 'sideways'}"),
            Failed(BadReturn, "\"long\" or \"short\""),
        ),
        (
            "undeclared state",
            format!(
                "STATES = ['flat', 'long']\n{}",
                on_bar("return {'state': 'lung'}")
            ),
            Failed(BadReturn, "not in STATES"),
        ),
        (
            "global state",
            "def on_bar():\n    global mem\n    mem = 5\n    return None\n".to_string(),
            Refused("module-level names are set afresh on every bar"),
        ),
        (
            "mem replaced at module level",
            format!("if True:\n    mem = 5\n{}", on_bar("return None")),
            Failed(BadReturn, "must stay a dict"),
        ),
        // Exceptions in every hook and at the top level.
        (
            "raise in on_bar",
            on_bar("if bar_index == 10:\n    raise ValueError('boom')\nreturn None"),
            Failed(Exception, "ValueError: boom"),
        ),
        (
            "raise in execute",
            format!(
                "{}def execute(signal):\n    return {{}}['missing']\n",
                on_bar("return {'enter': 'long'}")
            ),
            Failed(Exception, "KeyError"),
        ),
        (
            "raise at top level",
            format!("x = 1 / 0\n{}", on_bar("return None")),
            Failed(Exception, "ZeroDivisionError"),
        ),
        // Unsupported Python, reported at compile time with what to write instead.
        (
            "syntax error",
            on_bar("return (1 +"),
            Failed(Compile, "SyntaxError"),
        ),
        (
            "del",
            on_bar("x = 1\ndel x\nreturn None"),
            Failed(Compile, "dict.pop"),
        ),
        (
            "generator",
            format!("def g():\n    yield 1\n{}", on_bar("return None")),
            Failed(Compile, "return a list"),
        ),
        (
            "class inheritance",
            format!(
                "class A:\n    pass\nclass B(A):\n    pass\n{}",
                on_bar("return None")
            ),
            Failed(Compile, "instead of a custom exception"),
        ),
        (
            "deeply nested expression",
            on_bar(&format!(
                "return {}1{}",
                "(".repeat(50_000),
                ")".repeat(50_000)
            )),
            Failed(Compile, ""),
        ),
    ]
}

#[test]
fn every_hostile_program_is_contained_and_the_pool_stays_healthy() {
    let pool = pool();
    let mut roomy = limits();
    roomy.call_time = Duration::from_secs(20);
    let memory_pool = Pool::new(
        env!("CARGO_BIN_EXE_qf"),
        vec!["sandbox-worker".into()],
        roomy,
    );
    let data = data();
    let baseline = honest_ops(&pool, &data);
    assert!(baseline > 0, "the honest strategy trades on the test data");
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "the corpus has {} programs",
        corpus.len()
    );
    let mut wrong = Vec::new();
    for (name, src, expect) in &corpus {
        let pool = if matches!(expect, Expect::OutOfMemory) {
            &memory_pool
        } else {
            &pool
        };
        let outcome = run(pool, &data, src);
        let ok = match (expect, &outcome) {
            (Expect::Refused(want), Outcome::Refused(got)) => got.contains(want),
            (Expect::Failed(kind, want), Outcome::Failed(f)) => {
                f.kind == *kind
                    && f.to_string().contains(want)
                    && !f.to_string().contains("/rustc/")
                    && !f.to_string().contains(".rs:")
            }
            (Expect::OutOfMemory, Outcome::Failed(f)) => {
                f.kind == FailureKind::Limit && f.message.contains("memory limit exceeded")
            }
            (Expect::Ran(check), Outcome::Ran(out)) => check(out),
            _ => false,
        };
        let show = std::env::var_os("QF_SHOW_CORPUS").is_some();
        if !ok || show {
            let got = match &outcome {
                Outcome::Refused(d) => format!("refused: {d}"),
                Outcome::Failed(f) => format!("failed ({:?}): {f}", f.kind),
                Outcome::Ran(o) => format!(
                    "ran: {} ops, log {} bytes, dropped {}",
                    o.ops.len(),
                    o.log.len(),
                    o.log_dropped
                ),
            };
            if show {
                eprintln!("{name}: {got}\n");
            }
            if !ok {
                wrong.push(format!("{name}: {got}"));
            }
        }
        // The pool is healthy: the honest strategy still runs, with the same result.
        assert_eq!(honest_ops(pool, &data), baseline, "after {name}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} programs were not contained as expected:\n{}",
        wrong.len(),
        corpus.len(),
        wrong.join("\n")
    );
}

#[test]
fn runtime_errors_point_at_the_tenants_line_and_bar() {
    let pool = pool();
    let data = data();
    let src = "PARAMS = {'k': 3}\n\ndef on_bar():\n    x = 1\n    y = x / (bar_index - 7)\n    return None\n";
    let Outcome::Failed(f) = run(&pool, &data, src) else {
        panic!("expected a failure")
    };
    assert_eq!(
        (f.kind, f.line, f.function.as_deref()),
        (FailureKind::Exception, 5, Some("on_bar"))
    );
    let text = f.to_string();
    assert!(
        text.starts_with(
            "ZeroDivisionError: division by zero — hostile.py line 5, in on_bar (bar 7 at "
        ),
        "{text}"
    );
    assert!(text.ends_with("5 |     y = x / (bar_index - 7)"), "{text}");
}

#[test]
fn the_same_strategy_gives_byte_identical_results_in_fresh_workers() {
    // hash() of strings, set order and float formatting must not vary between processes.
    let src = "def on_bar():\n    s = {'alpha', 'beta', 'gamma', 'delta'}\n    order = ','.join(list(s))\n    print(order, hash('abc') % 1000, 0.1 + 0.2)\n    if len(mem) == 0:\n        mem['first'] = order\n    return {'target_percent': 0.5} if bar_index % 50 == 0 else None\n";
    let data = data();
    let a = match run(&pool(), &data, src) {
        Outcome::Ran(o) => o,
        _ => panic!("run failed"),
    };
    let b = match run(&pool(), &data, src) {
        Outcome::Ran(o) => o,
        _ => panic!("run failed"),
    };
    assert_eq!(a.ops, b.ops);
    assert_eq!(a.log, b.log);
}

#[test]
fn a_run_past_its_wall_clock_is_killed_and_others_carry_on() {
    let mut l = limits();
    l.run_wall = Duration::from_millis(1500);
    l.call_time = Duration::from_secs(60);
    let pool = Pool::new(env!("CARGO_BIN_EXE_qf"), vec!["sandbox-worker".into()], l);
    let data = data();
    let Outcome::Failed(f) = run(&pool, &data, &on_bar("while True:\n    pass")) else {
        panic!("expected a failure")
    };
    assert_eq!(f.kind, FailureKind::Limit);
    assert!(f.message.contains("wall-clock limit exceeded"), "{f}");
    assert!(honest_ops(&pool, &data) > 0);
}

#[test]
fn workers_are_locked_down() {
    let pool = pool();
    let data = data();
    let Outcome::Ran(out) = run(&pool, &data, HONEST) else {
        panic!()
    };
    let iso = out.isolation;
    assert!(
        iso.seccomp && iso.memory_accounting && iso.unprivileged,
        "{iso:?}"
    );
    // What a broken interpreter would try next: each call is refused by the filter (EPERM).
    let calls = pool.selftest().unwrap_or_else(|f| panic!("{f}"));
    let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["socket", "open", "fork", "kill_parent", "exec_memory"]
    );
    for (name, errno) in &calls {
        assert_eq!(
            *errno, 1,
            "{name} was not refused with EPERM (errno {errno})"
        );
    }
}
