//! The protocol between a sevio driver PD and its transport PD.
//!
//! A driver never maps device registers; it asks its transport by PPC
//! ([`wire`]: label + message registers, [`Request`]/[`Reply`]) and kicks
//! and receives interrupts through a shared [`doorbell`] page plus
//! notifications. This crate is independent of seL4: the PDs map
//! `(label, len)` to a `MessageInfo` themselves.
//!
//! - [`wire`]: requests, replies, encode/decode (rejects malformed input);
//! - [`config`]: consistent multi-byte config reads (generation check);
//! - [`doorbell`]: the doorbell/interrupt-status page;
//! - [`location`]: MMIO slot / PCI BDF and transport kind (also used by
//!   the bus protocol).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
extern crate std;

pub mod config;
pub mod doorbell;
pub mod location;
pub mod regs;
pub mod wire;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use config::{ConfigReadError, read_config};
pub use doorbell::{DoorbellError, DriverDoorbell, TransportDoorbell};
pub use location::{Bdf, Location, TransportKind};
pub use wire::{DeviceInfo, MAX_WORDS, Reply, Request, TransportError, Width};

/// Bytes of every driver's DMA region (its rings, request headers and
/// bounce buffers): a transport refuses queue rings outside the driver's
/// region, which is exactly this big at a fixed physical address.
pub const DMA_WINDOW_SIZE: u64 = 0x4_0000;

/// Why a message was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// No message has this label.
    UnknownLabel(u64),
    /// The message carried the wrong number of words.
    WrongLength {
        /// The label.
        label: u64,
        /// Words this label takes.
        expected: usize,
        /// Words received.
        got: usize,
    },
    /// A config access width other than 1, 2, 4 or 8.
    BadWidth(u64),
    /// A queue size that is zero, not a power of two, or above 32768.
    QueueSizeNotPowerOfTwo(u64),
    /// A field out of its range (queue index > u16, offset > u32, a value
    /// wider than its width, unknown code or location).
    BadValue {
        /// The label.
        label: u64,
        /// The offending word.
        value: u64,
    },
}
