//! Arbitrary bytes as the device's side of a packed ring; see
//! `sevio_virtio::fuzzing::fuzz_packed_ring` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _harvested = sevio_virtio::fuzzing::fuzz_packed_ring(data);
});
