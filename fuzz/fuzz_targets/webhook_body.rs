#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocean_codecov::fuzzing::webhook_body(data));
