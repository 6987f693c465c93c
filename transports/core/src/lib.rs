//! What every sevio transport PD shares.
//!
//! A transport (virtio-mmio, virtio-pci, ...) finds devices and knows how
//! to drive their registers; everything else is the same for all of them
//! and lives here: which driver the bus bound to which device, the check
//! that a driver's queues lie in its own DMA region, the mapping of
//! driver requests to device operations, kick and interrupt forwarding.
//!
//! - [`VirtioDevice`]: the register-level operations a transport provides
//!   for one device;
//! - [`Transport`]: devices, driver ports and bindings, and request service;
//! - `shell` (feature `pd`): the PD side every transport shares: the bus
//!   conversation, following the binding table, serving driver PPCs;
//! - `mock` (feature `test-utils`): a mock device to put into the real
//!   [`Transport`] in tests (the device side of registers and queues).
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "test-utils"))]
extern crate std;

mod device;
#[cfg(feature = "test-utils")]
pub mod mock;
#[cfg(feature = "pd")]
pub mod shell;
mod transport;

pub use device::{DeviceError, VirtioDevice};
pub use transport::{DriverPort, MAX_DRIVERS, MAX_QUEUES, Transport};
