//! The virtio-console driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`driver`]: [`ConsoleDriver`], its reactions (device up, interrupt,
//!   client notification, device gone) and its choices (documented
//!   there);
//! - [`rx`]: input buffers, posted, filled, drained into the client's
//!   queue, paused while that queue is full;
//! - [`tx`]: output buffers, taken from the client's queue, whose head
//!   is published once the device has consumed them;
//! - [`fifo`]: the small fixed list both keep their order in.
//!
//! It serves one client over two sDDF-compatible serial queues
//! (protocols/queue `serial`): rx (driver to client) and tx (client to
//! driver), and port 0 of one virtio-console device reached through a
//! transport PD. Bring-up, bus registration, binding, kicks and the
//! status log are the framework's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a misbehaving device is a failed device, a
//! misbehaving client one the driver stops serving.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod driver;
pub mod fifo;
pub mod rx;
pub mod tx;

pub use driver::{ConsoleConfig, ConsoleDriver, ConsoleError, SerialLink, Stats};

/// The largest virtqueue the driver sets up (and its private state's size).
pub const QUEUE_SIZE: usize = 16;
/// RX buffers in the DMA region.
pub const RX_BUFFERS: usize = 8;
/// TX buffers in the DMA region.
pub const TX_BUFFERS: usize = 8;
/// Bytes per RX or TX buffer.
pub const BUFFER_SIZE: usize = 1024;
/// Port 0's receiveq (VIRTIO 1.2 §5.3.2).
pub const RECEIVEQ: u16 = 0;
/// Port 0's transmitq.
pub const TRANSMITQ: u16 = 1;
