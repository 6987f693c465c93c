//! A mock virtio device for tests (feature `test-utils`): the device's
//! side of the registers and of the split and packed virtqueues, over
//! host memory. A queue is packed when the driver negotiated
//! VIRTIO_F_RING_PACKED (the transport says so at `setup_queue`); the
//! calls below are the same for both formats.
//!
//! [`MockDevice`] implements [`VirtioDevice`], so a test puts it into the
//! real [`Transport`](crate::Transport) and drives a driver through the
//! very request service, kick and interrupt paths the transport PDs use.
//! The device side is a shared handle: the transport owns one clone, the
//! test keeps another and plays the device's part of each queue
//! ([`MockDevice::pop_avail`], [`MockDevice::push_used`],
//! [`MockDevice::interrupt_if_due`]) and reads what the transport did to
//! it ([`MockState::ops`], one [`DeviceOp`] per operation).
//!
//! Test code: it panics where a driver breaks a rule a test did not
//! expect it to break (a wild device address, a looping chain).

mod memory;

pub use memory::{Chain, MockQueue, PhysMap};
pub use sevio_virtio::queue::RingCursor;

use crate::device::{DeviceError, VirtioDevice};
use sevio_transport_protocol::doorbell::INT_USED_BUFFER;
use sevio_virtio::features::general;
use sevio_virtio::mmio::DeviceStatus;
use sevio_virtio::queue::{RingFormat, RingInterface, RingPlacement};
use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::vec::Vec;

/// Page size and ring alignment of the legacy interface (VIRTIO 1.2
/// §2.7.2 legacy interfaces: the used ring starts on the next page).
const LEGACY_PAGE: u64 = 4096;

/// One operation the transport performed on the device (see
/// [`MockState::ops`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DeviceOp {
    /// `reset`: reset and left reset (the device was unbound).
    Reset,
    /// `reset_and_acknowledge`: the start of a bring-up.
    ResetAndAcknowledge,
    /// `set_driver_features` with these bits.
    SetDriverFeatures(u64),
    /// `setup_queue` of this queue with this ring (taken or refused).
    SetupQueue(u16, RingPlacement),
    /// `driver_ok`.
    DriverOk,
    /// `notify` of this queue.
    Notify(u16),
    /// `take_interrupt`.
    TakeInterrupt,
}

/// What the device is and what it did, open to the test.
#[derive(Clone, Debug)]
pub struct MockState {
    /// VirtIO device id.
    pub device_id: u32,
    /// Vendor id.
    pub vendor_id: u32,
    /// 1: legacy register interface (only the low 32 feature bits, no
    /// FEATURES_OK, page-aligned rings); 2: modern.
    pub version: u32,
    /// Feature bits offered.
    pub offered: u64,
    /// Whether FEATURES_OK sticks (a modern device may refuse a subset).
    pub keep_features_ok: bool,
    /// Whether DRIVER_OK is refused.
    pub fail_driver_ok: bool,
    /// Features the driver wrote since the last reset.
    pub features: Option<u64>,
    /// Device status byte.
    pub status: u8,
    /// Maximum size of each queue (0: no such queue).
    pub queue_max: Vec<u16>,
    /// Each queue, once live.
    pub queues: Vec<Option<MockQueue>>,
    /// Per packed queue, per buffer id: descriptors the chain in flight
    /// under that id occupies (0: not in flight).
    pub packed_in_flight: Vec<Vec<u16>>,
    /// Device config space.
    pub config: Vec<u8>,
    /// Config generation.
    pub generation: u32,
    /// A paged config space (virtio-input's `select`/`subsel`, VIRTIO
    /// 1.2 §5.8.4): after a write to byte 0 or 1, byte 2 and the bytes
    /// from 8 on show the page keyed by (byte 0, byte 1): its first byte
    /// is the size byte, the rest the page's content (as far as `config`
    /// reaches); no such page reads size 0. Empty: a plain config space.
    pub config_pages: Vec<((u8, u8), Vec<u8>)>,
    /// Queue index of every notification, in order.
    pub notifies: Vec<u16>,
    /// Resets so far.
    pub resets: usize,
    /// Interrupt causes not yet taken by the transport.
    pub interrupt_status: u32,
    /// Device-visible memory.
    pub memory: PhysMap,
    /// Every operation that changes the device or takes its interrupt, in
    /// order (reads of features, sizes, config and status are not kept).
    pub ops: Vec<DeviceOp>,
}

/// A shared handle on one mock device.
#[derive(Clone, Debug)]
pub struct MockDevice(Rc<RefCell<MockState>>);

/// Put the page `config[0..2]` selects into `config` (see
/// [`MockState::config_pages`]).
fn show_page(s: &mut MockState) {
    let key = (s.config.first().copied().unwrap_or(0), s.config.get(1).copied().unwrap_or(0));
    let page = s.config_pages.iter().find(|(k, _)| *k == key).map(|(_, p)| p.clone()).unwrap_or_default();
    if let Some(size) = s.config.get_mut(2) {
        *size = page.first().copied().unwrap_or(0);
    }
    let union = s.config.get_mut(8..).unwrap_or_default();
    union.fill(0);
    for (dst, src) in union.iter_mut().zip(page.iter().skip(1)) {
        *dst = *src;
    }
}

impl MockDevice {
    /// Device `device_id` with interface `version` (1 legacy, 2 modern),
    /// offering `offered`, with `queues` queues of maximum size
    /// `queue_max`.
    pub fn new(device_id: u32, version: u32, offered: u64, queues: usize, queue_max: u16) -> Self {
        MockDevice(Rc::new(RefCell::new(MockState {
            device_id,
            vendor_id: 0x554d4551,
            version,
            offered,
            keep_features_ok: true,
            fail_driver_ok: false,
            features: None,
            status: 0,
            queue_max: std::vec![queue_max; queues],
            queues: std::vec![None; queues],
            packed_in_flight: std::vec![Vec::new(); queues],
            config: Vec::new(),
            generation: 0,
            config_pages: Vec::new(),
            notifies: Vec::new(),
            resets: 0,
            interrupt_status: 0,
            memory: PhysMap::default(),
            ops: Vec::new(),
        })))
    }

    /// The device's state, borrowed (not across a call into the driver).
    pub fn state(&self) -> RefMut<'_, MockState> {
        self.0.borrow_mut()
    }

    /// Back device addresses `paddr..paddr + mem.len()` with `mem`.
    pub fn map(&self, paddr: u64, mem: sevio_sharedmem::SharedMemory) {
        self.state().memory.add(paddr, mem);
    }

    /// Whether the driver negotiated `bit`.
    pub fn negotiated(&self, bit: sevio_virtio::FeatureBit) -> bool {
        self.state().features.is_some_and(|f| f & bit.mask() != 0)
    }

    /// Whether DRIVER_OK is set.
    pub fn live(&self) -> bool {
        self.state().status & DeviceStatus::DRIVER_OK.0 != 0
    }

    /// The driver's `avail.idx` of queue `q`: chains made available so
    /// far, wrapping (a packed queue counts them the same way). Panics if
    /// it is not live.
    pub fn avail_idx(&self, q: u16) -> u16 {
        let s = self.state();
        let queue = s.live_queue(q);
        queue.avail_count(&s.memory)
    }

    /// Whether queue `q` is packed. Panics if it is not live.
    pub fn packed(&self, q: u16) -> bool {
        self.state().live_queue(q).packed
    }

    /// The next chain the driver made available on queue `q`. Panics if
    /// the queue is not live.
    pub fn pop_avail(&self, q: u16) -> Option<Chain> {
        let event_idx = self.negotiated(general::EVENT_IDX);
        let mut s = self.state();
        let mut queue = *s.live_queue(q);
        let MockState { memory, packed_in_flight, .. } = &mut *s;
        let chain = queue.pop_avail(memory, event_idx, &mut packed_in_flight[q as usize]);
        *s.live_queue_mut(q) = queue;
        chain
    }

    /// Write `data` at device address `addr` (e.g. into a buffer of a
    /// chain just popped).
    pub fn write(&self, addr: u64, data: &[u8]) {
        self.state().memory.write(addr, data);
    }

    /// Read `out.len()` bytes at device address `addr`.
    pub fn read(&self, addr: u64, out: &mut [u8]) {
        self.state().memory.read(addr, out);
    }

    /// Publish `(id, len)` in queue `q`'s used ring.
    pub fn push_used(&self, q: u16, id: u32, len: u32) {
        let mut s = self.state();
        let mut queue = *s.live_queue(q);
        let MockState { memory, packed_in_flight, .. } = &mut *s;
        queue.push_used(memory, id, len, &mut packed_in_flight[q as usize]);
        *s.live_queue_mut(q) = queue;
    }

    /// Raise a used-buffer interrupt whether or not the driver asked for
    /// one (the driver must cope: VIRTIO 1.2 §2.7.7.2 only says the
    /// device SHOULD NOT send it).
    pub fn raise_interrupt(&self) {
        self.state().interrupt_status |= INT_USED_BUFFER;
    }

    /// Raise a used-buffer interrupt if the used elements published on
    /// `q` since the last decision call for one (VIRTIO 1.2 §2.7.7.2:
    /// `used_event` with EVENT_IDX, else the NO_INTERRUPT flag; packed,
    /// §2.8.10: the driver event suppression structure). The
    /// transport takes it with `take_interrupt`.
    pub fn interrupt_if_due(&self, q: u16) -> bool {
        let event_idx = self.negotiated(general::EVENT_IDX);
        let mut s = self.state();
        let mut queue = *s.live_queue(q);
        let due = queue.interrupt_due(&s.memory, event_idx);
        *s.live_queue_mut(q) = queue;
        if due {
            s.interrupt_status |= INT_USED_BUFFER;
        }
        due
    }
}

impl MockState {
    fn legacy(&self) -> bool {
        self.version == 1
    }

    fn live_queue(&self, q: u16) -> &MockQueue {
        match self.queues.get(q as usize) {
            Some(Some(queue)) if queue.ready => queue,
            _ => panic!("queue {q} is not live"),
        }
    }

    fn live_queue_mut(&mut self, q: u16) -> &mut MockQueue {
        match self.queues.get_mut(q as usize) {
            Some(Some(queue)) if queue.ready => queue,
            _ => panic!("queue {q} is not live"),
        }
    }

    fn reset(&mut self) {
        self.resets += 1;
        self.status = 0;
        self.features = None;
        self.interrupt_status = 0;
        self.queues.iter_mut().for_each(|q| *q = None);
        self.packed_in_flight.iter_mut().for_each(Vec::clear);
    }

    /// The checks a device makes before it takes a queue: the placement
    /// rules every transport applies (`RingPlacement::check_format`, the
    /// one home of VIRTIO 1.2 §2.7's and §2.8's geometry), and that the
    /// queue is not live.
    fn check_queue(&self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError> {
        let max = *self.queue_max.get(index as usize).ok_or(DeviceError::NoSuchQueue)?;
        if matches!(self.queues.get(index as usize), Some(Some(_))) {
            return Err(DeviceError::QueueInUse);
        }
        let interface =
            if self.legacy() { RingInterface::Legacy { queue_align: LEGACY_PAGE } } else { RingInterface::Modern };
        Ok(ring.check_format(format, max, interface)?)
    }
}

impl VirtioDevice for MockDevice {
    fn device_id(&self) -> u32 {
        self.0.borrow().device_id
    }
    fn vendor_id(&self) -> u32 {
        self.0.borrow().vendor_id
    }
    fn version(&self) -> u32 {
        self.0.borrow().version
    }
    fn reset(&mut self) {
        let mut s = self.state();
        s.ops.push(DeviceOp::Reset);
        s.reset();
    }
    fn reset_and_acknowledge(&mut self) {
        let mut s = self.state();
        s.ops.push(DeviceOp::ResetAndAcknowledge);
        s.reset();
        s.status = DeviceStatus::ACKNOWLEDGE.0 | DeviceStatus::DRIVER.0;
    }
    fn device_features(&mut self) -> u64 {
        let s = self.state();
        if s.legacy() { s.offered & 0xffff_ffff } else { s.offered }
    }
    fn set_driver_features(&mut self, wanted: u64) -> bool {
        let mut s = self.state();
        s.ops.push(DeviceOp::SetDriverFeatures(wanted));
        s.features = Some(wanted & s.offered);
        if s.legacy() {
            return true;
        }
        if s.keep_features_ok {
            s.status |= DeviceStatus::FEATURES_OK.0;
        }
        s.keep_features_ok
    }
    fn queue_max(&mut self, index: u16) -> u16 {
        self.state().queue_max.get(index as usize).copied().unwrap_or(0)
    }
    fn setup_queue(&mut self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError> {
        let mut s = self.state();
        s.ops.push(DeviceOp::SetupQueue(index, ring));
        s.check_queue(index, ring, format)?;
        let mut queue = match format {
            RingFormat::Split => MockQueue::new(ring.size, ring.desc, ring.avail, ring.used),
            RingFormat::Packed => MockQueue::new_packed(ring.size, ring.desc, ring.avail, ring.used),
        };
        queue.ready = true;
        s.queues[index as usize] = Some(queue);
        s.packed_in_flight[index as usize] = std::vec![0; ring.size as usize];
        Ok(())
    }
    fn config_read(&mut self, offset: usize, width: usize) -> Result<(u64, u32), DeviceError> {
        let s = self.state();
        let bytes = offset.checked_add(width).and_then(|end| s.config.get(offset..end));
        match bytes {
            Some(bytes) if matches!(width, 1 | 2 | 4 | 8) => {
                let mut v = [0u8; 8];
                v[..width].copy_from_slice(bytes);
                Ok((u64::from_le_bytes(v), s.generation))
            }
            _ => Err(DeviceError::BadConfigAccess),
        }
    }
    fn config_write(&mut self, offset: usize, width: usize, value: u64) -> Result<(), DeviceError> {
        let mut s = self.state();
        let bytes = offset.checked_add(width).and_then(|end| s.config.get_mut(offset..end));
        match bytes {
            Some(bytes) if matches!(width, 1 | 2 | 4 | 8) => {
                bytes.copy_from_slice(&value.to_le_bytes()[..width]);
                if offset < 2 && !s.config_pages.is_empty() {
                    show_page(&mut s);
                }
                Ok(())
            }
            _ => Err(DeviceError::BadConfigAccess),
        }
    }
    fn config_generation(&mut self) -> u32 {
        self.state().generation
    }
    fn driver_ok(&mut self) -> bool {
        let mut s = self.state();
        s.ops.push(DeviceOp::DriverOk);
        if s.fail_driver_ok {
            s.status |= DeviceStatus::FAILED.0;
            return false;
        }
        s.status |= DeviceStatus::DRIVER_OK.0;
        true
    }
    fn status(&mut self) -> u8 {
        self.state().status
    }
    /// Panics before DRIVER_OK: the device is not live until step 8 of
    /// VIRTIO 1.2 §3.1.1, and a driver must not kick it before.
    fn notify(&mut self, index: u16) {
        let mut s = self.state();
        assert!(s.status & DeviceStatus::DRIVER_OK.0 != 0, "queue {index} notified before DRIVER_OK");
        s.notifies.push(index);
        s.ops.push(DeviceOp::Notify(index));
    }
    fn take_interrupt(&mut self) -> u32 {
        let mut s = self.state();
        s.ops.push(DeviceOp::TakeInterrupt);
        core::mem::take(&mut s.interrupt_status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DriverPort, Transport};
    use sevio_sharedmem::HeapRegion;
    use sevio_transport_protocol::{DriverDoorbell, Location, Reply, Request, TransportDoorbell};

    const WINDOW: (u64, u64) = (0x4000_0000, 0x1_0000);

    /// The mock behind the real transport: a queue set up through
    /// requests, a chain made available by hand, used, and the interrupt
    /// delivered to the driver's doorbell.
    #[test]
    fn plays_the_device_behind_the_real_transport() {
        let dma = HeapRegion::new(WINDOW.1 as usize);
        let page = HeapRegion::new(4096);
        let device = MockDevice::new(4, 2, 1 << 32, 1, 8);
        device.map(WINDOW.0, dma.memory());
        let mut t: Transport<MockDevice, 4> = Transport::new();
        assert!(t.insert(1, Location::Mmio { slot: 1 }, device.clone()).is_ok());
        let doorbell = TransportDoorbell::init(page.memory()).unwrap();
        t.attach_driver(0, DriverPort { doorbell, dma_window: WINDOW });
        assert!(t.set_binding(0, Some(Location::Mmio { slot: 1 })));
        assert_eq!(t.handle(0, Request::Reset), Reply::Ok);
        assert_eq!(t.handle(0, Request::DriverFeatures { features: 1 << 32 }), Reply::FeaturesOk(true));
        let (desc, avail, used) = (WINDOW.0, WINDOW.0 + 0x80, WINDOW.0 + 0x100);
        assert_eq!(t.handle(0, Request::QueueSetup { queue: 0, size: 8, desc, avail, used }), Reply::Ok);
        assert_eq!(t.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
        // One descriptor, device-writable, made available by hand.
        let mem = dma.memory();
        mem.write::<u64>(0, WINDOW.0 + 0x1000).unwrap();
        mem.write::<u32>(8, 16).unwrap();
        mem.write::<u16>(12, 2).unwrap();
        mem.write::<u16>(0x84, 0).unwrap();
        mem.write::<u16>(0x82, 1).unwrap();
        let chain = device.pop_avail(0).unwrap();
        assert_eq!((chain.head, chain.bufs.len(), chain.bufs[0].writable), (0, 1, true));
        device.push_used(0, 0, 16);
        assert!(device.interrupt_if_due(0));
        assert_eq!(t.interrupt(1), Some(0));
        assert_eq!(DriverDoorbell::open(page.memory()).unwrap().take_interrupts(), INT_USED_BUFFER);
        assert_eq!(t.handle(0, Request::DriverOk), Reply::Ok);
        assert_eq!(t.handle(0, Request::QueueNotify { queue: 0 }), Reply::Ok);
        assert_eq!(device.state().notifies, [0]);
    }

    #[test]
    fn refuses_queues_the_device_cannot_take() {
        let mut legacy = MockDevice::new(4, 1, 0, 2, 8);
        assert_eq!(
            legacy.setup_queue(2, RingPlacement::new(8, 0, 0x80, 0x1000), RingFormat::Split),
            Err(DeviceError::NoSuchQueue)
        );
        assert_eq!(
            legacy.setup_queue(0, RingPlacement::new(6, 0, 0x60, 0x1000), RingFormat::Split),
            Err(DeviceError::BadQueueSize)
        );
        assert_eq!(
            legacy.setup_queue(0, RingPlacement::new(16, 0, 0x100, 0x1000), RingFormat::Split),
            Err(DeviceError::BadQueueSize)
        );
        assert_eq!(
            legacy.setup_queue(0, RingPlacement::new(8, 0, 0x80, 0x100), RingFormat::Split),
            Err(DeviceError::BadQueueAddress),
            "used not on the next page"
        );
        assert_eq!(legacy.setup_queue(0, RingPlacement::new(8, 0, 0x80, 0x1000), RingFormat::Split), Ok(()));
        assert_eq!(
            legacy.setup_queue(0, RingPlacement::new(8, 0, 0x80, 0x1000), RingFormat::Split),
            Err(DeviceError::QueueInUse)
        );
        legacy.reset();
        let s = legacy.state();
        assert_eq!((s.resets, s.queues[0]), (1, None));
    }
}
