//! The virtio-blk driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`driver`]: [`BlkDriver`], its reactions (probe, remove, interrupt,
//!   client notification) and its choices (documented there);
//! - [`request`]: checks on client requests and the virtio-blk chains
//!   they become;
//! - [`info`]: config space in, the sDDF storage information out;
//! - [`wiring`]: its configuration, from sdfgen's sections or from
//!   setvars ([`BlkConfig`]).
//!
//! It speaks the driver side of sDDF's blk protocol (protocols/queue
//! `blk`) to one virtualiser, or a client that plays one, and drives one
//! virtio-blk device. Bring-up, bus registration, binding, kicks and the
//! status log are the framework's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a misbehaving peer is an error response, a
//! failed device or a client the driver stops serving.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;
pub mod info;
pub mod journal;
pub mod request;
pub mod wiring;

pub use driver::{BlkDriver, BlkError};
pub use wiring::{BlkConfig, BlkSetvars, DataRegionSetvars};

/// The largest queue the driver sets up (and its private state's size):
/// 256, the size QEMU's legacy virtio-blk-pci fixes.
pub const QUEUE_SIZE: usize = 256;
/// Request slots (header + status) in the DMA region: the most requests
/// in flight, GET_ID included.
pub const SLOTS: usize = 64;
/// The requestq (VIRTIO 1.2 §5.2.2: queue 0 without VIRTIO_BLK_F_MQ).
pub const REQUESTQ: u16 = 0;
