//! The bus PD: transports report the devices they find, drivers register
//! the device ids they serve, and the bus binds them in whatever order
//! they come, publishing each binding in a table every transport and
//! driver maps read-only and notifying both ends.
//!
//! - [`broker`]: [`Broker`], the bus's logic with no syscalls (who may
//!   say what, the matcher, the binding table, the log);
//! - [`pd`]: [`BusPd`], the PD around it: PPCs in, replies and
//!   notifications out, a faulted driver unbound;
//! - [`gate`]: with an IOMMU, a PCI binding is published only once its
//!   device's DMA is confined (and released when the binding ends);
//! - [`restart`]: when a faulted driver is restarted and when it stays
//!   down (back-off, faults in a window);
//! - [`hang`]: when a driver that stopped running counts as faulted
//!   (its heartbeat stuck inside one event);
//! - [`config`]: the system's transports and drivers, the table's
//!   mapping, the restart policy.
//!
//! `main.rs` only names [`init`] as the PD's entry point.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod broker;
pub mod config;
pub mod gate;
pub mod hang;
pub mod pd;
pub mod restart;

pub use broker::Broker;
pub use pd::{BusPd, StartError, init};
