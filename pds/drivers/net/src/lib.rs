//! The virtio-net driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike. It speaks sDDF's net driver side: an rx and a
//! tx connection (free and active queues each, capacities from the
//! configuration), each to its own peer on its own channel, buffers named
//! by I/O address; a virtio-net device serves them.
//!
//! - [`wiring`]: the configuration, from sdfgen's `.net_driver_config`
//!   and sevio's `.sevio_data_regions`, or from a hand-written system's
//!   setvars;
//! - [`buffers`]: the net rules for buffers (a whole rx buffer, a tx
//!   frame of an Ethernet header to a buffer) on top of the framework's
//!   one range check (`sevio_driver_core::DataRegions`); small fixed
//!   pools;
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
pub mod wiring;

pub use buffers::BufferError;
pub use device::{Link, NetFacts};
pub use driver::{NetDriver, NetError, Stats};
pub use wiring::{NetConfig, NetLink, NetSetvars};
