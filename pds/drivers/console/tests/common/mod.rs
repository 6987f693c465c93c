//! A test rig: the driver, a fake transport with a virtio-console device
//! behind it (a byte stream in each direction), and the client's ends of
//! the two serial queues, all over host memory.
#![allow(dead_code)]

use sevio_driver_console::{ConsoleDriver, ConsoleResources, SerialRegions};
use sevio_driver_core::fake::{FakeDevice, FakeTransport};
use sevio_driver_core::{DmaRegion, Driver};
use sevio_queue::serial::PRODUCER_SIGNALLED_OFFSET;
use sevio_queue::{SerialConsumer, SerialProducer};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use sevio_transport_protocol::TransportDoorbell;
use std::sync::atomic::Ordering::Relaxed;

pub const DMA_PADDR: u64 = 0x4100_0000;
pub const DMA_SIZE: usize = 0x1_0000;

pub const F_MULTIPORT: u64 = 1 << 1;
pub const F_EMERG_WRITE: u64 = 1 << 2;
pub const F_EVENT_IDX: u64 = 1 << 29;
pub const F_VERSION_1: u64 = 1 << 32;
/// What QEMU's modern virtio-serial offers, roughly.
pub const QEMU_LIKE: u64 = F_MULTIPORT | F_EMERG_WRITE | F_EVENT_IDX | F_VERSION_1;

pub const RECEIVEQ: u16 = 0;
pub const TRANSMITQ: u16 = 1;

/// A virtio-console device (4 queues: port 0 and the control pair).
pub fn device(version: u32, offered: u64) -> FakeDevice {
    FakeDevice::new(3, version, offered, 4, 128)
}

pub struct Rig {
    _mem: Vec<HeapRegion>,
    pub fake: FakeTransport,
    pub driver: ConsoleDriver<FakeTransport>,
    /// The client's end of rx (it consumes).
    pub rx: SerialConsumer,
    /// The client's end of tx (it produces).
    pub tx: SerialProducer,
    pub rx_header: SharedMemory,
    pub tx_header: SharedMemory,
    /// Bytes the device has sent out, in order.
    pub output: Vec<u8>,
    /// Interrupts delivered to the driver.
    pub interrupts: usize,
}

fn region(mem: &mut Vec<HeapRegion>, len: usize) -> SharedMemory {
    let r = HeapRegion::new(len);
    let m = r.memory();
    mem.push(r);
    m
}

impl Rig {
    /// Everything set up, the device not bound yet; client queues of
    /// `rx_cap` and `tx_cap` characters.
    pub fn with_queues(dev: FakeDevice, rx_cap: usize, tx_cap: usize) -> Rig {
        let mut mem = Vec::new();
        let dma = region(&mut mem, DMA_SIZE);
        let doorbell = region(&mut mem, 4096);
        TransportDoorbell::init(doorbell).unwrap();
        let rx = SerialRegions { queue: region(&mut mem, 4096), data: region(&mut mem, rx_cap) };
        let tx = SerialRegions { queue: region(&mut mem, 4096), data: region(&mut mem, tx_cap) };
        let mut dev = dev;
        dev.memory.add(DMA_PADDR, dma);
        dev.dma_window = Some((DMA_PADDR, DMA_SIZE as u64));
        let fake = FakeTransport::new(dev);
        let res = ConsoleResources { dma: DmaRegion::new(dma, DMA_PADDR).unwrap(), doorbell, rx, tx };
        let driver = ConsoleDriver::new(fake.clone(), res).expect("usable resources");
        Rig {
            _mem: mem,
            fake,
            driver,
            rx: SerialConsumer::new(rx.queue, rx.data, rx_cap as u32).unwrap(),
            tx: SerialProducer::new(tx.queue, tx.data, tx_cap as u32).unwrap(),
            rx_header: rx.queue,
            tx_header: tx.queue,
            output: Vec::new(),
            interrupts: 0,
        }
    }

    pub fn new(dev: FakeDevice) -> Rig {
        Rig::with_queues(dev, 4096, 4096)
    }

    /// Bound and up, on a QEMU-like modern device.
    pub fn ready() -> Rig {
        let mut rig = Rig::new(device(2, QEMU_LIKE));
        rig.driver.bind().expect("bring-up");
        rig
    }

    /// The device takes up to `data.len()` bytes of input into the RX
    /// buffers it holds (each filled as far as it goes, like QEMU);
    /// returns how many it took.
    pub fn device_input(&mut self, data: &[u8]) -> usize {
        let mut at = 0;
        {
            let mut dev = self.fake.device();
            while at < data.len() {
                let Some(chain) = dev.pop_avail(RECEIVEQ) else { break };
                assert_eq!(chain.bufs.len(), 1, "one buffer per RX chain");
                let buf = chain.bufs[0];
                assert!(buf.writable, "RX buffers are device-writable");
                let n = (buf.len as usize).min(data.len() - at);
                dev.memory.write(buf.addr, &data[at..at + n]);
                dev.push_used(RECEIVEQ, chain.head as u32, n as u32);
                at += n;
            }
        }
        at
    }

    /// The device sends out everything on the transmitq.
    pub fn device_output(&mut self) -> usize {
        let mut n = 0;
        let mut dev = self.fake.device();
        while let Some(chain) = dev.pop_avail(TRANSMITQ) {
            for buf in &chain.bufs {
                assert!(!buf.writable, "TX buffers are device-readable");
                let mut bytes = vec![0u8; buf.len as usize];
                dev.memory.read(buf.addr, &mut bytes);
                self.output.extend_from_slice(&bytes);
                n += bytes.len();
            }
            dev.push_used(TRANSMITQ, chain.head as u32, 0);
        }
        n
    }

    /// Deliver an interrupt if the device would raise one now (for what
    /// it published on either queue since it last decided).
    pub fn maybe_interrupt(&mut self) -> bool {
        let due = {
            let mut dev = self.fake.device();
            let rx = dev.interrupt_due(RECEIVEQ);
            let tx = dev.interrupt_due(TRANSMITQ);
            rx || tx
        };
        if due {
            self.interrupts += 1;
            self.driver.interrupt();
        }
        due
    }

    /// The client reads everything in its rx queue and tells the driver
    /// if it asked to be told.
    pub fn client_read(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = self.rx.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        if !out.is_empty() && self.rx.require_signal().unwrap() {
            self.driver.client_notified();
        }
        out
    }

    /// The client writes as much of `data` as fits and notifies.
    pub fn client_write(&mut self, data: &[u8]) -> usize {
        let n = self.tx.write(data).unwrap();
        self.driver.client_notified();
        n
    }

    /// `producer_signalled` of the rx queue (0: the driver waits for a
    /// notification from the client).
    pub fn rx_flag(&self) -> u32 {
        self.rx_header.load_u32(PRODUCER_SIGNALLED_OFFSET, Relaxed).unwrap()
    }

    /// Set or clear `producer_signalled` of the tx queue (the client's
    /// "tell me when you consume").
    pub fn set_tx_flag(&self, v: u32) {
        self.tx_header.store_u32(PRODUCER_SIGNALLED_OFFSET, v, Relaxed).unwrap();
    }

    /// Chains available on queue `q` that the device has not taken.
    pub fn avail_waiting(&self, q: u16) -> u16 {
        let dev = self.fake.device();
        let queue = dev.queues[q as usize].expect("queue set up");
        dev.memory.read_u16(queue.avail + 2).wrapping_sub(queue.next_avail)
    }

    /// QueueNotify kicks for queue `q` so far.
    pub fn kicks(&self, q: u16) -> usize {
        self.fake.device().kicks.iter().filter(|k| **k == q).count()
    }
}

/// `n` bytes of printable text, different at every position modulo 61.
pub fn text(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| b'!' + ((i + seed as usize) % 61) as u8).collect()
}

/// Panics with the first difference (not the whole buffers) unless equal.
pub fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
    panic!("{what}: {} bytes, want {}; first difference at {at}", got.len(), want.len());
}
