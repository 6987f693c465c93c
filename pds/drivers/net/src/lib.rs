//! The virtio-net driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike. A client's sDDF-compatible net queues (rx
//! free/active, tx free/active) are served by a virtio-net device.
//!
//! - [`buffers`]: the net rules for client buffers (a whole rx buffer, a
//!   tx frame of an Ethernet header to a buffer) on top of the
//!   framework's one range check (`sevio_driver_core::ClientRegion`);
//!   small fixed pools;
//! - [`device`]: what is asked of the device (features, header length)
//!   and what its config space says (MAC, link);
//! - [`driver`]: [`NetDriver`], the pump between the client queues and
//!   the virtqueues, with notification suppression both ways.
//!
//! Bus registration, binding, bring-up, queue setup, kicks and the
//! status log are the framework's (`sevio_driver_core::Virtio`).
//!
//! Panic contract: nothing here panics on anything the device, the
//! transport, the bus or the client writes; a misbehaving peer is a
//! [`NetError`] (the device is reset, or the client no longer served).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod buffers;
pub mod device;
pub mod driver;

pub use buffers::BufferError;
pub use device::{Link, NetFacts};
pub use driver::{DataSetvars, NetDriver, NetError, NetSetvars, Stats};

/// Entries in each of the four client queues (sDDF net queues).
pub const QUEUE_CAPACITY: u32 = 256;
/// Bytes of each client queue region: 8-byte header + 256 × 16 B.
pub const QUEUE_REGION_SIZE: u64 = 0x2000;
