//! Arbitrary bytes as a remoteproc resource table; see
//! `sevio_virtio::fuzzing::fuzz_resource_table` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sevio_virtio::fuzzing::fuzz_resource_table(data);
});
