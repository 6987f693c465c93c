//! Arbitrary bytes as the driver's descriptor table and available ring, against the device side; see
//! `sevio_virtio::fuzzing::fuzz_avail_ring` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sevio_virtio::fuzzing::fuzz_avail_ring(data);
});
