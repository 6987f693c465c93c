//! The packed virtqueue, driver side (VIRTIO 1.2 §2.8).
//!
//! Memory map inside the queue region (offsets from [`PackedLayout`]):
//! descriptor `i` at `16 i` (`addr u64, len u32, id u16, flags u16`), then
//! the driver event suppression structure (`desc u16, flags u16`, written
//! by us) and the device event suppression structure (read by us). All
//! little-endian.
//!
//! One ring carries both directions: the driver writes available
//! descriptors at `next_avail` and the device overwrites them with used
//! descriptors, in completion order, starting where the ring's oldest
//! outstanding chain starts. Each side keeps a one-bit wrap counter
//! (initially 1) that flips whenever its position passes the end of the
//! ring; a descriptor is available when its AVAIL bit equals the driver's
//! counter and its USED bit does not, and used when both bits equal the
//! device's counter (§2.8.1).
//!
//! Driver-private state (never in shared memory): the free buffer ids,
//! the shape of each chain in flight (descriptors it occupies in the ring,
//! writable length), both positions and wrap counters. The driver reads
//! only three things the device writes: the flags, id and length of the
//! one descriptor at `next_used`, and the device event suppression
//! structure. Each is checked before it is believed:
//!
//! - a descriptor marked used in this lap while nothing is in flight
//!   ([`DeviceFault::UsedWithoutAvailable`]);
//! - while chains are in flight, AVAIL/USED bits at `next_used` that are
//!   neither our available descriptor nor a used one of this lap
//!   ([`DeviceFault::UsedFlagsInconsistent`]);
//! - a buffer id outside the queue or not in flight
//!   ([`DeviceFault::UsedIdOutOfRange`], [`DeviceFault::UsedIdNotInFlight`]);
//! - a used length beyond the writable bytes posted
//!   ([`DeviceFault::UsedLenTooLarge`]).
//!
//! Positions are always below the queue size, so no device value can move
//! a read or write outside the ring. VIRTIO_F_IN_ORDER (one used
//! descriptor for a batch) is not supported: a driver must not negotiate
//! it with this queue.

use super::chain::{
    Chain, FaultLatch, IndirectPool, QueueMemory, read_le16, read_le32, validate_chain, write_le16, write_le32,
    write_le64,
};
use super::{
    Buffer, DESC_F_AVAIL, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_USED, DESC_F_WRITE, DESC_SIZE, PackedLayout,
    RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_ENABLE, RingPlacement, Token, Used, VirtQueue,
    vring_need_event,
};
use crate::features::{Features, general};
use crate::{DeviceFault, Error};
use sevio_sharedmem::{SharedMemory, dma_mb, dma_rmb, dma_wmb};

/// Bit 15 of an event suppression `desc` word: the wrap counter; bits
/// 0..=14: the ring offset (§2.8.14).
const EVENT_WRAP: u16 = 1 << 15;

/// A position in a packed ring with the wrap counter that goes with it
/// (either side's: the driver's next available, the device's next used).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingCursor {
    /// Below the queue size.
    pub pos: u16,
    /// The wrap counter for `pos` (§2.8.1: starts at 1).
    pub wrap: bool,
}

impl RingCursor {
    /// Where both sides start (§2.8.1: position 0, wrap counter 1).
    pub const START: RingCursor = RingCursor { pos: 0, wrap: true };

    /// Move on `n` descriptors (at most the ring size), flipping the wrap
    /// counter each time the end of a ring of `size` is passed (§2.8.1:
    /// "The driver changes the value of this counter each time it makes
    /// available the last descriptor in the ring").
    pub fn advance(self, n: u16, size: u16) -> RingCursor {
        let next = self.pos as u32 + n as u32;
        if next >= size as u32 {
            RingCursor { pos: (next - size as u32) as u16, wrap: !self.wrap }
        } else {
            RingCursor { pos: next as u16, wrap: self.wrap }
        }
    }

    /// The event suppression `desc` word naming this position (§2.8.14:
    /// offset in bits 0..=14, wrap counter in bit 15).
    pub fn event_word(self) -> u16 {
        self.pos | if self.wrap { EVENT_WRAP } else { 0 }
    }

    /// The position named by an event suppression `desc` word.
    pub fn from_event_word(word: u16) -> RingCursor {
        RingCursor { pos: word & !EVENT_WRAP, wrap: word & EVENT_WRAP != 0 }
    }

    /// The position counted in the lap whose wrap counter is `wrap`: one
    /// lap behind is `size` earlier (modulo 2^16), as
    /// [`vring_need_event`] compares positions.
    pub fn in_lap_of(self, wrap: bool, size: u16) -> u16 {
        if self.wrap == wrap { self.pos } else { self.pos.wrapping_sub(size) }
    }
}

/// What the descriptor at `next_used` says.
#[derive(Copy, Clone, Debug)]
enum Slot {
    /// Nothing new (these flags are the driver's, or left from the last lap).
    Pending,
    /// Used in this lap: AVAIL and USED both equal to the wrap counter.
    Used(u16),
    /// Bits no well-behaved device leaves here while chains are in flight.
    Inconsistent(u16),
}

/// A packed virtqueue of up to `N` descriptors, driver side.
///
/// `N` bounds the queue size the driver supports (private state is sized
/// by it, no heap); the actual size comes from the [`PackedLayout`].
pub struct PackedQueue<const N: usize> {
    mem: SharedMemory,
    device_addr: u64,
    layout: PackedLayout,
    size: u16,
    event_idx: bool,
    indirect: Option<IndirectPool>,
    /// Free buffer ids as a linked list (`next_id[id]` follows `id`).
    next_id: [u16; N],
    free_id: u16,
    /// Per buffer id: the chain in flight under it.
    chains: [Chain; N],
    /// Ring descriptors not held by a chain in flight.
    num_free: u16,
    in_flight: u16,
    /// Where the next available descriptor goes.
    next_avail: RingCursor,
    /// Where the device writes the next used descriptor.
    next_used: RingCursor,
    /// Descriptors made available since the last `should_notify`.
    added: u32,
    /// The fewest descriptors any chain added since the ring was last
    /// empty occupies: a lower bound for every chain in flight, so for
    /// how far `count` used chains move the device (`interrupt_after`).
    min_chain_descs: u16,
    /// `next_avail` at the last `should_notify`.
    notified: RingCursor,
    /// The driver event suppression `desc` word was rewritten since the
    /// ring was last polled.
    event_dirty: bool,
    interrupts: bool,
    fault: FaultLatch,
}

impl<const N: usize> PackedQueue<N> {
    const N_OK: () = assert!(N >= 1 && N <= 32768, "N must be 1..=32768");

    /// Set up a queue in `mem` with `layout`, for the `negotiated` features
    /// (RING_EVENT_IDX and INDIRECT_DESC are honoured; an `indirect` pool
    /// is ignored unless INDIRECT_DESC was negotiated). Zeroes the region
    /// (§2.8.13: "The descriptor ring is zero-initialized."). Hand
    /// [`desc_addr`](Self::desc_addr) etc. to the transport afterwards.
    pub fn new(
        mem: QueueMemory,
        layout: PackedLayout,
        negotiated: Features,
        indirect: Option<IndirectPool>,
    ) -> Result<Self, Error> {
        #[allow(clippy::let_unit_value)]
        let () = Self::N_OK;
        let size = layout.size();
        if size as usize > N {
            return Err(Error::BadQueueSize(size));
        }
        // VIRTIO 1.2 §2.8.11: "The driver MUST ensure that the physical
        // address of the first byte of each virtqueue part is a multiple of
        // the specified alignment value in the above table." The layout
        // keeps each part aligned relative to a 16-aligned start.
        mem.check(layout.total_size(), layout.alignment())?;
        let indirect = IndirectPool::for_queue(indirect, size, negotiated)?;
        mem.mem.fill(0, layout.total_size(), 0).map_err(|_| Error::OutOfBounds)?;
        let mut next_id = [0u16; N];
        for (i, slot) in next_id.iter_mut().enumerate().take(size as usize) {
            *slot = (i + 1) as u16;
        }
        let event_idx = negotiated.has(general::EVENT_IDX);
        // Interrupts on from the start, at the first used descriptor.
        // Written before the queue is assembled, which then goes straight
        // into the result: no second copy of its arrays on the stack.
        Self::write_driver_event(&mem.mem, &layout, true, event_idx, RingCursor::START)?;
        Ok(PackedQueue {
            mem: mem.mem,
            device_addr: mem.device_addr,
            layout,
            size,
            event_idx,
            indirect,
            next_id,
            free_id: 0,
            chains: [Chain::default(); N],
            num_free: size,
            in_flight: 0,
            next_avail: RingCursor::START,
            next_used: RingCursor::START,
            added: 0,
            min_chain_descs: 1,
            notified: RingCursor::START,
            event_dirty: false,
            interrupts: true,
            fault: FaultLatch::default(),
        })
    }

    /// Device address of the descriptor ring (QueueDesc / queue_desc).
    pub fn desc_addr(&self) -> u64 {
        self.device_addr + self.layout.desc_offset() as u64
    }
    /// Device address of the driver event suppression structure
    /// (QueueDriver / queue_driver).
    pub fn driver_event_addr(&self) -> u64 {
        self.device_addr + self.layout.driver_event_offset() as u64
    }
    /// Device address of the device event suppression structure
    /// (QueueDevice / queue_device).
    pub fn device_event_addr(&self) -> u64 {
        self.device_addr + self.layout.device_event_offset() as u64
    }
    /// The size and the three addresses to give the transport (checked
    /// there with [`RingPlacement::check_format`] and [`RingFormat::Packed`](super::RingFormat::Packed)).
    pub fn placement(&self) -> RingPlacement {
        RingPlacement::new(self.size, self.desc_addr(), self.driver_event_addr(), self.device_event_addr())
    }
    /// The layout in use.
    pub fn layout(&self) -> &PackedLayout {
        &self.layout
    }
    /// Whether RING_EVENT_IDX is in use.
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

    fn desc_at(pos: u16) -> usize {
        pos as usize * DESC_SIZE
    }

    /// The AVAIL/USED bits that make a descriptor available in the lap
    /// whose driver wrap counter is `wrap` (§2.8.1: AVAIL equal to the
    /// counter, USED its inverse).
    fn avail_bits(wrap: bool) -> u16 {
        if wrap { DESC_F_AVAIL } else { DESC_F_USED }
    }

    /// Write everything of a descriptor but its flags.
    fn write_body(mem: &SharedMemory, at: usize, b: &Buffer, id: u16) -> Result<(), Error> {
        write_le64(mem, at, b.addr)?;
        write_le32(mem, at + 8, b.len)?;
        write_le16(mem, at + 12, id)
    }

    /// Write the driver event suppression structure so that the device
    /// notifies at the next used descriptor (RING_EVENT_IDX), or at every
    /// one, or not at all, as `interrupts` says.
    fn arm_used_event(&self) -> Result<(), Error> {
        Self::write_driver_event(&self.mem, &self.layout, self.interrupts, self.event_idx, self.next_used)
    }

    /// The driver event suppression structure in `mem` (with `layout`):
    /// notifications off, or on at `next_used` (RING_EVENT_IDX), or on at
    /// every used descriptor.
    fn write_driver_event(
        mem: &SharedMemory,
        layout: &PackedLayout,
        interrupts: bool,
        event_idx: bool,
        next_used: RingCursor,
    ) -> Result<(), Error> {
        let off = layout.driver_event_offset();
        if !interrupts {
            // §2.8.10: RING_EVENT_FLAGS_DISABLE asks for no used buffer
            // notifications (advisory for the device).
            return write_le16(mem, off + 2, RING_EVENT_FLAGS_DISABLE);
        }
        if event_idx {
            // The offset/wrap first, then (ordered after it) the flags
            // that make the device look at it.
            write_le16(mem, off, next_used.event_word())?;
            dma_wmb();
            write_le16(mem, off + 2, RING_EVENT_FLAGS_DESC)
        } else {
            write_le16(mem, off + 2, RING_EVENT_FLAGS_ENABLE)
        }
    }

    /// Read the flags of the descriptor at `next_used` and say what they
    /// mean.
    fn poll(&self) -> Result<Slot, Error> {
        let flags = read_le16(&self.mem, Self::desc_at(self.next_used.pos) + 14)?;
        let avail = (flags & DESC_F_AVAIL != 0) == self.next_used.wrap;
        let used = (flags & DESC_F_USED != 0) == self.next_used.wrap;
        Ok(match (avail, used) {
            // §2.8.1: "To mark a descriptor as used, the device sets the
            // VIRTQ_DESC_F_USED bit in Flags to match the internal Device
            // Ring Wrap Counter. It also sets the VIRTQ_DESC_F_AVAIL bit to
            // match the same value."
            (true, true) => Slot::Used(flags),
            // With nothing in flight the descriptor here is left over from
            // the previous lap (an available one the device skipped, or a
            // used one): never used in this one.
            _ if self.in_flight == 0 => Slot::Pending,
            // Our own available descriptor, not used yet.
            (true, false) => Slot::Pending,
            // With chains in flight the driver wrote this descriptor in
            // this lap (every position from `next_used` up to `next_avail`
            // is one it made available after the previous lap's use), so
            // only the device can have put lap-old bits here.
            _ => Slot::Inconsistent(flags),
        })
    }

    /// Ask for one used buffer notification once `count` more chains have
    /// been used (capped at those in flight; 0: none), for a driver that
    /// keeps many in flight and wants one interrupt per batch. Takes over
    /// the driver event suppression structure: call
    /// [`disable_interrupts`](VirtQueue::disable_interrupts) once first so
    /// that `pop_used` leaves it alone.
    ///
    /// With RING_EVENT_IDX the event names a ring position (§2.8.10:
    /// RING_EVENT_FLAGS_DESC "plus Descriptor Ring Change Event Offset/Wrap
    /// Counter": the device notifies when it uses the descriptor there,
    /// or passes it). Chains complete in any order and may occupy several
    /// descriptors each, so the position `count` used chains reach is not
    /// known; `count` times the fewest descriptors a chain in flight
    /// occupies is a lower bound, so the event is passed by the `count`th
    /// used chain at the latest (and may be earlier). Without
    /// RING_EVENT_IDX: notifications on (at every used descriptor) or off.
    ///
    /// Returns true if used descriptors are already waiting, which the
    /// device may have passed the event with before it saw it: harvest,
    /// then ask again.
    pub fn interrupt_after(&mut self, count: u16) -> Result<bool, Error> {
        self.fault.check()?;
        let count = count.min(self.in_flight);
        if !self.event_idx {
            if count == 0 {
                return self.disable_interrupts().map(|()| false);
            }
            return self.enable_interrupts();
        }
        let off = self.layout.driver_event_offset();
        if count == 0 {
            return write_le16(&self.mem, off + 2, RING_EVENT_FLAGS_DISABLE).map(|()| false);
        }
        // count <= in_flight and every chain in flight holds at least
        // `min_chain_descs` descriptors, so the distance is below the
        // ring size.
        let distance = (count as u32 * self.min_chain_descs.max(1) as u32 - 1).min(self.size as u32 - 1) as u16;
        let event = self.next_used.advance(distance, self.size);
        // The offset/wrap first, then (ordered after it) the flags that
        // make the device look at it.
        write_le16(&self.mem, off, event.event_word())?;
        dma_wmb();
        write_le16(&self.mem, off + 2, RING_EVENT_FLAGS_DESC)?;
        // §2.8.21.3.1-style race: the event must be visible before we
        // look for used descriptors, so either the device sees it or we
        // see its progress.
        dma_mb();
        self.event_dirty = false;
        Ok(!matches!(self.poll()?, Slot::Pending))
    }

    fn add_direct(&mut self, bufs: &[Buffer], id: u16) -> Result<u16, Error> {
        let wrap_at_start = self.next_avail.wrap;
        let mut cur = self.next_avail;
        let n = bufs.len();
        for (i, b) in bufs.iter().enumerate() {
            let at = Self::desc_at(cur.pos);
            // §2.8.6: "Buffer ID is included in the last descriptor in the
            // list"; we write it in every one, which the device ignores.
            Self::write_body(&self.mem, at, b, id)?;
            let mut flags = Self::avail_bits(cur.wrap) | if b.writable { DESC_F_WRITE } else { 0 };
            if i + 1 < n {
                flags |= DESC_F_NEXT;
            }
            // The head's flags are written last, below; the others now:
            // the device reads them only after it has seen the head.
            if i > 0 {
                write_le16(&self.mem, at + 14, flags)?;
            }
            cur = cur.advance(1, self.size);
        }
        let head_flags = Self::avail_bits(wrap_at_start)
            | if bufs[0].writable { DESC_F_WRITE } else { 0 }
            | if n > 1 { DESC_F_NEXT } else { 0 };
        self.next_avail = cur;
        Ok(head_flags)
    }

    fn add_indirect(&mut self, pool: IndirectPool, bufs: &[Buffer], id: u16) -> Result<u16, Error> {
        let table = pool.table_offset(id);
        for (i, b) in bufs.iter().enumerate() {
            let at = table + i * DESC_SIZE;
            // VIRTIO 1.2 §2.8.19: "The driver MUST NOT set any flags except
            // DESC_F_WRITE within an indirect descriptor." (The table is
            // read in order; there is no NEXT.)
            Self::write_body(&pool.mem, at, b, 0)?;
            write_le16(&pool.mem, at + 14, if b.writable { DESC_F_WRITE } else { 0 })?;
        }
        let main = Buffer::readable(pool.device_addr + table as u64, (bufs.len() * DESC_SIZE) as u32);
        let at = Self::desc_at(self.next_avail.pos);
        Self::write_body(&self.mem, at, &main, id)?;
        // §2.8.19: "A driver MUST NOT write direct descriptors with
        // DESC_F_INDIRECT set in a scatter-gather list linked by
        // VIRTQ_DESC_F_NEXT": the table's descriptor stands alone.
        let head_flags = Self::avail_bits(self.next_avail.wrap) | DESC_F_INDIRECT;
        self.next_avail = self.next_avail.advance(1, self.size);
        Ok(head_flags)
    }
}

impl<const N: usize> VirtQueue for PackedQueue<N> {
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
        self.fault.check()?;
        let writable = validate_chain(bufs, self.size)?;
        let pool = IndirectPool::takes(self.indirect, bufs.len());
        let need = if pool.is_some() { 1 } else { bufs.len() as u16 };
        // §2.8.17: "A driver MUST make sure there's enough space in the
        // ring for the whole list before making the first descriptor in
        // the list available to the device." And §2.8.16: "A driver MUST
        // NOT change a descriptor unless it observes the VIRTQ_DESC_F_USED
        // bit in its flags being changed": the free descriptors are
        // exactly those whose used descriptor we harvested.
        if need > self.num_free || self.free_id >= self.size {
            return Err(Error::QueueFull);
        }
        let id = self.free_id;
        let head = self.next_avail;
        let head_flags = match pool {
            Some(p) => self.add_indirect(p, bufs, id)?,
            None => self.add_direct(bufs, id)?,
        };
        // §2.8.21.2.1: "The driver MUST perform a suitable memory barrier
        // before the flags update, to ensure the device sees the most
        // up-to-date copy." §2.8.17: "A driver MUST NOT make the first
        // descriptor in the list available before all subsequent
        // descriptors comprising the list are made available."
        dma_wmb();
        write_le16(&self.mem, Self::desc_at(head.pos) + 14, head_flags)?;
        self.free_id = self.next_id[id as usize];
        self.chains[id as usize] = Chain { tail: 0, ndesc: need, writable };
        self.min_chain_descs = if self.in_flight == 0 { need } else { self.min_chain_descs.min(need) };
        self.num_free -= need;
        self.in_flight += 1;
        self.added += need as u32;
        Ok(Token(id))
    }

    fn should_notify(&mut self) -> Result<bool, Error> {
        self.fault.check()?;
        let (added, old) = (self.added, self.notified);
        let new = self.next_avail;
        self.added = 0;
        self.notified = new;
        if added == 0 {
            return Ok(false);
        }
        // §2.8.21.3.1: "The driver MUST perform a suitable memory barrier
        // before reading the Event Suppression structure occupying the
        // Device Area. Failing to do so could result in mandatory
        // available buffer notifications not being sent."
        dma_mb();
        let off = self.layout.device_event_offset();
        let event = read_le16(&self.mem, off)?;
        let flags = read_le16(&self.mem, off + 2)? & 0x3;
        match flags {
            RING_EVENT_FLAGS_DISABLE => Ok(false),
            RING_EVENT_FLAGS_DESC if self.event_idx && added < self.size as u32 => {
                // Notify iff the descriptor the device named was made
                // available in (old, new]. Its offset counts in the lap of
                // its wrap bit; one lap behind ours is `size` earlier.
                let event = RingCursor::from_event_word(event);
                if event.pos >= self.size {
                    // No such descriptor: the device asked for nothing we
                    // can match; notifying is the side that cannot hang it.
                    return Ok(true);
                }
                let event_idx = event.in_lap_of(new.wrap, self.size);
                Ok(vring_need_event(event_idx, new.pos, old.in_lap_of(new.wrap, self.size)))
            }
            // ENABLE; DESC without RING_EVENT_IDX (§2.8.10: "Only valid if
            // VIRTIO_F_RING_EVENT_IDX has been negotiated") or after a
            // whole ring's worth; the reserved value 3: notify, which can
            // cost the device a wake-up but never a lost request.
            _ => Ok(true),
        }
    }

    fn pop_used(&mut self) -> Result<Option<Used>, Error> {
        self.fault.check()?;
        let mut slot = self.poll()?;
        if matches!(slot, Slot::Pending) && self.event_dirty {
            // Before answering "nothing" (after which the caller may wait
            // for an interrupt), order our event write before a fresh look:
            // either we see the device's descriptor or it sees our event.
            dma_mb();
            self.event_dirty = false;
            slot = self.poll()?;
        }
        let pos = self.next_used.pos;
        let flags = match slot {
            Slot::Pending => return Ok(None),
            Slot::Used(flags) => flags,
            // §2.8.15: "A device MUST NOT change a descriptor after
            // changing it's the VIRTQ_DESC_F_USED bit in its flags", and it
            // marks a descriptor used with AVAIL and USED equal to its wrap
            // counter: lap-old or mixed bits over a descriptor we made
            // available in this lap are neither.
            Slot::Inconsistent(flags) => {
                return Err(self.fault.fail(DeviceFault::UsedFlagsInconsistent { position: pos, flags }));
            }
        };
        // Nothing in flight means nothing was made available at this
        // position in this lap, so the device cannot have used it (§2.8.15:
        // "A device MUST NOT use a descriptor unless it observes the
        // VIRTQ_DESC_F_AVAIL bit in its flags being changed").
        if self.in_flight == 0 {
            return Err(self.fault.fail(DeviceFault::UsedWithoutAvailable { position: pos, flags }));
        }
        // Read id and length only after the flags that published them.
        dma_rmb();
        let at = Self::desc_at(pos);
        let id = read_le16(&self.mem, at + 12)?;
        let len = read_le32(&self.mem, at + 8)?;
        // §2.8: the used descriptor carries "the Buffer ID" of a buffer the
        // driver sent; an id outside the queue, never handed out, or
        // already harvested names none.
        if id >= self.size {
            return Err(self.fault.fail(DeviceFault::UsedIdOutOfRange { id: id as u32 }));
        }
        let chain = self.chains[id as usize];
        if chain.ndesc == 0 {
            return Err(self.fault.fail(DeviceFault::UsedIdNotInFlight { id }));
        }
        // §2.8.4: "Element Length is reserved for used descriptors without
        // the VIRTQ_DESC_F_WRITE flag, and is ignored by drivers." With it,
        // the length "specifies the length of the buffer that has been
        // initialized (written to) by the device": no more than was posted
        // writable (§2.8.15: "A device MUST NOT write to a device-readable
        // buffer"). QEMU (hw/virtio/virtio.c, virtqueue_packed_fill_desc)
        // never sets WRITE in a used descriptor and reports the written
        // length regardless, as Linux's driver reads it: so the length of
        // a chain with writable buffers is taken (and checked) with or
        // without the flag; only a read-only chain's is ignored.
        let len = if flags & DESC_F_WRITE == 0 && chain.writable == 0 { 0 } else { len };
        if len > chain.writable {
            return Err(self.fault.fail(DeviceFault::UsedLenTooLarge { id, len, writable: chain.writable as u64 }));
        }
        // §2.8.6: "The driver needs to keep track of the size of the list
        // corresponding to each buffer ID, to be able to skip to where the
        // next used descriptor is written by the device."
        self.chains[id as usize].ndesc = 0;
        self.next_used = self.next_used.advance(chain.ndesc, self.size);
        self.next_id[id as usize] = self.free_id;
        self.free_id = id;
        self.num_free += chain.ndesc;
        self.in_flight -= 1;
        if self.event_idx && self.interrupts {
            // Interrupt at the next used descriptor.
            write_le16(&self.mem, self.layout.driver_event_offset(), self.next_used.event_word())?;
            self.event_dirty = true;
        }
        Ok(Some(Used { token: Token(id), len }))
    }

    fn disable_interrupts(&mut self) -> Result<(), Error> {
        self.fault.check()?;
        self.interrupts = false;
        self.arm_used_event()
    }

    fn enable_interrupts(&mut self) -> Result<bool, Error> {
        self.fault.check()?;
        self.interrupts = true;
        self.arm_used_event()?;
        // The write must be visible before we look for descriptors the
        // device may have used without seeing it.
        dma_mb();
        self.event_dirty = false;
        Ok(!matches!(self.poll()?, Slot::Pending))
    }
}
