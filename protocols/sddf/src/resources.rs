//! Regions and device resources (sDDF `include/sddf/resources/common.h`,
//! `device.h`).
//!
//! Layout (bytes):
//! - `region_resource_t {void *vaddr @0, uint64_t size @8}` = 16;
//! - `device_region_resource_t {region @0, uintptr_t io_addr @16}` = 24;
//! - `device_resources_t {char magic[5] @0, uint8_t num_regions @5,
//!   uint8_t num_irqs @6, regions[64] @8, device_irq_resource_t {uint8_t
//!   id} irqs[64] @1544}` = 1608.
//!
//! A region is where a config says memory is mapped in this PD (`vaddr`)
//! and how big it is; a device region adds the address a device uses for
//! it (`io_addr`, the physical address on QEMU arm virt, which has no
//! IOMMU). sdfgen writes an all-zero region for a region a component does
//! not have; [`Region::parse`] refuses one, so optional regions are
//! decided by their owner (see `serial`) before they are parsed.

use crate::{ConfigError, Field, MAGIC_LEN, Magic, view};
use zerocopy::little_endian::U64;
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Most regions in a `device_resources_t` (`DEVICE_MAX_REGIONS`).
pub const DEVICE_MAX_REGIONS: usize = 64;
/// Most IRQs in a `device_resources_t` (`DEVICE_MAX_IRQS`).
pub const DEVICE_MAX_IRQS: usize = 64;

/// `region_resource_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawRegion {
    /// Where the region is mapped in the PD reading the config.
    pub vaddr: U64,
    /// Its size in bytes.
    pub size: U64,
}

/// `device_region_resource_t` as bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawDeviceRegion {
    /// The mapping.
    pub region: RawRegion,
    /// The address a device uses for the region's first byte.
    pub io_addr: U64,
}

/// `device_resources_t` as bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawDeviceResources {
    /// `sDDF\x01`.
    pub magic: [u8; MAGIC_LEN],
    /// Valid entries of `regions`.
    pub num_regions: u8,
    /// Valid entries of `irqs`.
    pub num_irqs: u8,
    /// C padding before the 8-aligned array.
    pub _pad: u8,
    /// The device's regions (registers, DMA areas), in the order of the
    /// driver's sDDF `config.json`.
    pub regions: [RawDeviceRegion; DEVICE_MAX_REGIONS],
    /// The channel ids of the device's IRQs.
    pub irqs: [u8; DEVICE_MAX_IRQS],
}

impl RawDeviceResources {
    /// A `device_resources_t` listing `regions` as `(io_addr, size)`,
    /// mapped nowhere (vaddr 0), without IRQs: the layout of sevio's
    /// `.sevio_data_regions` section (what `tools/sdfgen/sevio_sdfgen.py`
    /// writes). `None` for more than [`DEVICE_MAX_REGIONS`].
    pub fn unmapped(regions: &[(u64, u64)]) -> Option<Self> {
        let mut raw = Self::new_zeroed();
        raw.magic = Magic::DeviceResources.bytes();
        raw.num_regions = u8::try_from(regions.len()).ok().filter(|n| usize::from(*n) <= DEVICE_MAX_REGIONS)?;
        for (out, &(io_addr, size)) in raw.regions.iter_mut().zip(regions) {
            out.region.size = size.into();
            out.io_addr = io_addr.into();
        }
        Some(raw)
    }
}

/// A checked region: `size > 0`, `vaddr + size` does not overflow.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Where it is mapped.
    pub vaddr: u64,
    /// Its size in bytes (non-zero).
    pub size: u64,
}

/// The one check of a (start, size) pair every region and device region
/// goes through.
fn check_range(start: u64, size: u64, field: Field) -> Result<(), ConfigError> {
    if size == 0 {
        return Err(ConfigError::EmptyRegion { field });
    }
    match start.checked_add(size) {
        Some(_) => Ok(()),
        None => Err(ConfigError::RegionOverflow { field, start, size }),
    }
}

impl Region {
    /// Checks a raw region (`field` names it in errors).
    pub fn parse(raw: &RawRegion, field: Field) -> Result<Region, ConfigError> {
        let (vaddr, size) = (raw.vaddr.get(), raw.size.get());
        check_range(vaddr, size, field)?;
        Ok(Region { vaddr, size })
    }

    /// The size as a `usize` (what a shared-memory view of it takes).
    /// Saturates on a 32-bit host, where such a region cannot be mapped.
    pub fn mapped_len(&self) -> usize {
        usize::try_from(self.size).unwrap_or(usize::MAX)
    }
}

/// A checked device region: its mapping is a [`Region`], and
/// `io_addr + size` does not overflow either.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeviceRegion {
    /// The mapping in this PD. `vaddr` may be 0 in a list of regions the
    /// PD only hands to devices and never maps.
    pub region: Region,
    /// The device address of the region's first byte.
    pub io_addr: u64,
}

impl DeviceRegion {
    /// Checks a raw device region. `field` names the element, `io_field`
    /// its `io_addr` in errors.
    pub fn parse(raw: &RawDeviceRegion, field: Field, io_field: Field) -> Result<DeviceRegion, ConfigError> {
        let region = Region::parse(&raw.region, field)?;
        let io_addr = raw.io_addr.get();
        check_range(io_addr, region.size, io_field)?;
        Ok(DeviceRegion { region, io_addr })
    }
}

/// Where an I/O range lies: which region of the list, and the offset of
/// its first byte in that region.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IoTarget {
    /// Index into the list searched.
    pub index: usize,
    /// Offset of `io_addr` from the region's `io_addr`.
    pub offset: u64,
}

/// The region of `regions` that holds every byte of `io_addr..io_addr+len`,
/// or `None` (also for `len == 0`, and for a range that straddles two
/// adjacent regions: a transfer must lie in one region).
///
/// This is the check a driver makes on every I/O address a virtualiser or
/// client gives it, before the address reaches a device: without an IOMMU
/// a device reaches all of RAM, so an address outside the data regions the
/// driver was configured with is answered with an error and never DMA'd.
pub fn find_io_range(regions: &[DeviceRegion], io_addr: u64, len: u64) -> Option<IoTarget> {
    if len == 0 {
        return None;
    }
    regions.iter().enumerate().find_map(|(index, r)| {
        let offset = io_addr.checked_sub(r.io_addr)?;
        let end = offset.checked_add(len)?;
        (end <= r.region.size).then_some(IoTarget { index, offset })
    })
}

/// A parsed `device_resources_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeviceResources {
    regions: [DeviceRegion; DEVICE_MAX_REGIONS],
    num_regions: u8,
    irqs: [u8; DEVICE_MAX_IRQS],
    num_irqs: u8,
}

impl DeviceResources {
    /// Size of `device_resources_t`.
    pub const SIZE: usize = core::mem::size_of::<RawDeviceResources>();
    /// Its ELF section, as sDDF's build names it.
    pub const SECTION: &'static str = ".device_resources";

    /// Parses and checks the bytes of a `device_resources_t`.
    pub fn parse(bytes: &[u8]) -> Result<DeviceResources, ConfigError> {
        let raw: &RawDeviceResources = view(bytes)?;
        Magic::DeviceResources.check(raw.magic)?;
        for (count, field, max) in
            [(raw.num_regions, "num_regions", DEVICE_MAX_REGIONS), (raw.num_irqs, "num_irqs", DEVICE_MAX_IRQS)]
        {
            if usize::from(count) > max {
                return Err(ConfigError::CountOverArray { field: Field::named(field), count, max: max as u8 });
            }
        }
        // Filler for the entries past `num_regions`, which `regions()` never
        // shows.
        let unused = DeviceRegion { region: Region { vaddr: 0, size: 1 }, io_addr: 0 };
        let mut regions = [unused; DEVICE_MAX_REGIONS];
        for (i, (out, raw)) in regions.iter_mut().zip(&raw.regions).take(raw.num_regions.into()).enumerate() {
            let i = i as u8; // < 64
            *out = DeviceRegion::parse(
                raw,
                Field::indexed("regions[].region", i),
                Field::indexed("regions[].io_addr", i),
            )?;
        }
        Ok(DeviceResources { regions, num_regions: raw.num_regions, irqs: raw.irqs, num_irqs: raw.num_irqs })
    }

    /// The device's regions.
    pub fn regions(&self) -> &[DeviceRegion] {
        &self.regions[..usize::from(self.num_regions)]
    }

    /// The channel ids of its IRQs.
    pub fn irqs(&self) -> &[u8] {
        &self.irqs[..usize::from(self.num_irqs)]
    }
}
