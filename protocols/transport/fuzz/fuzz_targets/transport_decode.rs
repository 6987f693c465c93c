#![no_main]
// Driver <-> transport messages from arbitrary labels and words.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sevio_transport_protocol::fuzzing::decode(data));
