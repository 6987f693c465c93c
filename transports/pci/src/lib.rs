//! The virtio-pci transport's logic: everything between ECAM config space
//! and the transport core's [`VirtioDevice`](sevio_transport_core::VirtioDevice),
//! with no syscalls (the PD shell in `main.rs` maps the windows and
//! routes events).
//!
//! - [`regs`]: the [`Registers`] windows everything is read through;
//! - [`config_space`]: [`ConfigSpace`] and its ECAM implementation;
//! - [`bars`]: BAR sizing and assignment inside this PD's windows;
//! - [`enumerate`]: the bus walk through PCI-to-PCI bridges (bus numbers,
//!   bridge windows, INTx swizzle);
//! - [`probe`]: virtio identification and the capability layout, each
//!   structure checked against its BAR;
//! - [`modern`], [`legacy`]: the two register interfaces;
//! - [`device`]: [`PciDevice`], either interface as a `VirtioDevice`;
//! - [`bring_up`]: probe, reset, then enable each function found, into
//!   a transport;
//! - [`msix`]: MSI-X vectors through the GICv2m frame (INTx otherwise);
//! - [`problem`]: [`Problem`], why a function was skipped.
//!
//! Panic contract: nothing here panics on anything the hardware returns;
//! a function that reads wrong is a [`Problem`] and is skipped.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// `x % n != 0` rather than `is_multiple_of`: the workspace's rust-version
// (1.85) predates it.
#![allow(clippy::manual_is_multiple_of)]

#[cfg(test)]
extern crate std;

pub mod bars;
pub mod bring_up;
pub mod config_space;
pub mod device;
pub mod enumerate;
pub mod legacy;
pub mod modern;
pub mod msix;
pub mod probe;
pub mod problem;
pub mod regs;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use bars::{AddressWindow, Bar, Space, Windows};
pub use bring_up::{Devices, bring_up};
pub use config_space::{ConfigSpace, Ecam};
pub use device::PciDevice;
pub use enumerate::{Function, Scan, enumerate};
pub use msix::{MsiFrame, MsiRouting, Vector};
pub use probe::{Apertures, Layout};
pub use problem::{BdfText, Problem};
pub use regs::Registers;
