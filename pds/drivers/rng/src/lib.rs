//! The virtio-rng driver, as a plain `no_std` type the PD shell and host
//! tests drive alike.
//!
//! - [`mailbox`]: the client interface (a control page with one request
//!   and one response, the client's data region, notifications);
//! - [`driver`]: [`RngDriver`]: fills the requested range with entropy
//!   from the device, in pieces, through bounce buffers in its DMA region.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a misbehaving device
//! is a failed device.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod driver;
pub mod mailbox;

pub use driver::{RngDriver, RngError, RngResources, SetupError, Stats, wanted_features};
pub use mailbox::{CONTROL_SIZE, ClientPort, DriverPort, RngRequest, RngResponse, RngStatus};

/// The largest virtqueue the driver sets up.
pub const QUEUE_SIZE: usize = 8;
/// Bounce buffers (pieces in flight at once).
pub const PIECES: usize = 4;
/// Bytes per bounce buffer: the most one device buffer holds.
pub const PIECE_SIZE: usize = 4096;
/// The requestq (VIRTIO 1.2 §5.4.2).
pub const REQUESTQ: u16 = 0;
/// Empty answers in a row after which a request is answered `Io`.
pub const ZERO_LIMIT: u32 = 16;
