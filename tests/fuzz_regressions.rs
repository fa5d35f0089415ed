//! The fuzz targets' seeds (`fuzz/seeds/`) and every input a fuzzer found a
//! fault with (`tests/data/fuzz/`), run through the same entry points as the
//! fuzzers, so a fixed finding stays fixed. Each must return without panicking.

use std::path::Path;

use ocean_testkit::fuzzing;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in [
        root.join("fuzz/seeds").join(target),
        root.join("tests/data/fuzz").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                let bytes = std::fs::read(&path).expect("readable input");
                found.push((path.display().to_string(), bytes));
            }
        }
    }
    found
}

fn run_all(target: &str, entry: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "no inputs for {target}");
    for (name, bytes) in inputs {
        let outcome = std::panic::catch_unwind(|| entry(&bytes));
        assert!(outcome.is_ok(), "{target} panicked on {name}");
    }
}

#[test]
fn webhook_body_inputs() {
    run_all("webhook_body", fuzzing::webhook_body);
}

#[test]
fn port_app_config_inputs() {
    run_all("port_app_config", fuzzing::port_app_config);
}

#[test]
fn port_reply_inputs() {
    run_all("port_reply", fuzzing::port_reply);
}
