//! The serial driver's config (sDDF `include/sddf/serial/config.h`).
//!
//! Layout (bytes):
//! - `serial_connection_resource_t {queue @0, data @16 (region_resource_t
//!   each), uint8_t id @32}` = 40;
//! - `serial_driver_config_t {char magic[5] @0, rx @8, tx @48,
//!   uint64_t default_baud @88, bool rx_enabled @96}` = 104.
//!
//! What a driver does with it, as sDDF's serial drivers do: characters it
//! receives go into the rx queue (`queue` indices over the `data` ring) to
//! the rx virtualiser on `rx.id`; characters to send come from the tx
//! queue, filled by the tx virtualiser on `tx.id`. A system without an rx
//! virtualiser has `rx_enabled = false` and an all-zero `rx`, which parses
//! as `rx: None`.

use crate::resources::{RawRegion, Region};
use crate::{ConfigError, Field, MAGIC_LEN, Magic, c_bool, view};
use zerocopy::little_endian::U64;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `serial_connection_resource_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawSerialConnection {
    /// The queue header.
    pub queue: RawRegion,
    /// The character ring the queue indexes.
    pub data: RawRegion,
    /// The channel to the peer.
    pub id: u8,
    /// C padding to the struct's 8-byte alignment.
    pub _pad: [u8; 7],
}

/// `serial_driver_config_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawSerialDriverConfig {
    /// `sDDF\x03`.
    pub magic: [u8; MAGIC_LEN],
    /// C padding before `rx`.
    pub _pad: [u8; 3],
    /// The connection to the rx virtualiser.
    pub rx: RawSerialConnection,
    /// The connection to the tx virtualiser.
    pub tx: RawSerialConnection,
    /// The line speed to set, for devices that have one.
    pub default_baud: U64,
    /// Whether `rx` is wired (C `bool`).
    pub rx_enabled: u8,
    /// C padding to the struct's 8-byte alignment.
    pub _pad2: [u8; 7],
}

/// A checked serial connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SerialConnection {
    /// The queue header.
    pub queue: Region,
    /// The character ring; its size is the queue's capacity (checked by the
    /// queue's constructor).
    pub data: Region,
    /// The channel to the peer (checked where it becomes a `Channel`).
    pub id: u8,
}

impl SerialConnection {
    fn parse(raw: &RawSerialConnection, paths: [&'static str; 2]) -> Result<SerialConnection, ConfigError> {
        Ok(SerialConnection {
            queue: Region::parse(&raw.queue, Field::named(paths[0]))?,
            data: Region::parse(&raw.data, Field::named(paths[1]))?,
            id: raw.id,
        })
    }
}

/// A parsed `serial_driver_config_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SerialDriverConfig {
    /// The connection to the rx virtualiser, if `rx_enabled`.
    pub rx: Option<SerialConnection>,
    /// The connection to the tx virtualiser.
    pub tx: SerialConnection,
    /// The line speed to set, for devices that have one (virtio-console
    /// has none).
    pub default_baud: u64,
}

impl SerialDriverConfig {
    /// Size of `serial_driver_config_t`.
    pub const SIZE: usize = core::mem::size_of::<RawSerialDriverConfig>();
    /// Its ELF section, as sDDF's build names it.
    pub const SECTION: &'static str = ".serial_driver_config";

    /// Parses and checks the bytes of a `serial_driver_config_t`. `rx` is
    /// looked at only when `rx_enabled` is set.
    pub fn parse(bytes: &[u8]) -> Result<SerialDriverConfig, ConfigError> {
        let raw: &RawSerialDriverConfig = view(bytes)?;
        Magic::Serial.check(raw.magic)?;
        let rx = match c_bool(raw.rx_enabled, Field::named("rx_enabled"))? {
            true => Some(SerialConnection::parse(&raw.rx, ["rx.queue", "rx.data"])?),
            false => None,
        };
        Ok(SerialDriverConfig {
            rx,
            tx: SerialConnection::parse(&raw.tx, ["tx.queue", "tx.data"])?,
            default_baud: raw.default_baud.get(),
        })
    }
}
