//! sDDF-compatible client queues for sevio drivers.
//!
//! Byte-compatible with the queues of au-ts/sddf (`include/sddf/{blk,
//! network,serial,gpu,sound}`), so sDDF and LionsOS clients can talk to sevio
//! drivers. Every queue is a single-producer single-consumer ring
//! ([`ring`]) in memory shared with another PD, reached only through
//! [`SharedMemory`](sevio_sharedmem::SharedMemory) (never a reference).
//! The producer and consumer are separate types; each operation's doc says
//! which side calls it and which release its acquire pairs with.
//!
//! - [`blk`]: request/response queues and the storage information page;
//! - [`net`]: free/active queues with the `consumer_signalled` protocol;
//! - [`serial`]: character queues with the `producer_signalled` protocol;
//! - [`gpu`]: sDDF's GPU request/response queues, events page and display
//!   information, plus sevio's two cursor requests;
//! - [`input`]: sevio's input events (sDDF has no input class): device
//!   info and an event queue per device, with counted drops and a marker;
//! - [`fs`]: sevio's file mailbox (open, read, write, readdir, ...);
//! - [`rng`]: sevio's entropy mailbox (sDDF has no entropy class): one
//!   request and one response on a control page;
//! - [`rpmsg`]: sevio's rpmsg client protocol: endpoint requests and
//!   messages one way, messages, announcements and refusals the other;
//! - [`sound`]: sDDF's sound command and PCM queues and shared-state page.
//!
//! The peer is untrusted: its index is checked before use and an
//! impossible one is [`QueueError::PeerIndex`]; entries are copies the
//! caller validates. The capacity is given at construction (from the
//! system configuration), never read from shared memory.
//!
//! Panic contract: nothing in this crate panics on any memory contents.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
extern crate std;

pub mod blk;
pub mod fs;
pub mod gpu;
pub mod input;
pub mod mem;
pub mod net;
pub mod ring;
pub mod rng;
pub mod rpmsg;
pub mod serial;
pub mod sound;
pub mod vsock;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use blk::{
    BlkOp, BlkRequest, BlkRequestConsumer, BlkRequestProducer, BlkResponse, BlkResponseConsumer, BlkResponseProducer,
    BlkStatus, StorageInfo,
};
pub use mem::QueueMemory;
pub use net::{NetBuffer, NetConsumer, NetProducer};
pub use ring::{Consumer, Producer};
pub use rng::{RngRequest, RngResponse, RngStatus};
pub use serial::{SerialConsumer, SerialProducer};

/// Everything that can go wrong with a queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The capacity is not a power of two in `2..=MAX_CAPACITY` of the
    /// index width (2^15 for net's u16 indices, 2^31 for u32).
    BadCapacity {
        /// The capacity asked for.
        capacity: u32,
    },
    /// The region cannot hold the header and `capacity` entries.
    RegionTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The queue is full (producer).
    Full,
    /// The peer wrote an impossible index: `tail - head` exceeds the
    /// capacity, or an index moved backwards over entries already taken.
    /// Nothing was read or written; treat the peer as failed.
    PeerIndex {
        /// The head involved.
        head: u32,
        /// The tail involved.
        tail: u32,
        /// The queue's capacity.
        capacity: u32,
    },
    /// An access fell outside the region (cannot happen after a successful
    /// construction; reported rather than panicking).
    OutOfBounds,
}
