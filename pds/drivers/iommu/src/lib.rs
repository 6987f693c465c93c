//! The virtio-iommu driver (device id 23, VIRTIO 1.2 §5.13) on the driver
//! framework: it confines each PCI device's DMA to the regions its
//! driver's binding owns, as the bus asks.
//!
//! The bus writes a wish per driver slot into the confinement requests
//! page (`sevio_bus_protocol::confine`) and notifies this PD on its client
//! channel. For "confine endpoint E for driver k" the driver attaches E
//! to domain k (relative to the device's first domain id) and maps each
//! of slot k's regions there, identity (device address = physical
//! address, so drivers and clients change nothing), read and write; then
//! it answers `Confined`. For "release" it unmaps everything of domain k
//! and detaches E. Requests go one at a time; each tail's status is
//! checked before the next. Which regions slot k has comes from
//! system.xml (this PD's setvars), never from the driver being confined.
//!
//! Endpoints attached to no domain are blocked: the driver never
//! negotiates `F_BYPASS`, and with `F_BYPASS_CONFIG` it writes `bypass`
//! 0 before DRIVER_OK. So a PCI device the bus has not bound (or whose
//! binding ended) reaches no memory at all.
//!
//! Faults the device reports on its event queue are logged with the
//! endpoint and address, and recorded in slot k's answer for the bus,
//! which treats them as driver k's fault (it unbinds the driver).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use sevio_bus_protocol::confine::{IommuSide, Outcome, SLOTS, Wish};
use sevio_driver_core::{
    Ctx, DmaCarver, DmaSlice, DmaSlots, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, RegionSetvars,
    SystemMaps, Unusable, VirtioDriver,
};
use sevio_runtime::debug_println;
use sevio_transport_protocol::Width;
use sevio_virtio::device::config_from_bytes;
use sevio_virtio::device::iommu::{
    self, AnswerError, CONFIG_BYPASS_OFFSET, Config, FAULT_SIZE, Fault, Range, Request, Status, TAIL_SIZE, Window,
    WindowError, features, map_flags,
};
use sevio_virtio::{Buffer, DeviceId, Features};

/// Driver slots whose regions system.xml can name (drivers 0..8).
pub const CONFIGURED_SLOTS: usize = 8;
/// Regions per slot.
pub const REGIONS_PER_SLOT: usize = 4;
/// Event buffers kept posted for fault reports.
pub const EVENT_BUFFERS: usize = 8;
/// Entries of each queue.
pub const QUEUE_SIZE: usize = 16;

/// One region a binding's device may reach: its physical address and
/// size (both 0: no region).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionVars {
    /// `region_paddr` of the region.
    pub paddr: u64,
    /// `setvar_size` of the region's (read-only) map.
    pub size: u64,
}

/// What system.xml gives the IOMMU PD besides the framework's regions.
#[derive(Copy, Clone, Debug)]
pub struct IommuSetvars {
    /// The bus's confinement requests page (read-only here).
    pub requests: RegionSetvars,
    /// The confinement answers page (written here).
    pub answers: RegionSetvars,
    /// Slot k's regions: driver k's DMA region and its clients' data
    /// regions.
    pub regions: [[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS],
}

/// What went wrong with the device.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IommuError {
    /// The framework's error.
    Driver(DriverError),
    /// The device wrote an answer that breaks VIRTIO 1.2 §5.13.
    Answer(AnswerError),
    /// The config space is unusable (no page size).
    Config(WindowError),
    /// A used buffer the driver never posted.
    Unexpected,
}

impl From<DriverError> for IommuError {
    fn from(e: DriverError) -> Self {
        IommuError::Driver(e)
    }
}

/// What a job is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Goal {
    Confine(u16),
    Release,
}

/// The wish being carried out for one slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Job {
    slot: usize,
    seq: u32,
    goal: Goal,
    /// The endpoint attached when the job began, released first.
    release_first: Option<u16>,
    /// Requests done so far.
    step: usize,
    /// A request failed: the job answers `Refused` (after which the
    /// endpoint is attached to nothing or to a domain with only some of
    /// its regions: never more than it should reach).
    refused: bool,
}

/// The virtio-iommu driver.
pub struct IommuDriver {
    side: IommuSide,
    regions: [[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS],
    request: DmaSlice,
    tail: DmaSlice,
    events: DmaSlots,
    window: Option<Window>,
    /// The endpoint each slot's domain has attached, as the device has it.
    attached: [Option<u16>; SLOTS],
    /// The request number of the wish each slot had answered.
    handled: [u32; SLOTS],
    job: Option<Job>,
    /// The request on the queue, if any.
    in_flight: Option<Request>,
    /// Which event buffer each event-queue token carries.
    event_of_token: [u8; QUEUE_SIZE],
    /// Faults reported by the device so far.
    pub faults: u32,
}

/// Bytes a request buffer is given (the largest request, rounded up).
const REQUEST_BYTES: usize = 64;

impl VirtioDriver for IommuDriver {
    const DEVICE: DeviceId = DeviceId::IOMMU;
    type Queues = (DriverQueue<QUEUE_SIZE>, DriverQueue<QUEUE_SIZE>);
    /// VIRTIO 1.2 §5.13.2: requestq is queue 0, eventq queue 1.
    const QUEUES: [QueueSpec; 2] = [
        QueueSpec {
            index: iommu::REQUEST_QUEUE,
            params: QueueParams { max_size: QUEUE_SIZE as u16, min_size: 2, indirect_descs: 0 },
        },
        QueueSpec {
            index: iommu::EVENT_QUEUE,
            params: QueueParams { max_size: QUEUE_SIZE as u16, min_size: 1, indirect_descs: 0 },
        },
    ];
    type Error = IommuError;
    type Setvars = IommuSetvars;

    fn new(vars: IommuSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let requests = maps.region(vars.requests)?;
        let answers = maps.region(vars.answers)?;
        let side = IommuSide::new(requests, answers).map_err(|_| Unusable::Layout("confinement pages"))?;
        for slot in &vars.regions {
            for r in slot {
                if (r.paddr == 0) != (r.size == 0) {
                    return Err(Unusable::Setvar("confine<k>_region<j>: a region needs both its paddr and its size"));
                }
            }
        }
        let request = dma.take(REQUEST_BYTES, 8).map_err(Unusable::DmaRoom)?;
        let tail = dma.take(TAIL_SIZE, 8).map_err(Unusable::DmaRoom)?;
        let events = dma.slots(EVENT_BUFFERS, FAULT_SIZE.next_multiple_of(8), 8).map_err(Unusable::DmaRoom)?;
        Ok(IommuDriver {
            side,
            regions: vars.regions,
            request,
            tail,
            events,
            window: None,
            attached: [None; SLOTS],
            handled: [0; SLOTS],
            job: None,
            in_flight: None,
            event_of_token: [0; QUEUE_SIZE],
            faults: 0,
        })
    }

    /// MAP_UNMAP is required; the ranges and `bypass` are read when
    /// offered. `F_BYPASS` is never accepted: with it, endpoints attached
    /// to no domain would reach all memory (VIRTIO 1.2 §5.13.4).
    fn features(&self) -> (Features, Features) {
        let wanted = Features::EMPTY
            .with(features::MAP_UNMAP)
            .with(features::INPUT_RANGE)
            .with(features::DOMAIN_RANGE)
            .with(features::BYPASS_CONFIG);
        (wanted, Features::EMPTY.with(features::MAP_UNMAP))
    }

    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), IommuError> {
        let mut raw = [0u8; core::mem::size_of::<Config>()];
        device.read_config(0, &mut raw)?;
        let config: Config = config_from_bytes(&raw);
        let negotiated = device.features();
        let window =
            Window::from_config(&config, negotiated.has(features::INPUT_RANGE), negotiated.has(features::DOMAIN_RANGE))
                .map_err(IommuError::Config)?;
        // VIRTIO 1.2 §5.13.4: with BYPASS_CONFIG negotiated, `bypass` 1
        // lets endpoints attached to no domain reach all memory; the
        // driver writes 0 so that they are blocked. Without it (and
        // without F_BYPASS) they are blocked already.
        if negotiated.has(features::BYPASS_CONFIG) && config.bypass != 0 {
            device.write_config(CONFIG_BYPASS_OFFSET, Width::W1, 0)?;
        }
        self.window = Some(window);
        for (slot, regions) in self.regions.iter().enumerate() {
            for r in regions.iter().filter(|r| r.size != 0) {
                if let Err(e) = window.check(r.paddr, r.size) {
                    debug_println!("iommu: slot {slot}: region {:#x}+{:#x} cannot be mapped: {e:?}", r.paddr, r.size);
                }
            }
        }
        for i in 0..EVENT_BUFFERS {
            self.post_event(&mut device.queues.1, i)?;
        }
        Ok(())
    }

    /// The device was reset: it holds no domain any more, so every wish
    /// in force is carried out afresh on the next device.
    fn remove(&mut self) {
        self.window = None;
        self.attached = [None; SLOTS];
        self.handled = [0; SLOTS];
        self.job = None;
        self.in_flight = None;
    }

    fn interrupt(&mut self, ctx: &mut Ctx<'_, Self>, _causes: u32) {
        if let Err(e) = self.harvest(ctx) {
            ctx.fail(e);
        }
    }

    /// The bus changed a wish.
    fn client_notified(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Err(e) = self.pump(ctx) {
            ctx.fail(e);
        }
    }
}

impl IommuDriver {
    /// The domain of `slot`: the device's first domain id plus the slot.
    fn domain(&self, slot: usize) -> Option<u32> {
        let window = self.window?;
        window.domain(window.domains.0.checked_add(slot as u32)?).ok()
    }

    fn post_event(&mut self, queue: &mut DriverQueue<QUEUE_SIZE>, i: usize) -> Result<(), IommuError> {
        let buffer = self.events.get(i).ok_or(IommuError::Unexpected)?;
        // VIRTIO 1.2 §5.13.6.7: event buffers are device-writable and
        // hold a whole fault report.
        let token = queue.add(&[Buffer::writable(buffer.paddr, FAULT_SIZE as u32)]).map_err(DriverError::Queue)?;
        let entry = self.event_of_token.get_mut(usize::from(token.index())).ok_or(IommuError::Unexpected)?;
        *entry = i as u8;
        Ok(())
    }

    /// The request the job needs next, or `None` when it is done.
    fn next_request(&self, job: &Job) -> Result<Option<Request>, WindowError> {
        let Some(domain) = self.domain(job.slot) else { return Err(WindowError::Domain(job.slot as u32)) };
        let mut step = job.step;
        if let Some(old) = job.release_first {
            match step {
                0 => return Ok(Some(Request::unmap(domain, Range::ALL))),
                1 => return Ok(Some(Request::detach(domain, old.into()))),
                _ => step -= 2,
            }
        }
        let Goal::Confine(endpoint) = job.goal else { return Ok(None) };
        if step == 0 {
            return Ok(Some(Request::attach(domain, endpoint.into())));
        }
        let regions = self.regions.get(job.slot).map_or(&[][..], |r| &r[..]);
        let Some(region) = regions.iter().filter(|r| r.size != 0).nth(step - 1) else { return Ok(None) };
        let window = self.window.ok_or(WindowError::NoPageSize)?;
        let range = window.check(region.paddr, region.size)?;
        Ok(Some(Request::map_identity(domain, range, map_flags::READ | map_flags::WRITE)))
    }

    /// Start the next job if none runs, and put its next request on the
    /// queue; finish jobs with nothing (more) to do.
    fn pump(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), IommuError> {
        if self.window.is_none() || self.in_flight.is_some() {
            return Ok(());
        }
        loop {
            if self.job.is_none() {
                self.job = self.next_job();
            }
            let Some(mut job) = self.job else { return Ok(()) };
            let next = if job.refused { Ok(None) } else { self.next_request(&job) };
            match next {
                Ok(Some(request)) => {
                    let Some((device, _)) = ctx.device_and_watch() else { return Ok(()) };
                    self.request.mem.copy_in(0, request.bytes()).map_err(|_| IommuError::Unexpected)?;
                    let chain = [
                        Buffer::readable(self.request.paddr, request.bytes().len() as u32),
                        Buffer::writable(self.tail.paddr, TAIL_SIZE as u32),
                    ];
                    device.queues.0.add(&chain).map_err(DriverError::Queue)?;
                    self.in_flight = Some(request);
                    return Ok(());
                }
                Ok(None) => self.finish(ctx, &job),
                Err(e) => {
                    debug_println!("iommu: driver {}: cannot confine: {e:?}", job.slot);
                    job.refused = true;
                    self.finish(ctx, &job);
                }
            }
        }
    }

    /// The first slot whose wish is newer than what was answered.
    fn next_job(&self) -> Option<Job> {
        (0..SLOTS).find_map(|slot| {
            let wish = self.side.wish(slot)?;
            if wish.seq() == 0 || wish.seq() == self.handled[slot] {
                return None;
            }
            let goal = match wish {
                Wish::Confine { endpoint, .. } => Goal::Confine(endpoint),
                Wish::Release { .. } | Wish::None => Goal::Release,
            };
            let release_first = self.attached[slot];
            Some(Job { slot, seq: wish.seq(), goal, release_first, step: 0, refused: false })
        })
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Self>, job: &Job) {
        let outcome = match (job.refused, job.goal) {
            (true, _) => Outcome::Refused,
            (false, Goal::Confine(endpoint)) => {
                debug_println!("iommu: driver {}: device {} confined", job.slot, Bdf(endpoint));
                Outcome::Confined
            }
            (false, Goal::Release) => Outcome::Released,
        };
        self.side.answer(job.slot, job.seq, outcome);
        self.handled[job.slot] = job.seq;
        self.job = None;
        ctx.notify_client();
    }

    /// Take the device's answers: request tails (then the next request)
    /// and fault reports.
    fn harvest(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<(), IommuError> {
        let Some(device) = ctx.device() else { return Ok(()) };
        let mut done = None;
        while let Some(used) = device.queues.0.pop_used().map_err(DriverError::Queue)? {
            let request = self.in_flight.take().ok_or(IommuError::Unexpected)?;
            let mut tail = [0u8; TAIL_SIZE];
            self.tail.mem.copy_out(0, &mut tail).map_err(|_| IommuError::Unexpected)?;
            done = Some((request, Status::from_tail(tail, used.len).map_err(IommuError::Answer)?));
        }
        let mut reports: [Option<Fault>; EVENT_BUFFERS] = [None; EVENT_BUFFERS];
        let mut n = 0;
        while let Some(used) = device.queues.1.pop_used().map_err(DriverError::Queue)? {
            // The split queue checked the token names a chain in flight.
            let slot =
                usize::from(*self.event_of_token.get(usize::from(used.token.index())).ok_or(IommuError::Unexpected)?);
            let buffer = self.events.get(slot).ok_or(IommuError::Unexpected)?;
            let mut raw = [0u8; FAULT_SIZE];
            buffer.mem.copy_out(0, &mut raw).map_err(|_| IommuError::Unexpected)?;
            let fault = Fault::parse(&raw, used.len).map_err(IommuError::Answer)?;
            if let Some(r) = reports.get_mut(n) {
                *r = Some(fault);
                n += 1;
            }
            self.post_event(&mut device.queues.1, slot)?;
        }
        for fault in reports.iter().flatten() {
            self.fault(ctx, fault);
        }
        if let Some((request, status)) = done {
            self.step_done(request, status);
        }
        self.pump(ctx)
    }

    /// A request of the running job ended with `status`.
    fn step_done(&mut self, request: Request, status: Status) {
        let Some(job) = &mut self.job else { return };
        if status != Status::Ok {
            debug_println!("iommu: driver {}: request {} failed: {status:?}", job.slot, request.kind());
            job.refused = true;
            return;
        }
        match request.kind() {
            iommu::req::ATTACH => {
                if let Goal::Confine(endpoint) = job.goal {
                    self.attached[job.slot] = Some(endpoint);
                }
            }
            iommu::req::DETACH => self.attached[job.slot] = None,
            _ => {}
        }
        job.step += 1;
    }

    /// The device reported a fault: log it, and record it for the bus
    /// against the slot whose domain holds the endpoint.
    fn fault(&mut self, ctx: &mut Ctx<'_, Self>, fault: &Fault) {
        self.faults = self.faults.wrapping_add(1);
        let endpoint = fault.endpoint as u16;
        let slot =
            (fault.endpoint <= 0xffff).then(|| self.attached.iter().position(|a| *a == Some(endpoint))).flatten();
        let whose = DriverOf(slot);
        match fault.address {
            Some(a) => debug_println!(
                "iommu: DMA fault: device {} ({whose}) {} at {a:#x} refused ({:?})",
                Bdf(endpoint),
                fault.access(),
                fault.reason
            ),
            None => debug_println!(
                "iommu: DMA fault: device {} ({whose}) {} refused ({:?})",
                Bdf(endpoint),
                fault.access(),
                fault.reason
            ),
        }
        if let Some(slot) = slot {
            self.side.fault(slot, fault.address, fault.flags);
            ctx.notify_client();
        }
    }
}

/// A PCI requester id as bus:device.function (for logs; the SMMUv3 PD's
/// too).
pub struct Bdf(pub u16);

impl core::fmt::Display for Bdf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.0 >> 8, (self.0 >> 3) & 0x1f, self.0 & 7)
    }
}

/// Which driver a faulting device belongs to, for the log.
pub struct DriverOf(pub Option<usize>);

impl core::fmt::Display for DriverOf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(slot) => write!(f, "driver {slot}"),
            None => f.write_str("no binding"),
        }
    }
}
