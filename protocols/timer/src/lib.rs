//! sDDF's timer protocol (au-ts/sddf 0.7.0, `include/sddf/timer/`), byte
//! for byte, and what a client PD needs to use it.
//!
//! A client calls the timer driver PD by PPC on its timer channel:
//! - label [`LABEL_GET_TIME`] (0), no words: the reply carries the time in
//!   nanoseconds since the counter started in MR0 (length 1);
//! - label [`LABEL_SET_TIMEOUT`] (1), MR0 = a timeout in nanoseconds,
//!   relative to now: the reply is empty. When the timeout expires the
//!   driver notifies the client on the same channel. Each client has one
//!   pending timeout; a new one replaces it (no notification for the old).
//!
//! - [`wire`]: the requests as the driver decodes them, the replies;
//! - [`client`]: the [`Timer`] trait and [`TimerClient`], its PPC form;
//! - [`deadlines`]: [`Deadlines`], several timers of one PD over its one
//!   timeout.
//!
//! Panic contract: nothing here panics on any input; times saturate
//! instead of overflowing.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod client;
pub mod deadlines;
#[cfg(any(test, feature = "test-utils"))]
pub mod fake;
pub mod wire;

pub use client::{Timer, TimerClient};
pub use deadlines::{Deadlines, DeadlinesFull};
pub use wire::{LABEL_GET_TIME, LABEL_SET_TIMEOUT, Reply, Request, RequestError};

/// Nanoseconds in a microsecond.
pub const NS_PER_US: u64 = 1_000;
/// Nanoseconds in a millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds in a second.
pub const NS_PER_S: u64 = 1_000_000_000;
