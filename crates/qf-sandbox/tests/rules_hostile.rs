//! Malformed and hostile rules files: each must be refused (or run) with the right message at
//! the right line and column, and none may panic, hang or exhaust memory.

use qf_core::Timestamp;
use qf_engine::{BacktestConfig, EngineError, run_backtest};
use qf_sandbox::diag::{Diagnostic, Diagnostics};
use qf_sandbox::rules::{Format, RulesProgram, parse, parse_bytes};

fn check(file: &str, source: &str) -> Result<RulesProgram, Diagnostics> {
    parse(file, source, Format::from_path(file).expect("extension"))
}

fn diags(file: &str, source: &str) -> Vec<Diagnostic> {
    match check(file, source) {
        Ok(_) => panic!("{file} was accepted:\n{source}"),
        Err(d) => d.0,
    }
}

/// Asserts exactly these problems, in this order: (line, col, part of the message).
fn expect(file: &str, source: &str, want: &[(u32, u32, &str)]) -> Vec<Diagnostic> {
    let got = diags(file, source);
    let shown = Diagnostics(got.clone()).to_string();
    assert_eq!(got.len(), want.len(), "{file}: got\n{shown}");
    for (d, (line, col, msg)) in got.iter().zip(want) {
        assert!(
            d.message.contains(msg),
            "{file}: wanted `{msg}`, got\n{shown}"
        );
        assert_eq!(
            (d.line, d.col),
            (*line, *col),
            "{file}: `{msg}` at\n{shown}"
        );
        assert_eq!(d.file, file);
    }
    got
}

fn help(d: &Diagnostic) -> &str {
    d.help.as_deref().unwrap_or("")
}

/// A valid TOML file with `extra` spliced in before the transitions.
fn toml_with(when: &str, actions: &str) -> String {
    format!(
        r#"states = ["flat", "long"]
initial = "flat"
[params]
fast = 10
slow = 30
[indicators]
fast_ma = "sma(close, fast)"
slow_ma = "sma(close, slow)"
[vars]
stop_level = 0
[[transitions]]
from = "flat"
to = "long"
when = "{when}"
do = [{actions}]
"#
    )
}

const WHEN_LINE: u32 = 14;
/// Column of the first character inside `when = "`.
const WHEN_COL: u32 = 9;
const DO_LINE: u32 = 15;

#[test]
fn bad_toml_syntax() {
    let d = expect(
        "s.toml",
        "states = [\"a\", \"b\"\ninitial = \"a\"\n",
        &[(2, 1, "invalid TOML")],
    );
    assert!(d[0].source_line.is_some());
}

#[test]
fn bad_yaml_syntax() {
    expect(
        "s.yaml",
        "states: [a, b\ninitial: a\n",
        &[(2, 8, "invalid YAML")],
    );
}

#[test]
fn yaml_alias_bomb_is_refused_without_expanding() {
    let mut src = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for k in 1..10 {
        let prev = (b'a' + k - 1) as char;
        let cur = (b'a' + k) as char;
        src.push_str(&format!(
            "{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let d = diags("bomb.yaml", &src);
    assert!(
        d[0].message
            .contains("YAML aliases (`*name`) are not allowed"),
        "{}",
        d[0]
    );
    assert_eq!((d[0].line, d[0].col), (2, 8));
    // 81 aliases: the first 100 problems are listed, no more.
    assert!(d.len() <= 101);
}

#[test]
fn yaml_unquoted_wildcard_explains_the_quotes() {
    let src =
        "states: [a, b]\ninitial: a\ntransitions:\n  - from: *\n    to: b\n    when: \"true\"\n";
    let d = expect(
        "s.yaml",
        src,
        &[(4, 11, "invalid YAML: while scanning an anchor or alias")],
    );
    assert!(help(&d[0]).contains("\"*\""), "{}", d[0]);
}

#[test]
fn yaml_second_document() {
    expect(
        "s.yaml",
        "states: [a]\ninitial: a\n---\nstates: [b]\n",
        &[(3, 1, "second one starts here")],
    );
}

#[test]
fn yaml_duplicate_key() {
    let src =
        "states: [a]\ninitial: a\ninitial: a\ntransitions:\n  - {from: a, to: a, when: \"true\"}\n";
    expect(
        "s.yaml",
        src,
        &[(3, 1, "key `initial` is given twice (first at 2:1)")],
    );
}

#[test]
fn deep_expression_nesting_does_not_overflow() {
    let when = format!("{}close{} > 1", "(".repeat(5000), ")".repeat(5000));
    let src = toml_with(&when, "");
    expect(
        "deep.toml",
        &src,
        &[(WHEN_LINE, WHEN_COL + 64, "nested more than 64 levels deep")],
    );
    let when = format!("{}true", "not ".repeat(5000));
    expect(
        "deep.toml",
        &toml_with(&when, ""),
        &[(
            WHEN_LINE,
            WHEN_COL + 4 * 64,
            "nested more than 64 levels deep",
        )],
    );
}

#[test]
fn deep_document_nesting_does_not_overflow() {
    let src = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let d = diags("deep.toml", &src);
    assert!(d[0].message.contains("invalid TOML"), "{}", d[0]);
    assert_eq!(d[0].line, 1);
    let src = format!("x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let d = diags("deep.yaml", &src);
    assert!(
        d[0].message.contains("recursion limit exceeded"),
        "{}",
        d[0]
    );
    assert_eq!(d[0].line, 1);
}

#[test]
fn huge_numbers() {
    let src = "states = [\"a\"]\ninitial = \"a\"\n[params]\nbig = 99999999999999999999999\ninf = 1e999\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"close > 1e999\"\n";
    expect(
        "n.toml",
        src,
        &[
            (4, 7, "integer is too large"),
            (5, 7, "parameter `inf` must be a finite number"),
            (9, 17, "number `1e999` is too large"),
        ],
    );
    let src =
        "states: [a]\ninitial: a\nvars:\n  v: 99999999999999999999\n  w: .inf\ntransitions: []\n";
    expect(
        "n.yaml",
        src,
        &[
            (4, 6, "integer is too large"),
            (5, 6, "var `w` must be a finite number"),
        ],
    );
}

#[test]
fn unknown_name_suggests_the_closest() {
    let d = expect(
        "s.toml",
        &toml_with("crossed_above(fast_ma, slwo_ma)", ""),
        &[(WHEN_LINE, WHEN_COL + 23, "unknown name `slwo_ma`")],
    );
    assert_eq!(help(&d[0]), "did you mean `slow_ma`?");
    let d = expect(
        "s.toml",
        &toml_with("crosed_above(fast_ma, slow_ma)", ""),
        &[(WHEN_LINE, WHEN_COL, "unknown function `crosed_above`")],
    );
    assert_eq!(help(&d[0]), "did you mean `crossed_above`?");
    let d = expect(
        "s.toml",
        &toml_with("sma(close, fsat) > 1", ""),
        &[(WHEN_LINE, WHEN_COL + 11, "unknown parameter `fsat`")],
    );
    assert_eq!(help(&d[0]), "did you mean `fast`?");
}

#[test]
fn a_guard_must_be_a_condition() {
    let d = expect(
        "s.toml",
        &toml_with("close + 1", ""),
        &[(
            WHEN_LINE,
            WHEN_COL,
            "`when` needs a condition (true or false), but `close + 1` is a number",
        )],
    );
    assert!(help(&d[0]).contains("close + 1 > 0"));
    expect(
        "s.toml",
        &toml_with("close > 1 and 2", ""),
        &[(WHEN_LINE, WHEN_COL + 14, "`and` needs a condition")],
    );
    expect(
        "s.toml",
        &toml_with("true", r#""buy(close > 1)""#),
        &[(
            DO_LINE,
            12,
            "`buy` needs a number, but `close > 1` is a condition",
        )],
    );
}

#[test]
fn wrong_arity() {
    let d = expect(
        "s.toml",
        &toml_with("crossed_above(fast_ma)", ""),
        &[(
            WHEN_LINE,
            WHEN_COL,
            "`crossed_above` takes 2 arguments, got 1",
        )],
    );
    assert!(help(&d[0]).contains("crossed_above(fast_ma, slow_ma)"));
    expect(
        "s.toml",
        &toml_with("true", r#""enter_long(1)""#),
        &[(DO_LINE, 8, "`enter_long` takes 0 arguments, got 1")],
    );
    expect(
        "s.toml",
        &toml_with("sma(close) > 1", ""),
        &[(
            WHEN_LINE,
            WHEN_COL,
            "`sma` takes a bar field and period, got 0 numbers",
        )],
    );
}

#[test]
fn unknown_and_duplicate_states() {
    let src = "states = [\"flat\", \"long\", \"flat\"]\ninitial = \"flta\"\n[[transitions]]\nfrom = \"flat\"\nto = \"lnog\"\nwhen = \"true\"\n";
    let d = expect(
        "s.toml",
        src,
        &[
            (1, 28, "state `flat` is declared twice (first at 1:12)"),
            (2, 12, "unknown initial state `flta`"),
            (5, 7, "unknown state `lnog`"),
        ],
    );
    assert_eq!(help(&d[1]), "did you mean `flat`?");
    assert_eq!(help(&d[2]), "did you mean `long`?");
}

#[test]
fn missing_keys() {
    let d = expect(
        "s.toml",
        "# no initial\nstates = [\"a\"]\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\n",
        &[(1, 1, "missing `initial`")],
    );
    assert!(help(&d[0]).contains("initial = \"flat\""));
    expect(
        "s.toml",
        "states = [\"a\"]\ninitial = \"a\"\n[[transitions]]\nto = \"a\"\n",
        &[
            (3, 1, "transition has no `from`"),
            (3, 1, "transition has no `when`"),
        ],
    );
    expect(
        "s.toml",
        "states = [\"a\"]\ninitial = \"a\"\n[[transitions]]\nfrom = []\nto = \"a\"\nwhen = \"true\"\n",
        &[(4, 8, "`from` names no state")],
    );
}

#[test]
fn unknown_keys_suggest_the_closest() {
    let d = expect(
        "s.toml",
        "states = [\"a\"]\ninitial = \"a\"\n[[transition]]\nfrom = \"a\"\n",
        &[
            (3, 3, "unknown key `transition`"),
            (1, 1, "missing `transitions`"),
        ],
    );
    assert_eq!(help(&d[0]), "did you mean `transitions`?");
    let d = expect(
        "s.toml",
        "states = [\"a\"]\ninitial = \"a\"\n[params]\nn = { defualt = 3 }\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\n",
        &[(4, 7, "unknown key `defualt` in parameter `n`")],
    );
    assert_eq!(help(&d[0]), "did you mean `default`?");
    expect(
        "s.toml",
        "states = [\"a\"]\ninitial = \"a\"\n[params]\nn = { default = 30, max = 20 }\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\n",
        &[(
            4,
            5,
            "default 30 of parameter `n` is outside its range -inf..20",
        )],
    );
}

#[test]
fn layout_type_errors() {
    expect(
        "s.toml",
        "states = \"flat\"\ninitial = 3\ntransitions = 1\n",
        &[
            (1, 10, "`states` must be a list of strings, not a string"),
            (2, 11, "initial must be a string, not an integer"),
            (
                3,
                15,
                "`transitions` must be a list of tables, not an integer",
            ),
        ],
    );
    expect(
        "s.yaml",
        "- a\n- b\n",
        &[(1, 1, "expected keys such as `states`")],
    );
}

#[test]
fn names_and_reserved_words() {
    let src = "states = [\"a\", \"b c\"]\ninitial = \"a\"\n[indicators]\nclose = \"sma(close, 3)\"\nfast = \"sma(close, 3)\"\n[vars]\nfast = 1\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\ndo = [\"set(close, 1)\", \"close\"]\n";
    expect(
        "s.toml",
        src,
        &[
            (1, 17, "`b c` is not a valid state name"),
            (
                4,
                1,
                "`close` is a bar field; choose another name for this indicator",
            ),
            (7, 1, "`fast` is already declared as an indicator (at 5:1)"),
            (12, 12, "`close` is a bar field, not a var"),
            (12, 25, "`close` is an action: write `close()`"),
        ],
    );
}

#[test]
fn set_only_sets_vars() {
    let d = expect(
        "s.toml",
        &toml_with("true", r#""set(fast, 1)", "set(stop_levle, 1)""#),
        &[
            (DO_LINE, 12, "`fast` is a parameter, not a var"),
            (DO_LINE, 28, "unknown var `stop_levle`"),
        ],
    );
    assert_eq!(help(&d[1]), "did you mean `stop_level`?");
}

#[test]
fn operators_people_try() {
    let cases = [
        (
            "close = 1",
            6,
            "`=` is not a comparison",
            "write `==` to compare",
        ),
        ("close > 1 && true", 10, "unexpected `&`", "write `and`"),
        (
            "1 < close < 2",
            10,
            "comparisons cannot be chained",
            "write `a < b and b < c`",
        ),
        ("clоse > 1", 2, "unexpected character `\\u{43e}`", ""),
    ];
    for (when, at, msg, h) in cases {
        let d = expect(
            "s.toml",
            &toml_with(when, ""),
            &[(WHEN_LINE, WHEN_COL + at, msg)],
        );
        assert_eq!(help(&d[0]), h);
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = r#"states = ["flat", "long"]
initial = "flat"
[indicators]
fast_ma = "sma(close, 10)"
[[transitions]]
from = "flat"
to = "lnog"
when = "crossed_above(fast_ma, slow)"
do = ["buy()", "target_percent(1)"]
[[transitions]]
from = "long"
to = "flat"
when = "close"
"#;
    expect(
        "multi.toml",
        src,
        &[
            (7, 7, "unknown state `lnog`"),
            (8, 32, "unknown name `slow`"),
            (9, 8, "`buy` takes 1 argument, got 0"),
            (13, 9, "`when` needs a condition"),
        ],
    );
}

#[test]
fn too_many_states_transitions_and_indicators() {
    let states: Vec<String> = (0..65).map(|k| format!("\"s{k}\"")).collect();
    let src = format!(
        "states = [{}]\ninitial = \"s0\"\n[[transitions]]\nfrom = \"*\"\nto = \"s0\"\nwhen = \"true\"\n",
        states.join(", ")
    );
    let col = 11 + states[..64].iter().map(|s| s.len() + 2).sum::<usize>() as u32;
    expect("s.toml", &src, &[(1, col, "too many states: at most 64")]);

    let mut src = String::from("states = [\"a\"]\ninitial = \"a\"\n");
    for _ in 0..300 {
        src.push_str("[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\n");
    }
    expect(
        "s.toml",
        &src,
        &[(3 + 4 * 256, 1, "too many transitions: at most 256")],
    );

    // 65 distinct indicators, five per guard: the 65th is refused where it is written.
    let mut src = String::from("states = [\"a\"]\ninitial = \"a\"\n");
    let mut last = String::new();
    for t in 0..13 {
        let terms: Vec<String> = (1..=5)
            .map(|k| format!("sma(close, {}) > 0", t * 5 + k))
            .collect();
        last = terms.join(" or ");
        src.push_str(&format!(
            "[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"{last}\"\n"
        ));
    }
    let col = WHEN_COL + last.find("sma(close, 65)").unwrap() as u32;
    expect(
        "s.toml",
        &src,
        &[(6 + 4 * 12, col, "too many indicators: at most 64")],
    );
    // The same indicator written many times is one.
    let when = vec!["sma(close, 3) > 0"; 60].join(" or ");
    assert!(check("s.toml", &toml_with(&when, "")).is_ok());
}

#[test]
fn a_file_over_the_size_limit() {
    let mut src = toml_with("true", "");
    src.push_str(&"# padding padding padding padding padding padding\n".repeat(21_000));
    assert!(src.len() > 1_000_000);
    expect(
        "big.toml",
        &src,
        &[(0, 0, "at most 262144 bytes (256 KiB)")],
    );
    let e = parse_bytes("big.toml", src.as_bytes(), Format::Toml).unwrap_err();
    assert_eq!((e.0[0].line, e.0[0].col), (0, 0));
}

#[test]
fn bytes_that_are_not_utf8() {
    let mut bytes = b"states = [\"a\"]\ninitial = \"".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\"\n");
    let e = parse_bytes("s.toml", &bytes, Format::Toml).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert!(
        e.0[0]
            .message
            .contains("not UTF-8 text: byte 0xff at offset 26"),
        "{e}"
    );
    assert_eq!((e.0[0].line, e.0[0].col), (2, 12));
}

#[test]
fn empty_files() {
    for (file, src) in [
        ("e.toml", ""),
        ("e.yaml", ""),
        ("e.toml", "  \n\n"),
        ("e.yaml", "\n"),
    ] {
        expect(file, src, &[(0, 0, "the file is empty")]);
    }
    expect(
        "c.yaml",
        "# only a comment\n",
        &[(0, 0, "the file is empty")],
    );
}

#[test]
fn requirements_use_parameters_only() {
    let src = "states = [\"a\"]\ninitial = \"a\"\nrequires = [\"close > 1\"]\n[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"true\"\n";
    expect(
        "s.toml",
        src,
        &[(3, 14, "a requirement may only use parameters and numbers")],
    );
}

#[test]
fn unreachable_states_are_a_warning() {
    let src = "states = [\"a\", \"b\", \"island\"]\ninitial = \"a\"\n[[transitions]]\nfrom = \"a\"\nto = \"b\"\nwhen = \"true\"\n";
    let p = check("s.toml", src).expect("compiles");
    let w = p.warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("state `island` is never entered"));
    assert_eq!((w[0].line, w[0].col), (1, 22));
}

// ---- runtime ----

fn run_one(src: &str) -> Result<qf_engine::BacktestResult, EngineError> {
    let p = check("run.toml", src).unwrap_or_else(|d| panic!("{d}"));
    let params = qf_engine::strategies::resolve(p.name(), p.params(), &[]).expect("defaults");
    let mut s = p.build(&params).unwrap_or_else(|d| panic!("{d}"));
    let data = vec![qf_data::sample_bars("DEMO", 500, 3)];
    run_backtest(&BacktestConfig::default(), &data, &mut s, None)
}

#[test]
fn non_finite_order_sizes_stop_the_run_at_the_action() {
    let cases = [
        (
            "target_percent(1/0)",
            8,
            "fraction is not a finite number (NaN)",
        ),
        (
            "target_quantity(0/0)",
            8,
            "quantity is not a finite number (NaN)",
        ),
        (
            "buy(1e308 * 10)",
            8,
            "quantity is not a finite number (inf)",
        ),
        (
            "buy(1e300)",
            8,
            "quantity 1e300 is too large: at most 9223372036",
        ),
        (
            "limit(1, 1e300)",
            8,
            "price 1e300 is too large: at most 9223372036",
        ),
        (
            "limit(1, 1e-300)",
            8,
            "price 1e-300 is too small: prices move in steps of 0.01",
        ),
        (
            "sell(-1)",
            8,
            "quantity must not be negative, got -1; use `buy` instead",
        ),
        ("stop(1, 0 - close)", 8, "price must be positive"),
        ("limit(1, 1/0)", 8, "price is not a finite number (NaN)"),
        (
            "wait(-1)",
            8,
            "bars to wait must be a number from 0 up, got -1",
        ),
    ];
    for (action, col, msg) in cases {
        let src = format!(
            "states = [\"a\", \"b\"]\ninitial = \"a\"\n[[transitions]]\nfrom = \"a\"\nto = \"b\"\nwhen = \"bar_index == 7\"\ndo = [\"{action}\"]\n"
        );
        let e = run_one(&src).unwrap_err();
        let EngineError::Strategy { bar, time, source } = &e else {
            panic!("{e}");
        };
        assert_eq!(*bar, 7);
        let text = source.to_string();
        assert!(
            text.starts_with(&format!("run.toml:7:{col}: `{action}`: {msg}")),
            "{action}: {text}"
        );
        assert!(text.contains("(bar 7 at "), "{text}");
        assert!(*time > Timestamp::EPOCH);
    }
}

#[test]
fn nan_guards_never_fire_and_do_not_stop_the_run() {
    let src = "states = [\"a\", \"b\"]\ninitial = \"a\"\n[[transitions]]\nfrom = \"a\"\nto = \"b\"\nwhen = \"(close - close) / 0 == (close - close) / 0 or sqrt_free(1) > 0\"\n";
    // `sqrt_free` is not a function: refused before any run.
    assert!(check("run.toml", src).is_err());
    // From bar 1 on, `x` is 0 / 0: NaN, so no comparison with it holds.
    let src = "states = [\"a\", \"b\"]\ninitial = \"a\"\n[vars]\nx = 0\n[[transitions]]\nfrom = \"a\"\nto = \"b\"\nwhen = \"bar_index > 0 and (x == x or x != x or x > 0 or x <= 0)\"\n[[transitions]]\nfrom = \"a\"\nwhen = \"true\"\ndo = [\"set(x, x / 0)\"]\n";
    let r = run_one(src).expect("runs");
    assert!(r.states.is_empty());
}

#[test]
fn huge_unknown_names_are_cheap_to_report() {
    // 1,000 unknown names of 100 characters each: the first 100 are listed, with no
    // quadratic search for suggestions.
    let mut src = String::from("states = [\"a\"]\ninitial = \"a\"\n");
    for t in 0..200 {
        let when: Vec<String> = (0..5)
            .map(|k| format!("{}{t}x{k} > 0", "q".repeat(100)))
            .collect();
        src.push_str(&format!(
            "[[transitions]]\nfrom = \"a\"\nto = \"a\"\nwhen = \"{}\"\n",
            when.join(" or ")
        ));
    }
    let started = std::time::Instant::now();
    let d = diags("s.toml", &src);
    assert_eq!(d.len(), 101);
    assert!(d[0].message.starts_with("unknown name `qqqq"), "{}", d[0]);
    assert!(d[0].message.ends_with("…`"), "{}", d[0]);
    assert_eq!(d[100].message, "... and 900 more problems not shown");
    let long = "z".repeat(200_000);
    let d = diags("s.toml", &toml_with(&format!("{long} > 1"), ""));
    assert_eq!(d.len(), 1);
    assert!(d[0].message.starts_with("unknown name `zzz"));
    assert!(d[0].message.len() < 100);
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn a_yaml_mapping_with_many_keys_is_linear() {
    let mut src = String::from("states: [a]\ninitial: a\nvars:\n");
    for k in 0..20_000 {
        src.push_str(&format!("  v{k}: 1\n"));
    }
    src.push_str("  v7: 2\n");
    let started = std::time::Instant::now();
    let d = diags("many.yaml", &src);
    assert!(started.elapsed().as_secs() < 10);
    // The duplicate (found while reading), then the var limit, then what is missing.
    assert_eq!(d[0].message, "key `v7` is given twice (first at 11:3)");
    assert_eq!((d[0].line, d[0].col), (20_004, 3));
    assert_eq!(d[1].message, "too many vars: at most 64 are allowed");
    assert_eq!((d[1].line, d[1].col), (68, 3));
    assert_eq!(d[2].message, "missing `transitions`");
}

#[test]
fn a_huge_balanced_expression_is_linear() {
    // ~16,000 inline indicator calls in one guard, kept shallow by parentheses: one distinct
    // indicator, checked in linear time; then the same with an unknown name in each.
    fn balanced(leaf: &dyn Fn(usize) -> String, lo: usize, hi: usize) -> String {
        if hi - lo == 1 {
            return leaf(lo);
        }
        let mid = (lo + hi) / 2;
        format!(
            "({} or {})",
            balanced(leaf, lo, mid),
            balanced(leaf, mid, hi)
        )
    }
    let started = std::time::Instant::now();
    let when = balanced(&|_| "sma(close, 3) > 0".to_string(), 0, 1 << 13);
    let src = toml_with(&when, "");
    assert!(
        src.len() > 150_000 && src.len() < 256 * 1024,
        "{}",
        src.len()
    );
    let p = check("s.toml", &src).expect("compiles");
    assert_eq!(
        p.indicators(),
        ["sma(close, fast)", "sma(close, slow)", "sma(close, 3)"]
    );
    let when = balanced(&|k| format!("nope{k} > 0"), 0, 1 << 13);
    let d = diags("s.toml", &toml_with(&when, ""));
    assert_eq!(d.len(), 101);
    assert!(started.elapsed().as_secs() < 10);
}
