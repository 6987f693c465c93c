//! The virtio-net driver PD: a client's sDDF-compatible net queues (rx
//! free/active, tx free/active) served by a virtio-net device reached
//! through a transport PD.
//!
//! - [`buffers`]: client buffers checked against the client's data
//!   regions before they become device addresses; small fixed pools;
//! - [`device`]: bring-up (features, config space: MAC and link, header
//!   length, the two queues);
//! - [`driver`]: [`NetDriver`], the pump between the client queues and
//!   the virtqueues, with notification suppression both ways;
//! - [`pd`]: the runtime shell (setvars, bus binding, [`Handler`](sevio_runtime::Handler));
//! - [`config`]: channels, setvars and sizes.
//!
//! Panic contract: nothing here panics on anything the device, the
//! transport, the bus or the client writes; a misbehaving peer is a
//! [`NetError`] (the device is reset, or the client no longer served).
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod buffers;
pub mod config;
pub mod device;
pub mod driver;
pub mod pd;

pub use buffers::{BufferError, ClientRegion};
pub use device::{Link, NetFacts};
pub use driver::{Actions, ClientQueues, ClientRegions, NetDriver, NetError, Stats, Summary};
