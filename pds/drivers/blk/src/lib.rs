//! The virtio-blk driver, as a plain `no_std` type the PD shell and host
//! tests drive alike.
//!
//! - [`driver`]: [`BlkDriver`], its events (bind, unbind, interrupt,
//!   client notification) and its choices (documented there);
//! - [`request`]: checks on client requests and the virtio-blk chains
//!   they become;
//! - [`info`]: config space in, the sDDF storage information out.
//!
//! It serves one sDDF-compatible client (protocols/queue `blk`) and one
//! virtio-blk device reached through a transport PD
//! (`sevio_driver_core::Transport`).
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a misbehaving peer is an error response, a
//! failed device or a client the driver stops serving.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;
pub mod info;
pub mod request;

pub use driver::{BlkDriver, BlkError, BlkResources, QUEUE_SIZE, SLOTS, Status, wanted_features};
pub use request::ClientRegion;
