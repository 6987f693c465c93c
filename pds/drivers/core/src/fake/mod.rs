//! A fake transport with a fake device behind it, over host memory
//! (feature `test-utils`). Test code: it panics where a real device would
//! misbehave in ways a test did not ask for.
//!
//! To be removed: this is a second implementation of the transport
//! (`transports/core`), kept only until the blk, net and console tests
//! move to [`crate::harness`], which drives the real one. New tests use
//! the harness.
//!
//! [`FakeDevice`] answers every [`Request`] roughly as the mmio transport
//! does for a virtio-mmio device (status bits, feature negotiation,
//! queue setup with the legacy layout check and an optional DMA window,
//! config space with a generation counter), records every request, and
//! can be told to refuse a request kind. Its queues ([`FakeQueue`]) read
//! the driver's rings in a [`PhysMap`], so a test plays the device's
//! part of a virtqueue: [`FakeDevice::pop_avail`], then
//! [`FakeDevice::push_used`] and [`FakeDevice::interrupt_due`].
//! [`FakeTransport`] shares one device between the driver under test
//! (which owns the transport) and the test.

pub use sevio_transport_core::mock::{Chain, MockQueue as FakeQueue, PhysMap};

use crate::transport::Transport;
use sevio_transport_protocol::{DeviceInfo, Location, Reply, Request, TransportError};
use sevio_virtio::features::general;
use sevio_virtio::mmio::DeviceStatus;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;

/// Page size of the legacy interface.
const LEGACY_PAGE: u64 = 4096;

/// A device behind a fake transport.
#[derive(Clone, Debug)]
pub struct FakeDevice {
    /// What `DeviceInfo` answers (version 1 = legacy mmio).
    pub info: DeviceInfo,
    /// Feature bits offered (only the low 32 on a legacy device).
    pub offered: u64,
    /// Whether FEATURES_OK sticks (modern devices).
    pub keep_features_ok: bool,
    /// Whether DRIVER_OK is refused.
    pub fail_driver_ok: bool,
    /// Features the driver wrote, once it did.
    pub features: Option<u64>,
    /// Device status byte.
    pub status: u8,
    /// QueueMaxSize per queue.
    pub queue_max: Vec<u16>,
    /// Each queue's state once set up.
    pub queues: Vec<Option<FakeQueue>>,
    /// Device config space.
    pub config: Vec<u8>,
    /// Config generation.
    pub generation: u32,
    /// Every request, in order.
    pub requests: Vec<Request>,
    /// Queue indices of every QueueNotify.
    pub kicks: Vec<u16>,
    /// Refuse requests with this label (`sevio_transport_protocol::wire::label`).
    pub refuse: Option<(u64, TransportError)>,
    /// The DMA window queue addresses must lie in, if any.
    pub dma_window: Option<(u64, u64)>,
    /// Device-visible memory.
    pub memory: PhysMap,
    /// Interrupts raised by [`interrupt_due`](Self::interrupt_due).
    pub interrupts: u32,
}

impl FakeDevice {
    /// A device `device_id` at mmio slot `slot`, interface `version` (1
    /// legacy, 2 modern), offering `offered`, with `queues` queues of
    /// maximum size `queue_max`.
    pub fn new(device_id: u32, version: u32, offered: u64, queues: usize, queue_max: u16) -> Self {
        FakeDevice {
            info: DeviceInfo { device_id, vendor_id: 0x554d4551, location: Location::Mmio { slot: 31 }, version },
            offered,
            keep_features_ok: true,
            fail_driver_ok: false,
            features: None,
            status: 0,
            queue_max: std::vec![queue_max; queues],
            queues: std::vec![None; queues],
            config: Vec::new(),
            generation: 0,
            requests: Vec::new(),
            kicks: Vec::new(),
            refuse: None,
            dma_window: None,
            memory: PhysMap::default(),
            interrupts: 0,
        }
    }

    /// Whether the device is a legacy one.
    pub fn legacy(&self) -> bool {
        self.info.version == 1
    }

    /// Whether the driver negotiated `bit`.
    pub fn negotiated(&self, bit: sevio_virtio::FeatureBit) -> bool {
        self.features.is_some_and(|f| f & bit.mask() != 0)
    }

    /// Whether DRIVER_OK is set.
    pub fn live(&self) -> bool {
        self.status & DeviceStatus::DRIVER_OK.0 != 0
    }

    /// How many `Reset` requests arrived.
    pub fn resets(&self) -> usize {
        self.requests.iter().filter(|r| **r == Request::Reset).count()
    }

    /// The next chain available on queue `q` (see [`FakeQueue::pop_avail`]).
    /// Panics if the queue is not live.
    pub fn pop_avail(&mut self, q: u16) -> Option<Chain> {
        let event_idx = self.negotiated(general::EVENT_IDX);
        let queue = self.live_queue(q);
        let mut copy = *queue;
        let chain = copy.pop_avail(&self.memory, event_idx);
        *self.live_queue(q) = copy;
        chain
    }

    /// Publish a used element on queue `q`.
    pub fn push_used(&mut self, q: u16, id: u32, len: u32) {
        let mut copy = *self.live_queue(q);
        copy.push_used(&self.memory, id, len);
        *self.live_queue(q) = copy;
    }

    /// Decide whether the used elements published on `q` since the last
    /// decision raise an interrupt; counts it in [`interrupts`](Self::interrupts).
    pub fn interrupt_due(&mut self, q: u16) -> bool {
        let event_idx = self.negotiated(general::EVENT_IDX);
        let mut copy = *self.live_queue(q);
        let due = copy.interrupt_due(&self.memory, event_idx);
        *self.live_queue(q) = copy;
        if due {
            self.interrupts += 1;
        }
        due
    }

    fn live_queue(&mut self, q: u16) -> &mut FakeQueue {
        match self.queues.get_mut(q as usize) {
            Some(Some(queue)) if queue.ready => queue,
            _ => panic!("queue {q} is not live"),
        }
    }

    fn queue_setup(&mut self, queue: u16, size: u16, desc: u64, avail: u64, used: u64) -> Reply {
        if self.features.is_none() {
            return Reply::Error(TransportError::WrongState);
        }
        let max = self.queue_max.get(queue as usize).copied().unwrap_or(0);
        if max == 0 {
            return Reply::Error(TransportError::InvalidQueue);
        }
        if size == 0 || !size.is_power_of_two() || size > max {
            return Reply::Error(TransportError::InvalidQueueSize);
        }
        // The legacy PCI interface's queue size is read-only.
        if self.legacy() && matches!(self.info.location, Location::Pci(_)) && size != max {
            return Reply::Error(TransportError::InvalidQueueSize);
        }
        let n = size as u64;
        if let Some((base, len)) = self.dma_window {
            let inside = |a: u64, l: u64| a >= base && a.checked_add(l).is_some_and(|e| e <= base + len);
            if !(inside(desc, 16 * n) && inside(avail, 6 + 2 * n) && inside(used, 6 + 8 * n)) {
                return Reply::Error(TransportError::InvalidAddress);
            }
        }
        if desc % 16 != 0 || avail % 2 != 0 || used % 4 != 0 {
            return Reply::Error(TransportError::InvalidAddress);
        }
        if self.legacy() {
            let used_expected = (avail + 6 + 2 * n).div_ceil(LEGACY_PAGE) * LEGACY_PAGE;
            if desc % LEGACY_PAGE != 0 || avail != desc + 16 * n || used != used_expected {
                return Reply::Error(TransportError::InvalidAddress);
            }
        }
        match self.queues.get_mut(queue as usize) {
            Some(Some(q)) if q.ready => Reply::Error(TransportError::WrongState),
            Some(slot) => {
                *slot = Some(FakeQueue::new(size, desc, avail, used));
                Reply::Ok
            }
            None => Reply::Error(TransportError::InvalidQueue),
        }
    }

    fn config_read(&self, offset: u32, width: usize) -> Reply {
        let start = offset as usize;
        match self.config.get(start..start + width) {
            Some(bytes) => {
                let mut v = [0u8; 8];
                v[..width].copy_from_slice(bytes);
                Reply::ConfigValue { value: u64::from_le_bytes(v), generation: self.generation }
            }
            None => Reply::Error(TransportError::ConfigOutOfRange),
        }
    }

    /// Serve one request (what the fake transport does on a PPC).
    pub fn handle(&mut self, request: Request) -> Reply {
        self.requests.push(request);
        let label = request.encode(&mut [0u64; sevio_transport_protocol::MAX_WORDS]).0;
        if let Some((_, e)) = self.refuse.filter(|(refused, _)| *refused == label) {
            return Reply::Error(e);
        }
        match request {
            Request::DeviceInfo => Reply::DeviceInfo(self.info),
            Request::DeviceFeatures => {
                Reply::Features(if self.legacy() { self.offered & 0xffff_ffff } else { self.offered })
            }
            Request::DriverFeatures { features } => {
                let f = features & self.offered;
                self.features = Some(f);
                if self.legacy() {
                    return Reply::FeaturesOk(true);
                }
                if self.keep_features_ok {
                    self.status |= DeviceStatus::FEATURES_OK.0;
                }
                Reply::FeaturesOk(self.keep_features_ok)
            }
            Request::QueueMaxSize { queue } => {
                Reply::QueueMaxSize(self.queue_max.get(queue as usize).copied().unwrap_or(0))
            }
            Request::QueueSetup { queue, size, desc, avail, used } => self.queue_setup(queue, size, desc, avail, used),
            Request::QueueReady { queue } => match self.queues.get_mut(queue as usize) {
                Some(Some(q)) => {
                    q.ready = true;
                    Reply::Ok
                }
                _ => Reply::Error(TransportError::WrongState),
            },
            Request::QueueDisable { .. } => Reply::Error(TransportError::Unsupported),
            Request::ConfigRead { offset, width } => self.config_read(offset, width.bytes()),
            Request::ConfigWrite { offset, width, value } => {
                let start = offset as usize;
                match self.config.get_mut(start..start + width.bytes()) {
                    Some(bytes) => {
                        bytes.copy_from_slice(&value.to_le_bytes()[..width.bytes()]);
                        Reply::Ok
                    }
                    None => Reply::Error(TransportError::ConfigOutOfRange),
                }
            }
            Request::ConfigGeneration => Reply::Generation(self.generation),
            Request::DriverOk => {
                if self.fail_driver_ok {
                    return Reply::Error(TransportError::DeviceFailed);
                }
                self.status |= DeviceStatus::DRIVER_OK.0;
                Reply::Ok
            }
            Request::Reset => {
                self.status = DeviceStatus::ACKNOWLEDGE.0 | DeviceStatus::DRIVER.0;
                self.features = None;
                self.queues.iter_mut().for_each(|q| *q = None);
                Reply::Ok
            }
            Request::Status => Reply::Status(self.status),
            Request::QueueNotify { queue } => {
                self.kicks.push(queue);
                Reply::Ok
            }
        }
    }
}

impl Transport for FakeDevice {
    fn call(&mut self, request: Request) -> Reply {
        self.handle(request)
    }
}

/// A transport handle on a shared [`FakeDevice`]: give one clone to the
/// driver, keep another in the test.
#[derive(Clone, Debug)]
pub struct FakeTransport(pub Rc<RefCell<FakeDevice>>);

impl FakeTransport {
    /// A handle on `device`.
    pub fn new(device: FakeDevice) -> Self {
        FakeTransport(Rc::new(RefCell::new(device)))
    }

    /// The device, borrowed.
    pub fn device(&self) -> std::cell::RefMut<'_, FakeDevice> {
        self.0.borrow_mut()
    }
}

impl Transport for FakeTransport {
    fn call(&mut self, request: Request) -> Reply {
        self.0.borrow_mut().handle(request)
    }
}
