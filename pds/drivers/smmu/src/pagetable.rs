//! Stage-2 identity page tables over a fixed arena of 4 KiB pages.
//!
//! A translation starts at a level-1 table (39-bit input, see
//! [`crate::spec::IPA_BITS`]); each range is mapped read-write, identity
//! (output address = input address), with 2 MiB level-2 blocks where a
//! whole aligned 2 MiB lies inside the range and 4 KiB level-3 pages
//! elsewhere. Nothing outside the ranges is mapped: every descriptor not
//! written here is 0 (invalid), so the SMMU reports a translation fault.
//! Tables come from the arena, in order; there is no freeing (the regions
//! of a slot are fixed by system.xml, so its tables are built once).

use crate::spec::{IPA_BITS, pte};
use sevio_sharedmem::SharedMemory;

/// Bytes of a page and of a table.
pub const PAGE: u64 = 4096;
const BLOCK_2M: u64 = 2 << 20;
const ENTRIES: u64 = 512;

/// Why a range cannot be mapped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Start or size not a multiple of 4 KiB, or size 0.
    Unaligned,
    /// The range reaches past the 39-bit input space.
    TooHigh,
    /// A page of the range is mapped already.
    Overlap,
    /// The arena has no page left for a table.
    ArenaFull,
    /// A table descriptor names memory outside the arena (the arena was
    /// written by someone else).
    Corrupt,
}

/// The arena: `mem`, at physical address `paddr`, carved into tables.
pub struct Arena {
    mem: SharedMemory,
    paddr: u64,
    used: u64,
}

impl Arena {
    /// An arena over `mem` (whole pages) at `paddr` (page aligned).
    pub fn new(mem: SharedMemory, paddr: u64) -> Result<Arena, MapError> {
        if !paddr.is_multiple_of(PAGE) || !(mem.len() as u64).is_multiple_of(PAGE) {
            return Err(MapError::Unaligned);
        }
        Ok(Arena { mem, paddr, used: 0 })
    }

    /// Pages taken so far.
    pub fn pages_used(&self) -> u64 {
        self.used
    }

    /// A zeroed table's physical address.
    pub fn table(&mut self) -> Result<u64, MapError> {
        let offset = self.used * PAGE;
        if offset + PAGE > self.mem.len() as u64 {
            return Err(MapError::ArenaFull);
        }
        self.mem.fill(offset as usize, PAGE as usize, 0).map_err(|_| MapError::ArenaFull)?;
        self.used += 1;
        Ok(self.paddr + offset)
    }

    fn offset(&self, table: u64, index: u64) -> Result<usize, MapError> {
        let within = table.checked_sub(self.paddr).ok_or(MapError::Corrupt)?;
        if within >= self.used * PAGE || !within.is_multiple_of(PAGE) {
            return Err(MapError::Corrupt);
        }
        Ok((within + index * 8) as usize)
    }

    fn entry(&self, table: u64, index: u64) -> Result<u64, MapError> {
        self.mem.read::<u64>(self.offset(table, index)?).ok_or(MapError::Corrupt)
    }

    fn set(&self, table: u64, index: u64, value: u64) -> Result<(), MapError> {
        self.mem.write::<u64>(self.offset(table, index)?, value).map_err(|_| MapError::Corrupt)
    }

    /// The next-level table `table[index]` points to, made if the entry
    /// is invalid; a leaf there means the range overlaps a mapping.
    fn next(&mut self, table: u64, index: u64) -> Result<u64, MapError> {
        let e = self.entry(table, index)?;
        match e & 0b11 {
            0b00 | 0b10 => {
                let next = self.table()?;
                self.set(table, index, next | pte::TABLE_OR_PAGE)?;
                Ok(next)
            }
            0b11 => Ok(e & pte::ADDR_MASK),
            _ => Err(MapError::Overlap),
        }
    }

    /// Map `start..start + size` identity, read-write, under the level-1
    /// table `root`.
    pub fn map_identity(&mut self, root: u64, start: u64, size: u64) -> Result<(), MapError> {
        self.map_identity_as(root, start, size, pte::LEAF_RW)
    }

    /// Map `start..start + size` identity under `root` with leaf
    /// attributes `attrs` (a [`pte`] leaf: [`pte::LEAF_RW`] or
    /// [`pte::LEAF_DEVICE_WO`]).
    pub fn map_identity_as(&mut self, root: u64, start: u64, size: u64, attrs: u64) -> Result<(), MapError> {
        if size == 0 || !start.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
            return Err(MapError::Unaligned);
        }
        let end = start.checked_add(size).ok_or(MapError::TooHigh)?;
        if end > 1 << IPA_BITS {
            return Err(MapError::TooHigh);
        }
        let mut addr = start;
        while addr < end {
            let l2 = self.next(root, addr >> 30 & (ENTRIES - 1))?;
            let l2_index = addr >> 21 & (ENTRIES - 1);
            if addr.is_multiple_of(BLOCK_2M) && end - addr >= BLOCK_2M {
                if self.entry(l2, l2_index)? & 1 != 0 {
                    return Err(MapError::Overlap);
                }
                self.set(l2, l2_index, addr | attrs | pte::BLOCK)?;
                addr += BLOCK_2M;
                continue;
            }
            let l3 = self.next(l2, l2_index)?;
            let l3_index = addr >> 12 & (ENTRIES - 1);
            if self.entry(l3, l3_index)? & 1 != 0 {
                return Err(MapError::Overlap);
            }
            self.set(l3, l3_index, addr | attrs | pte::TABLE_OR_PAGE)?;
            addr += PAGE;
        }
        Ok(())
    }

    /// Walk the tables under `root` as the SMMU would for `addr`: the
    /// output address and whether it is writable, or `None` if no valid
    /// leaf maps it.
    pub fn translate(&self, root: u64, addr: u64) -> Option<(u64, bool)> {
        self.leaf(root, addr).map(|(out, e)| (out, e & pte::S2AP_WRITE != 0))
    }

    /// As [`Arena::translate`], with the whole leaf descriptor (its
    /// attribute and permission bits) instead of the write bit.
    pub fn leaf(&self, root: u64, addr: u64) -> Option<(u64, u64)> {
        if addr >= 1 << IPA_BITS {
            return None;
        }
        let mut table = root;
        for level in 1..=3u32 {
            let shift = 12 + 9 * (3 - level);
            let e = self.entry(table, addr >> shift & (ENTRIES - 1)).ok()?;
            let kind = e & 0b11;
            let leaf = match (level, kind) {
                (_, 0b00 | 0b10) => return None,
                (3, 0b11) | (2, 0b01) => true,
                (1, 0b01) => true,
                (3, _) => return None,
                _ => false,
            };
            if leaf {
                let base = e & pte::ADDR_MASK & !((1 << shift) - 1);
                return Some((base | (addr & ((1 << shift) - 1)), e));
            }
            table = e & pte::ADDR_MASK;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sevio_sharedmem::HeapRegion;
    use std::vec::Vec;

    const ARENA_PADDR: u64 = 0x4810_6000;

    fn arena(pages: usize) -> (HeapRegion, Arena) {
        let heap = HeapRegion::new(pages * PAGE as usize);
        let arena = Arena::new(heap.memory(), ARENA_PADDR).unwrap();
        (heap, arena)
    }

    #[test]
    fn a_range_maps_exactly_its_pages_and_aligned_2m_become_blocks() {
        let (_heap, mut a) = arena(16);
        let root = a.table().unwrap();
        // 256 KiB at 0x4800_0000 and 2 MiB + 4 KiB at 0x4820_0000.
        a.map_identity(root, 0x4800_0000, 0x4_0000).unwrap();
        a.map_identity(root, 0x4820_0000, 0x20_1000).unwrap();
        for addr in [0x4800_0000, 0x4803_f008, 0x4820_0000, 0x483f_fff8, 0x4840_0ff8] {
            assert_eq!(a.translate(root, addr), Some((addr, true)), "{addr:#x}");
        }
        for addr in [0x47ff_fff8, 0x4804_0000, 0x481f_f000, 0x4840_1000, 0, 0x4830_0000 + (1 << 30)] {
            assert_eq!(a.translate(root, addr), None, "{addr:#x}");
        }
        // Root, one level 2, a level 3 for the 256 KiB and one for the
        // page past the block: the 2 MiB took no table.
        assert_eq!(a.pages_used(), 4);
    }

    #[test]
    fn overlaps_unaligned_and_out_of_range_requests_are_refused() {
        let (_heap, mut a) = arena(8);
        let root = a.table().unwrap();
        a.map_identity(root, 0x4800_0000, 0x20_0000).unwrap();
        assert_eq!(a.map_identity(root, 0x481f_f000, 0x1000), Err(MapError::Overlap));
        assert_eq!(a.map_identity(root, 0x4800_0000, 0x20_0000), Err(MapError::Overlap));
        assert_eq!(a.map_identity(root, 0x4900_0800, 0x1000), Err(MapError::Unaligned));
        assert_eq!(a.map_identity(root, 0x4900_0000, 0), Err(MapError::Unaligned));
        assert_eq!(a.map_identity(root, (1 << 39) - 0x1000, 0x2000), Err(MapError::TooHigh));
    }

    #[test]
    fn an_exhausted_arena_is_an_error() {
        let (_heap, mut a) = arena(2);
        let root = a.table().unwrap();
        // Needs a level 2 and a level 3: only one page is left.
        assert_eq!(a.map_identity(root, 0x4800_0000, 0x1000), Err(MapError::ArenaFull));
    }

    /// Disjoint page ranges in 0x4000_0000..0x4400_0000 (64 MiB: blocks
    /// and pages both happen).
    fn ranges() -> impl Strategy<Value = Vec<(u64, u64)>> {
        proptest::collection::vec((0u64..16384, 1u64..1200), 1..6).prop_map(|raw| {
            let mut taken: Vec<(u64, u64)> = Vec::new();
            for (page, pages) in raw {
                let (start, end) = (page, (page + pages).min(16384));
                if taken.iter().all(|&(s, e)| end <= s || start >= e) {
                    taken.push((start, end));
                }
            }
            taken.into_iter().map(|(s, e)| (0x4000_0000 + s * PAGE, (e - s) * PAGE)).collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_tables_map_the_requested_ranges_and_nothing_else(ranges in ranges(), probes in proptest::collection::vec(0u64..16384 * 8, 64)) {
            let (_heap, mut a) = arena(64);
            let root = a.table().unwrap();
            for &(start, size) in &ranges {
                a.map_identity(root, start, size).unwrap();
            }
            let inside = |addr: u64| ranges.iter().any(|&(s, n)| addr >= s && addr < s + n);
            // Random probes at 512-byte steps, and each range's edges.
            let edges = ranges.iter().flat_map(|&(s, n)| [s, s - 8, s + n - 8, s + n]);
            for addr in probes.iter().map(|p| 0x4000_0000 + p * 512).chain(edges) {
                let expected = inside(addr).then_some((addr, true));
                prop_assert_eq!(a.translate(root, addr), expected, "{:#x}", addr);
            }
        }
    }
}
