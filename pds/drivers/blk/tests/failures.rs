//! Misbehaving clients and devices, refused bring-ups, bindings that come
//! late or go away.

mod common;

use common::*;
use sevio_driver_blk::BlkError;
use sevio_driver_core::DriverStatus;
use sevio_driver_core::InitError;
use sevio_queue::{BlkRequest, BlkStatus};
use sevio_virtio::DeviceFault;
use sevio_virtio::device::blk::status;

#[test]
fn bad_requests_get_invalid_param_and_no_dma() {
    let mut rig = Rig::ready(QEMU_LIKE);
    let (avail, kicks) = (rig.avail_idx(), rig.kicks());
    let bad = [
        read(1, (DATA_SIZE + META_SIZE) as u64, 0, 1), // just past the last data region
        read(2, DATA_SIZE as u64 - 4096, 0, 2),        // straddles the data and metadata regions
        write(3, u64::MAX - 4095, 0, 1),               // I/O address + length overflows
        read(4, 0, CAPACITY_BLOCKS, 1),                // past the capacity
        read(5, 0, CAPACITY_BLOCKS - 1, 2),            // straddles the end
        read(6, 0, u64::MAX, 1),                       // block overflow
        read(7, 0, 0, 0),                              // no blocks
        BlkRequest { code: 9, ..read(8, 0, 0, 1) },    // unknown code
    ];
    rig.submit(&bad);
    let resp = rig.take_responses();
    let want: Vec<_> = bad.iter().map(|r| status_of(BlkStatus::InvalidParam, r.id)).collect();
    assert_eq!(resp, want);
    assert!(rig.h.take_client_notify());
    assert_eq!(rig.avail_idx(), avail, "no descriptor made available");
    assert_eq!(rig.kicks(), kicks, "no kick");
    assert_eq!(rig.pop(), 0);
    // The data region's last block is fine.
    rig.submit(&[read(9, DATA_SIZE as u64 - 4096, CAPACITY_BLOCKS - 1, 1)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(9, 1)]);
    // Below the first region, and I/O address 0.
    let below = BlkRequest { io_or_offset: DATA_PADDR - 4096, ..read(10, 0, 0, 1) };
    let zero = BlkRequest { io_or_offset: 0, ..read(11, 0, 0, 1) };
    rig.submit(&[below, zero]);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::InvalidParam, 10), status_of(BlkStatus::InvalidParam, 11)]);
    assert_eq!(rig.pop(), 0, "neither reached the device");
}

#[test]
fn read_only_device_refuses_writes_and_serves_reads() {
    let mut rig = Rig::ready(QEMU_LIKE | F_RO);
    assert!(rig.info().unwrap().read_only);
    rig.bytes[..4096].copy_from_slice(&pattern(9, 4096));
    let avail = rig.avail_idx();
    rig.submit(&[write(1, 0, 0, 1)]);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::InvalidParam, 1)]);
    assert_eq!(rig.avail_idx(), avail, "the write never reached the device");
    rig.submit(&[read(2, 0x1000, 0, 1)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(2, 1)]);
    assert_eq!(rig.read_data(0x1000, 4096), pattern(9, 4096));
}

#[test]
fn device_errors_become_err_io() {
    for (st, what) in [(status::IOERR, "IOERR"), (status::UNSUPP, "UNSUPP"), (0xff, "no status written")] {
        let mut rig = Rig::ready(QEMU_LIKE);
        rig.status_override = Some(st);
        rig.submit(&[read(1, 0, 0, 2), write(2, 0, 0, 1), flush(3)]);
        rig.run_device();
        let mut resp = rig.take_responses();
        resp.sort_by_key(|r| r.id);
        let want: Vec<_> = (1..=3).map(|id| status_of(BlkStatus::Io, id)).collect();
        assert_eq!(resp, want, "{what}: ERR_IO, success_count 0");
        assert_eq!(rig.h.status(), DriverStatus::Ready, "{what}: a request error does not fail the device");
        rig.status_override = None;
        rig.submit(&[read(4, 0, 0, 1)]);
        rig.run_device();
        assert_eq!(rig.take_responses(), [ok(4, 1)]);
    }
}

#[test]
fn used_ring_violation_fails_the_queue() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.submit(&[read(1, 0, 0, 1), read(2, 0, 1, 1), read(3, 0, 2, 1)]);
    assert_eq!(rig.pop(), 3);
    let head = rig.pending[0].head;
    rig.complete(1);
    // The device repeats a used id it already returned.
    rig.h.device.push_used(0, head as u32, 0);
    let resets = rig.h.device.state().resets;
    rig.force_interrupt();
    let mut resp = rig.take_responses();
    resp.sort_by_key(|r| r.id);
    assert_eq!(resp, [ok(1, 1), status_of(BlkStatus::Io, 2), status_of(BlkStatus::Io, 3)]);
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(matches!(
        rig.h.last_error(),
        Some(BlkError::Queue(sevio_virtio::Error::Device(DeviceFault::UsedIdNotInFlight { .. })))
    ));
    assert_eq!(rig.h.device.state().resets, resets + 1, "the device is reset");
    assert_eq!(rig.info(), None, "storage info withdrawn");
    assert!(rig.h.take_client_notify(), "the client hears of the ERR_IO answers");
    // Later requests: ERR_IO, nothing more for the (reset) device.
    let (kicks, resets) = (rig.kicks(), rig.h.device.state().resets);
    rig.submit(&[read(4, 0, 0, 1)]);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 4)]);
    assert_eq!((rig.kicks(), rig.h.device.state().resets), (kicks, resets), "nothing reaches a failed device");
    assert!(rig.h.device.state().queues[0].is_none(), "its queue stays reset");
}

#[test]
fn used_index_running_ahead_fails_the_queue() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.submit(&[read(1, 0, 0, 1)]);
    rig.pop();
    let used = rig.h.device.state().queues[0].unwrap().used;
    rig.h.device.state().memory.write_u16(used + 2, 40);
    rig.force_interrupt();
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1)]);
    assert_eq!(rig.h.status(), DriverStatus::Failed);
}

#[test]
fn failed_bring_up_answers_err_io() {
    let dev = device(2, QEMU_LIKE, 256);
    dev.state().keep_features_ok = false;
    let mut rig = Rig::new(dev);
    rig.submit(&[read(1, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1);
    rig.h.bind();
    assert!(matches!(rig.h.last_error(), Some(BlkError::Init(InitError::FeatureNegotiationFailed { .. }))));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1)], "the waiting request is answered");
    assert_eq!(rig.info(), None);
}

#[test]
fn modern_device_without_version_1_is_not_driven() {
    let mut rig = Rig::new(device(2, QEMU_LIKE & !F_VERSION_1, 256));
    rig.h.bind();
    assert!(matches!(rig.h.last_error(), Some(BlkError::Init(InitError::RequiredFeaturesMissing { .. }))));
    assert!(!rig.h.device.live());
}

#[test]
fn transport_not_bound_yet_is_retried_on_the_next_event() {
    let mut rig = Rig::new(device(2, QEMU_LIKE, 256));
    // The bus wrote the table; the transport has not caught up.
    rig.h.publish_binding();
    // DeviceInfo was refused NotBound: not a failure, a retry later.
    assert_eq!((rig.h.status(), rig.h.last_error()), (DriverStatus::Unbound, None));
    assert_eq!(rig.h.device.state().resets, 0, "the device was not touched");
    rig.submit(&[read(1, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1, "still waiting");
    rig.h.transport_sees_binding();
    rig.h.client_notifies();
    assert_eq!(rig.h.status(), DriverStatus::Starting, "bound on retry");
    rig.run_device();
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 1)]);
    assert_eq!(rig.h.status(), DriverStatus::Ready);
}

#[test]
fn unbind_fails_in_flight_requests_and_rebind_starts_afresh() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.submit(&[read(1, 0, 0, 1), read(2, 0, 1, 1)]);
    rig.pop();
    rig.h.unbind();
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1), status_of(BlkStatus::Io, 2)]);
    assert!(rig.h.take_client_notify(), "the client hears of them in the unbind's event");
    assert_eq!(rig.h.status(), DriverStatus::Unbound);
    assert_eq!(rig.info(), None);
    rig.submit(&[read(3, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1, "waits for the next device");
    // The transport reset the device on unbind; a new bring-up follows.
    assert!(rig.h.device.state().queues[0].is_none());
    rig.pending.clear();
    rig.bind_and_settle();
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(3, 1)]);
}

#[test]
fn a_client_with_impossible_indices_is_no_longer_served() {
    let mut rig = Rig::ready(QEMU_LIKE);
    // The client claims 1000 requests in a queue of 64.
    rig.req_page.write::<u32>(4, 1000).unwrap();
    rig.h.client_notifies();
    assert!(rig.h.driver().client_error().is_some());
    assert_eq!(rig.h.last_error(), None, "the client's fault, not the device's");
    assert_eq!(rig.pop(), 0, "nothing reached the device");
    assert_eq!(rig.h.status(), DriverStatus::Ready, "the device is fine");
}

const MS: u64 = 1_000_000;

#[test]
fn a_request_the_device_never_answers_fails_the_device_once_after_its_deadline() {
    let mut rig = Rig::ready_timed(QEMU_LIKE, 5_000 * MS);
    assert_eq!(rig.h.clock().pending, None, "nothing outstanding, no timeout asked");
    rig.submit(&[read(1, 0, 0, 1), read(2, 0x1000, 1, 1)]);
    assert_eq!(rig.pop(), 2, "both reach the device, which never answers");
    assert_eq!(rig.h.clock().pending, Some(5_000 * MS), "one timeout, for the earliest deadline");
    assert!(!rig.h.advance_time(4_999 * MS));
    assert_eq!(rig.h.status(), DriverStatus::Ready, "not before the deadline");
    assert!(rig.take_responses().is_empty());

    let resets = rig.h.device.state().resets;
    assert!(rig.h.advance_time(101 * MS));
    let overdue = sevio_driver_core::Overdue { request: 1, waited_ms: 5_100 };
    assert_eq!(rig.h.last_error(), Some(BlkError::DeviceTimeout(overdue)));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert_eq!(rig.h.device.state().resets, resets + 1, "the device is reset");
    let mut resp = rig.take_responses();
    resp.sort_by_key(|r| r.id);
    assert_eq!(resp, [status_of(BlkStatus::Io, 1), status_of(BlkStatus::Io, 2)]);
    assert!(rig.h.take_client_notify(), "the client hears of the ERR_IO answers");

    // Exactly once: the other request's deadline went with the device.
    assert_eq!(rig.h.clock().pending, None);
    assert!(!rig.h.advance_time(60_000 * MS), "no further timeout");
    assert_eq!(rig.h.device.state().resets, resets + 1, "failed once");
    // Later requests: ERR_IO, no deadline.
    rig.submit(&[read(3, 0, 0, 1)]);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 3)]);
    assert_eq!(rig.h.clock().pending, None);
}

#[test]
fn a_request_answered_before_its_deadline_disarms_it() {
    let mut rig = Rig::ready_timed(QEMU_LIKE, 5_000 * MS);
    rig.submit(&[read(1, 0, 0, 1)]);
    rig.pop();
    assert!(!rig.h.advance_time(3_000 * MS));
    rig.complete(1);
    assert!(rig.deliver_interrupt());
    assert_eq!(rig.take_responses(), [ok(1, 1)]);
    // The timeout asked for request 1 still fires, and finds nothing due.
    assert!(rig.h.advance_time(2_500 * MS));
    assert_eq!((rig.h.status(), rig.h.last_error()), (DriverStatus::Ready, None));
    assert_eq!(rig.h.clock().pending, None, "nothing outstanding, nothing asked");
    // A later request gets its own deadline and is served.
    rig.submit(&[read(2, 0, 0, 1)]);
    assert_eq!(rig.h.clock().pending, Some(10_500 * MS));
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(2, 1)]);
    assert_eq!(rig.h.clock().set_count, 2);
    assert!(rig.h.advance_time(60_000 * MS));
    assert_eq!(rig.h.status(), DriverStatus::Ready);
}

#[test]
fn without_a_timer_nothing_is_watched() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.submit(&[read(1, 0, 0, 1)]);
    rig.pop();
    assert_eq!(rig.h.clock().set_count, 0);
}

/// A packed-ring device writes a used descriptor by hand at the ring's
/// next used position (VIRTIO 1.2 §2.8.4's layout: len at 8, id at 12,
/// flags at 14): the driver fails the device with `fault`, answers the
/// request ERR_IO, and nothing panics or writes outside its memory.
fn packed_device_writes(id: u16, len: u32, flags: u16, fault: impl Fn(&DeviceFault) -> bool) {
    let mut rig = Rig::ready(QEMU_LIKE | F_RING_PACKED);
    rig.submit(&[read(1, 0, 0, 1)]);
    assert_eq!(rig.pop(), 1);
    let q = rig.h.device.state().queues[0].unwrap();
    // The device has used nothing since bring-up's GET_ID (one chain of
    // one indirect descriptor): its next used descriptor is at 1.
    assert_eq!(q.used_cursor.pos, 1);
    let at = q.desc + 16;
    let resets = rig.h.device.state().resets;
    {
        let s = rig.h.device.state();
        s.memory.write_u32(at + 8, len);
        s.memory.write_u16(at + 12, id);
        s.memory.write_u16(at + 14, flags);
    }
    rig.force_interrupt();
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1)]);
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    match rig.h.last_error() {
        Some(BlkError::Queue(sevio_virtio::Error::Device(f))) => assert!(fault(&f), "{f:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.h.device.state().resets, resets + 1, "the device is reset");
}

/// AVAIL and USED both set: used in the first lap (wrap counter 1).
const USED_LAP1: u16 = 1 << 7 | 1 << 15;
const F_WRITE: u16 = 2;

#[test]
fn packed_used_descriptor_with_an_id_out_of_range_fails_the_device() {
    packed_device_writes(4096, 0, USED_LAP1, |f| matches!(f, DeviceFault::UsedIdOutOfRange { id: 4096 }));
}

#[test]
fn packed_used_descriptor_with_an_id_not_in_flight_fails_the_device() {
    // Id 0 went to GET_ID, came back, and holds the read now (freed ids
    // are reused first); id 1 was never handed out.
    packed_device_writes(1, 0, USED_LAP1, |f| matches!(f, DeviceFault::UsedIdNotInFlight { id: 1 }));
}

#[test]
fn packed_used_length_beyond_the_writable_bytes_fails_the_device() {
    // One block read: 4096 data bytes and the status byte are writable.
    packed_device_writes(0, 4098, USED_LAP1 | F_WRITE, |f| {
        matches!(f, DeviceFault::UsedLenTooLarge { id: 0, len: 4098, writable: 4097 })
    });
}

#[test]
fn packed_descriptor_with_a_wrong_wrap_flag_fails_the_device() {
    // USED set without AVAIL while the driver's own available descriptor
    // sat there: neither available nor used in this lap.
    packed_device_writes(0, 0, 1 << 15, |f| matches!(f, DeviceFault::UsedFlagsInconsistent { position: 1, .. }));
}
