//! Unit tests of the packed queue against a raw device (one negative test
//! per rule the driver enforces).

use super::*;
use crate::features::{Features, general};
use crate::fuzzing::RawPackedDevice;
use crate::{DeviceFault, Error};
use sevio_sharedmem::HeapRegion;

const DEV: u64 = 0x4000_0000;
const POOL_DEV: u64 = 0x5000_0000;

struct Fixture {
    _heap: HeapRegion,
    _pool_heap: HeapRegion,
    q: PackedQueue<16>,
    dev: RawPackedDevice,
    pool: sevio_sharedmem::SharedMemory,
}

fn fixture(size: u16, feats: Features) -> Fixture {
    let layout = PackedLayout::new(size).unwrap();
    let heap = HeapRegion::new(layout.total_size());
    let pool_heap = HeapRegion::new(size as usize * 4 * 16);
    let pool = IndirectPool { mem: pool_heap.memory(), device_addr: POOL_DEV, max_descs: 4 };
    let q = PackedQueue::new(QueueMemory { mem: heap.memory(), device_addr: DEV }, layout, feats, Some(pool)).unwrap();
    let dev = RawPackedDevice::new(heap.memory(), layout).with_pool(pool_heap.memory(), POOL_DEV);
    Fixture { q, dev, pool: pool_heap.memory(), _heap: heap, _pool_heap: pool_heap }
}

/// Size 5: not a power of two, and chains of three wrap soon.
fn plain() -> Fixture {
    fixture(5, Features::EMPTY)
}

fn rw(addr: u64) -> [Buffer; 3] {
    [Buffer::readable(addr, 16), Buffer::writable(addr + 0x100, 512), Buffer::writable(addr + 0x400, 1)]
}

const AVAIL_LAP1: u16 = DESC_F_AVAIL;

/// The device uses the next available chain (nothing written) and the
/// driver harvests it.
fn complete_next(f: &mut Fixture) -> Used {
    let c = f.dev.take_available().unwrap();
    f.dev.push_used(c.id, 0, c.ndesc);
    f.q.pop_used().unwrap().unwrap()
}

#[test]
fn chain_reaches_the_device_with_the_spec_flags_and_comes_back() {
    let mut f = plain();
    let t = f.q.add(&rw(0x1000)).unwrap();
    // §2.8.1: first lap, AVAIL = 1 and USED = 0; NEXT on all but the last.
    assert_eq!(f.dev.desc(0), (0x1000, 16, t.index(), AVAIL_LAP1 | DESC_F_NEXT));
    assert_eq!(f.dev.desc(1), (0x1100, 512, t.index(), AVAIL_LAP1 | DESC_F_NEXT | DESC_F_WRITE));
    assert_eq!(f.dev.desc(2), (0x1400, 1, t.index(), AVAIL_LAP1 | DESC_F_WRITE));
    assert_eq!((f.q.free_descriptors(), f.q.in_flight()), (2, 1));
    assert_eq!(f.q.pop_used(), Ok(None));
    let c = f.dev.take_available().unwrap();
    assert_eq!((c.id, c.ndesc, c.bufs.as_slice()), (t.index(), 3, &rw(0x1000)[..]));
    f.dev.push_used(c.id, 513, c.ndesc);
    assert_eq!(f.q.pop_used(), Ok(Some(Used { token: t, len: 513 })));
    assert_eq!(f.q.pop_used(), Ok(None));
    assert_eq!((f.q.free_descriptors(), f.q.in_flight()), (5, 0));
    assert_eq!((f.q.desc_addr(), f.q.driver_event_addr(), f.q.device_event_addr()), (DEV, DEV + 80, DEV + 84));
    let placement = f.q.placement();
    assert_eq!(placement.check_format(RingFormat::Packed, 5, RingInterface::Modern), Ok(()));
    assert_eq!(placement.check_inside_format(RingFormat::Packed, DEV, 88), Ok(()));
}

#[test]
fn wrap_counters_flip_at_the_end_of_the_ring() {
    let mut f = plain();
    let a = f.q.add(&rw(0)).unwrap(); // 0..=2
    complete_next(&mut f);
    let b = f.q.add(&rw(0x8000)).unwrap(); // 3, 4, then 0 in lap 2
    assert_eq!(f.dev.desc(3).3, AVAIL_LAP1 | DESC_F_NEXT);
    assert_eq!(f.dev.desc(4).3, AVAIL_LAP1 | DESC_F_NEXT | DESC_F_WRITE);
    // Lap 2: AVAIL = 0, USED = 1.
    assert_eq!(f.dev.desc(0), (0x8400, 1, b.index(), DESC_F_USED | DESC_F_WRITE));
    let c = f.dev.take_available().unwrap();
    assert_eq!(c.bufs.as_slice(), &rw(0x8000)[..]);
    f.dev.push_used(c.id, 1, c.ndesc);
    assert_eq!(f.dev.used_cursor(), (1, false));
    assert_eq!(f.q.pop_used(), Ok(Some(Used { token: b, len: 1 })));
    assert_eq!(a, b, "the id came back to the free list");
    // Many laps, out-of-order completion.
    for round in 0..50u64 {
        let x = f.q.add(&[Buffer::readable(round, 8), Buffer::writable(round, 8)]).unwrap();
        let y = f.q.add(&[Buffer::writable(round, 4)]).unwrap();
        let cx = f.dev.take_available().unwrap();
        let cy = f.dev.take_available().unwrap();
        f.dev.push_used(cy.id, 4, cy.ndesc);
        f.dev.push_used(cx.id, 8, cx.ndesc);
        assert_eq!(f.q.pop_used().unwrap().unwrap(), Used { token: y, len: 4 });
        assert_eq!(f.q.pop_used().unwrap().unwrap(), Used { token: x, len: 8 });
    }
    assert_eq!(f.q.free_descriptors(), 5);
}

#[test]
fn indirect_chain_is_one_ring_descriptor() {
    let mut f = fixture(5, Features::EMPTY.with(general::INDIRECT_DESC));
    assert!(f.q.uses_indirect());
    let t = f.q.add(&rw(0x2000)).unwrap();
    assert_eq!(f.q.free_descriptors(), 4);
    let table = t.index() as u64 * 4 * 16;
    assert_eq!(f.dev.desc(0), (POOL_DEV + table, 48, t.index(), AVAIL_LAP1 | DESC_F_INDIRECT));
    // §2.8.19: only WRITE inside the table.
    let flags = |i: usize| f.pool.read::<u16>(table as usize + 16 * i + 14).unwrap();
    assert_eq!((flags(0), flags(1), flags(2)), (0, DESC_F_WRITE, DESC_F_WRITE));
    let c = f.dev.take_available().unwrap();
    assert!(c.indirect);
    assert_eq!(c.bufs.as_slice(), &rw(0x2000)[..]);
    f.dev.push_used(c.id, 100, c.ndesc);
    assert_eq!(f.q.pop_used(), Ok(Some(Used { token: t, len: 100 })));
    // A single buffer goes direct.
    let single = f.q.add(&[Buffer::writable(1, 1)]).unwrap();
    assert_eq!(f.dev.desc(1).3, AVAIL_LAP1 | DESC_F_WRITE);
    assert_ne!(single, Token(99));
}

#[test]
fn rejects_chains_the_spec_forbids() {
    let mut f = plain();
    assert_eq!(f.q.add(&[]), Err(Error::EmptyChain));
    assert_eq!(f.q.add(&[Buffer::readable(0, 1); 6]), Err(Error::ChainTooLong { len: 6, max: 5 }));
    assert_eq!(f.q.add(&[Buffer::writable(0, 1), Buffer::readable(0, 1)]), Err(Error::WritableBeforeReadable));
    let huge = [Buffer::readable(0, u32::MAX), Buffer::readable(0, 2)];
    assert_eq!(f.q.add(&huge), Err(Error::ChainTooLarge));
    f.q.add(&[Buffer::readable(0, 1); 4]).unwrap();
    assert!(f.q.can_add(1) && !f.q.can_add(2));
    assert_eq!(f.q.add(&rw(0)), Err(Error::QueueFull));
    assert!(f.dev.take_available().is_some());
    assert!(f.dev.take_available().is_none(), "rejected chains were not published");
}

#[test]
fn notify_follows_the_device_event_suppression() {
    let mut f = plain();
    assert_eq!(f.q.should_notify(), Ok(false), "nothing added");
    f.q.add(&rw(0)).unwrap();
    assert_eq!(f.q.should_notify(), Ok(true), "ENABLE after zero-initialisation");
    assert_eq!(f.q.should_notify(), Ok(false), "already notified");
    f.dev.set_device_event(0, RING_EVENT_FLAGS_DISABLE);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap();
    assert_eq!(f.q.should_notify(), Ok(false));
    // DESC without RING_EVENT_IDX negotiated is not valid (§2.8.10): notify.
    f.dev.set_device_event(0x8000 | 4, RING_EVENT_FLAGS_DESC);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap();
    assert_eq!(f.q.should_notify(), Ok(true));
    // The reserved value 3: notify.
    f.dev.set_device_event(0, 3);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap_err();
    complete_next(&mut f);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap();
    assert_eq!(f.q.should_notify(), Ok(true));
}

#[test]
fn notify_with_event_idx_names_one_descriptor() {
    let mut f = fixture(5, Features::EMPTY.with(general::EVENT_IDX));
    // Ask for an event when position 2 of lap 1 becomes available.
    f.dev.set_device_event(0x8000 | 2, RING_EVENT_FLAGS_DESC);
    f.q.add(&[Buffer::readable(0, 1), Buffer::readable(0, 1)]).unwrap(); // 0, 1
    assert_eq!(f.q.should_notify(), Ok(false));
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // 2
    assert_eq!(f.q.should_notify(), Ok(true));
    // An event in lap 2 at position 0, crossed by a chain that wraps.
    for _ in 0..2 {
        complete_next(&mut f);
    }
    f.dev.set_device_event(0, RING_EVENT_FLAGS_DESC);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // 3
    assert_eq!(f.q.should_notify(), Ok(false));
    f.q.add(&[Buffer::readable(0, 1), Buffer::readable(0, 1)]).unwrap(); // 4, then 0 of lap 2
    assert_eq!(f.q.should_notify(), Ok(true));
    // An event in lap 1 (one behind) is not in the window any more.
    f.dev.set_device_event(0x8000 | 3, RING_EVENT_FLAGS_DESC);
    complete_next(&mut f);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // 1 of lap 2
    assert_eq!(f.q.should_notify(), Ok(false));
    // An offset beyond the ring: notify rather than risk a hang.
    f.dev.set_device_event(0x8000 | 9, RING_EVENT_FLAGS_DESC);
    complete_next(&mut f);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap();
    assert_eq!(f.q.should_notify(), Ok(true));
}

#[test]
fn interrupt_suppression_without_event_idx() {
    let mut f = plain();
    assert_eq!(f.dev.driver_event().1, RING_EVENT_FLAGS_ENABLE);
    f.q.disable_interrupts().unwrap();
    assert_eq!(f.dev.driver_event().1, RING_EVENT_FLAGS_DISABLE);
    assert_eq!(f.q.enable_interrupts(), Ok(false));
    assert_eq!(f.dev.driver_event().1, RING_EVENT_FLAGS_ENABLE);
    f.q.add(&rw(0)).unwrap();
    f.q.disable_interrupts().unwrap();
    let c = f.dev.take_available().unwrap();
    f.dev.push_used(c.id, 0, c.ndesc);
    assert_eq!(f.q.enable_interrupts(), Ok(true), "work arrived while disabled");
}

#[test]
fn interrupt_suppression_with_event_idx() {
    let mut f = fixture(5, Features::EMPTY.with(general::EVENT_IDX));
    assert_eq!(f.dev.driver_event(), (0x8000, RING_EVENT_FLAGS_DESC), "event at the first descriptor");
    let t = f.q.add(&rw(0)).unwrap();
    let c = f.dev.take_available().unwrap();
    f.dev.push_used(c.id, 0, c.ndesc);
    assert!(f.dev.driver_wants_interrupt(&[(0, true)]));
    assert_eq!(f.q.pop_used().unwrap().unwrap().token, t);
    assert_eq!(f.dev.driver_event(), (0x8000 | 3, RING_EVENT_FLAGS_DESC), "next used descriptor");
    f.q.disable_interrupts().unwrap();
    assert_eq!(f.dev.driver_event().1, RING_EVENT_FLAGS_DISABLE);
    f.q.add(&rw(0)).unwrap();
    let c = f.dev.take_available().unwrap();
    f.dev.push_used(c.id, 0, c.ndesc);
    assert!(!f.dev.driver_wants_interrupt(&[(3, true)]));
    f.q.pop_used().unwrap().unwrap();
    assert_eq!(f.dev.driver_event().1, RING_EVENT_FLAGS_DISABLE, "not re-armed while disabled");
    assert_eq!(f.q.enable_interrupts(), Ok(false));
    // Next used descriptor: position 1 of lap 2.
    assert_eq!(f.dev.driver_event(), (1, RING_EVENT_FLAGS_DESC));
}

fn assert_failed(f: &mut Fixture, fault: DeviceFault) {
    assert_eq!(f.q.pop_used(), Err(Error::Device(fault)));
    assert_eq!(f.q.fault(), Some(fault));
    assert_eq!(f.q.pop_used(), Err(Error::Device(fault)));
    assert_eq!(f.q.add(&rw(0)), Err(Error::Device(fault)));
    assert_eq!(f.q.should_notify(), Err(Error::Device(fault)));
    assert_eq!(f.q.enable_interrupts(), Err(Error::Device(fault)));
    assert_eq!(f.q.disable_interrupts(), Err(Error::Device(fault)));
}

#[test]
fn fault_used_without_anything_available() {
    let mut f = plain();
    f.dev.write_desc(0, 0, 0, 0, RawPackedDevice::used_flags(true));
    assert_failed(&mut f, DeviceFault::UsedWithoutAvailable { position: 0, flags: DESC_F_AVAIL | DESC_F_USED });
}

#[test]
fn fault_used_flags_inconsistent() {
    // In lap 1 with a chain in flight: USED matches the lap but AVAIL
    // does not, and both bits of the previous lap (a used descriptor the
    // driver has since overwritten).
    for flags in [DESC_F_USED, 0] {
        let mut f = plain();
        let t = f.q.add(&rw(0)).unwrap();
        f.dev.write_desc(0, 0, 0, t.index(), flags);
        assert_failed(&mut f, DeviceFault::UsedFlagsInconsistent { position: 0, flags });
    }
}

#[test]
fn descriptors_left_from_the_last_lap_are_not_used() {
    let mut f = plain();
    f.q.add(&rw(0)).unwrap();
    // The driver's own available descriptor (AVAIL=1, USED=0) never reads
    // as used in lap 1.
    assert_eq!(f.q.pop_used(), Ok(None));
    complete_next(&mut f);
    // Positions 1 and 2 still hold lap-1 available descriptors (AVAIL=1,
    // USED=0), which look "used" by their USED bit alone in lap 2.
    f.q.add(&rw(0)).unwrap(); // 3, 4, 0
    complete_next(&mut f);
    assert_eq!(f.dev.desc(1).3, AVAIL_LAP1 | DESC_F_NEXT | DESC_F_WRITE);
    assert_eq!((f.q.pop_used(), f.q.enable_interrupts()), (Ok(None), Ok(false)));
    assert_eq!(f.q.fault(), None);
}

#[test]
fn fault_used_id_out_of_range_or_never_handed_out() {
    let cases = [(5, DeviceFault::UsedIdOutOfRange { id: 5 }), (3, DeviceFault::UsedIdNotInFlight { id: 3 })];
    for (id, fault) in cases {
        let mut f = plain();
        f.q.add(&rw(0)).unwrap();
        f.dev.push_used(id, 0, 3);
        assert_failed(&mut f, fault);
    }
}

#[test]
fn fault_used_id_repeated() {
    let mut f = plain();
    let a = f.q.add(&[Buffer::writable(0, 4)]).unwrap();
    f.q.add(&[Buffer::writable(0, 4)]).unwrap();
    f.dev.push_used(a.index(), 1, 1);
    f.dev.push_used(a.index(), 1, 1);
    assert!(f.q.pop_used().unwrap().is_some());
    assert_failed(&mut f, DeviceFault::UsedIdNotInFlight { id: a.index() });
}

#[test]
fn fault_used_len_beyond_writable() {
    let mut f = plain();
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.push_used(t.index(), 514, 3);
    assert_failed(&mut f, DeviceFault::UsedLenTooLarge { id: t.index(), len: 514, writable: 513 });
    // A read-only chain may report nothing written.
    let mut f = plain();
    let t = f.q.add(&[Buffer::readable(0, 64)]).unwrap();
    f.dev.push_used(t.index(), 1, 1);
    assert_failed(&mut f, DeviceFault::UsedLenTooLarge { id: t.index(), len: 1, writable: 0 });
}

/// As QEMU writes them: no WRITE flag in a used descriptor, the length
/// of what it wrote all the same; still held to the writable bytes.
#[test]
fn used_len_of_a_writable_chain_counts_without_the_write_flag() {
    let mut f = plain();
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.write_desc(0, 0, 100, t.index(), RawPackedDevice::used_flags(true));
    assert_eq!(f.q.pop_used(), Ok(Some(Used { token: t, len: 100 })));
    // The next chain occupies 3, 4 and 0; its used descriptor goes at 3.
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.write_desc(3, 0, 514, t.index(), RawPackedDevice::used_flags(true));
    assert_failed(&mut f, DeviceFault::UsedLenTooLarge { id: t.index(), len: 514, writable: 513 });
}

#[test]
fn used_len_without_write_flag_is_ignored() {
    // §2.8.4: without VIRTQ_DESC_F_WRITE the length is reserved.
    let mut f = plain();
    let t = f.q.add(&[Buffer::readable(0, 64)]).unwrap();
    f.dev.write_desc(0, 0, 0xdead_beef, t.index(), RawPackedDevice::used_flags(true));
    assert_eq!(f.q.pop_used(), Ok(Some(Used { token: t, len: 0 })));
}

#[test]
fn construction_checks() {
    // The region and pool rules are the split queue's (one function each);
    // here: that the packed queue applies them to its own layout.
    let layout = PackedLayout::new(8).unwrap();
    let heap = HeapRegion::new(1024);
    let mem = heap.memory();
    let make = |m: sevio_sharedmem::SharedMemory, dev, l| {
        PackedQueue::<8>::new(QueueMemory { mem: m, device_addr: dev }, l, Features::EMPTY, None).err()
    };
    let need = layout.total_size();
    let short = mem.slice(0, need - 1).unwrap();
    assert_eq!(make(short, 0, layout), Some(Error::RegionTooSmall { need, have: need - 1 }));
    assert_eq!(make(mem, 4, layout), Some(Error::Misaligned), "16-byte alignment, not 4");
    assert_eq!(make(mem, 0, PackedLayout::new(9).unwrap()), Some(Error::BadQueueSize(9)), "beyond N");
    assert_eq!(make(mem, 0x10, PackedLayout::new(7).unwrap()), None, "any size up to N");
}

#[test]
fn fuzz_body_survives_random_inputs() {
    let mut harvested = 0;
    crate::fuzzing::random_inputs(0x2545_f491_4f6c_dd1d, 5000, |i, input| {
        // Bias half the inputs towards the well-behaved device (op 0) so
        // deep states (many laps, indirect, events) are reached.
        if i % 2 == 0 {
            input.iter_mut().skip(2).step_by(2).for_each(|b| *b &= 0xfc);
        }
        harvested += crate::fuzzing::fuzz_packed_ring(input);
    });
    // The inputs reach real work, not just early faults.
    assert!(harvested > 10_000, "only {harvested} chains harvested");
}
