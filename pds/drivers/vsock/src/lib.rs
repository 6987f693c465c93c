//! The virtio-vsock driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`driver`]: [`VsockDriver`]: the client's stream connections over
//!   the rx, tx and event queues, with credit-based flow control both
//!   ways (VIRTIO 1.2 §5.10.6.3).
//!
//! The client protocol is `sevio_queue::vsock` (`docs/VSOCK.md`); the
//! wire format on the queues `sevio_virtio::device::vsock`, where every
//! check of a received packet and of a peer's credit lives. Bring-up, bus
//! registration, binding, kicks and the status log are the framework's;
//! the transport (mmio or pci) is the binding's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a bad packet is
//! dropped, a peer that breaks a connection's rules gets a reset, a
//! device that breaks a virtqueue rule is a failed device.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;

pub use driver::{Stats, VsockDriver, VsockError, VsockSetvars};

/// Entries of the rx and tx virtqueues; the tx buffers (one per entry).
pub const QUEUE_SIZE: usize = 32;
/// Receive buffers posted (one descriptor each).
pub const RX_BUFFERS: usize = QUEUE_SIZE;
/// Bytes of a receive buffer: the 44-byte header and up to 2004 bytes of
/// payload (less than an event entry carries, so one packet is one event).
pub const RX_BUFFER_SIZE: usize = 2048;
/// Entries of the event virtqueue and event buffers posted.
pub const EVENT_BUFFERS: usize = 4;
/// Connections at once.
pub const MAX_SOCKETS: usize = 8;
/// Ports listened on at once.
pub const MAX_LISTENING: usize = 4;
/// Bytes each connection's peer may have in flight to us (`buf_alloc`):
/// a quarter of the client's event ring, and at most nine full rx
/// buffers, so the buffers held while the client has no room (see
/// `driver`) leave room for credit packets.
pub const RX_CREDIT: u32 = 16 * 1024;
