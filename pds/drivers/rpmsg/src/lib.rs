//! The virtio-rpmsg driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`driver`]: [`RpmsgDriver`]: a client's endpoints, its messages to
//!   the remote through the tx queue, the remote's messages and
//!   name-service announcements from the rx queue.
//!
//! The client protocol is `sevio_queue::rpmsg`; the wire format on the
//! queues `sevio_virtio::device::rpmsg`. Bring-up, bus registration,
//! binding, kicks and the status log are the framework's; the transport
//! (mmio, pci or rproc) is the binding's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a bad message from
//! the remote is logged and dropped, a device that breaks a virtqueue
//! rule is a failed device.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;

pub use driver::{RpmsgDriver, RpmsgSetvars, Stats};

/// Entries of each virtqueue, and buffers on each (a remoteproc table
/// fixes the size; the rproc device side offers this).
pub const QUEUE_SIZE: usize = 64;
/// Endpoints a client may create.
pub const MAX_ENDPOINTS: usize = 8;
