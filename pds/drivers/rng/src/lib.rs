//! The virtio-rng driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`driver`]: [`RngDriver`]: fills the requested range with entropy
//!   from the device, in pieces, through bounce buffers in its DMA region.
//!
//! The client protocol is `sevio_queue::rng`. Bring-up, bus registration,
//! binding, kicks and the status log are the framework's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a misbehaving device
//! is a failed device.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;

pub use driver::{RngDriver, RngError, RngSetvars, Stats};

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
