//! Driver memory for tests of the device side of a split queue
//! ([`DeviceQueue`](crate::DeviceQueue)), and the body of the `avail_ring`
//! fuzz target.

use super::{CANARY, guards_intact, snapshot};
use crate::features::Features;
use crate::queue::{QueueMemory, SplitLayout, SplitQueue};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use std::vec::Vec;

/// Device address of a [`DriverArena`]'s memory (its ring is at the start).
pub const RING_BASE: u64 = 0x4880_0000;
/// Bytes of a [`DriverArena`]'s driver memory.
const ARENA_LEN: usize = 0x4000;
/// Canary bytes on each side of the driver memory.
const ARENA_GUARD: usize = 0x1000;

/// Driver memory for tests of the device side: a queue of `size` entries
/// in the legacy layout (Queue Align 4096) at [`RING_BASE`], buffers
/// after it, canaries around it. It is the [`DriverMemory`](crate::DriverMemory) the device is
/// held to, and lets a test write the driver's rings by hand.
pub struct DriverArena {
    heap: HeapRegion,
    layout: SplitLayout,
}

impl DriverArena {
    /// An arena with a zeroed queue of `size` entries.
    pub fn new(size: u16) -> Self {
        let heap = HeapRegion::new(ARENA_LEN + 2 * ARENA_GUARD);
        let all = heap.memory();
        all.fill(0, all.len(), CANARY).expect("in region");
        all.fill(ARENA_GUARD, ARENA_LEN, 0).expect("in region");
        let layout = SplitLayout::legacy(size, 4096).expect("valid size");
        DriverArena { heap, layout }
    }
    /// The driver memory.
    pub fn memory(&self) -> SharedMemory {
        self.heap.memory().slice(ARENA_GUARD, ARENA_LEN).expect("in region")
    }
    /// Where the queue is.
    pub fn ring(&self) -> crate::RingPlacement {
        let at = |o: usize| RING_BASE + o as u64;
        crate::RingPlacement::new(
            self.layout.size(),
            at(0),
            at(self.layout.avail_offset()),
            at(self.layout.used_offset()),
        )
    }
    /// The real driver side on the arena's queue.
    pub fn driver_queue<const N: usize>(&self) -> SplitQueue<N> {
        let mem = self.memory().slice(0, self.layout.total_size()).expect("fits");
        SplitQueue::new(QueueMemory { mem, device_addr: RING_BASE }, self.layout, Features::EMPTY, None)
            .expect("queue fits")
    }
    /// Device address of buffer `i` (1 KiB each, after the queue).
    pub fn buffer(&self, i: u64) -> u64 {
        RING_BASE + 0x2000 + i * 0x400
    }
    /// Write descriptor `i`.
    pub fn set_desc(&self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let m = self.memory();
        let at = i as usize * 16;
        m.write::<u64>(at, addr.to_le()).expect("in table");
        m.write::<u32>(at + 8, len.to_le()).expect("in table");
        m.write::<u16>(at + 12, flags.to_le()).expect("in table");
        m.write::<u16>(at + 14, next.to_le()).expect("in table");
    }
    /// avail.idx.
    pub fn set_avail_idx(&self, idx: u16) {
        self.memory().write::<u16>(self.layout.avail_offset() + 2, idx.to_le()).expect("in ring");
    }
    /// Make `head` available (avail.ring[idx % size] = head; idx + 1).
    pub fn offer(&self, head: u16) {
        let m = self.memory();
        let a = self.layout.avail_offset();
        let idx = u16::from_le(m.read::<u16>(a + 2).expect("in ring"));
        let slot = a + 4 + 2 * (idx % self.layout.size()) as usize;
        m.write::<u16>(slot, head.to_le()).expect("in ring");
        self.set_avail_idx(idx.wrapping_add(1));
    }
    /// The used ring's bytes.
    pub fn used_ring(&self) -> Vec<u8> {
        snapshot(&self.memory(), self.layout.used_offset(), 4 + 8 * self.layout.size() as usize)
    }
    /// Whether the canaries around the driver memory are intact.
    pub fn guards_intact(&self) -> bool {
        let all = self.heap.memory();
        guards_intact(&all, &[(0, ARENA_GUARD), (ARENA_GUARD + ARENA_LEN, ARENA_GUARD)])
    }
    /// Bytes of the descriptor table and the available ring together.
    fn driver_area(&self) -> usize {
        self.layout.avail_offset() + 6 + 2 * self.layout.size() as usize
    }
}

impl crate::DriverMemory for DriverArena {
    fn window(&self, addr: u64, len: u64) -> Option<SharedMemory> {
        let offset = addr.checked_sub(RING_BASE)?;
        let end = offset.checked_add(len)?;
        if end > ARENA_LEN as u64 {
            return None;
        }
        self.memory().slice(offset as usize, len as usize)
    }
}

/// Arbitrary bytes as the driver's descriptor table and available ring
/// (the body of the `avail_ring` fuzz target): round after round the
/// bytes overwrite what the driver writes, and the device side takes
/// every chain it is offered, fills its writable buffers and returns it.
/// It never panics, never writes outside the driver memory, never holds
/// more chains than the queue has entries, and a failed queue stays
/// failed with the same fault.
pub fn fuzz_avail_ring(data: &[u8]) {
    const SIZE: u16 = 8;
    let arena = DriverArena::new(SIZE);
    let mut device = crate::DeviceQueue::<{ SIZE as usize }>::new(arena.ring(), &arena).expect("ring in memory");
    let area = arena.driver_area();
    let mut fault = None;
    for round in data.chunks(area.min(64)) {
        let Some((&at, bytes)) = round.split_first() else { break };
        let start = (at as usize * 3) % area;
        let n = bytes.len().min(area - start);
        arena.memory().copy_in(start, &bytes[..n]).expect("in driver area");
        for _ in 0..=SIZE {
            match device.pop(&arena) {
                Ok(Some(chain)) => {
                    assert!(fault.is_none(), "a chain after a fault");
                    for b in chain.buffers().filter(|b| b.writable) {
                        b.mem.fill(0, b.mem.len(), 0x5a).expect("window is in bounds");
                    }
                    // Return every other chain at once; keep the rest.
                    if chain.head % 2 == 0 {
                        let len = chain.writable_len().min(u64::from(u32::MAX)) as u32;
                        device.push(chain.head, len).expect("a held chain returns");
                    }
                }
                Ok(None) => break,
                Err(f) => {
                    assert!(fault.is_none_or(|old| old == f), "fault changed");
                    fault = Some(f);
                    assert_eq!(device.pop(&arena).err(), Some(f), "failed queue recovered");
                    break;
                }
            }
        }
        assert!(device.held() <= SIZE as usize, "more chains held than entries");
        assert!(arena.guards_intact(), "write outside the driver memory");
    }
}
