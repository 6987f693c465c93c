//! A test rig: the console driver PD, the real transport core and a mock
//! virtio-console (`sevio_driver_core::harness`), playing a byte stream
//! in each direction, and the client's ends of the two serial queues,
//! all over host memory.
#![allow(dead_code)]

use sevio_driver_console::{ConsoleConfig, ConsoleDriver, SerialLink};
use sevio_driver_core::harness::{Harness, Memory};
use sevio_queue::serial::PRODUCER_SIGNALLED_OFFSET;
use sevio_queue::{SerialConsumer, SerialProducer};
use sevio_runtime::{Channel, ChannelSet};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::MockDevice;
use std::sync::atomic::Ordering::Relaxed;

pub const F_MULTIPORT: u64 = 1 << 1;
pub const F_EMERG_WRITE: u64 = 1 << 2;
pub const F_EVENT_IDX: u64 = 1 << 29;
pub const F_VERSION_1: u64 = 1 << 32;
/// What QEMU's modern virtio-serial offers, roughly.
pub const QEMU_LIKE: u64 = F_MULTIPORT | F_EMERG_WRITE | F_EVENT_IDX | F_VERSION_1;

pub const RECEIVEQ: u16 = 0;
pub const TRANSMITQ: u16 = 1;

/// The rx and tx peers' channels (as an sDDF config would name them).
pub const RX: Channel = Channel::new(4);
pub const TX: Channel = Channel::new(5);

/// A virtio-console device (4 queues: port 0 and the control pair).
pub fn device(version: u32, offered: u64) -> MockDevice {
    MockDevice::new(3, version, offered, 4, 128)
}

pub struct Rig {
    pub h: Harness<ConsoleDriver>,
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

/// A serial queue (header page `queue`, characters `data`) of
/// `capacity` characters, its peer on `channel`.
fn serial(mem: &mut Memory, [queue, data]: [&'static str; 2], capacity: usize, channel: Channel) -> SerialLink {
    SerialLink { queue: mem.region(queue, 4096, 0), data: mem.region(data, capacity, 0), channel }
}

impl Rig {
    /// Everything set up, the device not bound yet; client queues of
    /// `rx_cap` and `tx_cap` characters.
    pub fn with_queues(dev: MockDevice, rx_cap: usize, tx_cap: usize) -> Rig {
        let h = Harness::<ConsoleDriver>::new("console", dev, |mem| ConsoleConfig {
            rx: Some(serial(mem, ["rx.queue", "rx.data"], rx_cap, RX)),
            tx: serial(mem, ["tx.queue", "tx.data"], tx_cap, TX),
        });
        let (rx, tx) = (h.vars.rx.expect("wired"), h.vars.tx);
        let (rx_header, tx_header) = (h.memory(rx.queue), h.memory(tx.queue));
        Rig {
            rx: SerialConsumer::new(rx_header, h.memory(rx.data), rx_cap as u32).unwrap(),
            tx: SerialProducer::new(tx_header, h.memory(tx.data), tx_cap as u32).unwrap(),
            h,
            rx_header,
            tx_header,
            output: Vec::new(),
            interrupts: 0,
        }
    }

    pub fn new(dev: MockDevice) -> Rig {
        Rig::with_queues(dev, 4096, 4096)
    }

    /// Bound and up, on a QEMU-like modern device.
    pub fn ready() -> Rig {
        let mut rig = Rig::new(device(2, QEMU_LIKE));
        rig.h.bind();
        rig
    }

    /// The device takes up to `data.len()` bytes of input into the RX
    /// buffers it holds (each filled as far as it goes, like QEMU);
    /// returns how many it took.
    pub fn device_input(&mut self, data: &[u8]) -> usize {
        let dev = &self.h.device;
        let mut at = 0;
        while at < data.len() {
            let Some(chain) = dev.pop_avail(RECEIVEQ) else { break };
            assert_eq!(chain.bufs.len(), 1, "one buffer per RX chain");
            let buf = chain.bufs[0];
            assert!(buf.writable, "RX buffers are device-writable");
            let n = (buf.len as usize).min(data.len() - at);
            dev.write(buf.addr, &data[at..at + n]);
            dev.push_used(RECEIVEQ, chain.head as u32, n as u32);
            at += n;
        }
        at
    }

    /// The device sends out everything on the transmitq.
    pub fn device_output(&mut self) -> usize {
        let mut n = 0;
        while let Some(chain) = self.h.device.pop_avail(TRANSMITQ) {
            for buf in &chain.bufs {
                assert!(!buf.writable, "TX buffers are device-readable");
                let mut bytes = vec![0u8; buf.len as usize];
                self.h.device.read(buf.addr, &mut bytes);
                self.output.extend_from_slice(&bytes);
                n += bytes.len();
            }
            self.h.device.push_used(TRANSMITQ, chain.head as u32, 0);
        }
        n
    }

    /// Deliver an interrupt, through the transport, if the device would
    /// raise one now (for what it published on either queue since it
    /// last decided).
    pub fn maybe_interrupt(&mut self) -> bool {
        if !self.h.device.live() {
            return false;
        }
        let rx = self.h.device.interrupt_if_due(RECEIVEQ);
        let tx = self.h.device.interrupt_if_due(TRANSMITQ);
        let delivered = (rx || tx) && self.h.deliver_interrupt();
        self.interrupts += usize::from(delivered);
        delivered
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
            self.h.peer_notifies(RX);
        }
        out
    }

    /// The client writes as much of `data` as fits and notifies.
    pub fn client_write(&mut self, data: &[u8]) -> usize {
        let n = self.tx.write(data).unwrap();
        self.h.peer_notifies(TX);
        n
    }

    /// The channels the driver notified since the last look.
    pub fn notified(&mut self) -> ChannelSet {
        self.h.take_notifications()
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
        let next = self.h.device.state().queues[q as usize].expect("queue set up").next_avail;
        self.h.device.avail_idx(q).wrapping_sub(next)
    }

    /// Notifications the device got for queue `q` so far (doorbell bit,
    /// then the transport's kick).
    pub fn kicks(&self, q: u16) -> usize {
        self.h.device.state().notifies.iter().filter(|k| **k == q).count()
    }
}

/// The set of one channel.
pub fn only(channel: Channel) -> ChannelSet {
    ChannelSet::from_badge(1 << channel.index())
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
