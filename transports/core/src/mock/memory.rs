//! Physical memory as a mock device sees it: device addresses mapped to
//! host regions, and the device side of split (VIRTIO 1.2 §2.7) and
//! packed (§2.8) virtqueues in it.

use sevio_sharedmem::SharedMemory;
use sevio_virtio::Buffer;
use sevio_virtio::queue::{
    DESC_F_AVAIL, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_USED, DESC_F_WRITE, RING_EVENT_FLAGS_DESC,
    RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_ENABLE, RingCursor, vring_need_event,
};
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

/// The device's state of one queue. For a packed ring `avail` and `used`
/// are the driver and device event suppression structures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MockQueue {
    /// Size.
    pub size: u16,
    /// Descriptor table (split) or ring (packed) address.
    pub desc: u64,
    /// Available ring / driver event suppression address.
    pub avail: u64,
    /// Used ring / device event suppression address.
    pub used: u64,
    /// The packed format (VIRTIO_F_RING_PACKED negotiated).
    pub packed: bool,
    /// QueueReady was given.
    pub ready: bool,
    /// Chains read so far (wrapping): split, the next available entry.
    pub next_avail: u16,
    /// Chains used so far (wrapping): split, the device's used.idx.
    pub used_idx: u16,
    /// `used_idx` at the last interrupt decision.
    pub signalled: u16,
    /// Packed: where the next available descriptor is read.
    pub avail_cursor: RingCursor,
    /// Packed: where the next used descriptor is written.
    pub used_cursor: RingCursor,
    /// Packed: `used_cursor` at the last interrupt decision.
    pub signalled_cursor: RingCursor,
}

impl MockQueue {
    /// A split queue at these addresses, not ready yet.
    pub fn new(size: u16, desc: u64, avail: u64, used: u64) -> Self {
        MockQueue {
            size,
            desc,
            avail,
            used,
            packed: false,
            ready: false,
            next_avail: 0,
            used_idx: 0,
            signalled: 0,
            avail_cursor: RingCursor::START,
            used_cursor: RingCursor::START,
            signalled_cursor: RingCursor::START,
        }
    }

    /// A packed queue with its ring at `ring` and the driver and device
    /// event suppression structures at `driver_event`, `device_event`.
    pub fn new_packed(size: u16, ring: u64, driver_event: u64, device_event: u64) -> Self {
        MockQueue { packed: true, ..Self::new(size, ring, driver_event, device_event) }
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
    ///
    /// A packed queue records each chain's descriptor count in `in_flight`
    /// (indexed by buffer id), which `push_used` needs to know where the
    /// next used descriptor goes.
    pub fn pop_avail(&mut self, mem: &PhysMap, event_idx: bool, in_flight: &mut [u16]) -> Option<Chain> {
        if self.packed {
            return self.pop_avail_packed(mem, event_idx, in_flight);
        }
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

    /// Chains the driver made available so far (wrapping), as split's
    /// `avail.idx` counts them: for a packed ring, those read plus those
    /// waiting from `avail_cursor` on.
    pub fn avail_count(&self, mem: &PhysMap) -> u16 {
        if !self.packed {
            return mem.read_u16(self.avail + 2);
        }
        let (mut cursor, mut waiting, mut seen) = (self.avail_cursor, 0u16, 0u16);
        while seen < self.size {
            let flags = mem.read_u16(self.desc + 16 * cursor.pos as u64 + 14);
            if !Self::is_available(flags, cursor.wrap) {
                break;
            }
            seen += 1;
            if flags & DESC_F_NEXT == 0 {
                waiting += 1;
            }
            cursor = cursor.advance(1, self.size);
        }
        self.next_avail.wrapping_add(waiting)
    }

    /// §2.8.1: available when AVAIL equals the driver's wrap counter and
    /// USED does not.
    fn is_available(flags: u16, wrap: bool) -> bool {
        (flags & DESC_F_AVAIL != 0) == wrap && (flags & DESC_F_USED != 0) != wrap
    }

    fn pop_avail_packed(&mut self, mem: &PhysMap, event_idx: bool, in_flight: &mut [u16]) -> Option<Chain> {
        let head = self.avail_cursor;
        let head_flags = mem.read_u16(self.desc + 16 * head.pos as u64 + 14);
        if !Self::is_available(head_flags, head.wrap) {
            // §2.8.10: ask for a notification at the next descriptor the
            // driver makes available (or at every one without EVENT_IDX).
            if event_idx {
                mem.write_u16(self.used, head.event_word());
                mem.write_u16(self.used + 2, RING_EVENT_FLAGS_DESC);
            }
            return None;
        }
        let (mut cursor, mut bufs, mut ndesc, mut indirect) = (head, Vec::new(), 0u16, false);
        let id = loop {
            assert!(ndesc < self.size, "descriptor chain longer than the ring");
            let (addr, len, id, flags) = Self::desc_at(mem, self.desc, cursor.pos);
            assert!(Self::is_available(flags, cursor.wrap), "chain continues into a descriptor not available");
            ndesc += 1;
            cursor = cursor.advance(1, self.size);
            if flags & DESC_F_INDIRECT != 0 {
                assert_eq!(flags & DESC_F_NEXT, 0, "INDIRECT with NEXT");
                assert!(ndesc == 1, "INDIRECT inside a chain");
                assert!(len % 16 == 0 && len > 0, "indirect table length {len}");
                indirect = true;
                for i in 0..(len / 16) as u16 {
                    let (addr, len, _, flags) = Self::desc_at(mem, addr, i);
                    assert_eq!(flags & !DESC_F_WRITE, 0, "flags other than WRITE in an indirect table");
                    Self::push_buf(&mut bufs, Buffer { addr, len, writable: flags & DESC_F_WRITE != 0 });
                }
                break id;
            }
            Self::push_buf(&mut bufs, Buffer { addr, len, writable: flags & DESC_F_WRITE != 0 });
            if flags & DESC_F_NEXT == 0 {
                // §2.8.6: the buffer id is in the last descriptor.
                break id;
            }
        };
        let slot = in_flight.get_mut(id as usize).unwrap_or_else(|| panic!("buffer id {id} out of range"));
        assert_eq!(*slot, 0, "buffer id {id} already in flight");
        *slot = ndesc;
        self.avail_cursor = cursor;
        self.next_avail = self.next_avail.wrapping_add(1);
        Some(Chain { head: id, bufs, indirect })
    }

    fn push_buf(bufs: &mut Vec<Buffer>, b: Buffer) {
        if let Some(last) = bufs.last() {
            let last: &Buffer = last;
            assert!(!last.writable || b.writable, "readable after writable");
        }
        bufs.push(b);
    }

    /// Put `(id, len)` in the used ring and publish it (split: used.idx +
    /// 1; packed: a used descriptor at `used_cursor`, its flags last).
    /// Panics on a packed buffer id not in flight (a test that wants to
    /// lie about ids writes the ring itself).
    pub fn push_used(&mut self, mem: &PhysMap, id: u32, len: u32, in_flight: &mut [u16]) {
        if self.packed {
            let ndesc = in_flight.get_mut(id as usize).map_or(0, core::mem::take);
            assert!(ndesc > 0, "buffer id {id} is not in flight");
            let at = self.desc + 16 * self.used_cursor.pos as u64;
            mem.write_u32(at + 8, len);
            mem.write_u16(at + 12, id as u16);
            // §2.8.1: AVAIL and USED both equal to the device's wrap
            // counter; WRITE when the length says bytes were written.
            let mark = if self.used_cursor.wrap { DESC_F_AVAIL | DESC_F_USED } else { 0 };
            mem.write_u16(at + 14, mark | if len > 0 { DESC_F_WRITE } else { 0 });
            self.used_cursor = self.used_cursor.advance(ndesc, self.size);
            self.used_idx = self.used_idx.wrapping_add(1);
            return;
        }
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
        let (old_cursor, new_cursor) = (self.signalled_cursor, self.used_cursor);
        self.signalled_cursor = new_cursor;
        if old == new {
            return false;
        }
        if self.packed {
            // §2.8.10: the driver event suppression structure.
            let off_wrap = mem.read_u16(self.avail);
            return match mem.read_u16(self.avail + 2) & 3 {
                RING_EVENT_FLAGS_ENABLE => true,
                RING_EVENT_FLAGS_DISABLE => false,
                RING_EVENT_FLAGS_DESC if event_idx => {
                    let event = RingCursor::from_event_word(off_wrap);
                    let size = self.size;
                    vring_need_event(
                        event.in_lap_of(new_cursor.wrap, size),
                        new_cursor.pos,
                        old_cursor.in_lap_of(new_cursor.wrap, size),
                    )
                }
                _ => true,
            };
        }
        if event_idx {
            let used_event = mem.read_u16(self.avail + 4 + 2 * self.size as u64);
            vring_need_event(used_event, new, old)
        } else {
            mem.read_u16(self.avail) & 1 == 0
        }
    }
}
