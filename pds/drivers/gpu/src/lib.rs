//! The virtio-gpu driver (2D): the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike.
//!
//! - [`check`]: the one check of a client's GPU request ([`Resources`],
//!   the driver's record of the client's resources, and [`plan`]: a
//!   request becomes a device command or a refusal);
//! - [`driver`]: [`GpuDriver`]: sDDF's GPU queues on one side, the
//!   controlq and cursorq on the other, answers checked
//!   (`sevio_virtio::device::gpu::check_response`).
//!
//! The client protocol is `sevio_queue::gpu` (sDDF 0.7.0's, plus two
//! cursor requests). Bring-up, bus registration, binding, kicks and the
//! status log are the framework's.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a misbehaving device
//! is a failed device whose requests are answered `ErrUnspec`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod driver;

pub use check::{Plan, Resources, plan};
pub use driver::{GpuDriver, GpuError, GpuSetvars, Stats};

/// The controlq's size (and commands in flight on it at most).
pub const CONTROL_QUEUE_SIZE: usize = 16;
/// The cursorq's size.
pub const CURSOR_QUEUE_SIZE: usize = 4;
/// Bytes of DMA per command: the command at 0, the answer at
/// [`RESPONSE_AT`].
pub const SLOT_SIZE: usize = 512;
/// Where the answer goes in a slot (after the longest command, 56 bytes).
pub const RESPONSE_AT: usize = 64;
/// Resources the driver keeps track of at once.
pub const MAX_TRACKED: usize = 8;
/// The largest width or height a client may ask for.
pub const MAX_DIMENSION: u32 = 8192;
