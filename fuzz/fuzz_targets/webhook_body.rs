#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocean_testkit::fuzzing::webhook_body(data));
