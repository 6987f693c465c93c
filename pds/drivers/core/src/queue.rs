//! A driver's virtqueue: a [`SplitQueue`] or a [`PackedQueue`] (the
//! latter when VIRTIO_F_RING_PACKED was negotiated), behind one API, plus
//! interrupt batching.
//!
//! Both queues ask for an interrupt at the next used element whenever
//! interrupts are on. A driver that keeps many requests in flight wants
//! one interrupt per batch instead, which EVENT_IDX allows.
//! [`DriverQueue::arm`] does that: it turns the queue's own interrupt
//! control off once (so the queue never moves the event again by itself)
//! and from then on sets the event where the batch ends.
//!
//! - Split (VIRTIO 1.2 §2.7.7.2): the device notifies when "the idx field
//!   in the used ring ... [reaches] the value of used_event" plus one
//!   (`vring_need_event`); this type writes `used_event` and counts
//!   harvested elements to know where the next one will be.
//! - Packed (§2.8.10): the event is a ring position, kept by
//!   [`PackedQueue::interrupt_after`].
//!
//! Never losing a completion: after writing the event the queue puts a
//! full barrier and looks at what the device published; if the device may
//! already have got past the event, [`arm`](DriverQueue::arm) returns true
//! and the caller harvests again (then arms again). The count is capped at
//! what is in flight, so the event is always reachable.

use sevio_sharedmem::{SharedMemory, dma_mb};
use sevio_virtio::queue::VirtQueue;
use sevio_virtio::{
    Buffer, DeviceFault, Error, PackedQueue, RingFormat, RingPlacement, SplitLayout, SplitQueue, Token, Used,
};

/// A split queue and where its interrupt event lives.
struct SplitRing<const N: usize> {
    queue: SplitQueue<N>,
    mem: SharedMemory,
    used_event: usize,
    used_idx: usize,
    /// Used elements harvested so far (wrapping): the split queue's
    /// `last_used`, which it does not expose.
    harvested: u16,
}

enum Ring<const N: usize> {
    Split(SplitRing<N>),
    Packed(PackedQueue<N>),
}

/// A virtqueue as a driver uses it, split or packed.
pub struct DriverQueue<const N: usize> {
    ring: Ring<N>,
    index: u16,
}

/// The same call on either queue (both implement [`VirtQueue`] and the
/// same inherent accessors).
macro_rules! either {
    ($self:expr, $q:ident => $e:expr) => {
        match &$self.ring {
            Ring::Split(SplitRing { queue: $q, .. }) => $e,
            Ring::Packed($q) => $e,
        }
    };
    (mut $self:expr, $q:ident => $e:expr) => {
        match &mut $self.ring {
            Ring::Split(SplitRing { queue: $q, .. }) => $e,
            Ring::Packed($q) => $e,
        }
    };
}

impl<const N: usize> DriverQueue<N> {
    /// Wrap `queue`, which is queue `index` of its device and lives in
    /// `mem` with `layout` (the same memory and layout it was built on).
    /// Turns the split queue's interrupt control off if EVENT_IDX is in
    /// use (this type writes `used_event` from now on).
    pub fn new(mut queue: SplitQueue<N>, index: u16, mem: SharedMemory, layout: &SplitLayout) -> Result<Self, Error> {
        let n = layout.size() as usize;
        if queue.event_idx() {
            queue.disable_interrupts()?;
        }
        let split = SplitRing {
            queue,
            mem,
            used_event: layout.avail_offset() + 4 + 2 * n,
            used_idx: layout.used_offset() + 2,
            harvested: 0,
        };
        Ok(DriverQueue { ring: Ring::Split(split), index })
    }

    /// Wrap the packed `queue`, queue `index` of its device. Turns its
    /// interrupt control off if RING_EVENT_IDX is in use
    /// ([`PackedQueue::interrupt_after`] sets the event from now on).
    pub fn packed(mut queue: PackedQueue<N>, index: u16) -> Result<Self, Error> {
        if queue.event_idx() {
            queue.disable_interrupts()?;
        }
        Ok(DriverQueue { ring: Ring::Packed(queue), index })
    }

    /// The queue's index on its device.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Split or packed.
    pub fn format(&self) -> RingFormat {
        match self.ring {
            Ring::Split(_) => RingFormat::Split,
            Ring::Packed(_) => RingFormat::Packed,
        }
    }

    /// The size and device addresses of the queue's three parts, as the
    /// transport is to program them.
    pub fn placement(&self) -> RingPlacement {
        match &self.ring {
            Ring::Split(SplitRing { queue, .. }) => {
                RingPlacement::new(queue.size(), queue.desc_addr(), queue.avail_addr(), queue.used_addr())
            }
            Ring::Packed(queue) => queue.placement(),
        }
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        either!(self, q => q.size())
    }

    /// Chains the device holds.
    pub fn in_flight(&self) -> u16 {
        either!(self, q => q.in_flight())
    }

    /// Whether a chain of `bufs` buffers fits now (false once failed).
    pub fn can_add(&self, bufs: usize) -> bool {
        either!(self, q => q.can_add(bufs))
    }

    /// Whether indirect descriptors are in use.
    pub fn uses_indirect(&self) -> bool {
        either!(self, q => q.uses_indirect())
    }

    /// Whether EVENT_IDX is in use.
    pub fn event_idx(&self) -> bool {
        either!(self, q => q.event_idx())
    }

    /// The device fault that failed the queue, if any.
    pub fn fault(&self) -> Option<DeviceFault> {
        either!(self, q => q.fault())
    }

    /// Make a chain available (no kick: see [`needs_kick`](Self::needs_kick)).
    pub fn add(&mut self, bufs: &[Buffer]) -> Result<Token, Error> {
        either!(mut self, q => q.add(bufs))
    }

    /// Whether the device wants a notification for what was added since
    /// the last call (split: EVENT_IDX `avail_event` or the NO_NOTIFY
    /// flag; packed: the device event suppression structure).
    pub fn needs_kick(&mut self) -> Result<bool, Error> {
        either!(mut self, q => q.should_notify())
    }

    /// The next used element, checked by the queue.
    pub fn pop_used(&mut self) -> Result<Option<Used>, Error> {
        match &mut self.ring {
            Ring::Split(split) => {
                let used = split.queue.pop_used()?;
                if used.is_some() {
                    split.harvested = split.harvested.wrapping_add(1);
                }
                Ok(used)
            }
            Ring::Packed(queue) => queue.pop_used(),
        }
    }

    /// Ask for one interrupt once `count` more chains have been used
    /// (capped at those in flight; 0: no interrupt wanted). Without
    /// EVENT_IDX this can only switch interrupts on (at every used
    /// element) or off. Returns true if used elements may already be
    /// waiting that the interrupt would not announce: harvest, then arm
    /// again.
    pub fn arm(&mut self, count: u16) -> Result<bool, Error> {
        match &mut self.ring {
            Ring::Split(split) => split.arm(count),
            Ring::Packed(queue) => queue.interrupt_after(count),
        }
    }
}

impl<const N: usize> SplitRing<N> {
    fn arm(&mut self, count: u16) -> Result<bool, Error> {
        if let Some(f) = self.queue.fault() {
            return Err(Error::Device(f));
        }
        let count = count.min(self.queue.in_flight());
        if !self.queue.event_idx() {
            if count == 0 {
                self.queue.disable_interrupts()?;
                return Ok(false);
            }
            return self.queue.enable_interrupts();
        }
        // One behind the next element can only be reached after 65535
        // more: "no interrupt" (the split queue does the same).
        let event = self.harvested.wrapping_add(count).wrapping_sub(1);
        self.mem.write::<u16>(self.used_event, event.to_le()).map_err(|_| Error::OutOfBounds)?;
        if count == 0 {
            return Ok(false);
        }
        // §2.7.10-style race: our used_event store must be visible before
        // we look at used.idx, so either the device sees the new event or
        // we see its progress.
        dma_mb();
        let idx = self.mem.read::<u16>(self.used_idx).map(u16::from_le).ok_or(Error::OutOfBounds)?;
        Ok(idx.wrapping_sub(self.harvested) >= count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;
    use sevio_virtio::features::{Features, general};
    use sevio_virtio::{PackedLayout, QueueMemory};

    struct Fix {
        _heap: HeapRegion,
        q: DriverQueue<8>,
        mem: SharedMemory,
        layout: SplitLayout,
    }

    fn fix(feats: Features) -> Fix {
        let layout = SplitLayout::new(8).unwrap();
        let heap = HeapRegion::new(layout.total_size());
        let mem = heap.memory();
        let split = SplitQueue::new(QueueMemory { mem, device_addr: 0x4000_0000 }, layout, feats, None).unwrap();
        Fix { q: DriverQueue::new(split, 0, mem, &layout).unwrap(), mem, layout, _heap: heap }
    }

    impl Fix {
        fn used_event(&self) -> u16 {
            self.mem.read::<u16>(self.layout.avail_offset() + 4 + 16).unwrap()
        }
        fn avail_flags(&self) -> u16 {
            self.mem.read::<u16>(self.layout.avail_offset()).unwrap()
        }
        /// The device uses the chain with head `id`.
        fn device_uses(&self, slot: u16, id: u16) {
            let u = self.layout.used_offset();
            self.mem.write::<u32>(u + 4 + 8 * slot as usize, id as u32).unwrap();
            self.mem.write::<u16>(u + 2, slot + 1).unwrap();
        }
    }

    fn chain() -> [Buffer; 2] {
        [Buffer::readable(0x1000, 16), Buffer::writable(0x2000, 1)]
    }

    #[test]
    fn arms_at_the_last_in_flight_and_counts_harvests() {
        let mut f = fix(Features::EMPTY.with(general::EVENT_IDX));
        let a = f.q.add(&chain()).unwrap();
        let b = f.q.add(&chain()).unwrap();
        let c = f.q.add(&chain()).unwrap();
        assert_eq!(f.q.arm(10), Ok(false));
        assert_eq!(f.used_event(), 2, "interrupt when the third element (index 2) is used");
        f.device_uses(0, a.index());
        assert_eq!(f.q.pop_used().unwrap().unwrap().token, a);
        assert_eq!(f.q.pop_used(), Ok(None));
        assert_eq!(f.used_event(), 2, "the split queue no longer moves used_event");
        assert_eq!(f.q.arm(2), Ok(false));
        assert_eq!(f.used_event(), 2);
        f.device_uses(1, b.index());
        f.device_uses(2, c.index());
        assert_eq!(f.q.arm(1), Ok(true), "both already used: the interrupt may be gone");
        assert!(f.q.pop_used().unwrap().is_some() && f.q.pop_used().unwrap().is_some());
        assert_eq!(f.q.arm(5), Ok(false), "nothing in flight");
        assert_eq!(f.used_event(), 2, "one behind the next element: never reached");
    }

    #[test]
    fn without_event_idx_switches_the_flag() {
        let mut f = fix(Features::EMPTY);
        assert_eq!(f.q.arm(3), Ok(false));
        assert_eq!(f.avail_flags(), 1, "nothing in flight: interrupts off");
        let a = f.q.add(&chain()).unwrap();
        assert_eq!(f.q.arm(3), Ok(false));
        assert_eq!(f.avail_flags(), 0);
        f.device_uses(0, a.index());
        assert_eq!(f.q.arm(1), Ok(true));
    }

    /// A packed queue of 8 with RING_EVENT_IDX, and the device's hand.
    struct PackedFix {
        _heap: HeapRegion,
        q: DriverQueue<8>,
        mem: SharedMemory,
        layout: PackedLayout,
    }

    fn packed_fix() -> PackedFix {
        let layout = PackedLayout::new(8).unwrap();
        let heap = HeapRegion::new(layout.total_size());
        let mem = heap.memory();
        let feats = Features::EMPTY.with(general::EVENT_IDX).with(general::RING_PACKED);
        let packed = PackedQueue::new(QueueMemory { mem, device_addr: 0x4000_0000 }, layout, feats, None).unwrap();
        PackedFix { q: DriverQueue::packed(packed, 0).unwrap(), mem, layout, _heap: heap }
    }

    impl PackedFix {
        /// The driver event suppression structure: (off_wrap, flags).
        fn driver_event(&self) -> (u16, u16) {
            let off = self.layout.driver_event_offset();
            (self.mem.read::<u16>(off).unwrap(), self.mem.read::<u16>(off + 2).unwrap())
        }
        /// The device marks descriptor `pos` used (first lap) for `id`,
        /// nothing written.
        fn device_uses(&self, pos: usize, id: u16) {
            self.mem.write::<u32>(16 * pos + 8, 0).unwrap();
            self.mem.write::<u16>(16 * pos + 12, id).unwrap();
            self.mem.write::<u16>(16 * pos + 14, 1 << 7 | 1 << 15).unwrap();
        }
    }

    #[test]
    fn packed_arms_at_the_position_the_batch_reaches() {
        let mut f = packed_fix();
        assert_eq!(f.q.format(), RingFormat::Packed);
        assert_eq!(f.driver_event().1, 1, "RING_EVENT_FLAGS_DISABLE until armed");
        // Two chains of two descriptors, one of one: 5 ring slots.
        let a = f.q.add(&chain()).unwrap();
        let b = f.q.add(&chain()).unwrap();
        let c = f.q.add(&[Buffer::writable(0x3000, 8)]).unwrap();
        assert_eq!(f.q.arm(2), Ok(false));
        // The fewest descriptors a chain holds is 1, so two used chains
        // reach position 1 at least: the event is there.
        assert_eq!(f.driver_event(), (1 | 1 << 15, 2), "RING_EVENT_FLAGS_DESC at 1, wrap counter 1");
        f.device_uses(0, a.index());
        assert_eq!(f.q.pop_used().unwrap().unwrap().token, a);
        assert_eq!(f.driver_event(), (1 | 1 << 15, 2), "harvesting leaves the event alone");
        assert_eq!(f.q.arm(1), Ok(false));
        assert_eq!(f.driver_event(), (2 | 1 << 15, 2), "the next used descriptor");
        f.device_uses(2, c.index());
        assert_eq!(f.q.arm(1), Ok(true), "already used: the interrupt may be gone");
        assert_eq!(f.q.pop_used().unwrap().unwrap().token, c);
        f.device_uses(3, b.index());
        assert_eq!(f.q.pop_used().unwrap().unwrap().token, b);
        assert_eq!(f.q.arm(4), Ok(false), "nothing in flight");
        assert_eq!(f.driver_event().1, 1, "no interrupt wanted");
    }

    #[test]
    fn packed_chains_of_equal_length_arm_exactly() {
        let mut f = packed_fix();
        for _ in 0..3 {
            f.q.add(&chain()).unwrap();
        }
        assert_eq!(f.q.arm(3), Ok(false));
        assert_eq!(f.driver_event(), (5 | 1 << 15, 2), "the third chain's slots are 4 and 5");
    }

    #[test]
    fn a_failed_queue_refuses_to_arm() {
        let mut f = fix(Features::EMPTY.with(general::EVENT_IDX));
        f.q.add(&chain()).unwrap();
        f.device_uses(0, 7); // not a head in flight
        assert!(matches!(f.q.pop_used(), Err(Error::Device(_))));
        assert!(matches!(f.q.arm(1), Err(Error::Device(_))));
        assert!(f.q.fault().is_some());
    }
}
