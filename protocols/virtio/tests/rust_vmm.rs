//! Our driver-side split queue against rust-vmm's virtio-queue as the
//! device, over one shared vm-memory guest: randomized rounds in which
//! both sides must agree on every byte, and adversarial used rings that
//! must be rejected without a stray write.

mod common;

use common::{GUEST_BASE, Guest, Rng, device_queue};
use sevio_virtio::features::{Features, general};
use sevio_virtio::queue::SplitLayout;
use sevio_virtio::{Buffer, DeviceFault, Error, IndirectPool, QueueMemory, SplitQueue, Used, VirtQueue};
use std::collections::{HashMap, VecDeque};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress};

const QSIZE: u16 = 64;
const CANARY: u8 = 0xa5;
const GUEST_LEN: usize = 0x60000;
/// Guest layout: [canary][queue @0x1000][canary][pool @0x3000][canary][buffers @0x10000]
const QUEUE_AT: u64 = GUEST_BASE + 0x1000;
const POOL_AT: u64 = GUEST_BASE + 0x3000;
const POOL_DESCS: u16 = 8;
const BUFS_AT: u64 = GUEST_BASE + 0x10000;
const SLOT: u64 = 0x1000;

struct Rig {
    g: Guest,
    q: SplitQueue<{ QSIZE as usize }>,
    dev: Queue,
    layout: SplitLayout,
}

fn rig(event_idx: bool, indirect: bool) -> Rig {
    let g = Guest::new(GUEST_LEN);
    g.mem.fill(0, GUEST_LEN, CANARY).unwrap();
    let layout = SplitLayout::new(QSIZE).unwrap();
    let mut feats = Features::EMPTY.with(general::VERSION_1);
    if event_idx {
        feats = feats.with(general::EVENT_IDX);
    }
    if indirect {
        feats = feats.with(general::INDIRECT_DESC);
    }
    let pool_len = QSIZE as usize * POOL_DESCS as usize * 16;
    let pool = IndirectPool { mem: g.shared(POOL_AT, pool_len), device_addr: POOL_AT, max_descs: POOL_DESCS };
    let qmem = QueueMemory { mem: g.shared(QUEUE_AT, layout.total_size()), device_addr: QUEUE_AT };
    let q = SplitQueue::new(qmem, layout, feats, Some(pool)).unwrap();
    let dev = device_queue(QSIZE, q.desc_addr(), q.avail_addr(), q.used_addr(), event_idx);
    Rig { g, q, dev, layout }
}

/// Bytes the driver may legitimately have written: the queue and the pool.
fn driver_owned(layout: &SplitLayout, a: u64) -> bool {
    (QUEUE_AT..QUEUE_AT + layout.total_size() as u64).contains(&a)
        || (POOL_AT..POOL_AT + QSIZE as u64 * POOL_DESCS as u64 * 16).contains(&a)
}

fn assert_canaries(r: &Rig) {
    let mut all = vec![0u8; GUEST_LEN];
    r.g.mem.copy_out(0, &mut all).unwrap();
    for (i, b) in all.iter().enumerate() {
        let a = GUEST_BASE + i as u64;
        if !driver_owned(&r.layout, a) {
            assert_eq!(*b, CANARY, "stray write at {a:#x}");
        }
    }
}

fn pattern(seed: u64, i: usize) -> u8 {
    (seed.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8
}

struct Posted {
    bufs: Vec<Buffer>,
    slot: u64,
    seed: u64,
}

/// Randomized rounds; returns how many chains went through.
fn agree_on_every_byte(event_idx: bool, indirect: bool, rounds: usize, seed: u64) -> usize {
    let mut r = rig(event_idx, indirect);
    let mut rng = Rng::new(seed);
    let mut free_slots: Vec<u64> = (0..QSIZE as u64).collect();
    let mut posted: HashMap<u16, Posted> = HashMap::new();
    let mut at_device: Vec<u16> = Vec::new();
    let mut expect_used: VecDeque<(u16, u32)> = VecDeque::new();
    let (mut device_used, mut driver_used) = (0u16, 0u16);
    let mut device_notify_on = true; // after construction: flags 0 / avail_event 0
    let mut armed = true; // EVENT_IDX: avail_event points at the next entry
    let mut irq_on = true;
    let mut done = 0;

    for round in 0..rounds {
        // 1. Driver adds chains.
        let mut added = 0;
        for _ in 0..rng.range(0, 4) {
            let nb = rng.range(1, 5) as usize;
            if !r.q.can_add(nb) || free_slots.is_empty() {
                break;
            }
            let nr = rng.range(0, nb as u64) as usize;
            let slot = free_slots.swap_remove(rng.range(0, free_slots.len() as u64 - 1) as usize);
            let mut at = BUFS_AT + slot * SLOT;
            let cseed = rng.next();
            let mut bufs = Vec::new();
            for i in 0..nb {
                let len = rng.range(1, 600) as u32;
                let b = if i < nr { Buffer::readable(at, len) } else { Buffer::writable(at, len) };
                if i < nr {
                    let data: Vec<u8> = (0..len as usize).map(|k| pattern(cseed + i as u64, k)).collect();
                    r.g.gm.write_slice(&data, GuestAddress(at)).unwrap();
                }
                bufs.push(b);
                at += len as u64 + 16; // 16 canary bytes between buffers
            }
            let t = r.q.add(&bufs).unwrap();
            assert!(
                posted.insert(t.index(), Posted { bufs, slot, seed: cseed }).is_none(),
                "token reused while in flight"
            );
            added += 1;
        }
        // 2. Notification decision must match the device's suppression state.
        let kick = r.q.should_notify().unwrap();
        // With EVENT_IDX "disabling" changes nothing on the device side:
        // avail_event stays where the last enable put it.
        let want = added > 0 && if event_idx { armed } else { device_notify_on };
        assert_eq!(kick, want, "round {round}: should_notify disagrees with the device");
        if kick {
            armed = false;
        }
        // 3. Device consumes what is available (when kicked, or polling).
        if kick || rng.chance(3) {
            r.dev.disable_notification(&r.g.gm).unwrap();
            while let Some(chain) = r.dev.pop_descriptor_chain(&r.g.gm) {
                let head = chain.head_index();
                let p = posted.get(&head).expect("device popped a chain we did not post");
                let seen: Vec<Buffer> =
                    chain.map(|d| Buffer { addr: d.addr().0, len: d.len(), writable: d.is_write_only() }).collect();
                assert_eq!(seen, p.bufs, "device sees other buffers than we added");
                for (i, b) in p.bufs.iter().enumerate().filter(|(_, b)| !b.writable) {
                    let mut got = vec![0u8; b.len as usize];
                    r.g.gm.read_slice(&mut got, GuestAddress(b.addr)).unwrap();
                    assert!(got.iter().enumerate().all(|(k, &v)| v == pattern(p.seed + i as u64, k)));
                }
                at_device.push(head);
            }
            // Sometimes the device keeps polling with notifications off.
            device_notify_on = !rng.chance(5);
            if device_notify_on {
                assert!(!r.dev.enable_notification(&r.g.gm).unwrap(), "drained, nothing pending");
                armed = true;
            }
        }
        // 4. Device completes some chains, in any order.
        let before = device_used;
        let mut n = 0;
        while !at_device.is_empty() && rng.chance(2) {
            let head = at_device.swap_remove(rng.range(0, at_device.len() as u64 - 1) as usize);
            let p = &posted[&head];
            let writable: u64 = p.bufs.iter().filter(|b| b.writable).map(|b| b.len as u64).sum();
            let len = rng.range(0, writable) as u32;
            let mut left = len as usize;
            for b in p.bufs.iter().filter(|b| b.writable) {
                let k = left.min(b.len as usize);
                let data: Vec<u8> = (0..k).map(|j| pattern(!p.seed, j + b.addr as usize)).collect();
                r.g.gm.write_slice(&data, GuestAddress(b.addr)).unwrap();
                left -= k;
            }
            r.dev.add_used(&r.g.gm, head, len).unwrap();
            expect_used.push_back((head, len));
            device_used = device_used.wrapping_add(1);
            n += 1;
        }
        if n > 0 {
            let irq = r.dev.needs_notification(&r.g.gm).unwrap();
            if event_idx {
                assert_eq!(irq, irq_on && driver_used == before, "round {round}: used_event disagrees");
            }
        }
        // 5. Driver harvests some or all; every element as the device reported.
        let limit = if rng.chance(4) { 1 } else { usize::MAX };
        let mut got = 0;
        while got < limit {
            let Some(u) = r.q.pop_used().unwrap() else { break };
            assert_eq!(Some((u.token.index(), u.len)), expect_used.pop_front(), "harvest disagrees with the device");
            let p = posted.remove(&u.token.index()).unwrap();
            let mut left = u.len as usize;
            for b in p.bufs.iter().filter(|b| b.writable) {
                let k = left.min(b.len as usize);
                let mut data = vec![0u8; k];
                r.g.shared(b.addr, k).copy_out(0, &mut data).unwrap();
                assert!(data.iter().enumerate().all(|(j, &v)| v == pattern(!p.seed, j + b.addr as usize)));
                left -= k;
            }
            for b in &p.bufs {
                r.g.mem.fill((b.addr - GUEST_BASE) as usize, b.len as usize, CANARY).unwrap();
            }
            free_slots.push(p.slot);
            driver_used = driver_used.wrapping_add(1);
            got += 1;
            done += 1;
        }
        if got < limit {
            assert!(expect_used.is_empty(), "driver stopped before the device's last entry");
        }
        // 6. Sometimes flip used-buffer interrupts.
        if rng.chance(6) {
            if irq_on {
                r.q.disable_interrupts().unwrap();
            } else {
                let pending = r.q.enable_interrupts().unwrap();
                assert_eq!(pending, !expect_used.is_empty());
            }
            irq_on = !irq_on;
            let flags: u16 = r.g.gm.read_obj(GuestAddress(r.q.avail_addr())).unwrap();
            assert_eq!(flags, if irq_on || event_idx { 0 } else { 1 }, "avail flags");
        }
        assert_eq!(r.q.in_flight() as usize, posted.len());
    }
    // Drain: the device completes everything, the driver harvests it.
    while let Some(chain) = r.dev.pop_descriptor_chain(&r.g.gm) {
        at_device.push(chain.head_index());
    }
    for head in at_device.drain(..) {
        r.dev.add_used(&r.g.gm, head, 0).unwrap();
        expect_used.push_back((head, 0));
    }
    while let Some(u) = r.q.pop_used().unwrap() {
        assert_eq!(Some((u.token.index(), u.len)), expect_used.pop_front());
        for b in &posted.remove(&u.token.index()).unwrap().bufs {
            r.g.mem.fill((b.addr - GUEST_BASE) as usize, b.len as usize, CANARY).unwrap();
        }
    }
    assert!(posted.is_empty() && expect_used.is_empty());
    assert_eq!(r.q.free_descriptors(), QSIZE);
    assert_canaries(&r);
    done
}

#[test]
fn randomized_rounds_plain() {
    assert!(agree_on_every_byte(false, false, 3000, 1) > 1000);
}

#[test]
fn randomized_rounds_event_idx() {
    assert!(agree_on_every_byte(true, false, 3000, 2) > 1000);
}

#[test]
fn randomized_rounds_indirect() {
    assert!(agree_on_every_byte(false, true, 3000, 3) > 1000);
}

#[test]
fn randomized_rounds_event_idx_indirect() {
    assert!(agree_on_every_byte(true, true, 3000, 4) > 1000);
}

// ---- adversarial used rings ----

#[derive(Clone, Copy, Debug)]
enum Attack {
    BadId,
    NonHead,
    LenTooLarge,
    IndexJump,
    RepeatedId,
    IndexBackwards,
}

/// Three chains posted and popped by the device; chain A completed
/// properly; then the attack is written straight into the used ring.
fn attack(kind: Attack, event_idx: bool) {
    let mut r = rig(event_idx, false);
    let chain =
        |base: u64| [Buffer::readable(base, 32), Buffer::writable(base + 48, 100), Buffer::writable(base + 160, 28)];
    let a = r.q.add(&chain(BUFS_AT)).unwrap();
    let b = r.q.add(&chain(BUFS_AT + SLOT)).unwrap();
    let _c = r.q.add(&chain(BUFS_AT + 2 * SLOT)).unwrap();
    let mut heads = Vec::new();
    while let Some(c) = r.dev.pop_descriptor_chain(&r.g.gm) {
        heads.push(c.head_index());
    }
    assert_eq!(heads.len(), 3);
    r.dev.add_used(&r.g.gm, a.index(), 128).unwrap();
    let used = r.q.used_addr();
    let elem = |slot: u64| used + 4 + 8 * (slot % QSIZE as u64);
    let write_elem = |r: &Rig, slot: u64, id: u32, len: u32| {
        r.g.gm.write_obj(id.to_le(), GuestAddress(elem(slot))).unwrap();
        r.g.gm.write_obj(len.to_le(), GuestAddress(elem(slot) + 4)).unwrap();
    };
    let set_idx = |r: &Rig, idx: u16| r.g.gm.write_obj(idx.to_le(), GuestAddress(used + 2)).unwrap();
    let non_head = {
        let next: u16 = r.g.gm.read_obj(GuestAddress(r.q.desc_addr() + b.index() as u64 * 16 + 14)).unwrap();
        next
    };
    // Chain A comes back properly first.
    assert_eq!(r.q.pop_used(), Ok(Some(Used { token: a, len: 128 })));
    let expected = match kind {
        Attack::BadId => {
            write_elem(&r, 1, QSIZE as u32 + 5, 0);
            set_idx(&r, 2);
            DeviceFault::UsedIdOutOfRange { id: QSIZE as u32 + 5 }
        }
        Attack::NonHead => {
            write_elem(&r, 1, non_head as u32, 0);
            set_idx(&r, 2);
            DeviceFault::UsedIdNotInFlight { id: non_head }
        }
        Attack::LenTooLarge => {
            write_elem(&r, 1, b.index() as u32, 129);
            set_idx(&r, 2);
            DeviceFault::UsedLenTooLarge { id: b.index(), len: 129, writable: 128 }
        }
        Attack::IndexJump => {
            set_idx(&r, 1 + 3);
            DeviceFault::UsedIndexAhead { used_idx: 4, last_used: 1, in_flight: 2 }
        }
        Attack::RepeatedId => {
            write_elem(&r, 1, a.index() as u32, 0);
            set_idx(&r, 2);
            DeviceFault::UsedIdNotInFlight { id: a.index() }
        }
        Attack::IndexBackwards => {
            set_idx(&r, 0);
            DeviceFault::UsedIndexBackwards { used_idx: 0, last_seen: 1 }
        }
    };
    let mut attacked = vec![0u8; GUEST_LEN];
    r.g.mem.copy_out(0, &mut attacked).unwrap();
    assert_eq!(r.q.pop_used(), Err(Error::Device(expected)), "{kind:?}");
    assert_eq!(r.q.pop_used(), Err(Error::Device(expected)), "{kind:?}: stays failed");
    assert_eq!(r.q.add(&chain(BUFS_AT + 3 * SLOT)), Err(Error::Device(expected)));
    assert_eq!(r.q.should_notify(), Err(Error::Device(expected)));
    let mut after = vec![0u8; GUEST_LEN];
    r.g.mem.copy_out(0, &mut after).unwrap();
    // The rejected calls wrote nothing at all.
    assert!(attacked == after, "{kind:?}: a rejected call wrote memory");
    assert_canaries(&r);
}

#[test]
fn adversarial_used_rings_are_rejected() {
    for ev in [false, true] {
        for kind in [
            Attack::BadId,
            Attack::NonHead,
            Attack::LenTooLarge,
            Attack::IndexJump,
            Attack::RepeatedId,
            Attack::IndexBackwards,
        ] {
            attack(kind, ev);
        }
    }
}
