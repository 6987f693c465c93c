//! Misbehaving clients and devices, refused bring-ups, bindings that come
//! late or go away.

mod common;

use common::*;
use sevio_driver_blk::{BlkError, Status};
use sevio_driver_core::{CallError, InitError};
use sevio_queue::BlkStatus;
use sevio_transport_protocol::wire::label;
use sevio_transport_protocol::{Request, TransportError};
use sevio_virtio::DeviceFault;
use sevio_virtio::device::blk::status;

#[test]
fn bad_requests_get_invalid_param_and_no_dma() {
    let mut rig = Rig::ready(QEMU_LIKE);
    let (avail, kicks) = (rig.avail_idx(), rig.kicks());
    let bad = [
        read(1, DATA_SIZE as u64, 0, 1),                         // offset at the region's end
        read(2, DATA_SIZE as u64 - 4095, 0, 1),                  // runs past it
        write(3, u64::MAX - 4095, 0, 1),                         // offset + length overflows
        read(4, 0, CAPACITY_BLOCKS, 1),                          // past the capacity
        read(5, 0, CAPACITY_BLOCKS - 1, 2),                      // straddles the end
        read(6, 0, u64::MAX, 1),                                 // block overflow
        read(7, 0, 0, 0),                                        // no blocks
        sevio_queue::BlkRequest { code: 9, ..read(8, 0, 0, 1) }, // unknown code
    ];
    rig.submit(&bad);
    let resp = rig.take_responses();
    let want: Vec<_> = bad.iter().map(|r| status_of(BlkStatus::InvalidParam, r.id)).collect();
    assert_eq!(resp, want);
    assert!(rig.driver.take_client_notify());
    assert_eq!(rig.avail_idx(), avail, "no descriptor made available");
    assert_eq!(rig.kicks(), kicks, "no kick");
    assert_eq!(rig.pop(), 0);
    // The data region's last block is fine.
    rig.submit(&[read(9, DATA_SIZE as u64 - 4096, CAPACITY_BLOCKS - 1, 1)]);
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(9, 1)]);
}

#[test]
fn read_only_device_refuses_writes_and_serves_reads() {
    let mut rig = Rig::ready(QEMU_LIKE | F_RO);
    assert!(rig.info().unwrap().read_only);
    rig.disk.borrow_mut().bytes[..4096].copy_from_slice(&pattern(9, 4096));
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
        rig.disk.borrow_mut().status_override = Some(st);
        rig.submit(&[read(1, 0, 0, 2), write(2, 0, 0, 1), flush(3)]);
        rig.run_device();
        let mut resp = rig.take_responses();
        resp.sort_by_key(|r| r.id);
        let want: Vec<_> = (1..=3).map(|id| status_of(BlkStatus::Io, id)).collect();
        assert_eq!(resp, want, "{what}: ERR_IO, success_count 0");
        assert_eq!(rig.driver.status(), Status::Ready, "{what}: a request error does not fail the device");
        rig.disk.borrow_mut().status_override = None;
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
    let head = rig.disk.borrow().pending[0].head;
    rig.complete(1);
    // The device repeats a used id it already returned.
    rig.fake.device().push_used(0, head as u32, 0);
    rig.disk.borrow_mut().irq_pending = true;
    let resets = rig.fake.device().resets();
    rig.deliver_interrupt();
    let mut resp = rig.take_responses();
    resp.sort_by_key(|r| r.id);
    assert_eq!(resp, [ok(1, 1), status_of(BlkStatus::Io, 2), status_of(BlkStatus::Io, 3)]);
    assert_eq!(rig.driver.status(), Status::Failed);
    assert!(matches!(
        rig.driver.last_error(),
        Some(BlkError::Queue(sevio_virtio::Error::Device(DeviceFault::UsedIdNotInFlight { .. })))
    ));
    assert_eq!(rig.fake.device().resets(), resets + 1, "the device is reset");
    assert_eq!(rig.info(), None, "storage info withdrawn");
    // Later requests: ERR_IO, nothing more on the (reset) queue.
    let calls = rig.fake.device().requests.len();
    rig.submit(&[read(4, 0, 0, 1)]);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 4)]);
    assert_eq!(rig.fake.device().requests.len(), calls, "no transport call for a failed device");
}

#[test]
fn used_index_running_ahead_fails_the_queue() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.submit(&[read(1, 0, 0, 1)]);
    rig.pop();
    let q = rig.fake.device().queues[0].unwrap();
    rig.fake.device().memory.write_u16(q.used + 2, 40);
    rig.disk.borrow_mut().irq_pending = true;
    rig.deliver_interrupt();
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1)]);
    assert_eq!(rig.driver.status(), Status::Failed);
}

#[test]
fn failed_bring_up_answers_err_io() {
    let mut dev = device(2, QEMU_LIKE, 256);
    dev.keep_features_ok = false;
    let mut rig = Rig::new(dev);
    rig.submit(&[read(1, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1);
    assert!(matches!(rig.driver.bind(), Err(BlkError::Init(InitError::FeatureNegotiationFailed { .. }))));
    assert_eq!(rig.driver.status(), Status::Failed);
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1)], "the waiting request is answered");
    assert_eq!(rig.info(), None);
}

#[test]
fn modern_device_without_version_1_is_not_driven() {
    let mut rig = Rig::new(device(2, QEMU_LIKE & !F_VERSION_1, 256));
    assert!(matches!(rig.driver.bind(), Err(BlkError::Init(InitError::RequiredFeaturesMissing { .. }))));
    assert!(!rig.fake.device().live());
}

#[test]
fn transport_not_bound_yet_is_retried_on_the_next_event() {
    let mut dev = device(2, QEMU_LIKE, 256);
    dev.refuse = Some((label::DEVICE_INFO, TransportError::NotBound));
    let mut rig = Rig::new(dev);
    assert_eq!(
        rig.driver.bind(),
        Err(BlkError::Init(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound))))
    );
    assert_eq!(rig.driver.status(), Status::Unbound);
    rig.submit(&[read(1, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1, "still waiting");
    rig.fake.device().refuse = None;
    rig.driver.client_notified();
    assert_eq!(rig.driver.status(), Status::Starting, "bound on retry");
    rig.run_device();
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(1, 1)]);
    assert_eq!(rig.driver.status(), Status::Ready);
}

#[test]
fn unbind_fails_in_flight_requests_and_rebind_starts_afresh() {
    let mut rig = Rig::ready(QEMU_LIKE);
    rig.submit(&[read(1, 0, 0, 1), read(2, 0, 1, 1)]);
    rig.pop();
    rig.driver.unbind();
    assert_eq!(rig.take_responses(), [status_of(BlkStatus::Io, 1), status_of(BlkStatus::Io, 2)]);
    assert_eq!(rig.driver.status(), Status::Unbound);
    assert_eq!(rig.info(), None);
    rig.submit(&[read(3, 0, 0, 1)]);
    assert_eq!(rig.waiting(), 1, "waits for the next device");
    // The transport resets the device on unbind; a new bring-up follows.
    rig.fake.device().handle(Request::Reset);
    rig.disk.borrow_mut().pending.clear();
    rig.bind_and_settle();
    rig.run_device();
    assert_eq!(rig.take_responses(), [ok(3, 1)]);
}

#[test]
fn a_client_with_impossible_indices_is_no_longer_served() {
    let mut rig = Rig::ready(QEMU_LIKE);
    // The client claims 1000 requests in a queue of 64.
    rig.req_page.memory().write::<u32>(4, 1000).unwrap();
    rig.driver.client_notified();
    assert!(matches!(rig.driver.last_error(), Some(BlkError::Client(_))));
    assert_eq!(rig.pop(), 0, "nothing reached the device");
    assert_eq!(rig.driver.status(), Status::Ready, "the device is fine");
}
