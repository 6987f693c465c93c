//! The net driver's config (sDDF `include/sddf/network/config.h`).
//!
//! Layout (bytes):
//! - `net_connection_resource_t {free_queue @0, active_queue @16
//!   (region_resource_t each), uint16_t num_buffers @32, uint8_t id @34}`
//!   = 40;
//! - `net_driver_config_t {char magic[5] @0, virt_rx @8, virt_tx @48}` = 88.
//!
//! What a driver does with it, as sDDF's net drivers do: two connections,
//! each with its own channel. On `virt_rx` the driver takes empty buffers
//! from the free queue and returns filled ones on the active queue; on
//! `virt_tx` it takes frames to send from the active queue and returns the
//! sent buffers on the free queue. Buffer addresses are I/O addresses,
//! checked against the driver's data regions with
//! [`find_io_range`](crate::find_io_range).

use crate::resources::{RawRegion, Region};
use crate::{ConfigError, Field, MAGIC_LEN, Magic, view};
use zerocopy::little_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `net_connection_resource_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawNetConnection {
    /// The free queue.
    pub free_queue: RawRegion,
    /// The active queue.
    pub active_queue: RawRegion,
    /// Entries in each queue.
    pub num_buffers: U16,
    /// The channel to the peer.
    pub id: u8,
    /// C padding to the struct's 8-byte alignment.
    pub _pad: [u8; 5],
}

/// `net_driver_config_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawNetDriverConfig {
    /// `sDDF\x05`.
    pub magic: [u8; MAGIC_LEN],
    /// C padding before `virt_rx`.
    pub _pad: [u8; 3],
    /// The connection to the rx virtualiser.
    pub virt_rx: RawNetConnection,
    /// The connection to the tx virtualiser.
    pub virt_tx: RawNetConnection,
}

/// A checked net connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NetConnection {
    /// The free queue.
    pub free_queue: Region,
    /// The active queue.
    pub active_queue: Region,
    /// Entries in each queue (checked by the queue's constructor).
    pub num_buffers: u16,
    /// The channel to the peer (checked where it becomes a `Channel`).
    pub id: u8,
}

impl NetConnection {
    fn parse(raw: &RawNetConnection, paths: [&'static str; 2]) -> Result<NetConnection, ConfigError> {
        Ok(NetConnection {
            free_queue: Region::parse(&raw.free_queue, Field::named(paths[0]))?,
            active_queue: Region::parse(&raw.active_queue, Field::named(paths[1]))?,
            num_buffers: raw.num_buffers.get(),
            id: raw.id,
        })
    }
}

/// A parsed `net_driver_config_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NetDriverConfig {
    /// The connection to the rx virtualiser.
    pub virt_rx: NetConnection,
    /// The connection to the tx virtualiser.
    pub virt_tx: NetConnection,
}

impl NetDriverConfig {
    /// Size of `net_driver_config_t`.
    pub const SIZE: usize = core::mem::size_of::<RawNetDriverConfig>();
    /// Its ELF section, as sDDF's build names it.
    pub const SECTION: &'static str = ".net_driver_config";

    /// Parses and checks the bytes of a `net_driver_config_t`.
    pub fn parse(bytes: &[u8]) -> Result<NetDriverConfig, ConfigError> {
        let raw: &RawNetDriverConfig = view(bytes)?;
        Magic::Net.check(raw.magic)?;
        Ok(NetDriverConfig {
            virt_rx: NetConnection::parse(&raw.virt_rx, ["virt_rx.free_queue", "virt_rx.active_queue"])?,
            virt_tx: NetConnection::parse(&raw.virt_tx, ["virt_tx.free_queue", "virt_tx.active_queue"])?,
        })
    }
}
