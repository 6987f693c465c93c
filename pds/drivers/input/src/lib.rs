//! The virtio-input driver: the device logic of a template driver
//! (`sevio_driver_core::VirtioDriver`), a plain `no_std` type the PD and
//! host tests drive alike. One driver PD serves one device (keyboard,
//! mouse, tablet, ...); a system with several devices runs the same image
//! several times, one client page each.
//!
//! - [`identity`]: reading what the device is from its paged config
//!   space (name, ids, event types, absolute axes), each page's size
//!   checked once (`sevio_virtio::device::input::page_len`);
//! - [`delivery`]: the bounded hand-over to the client: in order, a
//!   counted drop and one `SYN_DROPPED` marker when the client falls
//!   behind, never a silent loss;
//! - [`driver`]: [`InputDriver`]: the eventq kept full of device-writable
//!   buffers, each event checked and handed on.
//!
//! The client protocol is `sevio_queue::input`. Bring-up, bus
//! registration, binding, kicks and the status log are the framework's.
//! The statusq (LEDs) is not used.
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a misbehaving device is a failed device.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod delivery;
pub mod driver;
pub mod identity;

pub use delivery::Delivery;
pub use driver::{InputDriver, InputError, InputSetvars, Stats};

/// The eventq's size and the event buffers the driver keeps in it.
pub const EVENT_BUFFERS: usize = 64;
