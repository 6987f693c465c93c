//! `make qemu-test`: the seL4 counterpart of the end-to-end tests.
//!
//! Every system the README says runs on seL4 is built into a Microkit
//! image, booted on QEMU (arm virt) with its devices, and checked the way
//! the simulator's end-to-end tests check it: every client's `PASS`, no
//! `FAIL`, no fault line the system does not expect, the lines that show
//! each device was found and bound, and the disks read back from the host
//! afterwards. Deliberately broken variants must fail, for the reason
//! given, so that a check that cannot fail is noticed.
//!
//! - [`systems`]: the table of systems and the table of broken variants;
//! - [`output`]: reading a console (verdicts, faults, expected lines);
//! - [`disk`]: what a disk must hold afterwards;
//! - [`qemu`]: one QEMU under control (serial pipe, QMP quit, kill on drop);
//! - [`run`]: one system start to finish;
//! - [`readme`]: the README's "what works" table, made from the tables;
//! - [`bench`], [`bench_run`]: `make bench-qemu`, blk-bench on seL4
//!   against fio on a Linux guest on the same QEMU command line, and
//!   net-bench against the guest's own UDP bench through the same netdev
//!   to `sevio_e2e::net_peer`, an echo host on the machine.
//!
//! Errors are `String`s that name what went wrong: they are printed, one
//! line per system, and nothing acts on them otherwise.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bench;
pub mod bench_run;
pub mod disk;
pub mod output;
pub mod qemu;
pub mod readme;
pub mod run;
pub mod systems;
