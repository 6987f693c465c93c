//! End-to-end tests of sevio-sim: real PD processes, real QEMU. The PDs
//! are built first (once) with the same cargo and target dir, so
//! `cargo test -p sevio-sim` alone is enough.

mod bad_input;
mod cleanup;
mod common;
mod systems;
