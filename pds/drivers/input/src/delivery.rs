//! The hand-over of events to the client: bounded, in order, and never a
//! silent loss.
//!
//! The driver never waits for its client (the device would drop events
//! silently if the eventq ran dry, VIRTIO 1.2 §5.8.6.2: "A device MAY
//! drop input events if the eventq does not have enough available
//! buffers"), so it always takes the device's events and reposts the
//! buffers at once. When the client's queue is full, [`Delivery`] drops
//! the event, counts it (in the page's `dropped` word too) and drops the
//! rest of that device update (up to its `SYN_REPORT`); once there is
//! room it enqueues one `EV_SYN`/`SYN_DROPPED` marker carrying how many
//! were lost, before any later event. So the client sees: whole updates,
//! possibly one cut short before a marker, then the marker, then whole
//! updates again.

use sevio_queue::QueueError;
use sevio_queue::input::{self, InputEvent, InputEventProducer};
use sevio_sharedmem::SharedMemory;

/// The driver's side of the client's event queue.
pub struct Delivery {
    queue: InputEventProducer,
    header: SharedMemory,
    /// Dropping the rest of an update cut short.
    dropping: bool,
    /// Lost since the last marker (a marker is owed while non-zero).
    lost: u32,
    /// Events handed over.
    pub delivered: u64,
    /// Events dropped, in all.
    pub dropped: u32,
    /// Markers handed over.
    pub markers: u64,
}

impl Delivery {
    /// The producer end of the queue in `queue` (the page's queue part).
    pub fn new(queue: SharedMemory, capacity: u32) -> Result<Self, QueueError> {
        let producer = InputEventProducer::new(queue, capacity)?;
        input::set_dropped(&queue, 0)?;
        Ok(Delivery { queue: producer, header: queue, dropping: false, lost: 0, delivered: 0, dropped: 0, markers: 0 })
    }

    fn drop_one(&mut self, ev: InputEvent) -> Result<(), QueueError> {
        self.lost = self.lost.saturating_add(1);
        self.dropped = self.dropped.wrapping_add(1);
        self.dropping = !ev.is_report();
        input::set_dropped(&self.header, self.dropped)
    }

    /// Enqueue the owed marker if there is room; whether none is owed now.
    fn settle(&mut self) -> Result<bool, QueueError> {
        if self.lost == 0 {
            return Ok(true);
        }
        match self.queue.stage(InputEvent::dropped_marker(self.lost)) {
            Ok(()) => {
                self.lost = 0;
                self.markers += 1;
                Ok(true)
            }
            Err(QueueError::Full) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Hand `ev` on (staged: [`publish`](Self::publish) makes it
    /// visible), or drop and count it.
    pub fn push(&mut self, ev: InputEvent) -> Result<(), QueueError> {
        if self.dropping {
            return self.drop_one(ev);
        }
        if !self.settle()? {
            return self.drop_one(ev);
        }
        match self.queue.stage(ev) {
            Ok(()) => {
                self.delivered += 1;
                Ok(())
            }
            Err(QueueError::Full) => self.drop_one(ev),
            Err(e) => Err(e),
        }
    }

    /// Publish what was staged (release), and an owed marker if the
    /// client made room and no update is being dropped. Returns whether
    /// anything new became visible.
    pub fn publish(&mut self) -> Result<bool, QueueError> {
        if !self.dropping {
            self.settle()?;
        }
        let any = self.queue.staged() > 0;
        self.queue.publish()?;
        Ok(any)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use sevio_queue::input::{InputEventConsumer, SYN_DROPPED};
    use sevio_sharedmem::HeapRegion;
    use std::vec::Vec;

    fn key(code: u16) -> InputEvent {
        InputEvent { ty: 1, code, value: 1 }
    }
    const REPORT: InputEvent = InputEvent { ty: 0, code: 0, value: 0 };

    fn drain(c: &mut InputEventConsumer) -> Vec<InputEvent> {
        let mut v = Vec::new();
        while let Some(e) = c.take().unwrap() {
            v.push(e);
        }
        c.publish().unwrap();
        v
    }

    #[test]
    fn a_client_that_keeps_up_loses_nothing() {
        let heap = HeapRegion::new(0x1000);
        let mut d = Delivery::new(heap.memory(), 4).unwrap();
        let mut c = InputEventConsumer::new(heap.memory(), 4).unwrap();
        let mut got = Vec::new();
        for i in 0..100 {
            d.push(key(i)).unwrap();
            d.push(REPORT).unwrap();
            assert!(d.publish().unwrap());
            got.extend(drain(&mut c));
        }
        let want: Vec<InputEvent> = (0..100).flat_map(|i| [key(i), REPORT]).collect();
        assert_eq!(got, want);
        assert_eq!((d.dropped, d.markers), (0, 0));
    }

    #[test]
    fn a_flood_is_counted_and_marked_and_whole_updates_follow() {
        let heap = HeapRegion::new(0x1000);
        let mut d = Delivery::new(heap.memory(), 4).unwrap();
        let mut c = InputEventConsumer::new(heap.memory(), 4).unwrap();
        // Updates of three events each: a, b, report.
        for i in 0..5 {
            d.push(key(2 * i)).unwrap();
            d.push(key(2 * i + 1)).unwrap();
            d.push(REPORT).unwrap();
        }
        d.publish().unwrap();
        assert_eq!(d.dropped, 11, "4 fit; the rest of the 15 are counted");
        assert_eq!(input::dropped(&heap.memory()), Ok(11), "and the page says so");
        assert_eq!(drain(&mut c), [key(0), key(1), REPORT, key(2)], "in order up to the cut");
        d.push(key(100)).unwrap();
        d.push(REPORT).unwrap();
        d.publish().unwrap();
        let got = drain(&mut c);
        assert_eq!(got, [InputEvent::dropped_marker(11), key(100), REPORT], "the marker first, then whole updates");
        assert_eq!((got[0].ty, got[0].code), (0, SYN_DROPPED));
        assert_eq!((d.delivered, d.markers), (6, 1));
    }

    #[test]
    fn a_cut_update_is_dropped_to_its_end() {
        let heap = HeapRegion::new(0x1000);
        let mut d = Delivery::new(heap.memory(), 2).unwrap();
        let mut c = InputEventConsumer::new(heap.memory(), 2).unwrap();
        for e in [key(1), key(2), key(3)] {
            d.push(e).unwrap();
        }
        d.publish().unwrap();
        assert_eq!(drain(&mut c), [key(1), key(2)]);
        d.push(key(4)).unwrap(); // still the cut update: dropped although there is room
        d.push(REPORT).unwrap(); // its end: dropped too
        d.publish().unwrap();
        assert_eq!(drain(&mut c), [InputEvent::dropped_marker(3)], "the marker once the update is over");
        d.push(key(5)).unwrap();
        d.publish().unwrap();
        assert_eq!(drain(&mut c), [key(5)]);
    }
}
