//! The rng driver against the fake transport and a fake virtio-rng.

use sevio_driver_core::fake::{FakeDevice, FakeTransport};
use sevio_driver_core::{DmaRegion, Driver, DriverError, DriverStatus};
use sevio_driver_rng::{ClientPort, PIECE_SIZE, RngDriver, RngResources, RngResponse, RngStatus, ZERO_LIMIT};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use sevio_transport_protocol::wire::label;
use sevio_transport_protocol::{TransportDoorbell, TransportError};
use sevio_virtio::{DeviceFault, Error};

const DMA_PADDR: u64 = 0x4100_0000;
const DMA_SIZE: usize = 0x1_0000;
const DATA_SIZE: usize = 0x4000;
const POISON: u8 = 0xa5;
const F_EVENT_IDX: u64 = 1 << 29;
const F_VERSION_1: u64 = 1 << 32;

struct Rig {
    _mem: Vec<HeapRegion>,
    fake: FakeTransport,
    driver: RngDriver<FakeTransport>,
    client: ClientPort,
    data: SharedMemory,
    /// The next byte the device produces (a counter, so positions show).
    next: u8,
    /// Lengths of the buffers the device was given, in order.
    asked: Vec<u32>,
}

impl Rig {
    fn new(dev: FakeDevice) -> Rig {
        let region = |mem: &mut Vec<HeapRegion>, len| {
            let r = HeapRegion::new(len);
            let m = r.memory();
            mem.push(r);
            m
        };
        let mut mem = Vec::new();
        let dma = region(&mut mem, DMA_SIZE);
        let doorbell = region(&mut mem, 4096);
        TransportDoorbell::init(doorbell).unwrap();
        let control = region(&mut mem, 4096);
        let data = region(&mut mem, DATA_SIZE);
        data.fill(0, DATA_SIZE, POISON).unwrap();
        let mut dev = dev;
        dev.memory.add(DMA_PADDR, dma);
        dev.dma_window = Some((DMA_PADDR, DMA_SIZE as u64));
        let fake = FakeTransport::new(dev);
        let res = RngResources { dma: DmaRegion::new(dma, DMA_PADDR).unwrap(), doorbell, control, data };
        let driver = RngDriver::new(fake.clone(), res).unwrap();
        Rig { _mem: mem, fake, driver, client: ClientPort::new(control).unwrap(), data, next: 0, asked: Vec::new() }
    }

    fn ready() -> Rig {
        let mut rig = Rig::new(rng(2));
        rig.driver.bind().unwrap();
        rig
    }

    fn request(&mut self, offset: u32, len: u32) -> u32 {
        let seq = self.client.post(offset, len);
        self.driver.client_notified();
        seq
    }

    /// The device answers every buffer it holds with `answer(len)` bytes.
    fn device_fill(&mut self, answer: impl Fn(u32) -> u32) -> usize {
        let mut n = 0;
        {
            let mut dev = self.fake.device();
            while let Some(chain) = dev.pop_avail(0) {
                assert_eq!(chain.bufs.len(), 1);
                let buf = chain.bufs[0];
                assert!(buf.writable, "entropy buffers are device-writable");
                self.asked.push(buf.len);
                let len = answer(buf.len);
                let bytes: Vec<u8> = (0..len.min(buf.len))
                    .map(|_| {
                        self.next = self.next.wrapping_add(1);
                        self.next
                    })
                    .collect();
                dev.memory.write(buf.addr, &bytes);
                dev.push_used(0, chain.head as u32, len);
                n += 1;
            }
        }
        n
    }

    fn interrupt_if_due(&mut self) -> bool {
        let due = self.fake.device().interrupt_due(0);
        if due {
            self.driver.interrupt();
        }
        due
    }

    /// Run the device (always full answers) until the request is answered.
    fn serve(&mut self) -> RngResponse {
        for _ in 0..100 {
            if let Some(r) = self.client.poll() {
                return r;
            }
            self.device_fill(|len| len);
            self.interrupt_if_due();
        }
        panic!("no answer");
    }

    fn data(&self, offset: usize, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.data.copy_out(offset, &mut v).unwrap();
        v
    }
}

fn rng(version: u32) -> FakeDevice {
    FakeDevice::new(4, version, F_EVENT_IDX | F_VERSION_1, 1, 64)
}

/// The counter bytes 1, 2, 3, ... (wrapping), `n` of them from `start`.
fn counter(start: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| start.wrapping_add(1).wrapping_add(i as u8)).collect()
}

#[test]
fn a_request_larger_than_a_buffer_is_served_in_pieces_and_exactly() {
    for version in [2, 1] {
        let mut rig = Rig::new(rng(version));
        rig.driver.bind().unwrap();
        let seq = rig.request(0x100, 10_000);
        let r = rig.serve();
        assert_eq!(r, RngResponse { seq, status: RngStatus::Ok as u32, len: 10_000, pieces: 3 }, "version {version}");
        assert_eq!(rig.asked, [4096, 4096, 1808]);
        assert!(rig.data(0x100, 10_000) == counter(0, 10_000), "bytes in device order");
        assert!(rig.data(0, 0x100).iter().all(|&b| b == POISON), "nothing before the range");
        assert!(rig.data(0x100 + 10_000, 64).iter().all(|&b| b == POISON), "nothing after it");
        assert!(rig.driver.take_client_notify());
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
    assert_eq!(rig.driver.stats().served, 2);
}

#[test]
fn short_answers_are_asked_for_again() {
    let mut rig = Rig::ready();
    let seq = rig.request(16, 100);
    let mut rounds = 0;
    while rig.client.poll().is_none() {
        rig.device_fill(|len| len.min(30));
        rig.interrupt_if_due();
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
    let resets = rig.fake.device().resets();
    {
        let mut dev = rig.fake.device();
        let chain = dev.pop_avail(0).unwrap();
        assert_eq!(chain.bufs[0].len, 100);
        dev.memory.write(chain.bufs[0].addr, &[7u8; 100]);
        dev.push_used(0, chain.head as u32, 101);
    }
    rig.driver.interrupt();
    assert_eq!(rig.client.poll(), Some(RngResponse { seq, status: RngStatus::Io as u32, len: 0, pieces: 0 }));
    assert_eq!(rig.driver.status(), DriverStatus::Failed);
    assert!(matches!(
        rig.driver.last_error(),
        Some(DriverError::Queue(Error::Device(DeviceFault::UsedLenTooLarge { len: 101, writable: 100, .. })))
    ));
    assert_eq!(rig.fake.device().resets(), resets + 1);
    assert!(rig.data(0, 101).iter().all(|&b| b == POISON), "nothing copied from a device that lied");
    // Later requests: Io at once, no device call.
    let calls = rig.fake.device().requests.len();
    let seq = rig.request(0, 16);
    assert_eq!(rig.client.poll().map(|r| (r.seq, r.status)), Some((seq, RngStatus::Io as u32)));
    assert_eq!(rig.fake.device().requests.len(), calls);
}

#[test]
fn a_used_id_the_driver_never_posted_fails_the_device() {
    let mut rig = Rig::ready();
    rig.request(0, 16);
    rig.fake.device().pop_avail(0).unwrap();
    rig.fake.device().push_used(0, 5, 16);
    rig.driver.interrupt();
    assert_eq!(rig.driver.status(), DriverStatus::Failed);
    assert_eq!(rig.client.poll().map(|r| r.status), Some(RngStatus::Io as u32));
}

#[test]
fn invalid_requests_are_refused_without_touching_the_device() {
    let mut rig = Rig::ready();
    let avail = {
        let dev = rig.fake.device();
        let q = dev.queues[0].unwrap();
        dev.memory.read_u16(q.avail + 2)
    };
    for (offset, len) in [(0, 0), (DATA_SIZE as u32 - 10, 11), (DATA_SIZE as u32, 1), (u32::MAX, 2), (1, u32::MAX)] {
        let seq = rig.request(offset, len);
        assert_eq!(
            rig.client.poll(),
            Some(RngResponse { seq, status: RngStatus::Invalid as u32, len: 0, pieces: 0 }),
            "offset {offset:#x} len {len}"
        );
    }
    let dev = rig.fake.device();
    let q = dev.queues[0].unwrap();
    assert_eq!(dev.memory.read_u16(q.avail + 2), avail, "no buffer made available");
    drop(dev);
    assert!(rig.data(0, DATA_SIZE).iter().all(|&b| b == POISON));
    // The last byte of the region is fine.
    rig.request(DATA_SIZE as u32 - 1, 1);
    assert_eq!(rig.serve().status, 0);
}

#[test]
fn a_device_that_gives_nothing_gets_the_request_answered_io_and_is_kept() {
    let mut rig = Rig::ready();
    let seq = rig.request(0, 64);
    for _ in 0..ZERO_LIMIT {
        rig.device_fill(|_| 0);
        rig.interrupt_if_due();
    }
    assert_eq!(rig.client.poll(), Some(RngResponse { seq, status: RngStatus::Io as u32, len: 0, pieces: 0 }));
    assert_eq!(rig.asked.len(), ZERO_LIMIT as usize, "asked again after each empty answer, then gave up");
    assert_eq!(rig.driver.status(), DriverStatus::Ready);
    rig.request(0, 64);
    assert_eq!(rig.serve().status, 0, "the device recovered");
}

#[test]
fn a_request_waits_for_a_binding_and_survives_an_unbind() {
    let mut rig = Rig::new(rng(2));
    rig.fake.device().refuse = Some((label::DEVICE_INFO, TransportError::NotBound));
    assert!(rig.driver.bind().is_err());
    let seq = rig.request(0, 6000);
    assert!(rig.driver.busy() && rig.client.poll().is_none(), "waits for the device");
    rig.fake.device().refuse = None;
    rig.driver.client_notified();
    assert_eq!(rig.driver.status(), DriverStatus::Ready);
    // The first piece comes back, then the device goes away.
    {
        let mut dev = rig.fake.device();
        let chain = dev.pop_avail(0).unwrap();
        dev.memory.write(chain.bufs[0].addr, &[1u8; 4096]);
        dev.push_used(0, chain.head as u32, 4096);
    }
    rig.driver.interrupt();
    rig.driver.unbind();
    assert!(rig.client.poll().is_none());
    rig.driver.bind().unwrap();
    let r = rig.serve();
    assert_eq!((r.seq, r.status, r.len), (seq, 0, 6000));
    assert!(rig.data(0, 4096).iter().all(|&b| b == 1), "the first piece kept");
    assert!(rig.data(4096, 1904) == counter(0, 1904), "the rest from the new device");
}
