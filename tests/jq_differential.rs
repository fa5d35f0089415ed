//! Runs every expression of `tests/data/jq-differential-expressions.txt` over
//! every input of `tests/data/jq-differential-inputs.jsonl`, through our engine
//! and through the `jq` binary (1.6, what Port and Ocean run), and requires the
//! same outputs, or an error on both sides.

use std::io::Write;
use std::process::{Command, Stdio};

use ocean_codecov::runtime::mapping::{JqOptions, JqProgram};
use serde_json::Value;

const EXPRESSIONS: &str = include_str!("data/jq-differential-expressions.txt");
const INPUTS: &str = include_str!("data/jq-differential-inputs.jsonl");

/// Where jaq and jq 1.6 answer differently on purpose; README "Mapping
/// language" lists the same cases.
/// Each is a jq 1.6 quirk or a core-syntax case jaq does not let us redefine.
const DOCUMENTED_EXCEPTIONS: &[&str] = &[
    // Slicing null: jq 1.6 gives null, jaq an error (slice syntax is built in).
    ".message | .[0:10]",
    ".commitid[0:7]",
    ".commitid | .[0:7]",
    // Update-assignment on null: jq 1.6 builds an object, jaq errors.
    ".totals | .coverage |= (. // 0)",
    // jq 1.6 bug: `|=` with an optional right side drops every key; jaq (and jq 1.7) keep them.
    ".author | map_values(ascii_downcase?)",
];

#[derive(Debug, PartialEq)]
enum Outcome {
    Values(Vec<Value>),
    Error,
}

fn jq_outcomes(expr: &str, inputs: &str) -> Vec<Outcome> {
    let program = format!("try ([{expr}] | {{ok: .}}) catch {{err: true}}");
    let mut child = Command::new("jq")
        .args(["-c", &program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the jq binary must be installed (.ci/run installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(inputs.as_bytes())
        .expect("write to jq");
    let out = child.wait_with_output().expect("jq output");
    if !out.status.success() {
        // jq rejected the program itself: every input counts as an error.
        return inputs.lines().map(|_| Outcome::Error).collect();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("jq prints JSON");
            match v.get("ok") {
                Some(Value::Array(values)) => Outcome::Values(values.clone()),
                _ => Outcome::Error,
            }
        })
        .collect()
}

fn engine_outcomes(expr: &str, inputs: &[Value]) -> Vec<Outcome> {
    let Ok(program) = JqProgram::compile_with(expr, JqOptions { allow_env: true }) else {
        return inputs.iter().map(|_| Outcome::Error).collect();
    };
    inputs
        .iter()
        .map(|input| match program.all_json(input) {
            Ok(values) => Outcome::Values(values),
            Err(_) => Outcome::Error,
        })
        .collect()
}

#[test]
fn engine_agrees_with_jq_1_6() {
    let inputs: Vec<Value> = INPUTS
        .lines()
        .map(|l| serde_json::from_str(l).expect("input line is JSON"))
        .collect();
    let expressions: Vec<&str> = EXPRESSIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        expressions.len() >= 100,
        "the suite needs at least 100 expressions"
    );
    assert!(inputs.len() >= 5, "the suite needs at least 5 inputs");

    let mut disagreements = Vec::new();
    let mut compared = 0;
    for expr in &expressions {
        if DOCUMENTED_EXCEPTIONS.contains(expr) {
            continue;
        }
        let ours = engine_outcomes(expr, &inputs);
        let theirs = jq_outcomes(expr, INPUTS);
        assert_eq!(ours.len(), theirs.len(), "{expr}: one outcome per input");
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            compared += 1;
            if a != b {
                disagreements.push(format!("{expr}  (input {i}): engine {a:?} / jq {b:?}"));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {compared} runs disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
