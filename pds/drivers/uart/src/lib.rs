//! The uart PD's logic: the system's output.
//!
//! Every PD sends its lines here, one protected procedure call per whole
//! line ([`sevio_runtime::line`]); [`LogServer`] checks each request and
//! writes the line to the PL011 serial port ([`Pl011`]), ended with CR LF.
//! The PD is passive and has the highest priority in the system, so a
//! line is written to the end before any other PD runs: lines of
//! different PDs never splice, on debug and release kernels alike.
//!
//! The senders are other PDs: a malformed request is refused with a
//! typed error, control characters in a line are written as `?` (no PD
//! can end a line early, forge a second one or move the cursor), and a
//! UART that stops taking bytes costs a bounded number of polls, never a
//! hang. Nothing here panics.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod pl011;
mod server;

pub use pl011::{Pl011, Pl011Error, UartRegisters};
pub use server::{LogServer, LogStats, printable};
