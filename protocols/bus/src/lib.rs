//! The bus protocol: how transports, drivers and the bus PD agree on who
//! drives which device.
//!
//! - [`wire`]: PPC messages to the bus (device found/gone, register
//!   driver) and its replies; all fit in message registers;
//! - [`table`]: the binding table page the bus writes and everyone else
//!   maps read-only (versioned, with a generation counter against torn
//!   reads);
//! - [`matcher`]: the matching rules as a plain fixed-capacity type that
//!   returns actions instead of doing I/O.
//!
//! Independent of seL4: PDs map labels to `MessageInfo` themselves.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
extern crate std;

pub mod confine;
pub mod matcher;
pub mod table;
pub mod wire;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use matcher::{Action, Actions, DeviceRecord, DriverRecord, MatchError, Matcher, UnbindReason};
pub use sevio_transport_protocol::{Bdf, DecodeError, Location, TransportKind};
pub use table::{TableError, TableReader, TableWriter};
pub use wire::{BusError, BusReply, BusRequest};

/// The most device ids one driver registers.
pub const MAX_DEVICE_IDS: usize = 8;

/// The device ids a driver serves.
pub type DeviceIds = heapless::Vec<u32, MAX_DEVICE_IDS>;

/// A transport PD's id (fixed per system, from system.xml).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportId(pub u8);

/// A driver PD's id (fixed per system, from system.xml).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DriverId(pub u8);

/// One binding: driver `driver` drives the device at `location` on
/// `transport`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The driver.
    pub driver: DriverId,
    /// The transport.
    pub transport: TransportId,
    /// The device's location on it.
    pub location: Location,
    /// VirtIO device id.
    pub device_id: u32,
    /// Vendor id.
    pub vendor_id: u32,
}
