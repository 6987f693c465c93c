//! The rng driver PD against the real transport core and a mock
//! virtio-rng (`sevio_driver_core::harness`).

use sevio_driver_core::harness::{DMA_PADDR, Harness};
use sevio_driver_core::{DriverError, DriverStatus, RegionSetvars};
use sevio_driver_rng::{PIECE_SIZE, RngDriver, RngSetvars, ZERO_LIMIT};
use sevio_queue::rng::{ClientPort, RngResponse, RngStatus};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::{DeviceFault, Error};

const DATA_SIZE: usize = 0x4000;
const POISON: u8 = 0xa5;
const F_EVENT_IDX: u64 = 1 << 29;
const F_VERSION_1: u64 = 1 << 32;

struct Rig {
    h: Harness<RngDriver>,
    client: ClientPort,
    data: SharedMemory,
    /// The next byte the device produces (a counter, so positions show).
    next: u8,
    /// Lengths of the buffers the device was given, in order.
    asked: Vec<u32>,
}

impl Rig {
    fn new(device: MockDevice) -> Rig {
        let h = Harness::<RngDriver>::new("rng", device, |mem| RngSetvars {
            control: mem.region("rng_control", 4096, 0),
            data: mem.region("rng_data", DATA_SIZE, POISON),
        });
        let region = |vars: RegionSetvars| h.memory(vars);
        let (control, data) = (region(h.vars.control), region(h.vars.data));
        Rig { client: ClientPort::new(control).unwrap(), data, h, next: 0, asked: Vec::new() }
    }

    fn ready() -> Rig {
        let mut rig = Rig::new(rng(2));
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        rig
    }

    fn request(&mut self, offset: u32, len: u32) -> u32 {
        let seq = self.client.post(offset, len);
        self.h.client_notifies();
        seq
    }

    /// The device answers every buffer it holds with `answer(len)` bytes.
    fn device_fill(&mut self, answer: impl Fn(u32) -> u32) -> usize {
        let mut n = 0;
        while let Some(chain) = self.h.device.pop_avail(0) {
            assert_eq!(chain.bufs.len(), 1);
            let buf = chain.bufs[0];
            assert!(buf.writable, "entropy buffers are device-writable");
            assert!(buf.addr >= DMA_PADDR, "bounce buffers only: the device never sees the client's region");
            self.asked.push(buf.len);
            let len = answer(buf.len);
            let bytes: Vec<u8> = (0..len.min(buf.len))
                .map(|_| {
                    self.next = self.next.wrapping_add(1);
                    self.next
                })
                .collect();
            self.h.device.write(buf.addr, &bytes);
            self.h.device.push_used(0, chain.head as u32, len);
            n += 1;
        }
        n
    }

    /// Run the device (always full answers) until the request is answered.
    fn serve(&mut self) -> RngResponse {
        for _ in 0..100 {
            if let Some(r) = self.client.poll() {
                return r;
            }
            self.device_fill(|len| len);
            self.h.interrupt(0);
        }
        panic!("no answer");
    }

    fn data(&self, offset: usize, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.data.copy_out(offset, &mut v).unwrap();
        v
    }
}

fn rng(version: u32) -> MockDevice {
    MockDevice::new(4, version, F_EVENT_IDX | F_VERSION_1, 1, 64)
}

/// The counter bytes 1, 2, 3, ... (wrapping), `n` of them from `start`.
fn counter(start: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| start.wrapping_add(1).wrapping_add(i as u8)).collect()
}

#[test]
fn a_request_larger_than_a_buffer_is_served_in_pieces_and_exactly() {
    for version in [2, 1] {
        let mut rig = Rig::new(rng(version));
        rig.h.bind();
        assert!(rig.h.device.live() && rig.h.device.negotiated(sevio_virtio::features::general::EVENT_IDX));
        let seq = rig.request(0x100, 10_000);
        assert!(!rig.h.device.state().notifies.is_empty(), "kicked through the doorbell and the transport");
        let r = rig.serve();
        assert_eq!(r, RngResponse { seq, status: RngStatus::Ok as u32, len: 10_000, pieces: 3 }, "version {version}");
        assert_eq!(rig.asked, [4096, 4096, 1808]);
        assert!(rig.data(0x100, 10_000) == counter(0, 10_000), "bytes in device order");
        assert!(rig.data(0, 0x100).iter().all(|&b| b == POISON), "nothing before the range");
        assert!(rig.data(0x100 + 10_000, 64).iter().all(|&b| b == POISON), "nothing after it");
        assert!(rig.h.take_client_notify());
    }
}

#[test]
fn more_than_the_bounce_buffers_hold_goes_in_rounds() {
    let mut rig = Rig::ready();
    rig.request(0, 0x4000);
    assert_eq!(rig.device_fill(|len| len), 4, "four bounce buffers in flight");
    assert!(rig.client.poll().is_none());
    let r = rig.serve();
    assert_eq!((r.status, r.len, r.pieces), (0, 0x4000, 4));
    assert_eq!(rig.asked, [4096; 4]);
    rig.request(0, 5 * PIECE_SIZE as u32 / 2);
    let r = rig.serve();
    assert_eq!((r.status, r.len, r.pieces), (0, 10240, 3));
    assert_eq!(rig.h.driver().stats().served, 2);
}

#[test]
fn short_answers_are_asked_for_again() {
    let mut rig = Rig::ready();
    let seq = rig.request(16, 100);
    let mut rounds = 0;
    while rig.client.poll().is_none() {
        rig.device_fill(|len| len.min(30));
        rig.h.interrupt(0);
        rounds += 1;
        assert!(rounds < 20);
    }
    assert_eq!(rig.client.poll(), Some(RngResponse { seq, status: 0, len: 100, pieces: 4 }));
    assert_eq!(rig.asked, [100, 70, 40, 10], "each time only what is still missing");
    assert!(rig.data(16, 100) == counter(0, 100));
    assert!(rig.data(116, 16).iter().all(|&b| b == POISON));
}

#[test]
fn a_device_claiming_more_than_it_was_asked_for_fails_and_the_request_gets_io() {
    let mut rig = Rig::ready();
    let seq = rig.request(0, 100);
    let resets = rig.h.device.state().resets;
    let chain = rig.h.device.pop_avail(0).unwrap();
    assert_eq!(chain.bufs[0].len, 100);
    rig.h.device.write(chain.bufs[0].addr, &[7u8; 100]);
    rig.h.device.push_used(0, chain.head as u32, 101);
    assert!(rig.h.interrupt(0));
    assert_eq!(rig.client.poll(), Some(RngResponse { seq, status: RngStatus::Io as u32, len: 0, pieces: 0 }));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(matches!(
        rig.h.last_error(),
        Some(DriverError::Queue(Error::Device(DeviceFault::UsedLenTooLarge { len: 101, writable: 100, .. })))
    ));
    assert_eq!(rig.h.device.state().resets, resets + 1, "reset through the transport");
    assert!(!rig.h.device.live());
    assert!(rig.data(0, 101).iter().all(|&b| b == POISON), "nothing copied from a device that lied");
    // Later requests: Io at once, the device untouched.
    let notifies = rig.h.device.state().notifies.len();
    let seq = rig.request(0, 16);
    assert_eq!(rig.client.poll().map(|r| (r.seq, r.status)), Some((seq, RngStatus::Io as u32)));
    assert_eq!(rig.h.device.state().notifies.len(), notifies);
    assert_eq!(rig.h.device.state().queues[0], None);
}

#[test]
fn a_used_id_the_driver_never_posted_fails_the_device() {
    let mut rig = Rig::ready();
    rig.request(0, 16);
    rig.h.device.pop_avail(0).unwrap();
    rig.h.device.push_used(0, 5, 16);
    rig.h.interrupt(0);
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert_eq!(rig.client.poll().map(|r| r.status), Some(RngStatus::Io as u32));
}

#[test]
fn invalid_requests_are_refused_without_touching_the_device() {
    let mut rig = Rig::ready();
    let avail = rig.h.device.avail_idx(0);
    for (offset, len) in [(0, 0), (DATA_SIZE as u32 - 10, 11), (DATA_SIZE as u32, 1), (u32::MAX, 2), (1, u32::MAX)] {
        let seq = rig.request(offset, len);
        assert_eq!(
            rig.client.poll(),
            Some(RngResponse { seq, status: RngStatus::Invalid as u32, len: 0, pieces: 0 }),
            "offset {offset:#x} len {len}"
        );
    }
    assert_eq!(rig.h.device.avail_idx(0), avail, "no buffer made available");
    assert!(rig.h.device.state().notifies.is_empty());
    assert!(rig.data(0, DATA_SIZE).iter().all(|&b| b == POISON));
    // The last byte of the region is fine.
    rig.request(DATA_SIZE as u32 - 1, 1);
    assert_eq!(rig.serve().status, 0);
    assert_eq!(rig.h.driver().stats().invalid, 5);
}

#[test]
fn a_device_that_gives_nothing_gets_the_request_answered_io_and_is_kept() {
    let mut rig = Rig::ready();
    let seq = rig.request(0, 64);
    for _ in 0..ZERO_LIMIT {
        rig.device_fill(|_| 0);
        rig.h.interrupt(0);
    }
    assert_eq!(rig.client.poll(), Some(RngResponse { seq, status: RngStatus::Io as u32, len: 0, pieces: 0 }));
    assert_eq!(rig.asked.len(), ZERO_LIMIT as usize, "asked again after each empty answer, then gave up");
    assert_eq!(rig.h.status(), DriverStatus::Ready);
    rig.request(0, 64);
    assert_eq!(rig.serve().status, 0, "the device recovered");
}

#[test]
fn a_request_waits_for_a_binding_and_survives_an_unbind() {
    let mut rig = Rig::new(rng(2));
    // The table names the device before the transport has caught up: it
    // refuses the bring-up (NotBound) and the driver retries later.
    rig.h.publish_binding();
    assert_eq!(rig.h.status(), DriverStatus::Unbound);
    let seq = rig.request(0, 6000);
    assert!(rig.h.driver().busy() && rig.client.poll().is_none(), "waits for the device");
    rig.h.transport_sees_binding();
    rig.h.client_notifies();
    assert_eq!(rig.h.status(), DriverStatus::Ready);
    // The first piece comes back, then the device goes away.
    let chain = rig.h.device.pop_avail(0).unwrap();
    rig.h.device.write(chain.bufs[0].addr, &[1u8; 4096]);
    rig.h.device.push_used(0, chain.head as u32, 4096);
    assert!(!rig.h.interrupt(0), "armed for both pieces");
    rig.h.device.raise_interrupt();
    assert!(rig.h.deliver_interrupt());
    rig.h.unbind();
    assert_eq!(rig.h.status(), DriverStatus::Unbound);
    assert!(rig.client.poll().is_none());
    rig.h.bind();
    let r = rig.serve();
    assert_eq!((r.seq, r.status, r.len), (seq, 0, 6000));
    assert!(rig.data(0, 4096).iter().all(|&b| b == 1), "the first piece kept");
    assert!(rig.data(4096, 1904) == counter(0, 1904), "the rest from the new device");
}

#[test]
fn a_device_without_the_queue_fails_at_bring_up() {
    let mut rig = Rig::new(MockDevice::new(4, 2, F_VERSION_1, 0, 0));
    let seq = rig.request(0, 16);
    rig.h.bind();
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(matches!(rig.h.last_error(), Some(DriverError::Init(_))));
    assert_eq!(rig.client.poll().map(|r| (r.seq, r.status)), Some((seq, RngStatus::Io as u32)), "answered, not left");
}
