//! Ring behaviour: untrusted peer indices, wrap-around, full/empty edges,
//! batching and the signalling flags (single-threaded; the concurrent
//! no-lost-wake-up property is in tests/loom.rs).

use core::sync::atomic::Ordering::Relaxed;
use proptest::prelude::*;
use sevio_queue::net::CONSUMER_SIGNALLED_OFFSET;
use sevio_queue::serial::PRODUCER_SIGNALLED_OFFSET;
use sevio_queue::*;
use sevio_sharedmem::HeapRegion;
use std::collections::VecDeque;

fn buf(i: u64) -> NetBuffer {
    NetBuffer { io_or_offset: i * 2048, len: (i % 1500) as u16, oid: (i % 64) as u8 }
}

#[test]
fn construction_checks_capacity_and_size() {
    let r = HeapRegion::new(8 + 8 * 16);
    assert_eq!(NetConsumer::new(r.memory(), 6).unwrap_err(), QueueError::BadCapacity { capacity: 6 });
    assert_eq!(NetConsumer::new(r.memory(), 1).unwrap_err(), QueueError::BadCapacity { capacity: 1 });
    assert_eq!(NetConsumer::new(r.memory(), 1 << 16).unwrap_err(), QueueError::BadCapacity { capacity: 1 << 16 });
    assert_eq!(
        NetConsumer::new(r.memory(), 16).unwrap_err(),
        QueueError::RegionTooSmall { needed: 8 + 16 * 16, len: 136 }
    );
    assert!(NetConsumer::new(r.memory(), 8).is_ok());
    let h = HeapRegion::new(8);
    let d = HeapRegion::new(64);
    assert!(matches!(SerialConsumer::new(h.memory(), d.memory(), 64), Err(QueueError::RegionTooSmall { .. })));
}

#[test]
fn consumer_rejects_tail_beyond_capacity() {
    let r = HeapRegion::new(8 + 4 * 16);
    let m = r.memory();
    let mut c = NetConsumer::new(m, 4).unwrap();
    // The producer claims 5 entries in a 4-entry ring.
    m.store_u16(0, 5, Relaxed).unwrap();
    assert_eq!(c.take(), Err(QueueError::PeerIndex { head: 0, tail: 5, capacity: 4 }));
    assert_eq!(c.len(), Err(QueueError::PeerIndex { head: 0, tail: 5, capacity: 4 }));
    // A tail "behind" the head wraps to a huge distance: also rejected.
    m.store_u16(0, u16::MAX, Relaxed).unwrap();
    assert!(matches!(c.take(), Err(QueueError::PeerIndex { .. })));
    // And a consumer cannot even be built over such a header.
    assert!(matches!(NetConsumer::new(m, 4), Err(QueueError::PeerIndex { .. })));
    // Exactly capacity is accepted (other producers may fill the ring).
    m.store_u16(0, 4, Relaxed).unwrap();
    let mut n = 0;
    while c.take().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn chunk_forms_check_the_peer_index_too() {
    let r = HeapRegion::new(8 + 4 * 16);
    let m = r.memory();
    let mut c = NetConsumer::new(m, 4).unwrap();
    let mut p = NetProducer::new(m, 4).unwrap();
    // The producer claims 5 entries in a 4-entry ring: nothing is handed
    // to the closure.
    m.store_u16(0, 5, Relaxed).unwrap();
    let mut seen = 0;
    assert_eq!(c.take_each(4, |_| seen += 1), Err(QueueError::PeerIndex { head: 0, tail: 5, capacity: 4 }));
    assert_eq!(seen, 0);
    // Two entries published, so a run of four needs the head reloaded;
    // the consumer claims a head beyond the published tail (2).
    m.store_u16(0, 0, Relaxed).unwrap();
    assert_eq!(p.stage_from((1..3).map(buf)), Ok(2));
    p.publish().unwrap();
    m.store_u16(2, 3, Relaxed).unwrap();
    assert!(matches!(p.stage_from((3..7).map(buf)), Err(QueueError::PeerIndex { .. })));
    assert_eq!(m.read::<u64>(8 + 2 * 16), Some(0), "no entry was written");
}

#[test]
fn consumer_rejects_tail_moving_back_over_taken_entries() {
    let r = HeapRegion::new(8 + 4 * 16);
    let m = r.memory();
    let mut p = NetProducer::new(m, 4).unwrap();
    let mut c = NetConsumer::new(m, 4).unwrap();
    for i in 0..3 {
        p.enqueue(buf(i)).unwrap();
    }
    assert_eq!(c.take().unwrap(), Some(buf(0)));
    assert_eq!(c.take().unwrap(), Some(buf(1)));
    // Unpublished head is 2; the producer rewinds tail to 1.
    m.store_u16(0, 1, Relaxed).unwrap();
    assert!(matches!(c.len(), Err(QueueError::PeerIndex { .. })));
}

#[test]
fn producer_rejects_head_beyond_published_tail() {
    let r = HeapRegion::new(16 + 4 * 32);
    let m = r.memory();
    let mut p = BlkRequestProducer::new(m, 4).unwrap();
    // Fill the queue, so the next enqueue must reload the head.
    for i in 0..4 {
        p.enqueue(BlkRequest { id: i, ..Default::default() }).unwrap();
    }
    // The consumer claims to have consumed 7 entries (head @0).
    m.store_u32(0, 7, Relaxed).unwrap();
    assert!(matches!(p.enqueue(BlkRequest::default()), Err(QueueError::PeerIndex { .. })));
    assert!(matches!(p.free(), Err(QueueError::PeerIndex { .. })));
}

/// sdfgen gives the driver's blk queues 128 entries; sDDF's producer
/// fills all of them at `tail % 128`. Entries past the 64th must land in
/// the slots sDDF reads them from, and a full queue holds 128.
#[test]
fn blk_queue_of_128_fills_every_slot_where_sddf_puts_it() {
    const CAP: u32 = 128;
    let r = HeapRegion::new(16 + CAP as usize * 32);
    let m = r.memory();
    // Start the indices part-way round, so slots wrap inside the array.
    let start = 100u32;
    m.store_u32(0, start, Relaxed).unwrap();
    m.store_u32(4, start, Relaxed).unwrap();
    let mut p = BlkRequestProducer::new(m, CAP).unwrap();
    let mut c = BlkRequestConsumer::new(m, CAP).unwrap();
    for i in 0..CAP {
        p.stage(BlkRequest { id: i, block_number: u64::from(i), count: 1, ..Default::default() }).unwrap();
    }
    assert_eq!(p.stage(BlkRequest::default()), Err(QueueError::Full), "128 entries fill the queue");
    p.publish().unwrap();
    assert_eq!(m.load_u32(4, Relaxed), Some(start + CAP), "tail - head == capacity: sDDF's full");
    for i in 0..CAP {
        // sDDF: buffers + (tail % capacity); id at +28 of a 32-byte entry.
        let slot = ((start + i) % CAP) as usize;
        assert_eq!(m.read_u32(16 + slot * 32 + 28), Some(i), "entry {i} in slot {slot}");
    }
    for i in 0..CAP {
        assert_eq!(c.take().unwrap().map(|r| r.id), Some(i));
    }
    assert_eq!(c.take().unwrap(), None);
}

#[test]
fn blk_capacity_must_be_a_power_of_two() {
    let r = HeapRegion::new(16 + 100 * 32);
    for cap in [0, 1, 3, 96, 100] {
        assert_eq!(
            BlkRequestConsumer::new(r.memory(), cap).err(),
            Some(QueueError::BadCapacity { capacity: cap }),
            "capacity {cap}"
        );
    }
}

#[test]
fn staged_entries_are_invisible_until_published() {
    let r = HeapRegion::new(8 + 8 * 16);
    let m = r.memory();
    let mut p = NetProducer::new(m, 8).unwrap();
    let mut c = NetConsumer::new(m, 8).unwrap();
    p.stage(buf(1)).unwrap();
    p.stage(buf(2)).unwrap();
    assert_eq!(p.staged(), 2);
    assert_eq!(c.take().unwrap(), None);
    p.publish().unwrap();
    assert_eq!(c.take().unwrap(), Some(buf(1)));
    assert_eq!(c.take().unwrap(), Some(buf(2)));
    // Taken but unpublished slots stay unavailable to the producer: 6
    // more fill the 8 (two still count as the consumer's).
    for i in 0..6 {
        p.enqueue(buf(i)).unwrap();
    }
    assert_eq!(p.enqueue(buf(9)), Err(QueueError::Full));
    c.publish().unwrap();
    p.enqueue(buf(9)).unwrap();
}

#[test]
fn net_signalling_flag() {
    let r = HeapRegion::new(8 + 4 * 16);
    let m = r.memory();
    let mut p = NetProducer::new(m, 4).unwrap();
    let mut c = NetConsumer::new(m, 4).unwrap();
    c.cancel_signal().unwrap();
    p.enqueue(buf(0)).unwrap();
    assert!(!p.require_signal().unwrap(), "flag set: consumer is awake, no notify");
    // Consumer drains and requests a signal: queue empty, so it may sleep.
    assert_eq!(c.dequeue().unwrap(), Some(buf(0)));
    assert!(!c.request_signal().unwrap());
    assert_eq!(m.load_u32(CONSUMER_SIGNALLED_OFFSET, Relaxed), Some(0));
    p.enqueue(buf(1)).unwrap();
    assert!(p.require_signal().unwrap(), "consumer asked: notify");
    assert_eq!(m.load_u32(CONSUMER_SIGNALLED_OFFSET, Relaxed), Some(1));
    assert!(!p.require_signal().unwrap(), "only once per request");
    // Work present when the consumer asks: it withdraws the request.
    assert!(c.request_signal().unwrap());
    assert_eq!(m.load_u32(CONSUMER_SIGNALLED_OFFSET, Relaxed), Some(1));
}

#[test]
fn serial_signalling_flag() {
    let h = HeapRegion::new(12);
    let d = HeapRegion::new(4);
    let (hm, dm) = (h.memory(), d.memory());
    let mut p = SerialProducer::new(hm, dm, 4).unwrap();
    let mut c = SerialConsumer::new(hm, dm, 4).unwrap();
    p.cancel_signal().unwrap();
    assert_eq!(p.write(b"abcd").unwrap(), 4);
    // Full: the producer asks to be told when room appears.
    assert!(!p.request_signal().unwrap());
    assert_eq!(hm.load_u32(PRODUCER_SIGNALLED_OFFSET, Relaxed), Some(0));
    let mut out = [0; 2];
    c.read(&mut out).unwrap();
    assert!(c.require_signal().unwrap(), "producer waits: notify it");
    assert!(!c.require_signal().unwrap());
    // Room already there: the request is withdrawn at once.
    assert!(p.request_signal().unwrap());
}

#[derive(Debug, Clone)]
enum Op {
    Push(u8),
    Pop(u8),
}

/// A net ring of `cap` entries whose indices both start at `start`, and
/// its two ends.
fn net_ring_at(start: u16, cap: u32) -> (HeapRegion, NetProducer, NetConsumer) {
    let r = HeapRegion::new(8 + cap as usize * 16);
    let m = r.memory();
    m.store_u16(0, start, Relaxed).unwrap();
    m.store_u16(2, start, Relaxed).unwrap();
    let p = NetProducer::new(m, cap).unwrap();
    let c = NetConsumer::new(m, cap).unwrap();
    (r, p, c)
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(prop_oneof![(1u8..10).prop_map(Op::Push), (1u8..10).prop_map(Op::Pop)], 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Net (u16 indices) from any start, including just below u16::MAX,
    /// against a VecDeque model; full at capacity (as sDDF 0.7.0's net
    /// queues), empty at 0. Entry by entry (`stage`, `take`) or in chunks
    /// (`stage_from`, `take_each`): a chunk stages what fits and stops,
    /// draws nothing more from its iterator, and the consumer gets every
    /// entry once, in order, at most `max` at a time.
    #[test]
    fn net_wraps_like_a_deque(start in prop_oneof![Just(u16::MAX - 3), Just(u16::MAX), any::<u16>()], cap_log in 1u32..5, ops in ops(), chunked in any::<bool>()) {
        let cap = 1u32 << cap_log;
        let (r, mut p, mut c) = net_ring_at(start, cap);
        let m = r.memory();
        let mut model = VecDeque::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Push(n) if chunked => {
                    let mut drawn = 0u64;
                    let staged = p.stage_from((next..next + u64::from(n)).inspect(|_| drawn += 1).map(buf)).unwrap();
                    let fits = (cap - model.len() as u32).min(u32::from(n));
                    prop_assert_eq!(staged, fits);
                    prop_assert_eq!(drawn, u64::from(fits), "drew only what it staged");
                    model.extend((next..next + u64::from(staged)).map(buf));
                    next += u64::from(staged);
                }
                Op::Push(n) => for _ in 0..n {
                    let r = p.stage(buf(next));
                    if model.len() as u32 == cap {
                        prop_assert_eq!(r, Err(QueueError::Full));
                    } else {
                        prop_assert_eq!(r, Ok(()));
                        model.push_back(buf(next));
                        next += 1;
                    }
                },
                Op::Pop(n) if chunked => {
                    p.publish().unwrap();
                    let mut got = Vec::new();
                    let took = c.take_each(u32::from(n), |b| got.push(b)).unwrap();
                    prop_assert_eq!(took as usize, got.len());
                    let want: Vec<_> = (0..usize::from(n).min(model.len())).filter_map(|_| model.pop_front()).collect();
                    prop_assert_eq!(got, want);
                    c.publish().unwrap();
                }
                Op::Pop(n) => {
                    p.publish().unwrap();
                    for _ in 0..n {
                        prop_assert_eq!(c.take().unwrap(), model.pop_front());
                    }
                    c.publish().unwrap();
                }
            }
            p.publish().unwrap();
            prop_assert_eq!(c.len().unwrap() as usize, model.len());
        }
        let tail = m.load_u16(0, Relaxed).unwrap();
        prop_assert_eq!(tail, start.wrapping_add(next as u16));
    }

    /// Blk requests (u32 indices) from any start near u32::MAX; full at
    /// capacity.
    #[test]
    fn blk_wraps_like_a_deque(back in 0u32..8, cap_log in 1u32..4, ops in ops()) {
        let cap = 1u32 << cap_log;
        let start = u32::MAX - back;
        let r = HeapRegion::new(16 + cap as usize * 32);
        let m = r.memory();
        m.store_u32(0, start, Relaxed).unwrap();
        m.store_u32(4, start, Relaxed).unwrap();
        let mut p = BlkRequestProducer::new(m, cap).unwrap();
        let mut c = BlkRequestConsumer::new(m, cap).unwrap();
        let mut model = VecDeque::new();
        let mut id = 0;
        for op in ops {
            match op {
                Op::Push(n) => for _ in 0..n {
                    let req = BlkRequest { id, block_number: u64::from(id) * 3, ..Default::default() };
                    match p.enqueue(req) {
                        Ok(()) => { model.push_back(req); id += 1; }
                        // sDDF 0.7.0's blk queues fill every slot.
                        Err(e) => { prop_assert_eq!(e, QueueError::Full); prop_assert_eq!(model.len() as u32, cap); }
                    }
                },
                Op::Pop(n) => for _ in 0..n {
                    prop_assert_eq!(c.dequeue().unwrap(), model.pop_front());
                },
            }
        }
    }

    /// Serial: all `capacity` bytes usable, wrap from near u32::MAX.
    #[test]
    fn serial_wraps_like_a_deque(back in 0u32..70, chunks in prop::collection::vec((any::<bool>(), 0usize..40), 1..40)) {
        let cap = 32u32;
        let start = u32::MAX - back;
        let h = HeapRegion::new(12);
        let d = HeapRegion::new(cap as usize);
        h.memory().store_u32(0, start, Relaxed).unwrap();
        h.memory().store_u32(4, start, Relaxed).unwrap();
        let mut p = SerialProducer::new(h.memory(), d.memory(), cap).unwrap();
        let mut c = SerialConsumer::new(h.memory(), d.memory(), cap).unwrap();
        let mut model = VecDeque::new();
        let mut k = 0u8;
        for (write, n) in chunks {
            if write {
                let data: Vec<u8> = (0..n).map(|i| k.wrapping_add(i as u8)).collect();
                let took = p.write(&data).unwrap();
                prop_assert_eq!(took, n.min(cap as usize - model.len()));
                model.extend(&data[..took]);
                k = k.wrapping_add(took as u8);
            } else {
                let mut out = vec![0; n];
                let got = c.read(&mut out).unwrap();
                let want: Vec<u8> = (0..got).filter_map(|_| model.pop_front()).collect();
                prop_assert_eq!(got, n.min(got + model.len()));
                prop_assert_eq!(&out[..got], &want[..]);
            }
        }
    }
}
