//! The driver's DMA region: memory the device reads and writes.
//!
//! system.xml maps one region into the driver (`setvar_vaddr`) and tells
//! it the region's physical address (`<setvar region_paddr=...>`); the
//! transport refuses queue addresses outside it. A [`DmaCarver`] hands
//! out aligned, non-overlapping pieces of it front to back: queue memory
//! (modern or legacy layout), an indirect descriptor pool, per-request
//! slots. Each piece knows both its mapping and its device address.
//!
//! Alignment is checked on both addresses: a piece aligned to `a` has
//! `vaddr % a == 0` and `paddr % a == 0`, or carving fails.

use sevio_sharedmem::SharedMemory;
use sevio_virtio::{IndirectPool, PackedLayout, QueueMemory, SplitLayout};

/// Why a piece could not be carved or a region described.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DmaError {
    /// Not enough room left.
    Exhausted {
        /// Bytes asked for (with alignment padding).
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// The region's vaddr and paddr are not congruent modulo this
    /// alignment, so no offset satisfies both.
    Misaligned {
        /// The alignment asked for.
        align: usize,
    },
    /// An alignment that is not a power of two, or a zero-sized request.
    BadRequest,
    /// paddr + length overflows.
    AddressOverflow,
}

/// A piece of DMA memory: its mapping and its device address.
#[derive(Copy, Clone, Debug)]
pub struct DmaSlice {
    /// The driver's mapping.
    pub mem: SharedMemory,
    /// Device (physical) address of its first byte.
    pub paddr: u64,
}

impl DmaSlice {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    /// The sub-piece `offset..offset + len`, if inside.
    pub fn slice(&self, offset: usize, len: usize) -> Option<DmaSlice> {
        let mem = self.mem.slice(offset, len)?;
        Some(DmaSlice { mem, paddr: self.paddr.checked_add(offset as u64)? })
    }

    /// Device address of byte `offset` (which may be one past the end).
    pub fn paddr_at(&self, offset: usize) -> Option<u64> {
        if offset > self.len() {
            return None;
        }
        self.paddr.checked_add(offset as u64)
    }
}

/// The whole DMA region of a driver.
#[derive(Copy, Clone, Debug)]
pub struct DmaRegion {
    slice: DmaSlice,
}

impl DmaRegion {
    /// The region `mem`, whose first byte the device sees at `paddr`.
    pub fn new(mem: SharedMemory, paddr: u64) -> Result<Self, DmaError> {
        paddr.checked_add(mem.len() as u64).ok_or(DmaError::AddressOverflow)?;
        Ok(DmaRegion { slice: DmaSlice { mem, paddr } })
    }

    /// The region as one slice.
    pub fn as_slice(&self) -> DmaSlice {
        self.slice
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.slice.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.slice.is_empty()
    }

    /// The device address of the region's first byte.
    pub fn paddr(&self) -> u64 {
        self.slice.paddr
    }

    /// The driver's address of the region's first byte.
    pub fn vaddr(&self) -> usize {
        self.slice.mem.addr()
    }

    /// The device address of the `len` bytes at driver address `vaddr`,
    /// if they lie inside the region.
    pub fn vaddr_to_paddr(&self, vaddr: usize, len: usize) -> Option<u64> {
        let off = vaddr.checked_sub(self.vaddr())?;
        if off.checked_add(len)? > self.len() {
            return None;
        }
        self.slice.paddr_at(off)
    }

    /// The driver's address of the `len` bytes at device address `paddr`,
    /// if they lie inside the region.
    pub fn paddr_to_vaddr(&self, paddr: u64, len: usize) -> Option<usize> {
        let off = usize::try_from(paddr.checked_sub(self.paddr())?).ok()?;
        if off.checked_add(len)? > self.len() {
            return None;
        }
        self.vaddr().checked_add(off)
    }

    /// A carver over the whole region, starting at its first byte.
    pub fn carver(&self) -> DmaCarver {
        DmaCarver { region: *self, next: 0 }
    }
}

/// Hands out pieces of a [`DmaRegion`] front to back. Make a new one
/// (from [`DmaRegion::carver`]) for each device bring-up: earlier pieces
/// are simply reused.
#[derive(Clone, Debug)]
pub struct DmaCarver {
    region: DmaRegion,
    next: usize,
}

impl DmaCarver {
    /// Bytes not handed out yet.
    pub fn remaining(&self) -> usize {
        self.region.len() - self.next
    }

    /// `len` bytes aligned to `align` (a power of two) in both the
    /// driver's and the device's address space. The piece is not cleared.
    pub fn take(&mut self, len: usize, align: usize) -> Result<DmaSlice, DmaError> {
        if len == 0 || !align.is_power_of_two() {
            return Err(DmaError::BadRequest);
        }
        let mask = align - 1;
        let vaddr = self.region.vaddr();
        // Offsets that align the vaddr and the paddr; they must agree.
        let v_pad = (align - (vaddr.wrapping_add(self.next) & mask)) & mask;
        let p_pad = (align as u64 - (self.region.paddr().wrapping_add(self.next as u64) & mask as u64)) & mask as u64;
        if v_pad as u64 != p_pad {
            return Err(DmaError::Misaligned { align });
        }
        let need = v_pad.checked_add(len).ok_or(DmaError::BadRequest)?;
        if need > self.remaining() {
            return Err(DmaError::Exhausted { need, have: self.remaining() });
        }
        let start = self.next + v_pad;
        let piece = self.region.slice.slice(start, len).ok_or(DmaError::AddressOverflow)?;
        self.next = start + len;
        Ok(piece)
    }

    /// Memory for a split queue with `layout` (modern or legacy), aligned
    /// as the layout requires.
    pub fn split_queue(&mut self, layout: &SplitLayout) -> Result<QueueMemory, DmaError> {
        self.queue_memory(layout.total_size(), layout.alignment())
    }

    /// Memory for a packed queue with `layout` (VIRTIO 1.2 §2.8.10.1: the
    /// descriptor ring 16-aligned, the event suppression structures after
    /// it, 4-aligned).
    pub fn packed_queue(&mut self, layout: &PackedLayout) -> Result<QueueMemory, DmaError> {
        self.queue_memory(layout.total_size(), layout.alignment())
    }

    fn queue_memory(&mut self, len: usize, align: usize) -> Result<QueueMemory, DmaError> {
        let piece = self.take(len, align)?;
        Ok(QueueMemory { mem: piece.mem, device_addr: piece.paddr })
    }

    /// An indirect descriptor pool for a queue of `queue_size` with tables
    /// of `max_descs` descriptors (16 bytes each, 16-aligned).
    pub fn indirect_pool(&mut self, queue_size: u16, max_descs: u16) -> Result<IndirectPool, DmaError> {
        let len = (queue_size as usize).checked_mul(max_descs as usize * 16).ok_or(DmaError::BadRequest)?;
        let piece = self.take(len, 16)?;
        Ok(IndirectPool { mem: piece.mem, device_addr: piece.paddr, max_descs })
    }

    /// `count` slots of `stride` bytes each, the first aligned to `align`
    /// (a stride that is a multiple of `align` keeps them all aligned).
    pub fn slots(&mut self, count: usize, stride: usize, align: usize) -> Result<DmaSlots, DmaError> {
        let len = count.checked_mul(stride).ok_or(DmaError::BadRequest)?;
        let base = self.take(len, align)?;
        Ok(DmaSlots { base, stride, count })
    }
}

/// An array of equal DMA slots (request headers, status bytes, ...).
#[derive(Copy, Clone, Debug)]
pub struct DmaSlots {
    base: DmaSlice,
    stride: usize,
    count: usize,
}

impl DmaSlots {
    /// Number of slots.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Slot `i`, if `i < count`.
    pub fn get(&self, i: usize) -> Option<DmaSlice> {
        if i >= self.count {
            return None;
        }
        self.base.slice(i * self.stride, self.stride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    const PADDR: u64 = 0x4100_0000;

    #[test]
    fn carves_aligned_disjoint_pieces() {
        let heap = HeapRegion::new(0x10000);
        let region = DmaRegion::new(heap.memory(), PADDR).unwrap();
        let mut c = region.carver();
        let layout = SplitLayout::legacy(128, 4096).unwrap();
        let a = c.take(3, 1).unwrap();
        let q = c.split_queue(&layout).unwrap();
        assert_eq!(q.device_addr, PADDR + 4096, "legacy queue on the next page");
        assert_eq!(q.mem.addr() % 4096, 0);
        let pool = c.indirect_pool(128, 4).unwrap();
        assert_eq!(pool.device_addr, PADDR + 4096 + 8192);
        let slots = c.slots(4, 32, 16).unwrap();
        assert_eq!(slots.get(3).unwrap().paddr, pool.device_addr + 128 * 4 * 16 + 96);
        assert!(slots.get(4).is_none());
        assert_eq!(a.paddr, PADDR);
        assert_eq!(c.remaining(), 0x10000 - (4096 + 8192 + 8192 + 128));
        assert_eq!(c.take(0x10000, 1).unwrap_err(), DmaError::Exhausted { need: 0x10000, have: c.remaining() });
        assert_eq!(c.take(0, 1).unwrap_err(), DmaError::BadRequest);
        assert_eq!(c.take(1, 3).unwrap_err(), DmaError::BadRequest);
    }

    #[test]
    fn refuses_alignment_the_two_addresses_disagree_on() {
        let heap = HeapRegion::new(0x2000);
        // paddr 8 bytes past a page while the mapping is page aligned.
        let region = DmaRegion::new(heap.memory(), PADDR + 8).unwrap();
        let mut c = region.carver();
        assert_eq!(c.take(16, 16).unwrap_err(), DmaError::Misaligned { align: 16 });
        assert_eq!(c.take(16, 8).unwrap().paddr, PADDR + 8);
    }

    #[test]
    fn translates_inside_only() {
        let heap = HeapRegion::new(0x1000);
        let region = DmaRegion::new(heap.memory(), PADDR).unwrap();
        let v = region.vaddr();
        assert_eq!(region.vaddr_to_paddr(v + 0x10, 0x10), Some(PADDR + 0x10));
        assert_eq!(region.vaddr_to_paddr(v + 0xff0, 0x11), None);
        assert_eq!(region.vaddr_to_paddr(v.wrapping_sub(1), 1), None);
        assert_eq!(region.paddr_to_vaddr(PADDR + 0xfff, 1), Some(v + 0xfff));
        assert_eq!(region.paddr_to_vaddr(PADDR + 0x1000, 1), None);
        assert_eq!(region.paddr_to_vaddr(PADDR - 1, 1), None);
        assert_eq!(DmaRegion::new(heap.memory(), u64::MAX - 10).unwrap_err(), DmaError::AddressOverflow);
    }
}
