//! [`GpuDriver`]: the virtio-gpu driver (2D), a [`VirtioDriver`]. The
//! driver framework (`sevio_driver_core::Virtio`) brings the device up,
//! sets up controlq 0 and cursorq 1 (VIRTIO 1.2 §5.7.2), kicks and keeps
//! the device state; this is the device logic.
//!
//! The client speaks sDDF's GPU protocol (`sevio_queue::gpu`): requests
//! in, responses out, its framebuffer in a data region the device reads
//! directly (the region's physical address is a setvar). Each request is
//! checked ([`crate::check::plan`]) and becomes one command in a DMA slot
//! of the driver's own (the client never names device memory): a
//! controlq chain of the command and a device-writable answer, or a
//! cursorq chain of the command alone. Up to [`CONTROL_QUEUE_SIZE`] +
//! [`CURSOR_QUEUE_SIZE`] are in flight; a request is only taken when the
//! response queue has room for its answer and every other one owed.
//!
//! Answers: `sevio_virtio::device::gpu::check_response` is the one check
//! (the split queue has already refused a used element that names no
//! chain in flight or claims more bytes than the chain had). An error
//! type is the device refusing the command: the client gets the matching
//! sDDF status and the driver undoes what it recorded. A short answer or
//! one of the wrong type is a device that broke the protocol: the client
//! gets `ErrUnspec`, the device is failed (reset), and every request in
//! flight is answered `ErrUnspec` too.
//!
//! Not bound yet: requests wait in the client's queue. Failed: they are
//! answered `ErrUnspec`. A display change (config interrupt,
//! `VIRTIO_GPU_EVENT_DISPLAY`) sets the client's events flag.

use crate::check::{Queue, Resources, Undo, plan};
use crate::{CONTROL_QUEUE_SIZE, CURSOR_QUEUE_SIZE, RESPONSE_AT, SLOT_SIZE};
use sevio_driver_core::{
    ClientRegion, Ctx, DmaCarver, DmaSlots, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, RegionSetvars,
    SystemMaps, Unusable, VirtioDriver,
};
use sevio_queue::QueueError;
use sevio_queue::gpu::{
    DisplayInfo, GpuEvents, GpuRect, GpuRequestConsumer, GpuResponse, GpuResponseProducer, GpuStatus, MAX_SCANOUTS,
    Scanout,
};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::doorbell::INT_CONFIG_CHANGE;
use sevio_transport_protocol::{Reply, Request, Width};
use sevio_virtio::device::gpu::{
    Answer, CONTROLQ, CURSORQ, CtrlHdr, EVENT_DISPLAY, EVENTS_CLEAR_OFFSET, GpuConfig, RespDisplayInfo, ResponseFault,
    check_response, ctrl, response_len,
};
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features, Used};
use zerocopy::FromBytes;

/// Why the device failed (kept for the PD's log).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GpuError {
    /// The errors every driver shares.
    Driver(DriverError),
    /// The config space says the device has no scanout or more than 16.
    Scanouts(u32),
    /// An answer that cannot be believed.
    Response(ResponseFault),
}

impl From<DriverError> for GpuError {
    fn from(e: DriverError) -> Self {
        GpuError::Driver(e)
    }
}

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct GpuSetvars {
    /// The request queue (client -> driver).
    pub requests: RegionSetvars,
    /// The response queue (driver -> client).
    pub responses: RegionSetvars,
    /// The events page.
    pub events: RegionSetvars,
    /// The client's data region (framebuffers; the device reads it).
    pub data: RegionSetvars,
    /// Where the device finds the data region (its region_paddr).
    pub data_paddr: u64,
    /// Entries in each queue (a power of two).
    pub capacity: u32,
}

/// Counters for the log, tests and benchmarks.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered OK.
    pub ok: u64,
    /// Requests refused by the driver's checks.
    pub refused: u64,
    /// Requests the device answered with an error type.
    pub device_refused: u64,
    /// Requests answered `ErrUnspec` because the device failed or broke the protocol.
    pub failed: u64,
    /// Flushes the device completed.
    pub flushes: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Busy {
        req_id: u32,
        ty: u32,
        queue: Queue,
        display_at: Option<usize>,
        undo: Undo,
    },
    /// In flight on a device that is gone: answer `ErrUnspec`.
    Orphan {
        req_id: u32,
    },
}

const SLOTS: usize = CONTROL_QUEUE_SIZE + CURSOR_QUEUE_SIZE;
const NO_SLOT: u8 = u8::MAX;

struct Client {
    requests: GpuRequestConsumer,
    responses: GpuResponseProducer,
}

/// The virtio-gpu driver.
pub struct GpuDriver {
    /// `None` once the client wrote impossible indices.
    client: Option<Client>,
    client_error: Option<QueueError>,
    events: SharedMemory,
    data: ClientRegion,
    dma: DmaSlots,
    slots: [Slot; SLOTS],
    control_tokens: [u8; CONTROL_QUEUE_SIZE],
    cursor_tokens: [u8; CURSOR_QUEUE_SIZE],
    resources: Resources,
    scanouts: u32,
    stats: Stats,
    logged: Stats,
}

type Queues = (DriverQueue<CONTROL_QUEUE_SIZE>, DriverQueue<CURSOR_QUEUE_SIZE>);
type GpuCtx<'a> = Ctx<'a, GpuDriver>;

impl VirtioDriver for GpuDriver {
    const DEVICE: DeviceId = DeviceId::GPU;
    type Queues = Queues;
    const QUEUES: [QueueSpec; 2] = [
        QueueSpec {
            index: CONTROLQ,
            params: QueueParams { max_size: CONTROL_QUEUE_SIZE as u16, min_size: 2, indirect_descs: 0 },
        },
        QueueSpec {
            index: CURSORQ,
            params: QueueParams { max_size: CURSOR_QUEUE_SIZE as u16, min_size: 1, indirect_descs: 0 },
        },
    ];
    type Error = GpuError;
    type Setvars = GpuSetvars;

    /// The command slots come first in the DMA region.
    fn new(vars: GpuSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        if vars.data_paddr == 0 {
            return Err(Unusable::Setvar("gpu_client_data_paddr missing"));
        }
        let data = ClientRegion::device_visible(maps.region(vars.data)?, vars.data_paddr)
            .ok_or(Unusable::DmaOverflow(vars.data.region))?;
        let requests = GpuRequestConsumer::new(maps.region(vars.requests)?, vars.capacity)
            .map_err(|_| Unusable::Layout(vars.requests.region))?;
        let responses = GpuResponseProducer::new(maps.region(vars.responses)?, vars.capacity)
            .map_err(|_| Unusable::Layout(vars.responses.region))?;
        let events = maps.region(vars.events)?;
        let slots = dma.slots(SLOTS, SLOT_SIZE, 64).map_err(Unusable::DmaRoom)?;
        Ok(GpuDriver {
            client: Some(Client { requests, responses }),
            client_error: None,
            events,
            data,
            dma: slots,
            slots: [Slot::Free; SLOTS],
            control_tokens: [NO_SLOT; CONTROL_QUEUE_SIZE],
            cursor_tokens: [NO_SLOT; CURSOR_QUEUE_SIZE],
            resources: Resources::default(),
            scanouts: 0,
            stats: Stats::default(),
            logged: Stats::default(),
        })
    }

    /// EVENT_IDX when offered; nothing required (no 3D, EDID or blobs).
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(general::EVENT_IDX), Features::EMPTY)
    }

    /// Read the scanout count: VIRTIO 1.2 §5.7.4 "num_scanouts specifies
    /// the maximum number of scanouts supported by the device. Minimum
    /// value is 1, maximum value is 16."
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), GpuError> {
        let mut bytes = [0u8; 16];
        device.read_config(0, &mut bytes)?;
        let config = GpuConfig::read_from_bytes(&bytes).unwrap_or_default();
        let n = config.num_scanouts.get();
        if !(1..=MAX_SCANOUTS as u32).contains(&n) {
            return Err(GpuError::Scanouts(n));
        }
        self.scanouts = n;
        Ok(())
    }

    /// The device held the resources and the commands in flight.
    fn remove(&mut self) {
        self.resources.clear();
        self.scanouts = 0;
        for s in &mut self.slots {
            if let Slot::Busy { req_id, .. } = *s {
                *s = Slot::Orphan { req_id };
            }
        }
        self.control_tokens = [NO_SLOT; CONTROL_QUEUE_SIZE];
        self.cursor_tokens = [NO_SLOT; CURSOR_QUEUE_SIZE];
    }

    fn interrupt(&mut self, ctx: &mut GpuCtx<'_>, causes: u32) {
        if causes & INT_CONFIG_CHANGE != 0 {
            self.display_event(ctx);
        }
        self.pump(ctx);
    }

    fn client_notified(&mut self, ctx: &mut GpuCtx<'_>) {
        self.pump(ctx);
    }

    /// The counters, whenever they moved.
    fn report(&mut self, name: &str) {
        let s = self.stats;
        if s != self.logged {
            self.logged = s;
            sevio_runtime::debug_println!(
                "{}: {} ok, {} refused, {} refused by the device, {} failed, {} flushes",
                name,
                s.ok,
                s.refused,
                s.device_refused,
                s.failed,
                s.flushes
            );
        }
    }
}

impl GpuDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Why the driver stopped serving its client, if it did.
    pub fn client_error(&self) -> Option<QueueError> {
        self.client_error
    }

    /// The resources the client has, as the driver records them.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    fn owed(&self) -> u32 {
        self.slots.iter().filter(|s| **s != Slot::Free).count() as u32
    }

    fn respond(&mut self, ctx: &mut GpuCtx<'_>, id: u32, status: GpuStatus) {
        let Some(client) = &mut self.client else { return };
        if let Err(e) = client.responses.enqueue(GpuResponse::new(status, id)) {
            self.client_error = Some(e);
            self.client = None;
            return;
        }
        ctx.notify_client();
    }

    /// Harvest, answer, take requests, arm; repeat while the device got
    /// ahead of the arming. The framework kicks.
    fn pump(&mut self, ctx: &mut GpuCtx<'_>) {
        loop {
            self.harvest(ctx);
            self.answer_lost(ctx);
            self.take_requests(ctx);
            let Some(device) = ctx.device() else { break };
            let (control, cursor) = &mut device.queues;
            let (c, k) = (control.in_flight(), cursor.in_flight());
            match (control.arm(c), cursor.arm(k)) {
                (Ok(false), Ok(false)) => break,
                (Ok(_), Ok(_)) => continue,
                (Err(e), _) | (_, Err(e)) => ctx.fail(GpuError::Driver(DriverError::Queue(e))),
            }
        }
        self.answer_lost(ctx);
    }

    /// Requests that were in flight on a device that failed or is gone.
    fn answer_lost(&mut self, ctx: &mut GpuCtx<'_>) {
        let failed = ctx.failed() || ctx.device().is_none();
        for i in 0..SLOTS {
            let lost = match self.slots[i] {
                Slot::Orphan { req_id } => Some(req_id),
                Slot::Busy { req_id, .. } if failed => Some(req_id),
                _ => None,
            };
            if let Some(req_id) = lost {
                self.slots[i] = Slot::Free;
                self.stats.failed += 1;
                self.respond(ctx, req_id, GpuStatus::ErrUnspec);
            }
        }
        if failed {
            self.control_tokens = [NO_SLOT; CONTROL_QUEUE_SIZE];
            self.cursor_tokens = [NO_SLOT; CURSOR_QUEUE_SIZE];
        }
    }

    fn harvest(&mut self, ctx: &mut GpuCtx<'_>) {
        for queue in [Queue::Control, Queue::Cursor] {
            loop {
                let Some(device) = ctx.device() else { return };
                let popped = match queue {
                    Queue::Control => device.queues.0.pop_used(),
                    Queue::Cursor => device.queues.1.pop_used(),
                };
                match popped {
                    Ok(Some(used)) => self.completed(ctx, queue, used),
                    Ok(None) => break,
                    Err(e) => return ctx.fail(GpuError::Driver(DriverError::Queue(e))),
                }
            }
        }
    }

    /// A chain came back (the split queue checked it was in flight and
    /// that `used.len` fits its writable part).
    fn completed(&mut self, ctx: &mut GpuCtx<'_>, queue: Queue, used: Used) {
        let token = used.token.index() as usize;
        let i = match queue {
            Queue::Control => core::mem::replace(&mut self.control_tokens[token % CONTROL_QUEUE_SIZE], NO_SLOT),
            Queue::Cursor => core::mem::replace(&mut self.cursor_tokens[token % CURSOR_QUEUE_SIZE], NO_SLOT),
        } as usize;
        let Some(Slot::Busy { req_id, ty, display_at, undo, .. }) = self.slots.get(i).copied() else { return };
        self.slots[i] = Slot::Free;
        if queue == Queue::Cursor {
            // §5.7.6.10: the cursorq's answers carry nothing the driver
            // reads (QEMU writes no bytes; the chain has none to write).
            self.stats.ok += 1;
            return self.respond(ctx, req_id, GpuStatus::Ok);
        }
        let Some(slot) = self.dma.get(i) else { return };
        let mut hdr_bytes = [0u8; 24];
        let _ = slot.mem.copy_out(RESPONSE_AT, &mut hdr_bytes);
        let hdr = CtrlHdr::read_from_bytes(&hdr_bytes).unwrap_or_default();
        match check_response(ty, &hdr, used.len) {
            Ok(Answer::Ok) => {
                if let Some(at) = display_at {
                    self.deliver_display_info(&slot.mem, at);
                }
                if ty == ctrl::RESOURCE_FLUSH {
                    self.stats.flushes += 1;
                }
                self.stats.ok += 1;
                self.respond(ctx, req_id, GpuStatus::Ok);
            }
            Ok(Answer::Refused(code)) => {
                self.resources.undo(undo);
                self.stats.device_refused += 1;
                self.respond(ctx, req_id, status_for(code));
            }
            Err(fault) => {
                self.resources.undo(undo);
                self.stats.failed += 1;
                self.respond(ctx, req_id, GpuStatus::ErrUnspec);
                ctx.fail(GpuError::Response(fault));
            }
        }
    }

    /// Copy the device's display modes to the client (at an offset
    /// checked when the request was taken).
    fn deliver_display_info(&self, slot: &SharedMemory, at: usize) {
        let mut bytes = [0u8; core::mem::size_of::<RespDisplayInfo>()];
        let _ = slot.copy_out(RESPONSE_AT, &mut bytes);
        let resp = RespDisplayInfo::read_from_bytes(&bytes).unwrap_or_default();
        let mut info = DisplayInfo { num_scanouts: self.scanouts, ..Default::default() };
        for (out, mode) in info.scanouts.iter_mut().zip(resp.pmodes.iter()).take(self.scanouts as usize) {
            let r = &mode.r;
            *out = Scanout {
                rect: GpuRect::new(r.x.get(), r.y.get(), r.width.get(), r.height.get()),
                enabled: mode.enabled.get() != 0,
            };
        }
        // `at` came from ClientRegion::span over DisplayInfo::SIZE bytes.
        let _ = self.data.span(at as u64, DisplayInfo::SIZE as u64).map(|s| info.write(&s.mem, 0));
    }

    /// Take client requests while there is a slot and room to answer.
    fn take_requests(&mut self, ctx: &mut GpuCtx<'_>) {
        let waiting = ctx.device().is_none() && !ctx.failed();
        if waiting {
            return;
        }
        loop {
            let owed = self.owed();
            let Some(client) = &mut self.client else { return };
            match client.responses.free() {
                Ok(free) if free > owed => {}
                Ok(_) => return,
                Err(e) => {
                    self.client_error = Some(e);
                    self.client = None;
                    return;
                }
            }
            let Some(free_slot) = self.slots.iter().position(|s| *s == Slot::Free) else { return };
            let request = match client.requests.take() {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    self.client_error = Some(e);
                    self.client = None;
                    return;
                }
            };
            let _ = client.requests.publish();
            if ctx.device().is_none() {
                self.stats.failed += 1;
                self.respond(ctx, request.id, GpuStatus::ErrUnspec);
                continue;
            }
            match plan(request.command(), &mut self.resources, self.scanouts, &self.data) {
                Ok(p) => self.submit(ctx, free_slot, request.id, p),
                Err(status) => {
                    self.stats.refused += 1;
                    self.respond(ctx, request.id, status);
                }
            }
        }
    }

    /// Put a checked command on its queue in DMA slot `i`.
    ///
    /// VIRTIO 1.2 §2.7.4.2: "The driver MUST place any device-writable
    /// descriptor elements after any device-readable descriptor
    /// elements": the command, then its answer.
    fn submit(&mut self, ctx: &mut GpuCtx<'_>, i: usize, req_id: u32, p: crate::check::Plan) {
        let Some(slot) = self.dma.get(i) else { return };
        let Some(device) = ctx.device() else { return };
        let _ = slot.mem.copy_in(0, &p.bytes[..p.len]);
        // Poison the answer's header so a device that writes nothing is
        // not read as OK (type 0 is no response type).
        let _ = slot.mem.fill(RESPONSE_AT, 24, 0);
        let cmd = Buffer::readable(slot.paddr, p.len as u32);
        let answer = Buffer::writable(slot.paddr + RESPONSE_AT as u64, response_len(p.ty));
        let added = match p.queue {
            Queue::Control if device.queues.0.can_add(2) => device.queues.0.add(&[cmd, answer]),
            Queue::Cursor if device.queues.1.can_add(1) => device.queues.1.add(&[cmd]),
            // The queue is as large as its slots: cannot happen; refuse
            // rather than lose the request.
            _ => {
                self.resources.undo(p.undo);
                return self.respond(ctx, req_id, GpuStatus::ErrUnspec);
            }
        };
        match added {
            Ok(token) => {
                let t = token.index() as usize;
                match p.queue {
                    Queue::Control => self.control_tokens[t % CONTROL_QUEUE_SIZE] = i as u8,
                    Queue::Cursor => self.cursor_tokens[t % CURSOR_QUEUE_SIZE] = i as u8,
                }
                self.slots[i] =
                    Slot::Busy { req_id, ty: p.ty, queue: p.queue, display_at: p.display_info_at, undo: p.undo };
            }
            Err(e) => {
                self.resources.undo(p.undo);
                self.respond(ctx, req_id, GpuStatus::ErrUnspec);
                ctx.fail(GpuError::Driver(DriverError::Queue(e)));
            }
        }
    }

    /// A config change: if the display changed, tell the client and
    /// clear the event. VIRTIO 1.2 §5.7.4: `events_read` "The driver
    /// MUST NOT write to this field"; `events_clear`: "Writing a '1' into
    /// a bit will clear the corresponding bit in events_read".
    fn display_event(&mut self, ctx: &mut GpuCtx<'_>) {
        if ctx.device().is_none() {
            return;
        }
        let read = ctx.transport().call(Request::ConfigRead { offset: 0, width: Width::W4 });
        let Reply::ConfigValue { value, .. } = read else { return };
        let events = value as u32;
        if events & EVENT_DISPLAY == 0 {
            return;
        }
        let _ = GpuEvents::set_display_info(&self.events);
        let clear =
            Request::ConfigWrite { offset: EVENTS_CLEAR_OFFSET, width: Width::W4, value: u64::from(EVENT_DISPLAY) };
        let _ = ctx.transport().call(clear);
        ctx.notify_client();
    }
}

/// The sDDF status for a virtio error type.
fn status_for(code: u32) -> GpuStatus {
    match code {
        ctrl::RESP_ERR_INVALID_SCANOUT_ID => GpuStatus::InvalidScanoutId,
        ctrl::RESP_ERR_INVALID_RESOURCE_ID => GpuStatus::InvalidResourceId,
        ctrl::RESP_ERR_INVALID_PARAMETER => GpuStatus::InvalidParameter,
        _ => GpuStatus::ErrUnspec,
    }
}
