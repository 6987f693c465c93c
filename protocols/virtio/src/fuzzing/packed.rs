//! The device side of a packed queue for tests and fuzzing.

use super::{Arena, Ledger, QSIZE, snapshot};
use crate::queue::{
    Buffer, DESC_F_AVAIL, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_USED, DESC_F_WRITE, PackedLayout, PackedQueue, VirtQueue,
};
use sevio_sharedmem::SharedMemory;
use std::vec::Vec;

/// A chain the device found available, as it reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailableChain {
    /// The buffer id (from the chain's last descriptor, §2.8.6).
    pub id: u16,
    /// Descriptors it occupies in the ring (1 for an indirect chain).
    pub ndesc: u16,
    /// Its buffers, in order (expanded from the table if indirect).
    pub bufs: Vec<Buffer>,
    /// Whether it came through an indirect table.
    pub indirect: bool,
}

/// The device side of a packed queue, by raw memory access: raw reads and
/// writes for negative tests, and a device that follows §2.8 (reads
/// available descriptors in ring order, writes used ones in the order it
/// is told to complete them) for positive ones. Test code only: raw
/// accessors panic on out-of-range positions; the well-behaved side never
/// panics on what the driver (or a fuzzer) left in the ring, it just sees
/// nothing available.
pub struct RawPackedDevice {
    mem: SharedMemory,
    layout: PackedLayout,
    /// Next descriptor to look at for availability, with its wrap counter.
    avail: (u16, bool),
    /// Next descriptor to write used, with the device wrap counter.
    used: (u16, bool),
    /// The indirect pool's mapping and device address, to read tables.
    pool: Option<(SharedMemory, u64)>,
}

fn advance((pos, wrap): (u16, bool), n: u16, size: u16) -> (u16, bool) {
    let next = pos as u32 + n as u32;
    if next >= size as u32 { ((next - size as u32) as u16, !wrap) } else { (next as u16, wrap) }
}

impl RawPackedDevice {
    /// The device view of the queue at `mem` (the region the driver was
    /// given) with `layout`; both wrap counters start at 1 (§2.8.1).
    pub fn new(mem: SharedMemory, layout: PackedLayout) -> Self {
        RawPackedDevice { mem, layout, avail: (0, true), used: (0, true), pool: None }
    }
    /// Let the device follow indirect descriptors into `pool`, which the
    /// driver gave the device address `device_addr`.
    pub fn with_pool(mut self, pool: SharedMemory, device_addr: u64) -> Self {
        self.pool = Some((pool, device_addr));
        self
    }
    fn size(&self) -> u16 {
        self.layout.size()
    }
    /// Descriptor at `pos`: (addr, len, id, flags).
    pub fn desc(&self, pos: u16) -> (u64, u32, u16, u16) {
        Self::read_desc(&self.mem, pos as usize * 16).expect("in ring")
    }
    fn read_desc(mem: &SharedMemory, at: usize) -> Option<(u64, u32, u16, u16)> {
        Some((
            u64::from_le(mem.read::<u64>(at)?),
            u32::from_le(mem.read::<u32>(at + 8)?),
            u16::from_le(mem.read::<u16>(at + 12)?),
            u16::from_le(mem.read::<u16>(at + 14)?),
        ))
    }
    /// Write a whole descriptor at `pos` (flags last).
    pub fn write_desc(&self, pos: u16, addr: u64, len: u32, id: u16, flags: u16) {
        let at = pos as usize * 16;
        self.mem.write::<u64>(at, addr.to_le()).expect("in ring");
        self.mem.write::<u32>(at + 8, len.to_le()).expect("in ring");
        self.mem.write::<u16>(at + 12, id.to_le()).expect("in ring");
        self.mem.write::<u16>(at + 14, flags.to_le()).expect("in ring");
    }
    /// The driver event suppression structure: (desc word, flags).
    pub fn driver_event(&self) -> (u16, u16) {
        let off = self.layout.driver_event_offset();
        let r = |o| u16::from_le(self.mem.read::<u16>(o).expect("in queue"));
        (r(off), r(off + 2))
    }
    /// The device event suppression structure: (desc word, flags).
    pub fn device_event(&self) -> (u16, u16) {
        let off = self.layout.device_event_offset();
        let r = |o| u16::from_le(self.mem.read::<u16>(o).expect("in queue"));
        (r(off), r(off + 2))
    }
    /// Write the device event suppression structure.
    pub fn set_device_event(&self, desc: u16, flags: u16) {
        let off = self.layout.device_event_offset();
        self.mem.write::<u16>(off, desc.to_le()).expect("in queue");
        self.mem.write::<u16>(off + 2, flags.to_le()).expect("in queue");
    }
    /// Where the device looks next for an available descriptor.
    pub fn avail_cursor(&self) -> (u16, bool) {
        self.avail
    }
    /// Where the device writes the next used descriptor.
    pub fn used_cursor(&self) -> (u16, bool) {
        self.used
    }
    /// The flags of a used descriptor in the lap with device wrap counter
    /// `wrap` (§2.8.1: AVAIL and USED both equal to it).
    pub fn used_flags(wrap: bool) -> u16 {
        if wrap { DESC_F_AVAIL | DESC_F_USED } else { 0 }
    }

    fn is_available(&self, flags: u16, wrap: bool) -> bool {
        (flags & DESC_F_AVAIL != 0) == wrap && (flags & DESC_F_USED != 0) != wrap
    }

    /// Read the next available chain, if the driver has made one
    /// available, and move past it. `None` if the descriptor at the
    /// cursor is not available, or the chain is malformed (a NEXT into a
    /// descriptor that is not available, longer than the ring, or an
    /// indirect table outside the pool).
    pub fn take_available(&mut self) -> Option<AvailableChain> {
        let size = self.size();
        let mut cur = self.avail;
        let mut bufs = Vec::new();
        for n in 1..=size {
            let (addr, len, id, flags) = Self::read_desc(&self.mem, cur.0 as usize * 16)?;
            if !self.is_available(flags, cur.1) {
                return None;
            }
            cur = advance(cur, 1, size);
            if flags & DESC_F_INDIRECT != 0 {
                if n != 1 || flags & DESC_F_NEXT != 0 {
                    return None;
                }
                let (pool, base) = self.pool?;
                let off = usize::try_from(addr.checked_sub(base)?).ok()?;
                for i in 0..len as usize / 16 {
                    let (a, l, _, f) = Self::read_desc(&pool, off + i * 16)?;
                    bufs.push(Buffer { addr: a, len: l, writable: f & DESC_F_WRITE != 0 });
                }
                self.avail = cur;
                return Some(AvailableChain { id, ndesc: 1, bufs, indirect: true });
            }
            bufs.push(Buffer { addr, len, writable: flags & DESC_F_WRITE != 0 });
            if flags & DESC_F_NEXT == 0 {
                self.avail = cur;
                return Some(AvailableChain { id, ndesc: n, bufs, indirect: false });
            }
        }
        None
    }

    /// Write a used descriptor for buffer `id` (which occupied `ndesc`
    /// ring descriptors) reporting `len` bytes written, and skip the
    /// device's cursor past the chain (§2.8.6). Id and length go first,
    /// the flags (which publish them) last.
    pub fn push_used(&mut self, id: u16, len: u32, ndesc: u16) {
        let (pos, wrap) = self.used;
        let at = pos as usize * 16;
        self.mem.write::<u32>(at + 8, len.to_le()).expect("in ring");
        self.mem.write::<u16>(at + 12, id.to_le()).expect("in ring");
        let written = if len > 0 { DESC_F_WRITE } else { 0 };
        self.mem.write::<u16>(at + 14, (Self::used_flags(wrap) | written).to_le()).expect("in ring");
        self.used = advance(self.used, ndesc, self.size());
    }

    /// Whether the driver asked for a used-buffer notification for the
    /// used descriptors written at the `written` (position, wrap) pairs
    /// (§2.8.10: ENABLE, DISABLE, or DESC naming one of them).
    pub fn driver_wants_interrupt(&self, written: &[(u16, bool)]) -> bool {
        let (desc, flags) = self.driver_event();
        match flags & 3 {
            0 => !written.is_empty(),
            2 => written.contains(&(desc & 0x7fff, desc & 0x8000 != 0)),
            _ => false,
        }
    }
}

/// Build a packed queue of 8, add chains chosen by `data`, let the rest of
/// `data` play the device: completing chains through [`RawPackedDevice`]
/// in an order it picks, or writing raw bytes into descriptors and the
/// device event suppression structure; harvest until empty or error.
/// Panics (the fuzzer's finding) if the driver side misbehaves (see
/// [`Ledger`]), writes the ring while harvesting, or writes outside the
/// queue. Returns how many chains were harvested.
pub fn fuzz_packed_ring(data: &[u8]) -> usize {
    let Some((&ctl, mut rest)) = data.split_first() else { return 0 };
    let layout = PackedLayout::new(QSIZE).expect("valid size");
    let arena = Arena::new(layout.total_size());
    let pool = arena.indirect_pool();
    let mut q: PackedQueue<{ QSIZE as usize }> =
        PackedQueue::new(arena.queue_memory(), layout, Arena::features(ctl), Some(pool)).expect("queue fits");
    let mut dev = RawPackedDevice::new(arena.queue, layout).with_pool(pool.mem, pool.device_addr);
    let ring_len = layout.driver_event_offset();
    let mut ledger = Ledger::new();
    let mut pending: Vec<AvailableChain> = Vec::new();
    let next = |rest: &mut &[u8]| -> u8 {
        let (&b, tail) = rest.split_first().unwrap_or((&0, &[]));
        *rest = tail;
        b
    };
    while let Some((&plan, tail)) = rest.split_first() {
        rest = tail;
        ledger.add(&mut q, PackedQueue::can_add, plan);
        let op = next(&mut rest);
        let pos = (op >> 2) as u16 % QSIZE;
        match op & 3 {
            0 => {
                // Well-behaved: read what is available, complete some in
                // an order chosen by the data, with lengths it picks.
                while let Some(c) = dev.take_available() {
                    pending.push(c);
                }
                for _ in 0..next(&mut rest) % 4 {
                    if pending.is_empty() {
                        break;
                    }
                    let c = pending.remove(next(&mut rest) as usize % pending.len());
                    let writable: u64 = c.bufs.iter().filter(|b| b.writable).map(|b| b.len as u64).sum();
                    let len = ((next(&mut rest) as u64 * 37) % (writable + 2)) as u32;
                    dev.push_used(c.id, len, c.ndesc);
                }
            }
            1 => {
                let mut raw = [0u8; 16];
                raw.iter_mut().for_each(|b| *b = next(&mut rest));
                arena.queue.copy_in(pos as usize * 16, &raw).expect("in ring");
            }
            2 => {
                let flags = u16::from_le_bytes([next(&mut rest), next(&mut rest)]);
                arena.queue.write::<u16>(pos as usize * 16 + 14, flags.to_le()).expect("in ring");
            }
            _ => {
                let desc = u16::from_le_bytes([next(&mut rest), next(&mut rest)]);
                dev.set_device_event(desc, next(&mut rest) as u16);
                let _ = q.should_notify();
                // The driver framework's batching: an event a number of
                // chains ahead (from the same input byte), whatever the
                // ring holds now.
                let _ = q.interrupt_after(desc >> 8);
            }
        }
        let ring_before = snapshot(&arena.queue, 0, ring_len);
        ledger.harvest(&mut q);
        assert_eq!(ring_before, snapshot(&arena.queue, 0, ring_len), "harvest wrote the descriptor ring");
        assert!(arena.guards_intact(), "write outside the queue");
    }
    ledger.harvested
}
