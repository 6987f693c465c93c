#![no_main]
// A consumer over arbitrary queue bytes and a peer rewriting its indices.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sevio_queue::fuzzing::consumer(data));
