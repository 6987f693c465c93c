//! The device side against the real driver-side split queue: the table
//! published, DRIVER_OK followed, the echo endpoint announced, messages
//! sent back byte for byte, bad ones dropped, entropy deterministic.

use crate::echo::{ECHO_ADDR, VRING_NUM};
use crate::{DriverWindows, TABLE, Vhost};
use sevio_sharedmem::HeapRegion;
use sevio_virtio::device::rpmsg::{BUFFER_SIZE, Header, NS_ADDR, NsAction, NsMessage};
use sevio_virtio::queue::{QueueMemory, SplitQueue, VirtQueue};
use sevio_virtio::rproc::{Direction, Mailbox, Resource, ResourceTable};
use sevio_virtio::{Buffer, Features, SplitLayout};
use std::vec::Vec;

const DMA: u64 = 0x4880_0000;
const DMA_LEN: usize = 0x4_0000;
/// Offsets in the driver's DMA region: rings, then 512-byte buffers.
const RX_RING: usize = 0;
const TX_RING: usize = 0x8000;
const BUFS: usize = 0x10000;

struct Rig {
    table: HeapRegion,
    mailbox: HeapRegion,
    dma: HeapRegion,
    vhost: Vhost<DriverWindows<1>>,
    rx: SplitQueue<VRING_NUM>,
    tx: SplitQueue<VRING_NUM>,
    /// The buffer each rx token holds.
    rx_bufs: [u64; VRING_NUM],
}

fn buf(i: usize) -> u64 {
    DMA + (BUFS + i * BUFFER_SIZE) as u64
}

/// The driver side: rings placed in the table, NS negotiated, DRIVER_OK,
/// every rx buffer posted.
fn rig(ns: bool) -> Rig {
    let (table, mailbox, dma) = (HeapRegion::new(4096), HeapRegion::new(4096), HeapRegion::new(DMA_LEN));
    let windows = DriverWindows([(DMA, dma.memory())]);
    let vhost = Vhost::publish(table.memory(), Mailbox::new(mailbox.memory()).unwrap(), windows).unwrap();
    let t = ResourceTable::open(table.memory()).unwrap();
    let Ok(Resource::Vdev(v)) = t.entry(0) else { panic!() };
    let layout = SplitLayout::legacy(VRING_NUM as u16, 4096).unwrap();
    let queue = |at: usize| {
        let mem = dma.memory().slice(at, layout.total_size()).unwrap();
        SplitQueue::<VRING_NUM>::new(QueueMemory { mem, device_addr: DMA + at as u64 }, layout, Features::EMPTY, None)
            .unwrap()
    };
    let (rx, tx) = (queue(RX_RING), queue(TX_RING));
    t.set_vring_addr(&v, 0, (DMA + RX_RING as u64) as u32).unwrap();
    t.set_vring_addr(&v, 1, (DMA + TX_RING as u64) as u32).unwrap();
    t.set_gfeatures(&v, ns as u32).unwrap();
    t.set_status(&v, 7).unwrap();
    let mut r = Rig { table, mailbox, dma, vhost, rx, tx, rx_bufs: [0; VRING_NUM] };
    for i in 0..VRING_NUM / 2 {
        r.post_rx(buf(i));
    }
    r
}

impl Rig {
    fn post_rx(&mut self, addr: u64) {
        let token = self.rx.add(&[Buffer::writable(addr, BUFFER_SIZE as u32)]).unwrap();
        self.rx_bufs[token.index() as usize] = addr;
    }
    fn mailbox(&self) -> Mailbox {
        Mailbox::new(self.mailbox.memory()).unwrap()
    }
    /// Every message the device put in the rx queue, as (header, payload).
    fn received(&mut self) -> Vec<(Header, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(used) = self.rx.pop_used().unwrap() {
            let mut bytes = std::vec![0u8; used.len as usize];
            let at = self.rx_bufs[used.token.index() as usize] - DMA;
            self.dma.memory().copy_out(at as usize, &mut bytes).unwrap();
            let (h, payload) = Header::parse(&bytes).unwrap();
            out.push((h, payload.to_vec()));
        }
        out
    }
    /// Send `bytes` (a whole message) in tx buffer `slot`.
    fn send_raw(&mut self, slot: usize, bytes: &[u8]) {
        let i = VRING_NUM / 2 + slot;
        self.dma.memory().copy_in(BUFS + i * BUFFER_SIZE, bytes).unwrap();
        self.tx.add(&[Buffer::readable(buf(i), bytes.len() as u32)]).unwrap();
    }
    fn send(&mut self, slot: usize, src: u32, dst: u32, payload: &[u8]) {
        let mut out = [0u8; BUFFER_SIZE];
        let n = Header::emit(src, dst, payload, &mut out).unwrap();
        self.send_raw(slot, &out[..n]);
    }
}

#[test]
fn the_table_is_the_one_described() {
    let r = rig(true);
    let t = ResourceTable::open(r.table.memory()).unwrap();
    let ids: Vec<u32> = t.vdevs(|e| panic!("{e}")).map(|v| v.id).collect();
    assert_eq!(ids, [7, 4]);
    assert_eq!(TABLE[0].dfeatures, 1, "VIRTIO_RPMSG_F_NS offered");
}

#[test]
fn the_echo_endpoint_is_announced_and_echoes_byte_for_byte() {
    let mut r = rig(true);
    assert!(r.vhost.notified(), "the announcement is news for the driver");
    assert!(r.mailbox().take(Direction::ToDriver, 1), "rx queue's doorbell");
    let got = r.received();
    assert_eq!(got.len(), 1);
    let (h, payload) = &got[0];
    assert_eq!((h.src, h.dst), (ECHO_ADDR, NS_ADDR));
    let ns = NsMessage::parse(payload).unwrap();
    assert_eq!((ns.name.as_bytes(), ns.addr, ns.action), (&b"rpmsg-echo"[..], ECHO_ADDR, NsAction::Create));
    let big: Vec<u8> = (0..496u32).map(|i| (i * 7) as u8).collect();
    r.send(0, 1024, ECHO_ADDR, b"ping");
    r.send(1, 1025, ECHO_ADDR, &big);
    r.vhost.notified();
    let got = r.received();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].0.src, got[0].0.dst, &got[0].1[..]), (ECHO_ADDR, 1024, &b"ping"[..]));
    assert_eq!((got[1].0.dst, &got[1].1), (1025, &big));
    assert_eq!(r.tx.pop_used().unwrap().map(|u| u.len), Some(0), "tx buffers come back");
    assert_eq!(r.vhost.echo.stats.echoed, 2);
}

#[test]
fn without_the_name_service_nothing_is_announced() {
    let mut r = rig(false);
    assert!(!r.vhost.notified());
    assert!(r.received().is_empty());
}

#[test]
fn bad_messages_from_the_driver_are_dropped() {
    let mut r = rig(true);
    r.vhost.notified();
    r.received();
    // A length past the buffer, an unknown address, an unterminated name.
    let mut lie = [0u8; 20];
    Header::emit(1024, ECHO_ADDR, b"abcd", &mut lie).unwrap();
    lie[12] = 100;
    r.send_raw(0, &lie);
    r.send(1, 1024, 4242, b"nobody");
    r.send(2, 1024, NS_ADDR, &[b'x'; 40]);
    r.send(3, 1024, ECHO_ADDR, b"still works");
    r.vhost.notified();
    let got = r.received();
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].1[..], b"still works");
    assert_eq!(r.vhost.echo.stats.dropped, 3);
}

#[test]
fn a_burst_larger_than_the_ring_waits_for_rx_buffers() {
    let mut r = rig(true);
    r.vhost.notified();
    r.received();
    let mut echoed = 0;
    let mut sent = 0;
    let mut next_rx = 0;
    while echoed < 100 {
        while sent < 100 && r.tx.free_descriptors() > 0 && sent - echoed < VRING_NUM / 2 {
            r.send(sent % (VRING_NUM / 2), 1024, ECHO_ADDR, &(sent as u32).to_le_bytes());
            sent += 1;
        }
        r.vhost.notified();
        while r.tx.pop_used().unwrap().is_some() {}
        for (_, payload) in r.received() {
            assert_eq!(payload, (echoed as u32).to_le_bytes(), "in order, none lost");
            echoed += 1;
            r.post_rx(buf(next_rx % (VRING_NUM / 2)));
            next_rx += 1;
        }
    }
}

#[test]
fn entropy_is_one_deterministic_stream() {
    let a: Vec<u8> = (0..64).map(crate::rng::stream_byte).collect();
    let b: Vec<u8> = (0..64).map(crate::rng::stream_byte).collect();
    assert_eq!(a, b);
    let distinct = a.iter().collect::<std::collections::BTreeSet<_>>().len();
    assert!(distinct > 40, "not constant: {distinct}");
}
