//! The driver against the fake transport and device: frames both ways,
//! header placement, client buffer checks (never a DMA for a bad one),
//! notification suppression both ways, a misbehaving device and client,
//! unbind and rebind.

use sevio_driver_core::fake::{Chain, FakeDevice, FakeTransport};
use sevio_driver_core::{DmaRegion, DriverStatus};
use sevio_driver_net::buffers::ClientRegion;
use sevio_driver_net::device::{Link, VQ_SIZE};
use sevio_driver_net::driver::{Actions, ClientQueues, ClientRegions, NetDriver, NetError};
use sevio_queue::{NetBuffer, NetConsumer, NetProducer, QueueError};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use sevio_transport_protocol::doorbell::{INT_CONFIG_CHANGE, INT_USED_BUFFER};
use sevio_transport_protocol::{DriverDoorbell, Request, TransportDoorbell};
use sevio_virtio::device::net::features as net;
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, Features};

const DMA_PADDR: u64 = 0x4800_0000;
const RX_PADDR: u64 = 0x5000_0000;
const TX_PADDR: u64 = 0x5100_0000;
const DATA_SIZE: usize = 0x8000; // 16 buffers each
const CAP: u32 = 64;
const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const RX: u16 = 0;
const TX: u16 = 1;

fn modern_offer() -> u64 {
    Features::EMPTY
        .with(net::MAC)
        .with(net::STATUS)
        .with(net::MRG_RXBUF)
        .with(net::CSUM)
        .with(net::CTRL_VQ)
        .with(general::EVENT_IDX)
        .with(general::INDIRECT_DESC)
        .with(general::VERSION_1)
        .0
}

/// The client's ends of the four queues.
struct Client {
    rx_free: NetProducer,
    rx_active: NetConsumer,
    tx_free: NetConsumer,
    tx_active: NetProducer,
}

struct Rig {
    _heaps: Vec<HeapRegion>,
    fake: FakeTransport,
    driver: NetDriver<FakeTransport>,
    client: Client,
    rx_data: SharedMemory,
    tx_data: SharedMemory,
    queue_mem: [SharedMemory; 4],
    doorbell: TransportDoorbell,
    driver_doorbell: DriverDoorbell,
}

impl Rig {
    fn new(version: u32, offered: u64) -> Rig {
        Rig::with_queue_max(version, offered, 256)
    }

    fn with_queue_max(version: u32, offered: u64, queue_max: u16) -> Rig {
        let dma = HeapRegion::new(0x1_0000);
        let rx = HeapRegion::new(DATA_SIZE);
        let tx = HeapRegion::new(DATA_SIZE);
        let queues: Vec<HeapRegion> = (0..4).map(|_| HeapRegion::new(0x2000)).collect();
        let page = HeapRegion::new(4096);
        let mut dev = FakeDevice::new(1, version, offered, 2, queue_max);
        dev.memory.add(DMA_PADDR, dma.memory());
        dev.memory.add(RX_PADDR, rx.memory());
        dev.memory.add(TX_PADDR, tx.memory());
        dev.dma_window = Some((DMA_PADDR, 0x4_0000));
        let mut config = vec![0u8; 24];
        config[..6].copy_from_slice(&MAC);
        config[6] = 1; // link up
        dev.config = config;
        let fake = FakeTransport::new(dev);
        let q: [SharedMemory; 4] = core::array::from_fn(|i| queues[i].memory());
        let driver_queues = ClientQueues {
            rx_free: NetConsumer::new(q[0], CAP).unwrap(),
            rx_active: NetProducer::new(q[1], CAP).unwrap(),
            tx_free: NetProducer::new(q[2], CAP).unwrap(),
            tx_active: NetConsumer::new(q[3], CAP).unwrap(),
        };
        let client = Client {
            rx_free: NetProducer::new(q[0], CAP).unwrap(),
            rx_active: NetConsumer::new(q[1], CAP).unwrap(),
            tx_free: NetConsumer::new(q[2], CAP).unwrap(),
            tx_active: NetProducer::new(q[3], CAP).unwrap(),
        };
        let regions = ClientRegions {
            rx: ClientRegion { paddr: RX_PADDR, size: DATA_SIZE as u64 },
            tx: ClientRegion { paddr: TX_PADDR, size: DATA_SIZE as u64 },
        };
        let region = DmaRegion::new(dma.memory(), DMA_PADDR).unwrap();
        let driver = NetDriver::new(fake.clone(), region, driver_queues, regions);
        let doorbell = TransportDoorbell::init(page.memory()).unwrap();
        let driver_doorbell = DriverDoorbell::open(page.memory()).unwrap();
        let (rx_data, tx_data) = (rx.memory(), tx.memory());
        let mut heaps = vec![dma, rx, tx, page];
        heaps.extend(queues);
        Rig { _heaps: heaps, fake, driver, client, rx_data, tx_data, queue_mem: q, doorbell, driver_doorbell }
    }

    fn modern() -> Rig {
        let mut r = Rig::new(2, modern_offer());
        let mut a = Actions::default();
        r.driver.start(&mut a).unwrap();
        r
    }

    fn dev(&self) -> std::cell::RefMut<'_, FakeDevice> {
        self.fake.device()
    }

    /// The client offers rx buffers `0..n` (2048 bytes apart).
    fn offer_rx(&mut self, slots: impl IntoIterator<Item = u64>) {
        for i in slots {
            self.client.rx_free.enqueue(NetBuffer { io_or_offset: i * 2048, len: 0, oid: 5 }).unwrap();
        }
    }

    /// The client queues a frame of `len` bytes (byte k = seed + k) at
    /// tx offset `offset`.
    fn send(&mut self, offset: u64, len: u16, seed: u8) {
        let bytes: Vec<u8> = (0..len).map(|k| seed.wrapping_add(k as u8)).collect();
        if offset.checked_add(u64::from(len)).is_some_and(|end| end <= DATA_SIZE as u64) {
            self.tx_data.copy_in(offset as usize, &bytes).unwrap();
        }
        self.client.tx_active.enqueue(NetBuffer { io_or_offset: offset, len, oid: 7 }).unwrap();
    }

    fn service(&mut self) -> Actions {
        let mut a = Actions::default();
        self.driver.service(&mut a);
        a
    }

    /// The transport raises `causes` and the driver takes the interrupt.
    fn interrupt(&mut self, causes: u32) -> (Actions, Option<sevio_driver_net::NetFacts>) {
        self.doorbell.raise(causes);
        let mut a = Actions::default();
        let facts = self.driver.interrupt(&self.driver_doorbell, &mut a);
        (a, facts)
    }

    fn chains(&self, q: u16) -> Vec<Chain> {
        let mut dev = self.dev();
        std::iter::from_fn(|| dev.pop_avail(q)).collect()
    }

    /// The device receives `frame` into `chain`: header, then the bytes.
    fn receive(&self, chain: &Chain, hdr_len: usize, frame: &[u8]) {
        let mut dev = self.dev();
        let hdr = chain.bufs[0];
        assert!(hdr.writable && hdr.len as usize == hdr_len);
        let mut header = vec![0u8; hdr_len];
        if hdr_len == 12 {
            header[10] = 1; // num_buffers
        }
        dev.memory.write(hdr.addr, &header);
        dev.memory.write(chain.bufs[1].addr, frame);
        dev.push_used(RX, chain.head as u32, (hdr_len + frame.len()) as u32);
    }

    fn rx_delivered(&mut self) -> Vec<NetBuffer> {
        std::iter::from_fn(|| self.client.rx_active.dequeue().unwrap()).collect()
    }

    fn tx_returned(&mut self) -> Vec<NetBuffer> {
        std::iter::from_fn(|| self.client.tx_free.dequeue().unwrap()).collect()
    }
}

#[test]
fn brings_up_with_mac_link_and_only_the_features_it_wants() {
    let mut r = Rig::new(2, modern_offer());
    let mut a = Actions::default();
    let s = r.driver.start(&mut a).unwrap();
    assert_eq!(s.facts.mac, Some(MAC));
    assert_eq!(s.facts.link, Link::Up);
    assert_eq!((s.hdr_len, s.rx_size, s.tx_size, s.legacy), (12, 256, 256, false));
    let want = Features::EMPTY
        .with(net::MAC)
        .with(net::STATUS)
        .with(general::EVENT_IDX)
        .with(general::INDIRECT_DESC)
        .with(general::VERSION_1);
    assert_eq!(r.dev().features, Some(want.0), "no MRG_RXBUF, no CSUM, no control queue");
    assert!(r.dev().live());
    assert!(r.driver.is_live());
    assert_eq!(a, Actions::default(), "nothing to post or send yet");
}

#[test]
fn received_frames_reach_the_client_without_the_header() {
    let mut r = Rig::modern();
    r.offer_rx(0..4);
    let a = r.service();
    assert_eq!(a.kick, 1 << RX, "first buffers: the device wants a kick");
    let chains = r.chains(RX);
    assert_eq!(chains.len(), 4);
    for (i, c) in chains.iter().enumerate() {
        assert!(c.indirect, "one ring slot per frame");
        assert_eq!(c.bufs.len(), 2);
        assert!(c.bufs[0].addr >= DMA_PADDR && c.bufs[0].addr < DMA_PADDR + 0x1_0000, "header in the DMA region");
        assert_eq!(c.bufs[1], Buffer::writable(RX_PADDR + i as u64 * 2048, 2048), "the client's buffer, whole");
    }
    let headers: std::collections::BTreeSet<u64> = chains.iter().map(|c| c.bufs[0].addr).collect();
    assert_eq!(headers.len(), 4, "a header slot per chain");

    let frame: Vec<u8> = (0..60u8).collect();
    r.receive(&chains[2], 12, &frame);
    assert!(r.dev().interrupt_due(RX), "armed for the next frame");
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(a.notify_client, "the client has not been signalled yet");
    let got = r.rx_delivered();
    assert_eq!(got, [NetBuffer { io_or_offset: 2 * 2048, len: 60, oid: 5 }]);
    let mut bytes = vec![0u8; 60];
    r.rx_data.copy_out(2 * 2048, &mut bytes).unwrap();
    assert_eq!(bytes, frame, "the frame starts at the buffer's first byte");
    assert_eq!((r.driver.stats.rx_frames, r.driver.stats.rx_bytes), (1, 60));

    // The buffer goes back to the device when the client frees it again.
    r.client.rx_free.enqueue(got[0]).unwrap();
    r.service();
    let again = r.chains(RX);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].bufs[1].addr, RX_PADDR + 2 * 2048);
}

#[test]
fn sent_frames_carry_a_zero_header_and_come_back() {
    let mut r = Rig::modern();
    r.send(0, 60, 1);
    r.send(2048, 1514, 2);
    let a = r.service();
    assert_eq!(a.kick, 1 << TX);
    let chains = r.chains(TX);
    assert_eq!(chains.len(), 2);
    for (c, (offset, len)) in chains.iter().zip([(0u64, 60u32), (2048, 1514)]) {
        assert!(!c.bufs[0].writable && c.bufs[0].len == 12);
        let mut hdr = [0xffu8; 12];
        r.dev().memory.read(c.bufs[0].addr, &mut hdr);
        assert_eq!(hdr, [0; 12], "no offloads: an all-zero header");
        assert_eq!(c.bufs[1], Buffer::readable(TX_PADDR + offset, len));
    }
    assert_eq!((r.driver.stats.tx_frames, r.driver.stats.tx_bytes), (2, 60 + 1514));
    r.dev().push_used(TX, chains[0].head as u32, 0);
    assert!(!r.dev().interrupt_due(TX), "one of two sent: no interrupt yet");
    r.dev().push_used(TX, chains[1].head as u32, 0);
    assert!(r.dev().interrupt_due(TX), "all sent: one interrupt");
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(a.notify_client);
    let back = r.tx_returned();
    assert_eq!(
        back,
        [NetBuffer { io_or_offset: 0, len: 60, oid: 7 }, NetBuffer { io_or_offset: 2048, len: 1514, oid: 7 }]
    );
}

#[test]
fn bad_client_buffers_never_reach_the_device() {
    let mut r = Rig::modern();
    // rx: one good, one past the region's end, one straddling it, one huge.
    for offset in [0, DATA_SIZE as u64, DATA_SIZE as u64 - 2047, u64::MAX - 10] {
        r.client.rx_free.enqueue(NetBuffer { io_or_offset: offset, len: 0, oid: 1 }).unwrap();
    }
    // tx: too short, too long, outside, overflowing, and one good.
    r.send(0, 13, 0);
    r.send(0, 2049, 0);
    r.send(DATA_SIZE as u64 - 59, 60, 0);
    r.send(u64::MAX - 20, 60, 0);
    r.send(4096, 64, 9);
    let a = r.service();
    let rx = r.chains(RX);
    let tx = r.chains(TX);
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].bufs[1].addr, RX_PADDR);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].bufs[1], Buffer::readable(TX_PADDR + 4096, 64));
    assert_eq!(r.driver.stats.rx_bad_buffers, 3);
    assert_eq!(r.driver.stats.tx_bad_frames, 4);
    assert!(a.notify_client, "refused frames come back at once");
    let back = r.tx_returned();
    assert_eq!(back.len(), 4);
    assert!(back.iter().all(|b| b.len == 0), "refused: len 0");
    assert_eq!(back[2].io_or_offset, DATA_SIZE as u64 - 59);
    assert!(r.driver.is_live(), "a bad buffer does not stop the driver");
}

#[test]
fn short_completions_are_reposted_not_delivered() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    r.service();
    let chains = r.chains(RX);
    r.dev().push_used(RX, chains[0].head as u32, 12); // header only
    r.dev().push_used(RX, chains[1].head as u32, 5); // less than a header
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(r.rx_delivered().is_empty());
    assert!(!a.notify_client);
    assert_eq!(r.driver.stats.rx_errors, 2);
    let again = r.chains(RX);
    assert_eq!(again.len(), 2, "both buffers posted again");
    assert!(r.driver.is_live());
}

#[test]
fn a_device_breaking_the_ring_is_reset_and_its_buffers_taken_back() {
    let mut r = Rig::modern();
    r.offer_rx(0..3);
    r.send(0, 60, 0);
    r.service();
    let rx = r.chains(RX);
    let _tx = r.chains(TX);
    r.dev().push_used(RX, rx[0].head as u32, 12 + 2048 + 1); // longer than posted
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(matches!(r.driver.last_error(), Some(NetError::Queue(sevio_virtio::Error::Device(_)))));
    assert_eq!(r.driver.status(), DriverStatus::Failed);
    assert!(!r.driver.is_live());
    assert_eq!(r.dev().requests.last(), Some(&Request::Reset));
    assert!(a.notify_client);
    assert_eq!(r.tx_returned(), [NetBuffer { io_or_offset: 0, len: 0, oid: 7 }], "the frame in flight comes back");
    assert_eq!(r.driver.stashed(), 3, "rx buffers kept for the next device");
    assert!(r.rx_delivered().is_empty());

    // Rebound: the kept buffers are posted first.
    let mut a = Actions::default();
    r.driver.start(&mut a).unwrap();
    assert_eq!((r.driver.status(), r.driver.last_error()), (DriverStatus::Ready, None));
    let mut addrs: Vec<u64> = r.chains(RX).iter().map(|c| c.bufs[1].addr).collect();
    addrs.sort();
    assert_eq!(addrs, [RX_PADDR, RX_PADDR + 2048, RX_PADDR + 4096]);
    assert_eq!(r.driver.stashed(), 0);
}

#[test]
fn unbind_keeps_rx_buffers_and_returns_tx_frames() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    r.send(0, 100, 0);
    r.send(2048, 100, 0);
    r.service();
    let mut a = Actions::default();
    r.driver.stop(&mut a);
    assert!(a.notify_client);
    assert_eq!(r.tx_returned().len(), 2);
    assert_eq!(r.driver.stashed(), 2);
    // While unbound nothing moves: frames queued now wait for a device.
    r.send(4096, 100, 0);
    assert_eq!(r.service(), Actions::default());
    let mut a = Actions::default();
    r.driver.start(&mut a).unwrap();
    assert_eq!(r.chains(TX).len(), 1, "the waiting frame is sent once a device is up");
    assert_eq!(r.chains(RX).len(), 2);
}

#[test]
fn kicks_only_when_the_device_asks() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    assert_eq!(r.service().kick, 1 << RX);
    // The device has not looked yet (avail_event still 0): more buffers
    // need no second kick.
    r.offer_rx(2..4);
    assert_eq!(r.service().kick, 0);
    assert_eq!(r.chains(RX).len(), 4, "the device finds all four, then asks for the next kick");
    r.offer_rx(4..5);
    assert_eq!(r.service().kick, 1 << RX);
    assert_eq!(r.driver.stats.kicks, 2);
}

#[test]
fn the_client_is_notified_only_when_it_asked() {
    let mut r = Rig::modern();
    r.offer_rx(0..4);
    r.service();
    let chains = r.chains(RX);
    r.receive(&chains[0], 12, &[1; 20]);
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(a.notify_client);
    // The client has not gone to sleep (flag still set): no notification.
    r.receive(&chains[1], 12, &[2; 20]);
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(!a.notify_client);
    assert_eq!(r.rx_delivered().len(), 2);
    // It asks again (drained, clears the flag): the next frame notifies.
    assert_eq!(r.client.rx_active.request_signal(), Ok(false));
    r.receive(&chains[2], 12, &[3; 20]);
    let (a, _) = r.interrupt(INT_USED_BUFFER);
    assert!(a.notify_client);
    assert_eq!(r.driver.stats.client_notifications, 2);
}

#[test]
fn the_driver_asks_for_client_signals_only_with_room() {
    // Device queues of 8: easy to fill.
    let mut r = Rig::with_queue_max(2, modern_offer(), 8);
    let mut a = Actions::default();
    r.driver.start(&mut a).unwrap();
    let flag = |m: &SharedMemory| m.load_u32(4, core::sync::atomic::Ordering::SeqCst).unwrap();
    assert_eq!(flag(&r.queue_mem[0]), 0, "rx free: room in the rx queue, signal wanted");
    assert_eq!(flag(&r.queue_mem[3]), 0, "tx active: signal wanted");
    for i in 0..10 {
        r.send((i % 16) * 2048, 60, 0);
    }
    r.offer_rx(0..10);
    r.service();
    let tx = r.chains(TX);
    assert_eq!((tx.len(), r.chains(RX).len()), (8, 8), "queues full, the rest waits");
    assert_eq!(flag(&r.queue_mem[3]), 1, "tx active: no signals while the tx queue is full");
    assert_eq!(flag(&r.queue_mem[0]), 1, "rx free: likewise");
    // Completions make room: the waiting frames go out, and signals are
    // wanted again.
    for c in &tx {
        r.dev().push_used(TX, c.head as u32, 0);
    }
    assert!(r.dev().interrupt_due(TX));
    r.interrupt(INT_USED_BUFFER);
    assert_eq!(r.tx_returned().len(), 8);
    assert_eq!(r.chains(TX).len(), 2);
    assert_eq!(flag(&r.queue_mem[3]), 0);
}

#[test]
fn link_changes_are_reported() {
    let mut r = Rig::modern();
    assert_eq!(r.driver.link(), Link::Up);
    r.dev().config[6] = 0;
    r.dev().generation += 1;
    let (_, facts) = r.interrupt(INT_CONFIG_CHANGE);
    assert_eq!(facts.map(|f| f.link), Some(Link::Down));
    assert_eq!(r.driver.link(), Link::Down);
    let (_, facts) = r.interrupt(INT_CONFIG_CHANGE);
    assert_eq!(facts, None, "no change, nothing to report");
    let (a, facts) = r.interrupt(0);
    assert_eq!((a, facts), (Actions::default(), None), "spurious: nothing");
    assert_eq!(r.driver.stats.interrupts, 2);
}

#[test]
fn legacy_devices_get_a_ten_byte_header() {
    let mut r = Rig::new(1, modern_offer());
    let mut a = Actions::default();
    let s = r.driver.start(&mut a).unwrap();
    assert!(s.legacy);
    assert_eq!(s.hdr_len, 10);
    assert_eq!(r.dev().features.unwrap() & (1 << 32), 0);
    r.offer_rx(0..1);
    r.send(0, 42, 3);
    r.service();
    let rx = r.chains(RX);
    assert_eq!(rx[0].bufs[0].len, 10);
    let tx = r.chains(TX);
    assert_eq!(tx[0].bufs[0], Buffer::readable(tx[0].bufs[0].addr, 10));
    r.receive(&rx[0], 10, &[7; 42]);
    r.interrupt(INT_USED_BUFFER);
    assert_eq!(r.rx_delivered(), [NetBuffer { io_or_offset: 0, len: 42, oid: 5 }]);
}

#[test]
fn a_client_with_an_impossible_index_is_no_longer_served() {
    let mut r = Rig::modern();
    r.send(0, 60, 0);
    // The client claims 1000 entries in a 64-entry queue.
    r.queue_mem[3].store_u16(0, 1000, core::sync::atomic::Ordering::Release).unwrap();
    r.service();
    assert!(matches!(r.driver.last_error(), Some(NetError::Client(QueueError::PeerIndex { .. }))));
    assert_eq!(r.driver.status(), DriverStatus::Failed);
    assert!(r.chains(TX).is_empty(), "nothing sent");
    assert_eq!(r.service(), Actions::default(), "and nothing from now on");
    assert!(r.driver.is_live(), "the device stays up");
}

#[test]
fn a_full_rx_active_queue_drops_the_frame_and_keeps_the_buffer() {
    let mut r = Rig::modern();
    // Give the driver more buffers than rx active can hold at once.
    for _ in 0..2 {
        r.offer_rx((0..(CAP as u64 - 1)).map(|i| i % 16));
        r.service();
    }
    let chains = r.chains(RX);
    assert_eq!(chains.len(), 2 * (CAP as usize - 1));
    for c in &chains {
        r.receive(c, 12, &[0xaa; 64]);
    }
    r.interrupt(INT_USED_BUFFER);
    assert_eq!(r.driver.stats.rx_frames, CAP as u64 - 1, "rx active holds capacity - 1");
    assert_eq!(r.driver.stats.rx_overruns, CAP as u64 - 1);
    assert_eq!(r.chains(RX).len(), CAP as usize - 1, "the dropped frames' buffers are posted again");
    assert!(r.driver.stashed() <= VQ_SIZE);
}
