#![no_main]
// The matcher under arbitrary operation sequences, invariants checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sevio_bus_protocol::fuzzing::matcher(data));
