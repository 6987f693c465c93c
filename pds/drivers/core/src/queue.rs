//! A driver's virtqueue: a [`SplitQueue`] plus interrupt batching.
//!
//! [`SplitQueue`] asks for an interrupt at the next used element whenever
//! interrupts are on. A driver that keeps many requests in flight wants
//! one interrupt per batch instead: with VIRTIO_F_EVENT_IDX it can put
//! `used_event` further ahead (VIRTIO 1.2 §2.7.7.2: the device notifies
//! when "the idx field in the used ring ... [reaches] the value of
//! used_event" plus one, computed by `vring_need_event`). [`DriverQueue::arm`]
//! does that: it turns the split queue's own interrupt control off once
//! (so the split queue never writes `used_event` again) and from then on
//! writes `used_event` itself, counting harvested elements to know where
//! the next one will be.
//!
//! Never losing a completion: after writing `used_event` the queue puts a
//! full barrier and reads `used.idx`; if the device already got past the
//! event, [`arm`](DriverQueue::arm) returns true and the caller harvests
//! again (then arms again). The count is capped at what is in flight, so
//! the event is always reachable.

use sevio_sharedmem::{SharedMemory, dma_mb};
use sevio_virtio::queue::VirtQueue;
use sevio_virtio::{Buffer, DeviceFault, Error, SplitLayout, SplitQueue, Token, Used};

/// A virtqueue as a driver uses it.
pub struct DriverQueue<const N: usize> {
    queue: SplitQueue<N>,
    index: u16,
    mem: SharedMemory,
    used_event: usize,
    used_idx: usize,
    /// Used elements harvested so far (wrapping): the split queue's
    /// `last_used`, which it does not expose.
    harvested: u16,
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
        Ok(DriverQueue {
            queue,
            index,
            mem,
            used_event: layout.avail_offset() + 4 + 2 * n,
            used_idx: layout.used_offset() + 2,
            harvested: 0,
        })
    }

    /// The queue's index on its device.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.queue.size()
    }

    /// Chains the device holds.
    pub fn in_flight(&self) -> u16 {
        self.queue.in_flight()
    }

    /// Whether a chain of `bufs` buffers fits now (false once failed).
    pub fn can_add(&self, bufs: usize) -> bool {
        self.queue.can_add(bufs)
    }

    /// Whether indirect descriptors are in use.
    pub fn uses_indirect(&self) -> bool {
        self.queue.uses_indirect()
    }

    /// Whether EVENT_IDX is in use.
    pub fn event_idx(&self) -> bool {
        self.queue.event_idx()
    }

    /// The device fault that failed the queue, if any.
    pub fn fault(&self) -> Option<DeviceFault> {
        self.queue.fault()
    }

    /// Make a chain available (no kick: see [`needs_kick`](Self::needs_kick)).
    pub fn add(&mut self, bufs: &[Buffer]) -> Result<Token, Error> {
        self.queue.add(bufs)
    }

    /// Whether the device wants a notification for what was added since
    /// the last call (EVENT_IDX `avail_event`, or the NO_NOTIFY flag).
    pub fn needs_kick(&mut self) -> Result<bool, Error> {
        self.queue.should_notify()
    }

    /// The next used element, checked by the split queue.
    pub fn pop_used(&mut self) -> Result<Option<Used>, Error> {
        let used = self.queue.pop_used()?;
        if used.is_some() {
            self.harvested = self.harvested.wrapping_add(1);
        }
        Ok(used)
    }

    /// Ask for one interrupt once `count` more chains have been used
    /// (capped at those in flight; 0: no interrupt wanted). Without
    /// EVENT_IDX this can only switch interrupts on (at every used
    /// element) or off. Returns true if used elements may already be
    /// waiting that the interrupt would not announce: harvest, then arm
    /// again.
    pub fn arm(&mut self, count: u16) -> Result<bool, Error> {
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

    /// The split queue itself.
    pub fn split(&self) -> &SplitQueue<N> {
        &self.queue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;
    use sevio_virtio::QueueMemory;
    use sevio_virtio::features::{Features, general};

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
