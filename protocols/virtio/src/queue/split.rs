//! The split virtqueue, driver side (VIRTIO 1.2 §2.7).
//!
//! Memory map inside the queue region (offsets from [`SplitLayout`]):
//! descriptor `i` at `16 i` (`addr u64, len u32, flags u16, next u16`);
//! available ring `flags u16, idx u16, ring[n] u16, used_event u16`;
//! used ring `flags u16, idx u16, ring[n] {id u32, len u32}, avail_event u16`.
//! All little-endian.
//!
//! Driver-private state (never in shared memory): the free list, the
//! shape of each chain in flight (last descriptor, descriptor count,
//! writable length), the available index, and the last used index seen.

use super::chain::{
    Chain, FaultLatch, IndirectPool, QueueMemory, read_le16, read_le32, validate_chain, write_le16, write_le32,
    write_le64,
};
use super::{
    AVAIL_F_NO_INTERRUPT, Buffer, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE, SplitLayout, Token,
    USED_F_NO_NOTIFY, Used, VirtQueue,
};
use crate::features::{Features, general};
use crate::{DeviceFault, Error};
use sevio_sharedmem::{SharedMemory, dma_mb, dma_rmb, dma_wmb};

/// Offsets (from the region start) of everything the queue touches.
#[derive(Copy, Clone, Debug)]
struct Offsets {
    avail_flags: usize,
    avail_idx: usize,
    avail_ring: usize,
    used_event: usize,
    used_flags: usize,
    used_idx: usize,
    used_ring: usize,
    avail_event: usize,
}

/// A split virtqueue of up to `N` descriptors, driver side.
///
/// `N` bounds the queue size the driver supports (private state is sized
/// by it, no heap); the actual size comes from the [`SplitLayout`].
pub struct SplitQueue<const N: usize> {
    mem: SharedMemory,
    device_addr: u64,
    layout: SplitLayout,
    off: Offsets,
    size: u16,
    /// `size - 1` as a word of its own (ring slot = index & mask).
    mask: usize,
    event_idx: bool,
    indirect: Option<IndirectPool>,
    next: [u16; N],
    chains: [Chain; N],
    free_head: u16,
    num_free: u16,
    in_flight: u16,
    /// Our copy of avail.idx (never read back from shared memory).
    avail_idx: u16,
    /// avail.idx at the last `should_notify`.
    notified_idx: u16,
    /// Next used-ring entry to harvest.
    last_used: u16,
    /// The newest used.idx read and accepted.
    seen_used: u16,
    /// used_event was written since used.idx was last read.
    event_dirty: bool,
    interrupts: bool,
    fault: FaultLatch,
}

/// VIRTIO 1.2 §2.7.10: with EVENT_IDX, notify iff the device's
/// `avail_event` lies in the window of entries added since the last check
/// (`old`, `new`]. The same arithmetic as the spec's `vring_need_event`.
pub const fn vring_need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

impl<const N: usize> SplitQueue<N> {
    const N_OK: () = assert!(N >= 1 && N <= 32768, "N must be 1..=32768");

    /// Set up a queue in `mem` with `layout`, for the `negotiated` features
    /// (EVENT_IDX and INDIRECT_DESC are honoured; an `indirect` pool is
    /// ignored unless INDIRECT_DESC was negotiated). Zeroes the queue
    /// region. Hand [`desc_addr`](Self::desc_addr) etc. to the transport
    /// afterwards.
    pub fn new(
        mem: QueueMemory,
        layout: SplitLayout,
        negotiated: Features,
        indirect: Option<IndirectPool>,
    ) -> Result<Self, Error> {
        #[allow(clippy::let_unit_value)]
        let () = Self::N_OK;
        let size = layout.size();
        if size as usize > N {
            return Err(Error::BadQueueSize(size));
        }
        // VIRTIO 1.2 §2.7: "The driver MUST ensure that the physical
        // address of the first byte of each virtqueue part is a multiple of
        // the specified alignment value".
        mem.check(layout.total_size(), layout.alignment())?;
        let indirect = IndirectPool::for_queue(indirect, size, negotiated)?;
        let n = size as usize;
        let (a, u) = (layout.avail_offset(), layout.used_offset());
        let off = Offsets {
            avail_flags: a,
            avail_idx: a + 2,
            avail_ring: a + 4,
            used_event: a + 4 + 2 * n,
            used_flags: u,
            used_idx: u + 2,
            used_ring: u + 4,
            avail_event: u + 4 + 8 * n,
        };
        mem.mem.fill(0, layout.total_size(), 0).map_err(|_| Error::OutOfBounds)?;
        let mut next = [0u16; N];
        for (i, slot) in next.iter_mut().enumerate().take(n) {
            *slot = ((i + 1) % n) as u16;
        }
        Ok(SplitQueue {
            mem: mem.mem,
            device_addr: mem.device_addr,
            layout,
            off,
            size,
            mask: n - 1,
            event_idx: negotiated.has(general::EVENT_IDX),
            indirect,
            next,
            chains: [Chain::default(); N],
            free_head: 0,
            num_free: size,
            in_flight: 0,
            avail_idx: 0,
            notified_idx: 0,
            last_used: 0,
            seen_used: 0,
            event_dirty: false,
            interrupts: true,
            fault: FaultLatch::default(),
        })
    }

    /// Device address of the descriptor table (QueueDesc / queue_desc).
    pub fn desc_addr(&self) -> u64 {
        self.device_addr + self.layout.desc_offset() as u64
    }
    /// Device address of the available ring (QueueDriver / queue_driver).
    pub fn avail_addr(&self) -> u64 {
        self.device_addr + self.layout.avail_offset() as u64
    }
    /// Device address of the used ring (QueueDevice / queue_device).
    pub fn used_addr(&self) -> u64 {
        self.device_addr + self.layout.used_offset() as u64
    }
    /// The layout in use.
    pub fn layout(&self) -> &SplitLayout {
        &self.layout
    }
    /// Whether EVENT_IDX is in use.
    pub fn event_idx(&self) -> bool {
        self.event_idx
    }
    /// Whether an indirect pool is in use.
    pub fn uses_indirect(&self) -> bool {
        self.indirect.is_some()
    }
    /// The device fault that failed this queue, if any.
    pub fn fault(&self) -> Option<DeviceFault> {
        self.fault.get()
    }
    /// Whether a chain of `bufs` buffers can be added now.
    pub fn can_add(&self, bufs: usize) -> bool {
        let need = IndirectPool::descriptors_for(self.indirect, bufs);
        self.fault.get().is_none() && bufs >= 1 && need <= self.num_free as usize
    }

    fn check(&self) -> Result<(), Error> {
        self.fault.check()
    }

    fn fail(&mut self, f: DeviceFault) -> Error {
        self.fault.fail(f)
    }

    fn w16(&self, off: usize, v: u16) -> Result<(), Error> {
        write_le16(&self.mem, off, v)
    }

    fn r16(&self, off: usize) -> Result<u16, Error> {
        read_le16(&self.mem, off)
    }

    fn write_desc(mem: &SharedMemory, at: usize, b: &Buffer, flags: u16, next: u16) -> Result<(), Error> {
        let flags = flags | if b.writable { DESC_F_WRITE } else { 0 };
        write_le64(mem, at, b.addr)?;
        write_le32(mem, at + 8, b.len)?;
        // flags (low half) and next (high half) as one little-endian word.
        let word = flags as u32 | (next as u32) << 16;
        write_le32(mem, at + 12, word)
    }

    fn add_direct(&mut self, bufs: &[Buffer]) -> Result<(u16, u16), Error> {
        let head = self.free_head;
        let mut cur = head;
        let mut last = head;
        let n = bufs.len();
        for (i, b) in bufs.iter().enumerate() {
            let nxt = self.next[cur as usize];
            let (flags, link) = if i + 1 < n { (DESC_F_NEXT, nxt) } else { (0, 0) };
            Self::write_desc(&self.mem, cur as usize * DESC_SIZE, b, flags, link)?;
            last = cur;
            cur = nxt;
        }
        self.free_head = cur;
        Ok((head, last))
    }

    fn add_indirect(&mut self, pool: IndirectPool, bufs: &[Buffer]) -> Result<u16, Error> {
        let head = self.free_head;
        let table = pool.table_offset(head);
        let n = bufs.len();
        for (i, b) in bufs.iter().enumerate() {
            let (flags, link) = if i + 1 < n { (DESC_F_NEXT, i as u16 + 1) } else { (0, 0) };
            Self::write_desc(&pool.mem, table + i * DESC_SIZE, b, flags, link)?;
        }
        // VIRTIO 1.2 §2.7.5.3: "A driver MUST NOT set both
        // VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT in flags." The table
        // itself is device-readable (no WRITE flag).
        let main = Buffer::readable(pool.device_addr + table as u64, (n * DESC_SIZE) as u32);
        Self::write_desc(&self.mem, head as usize * DESC_SIZE, &main, DESC_F_INDIRECT, 0)?;
        self.free_head = self.next[head as usize];
        Ok(head)
    }
}

impl<const N: usize> VirtQueue for SplitQueue<N> {
    fn size(&self) -> u16 {
        self.size
    }

    fn free_descriptors(&self) -> u16 {
        self.num_free
    }

    fn in_flight(&self) -> u16 {
        self.in_flight
    }

    fn add(&mut self, bufs: &[Buffer]) -> Result<Token, Error> {
        self.check()?;
        let writable = validate_chain(bufs, self.size)?;
        let pool = IndirectPool::takes(self.indirect, bufs.len());
        let need = if pool.is_some() { 1 } else { bufs.len() as u16 };
        if need > self.num_free {
            return Err(Error::QueueFull);
        }
        let (head, tail) = match pool {
            Some(p) => {
                let h = self.add_indirect(p, bufs)?;
                (h, h)
            }
            None => self.add_direct(bufs)?,
        };
        self.chains[head as usize] = Chain { tail, ndesc: need, writable };
        self.num_free -= need;
        self.in_flight += 1;
        // §2.7.13.2: put the head in the next available-ring slot, then
        // (§2.7.13.3) a barrier so the device sees descriptors and ring
        // entry before the new idx.
        let slot = self.avail_idx as usize & self.mask;
        self.w16(self.off.avail_ring + 2 * slot, head)?;
        dma_wmb();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.w16(self.off.avail_idx, self.avail_idx)?;
        Ok(Token(head))
    }

    fn should_notify(&mut self) -> Result<bool, Error> {
        self.check()?;
        let (new, old) = (self.avail_idx, self.notified_idx);
        self.notified_idx = new;
        if new == old {
            return Ok(false);
        }
        // §2.7.13.4: the idx update must be visible before we read the
        // device's suppression state.
        dma_mb();
        if self.event_idx {
            // VIRTIO 1.2 §2.7.10: "If the idx field in the available ring
            // (which determined where that descriptor index was placed) was
            // equal to avail_event, the driver MUST send a notification."
            let event = self.r16(self.off.avail_event)?;
            Ok(vring_need_event(event, new, old))
        } else {
            // VIRTIO 1.2 §2.7.10: "If flags is 0, the driver MUST send a
            // notification." (If it is 1 the driver SHOULD NOT.)
            let flags = self.r16(self.off.used_flags)?;
            Ok(flags & USED_F_NO_NOTIFY == 0)
        }
    }

    fn pop_used(&mut self) -> Result<Option<Used>, Error> {
        self.check()?;
        if self.last_used == self.seen_used {
            let mut idx = self.r16(self.off.used_idx)?;
            if idx == self.last_used && self.event_dirty {
                // Before answering "nothing" (after which the caller may
                // wait for an interrupt), order our used_event write before
                // a fresh idx read: then either we see the device's new
                // entry or it sees our used_event (no lost interrupt). A
                // read that already shows new entries needs no barrier.
                dma_mb();
                self.event_dirty = false;
                idx = self.r16(self.off.used_idx)?;
            }
            let ahead = idx.wrapping_sub(self.last_used);
            if ahead == 0 {
                return Ok(None);
            }
            // §2.7.8: used.idx counts the entries the device has added; it
            // can never exceed what was made available, so it may run at
            // most `in_flight` entries ahead of what we harvested.
            if ahead > self.in_flight {
                let f = if (ahead as i16) < 0 {
                    DeviceFault::UsedIndexBackwards { used_idx: idx, last_seen: self.seen_used }
                } else {
                    DeviceFault::UsedIndexAhead { used_idx: idx, last_used: self.last_used, in_flight: self.in_flight }
                };
                return Err(self.fail(f));
            }
            self.seen_used = idx;
            // Read the entries only after the idx that published them.
            dma_rmb();
        }
        let slot = self.last_used as usize & self.mask;
        let at = self.off.used_ring + 8 * slot;
        let id = read_le32(&self.mem, at)?;
        let len = read_le32(&self.mem, at + 4)?;
        // §2.7.8: "id indicates the head entry of the descriptor chain
        // describing the buffer (this matches an entry placed in the
        // available ring by the guest earlier)". An id outside the table,
        // of a descriptor that is not the head of a chain in flight, or of
        // one already harvested, matches no such entry.
        if id >= self.size as u32 {
            return Err(self.fail(DeviceFault::UsedIdOutOfRange { id }));
        }
        let chain = self.chains[id as usize];
        if chain.ndesc == 0 {
            return Err(self.fail(DeviceFault::UsedIdNotInFlight { id: id as u16 }));
        }
        // VIRTIO 1.2 §2.7.8: "The device MUST write at least len bytes
        // to descriptor, beginning at the first device-writable buffer,
        // prior to updating the used idx." A len beyond the writable
        // buffers posted cannot have been written.
        if len > chain.writable {
            return Err(self.fail(DeviceFault::UsedLenTooLarge {
                id: id as u16,
                len,
                writable: chain.writable as u64,
            }));
        }
        self.chains[id as usize].ndesc = 0;
        self.next[chain.tail as usize] = self.free_head;
        self.free_head = id as u16;
        self.num_free += chain.ndesc;
        self.in_flight -= 1;
        self.last_used = self.last_used.wrapping_add(1);
        if self.event_idx && self.interrupts {
            // Interrupt at the next entry the device adds (§2.7.7).
            self.w16(self.off.used_event, self.last_used)?;
            self.event_dirty = true;
        }
        Ok(Some(Used { token: Token(id as u16), len }))
    }

    fn disable_interrupts(&mut self) -> Result<(), Error> {
        self.check()?;
        self.interrupts = false;
        if self.event_idx {
            // VIRTIO 1.2 §2.7.7: with EVENT_IDX "The driver MUST set
            // flags to 0"; suppress through used_event instead: the entry
            // one behind the last harvested cannot be reached again before
            // 65535 more, and at most `size` can be outstanding.
            self.w16(self.off.used_event, self.last_used.wrapping_sub(1))
        } else {
            // §2.7.7: "The driver MAY set flags to 1 to advise the device
            // that notifications are not needed."
            self.w16(self.off.avail_flags, AVAIL_F_NO_INTERRUPT)
        }
    }

    fn enable_interrupts(&mut self) -> Result<bool, Error> {
        self.check()?;
        self.interrupts = true;
        if self.event_idx {
            self.w16(self.off.used_event, self.last_used)?;
        } else {
            self.w16(self.off.avail_flags, 0)?;
        }
        // The write must be visible before we look for entries that the
        // device may have added without seeing it.
        dma_mb();
        self.event_dirty = false;
        let idx = self.r16(self.off.used_idx)?;
        Ok(idx != self.last_used)
    }
}
