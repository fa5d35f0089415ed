#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocean_codecov::fuzzing::port_reply(data));
