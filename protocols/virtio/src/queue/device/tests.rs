//! The device side against the real driver side ([`SplitQueue`]), and
//! against a driver that writes its rings by hand.

use super::*;
use crate::fuzzing::{DriverArena, RING_BASE};
use crate::queue::{Buffer, SplitQueue, VirtQueue};

const N: u16 = 8;

fn setup() -> (DriverArena, SplitQueue<8>, DeviceQueue<8>) {
    let arena = DriverArena::new(N);
    let driver = arena.driver_queue::<8>();
    let device = DeviceQueue::<8>::new(arena.ring(), &arena).unwrap();
    (arena, driver, device)
}

#[test]
fn chains_go_round_between_the_real_driver_and_this_device() {
    let (arena, mut driver, mut device) = setup();
    let (out, inp) = (arena.buffer(0), arena.buffer(1));
    arena.memory().copy_in((out - RING_BASE) as usize, b"hello").unwrap();
    let token = driver.add(&[Buffer::readable(out, 5), Buffer::writable(inp, 64)]).unwrap();
    assert!(device.has_available().unwrap());
    let chain = device.pop(&arena).unwrap().unwrap();
    assert_eq!(chain.head, token.index());
    let mut got = [0u8; 5];
    chain.readable().unwrap().mem.copy_out(0, &mut got).unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(chain.writable_len(), 64);
    chain.writable().unwrap().mem.copy_in(0, b"HELLO").unwrap();
    assert!(device.pop(&arena).unwrap().is_none());
    device.push(chain.head, 5).unwrap();
    let used = driver.pop_used().unwrap().unwrap();
    assert_eq!((used.token, used.len), (token, 5));
    assert_eq!(device.held(), 0);
    // Round the ring a few times.
    for i in 0..3 * N as u32 {
        let t = driver.add(&[Buffer::writable(arena.buffer(2), 16)]).unwrap();
        let c = device.pop(&arena).unwrap().unwrap();
        device.push(c.head, i % 17).unwrap();
        assert_eq!(driver.pop_used().unwrap().unwrap().token, t);
    }
}

#[test]
fn returning_more_than_the_chain_holds_or_twice_is_refused() {
    let (arena, mut driver, mut device) = setup();
    driver.add(&[Buffer::writable(arena.buffer(0), 16)]).unwrap();
    let c = device.pop(&arena).unwrap().unwrap();
    assert_eq!(device.push(c.head, 17), Err(DriverFault::BadReturn { head: c.head }));
    device.push(c.head, 16).unwrap();
    assert_eq!(device.push(c.head, 0), Err(DriverFault::BadReturn { head: c.head }));
    assert_eq!(device.fault(), None, "this side's mistakes do not fail the queue");
}

/// Each rule the driver can break, written by hand into the rings: a
/// typed fault, the queue failed, nothing written.
#[test]
fn each_driver_lie_is_a_typed_fault() {
    type Lie = fn(&DriverArena);
    let cases: [(&str, Lie, DriverFault); 8] = [
        (
            "avail.idx too far ahead",
            |a| a.set_avail_idx(N + 1),
            DriverFault::AvailIndexAhead { avail_idx: N + 1, last_avail: 0 },
        ),
        ("head out of range", |a| a.offer(N), DriverFault::DescriptorOutOfRange { index: N }),
        (
            "next out of range",
            |a| {
                a.set_desc(0, a.buffer(0), 8, DESC_F_NEXT, 9);
                a.offer(0)
            },
            DriverFault::DescriptorOutOfRange { index: 9 },
        ),
        (
            "a loop",
            |a| {
                a.set_desc(0, a.buffer(0), 8, DESC_F_NEXT, 1);
                a.set_desc(1, a.buffer(0), 8, DESC_F_NEXT, 0);
                a.offer(0)
            },
            DriverFault::ChainTooLong { head: 0 },
        ),
        (
            "indirect",
            |a| {
                a.set_desc(3, a.buffer(0), 32, DESC_F_INDIRECT, 0);
                a.offer(3)
            },
            DriverFault::IndirectNotNegotiated { desc: 3 },
        ),
        (
            "readable after writable",
            |a| {
                a.set_desc(0, a.buffer(0), 8, DESC_F_WRITE | DESC_F_NEXT, 1);
                a.set_desc(1, a.buffer(1), 8, 0, 0);
                a.offer(0)
            },
            DriverFault::ReadableAfterWritable { desc: 1 },
        ),
        (
            "buffer outside the driver's memory",
            |a| {
                a.set_desc(2, 0x1000, 8, 0, 0);
                a.offer(2)
            },
            DriverFault::BufferOutside { desc: 2, addr: 0x1000, len: 8 },
        ),
        (
            "buffer running past the end of the driver's memory",
            |a| {
                a.set_desc(2, a.buffer(0), u32::MAX, 0, 0);
                a.offer(2)
            },
            DriverFault::BufferOutside { desc: 2, addr: RING_BASE + 0x2000, len: u32::MAX },
        ),
    ];
    for (what, lie, fault) in cases {
        let arena = DriverArena::new(N);
        let mut device = DeviceQueue::<8>::new(arena.ring(), &arena).unwrap();
        lie(&arena);
        let used_before = arena.used_ring();
        assert_eq!(device.pop(&arena).err(), Some(fault), "{what}");
        assert_eq!(device.pop(&arena).err(), Some(fault), "{what}: the queue stays failed");
        assert_eq!(device.push(0, 0), Err(fault), "{what}");
        assert_eq!(arena.used_ring(), used_before, "{what}: nothing written");
    }
}

#[test]
fn a_head_offered_twice_while_held_is_refused() {
    let arena = DriverArena::new(N);
    let mut device = DeviceQueue::<8>::new(arena.ring(), &arena).unwrap();
    arena.set_desc(1, arena.buffer(0), 8, 0, 0);
    arena.offer(1);
    arena.offer(1);
    assert!(device.pop(&arena).unwrap().is_some());
    assert_eq!(device.pop(&arena).err(), Some(DriverFault::HeadInFlight { head: 1 }));
}

#[test]
fn rings_outside_the_drivers_memory_are_refused() {
    let arena = DriverArena::new(N);
    let mut ring = arena.ring();
    ring.used = 0x10;
    assert_eq!(DeviceQueue::<8>::new(ring, &arena).err(), Some(DriverFault::RingOutside { part: RingPart::Used }));
    let big = RingPlacement { size: 16, ..arena.ring() };
    assert!(DeviceQueue::<8>::new(big, &arena).is_err(), "larger than N");
}

#[test]
fn fuzz_body_survives_random_avail_rings() {
    let mut rng = crate::fuzzing::Xorshift(0x853c_49e6_748f_ea9bu64);
    let mut next = || rng.next_u64();
    let mut buf = [0u8; 600];
    for i in 0..3000 {
        let len = (next() % 600) as usize;
        for b in buf[..len].iter_mut() {
            *b = next() as u8;
        }
        // Bias half the inputs towards plausible rings: small indices.
        if i % 2 == 0 {
            for b in buf[..len].iter_mut().skip(1).step_by(2) {
                *b &= 0x07;
            }
        }
        crate::fuzzing::fuzz_avail_ring(&buf[..len]);
    }
}
