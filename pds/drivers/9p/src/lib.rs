//! The virtio-9p driver: a 9P2000.L client in a driver PD, serving files
//! to its client PD over `sevio_queue::fs`.
//!
//! - [`wire`]: 9P2000.L messages built and replies checked (every reply
//!   rule in one place);
//! - [`path`]: client paths, checked once;
//! - [`driver`]: [`P9Driver`], the `VirtioDriver`: the session, the fids,
//!   each client request as a sequence of 9P transactions.
//!
//! Not supported (yet): more than one message in flight, symlinks,
//! rename, setattr, xattrs, locks; a file's fd does not survive a device
//! rebind (the client gets `Invalid` for it and opens again).
//!
//! Panic contract: nothing the client, the device or the transport does
//! makes this crate panic; a bad request is refused, a reply that breaks
//! 9P fails the device.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;
pub mod path;
pub mod wire;

pub use driver::{P9Driver, P9Error, P9Setvars, Stats};

/// The largest virtqueue the driver sets up (one chain of two is in use).
pub const QUEUE_SIZE: usize = 4;
/// The request queue (virtio-9p has one).
pub const REQUESTQ: u16 = 0;
/// The largest 9P message: the msize offered in Tversion, and each
/// bounce buffer's size.
pub const MSIZE: usize = 16384;
/// The fid of the attached root.
pub const ROOT: u32 = 0;
/// The fid stat, mkdir and remove walk to (clunked before they answer).
pub const SCRATCH: u32 = 1;
/// The first client fd (= fid).
pub const FIRST_FD: u32 = 2;
/// Files a client may hold open.
pub const FIDS: usize = 16;
