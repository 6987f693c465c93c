//! The blk driver's config (sDDF `include/sddf/blk/config.h`).
//!
//! Layout (bytes):
//! - `blk_connection_resource_t {storage_info @0, req_queue @16,
//!   resp_queue @32 (region_resource_t each), uint16_t num_buffers @48,
//!   uint8_t id @50}` = 56;
//! - `blk_driver_config_t {char magic[5] @0, virt @8}` = 64.
//!
//! What a driver does with it, as sDDF's blk drivers do: it writes the
//! storage information page (`storage_info`, read by the virtualiser, which
//! waits for `ready`), consumes requests from `req_queue` and produces
//! responses on `resp_queue`, each a queue of `num_buffers` entries, and
//! notifies the virtualiser on channel `id`. Request addresses are I/O
//! addresses (the virtualiser translates client offsets), so the driver
//! checks each against its data regions with
//! [`find_io_range`](crate::find_io_range).

use crate::resources::{RawRegion, Region};
use crate::{ConfigError, Field, MAGIC_LEN, Magic, view};
use zerocopy::little_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `blk_connection_resource_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawBlkConnection {
    /// The storage information page.
    pub storage_info: RawRegion,
    /// The request queue.
    pub req_queue: RawRegion,
    /// The response queue.
    pub resp_queue: RawRegion,
    /// Entries in each queue.
    pub num_buffers: U16,
    /// The channel to the peer.
    pub id: u8,
    /// C padding to the struct's 8-byte alignment.
    pub _pad: [u8; 5],
}

/// `blk_driver_config_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawBlkDriverConfig {
    /// `sDDF\x02`.
    pub magic: [u8; MAGIC_LEN],
    /// C padding before `virt`.
    pub _pad: [u8; 3],
    /// The connection to the blk virtualiser.
    pub virt: RawBlkConnection,
}

/// A checked blk connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BlkConnection {
    /// The storage information page.
    pub storage_info: Region,
    /// The request queue.
    pub req_queue: Region,
    /// The response queue.
    pub resp_queue: Region,
    /// Entries in each queue (checked by the queue's constructor).
    pub num_buffers: u16,
    /// The channel to the peer (checked where it becomes a `Channel`).
    pub id: u8,
}

impl BlkConnection {
    /// Checks a raw connection; `paths` names its three regions in errors.
    fn parse(raw: &RawBlkConnection, paths: [&'static str; 3]) -> Result<BlkConnection, ConfigError> {
        Ok(BlkConnection {
            storage_info: Region::parse(&raw.storage_info, Field::named(paths[0]))?,
            req_queue: Region::parse(&raw.req_queue, Field::named(paths[1]))?,
            resp_queue: Region::parse(&raw.resp_queue, Field::named(paths[2]))?,
            num_buffers: raw.num_buffers.get(),
            id: raw.id,
        })
    }
}

/// A parsed `blk_driver_config_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BlkDriverConfig {
    /// The connection to the blk virtualiser.
    pub virt: BlkConnection,
}

impl BlkDriverConfig {
    /// Size of `blk_driver_config_t`.
    pub const SIZE: usize = core::mem::size_of::<RawBlkDriverConfig>();
    /// Its ELF section, as sDDF's build names it.
    pub const SECTION: &'static str = ".blk_driver_config";

    /// Parses and checks the bytes of a `blk_driver_config_t`.
    pub fn parse(bytes: &[u8]) -> Result<BlkDriverConfig, ConfigError> {
        let raw: &RawBlkDriverConfig = view(bytes)?;
        Magic::Blk.check(raw.magic)?;
        let virt = BlkConnection::parse(&raw.virt, ["virt.storage_info", "virt.req_queue", "virt.resp_queue"])?;
        Ok(BlkDriverConfig { virt })
    }
}
