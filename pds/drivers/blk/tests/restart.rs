//! The driver restarted with requests outstanding: the journal (carved
//! from the DMA region here) lets the new instance answer each request
//! the old one took exactly once, and every write it acknowledged is on
//! the disk.

mod common;

use common::*;
use sevio_queue::BlkResponse;
use std::collections::BTreeMap;

const BLOCK: usize = 4096;

fn ids(responses: &[BlkResponse]) -> BTreeMap<u32, usize> {
    let mut seen = BTreeMap::new();
    for r in responses {
        *seen.entry(r.id).or_insert(0) += 1;
    }
    seen
}

/// 20 writes in flight; the device completes 5 and the driver answers
/// them; it completes 5 more the driver never hears of (no interrupt);
/// then the driver crashes. The restarted driver answers the other 15
/// once each (the 5 the device had finished are redone: the device was
/// reset, and redoing a write is harmless), none of the first 5 again,
/// and the disk holds all 20.
#[test]
fn requests_taken_before_a_crash_are_answered_once_after_it() {
    let mut rig = Rig::ready(QEMU_LIKE & !F_INDIRECT);
    let reqs: Vec<_> = (0..20u32)
        .map(|i| {
            rig.write_data(i as usize * BLOCK, &pattern(i as u8 + 1, BLOCK));
            write(100 + i, (i as usize * BLOCK) as u64, u64::from(i), 1)
        })
        .collect();
    rig.submit(&reqs);
    assert_eq!(rig.pop(), 20, "all 20 in flight");
    rig.complete(5);
    // EVENT_IDX asks for one interrupt at the last request; this one comes
    // early (a device may always interrupt).
    rig.force_interrupt();
    let before = rig.take_responses();
    assert_eq!(before.len(), 5, "five answered before the crash");
    rig.complete(5);
    assert_eq!(rig.take_responses().len(), 0, "the next five are done but unanswered");

    rig.h.restart();
    rig.pending.clear();
    assert_eq!(rig.waiting(), 0, "every request had been taken from the queue");
    rig.bind_and_settle();
    rig.run_device();
    let after = rig.take_responses();
    assert_eq!(after.len(), 15, "the other fifteen, once each: {after:?}");
    let all: Vec<_> = before.iter().chain(&after).copied().collect();
    let seen = ids(&all);
    assert_eq!(seen.len(), 20);
    assert!(seen.values().all(|&n| n == 1), "an id answered twice: {seen:?}");
    assert!(all.iter().all(|r| *r == ok(r.id, 1)), "{all:?}");
    for i in 0..20usize {
        assert_eq!(rig.bytes[i * BLOCK..(i + 1) * BLOCK], pattern(i as u8 + 1, BLOCK)[..], "block {i}");
    }
}

/// A request the driver took and could not post yet (no device: it
/// crashed during bring-up) and one still in the queue: both served once
/// after the restart; the restart's log counts are visible through the
/// queues (nothing owed afterwards).
#[test]
fn a_crash_before_the_device_is_up_loses_nothing() {
    let mut rig = Rig::new(device(2, QEMU_LIKE, 256));
    rig.write_data(0, &pattern(9, BLOCK));
    rig.submit(&[write(1, 0, 3, 1), read(2, BLOCK as u64, 3, 1)]);
    assert_eq!(rig.waiting(), 2, "no device: the requests wait in the queue");
    rig.h.restart();
    rig.bind_and_settle();
    rig.h.client_notifies();
    rig.run_device();
    rig.run_device();
    let answers = rig.take_responses();
    assert_eq!(answers, vec![ok(1, 1), ok(2, 1)]);
    assert_eq!(rig.read_data(BLOCK, BLOCK), pattern(9, BLOCK));
    assert_eq!(rig.h.driver().client_queues().map(|q| q.owed()), Some(0));
}

/// Three crashes in a row with requests in flight, each after some of
/// them were answered: every request answered exactly once in the end.
#[test]
fn repeated_crashes_mid_io() {
    let mut rig = Rig::ready(QEMU_LIKE);
    let mut answers = Vec::new();
    let mut next = 0u32;
    for round in 0..3 {
        let reqs: Vec<_> = (0..12u32)
            .map(|k| {
                let i = next + k;
                rig.write_data((i as usize % 60) * BLOCK, &pattern(i as u8, BLOCK));
                write(i, ((i as usize % 60) * BLOCK) as u64, u64::from(i % 60), 1)
            })
            .collect();
        next += 12;
        rig.submit(&reqs);
        rig.pop();
        rig.complete(3 + round);
        rig.force_interrupt();
        rig.complete(2);
        answers.extend(rig.take_responses());
        rig.h.restart();
        rig.pending.clear();
        rig.bind_and_settle();
    }
    for _ in 0..4 {
        rig.run_device();
    }
    answers.extend(rig.take_responses());
    let seen = ids(&answers);
    assert_eq!(seen.len(), next as usize, "{answers:?}");
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
}

/// The crashed instance published answers and died before notifying the
/// client (which has not read them): the restarted driver notifies it, or
/// it would wait for ever. With nothing unread, no notification (an sDDF
/// virtualiser takes one with an empty queue as an error).
#[test]
fn answers_published_but_unread_are_signalled_after_a_restart() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.write_data(0, &pattern(3, BLOCK));
    rig.submit(&[write(7, 0, 2, 1)]);
    rig.run_device();
    assert!(rig.h.take_client_notify(), "answered and notified");
    rig.h.restart();
    rig.bind_and_settle_notified();
    assert_eq!(rig.take_responses(), vec![ok(7, 1)], "answered once");
    rig.h.restart();
    rig.bind_and_settle();
    assert!(!rig.h.take_client_notify(), "nothing unread: no notification");
}
