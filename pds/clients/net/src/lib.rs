//! The net test and benchmark client: a minimal Ethernet/ARP/IPv4/ICMP/
//! UDP host on the sDDF net queues.
//!
//! - [`wire`]: the wire formats and the Internet checksum;
//! - [`stack`]: the host (answers ARP, ping and UDP echo; resolves and
//!   pings its gateway);
//! - [`client`]: [`NetClient`], the four net queues played as sDDF's rx
//!   and tx virtualisers play them (I/O addresses, two channels) and its
//!   buffers;
//! - [`bench`]: bench mode's measurement and `BENCH` lines;
//! - [`pd`]: the runtime shell and its two modes (`net-client`,
//!   `net-bench`).
//!
//! Panic contract: nothing here panics on anything the driver or the
//! network sends.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod bench;
pub mod client;
pub mod pd;
pub mod stack;
pub mod wire;

pub use client::{ClientStats, Data, NetClient, Notify, Queues};
pub use stack::{Config, Event, Stack};

/// A MAC address as `52:54:00:12:34:56`.
pub struct MacDisplay(pub wire::Mac);

impl core::fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}
