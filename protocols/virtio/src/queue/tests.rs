//! Unit tests of the split queue against a raw device (one negative test
//! per rule the driver enforces).

use super::*;
use crate::features::{Features, general};
use crate::fuzzing::RawDevice;
use crate::{DeviceFault, Error};
use sevio_sharedmem::HeapRegion;

const DEV: u64 = 0x4000_0000;
const POOL_DEV: u64 = 0x5000_0000;

struct Fixture {
    _heap: HeapRegion,
    _pool_heap: HeapRegion,
    q: SplitQueue<16>,
    dev: RawDevice,
    pool: sevio_sharedmem::SharedMemory,
}

fn fixture(size: u16, feats: Features) -> Fixture {
    let layout = SplitLayout::new(size).unwrap();
    let heap = HeapRegion::new(layout.total_size());
    let pool_heap = HeapRegion::new(size as usize * 4 * 16);
    let pool = IndirectPool { mem: pool_heap.memory(), device_addr: POOL_DEV, max_descs: 4 };
    let q = SplitQueue::new(QueueMemory { mem: heap.memory(), device_addr: DEV }, layout, feats, Some(pool)).unwrap();
    let dev = RawDevice::new(heap.memory(), layout);
    Fixture { q, dev, pool: pool_heap.memory(), _heap: heap, _pool_heap: pool_heap }
}

fn plain() -> Fixture {
    fixture(8, Features::EMPTY)
}

fn rw(addr: u64) -> [Buffer; 3] {
    [Buffer::readable(addr, 16), Buffer::writable(addr + 0x100, 512), Buffer::writable(addr + 0x400, 1)]
}

#[test]
fn direct_chain_reaches_the_device_and_comes_back() {
    let mut f = plain();
    let t = f.q.add(&rw(0x1000)).unwrap();
    assert_eq!(f.dev.avail_idx(), 1);
    let head = f.dev.avail_entry(0);
    assert_eq!(head, t.index());
    let d0 = f.dev.desc(head);
    assert_eq!((d0.0, d0.1, d0.2), (0x1000, 16, DESC_F_NEXT));
    let d1 = f.dev.desc(d0.3);
    assert_eq!((d1.0, d1.1, d1.2), (0x1100, 512, DESC_F_NEXT | DESC_F_WRITE));
    let d2 = f.dev.desc(d1.3);
    assert_eq!((d2.0, d2.1, d2.2), (0x1400, 1, DESC_F_WRITE));
    assert_eq!((f.q.free_descriptors(), f.q.in_flight()), (5, 1));
    assert_eq!(f.q.pop_used(), Ok(None));
    f.dev.push_used(head as u32, 513);
    assert_eq!(f.q.pop_used(), Ok(Some(Used { token: t, len: 513 })));
    assert_eq!(f.q.pop_used(), Ok(None));
    assert_eq!((f.q.free_descriptors(), f.q.in_flight()), (8, 0));
    assert_eq!(f.q.desc_addr(), DEV);
    assert_eq!(f.q.avail_addr(), DEV + 128);
}

#[test]
fn descriptors_are_recycled_over_many_rounds() {
    let mut f = plain();
    for round in 0..100u64 {
        let a = f.q.add(&rw(round << 12)).unwrap();
        let b = f.q.add(&[Buffer::writable(7, 8)]).unwrap();
        f.dev.push_used(b.index() as u32, 8);
        f.dev.push_used(a.index() as u32, 0);
        assert_eq!(f.q.pop_used().unwrap().unwrap().token, b);
        assert_eq!(f.q.pop_used().unwrap().unwrap().token, a);
    }
    assert_eq!(f.q.free_descriptors(), 8);
}

#[test]
fn indirect_chain_uses_the_pool() {
    let mut f = fixture(8, Features::EMPTY.with(general::INDIRECT_DESC));
    assert!(f.q.uses_indirect());
    let t = f.q.add(&rw(0x2000)).unwrap();
    assert_eq!(f.q.free_descriptors(), 7);
    let d = f.dev.desc(t.index());
    let table = t.index() as u64 * 4 * 16;
    assert_eq!((d.0, d.1, d.2), (POOL_DEV + table, 48, DESC_F_INDIRECT));
    let entry = |i: usize| {
        let at = table as usize + 16 * i;
        (
            f.pool.read::<u64>(at).unwrap(),
            f.pool.read::<u32>(at + 8).unwrap(),
            f.pool.read::<u16>(at + 12).unwrap(),
            f.pool.read::<u16>(at + 14).unwrap(),
        )
    };
    assert_eq!(entry(0), (0x2000, 16, DESC_F_NEXT, 1));
    assert_eq!(entry(1), (0x2100, 512, DESC_F_NEXT | DESC_F_WRITE, 2));
    assert_eq!(entry(2), (0x2400, 1, DESC_F_WRITE, 0));
    // A single buffer goes direct; a chain longer than the table too.
    let single = f.q.add(&[Buffer::writable(1, 1)]).unwrap();
    assert_eq!(f.dev.desc(single.index()).2, DESC_F_WRITE);
    let five = [Buffer::readable(1, 1); 5];
    let long = f.q.add(&five).unwrap();
    assert_eq!(f.dev.desc(long.index()).2, DESC_F_NEXT);
    assert_eq!(f.q.free_descriptors(), 1);
    f.dev.push_used(t.index() as u32, 513);
    assert_eq!(f.q.pop_used().unwrap().unwrap().len, 513);
    assert_eq!(f.q.free_descriptors(), 2);
}

#[test]
fn indirect_pool_ignored_without_the_feature() {
    let mut f = plain();
    assert!(!f.q.uses_indirect());
    let t = f.q.add(&rw(0)).unwrap();
    assert_eq!(f.dev.desc(t.index()).2, DESC_F_NEXT);
}

#[test]
fn rejects_chains_the_spec_forbids() {
    let mut f = plain();
    assert_eq!(f.q.add(&[]), Err(Error::EmptyChain));
    assert_eq!(f.q.add(&[Buffer::readable(0, 1); 9]), Err(Error::ChainTooLong { len: 9, max: 8 }));
    assert_eq!(f.q.add(&[Buffer::writable(0, 1), Buffer::readable(0, 1)]), Err(Error::WritableBeforeReadable));
    let huge = [Buffer::readable(0, u32::MAX), Buffer::readable(0, 2)];
    assert_eq!(f.q.add(&huge), Err(Error::ChainTooLarge));
    // Exactly 2^32 is allowed.
    assert!(f.q.add(&[Buffer::readable(0, u32::MAX), Buffer::writable(0, 1)]).is_ok());
    assert!(f.q.add(&[Buffer::readable(0, 1); 6]).is_ok());
    assert!(!f.q.can_add(1));
    assert_eq!(f.q.add(&[Buffer::readable(0, 1)]), Err(Error::QueueFull));
    assert_eq!(f.dev.avail_idx(), 2, "rejected chains were not published");
}

#[test]
fn notify_without_event_idx_follows_used_flags() {
    let mut f = plain();
    assert_eq!(f.q.should_notify(), Ok(false), "nothing added");
    f.q.add(&rw(0)).unwrap();
    assert_eq!(f.q.should_notify(), Ok(true));
    assert_eq!(f.q.should_notify(), Ok(false), "already notified");
    f.dev.set_used_flags(USED_F_NO_NOTIFY);
    f.q.add(&rw(0)).unwrap();
    assert_eq!(f.q.should_notify(), Ok(false));
}

#[test]
fn notify_with_event_idx_follows_avail_event() {
    let mut f = fixture(8, Features::EMPTY.with(general::EVENT_IDX));
    f.dev.set_used_flags(USED_F_NO_NOTIFY); // ignored with EVENT_IDX
    f.dev.set_avail_event(0);
    f.q.add(&rw(0)).unwrap(); // avail idx 0 -> 1: entry 0 added
    assert_eq!(f.q.should_notify(), Ok(true));
    f.dev.set_avail_event(5);
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // entry 1
    assert_eq!(f.q.should_notify(), Ok(false));
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // entry 2
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // entry 3
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // entry 4
    assert_eq!(f.q.should_notify(), Ok(false));
    f.q.add(&[Buffer::readable(0, 1)]).unwrap(); // entry 5 == avail_event
    assert_eq!(f.q.should_notify(), Ok(true));
}

#[test]
fn need_event_arithmetic() {
    assert!(vring_need_event(0, 1, 0));
    assert!(!vring_need_event(1, 1, 0));
    assert!(vring_need_event(3, 5, 2));
    assert!(!vring_need_event(5, 5, 2));
    assert!(vring_need_event(65535, 2, 65534), "wraps");
}

#[test]
fn interrupt_suppression_without_event_idx() {
    let mut f = plain();
    f.q.disable_interrupts().unwrap();
    assert_eq!(f.dev.avail_flags(), AVAIL_F_NO_INTERRUPT);
    assert_eq!(f.q.enable_interrupts(), Ok(false));
    assert_eq!(f.dev.avail_flags(), 0);
    let t = f.q.add(&rw(0)).unwrap();
    f.q.disable_interrupts().unwrap();
    f.dev.push_used(t.index() as u32, 0);
    assert_eq!(f.q.enable_interrupts(), Ok(true), "work arrived while disabled");
}

#[test]
fn interrupt_suppression_with_event_idx() {
    let mut f = fixture(8, Features::EMPTY.with(general::EVENT_IDX));
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.push_used(t.index() as u32, 0);
    f.q.pop_used().unwrap().unwrap();
    assert_eq!(f.dev.used_event(), 1, "interrupt at the next entry");
    f.q.disable_interrupts().unwrap();
    assert_eq!(f.dev.avail_flags(), 0, "flags stay 0 with EVENT_IDX");
    assert_eq!(f.dev.used_event(), 0, "one behind: never reached");
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.push_used(t.index() as u32, 0);
    f.q.pop_used().unwrap().unwrap();
    assert_eq!(f.dev.used_event(), 0, "not re-armed while disabled");
    assert_eq!(f.q.enable_interrupts(), Ok(false));
    assert_eq!(f.dev.used_event(), 2);
}

fn assert_failed(f: &mut Fixture, fault: DeviceFault) {
    assert_eq!(f.q.pop_used(), Err(Error::Device(fault)));
    assert_eq!(f.q.fault(), Some(fault));
    assert_eq!(f.q.pop_used(), Err(Error::Device(fault)));
    assert_eq!(f.q.add(&rw(0)), Err(Error::Device(fault)));
    assert_eq!(f.q.should_notify(), Err(Error::Device(fault)));
    assert_eq!(f.q.enable_interrupts(), Err(Error::Device(fault)));
}

#[test]
fn fault_used_index_ahead_of_in_flight() {
    let mut f = plain();
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.write_used_elem(0, t.index() as u32, 0);
    f.dev.write_used_elem(1, t.index() as u32, 0);
    f.dev.set_used_idx(2);
    assert_failed(&mut f, DeviceFault::UsedIndexAhead { used_idx: 2, last_used: 0, in_flight: 1 });
}

#[test]
fn fault_used_index_backwards() {
    let mut f = plain();
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.push_used(t.index() as u32, 0);
    f.q.pop_used().unwrap().unwrap();
    f.q.add(&rw(0)).unwrap();
    f.dev.set_used_idx(0);
    assert_failed(&mut f, DeviceFault::UsedIndexBackwards { used_idx: 0, last_seen: 1 });
}

#[test]
fn fault_used_id_out_of_range() {
    let mut f = plain();
    f.q.add(&rw(0)).unwrap();
    f.dev.push_used(8, 0);
    assert_failed(&mut f, DeviceFault::UsedIdOutOfRange { id: 8 });
}

#[test]
fn fault_used_id_of_a_non_head() {
    let mut f = plain();
    let t = f.q.add(&rw(0)).unwrap();
    let second = f.dev.desc(t.index()).3;
    f.dev.push_used(second as u32, 0);
    assert_failed(&mut f, DeviceFault::UsedIdNotInFlight { id: second });
}

#[test]
fn fault_used_id_repeated() {
    let mut f = plain();
    let a = f.q.add(&rw(0)).unwrap();
    f.q.add(&rw(0)).unwrap();
    f.dev.push_used(a.index() as u32, 1);
    f.dev.push_used(a.index() as u32, 1);
    assert!(f.q.pop_used().unwrap().is_some());
    assert_failed(&mut f, DeviceFault::UsedIdNotInFlight { id: a.index() });
}

#[test]
fn fault_used_len_beyond_writable() {
    let mut f = plain();
    let t = f.q.add(&rw(0)).unwrap();
    f.dev.push_used(t.index() as u32, 514);
    assert_failed(&mut f, DeviceFault::UsedLenTooLarge { id: t.index(), len: 514, writable: 513 });
    // A read-only chain may report nothing at all.
    let mut f = plain();
    let t = f.q.add(&[Buffer::readable(0, 64)]).unwrap();
    f.dev.push_used(t.index() as u32, 1);
    assert_failed(&mut f, DeviceFault::UsedLenTooLarge { id: t.index(), len: 1, writable: 0 });
}

#[test]
fn construction_checks() {
    let layout = SplitLayout::new(8).unwrap();
    let heap = HeapRegion::new(1024);
    let mem = heap.memory();
    let make = |m, dev, l, pool| {
        SplitQueue::<8>::new(
            QueueMemory { mem: m, device_addr: dev },
            l,
            Features::EMPTY.with(general::INDIRECT_DESC),
            pool,
        )
        .err()
    };
    let short = mem.slice(0, layout.total_size() - 1).unwrap();
    assert_eq!(
        make(short, 0, layout, None),
        Some(Error::RegionTooSmall { need: layout.total_size(), have: layout.total_size() - 1 })
    );
    assert_eq!(make(mem, 8, layout, None), Some(Error::Misaligned));
    assert_eq!(make(mem.slice(8, layout.total_size()).unwrap(), 0, layout, None), Some(Error::Misaligned));
    assert_eq!(make(mem, 0, SplitLayout::new(16).unwrap(), None), Some(Error::BadQueueSize(16)));
    let pool = |len, max| Some(IndirectPool { mem: mem.slice(0, len).unwrap(), device_addr: 0, max_descs: max });
    assert_eq!(make(mem, 0, layout, pool(8 * 4 * 16 - 1, 4)), Some(Error::IndirectPoolTooSmall));
    assert_eq!(make(mem, 0, layout, pool(256, 1)), Some(Error::IndirectPoolTooSmall));
    assert_eq!(make(mem, 0, layout, pool(8 * 4 * 16, 4)), None);
}

#[test]
fn legacy_layout_queue_works() {
    let layout = SplitLayout::legacy(16, LEGACY_ALIGN).unwrap();
    let heap = HeapRegion::new(layout.total_size());
    let mut q = SplitQueue::<16>::new(
        QueueMemory { mem: heap.memory(), device_addr: 0x8000_0000 },
        layout,
        Features::EMPTY,
        None,
    )
    .unwrap();
    assert_eq!(q.used_addr(), 0x8000_1000);
    let mut dev = RawDevice::new(heap.memory(), layout);
    let t = q.add(&rw(0)).unwrap();
    dev.push_used(t.index() as u32, 3);
    assert_eq!(q.pop_used(), Ok(Some(Used { token: t, len: 3 })));
}

#[test]
fn fuzz_body_survives_random_inputs() {
    crate::fuzzing::random_inputs(0x9e37_79b9_7f4a_7c15, 5000, |i, input| {
        // Bias some inputs towards plausible used rings: small ids/lengths.
        if i % 2 == 0 {
            input.iter_mut().skip(1).for_each(|b| *b &= 0x0f);
        }
        crate::fuzzing::fuzz_used_ring(input);
    });
}
