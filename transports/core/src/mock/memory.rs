//! Physical memory as a mock device sees it: device addresses mapped to
//! host regions, and the device side of split virtqueues in it.

use sevio_sharedmem::SharedMemory;
use sevio_virtio::Buffer;
use sevio_virtio::queue::{DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, vring_need_event};
use std::vec::Vec;

/// Device addresses backed by host memory (the driver's DMA region, a
/// client's data region, ...). Accesses outside every region panic: in a
/// test, a wild device address is the driver's bug.
#[derive(Clone, Debug, Default)]
pub struct PhysMap {
    regions: Vec<(u64, SharedMemory)>,
}

impl PhysMap {
    /// Back `paddr..paddr + mem.len()` with `mem`.
    pub fn add(&mut self, paddr: u64, mem: SharedMemory) {
        self.regions.push((paddr, mem));
    }

    /// The region and offset holding `paddr..paddr + len`, if one does.
    pub fn find(&self, paddr: u64, len: usize) -> Option<(SharedMemory, usize)> {
        self.regions.iter().find_map(|(base, mem)| {
            let off = usize::try_from(paddr.checked_sub(*base)?).ok()?;
            (off.checked_add(len)? <= mem.len()).then_some((*mem, off))
        })
    }

    /// Whether `paddr..paddr + len` is backed.
    pub fn contains(&self, paddr: u64, len: usize) -> bool {
        self.find(paddr, len).is_some()
    }

    fn at(&self, paddr: u64, len: usize) -> (SharedMemory, usize) {
        self.find(paddr, len).unwrap_or_else(|| panic!("device access to unmapped {paddr:#x}+{len}"))
    }

    /// Copy out `buf.len()` bytes at `paddr`.
    pub fn read(&self, paddr: u64, buf: &mut [u8]) {
        let (mem, off) = self.at(paddr, buf.len());
        mem.copy_out(off, buf).expect("checked range");
    }

    /// Copy `data` in at `paddr`.
    pub fn write(&self, paddr: u64, data: &[u8]) {
        let (mem, off) = self.at(paddr, data.len());
        mem.copy_in(off, data).expect("checked range");
    }

    /// Little-endian u16 at `paddr`.
    pub fn read_u16(&self, paddr: u64) -> u16 {
        let mut b = [0u8; 2];
        self.read(paddr, &mut b);
        u16::from_le_bytes(b)
    }

    /// Little-endian u32 at `paddr`.
    pub fn read_u32(&self, paddr: u64) -> u32 {
        let mut b = [0u8; 4];
        self.read(paddr, &mut b);
        u32::from_le_bytes(b)
    }

    /// Little-endian u64 at `paddr`.
    pub fn read_u64(&self, paddr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.read(paddr, &mut b);
        u64::from_le_bytes(b)
    }

    /// Store a little-endian u16 at `paddr` (one aligned access).
    pub fn write_u16(&self, paddr: u64, v: u16) {
        let (mem, off) = self.at(paddr, 2);
        mem.write::<u16>(off, v.to_le()).expect("aligned ring field");
    }

    /// Store a little-endian u32 at `paddr`.
    pub fn write_u32(&self, paddr: u64, v: u32) {
        self.write(paddr, &v.to_le_bytes());
    }
}

/// A descriptor chain the driver made available, as the device reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Head descriptor index (the id to put in the used ring).
    pub head: u16,
    /// Every buffer, readable ones first.
    pub bufs: Vec<Buffer>,
    /// Whether the chain came through an indirect table.
    pub indirect: bool,
}

impl Chain {
    /// The device-readable buffers.
    pub fn readable(&self) -> impl Iterator<Item = &Buffer> {
        self.bufs.iter().filter(|b| !b.writable)
    }

    /// The device-writable buffers.
    pub fn writable(&self) -> impl Iterator<Item = &Buffer> {
        self.bufs.iter().filter(|b| b.writable)
    }

    /// Total device-writable bytes.
    pub fn writable_len(&self) -> u64 {
        self.writable().map(|b| b.len as u64).sum()
    }
}

/// The device's state of one queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MockQueue {
    /// Size.
    pub size: u16,
    /// Descriptor table address.
    pub desc: u64,
    /// Available ring address.
    pub avail: u64,
    /// Used ring address.
    pub used: u64,
    /// QueueReady was given.
    pub ready: bool,
    /// Next available entry to read.
    pub next_avail: u16,
    /// The device's used.idx.
    pub used_idx: u16,
    /// used.idx at the last interrupt decision.
    pub signalled: u16,
}

impl MockQueue {
    /// A queue at these addresses, not ready yet.
    pub fn new(size: u16, desc: u64, avail: u64, used: u64) -> Self {
        MockQueue { size, desc, avail, used, ready: false, next_avail: 0, used_idx: 0, signalled: 0 }
    }

    fn desc_at(mem: &PhysMap, table: u64, i: u16) -> (u64, u32, u16, u16) {
        let at = table + 16 * i as u64;
        (mem.read_u64(at), mem.read_u32(at + 8), mem.read_u16(at + 12), mem.read_u16(at + 14))
    }

    /// The next chain the driver made available, if any; afterwards, with
    /// nothing left, sets `avail_event` to ask for a kick at the next
    /// entry (when `event_idx`). Panics on a chain that breaks the
    /// driver-side rules (loops, writable before readable, NEXT with
    /// INDIRECT, a nested indirect table).
    pub fn pop_avail(&mut self, mem: &PhysMap, event_idx: bool) -> Option<Chain> {
        let n = self.size as u64;
        let avail_idx = mem.read_u16(self.avail + 2);
        if avail_idx == self.next_avail {
            if event_idx {
                mem.write_u16(self.used + 4 + 8 * n, self.next_avail);
            }
            return None;
        }
        assert!(avail_idx.wrapping_sub(self.next_avail) <= self.size, "avail.idx ran past the queue size");
        let head = mem.read_u16(self.avail + 4 + 2 * (self.next_avail as u64 % n));
        assert!(head < self.size, "head {head} out of range");
        self.next_avail = self.next_avail.wrapping_add(1);
        let (addr, len, flags, _) = Self::desc_at(mem, self.desc, head);
        let (table, count, mut i, indirect) = if flags & DESC_F_INDIRECT != 0 {
            assert_eq!(flags & DESC_F_NEXT, 0, "INDIRECT with NEXT");
            assert!(len % 16 == 0 && len > 0, "indirect table length {len}");
            (addr, (len / 16) as u16, 0u16, true)
        } else {
            (self.desc, self.size, head, false)
        };
        let mut bufs = Vec::new();
        loop {
            assert!(bufs.len() < count as usize, "descriptor chain loops");
            let (addr, len, flags, next) = Self::desc_at(mem, table, i);
            if indirect {
                assert_eq!(flags & DESC_F_INDIRECT, 0, "nested indirect table");
            }
            let writable = flags & DESC_F_WRITE != 0;
            if let Some(last) = bufs.last() {
                let last: &Buffer = last;
                assert!(!last.writable || writable, "readable after writable");
            }
            bufs.push(Buffer { addr, len, writable });
            if flags & DESC_F_NEXT == 0 {
                break;
            }
            assert!(next < count, "next {next} out of range");
            i = next;
        }
        Some(Chain { head, bufs, indirect })
    }

    /// Put `(id, len)` in the used ring and publish it (used.idx + 1).
    pub fn push_used(&mut self, mem: &PhysMap, id: u32, len: u32) {
        let at = self.used + 4 + 8 * (self.used_idx as u64 % self.size as u64);
        mem.write_u32(at, id);
        mem.write_u32(at + 4, len);
        self.used_idx = self.used_idx.wrapping_add(1);
        mem.write_u16(self.used + 2, self.used_idx);
    }

    /// Whether the device would interrupt now for the used elements
    /// published since the last decision (VIRTIO 1.2 §2.7.7.2: with
    /// EVENT_IDX by `used_event`, else unless VIRTQ_AVAIL_F_NO_INTERRUPT).
    pub fn interrupt_due(&mut self, mem: &PhysMap, event_idx: bool) -> bool {
        let (old, new) = (self.signalled, self.used_idx);
        self.signalled = new;
        if old == new {
            return false;
        }
        if event_idx {
            let used_event = mem.read_u16(self.avail + 4 + 2 * self.size as u64);
            vring_need_event(used_event, new, old)
        } else {
            mem.read_u16(self.avail) & 1 == 0
        }
    }
}
