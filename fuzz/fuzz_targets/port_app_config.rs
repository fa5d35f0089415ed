#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocean_testkit::fuzzing::port_app_config(data));
