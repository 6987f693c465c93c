//! The net driver PD against the real transport core and a mock
//! virtio-net (`sevio_driver_core::harness`), its peers playing sDDF's rx
//! and tx virtualisers (buffers by I/O address in two data regions, rx
//! and tx queues of different capacities, a channel each): frames both
//! ways, header placement, buffer checks (never a DMA for a bad one),
//! notification suppression both ways and on the right channel, a
//! misbehaving device and peer, unbind and rebind.

use sevio_driver_core::harness::{DMA_PADDR, Harness, Memory};
use sevio_driver_core::{DataRegionSetvars, DriverError, DriverStatus, RegionSetvars, data_regions_from_setvars};
use sevio_driver_net::device::VQ_SIZE;
use sevio_driver_net::wiring::queue_region_size;
use sevio_driver_net::{Link, NetConfig, NetDriver, NetLink, Stats};
use sevio_queue::{NetBuffer, NetConsumer, NetProducer, QueueError};
use sevio_runtime::{Channel, ChannelSet, Handler};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::{Chain, MockDevice};
use sevio_transport_protocol::DMA_WINDOW_SIZE;
use sevio_transport_protocol::doorbell::INT_CONFIG_CHANGE;
use sevio_virtio::device::net::features as net;
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceFault, Error, Features};

const RX_PADDR: u64 = 0x5000_0000;
const TX_PADDR: u64 = 0x5100_0000;
const DATA_SIZE: usize = 0x8000; // 16 buffers each
/// sdfgen's capacities for sDDF's echo_server driver.
const RX_CAP: u16 = 512;
const TX_CAP: u16 = 1024;
/// The rx and tx virtualisers' channels (as an sDDF config names them).
const RX_PEER: Channel = Channel::new(4);
const TX_PEER: Channel = Channel::new(5);
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

/// A virtio-net with MAC and link up in its config space.
fn nic(version: u32, queue_max: u16) -> MockDevice {
    let device = MockDevice::new(1, version, modern_offer(), 2, queue_max);
    let mut config = vec![0u8; 24];
    config[..6].copy_from_slice(&MAC);
    config[6] = 1; // VIRTIO_NET_S_LINK_UP
    device.state().config = config;
    device
}

/// The peers' ends of the four queues.
struct Client {
    rx_free: NetProducer,
    rx_active: NetConsumer,
    tx_free: NetConsumer,
    tx_active: NetProducer,
}

struct Rig {
    h: Harness<NetDriver>,
    client: Client,
    rx_data: SharedMemory,
    tx_data: SharedMemory,
    /// rx free, rx active, tx free, tx active.
    queue_mem: [SharedMemory; 4],
}

impl Rig {
    fn new(device: MockDevice) -> Rig {
        Rig::with_capacities(device, RX_CAP, TX_CAP)
    }

    /// The driver configured as sdfgen configures it: rx and tx
    /// connections of their own capacities and channels, and the two data
    /// regions the peers name buffers in, by I/O address.
    fn with_capacities(device: MockDevice, rx_cap: u16, tx_cap: u16) -> Rig {
        let mut data: [Option<RegionSetvars>; 2] = [None; 2];
        let h = Harness::<NetDriver>::new("net", device, |mem| {
            let link = |mem: &mut Memory, [free, active]: [&'static str; 2], cap: u16, channel| {
                let size = queue_region_size(cap) as usize;
                NetLink {
                    free: mem.region(free, size, 0),
                    active: mem.region(active, size, 0),
                    capacity: cap.into(),
                    channel,
                }
            };
            let rx = link(mem, ["virt_rx.free_queue", "virt_rx.active_queue"], rx_cap, RX_PEER);
            let tx = link(mem, ["virt_tx.free_queue", "virt_tx.active_queue"], tx_cap, TX_PEER);
            data = [("rx_data", RX_PADDR), ("tx_data", TX_PADDR)]
                .map(|(name, paddr)| Some(mem.device_region(name, DATA_SIZE, 0, paddr)));
            let regions = [("rx_data", RX_PADDR), ("tx_data", TX_PADDR)].map(|(region, paddr)| DataRegionSetvars {
                region,
                size: DATA_SIZE as u64,
                paddr,
                required: true,
            });
            NetConfig { rx, tx, data: data_regions_from_setvars(&regions).unwrap() }
        });
        let (rx, tx) = (h.vars.rx, h.vars.tx);
        let q = [rx.free, rx.active, tx.free, tx.active].map(|r| h.memory(r));
        let client = Client {
            rx_free: NetProducer::new(q[0], rx.capacity).unwrap(),
            rx_active: NetConsumer::new(q[1], rx.capacity).unwrap(),
            tx_free: NetConsumer::new(q[2], tx.capacity).unwrap(),
            tx_active: NetProducer::new(q[3], tx.capacity).unwrap(),
        };
        let [rx_data, tx_data] = data.map(|d| h.memory(d.unwrap()));
        Rig { h, client, rx_data, tx_data, queue_mem: q }
    }

    /// Which peers the driver notified since the last look: (rx, tx).
    fn told(&mut self) -> (bool, bool) {
        let set = self.h.take_notifications();
        assert_eq!(set.bits() & !(1 << RX_PEER.index() | 1 << TX_PEER.index()), 0, "only the peers");
        (set.contains(RX_PEER), set.contains(TX_PEER))
    }

    /// The rx virtualiser notifies (free buffers).
    fn rx_peer_notifies(&mut self) {
        self.h.peer_notifies(RX_PEER);
    }

    /// The tx virtualiser notifies (frames to send).
    fn tx_peer_notifies(&mut self) {
        self.h.peer_notifies(TX_PEER);
    }

    /// Bound to a device (queues of `queue_max`) and serving.
    fn ready(version: u32, queue_max: u16) -> Rig {
        let mut r = Rig::new(nic(version, queue_max));
        r.h.bind();
        assert_eq!(r.h.status(), DriverStatus::Ready);
        r
    }

    fn modern() -> Rig {
        Rig::ready(2, 256)
    }

    fn stats(&mut self) -> Stats {
        self.h.driver().stats()
    }

    /// The rx peer offers the rx buffers at these indices (2048 bytes
    /// apart, by I/O address) without notifying.
    fn offer_rx(&mut self, slots: impl IntoIterator<Item = u64>) {
        for i in slots {
            self.client.rx_free.enqueue(NetBuffer { io_or_offset: RX_PADDR + i * 2048, len: 0, oid: 5 }).unwrap();
        }
    }

    /// The tx peer queues a frame of `len` bytes (byte k = seed + k) at
    /// offset `offset` of the tx region, without notifying.
    fn send(&mut self, offset: u64, len: u16, seed: u8) {
        self.send_at(TX_PADDR + offset, len, seed);
    }

    /// The tx peer queues a frame at I/O address `io_addr` (written to
    /// the tx region if it lies there).
    fn send_at(&mut self, io_addr: u64, len: u16, seed: u8) {
        let bytes: Vec<u8> = (0..len).map(|k| seed.wrapping_add(k as u8)).collect();
        let offset = io_addr.wrapping_sub(TX_PADDR);
        if offset.checked_add(u64::from(len)).is_some_and(|end| end <= DATA_SIZE as u64) {
            self.tx_data.copy_in(offset as usize, &bytes).unwrap();
        }
        self.client.tx_active.enqueue(NetBuffer { io_or_offset: io_addr, len, oid: 7 }).unwrap();
    }

    /// Kicks queue `q` got so far (doorbell + transport notification,
    /// become device notifies).
    fn kicks(&self, q: u16) -> usize {
        self.h.device.state().notifies.iter().filter(|&&n| n == q).count()
    }

    fn chains(&self, q: u16) -> Vec<Chain> {
        std::iter::from_fn(|| self.h.device.pop_avail(q)).collect()
    }

    /// The device receives `frame` into `chain`: header, then the bytes.
    fn receive(&self, chain: &Chain, hdr_len: usize, frame: &[u8]) {
        let hdr = chain.bufs[0];
        assert!(hdr.writable && hdr.len as usize == hdr_len);
        let mut header = vec![0u8; hdr_len];
        if hdr_len == 12 {
            header[10] = 1; // num_buffers
        }
        self.h.device.write(hdr.addr, &header);
        self.h.device.write(chain.bufs[1].addr, frame);
        self.h.device.push_used(RX, chain.head as u32, (hdr_len + frame.len()) as u32);
    }

    fn rx_delivered(&mut self) -> Vec<NetBuffer> {
        std::iter::from_fn(|| self.client.rx_active.dequeue().unwrap()).collect()
    }

    fn tx_returned(&mut self) -> Vec<NetBuffer> {
        std::iter::from_fn(|| self.client.tx_free.dequeue().unwrap()).collect()
    }

    /// The transport notifies the driver whatever the doorbell holds.
    fn transport_notifies(&mut self) {
        self.h.pd.notified(ChannelSet::from_badge(1 << 1));
    }
}

#[test]
fn brings_up_with_mac_link_and_only_the_features_it_wants() {
    let mut r = Rig::modern();
    let facts = r.h.driver().facts().unwrap();
    assert_eq!((facts.mac, facts.link), (Some(MAC), Link::Up));
    let want = Features::EMPTY
        .with(net::MAC)
        .with(net::STATUS)
        .with(general::EVENT_IDX)
        .with(general::INDIRECT_DESC)
        .with(general::VERSION_1);
    assert_eq!(r.h.device.state().features, Some(want.0), "no MRG_RXBUF, no CSUM, no control queue");
    assert!(r.h.device.live());
    let sizes: Vec<u16> = r.h.device.state().queues.iter().map(|q| q.unwrap().size).collect();
    assert_eq!(sizes, [256, 256]);
    assert!(r.h.device.state().notifies.is_empty(), "nothing to post or send yet");
    assert_eq!(r.told(), (false, false));
}

#[test]
fn received_frames_reach_the_client_without_the_header() {
    let mut r = Rig::modern();
    r.offer_rx(0..4);
    r.rx_peer_notifies();
    assert_eq!(r.kicks(RX), 1, "first buffers: the device wants a kick");
    let chains = r.chains(RX);
    assert_eq!(chains.len(), 4);
    for (i, c) in chains.iter().enumerate() {
        assert!(c.indirect, "one ring slot per frame");
        assert_eq!(c.bufs.len(), 2);
        let in_dma = c.bufs[0].addr >= DMA_PADDR && c.bufs[0].addr < DMA_PADDR + DMA_WINDOW_SIZE;
        assert!(in_dma, "header in the DMA region");
        assert_eq!(c.bufs[1], Buffer::writable(RX_PADDR + i as u64 * 2048, 2048), "the buffer's I/O address, whole");
    }
    let headers: std::collections::BTreeSet<u64> = chains.iter().map(|c| c.bufs[0].addr).collect();
    assert_eq!(headers.len(), 4, "a header slot per chain");

    let frame: Vec<u8> = (0..60u8).collect();
    r.receive(&chains[2], 12, &frame);
    assert!(r.h.interrupt(RX), "armed for the next frame");
    assert_eq!(r.told(), (true, false), "the rx peer, on its own channel");
    let got = r.rx_delivered();
    assert_eq!(got, [NetBuffer { io_or_offset: RX_PADDR + 2 * 2048, len: 60, oid: 5 }]);
    let mut bytes = vec![0u8; 60];
    r.rx_data.copy_out(2 * 2048, &mut bytes).unwrap();
    assert_eq!(bytes, frame, "the frame starts at the buffer's first byte");
    assert_eq!((r.stats().rx_frames, r.stats().rx_bytes), (1, 60));

    // The buffer goes back to the device when the peer frees it again.
    r.client.rx_free.enqueue(got[0]).unwrap();
    r.rx_peer_notifies();
    let again = r.chains(RX);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].bufs[1].addr, RX_PADDR + 2 * 2048);
}

#[test]
fn sent_frames_carry_a_zero_header_and_come_back() {
    let mut r = Rig::modern();
    r.send(0, 60, 1);
    r.send(2048, 1514, 2);
    r.tx_peer_notifies();
    assert_eq!((r.kicks(TX), r.kicks(RX)), (1, 0));
    let chains = r.chains(TX);
    assert_eq!(chains.len(), 2);
    for (c, (offset, len)) in chains.iter().zip([(0u64, 60u32), (2048, 1514)]) {
        assert!(!c.bufs[0].writable && c.bufs[0].len == 12);
        let mut hdr = [0xffu8; 12];
        r.h.device.read(c.bufs[0].addr, &mut hdr);
        assert_eq!(hdr, [0; 12], "no offloads: an all-zero header");
        assert_eq!(c.bufs[1], Buffer::readable(TX_PADDR + offset, len));
    }
    assert_eq!((r.stats().tx_frames, r.stats().tx_bytes), (2, 60 + 1514));
    r.h.device.push_used(TX, chains[0].head as u32, 0);
    r.h.device.push_used(TX, chains[1].head as u32, 0);
    assert!(!r.h.interrupt(TX), "2 of the client's 1024 buffers out: sent frames raise no interrupt");
    assert_eq!(r.told(), (false, false));
    // They come back at the driver's next event: the tx peer's next
    // notification here (a received frame would do as well).
    r.tx_peer_notifies();
    assert_eq!(r.told(), (false, true), "the tx peer, on its own channel");
    let back = r.tx_returned();
    assert_eq!(
        back,
        [
            NetBuffer { io_or_offset: TX_PADDR, len: 60, oid: 7 },
            NetBuffer { io_or_offset: TX_PADDR + 2048, len: 1514, oid: 7 }
        ]
    );
}

#[test]
fn bad_buffers_never_reach_the_device() {
    let mut r = Rig::modern();
    let end = RX_PADDR + DATA_SIZE as u64;
    // rx: one good; an offset (sevio's old naming: no I/O address here);
    // past the region's end; straddling it; below it; one huge.
    for io_addr in [RX_PADDR, 2048, end, end - 2047, RX_PADDR - 2048, u64::MAX - 10] {
        r.client.rx_free.enqueue(NetBuffer { io_or_offset: io_addr, len: 0, oid: 1 }).unwrap();
    }
    // tx: too short, too long, outside, overflowing, an offset, and one good.
    r.send(0, 13, 0);
    r.send(0, 2049, 0);
    r.send(DATA_SIZE as u64 - 59, 60, 0);
    r.send_at(u64::MAX - 20, 60, 0);
    r.send_at(4096, 64, 0);
    r.send(4096, 64, 9);
    r.tx_peer_notifies();
    let rx = r.chains(RX);
    let tx = r.chains(TX);
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].bufs[1].addr, RX_PADDR);
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].bufs[1], Buffer::readable(TX_PADDR + 4096, 64));
    assert_eq!((r.stats().rx_bad_buffers, r.stats().tx_bad_frames), (5, 5));
    assert_eq!(r.told(), (false, true), "refused frames come back at once");
    let back = r.tx_returned();
    assert_eq!(back.len(), 5);
    assert!(back.iter().all(|b| b.len == 0), "refused: len 0");
    assert_eq!(back[2].io_or_offset, TX_PADDR + DATA_SIZE as u64 - 59);
    assert_eq!(r.h.status(), DriverStatus::Ready, "a bad buffer does not stop the driver");
}

#[test]
fn short_completions_are_reposted_not_delivered() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    r.rx_peer_notifies();
    let chains = r.chains(RX);
    r.h.device.push_used(RX, chains[0].head as u32, 12); // header only
    r.h.device.push_used(RX, chains[1].head as u32, 5); // less than a header
    r.h.device.raise_interrupt();
    assert!(r.h.deliver_interrupt());
    assert!(r.rx_delivered().is_empty());
    assert_eq!(r.told(), (false, false));
    assert_eq!(r.stats().rx_errors, 2);
    assert_eq!(r.chains(RX).len(), 2, "both buffers posted again");
    assert_eq!(r.h.status(), DriverStatus::Ready);
}

#[test]
fn a_device_breaking_the_ring_is_reset_and_its_buffers_taken_back() {
    let mut r = Rig::modern();
    r.offer_rx(0..3);
    r.send(0, 60, 0);
    r.tx_peer_notifies();
    let rx = r.chains(RX);
    let _tx = r.chains(TX);
    let resets = r.h.device.state().resets;
    r.h.device.push_used(RX, rx[0].head as u32, 12 + 2048 + 1); // longer than posted
    assert!(r.h.interrupt(RX));
    assert!(matches!(
        r.h.last_error(),
        Some(DriverError::Queue(Error::Device(DeviceFault::UsedLenTooLarge { len: 2061, .. })))
    ));
    assert_eq!(r.h.status(), DriverStatus::Failed);
    assert_eq!(r.h.device.state().resets, resets + 1, "reset through the transport");
    assert!(!r.h.device.live());
    assert_eq!(r.told(), (false, true));
    let back = r.tx_returned();
    assert_eq!(back, [NetBuffer { io_or_offset: TX_PADDR, len: 0, oid: 7 }], "the frame in flight comes back");
    assert_eq!(r.h.driver().stashed(), 3, "rx buffers kept for the next device");
    assert!(r.rx_delivered().is_empty());

    // A new binding: the kept buffers are posted first.
    r.h.unbind();
    r.h.bind();
    assert_eq!(r.h.status(), DriverStatus::Ready);
    let mut addrs: Vec<u64> = r.chains(RX).iter().map(|c| c.bufs[1].addr).collect();
    addrs.sort();
    assert_eq!(addrs, [RX_PADDR, RX_PADDR + 2048, RX_PADDR + 4096]);
    assert_eq!(r.h.driver().stashed(), 0);
}

#[test]
fn unbind_keeps_rx_buffers_and_returns_tx_frames() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    r.send(0, 100, 0);
    r.send(2048, 100, 0);
    r.rx_peer_notifies();
    assert_eq!(r.told(), (false, false));
    r.h.unbind();
    assert_eq!(r.told(), (false, true), "the tx peer hears of its frames at once");
    assert_eq!(r.tx_returned().len(), 2);
    assert!(r.tx_returned().is_empty());
    assert_eq!(r.h.driver().stashed(), 2);
    assert_eq!(r.h.status(), DriverStatus::Unbound);
    // While unbound nothing moves: frames queued now wait for a device.
    r.send(4096, 100, 0);
    r.tx_peer_notifies();
    assert_eq!(r.told(), (false, false));
    assert!(r.tx_returned().is_empty());
    r.h.bind();
    assert_eq!(r.chains(TX).len(), 1, "the waiting frame is sent once a device is up");
    assert_eq!(r.chains(RX).len(), 2);
}

#[test]
fn kicks_only_when_the_device_asks() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    r.rx_peer_notifies();
    assert_eq!(r.kicks(RX), 1);
    // The device has not looked yet (avail_event still 0): more buffers
    // need no second kick.
    r.offer_rx(2..4);
    r.rx_peer_notifies();
    assert_eq!(r.kicks(RX), 1);
    assert_eq!(r.chains(RX).len(), 4, "the device finds all four, then asks for the next kick");
    r.offer_rx(4..5);
    r.rx_peer_notifies();
    assert_eq!(r.kicks(RX), 2);
    assert_eq!(r.kicks(TX), 0);
}

#[test]
fn the_client_is_notified_only_when_it_asked() {
    let mut r = Rig::modern();
    r.offer_rx(0..4);
    r.rx_peer_notifies();
    let chains = r.chains(RX);
    r.receive(&chains[0], 12, &[1; 20]);
    assert!(r.h.interrupt(RX));
    assert_eq!(r.told(), (true, false));
    // The peer has not gone to sleep (flag still set): no notification.
    r.receive(&chains[1], 12, &[2; 20]);
    assert!(r.h.interrupt(RX));
    assert_eq!(r.told(), (false, false));
    assert_eq!(r.rx_delivered().len(), 2);
    // It asks again (drained, clears the flag): the next frame notifies.
    assert_eq!(r.client.rx_active.request_signal(), Ok(false));
    r.receive(&chains[2], 12, &[3; 20]);
    assert!(r.h.interrupt(RX));
    assert_eq!(r.told(), (true, false));
    assert_eq!(r.stats().client_notifications, 2);
}

#[test]
fn the_driver_asks_for_client_signals_only_with_room() {
    // Device queues of 8: easy to fill.
    let mut r = Rig::ready(2, 8);
    let flag = |m: &SharedMemory| m.load_u32(4, core::sync::atomic::Ordering::SeqCst).unwrap();
    assert_eq!(flag(&r.queue_mem[0]), 0, "rx free: room in the rx queue, signal wanted");
    assert_eq!(flag(&r.queue_mem[3]), 0, "tx active: signal wanted");
    for i in 0..10 {
        r.send((i % 16) * 2048, 60, 0);
    }
    r.offer_rx(0..10);
    r.rx_peer_notifies();
    let tx = r.chains(TX);
    assert_eq!((tx.len(), r.chains(RX).len()), (8, 8), "queues full, the rest waits");
    assert_eq!(flag(&r.queue_mem[3]), 1, "tx active: no signals while the tx queue is full");
    assert_eq!(flag(&r.queue_mem[0]), 1, "rx free: likewise");
    // Completions make room: the waiting frames go out, and signals are
    // wanted again.
    for c in &tx {
        r.h.device.push_used(TX, c.head as u32, 0);
    }
    assert!(r.h.interrupt(TX));
    assert_eq!(r.tx_returned().len(), 8);
    assert_eq!(r.chains(TX).len(), 2);
    assert_eq!(flag(&r.queue_mem[3]), 0);
}

#[test]
fn link_changes_are_reread_on_a_config_interrupt_only() {
    let mut r = Rig::modern();
    let link = |r: &mut Rig| r.h.driver().facts().map(|f| f.link);
    assert_eq!(link(&mut r), Some(Link::Up));
    {
        let mut s = r.h.device.state();
        s.config[6] = 0;
        s.generation += 1;
    }
    r.h.device.raise_interrupt();
    assert!(r.h.deliver_interrupt());
    assert_eq!(link(&mut r), Some(Link::Up), "a used-buffer interrupt does not reread the config");
    r.h.device.state().interrupt_status |= INT_CONFIG_CHANGE;
    assert!(r.h.deliver_interrupt());
    assert_eq!(link(&mut r), Some(Link::Down));
    r.transport_notifies();
    assert_eq!(r.stats().interrupts, 2, "a notification without causes is no interrupt");
    r.h.unbind();
    assert_eq!(link(&mut r), None, "no device, no facts");
}

#[test]
fn legacy_devices_get_a_ten_byte_header() {
    let mut r = Rig::ready(1, 256);
    assert_eq!(r.h.device.state().features.unwrap() & (1 << 32), 0, "no VERSION_1");
    r.offer_rx(0..1);
    r.send(0, 42, 3);
    r.tx_peer_notifies();
    let rx = r.chains(RX);
    assert_eq!(rx[0].bufs[0].len, 10);
    let tx = r.chains(TX);
    assert_eq!(tx[0].bufs[0], Buffer::readable(tx[0].bufs[0].addr, 10));
    r.receive(&rx[0], 10, &[7; 42]);
    assert!(r.h.interrupt(RX));
    assert_eq!(r.rx_delivered(), [NetBuffer { io_or_offset: RX_PADDR, len: 42, oid: 5 }]);
}

#[test]
fn a_peer_with_an_impossible_index_is_no_longer_served() {
    let mut r = Rig::modern();
    r.send(0, 60, 0);
    // The tx peer claims 2000 entries in a 1024-entry queue.
    r.queue_mem[3].store_u16(0, 2000, core::sync::atomic::Ordering::Release).unwrap();
    r.tx_peer_notifies();
    assert!(matches!(r.h.last_error(), Some(DriverError::Client(QueueError::PeerIndex { .. }))));
    assert_eq!(r.h.status(), DriverStatus::Failed);
    assert!(r.chains(TX).is_empty(), "nothing sent");
    r.offer_rx(0..2);
    r.rx_peer_notifies();
    assert!(r.chains(RX).is_empty(), "and nothing from now on");
    assert_eq!(r.told(), (false, false));
    assert!(r.h.device.live(), "the device stays up");
}

#[test]
fn a_full_rx_active_queue_drops_the_frame_and_keeps_the_buffer() {
    // rx queues of 128, a device queue of 256: more buffers in flight
    // than rx active holds.
    let cap = 128u64;
    let mut r = Rig::with_capacities(nic(2, 256), cap as u16, TX_CAP);
    r.h.bind();
    r.offer_rx((0..cap).map(|i| i % 16));
    r.rx_peer_notifies();
    r.offer_rx((0..cap).map(|i| i % 16));
    r.rx_peer_notifies();
    let chains = r.chains(RX);
    assert_eq!(chains.len(), VQ_SIZE);
    for c in &chains {
        r.receive(c, 12, &[0xaa; 64]);
    }
    assert!(r.h.interrupt(RX));
    assert_eq!(r.stats().rx_frames, cap, "rx active holds its whole capacity, as sDDF's does");
    assert_eq!(r.stats().rx_overruns, VQ_SIZE as u64 - cap);
    assert_eq!(r.chains(RX).len(), VQ_SIZE - cap as usize, "the dropped frames' buffers are posted again");
    assert_eq!(r.h.driver().stashed(), 0);
}

#[test]
fn a_device_without_a_transmit_queue_fails_at_bring_up() {
    let device = nic(2, 256);
    device.state().queue_max[1] = 0;
    let mut r = Rig::new(device);
    r.send(0, 60, 0);
    r.h.bind();
    assert_eq!(r.h.status(), DriverStatus::Failed);
    assert!(matches!(r.h.last_error(), Some(DriverError::Init(_))));
    assert_eq!(r.h.driver().facts(), None, "probe never ran, or its device was removed");
    assert!(r.tx_returned().is_empty(), "the frame waits for a device that works");
}

#[test]
fn a_device_refusing_driver_ok_is_removed_after_probe() {
    let device = nic(2, 256);
    device.state().fail_driver_ok = true;
    let mut r = Rig::new(device);
    r.h.bind();
    assert_eq!(r.h.status(), DriverStatus::Failed);
    assert_eq!(r.h.driver().facts(), None, "probed, then removed");
    assert!(r.h.device.state().notifies.is_empty(), "never kicked");
}

#[test]
fn the_rx_peer_may_hand_over_every_buffer_at_once() {
    // sDDF's rx virtualiser fills the driver's free queue (512) at init;
    // the device queue takes 256, the rest wait in the free queue.
    let mut r = Rig::modern();
    for i in 0..u64::from(RX_CAP) {
        let io_addr = if i < 16 { RX_PADDR + i * 2048 } else { TX_PADDR + (i % 16) * 2048 };
        r.client.rx_free.stage(NetBuffer { io_or_offset: io_addr, len: 0, oid: 0 }).unwrap();
    }
    assert_eq!(r.client.rx_free.free(), Ok(0), "full: tail - head == capacity");
    assert!(r.client.rx_free.require_signal().unwrap(), "the driver asked to hear of free buffers");
    r.rx_peer_notifies();
    assert_eq!(r.chains(RX).len(), VQ_SIZE, "as many as the device queue holds");
    assert_eq!(r.stats().rx_bad_buffers, 0, "both data regions are the driver's");
    assert_eq!(r.h.status(), DriverStatus::Ready);
}

/// With half of the client's transmit buffers in flight the client may
/// be waiting for them: all sent, one interrupt brings them back.
#[test]
fn sent_frames_interrupt_once_half_the_clients_buffers_are_out() {
    let mut r = Rig::with_capacities(nic(2, 256), RX_CAP, 4);
    r.h.bind();
    r.send(0, 60, 1);
    r.send(2048, 60, 2);
    r.tx_peer_notifies();
    let chains = r.chains(TX);
    assert_eq!(chains.len(), 2);
    r.h.device.push_used(TX, chains[0].head as u32, 0);
    assert!(!r.h.interrupt(TX), "one of two sent: no interrupt yet");
    r.h.device.push_used(TX, chains[1].head as u32, 0);
    assert!(r.h.interrupt(TX), "all sent: one interrupt");
    assert_eq!(r.told(), (false, true));
    assert_eq!(r.tx_returned().len(), 2);
}

#[test]
fn either_peer_is_heard_and_each_told_only_of_its_own() {
    let mut r = Rig::modern();
    r.offer_rx(0..2);
    r.send(0, 60, 1);
    // One notification from the rx peer serves both queues that have work
    // (the pump looks at all four); a kick each.
    r.rx_peer_notifies();
    let mut tx = r.chains(TX);
    assert_eq!((r.chains(RX).len(), tx.len()), (2, 1));
    r.send(2048, 60, 2);
    r.tx_peer_notifies();
    tx.extend(r.chains(TX));
    assert_eq!(tx.len(), 2);
    for c in &tx {
        r.h.device.push_used(TX, c.head as u32, 0);
    }
    // Sent frames raise no interrupt of their own (2 of 1024 buffers out):
    // they come back with the next event, here a received frame.
    r.h.device.push_used(RX, 0, 12 + 60);
    assert!(r.h.interrupt(RX));
    assert_eq!(r.told(), (true, true), "a frame for the rx peer, sent buffers for the tx peer");
    // A notification on a channel that is neither peer's moves nothing.
    r.send(4096, 60, 3);
    r.h.pd.notified(ChannelSet::from_badge(1 << 7));
    assert!(r.chains(TX).is_empty());
}
