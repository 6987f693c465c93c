//! [`InputDriver`]: the virtio-input driver, a [`VirtioDriver`]. The
//! driver framework brings the device up and sets up eventq 0 (VIRTIO
//! 1.2 §5.8.2); this is the device logic.
//!
//! Probe: read what the device is ([`crate::identity`]), publish it on
//! the client's page, fill the eventq with [`EVENT_BUFFERS`] buffers.
//! VIRTIO 1.2 §5.8.6.1: "A driver SHOULD keep the eventq populated with
//! buffers. These buffers MUST be device-writable and MUST be at least
//! the size of struct virtio_input_event": each is one 8-byte
//! device-writable buffer in the driver's DMA region, reposted as soon as
//! its event is read.
//!
//! An event comes back with its used length: fewer than 8 bytes is a
//! device that broke the protocol (the device is failed); more is refused
//! by the split queue already. Events go to the client through
//! [`Delivery`] (bounded, counted drops, a marker).

use crate::EVENT_BUFFERS;
use crate::delivery::Delivery;
use crate::identity::{IdentityError, read_identity};
use sevio_driver_core::{
    Ctx, DmaCarver, DmaSlots, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, RegionSetvars, SystemMaps,
    Unusable, VirtioDriver,
};
use sevio_queue::QueueError;
use sevio_queue::input::{InputEvent, InputInfo, queue_region};
use sevio_sharedmem::SharedMemory;
use sevio_virtio::device::input::{EVENT_SIZE, EVENTQ};
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features, Used};

/// Why the device failed (kept for the PD's log).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// The errors every driver shares.
    Driver(DriverError),
    /// The identity in config space could not be read.
    Identity(IdentityError),
    /// An event shorter than `struct virtio_input_event`.
    ShortEvent {
        /// Bytes the device said it wrote.
        len: u32,
    },
}

impl From<DriverError> for InputError {
    fn from(e: DriverError) -> Self {
        InputError::Driver(e)
    }
}

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct InputSetvars {
    /// The client's page (info + event queue; `sevio_queue::input`).
    pub page: RegionSetvars,
    /// Events the client's queue holds (a power of two).
    pub capacity: u32,
}

/// Counters for the log, tests and benchmarks.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events from the device.
    pub received: u64,
    /// Events handed to the client.
    pub delivered: u64,
    /// Events dropped because the client fell behind.
    pub dropped: u32,
    /// `SYN_DROPPED` markers handed over.
    pub markers: u64,
}

/// The virtio-input driver.
pub struct InputDriver {
    page: SharedMemory,
    /// `None` once the client wrote impossible indices.
    delivery: Option<Delivery>,
    client_error: Option<QueueError>,
    bufs: DmaSlots,
    /// Which buffer each queue token (descriptor head) holds.
    by_token: [u8; EVENT_BUFFERS],
    info: Option<InputInfo>,
    received: u64,
    logged: Stats,
}

type InputCtx<'a> = Ctx<'a, InputDriver>;
const NO_BUFFER: u8 = u8::MAX;

impl VirtioDriver for InputDriver {
    const DEVICE: DeviceId = DeviceId::INPUT;
    type Queues = DriverQueue<EVENT_BUFFERS>;
    const QUEUES: QueueSpec = QueueSpec {
        index: EVENTQ,
        params: QueueParams { max_size: EVENT_BUFFERS as u16, min_size: 1, indirect_descs: 0 },
    };
    type Error = InputError;
    type Setvars = InputSetvars;

    /// The event buffers come first in the DMA region.
    fn new(vars: InputSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let page = maps.region(vars.page)?;
        let queue = queue_region(&page).ok_or(Unusable::Layout(vars.page.region))?;
        let delivery = Delivery::new(queue, vars.capacity).map_err(|_| Unusable::Layout(vars.page.region))?;
        let bufs = dma.slots(EVENT_BUFFERS, EVENT_SIZE as usize, 8).map_err(Unusable::DmaRoom)?;
        Ok(InputDriver {
            page,
            delivery: Some(delivery),
            client_error: None,
            bufs,
            by_token: [NO_BUFFER; EVENT_BUFFERS],
            info: None,
            received: 0,
            logged: Stats::default(),
        })
    }

    /// EVENT_IDX when offered; nothing required.
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(general::EVENT_IDX), Features::EMPTY)
    }

    /// Who the device is, then every buffer into the eventq.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), InputError> {
        let info = read_identity(device).map_err(InputError::Identity)?;
        // The page is the driver's own to write; a full region was
        // checked at construction.
        let _ = info.publish(&self.page);
        self.info = Some(info);
        self.by_token = [NO_BUFFER; EVENT_BUFFERS];
        for i in 0..EVENT_BUFFERS {
            self.post(device.queues, i).map_err(|e| InputError::Driver(DriverError::Queue(e)))?;
        }
        Ok(())
    }

    /// The device is gone: the client's page says so.
    fn remove(&mut self) {
        let _ = InputInfo::retract(&self.page);
        self.info = None;
    }

    fn interrupt(&mut self, ctx: &mut InputCtx<'_>, _causes: u32) {
        self.pump(ctx);
    }

    /// A device came up (its identity is on the page) or went: tell the
    /// client, then serve as usual.
    fn after_bind(&mut self, ctx: &mut InputCtx<'_>) {
        ctx.notify_client();
        self.pump(ctx);
    }

    /// The client made room: an owed marker may fit now.
    fn client_notified(&mut self, ctx: &mut InputCtx<'_>) {
        self.pump(ctx);
    }

    /// The device's name once, then the counters whenever they move.
    fn report(&mut self, name: &str) {
        let s = self.stats();
        if s != self.logged {
            self.logged = s;
            sevio_runtime::debug_println!(
                "{}: {} events, {} delivered, {} dropped, {} markers",
                name,
                s.received,
                s.delivered,
                s.dropped,
                s.markers
            );
        }
    }
}

impl InputDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        let (delivered, dropped, markers) = match &self.delivery {
            Some(d) => (d.delivered, d.dropped, d.markers),
            None => (0, 0, 0),
        };
        Stats { received: self.received, delivered, dropped, markers }
    }

    /// What the device said it is, while one is up.
    pub fn info(&self) -> Option<&InputInfo> {
        self.info.as_ref()
    }

    /// Why the driver stopped serving its client, if it did.
    pub fn client_error(&self) -> Option<QueueError> {
        self.client_error
    }

    /// Harvest every event, hand it on, repost its buffer, arm; repeat
    /// while the device got ahead of the arming. The framework kicks.
    fn pump(&mut self, ctx: &mut InputCtx<'_>) {
        loop {
            self.harvest(ctx);
            let Some(device) = ctx.device() else { break };
            // One interrupt per event: the client should see each at once.
            match device.queues.arm(1) {
                Ok(false) => break,
                Ok(true) => continue,
                Err(e) => ctx.fail(InputError::Driver(DriverError::Queue(e))),
            }
        }
        if let Some(d) = &mut self.delivery {
            match d.publish() {
                Ok(true) => ctx.notify_client(),
                Ok(false) => {}
                Err(e) => {
                    self.client_error = Some(e);
                    self.delivery = None;
                }
            }
        }
    }

    fn harvest(&mut self, ctx: &mut InputCtx<'_>) {
        loop {
            let Some(device) = ctx.device() else { return };
            let used = match device.queues.pop_used() {
                Ok(Some(used)) => used,
                Ok(None) => return,
                Err(e) => return ctx.fail(InputError::Driver(DriverError::Queue(e))),
            };
            let event = match self.event(used) {
                Ok(ev) => ev,
                Err(e) => return ctx.fail(e),
            };
            self.received += 1;
            let i = core::mem::replace(&mut self.by_token[used.token.index() as usize % EVENT_BUFFERS], NO_BUFFER);
            let Some(device) = ctx.device() else { return };
            if let Err(e) = self.post(&mut device.queues, i as usize) {
                return ctx.fail(InputError::Driver(DriverError::Queue(e)));
            }
            if let Some(d) = &mut self.delivery
                && let Err(e) = d.push(event)
            {
                self.client_error = Some(e);
                self.delivery = None;
            }
        }
    }

    /// Make buffer `i` available to the device.
    fn post(&mut self, queue: &mut DriverQueue<EVENT_BUFFERS>, i: usize) -> Result<(), sevio_virtio::Error> {
        let Some(buf) = self.bufs.get(i) else { return Ok(()) };
        let token = queue.add(&[Buffer::writable(buf.paddr, EVENT_SIZE)])?;
        self.by_token[token.index() as usize % EVENT_BUFFERS] = i as u8;
        Ok(())
    }

    /// The event in the buffer the device used (the split queue checked
    /// the id was in flight and `len` fits the 8-byte buffer).
    fn event(&self, used: Used) -> Result<InputEvent, InputError> {
        if used.len < EVENT_SIZE {
            return Err(InputError::ShortEvent { len: used.len });
        }
        let i = self.by_token[used.token.index() as usize % EVENT_BUFFERS] as usize;
        let buf = self.bufs.get(i).ok_or(InputError::ShortEvent { len: 0 })?;
        let mut b = [0u8; 8];
        buf.mem.copy_out(0, &mut b).map_err(|_| InputError::ShortEvent { len: 0 })?;
        Ok(InputEvent {
            ty: u16::from_le_bytes([b[0], b[1]]),
            code: u16::from_le_bytes([b[2], b[3]]),
            value: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
}
