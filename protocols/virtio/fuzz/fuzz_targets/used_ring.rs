//! Arbitrary bytes as the device's used ring; see
//! `sevio_virtio::fuzzing::fuzz_used_ring` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sevio_virtio::fuzzing::fuzz_used_ring(data);
});
