//! The blk test and benchmark client.
//!
//! A client of the sDDF-compatible blk protocol (`sevio-queue`'s blk
//! queues), written as a host-testable state machine ([`Client`]) driven
//! by notifications, with two thin PD binaries over it:
//!
//! - `blk-client` ([`Mode::Test`], [`test_mode`]): waits for the storage
//!   information, prints the device, writes the [`pattern`] over blocks
//!   0..64 and the last 4 blocks with several multi-block requests in
//!   flight, reads it back into separate poisoned buffers and verifies it,
//!   sends bad requests the driver must refuse, flushes, and reports
//!   `PASS` or `FAIL: <why>`. On a read-only device it checks that a write
//!   is refused and that reads work.
//! - `blk-bench` ([`Mode::Bench`], [`bench`]): 4 KiB random reads and
//!   sequential reads and writes at queue depth 1 and 32, printing `BENCH`
//!   lines (IOPS, MB/s, median latency, notifications and IRQs per
//!   request).
//!
//! [`pd`] is the runtime shell (channels, setvars, the `Handler`);
//! [`fake`] (feature `test-utils`) a host-memory driver for tests.
//!
//! Requests are in 4096-byte transfer units; buffers live in the client's
//! data regions and requests name them by I/O address (the region's
//! physical address plus the offset), as sDDF's virtualiser names buffers
//! to its driver: the client plays the virtualiser's part.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod bench;
mod client;
pub mod engine;
pub mod latency;
pub mod pattern;
pub mod pd;
pub mod test_mode;
pub mod text;

#[cfg(feature = "test-utils")]
pub mod fake;

pub use bench::BenchConfig;
pub use client::{Client, Mode, Outcome, Platform, Regions, Step, wait_for_storage_info};
pub use engine::{Completion, Engine, EngineError, MAX_IN_FLIGHT, Sent};
pub use pattern::{DEFAULT_SEED, pattern_byte, pattern_word};
pub use test_mode::{TestConfig, round_seed};

use core::fmt;
use sevio_queue::{BlkStatus, QueueError};

/// Entries in each of the blk request and response queues, shared with
/// the driver: 128, what sdfgen gives a driver's queues (the request queue
/// then needs 16 + 128 * 32 bytes: an 8 KiB region).
pub const BLK_QUEUE_CAPACITY: u32 = 128;

/// Rounds of `blk-soak`: long enough that a fault storm's ten faults
/// (`sevio_driver_core::drill`) land inside them.
pub const SOAK_ROUNDS: u32 = 12;

/// Why a run failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A setvar the PD needs is 0 (not set in system.xml).
    Unset(&'static str),
    /// The request or response queue misbehaved, or a response named no
    /// request in flight.
    Engine(EngineError),
    /// The storage information page cannot be read.
    StorageInfo(QueueError),
    /// The device has no blocks (or fewer than a benchmark request).
    TooSmallDevice {
        /// Blocks the run needs.
        needed: u64,
        /// Blocks the device has.
        capacity: u64,
    },
    /// The data region cannot hold the buffers the run needs.
    DataRegionTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// A request the run relies on failed.
    Request {
        /// Its operation code.
        code: u32,
        /// First block.
        block: u64,
        /// Blocks.
        count: u16,
        /// The driver's status.
        status: u32,
    },
    /// An OK response reported fewer (or more) blocks than requested.
    ShortTransfer {
        /// Its operation code.
        code: u32,
        /// First block.
        block: u64,
        /// Blocks requested.
        count: u16,
        /// Blocks the driver says it transferred.
        success_count: u16,
    },
    /// Data read back differs from the pattern written.
    Mismatch {
        /// The block whose data is wrong.
        block: u64,
        /// Where and how.
        mismatch: pattern::Mismatch,
    },
    /// A read-only device accepted a write.
    ReadOnlyWriteAccepted {
        /// The block written.
        block: u64,
    },
    /// A request the driver must refuse got the wrong answer.
    Probe {
        /// What the request was.
        probe: &'static str,
        /// The driver's status.
        status: u32,
        /// What was expected.
        want: &'static str,
    },
    /// A buffer the client computed lies outside its data region (a
    /// client bug, reported rather than panicking).
    Buffer {
        /// Offset of the buffer.
        offset: usize,
    },
}

/// An sDDF status by name.
pub struct StatusName(pub u32);

impl fmt::Display for StatusName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match BlkStatus::from_u32(self.0) {
            Some(BlkStatus::Ok) => f.write_str("OK"),
            Some(BlkStatus::ErrUnspec) => f.write_str("ERR_UNSPEC"),
            Some(BlkStatus::InvalidParam) => f.write_str("ERR_INVALID_PARAM"),
            Some(BlkStatus::Io) => f.write_str("ERR_IO"),
            Some(BlkStatus::NoDevice) => f.write_str("ERR_NO_DEVICE"),
            None => write!(f, "unknown status {}", self.0),
        }
    }
}

/// An operation code by name.
pub struct OpName(pub u32);

impl fmt::Display for OpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("READ"),
            1 => f.write_str("WRITE"),
            2 => f.write_str("FLUSH"),
            3 => f.write_str("BARRIER"),
            c => write!(f, "op {c:#x}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Failure::Unset(var) => write!(f, "setvar {var} is not set"),
            Failure::Engine(EngineError::Queue(e)) => write!(f, "blk queue error: {e:?}"),
            Failure::Engine(EngineError::UnknownId(id)) => {
                write!(f, "driver answered id {id:#x}, which names no request in flight")
            }
            Failure::Engine(EngineError::BadSlot(s)) => write!(f, "client bug: slot {s} taken or out of range"),
            Failure::StorageInfo(e) => write!(f, "storage info page: {e:?}"),
            Failure::TooSmallDevice { needed, capacity } => {
                write!(f, "device has {capacity} blocks, the run needs {needed}")
            }
            Failure::DataRegionTooSmall { needed, len } => {
                write!(f, "data region is {len:#x} bytes, the run needs {needed:#x}")
            }
            Failure::Request { code, block, count, status } => write!(
                f,
                "{} of blocks {block}..{} failed: {}",
                OpName(code),
                block.saturating_add(u64::from(count)),
                StatusName(status)
            ),
            Failure::ShortTransfer { code, block, count, success_count } => write!(
                f,
                "{} of {count} blocks at {block} answered OK with success_count {success_count}",
                OpName(code)
            ),
            Failure::Mismatch { block, mismatch: m } => {
                if m.unreadable {
                    return write!(f, "block {block}: buffer outside the data region");
                }
                write!(
                    f,
                    "block {block} read back wrong: byte {} is {:#04x}, expected {:#04x}",
                    m.offset, m.found, m.expected
                )?;
                match m.looks_like {
                    Some(other) => write!(f, " (the data is block {other}'s)"),
                    None => Ok(()),
                }
            }
            Failure::ReadOnlyWriteAccepted { block } => {
                write!(f, "read-only device accepted a WRITE of block {block}")
            }
            Failure::Probe { probe, status, want } => {
                write!(f, "{probe}: driver answered {}, expected {want}", StatusName(status))
            }
            Failure::Buffer { offset } => write!(f, "client bug: buffer at {offset:#x} outside the data region"),
        }
    }
}
