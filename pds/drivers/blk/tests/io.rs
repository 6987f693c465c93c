//! The driver PD serving a client, through the real transport core, to a
//! mock virtio-blk: data round trips, storage information, batching,
//! interrupts, barriers.

mod common;

use common::*;
use sevio_driver_core::DriverStatus;
use sevio_queue::BlkStatus;
use sevio_virtio::device::blk::req;
use sevio_virtio::features::general;

/// Each named test, run twice: over split rings (a QEMU-like device) and
/// over packed ones (the same device offering VIRTIO_F_RING_PACKED, which
/// the driver takes). `fn name(base)` gets the offer.
macro_rules! split_and_packed {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn split() {
                super::$name(QEMU_LIKE);
            }
            #[test]
            fn packed() {
                super::$name(QEMU_LIKE | F_RING_PACKED);
            }
        }
    )+};
}

split_and_packed!(
    write_read_flush_round_trip,
    keeps_32_in_flight_with_indirect_descriptors,
    keeps_32_in_flight_without_indirect_descriptors,
    one_interrupt_and_one_client_notification_per_batch,
    completions_are_never_lost,
    without_event_idx_still_answers_everything,
    barrier_waits_for_earlier_requests_then_flushes,
    more_than_64_outstanding_requests_are_all_answered,
);

#[test]
fn storage_info_comes_from_config_and_get_id() {
    let mut rig = Rig::new(device(2, QEMU_LIKE, 256));
    assert_eq!(rig.h.status(), DriverStatus::Unbound);
    rig.h.bind();
    assert_eq!(rig.h.status(), DriverStatus::Starting);
    assert_eq!(rig.info(), None, "not published before GET_ID completes");
    rig.run_device();
    // sDDF's convention: `ready` is the signal; a notification would reach
    // sDDF's virtualiser with an empty response queue.
    assert!(!rig.h.take_client_notify(), "published without a notification");
    assert_eq!(rig.h.status(), DriverStatus::Ready);
    let info = rig.info().expect("ready");
    assert_eq!(&info.serial[..20], SERIAL);
    assert_eq!(info.capacity, CAPACITY_BLOCKS);
    assert!(!info.read_only);
    assert_eq!((info.sector_size, info.block_size), (512, 1));
    assert_eq!((info.cylinders, info.heads, info.blocks), (528, 16, 63), "geometry, as sDDF's driver fills it");
    assert!(info.queue_depth >= 32);
    assert_eq!(rig.types, [req::GET_ID]);
}

#[test]
fn negotiates_what_it_wants_and_nothing_else() {
    let all = QEMU_LIKE | F_RO | F_SIZE_MAX | 1 << 13 | 1 << 14 | 1 << 34 | 1 << 35;
    let rig = Rig::ready(all);
    let got = rig.h.device.state().features.unwrap();
    let want = F_SIZE_MAX
        | F_SEG_MAX
        | F_GEOMETRY
        | F_RO
        | F_BLK_SIZE
        | F_FLUSH
        | F_INDIRECT
        | F_EVENT_IDX
        | F_VERSION_1
        | F_RING_PACKED;
    assert_eq!(got, want, "no MQ, DISCARD, WRITE_ZEROES, IN_ORDER");
    assert!(rig.h.device.packed(0), "RING_PACKED taken: the transport set the queue up packed");
}

#[test]
fn split_rings_unless_the_device_offers_packed() {
    let rig = Rig::ready(QEMU_LIKE);
    assert!(!rig.h.device.packed(0));
    assert_eq!(rig.h.device.state().features.unwrap() & F_RING_PACKED, 0);
}

/// VIRTIO 1.2 §2.8.10.1: the descriptor ring (16 bytes a descriptor), then
/// the driver and the device event suppression structures, 4 bytes each;
/// all inside the driver's DMA window (the transport checked that).
#[test]
fn packed_ring_geometry_reaches_the_device() {
    let rig = Rig::ready(QEMU_LIKE | F_RING_PACKED);
    let q = rig.h.device.state().queues[0].unwrap();
    assert!(q.packed);
    assert_eq!(q.desc % 16, 0);
    assert_eq!(q.avail, q.desc + 16 * u64::from(q.size), "driver event suppression after the ring");
    assert_eq!(q.used, q.avail + 4, "device event suppression after the driver's");
}

fn write_read_flush_round_trip(base: u64) {
    let mut rig = Rig::ready(base);
    let data = pattern(7, 3 * 4096);
    rig.write_data(0x3000, &data);
    rig.submit(&[write(1, 0x3000, 5, 3)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 3)]);
    assert!(rig.h.take_client_notify());
    assert_eq!(&rig.bytes[5 * 4096..8 * 4096], &data[..], "the disk holds what the client wrote");
    rig.submit(&[read(2, 0x10000, 5, 3), flush(3)]);
    rig.run_device();
    let mut resp = rig.take_responses();
    resp.sort_by_key(|r| r.id);
    assert_eq!(resp, [ok(2, 3), status_of(BlkStatus::Ok, 3)]);
    assert_eq!(rig.read_data(0x10000, 3 * 4096), data);
    assert_eq!(rig.types, [req::GET_ID, req::OUT, req::IN, req::FLUSH]);
}

#[test]
fn legacy_device_round_trip() {
    let mut rig = Rig::new(device(1, QEMU_LIKE, 256));
    rig.bind_and_settle();
    assert_eq!(rig.h.device.state().features.unwrap() & F_VERSION_1, 0, "no VERSION_1 on a legacy device");
    let data = pattern(3, 4096);
    rig.write_data(0, &data);
    rig.submit(&[write(1, 0, 0, 1)]);
    rig.run_device();
    rig.submit(&[read(2, 0x8000, 0, 1)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 1), ok(2, 1)]);
    assert_eq!(rig.read_data(0x8000, 4096), data);
}

#[test]
fn size_max_splits_data_into_segments() {
    let mut rig = Rig::ready(QEMU_LIKE | F_SIZE_MAX);
    rig.submit(&[read(1, 0, 0, 4)]);
    rig.pop();
    let chain = rig.pending[0].clone();
    let data: Vec<_> = chain.bufs[1..chain.bufs.len() - 1].iter().map(|b| (b.addr, b.len, b.writable)).collect();
    let want: Vec<_> = (0..4).map(|i| (DATA_PADDR + i * 4096, 4096, true)).collect();
    assert_eq!(data, want);
    rig.complete(1);
    rig.deliver_interrupt();
    assert_eq!(rig.take_responses(), [ok(1, 4)]);
}

/// Enough requests to fill the pipeline; returns them.
fn batch(n: u32) -> Vec<sevio_queue::BlkRequest> {
    (0..n).map(|i| read(100 + i, (i as u64 % 16) * 4096, i as u64 % CAPACITY_BLOCKS, 1)).collect()
}

fn keeps_32_in_flight(offered: u64, queue_max: u16, expect_at_once: usize) {
    let mut rig = Rig::new(device(2, offered, queue_max));
    rig.bind_and_settle();
    let kicks = rig.kicks();
    rig.submit(&batch(48));
    assert_eq!(rig.kicks(), kicks + 1, "one kick for the whole batch");
    let n = rig.pop();
    assert!(n >= 32, "{n} in flight");
    assert_eq!(n, expect_at_once);
    assert_eq!(rig.h.driver().client_in_flight(), n);
    // Completions short of the last one in flight raise no interrupt.
    rig.complete(n - 1);
    assert!(!rig.deliver_interrupt(), "no interrupt before the batch is done");
    rig.complete(1);
    assert!(rig.deliver_interrupt(), "one interrupt for the batch");
    // The rest went in flight on that interrupt; finish them.
    while rig.pop() > 0 || !rig.pending.is_empty() {
        rig.complete(usize::MAX);
        rig.deliver_interrupt();
    }
    let mut resp = rig.take_responses();
    resp.sort_by_key(|r| r.id);
    assert_eq!(resp, (0..48).map(|i| ok(100 + i, 1)).collect::<Vec<_>>());
    assert_eq!(rig.h.driver().client_in_flight(), 0);
}

fn keeps_32_in_flight_with_indirect_descriptors(base: u64) {
    keeps_32_in_flight(base, 256, 48);
}

fn keeps_32_in_flight_without_indirect_descriptors(base: u64) {
    // A queue of 128: 128 descriptors / 3 per request.
    keeps_32_in_flight(base & !F_INDIRECT, 128, 42);
}

fn one_interrupt_and_one_client_notification_per_batch(base: u64) {
    let mut rig = Rig::ready(base);
    for round in 0..5u32 {
        let before = rig.interrupts;
        let reqs: Vec<_> = (0..32).map(|i| read(round * 100 + i, 0, i as u64, 1)).collect();
        rig.submit(&reqs);
        assert!(!rig.h.take_client_notify(), "nothing to tell the client yet");
        rig.run_device();
        assert_eq!(rig.interrupts, before + 1, "round {round}");
        assert!(rig.h.take_client_notify());
        assert_eq!(rig.take_responses().len(), 32);
    }
}

fn completions_are_never_lost(base: u64) {
    // Partial completions, then new requests (harvested on the client's
    // notification), then the rest: every request is answered.
    let mut rig = Rig::ready(base);
    rig.submit(&batch(10));
    rig.pop();
    rig.complete(4);
    assert!(!rig.deliver_interrupt());
    rig.submit(&[read(7, 0, 1, 1)]);
    assert_eq!(rig.take_responses().len(), 4, "used elements harvested on the client's notification");
    rig.pop();
    rig.complete(usize::MAX);
    assert!(rig.deliver_interrupt());
    assert_eq!(rig.take_responses().len(), 7);
    // An interrupt that was not due (VIRTIO 1.2 §2.7.7.2: the device
    // only SHOULD NOT send it) harvests what is there; the rest of the
    // batch still interrupts once. (The race of a device completing
    // while the driver arms is DriverQueue::arm's, tested there: the
    // framework kicks after arming, so a single-threaded device cannot
    // get in between.)
    rig.submit(&batch(20));
    assert_eq!(rig.pop(), 20);
    rig.complete(19);
    assert!(!rig.deliver_interrupt());
    rig.force_interrupt();
    assert_eq!(rig.take_responses().len(), 19);
    rig.complete(1);
    assert!(rig.deliver_interrupt(), "the last one in flight interrupts");
    assert_eq!(rig.take_responses().len(), 1);
}

fn without_event_idx_still_answers_everything(base: u64) {
    let mut rig = Rig::ready(base & !F_EVENT_IDX);
    assert!(!rig.h.device.negotiated(general::EVENT_IDX));
    rig.submit(&batch(40));
    rig.pop();
    rig.complete(10);
    assert!(rig.deliver_interrupt(), "interrupts on (flags), so one is due");
    rig.complete(usize::MAX);
    rig.deliver_interrupt();
    assert_eq!(rig.take_responses().len(), 40);
}

fn barrier_waits_for_earlier_requests_then_flushes(base: u64) {
    let mut rig = Rig::ready(base);
    rig.write_data(0, &pattern(1, 4096));
    rig.submit(&[write(1, 0, 0, 1), barrier(2), write(3, 0, 1, 1)]);
    assert_eq!(rig.pop(), 1, "only the write before the barrier");
    rig.complete(1);
    rig.deliver_interrupt();
    assert_eq!(rig.take_responses(), [ok(1, 1)]);
    assert_eq!(rig.pop(), 1, "now the barrier's flush, alone");
    assert_eq!(rig.pending[0].bufs.len(), 2);
    rig.complete(1);
    rig.deliver_interrupt();
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Ok, 2)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(3, 1)]);
    assert_eq!(rig.types, [req::GET_ID, req::OUT, req::FLUSH, req::OUT]);
}

#[test]
fn flush_and_barrier_without_flush_feature_answer_at_once() {
    let mut rig = Rig::ready(QEMU_LIKE & !F_FLUSH);
    rig.submit(&[flush(1), barrier(2)]);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Ok, 1), status_of(BlkStatus::Ok, 2)]);
    assert_eq!(rig.pop(), 0, "nothing sent to the device");
}

#[test]
fn requests_wait_until_bound() {
    let mut rig = Rig::new(device(2, QEMU_LIKE, 256));
    rig.submit(&[read(1, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1, "left in the request queue");
    assert!(rig.take_responses().is_empty());
    let untouched = {
        let d = rig.h.device.state();
        (d.status, d.features, d.resets)
    };
    assert_eq!(untouched, (0, None, 0), "the device is not touched before the binding");
    rig.bind_and_settle();
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 1)]);
}

#[test]
fn responses_never_overflow_the_response_queue() {
    let mut rig = Rig::ready(QEMU_LIKE);
    // 128 bad requests fill the response queue (capacity 128: sDDF 0.7.0
    // fills every slot).
    let bad: Vec<_> = (0..QCAP).map(|i| read(i, 0, 0, 0)).collect();
    rig.submit(&bad);
    rig.submit(&[read(999, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1, "no room for its response: not taken");
    assert_eq!(rig.take_responses().len(), QCAP as usize);
    rig.h.client_notifies();
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(999, 1)]);
}

/// An sDDF virtualiser may have up to `num_buffers` (128) requests
/// outstanding. The driver takes what its device slots hold; the rest wait
/// in the queue, in the slots sDDF's producer wrote them to, and are
/// answered as room comes.
fn more_than_64_outstanding_requests_are_all_answered(base: u64) {
    let mut rig = Rig::ready(base);
    for block in 0..CAPACITY_BLOCKS {
        let at = block as usize * 4096;
        rig.bytes[at..at + 4096].copy_from_slice(&pattern(block as u8, 4096));
    }
    // Two rounds, so the request queue's indices run past 128 and wrap
    // its slots.
    for round in 0..2u32 {
        let n = 100u32;
        let reqs: Vec<_> =
            (0..n).map(|i| read(round * 1000 + i, (u64::from(i) % 64) * 4096, u64::from(i) % 64, 1)).collect();
        rig.submit(&reqs);
        assert!(rig.waiting() + rig.h.driver().client_in_flight() as u32 == n, "all outstanding");
        assert!(rig.waiting() > 0, "more than the driver holds wait in the queue");
        let mut resp = Vec::new();
        while resp.len() < n as usize {
            rig.run_device();
            resp.extend(rig.take_responses());
            rig.h.client_notifies();
        }
        resp.sort_by_key(|r| r.id);
        assert_eq!(resp, (0..n).map(|i| ok(round * 1000 + i, 1)).collect::<Vec<_>>());
    }
    // Every buffer holds its block (reads of the same block into the same buffer).
    for block in [0u64, 35, 63] {
        assert_eq!(rig.read_data(block as usize * 4096, 4096), pattern(block as u8, 4096));
    }
}

/// The second data region (a virtualiser's metadata buffer) is as usable
/// as the first: sDDF's virtualiser reads the partition table into it.
#[test]
fn requests_into_the_second_data_region_reach_the_device_there() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.bytes[..8192].copy_from_slice(&pattern(3, 8192));
    let into_meta = sevio_queue::BlkRequest { io_or_offset: META_PADDR, ..read(1, 0, 0, 2) };
    rig.submit(&[into_meta]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 2)]);
    let mut got = vec![0u8; 8192];
    rig.meta.copy_out(0, &mut got).unwrap();
    assert_eq!(got, pattern(3, 8192));
}

#[test]
fn legacy_pci_device_with_its_fixed_queue_size() {
    use sevio_transport_protocol::{Bdf, Location};
    let pci = Location::Pci(Bdf { bus: 0, device: 3, function: 0 });
    let mut rig = Rig::at(device(1, QEMU_LIKE, 256), pci);
    rig.bind_and_settle();
    assert_eq!(rig.h.device.state().queues[0].unwrap().size, 256);
    rig.write_data(0, &pattern(5, 8192));
    rig.submit(&[write(1, 0, 10, 2)]);
    rig.run_device();
    rig.submit(&[read(2, 0x4000, 10, 2)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 2), ok(2, 2)]);
    assert_eq!(rig.read_data(0x4000, 8192), pattern(5, 8192));
}
