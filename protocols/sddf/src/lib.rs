//! sDDF's configuration, as the driver side reads it.
//!
//! sDDF components do not take setvars: sdfgen (the ecosystem's system
//! generator) writes one C struct per component into a file
//! `<name>.data`, and the build copies it into a named ELF section of the
//! component's image (`objcopy --update-section .blk_driver_config=...`).
//! This crate reads those structs, byte for byte as sDDF 0.7.0 lays them out
//! on a 64-bit target (C alignment and padding, little-endian), for what a
//! driver PD is given:
//!
//! - [`resources`]: `region_resource_t`, `device_region_resource_t` and
//!   `device_resources_t` (section `.device_resources`), and the one check
//!   of an I/O range against a list of device regions;
//! - [`blk`]: `blk_driver_config_t` (`.blk_driver_config`);
//! - [`net`]: `net_driver_config_t` (`.net_driver_config`);
//! - [`serial`]: `serial_driver_config_t` (`.serial_driver_config`);
//! - [`timer`]: `timer_client_config_t` (`.timer_client_config`).
//!
//! Each struct comes in two layers, as every wire format here does: a
//! `Raw*` byte view (`#[repr(C)]`, explicit padding, unaligned
//! little-endian fields, so its size and offsets are the C ones) and a
//! parsed representation whose `parse(&[u8])` checks the magic, every
//! count against its array and every region (non-empty, no address
//! overflow) before anything is used. Queue capacities (`num_buffers`) are
//! checked where the queue is built (`sevio-queue`), channel ids where
//! they become a `Channel` (the runtime): one rule, one place.
//!
//! Panic contract: nothing in this crate panics on any input bytes.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blk;
pub mod net;
pub mod resources;
pub mod serial;
pub mod timer;

pub use blk::{BlkConnection, BlkDriverConfig};
pub use net::{NetConnection, NetDriverConfig};
pub use resources::{DeviceRegion, DeviceResources, IoTarget, Region, find_io_range};
pub use serial::{SerialConnection, SerialDriverConfig};
pub use timer::TimerClientConfig;

use core::fmt;

/// Length of every sDDF config magic: `'s' 'D' 'D' 'F' <kind>`.
pub const MAGIC_LEN: usize = 5;

/// The config kinds, by the last byte of their magic (sDDF 0.7.0
/// `SDDF_*_MAGIC`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Magic {
    /// `device_resources_t` (`DEVICE_MAGIC`).
    DeviceResources = 1,
    /// Every blk config (`SDDF_BLK_MAGIC`).
    Blk = 2,
    /// Every serial config (`SDDF_SERIAL_MAGIC`).
    Serial = 3,
    /// Every net config (`SDDF_NET_MAGIC`).
    Net = 5,
    /// Every timer config (`SDDF_TIMER_MAGIC`).
    Timer = 6,
}

impl Magic {
    /// The five magic bytes.
    pub const fn bytes(self) -> [u8; MAGIC_LEN] {
        [b's', b'D', b'D', b'F', self as u8]
    }

    /// `Ok` if `found` is this magic.
    pub fn check(self, found: [u8; MAGIC_LEN]) -> Result<(), ConfigError> {
        if found == self.bytes() { Ok(()) } else { Err(ConfigError::BadMagic { expected: self, found }) }
    }
}

/// Which field of a config an error is about: a dotted path, and the array
/// index where the field is in an array (`regions[3].io_addr`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The path, with `[]` where the index goes.
    pub path: &'static str,
    /// The index for `[]`, if the path has one.
    pub index: Option<u8>,
}

impl Field {
    /// A field outside any array.
    pub const fn named(path: &'static str) -> Self {
        Field { path, index: None }
    }

    /// A field of array element `index`.
    pub const fn indexed(path: &'static str, index: u8) -> Self {
        Field { path, index: Some(index) }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, self.path.split_once("[]")) {
            (Some(i), Some((before, after))) => write!(f, "{before}[{i}]{after}"),
            _ => f.write_str(self.path),
        }
    }
}

/// Everything wrong a config can be. The config is sdfgen's output as the
/// build placed it; a PD that gets one of these should stop before using
/// any of it (the system was built wrong).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Fewer bytes than the struct (the section was not updated, or is of
    /// another sDDF version).
    TooShort {
        /// Bytes the struct needs.
        needed: usize,
        /// Bytes given.
        len: usize,
    },
    /// The magic is not the one of this config kind (an all-zero magic:
    /// the section was never filled in by objcopy).
    BadMagic {
        /// The kind expected.
        expected: Magic,
        /// The bytes found.
        found: [u8; MAGIC_LEN],
    },
    /// A count is larger than the array it counts.
    CountOverArray {
        /// The count field.
        field: Field,
        /// Its value.
        count: u8,
        /// The array's length.
        max: u8,
    },
    /// A region of size 0.
    EmptyRegion {
        /// The region.
        field: Field,
    },
    /// `start + size` overflows 64 bits.
    RegionOverflow {
        /// The region (or its `io_addr`).
        field: Field,
        /// Its start address.
        start: u64,
        /// Its size.
        size: u64,
    },
    /// A C `bool` that is neither 0 nor 1.
    BadBool {
        /// The field.
        field: Field,
        /// The byte found.
        value: u8,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TooShort { needed, len } => write!(f, "config is {len} bytes, needs {needed}"),
            ConfigError::BadMagic { expected, found } => {
                write!(f, "bad magic {found:02x?}, expected {:02x?} ({expected:?})", expected.bytes())
            }
            ConfigError::CountOverArray { field, count, max } => write!(f, "{field} = {count} exceeds {max}"),
            ConfigError::EmptyRegion { field } => write!(f, "{field} has size 0"),
            ConfigError::RegionOverflow { field, start, size } => {
                write!(f, "{field}: {start:#x} + {size:#x} overflows")
            }
            ConfigError::BadBool { field, value } => write!(f, "{field} = {value}, not a bool"),
        }
    }
}

/// The `Raw` view at the start of `bytes`, or [`ConfigError::TooShort`].
pub(crate) fn view<T>(bytes: &[u8]) -> Result<&T, ConfigError>
where
    T: zerocopy::FromBytes + zerocopy::KnownLayout + zerocopy::Immutable + zerocopy::Unaligned,
{
    T::ref_from_prefix(bytes)
        .map(|(raw, _rest)| raw)
        .map_err(|_| ConfigError::TooShort { needed: core::mem::size_of::<T>(), len: bytes.len() })
}

/// A C `bool` byte, or [`ConfigError::BadBool`].
pub(crate) fn c_bool(value: u8, field: Field) -> Result<bool, ConfigError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ConfigError::BadBool { field, value }),
    }
}
