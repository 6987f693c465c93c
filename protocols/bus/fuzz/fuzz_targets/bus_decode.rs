#![no_main]
// Bus messages from arbitrary labels and words.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sevio_bus_protocol::fuzzing::decode(data));
