//! The one check of a buffer a client names: does every byte of the range
//! lie inside one region the driver was given, and where is it for the
//! device?
//!
//! Two ways of naming a buffer, one rule:
//! - by offset and length in the one region a client shares with the
//!   driver ([`ClientRegion`], sevio's rng protocol);
//! - by I/O address and length, as sDDF's virtualisers and clients name
//!   buffers to a driver ([`DataRegions`]: the list of data regions the
//!   driver is configured with, any number, e.g. one per client).
//!
//! Neither offset, address nor length is trusted. Both go through
//! [`sevio_sddf::find_io_range`], the single "every byte inside one
//! region" check (64-bit, no sum wraps, a range straddling two adjacent
//! regions is refused), against sizes from the driver's own configuration,
//! never from memory the client writes. Every driver takes client ranges
//! through here.

use sevio_sddf::{DeviceRegion, DeviceResources, Region, find_io_range};
use sevio_sharedmem::SharedMemory;

/// Why a client's range was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientRangeError {
    /// Zero bytes.
    Empty,
    /// Not entirely inside the region.
    OutOfRegion {
        /// Offset asked for.
        offset: u64,
        /// Length asked for.
        len: u64,
        /// The region's size.
        size: u64,
    },
    /// Not entirely inside any one of the driver's data regions.
    OutsideDataRegions {
        /// I/O address asked for.
        io_addr: u64,
        /// Length asked for.
        len: u64,
    },
}

/// A region a client shares with the driver, named by offset.
#[derive(Copy, Clone, Debug)]
pub struct ClientRegion {
    mem: SharedMemory,
    /// The device address of the first byte, for a region the device
    /// reads or writes directly; `None` when the driver copies.
    device_addr: Option<u64>,
}

/// A checked piece of a client's region.
#[derive(Copy, Clone, Debug)]
pub struct ClientSpan {
    /// The piece, as the driver reaches it.
    pub mem: SharedMemory,
    /// Its offset in the region.
    pub offset: usize,
    /// Its device address (regions the device reaches only).
    pub device_addr: Option<u64>,
}

impl ClientRegion {
    /// A region the device reads or writes at `device_addr` (its
    /// region_paddr). `None` if the device range would overflow.
    pub fn device_visible(mem: SharedMemory, device_addr: u64) -> Option<Self> {
        device_addr.checked_add(mem.len() as u64)?;
        Some(ClientRegion { mem, device_addr: Some(device_addr) })
    }

    /// A region only the driver touches (it copies from bounce buffers).
    pub fn driver_only(mem: SharedMemory) -> Self {
        ClientRegion { mem, device_addr: None }
    }

    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether the region is empty (no range is ever inside it).
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    /// The `len` bytes at `offset`, if they are at least one byte and lie
    /// entirely inside the region.
    pub fn span(&self, offset: u64, len: u64) -> Result<ClientSpan, ClientRangeError> {
        if len == 0 {
            return Err(ClientRangeError::Empty);
        }
        let size = self.mem.len() as u64;
        let refused = ClientRangeError::OutOfRegion { offset, len, size };
        // The region as a list of one, named from offset 0: the same check
        // as I/O addresses get.
        let whole = DeviceRegion { region: Region { vaddr: 0, size }, io_addr: 0 };
        find_io_range(&[whole], offset, len).ok_or(refused)?;
        let (start, n) = (usize::try_from(offset).map_err(|_| refused)?, usize::try_from(len).map_err(|_| refused)?);
        let mem = self.mem.slice(start, n).ok_or(refused)?;
        // Cannot overflow: checked at construction for the whole region.
        let device_addr = self.device_addr.map(|base| base + offset);
        Ok(ClientSpan { mem, offset: start, device_addr })
    }
}

/// Most data regions a driver takes: a `device_resources_t` holds 64.
pub const MAX_DATA_REGIONS: usize = sevio_sddf::resources::DEVICE_MAX_REGIONS;

/// The data regions a driver may hand its device, named by I/O address
/// (on QEMU arm virt, which has no IOMMU, the physical address). The
/// driver never maps them: it checks addresses against them and passes
/// the address on.
#[derive(Copy, Clone, Debug)]
pub struct DataRegions {
    regions: [DeviceRegion; MAX_DATA_REGIONS],
    len: usize,
}

/// [`DataRegions::push`] on a full list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TooManyDataRegions;

impl Default for DataRegions {
    fn default() -> Self {
        Self::new()
    }
}

impl DataRegions {
    /// No regions: every range is refused.
    pub const fn new() -> Self {
        let unused = DeviceRegion { region: Region { vaddr: 0, size: 0 }, io_addr: 0 };
        DataRegions { regions: [unused; MAX_DATA_REGIONS], len: 0 }
    }

    /// The regions of a parsed `device_resources_t` (each already checked:
    /// non-empty, no address overflow).
    pub fn from_resources(resources: &DeviceResources) -> Self {
        let mut list = Self::new();
        let regions = resources.regions();
        list.regions[..regions.len()].copy_from_slice(regions);
        list.len = regions.len();
        list
    }

    /// Add a region (checked by [`DeviceRegion::parse`] or built from
    /// the driver's own setvars).
    pub fn push(&mut self, region: DeviceRegion) -> Result<(), TooManyDataRegions> {
        let slot = self.regions.get_mut(self.len).ok_or(TooManyDataRegions)?;
        *slot = region;
        self.len += 1;
        Ok(())
    }

    /// The regions.
    pub fn regions(&self) -> &[DeviceRegion] {
        &self.regions[..self.len]
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device address of `io_addr .. io_addr + len`, if it is at least
    /// one byte and every byte lies inside one region. The device address
    /// is the I/O address itself: it is the address devices use.
    pub fn span(&self, io_addr: u64, len: u64) -> Result<u64, ClientRangeError> {
        if len == 0 {
            return Err(ClientRangeError::Empty);
        }
        match find_io_range(self.regions(), io_addr, len) {
            Some(_) => Ok(io_addr),
            None => Err(ClientRangeError::OutsideDataRegions { io_addr, len }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn a_span_lies_inside_or_is_refused() {
        let heap = HeapRegion::new(0x1000);
        let r = ClientRegion::device_visible(heap.memory(), 0x5000_0000).unwrap();
        let s = r.span(0x10, 0x20).unwrap();
        assert_eq!((s.offset, s.mem.len(), s.device_addr), (0x10, 0x20, Some(0x5000_0010)));
        assert_eq!(r.span(0xfff, 1).unwrap().device_addr, Some(0x5000_0fff), "the last byte");
        assert_eq!(r.span(0, 0).unwrap_err(), ClientRangeError::Empty);
        for (offset, len) in [(0xfff, 2), (0x1000, 1), (u64::MAX, 2), (1, u64::MAX), (u64::from(u32::MAX), 2)] {
            assert_eq!(
                r.span(offset, len).unwrap_err(),
                ClientRangeError::OutOfRegion { offset, len, size: 0x1000 },
                "{offset:#x}+{len:#x}"
            );
        }
        assert!(ClientRegion::device_visible(heap.memory(), u64::MAX - 0x10).is_none());
        assert_eq!(ClientRegion::driver_only(heap.memory()).span(0, 4).unwrap().device_addr, None);
    }

    fn region(io_addr: u64, size: u64) -> DeviceRegion {
        DeviceRegion { region: Region { vaddr: 0, size }, io_addr }
    }

    #[test]
    fn io_addresses_must_lie_inside_one_data_region() {
        let mut list = DataRegions::new();
        assert!(list.span(0x8000, 1).is_err(), "no regions: nothing is inside");
        // A virtualiser's metadata buffer and, right after it, a client's data.
        list.push(region(0x5fde_6000, 0xa000)).unwrap();
        list.push(region(0x5fdf_0000, 0x20_0000)).unwrap();
        assert_eq!(list.span(0x5fde_6000, 0x1000), Ok(0x5fde_6000), "first block of the first region");
        assert_eq!(list.span(0x5ffe_f000, 0x1000), Ok(0x5ffe_f000), "last block of the second");
        let refused = |io_addr, len| Err(ClientRangeError::OutsideDataRegions { io_addr, len });
        assert_eq!(list.span(0x5fde_f000, 0x2000), refused(0x5fde_f000, 0x2000), "straddles the two regions");
        assert_eq!(list.span(0x5fde_5000, 0x1000), refused(0x5fde_5000, 0x1000), "below both");
        assert_eq!(list.span(0x5fff_0000, 1), refused(0x5fff_0000, 1), "just past the end");
        assert_eq!(list.span(u64::MAX - 0xfff, 0x2000), refused(u64::MAX - 0xfff, 0x2000), "wraps");
        assert_eq!(list.span(0x5fde_6000, 0), Err(ClientRangeError::Empty));
    }

    #[test]
    fn the_list_holds_what_a_device_resources_holds() {
        let mut list = DataRegions::new();
        for k in 0..MAX_DATA_REGIONS as u64 {
            list.push(region(0x4000_0000 + k * 0x1000, 0x1000)).unwrap();
        }
        assert_eq!(list.push(region(0, 1)), Err(TooManyDataRegions));
        assert_eq!(list.regions().len(), MAX_DATA_REGIONS);
        assert_eq!(list.span(0x4000_0000 + 63 * 0x1000, 0x1000), Ok(0x4003_f000));
    }
}
