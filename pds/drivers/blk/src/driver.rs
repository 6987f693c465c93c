//! [`BlkDriver`]: the virtio-blk driver, a [`VirtioDriver`]. The driver
//! framework (`sevio_driver_core::Virtio`) registers with the bus, brings
//! the device up, sets up the requestq, kicks and keeps the device state;
//! this is the device logic.
//!
//! Reactions:
//! - [`probe`](VirtioDriver::probe) (features negotiated: FLUSH,
//!   BLK_SIZE, RO, SEG_MAX, SIZE_MAX, EVENT_IDX, INDIRECT_DESC when
//!   offered; requestq set up): read the config space;
//! - `after_bind`: send GET_ID (the storage information is published
//!   when it completes), then serve what waited; after a failed bring-up
//!   or an unbind, answer or leave what waited;
//! - `client_notified`: take every queued client request that can go in
//!   flight, check it, add its chain;
//! - `interrupt`: re-read the config on a config change, harvest every
//!   used chain, answer each request, then serve more;
//! - [`remove`](VirtioDriver::remove) (unbound, replaced, failed): the
//!   requests the device held are answered ERR_IO, the storage
//!   information is withdrawn.
//!
//! After each event the queue is armed to interrupt once, when the last
//! request in flight completes (EVENT_IDX `used_event`); if the device
//! got there first the driver harvests again, so no completion is lost.
//! Responses are published once per event, and the client notified once.
//!
//! Choices:
//! - not bound yet: requests wait in the request queue (a device may
//!   still come; the bus decides);
//! - device failed (bring-up failed, a used-ring violation): every
//!   request in flight and every later one is answered ERR_IO, the device
//!   is reset; a new binding starts afresh;
//! - status byte != OK from the device: ERR_IO;
//! - WRITE to a read-only device: ERR_INVALID_PARAM, no DMA;
//! - FLUSH without VIRTIO_BLK_F_FLUSH: OK at once (no writeback cache);
//! - BARRIER: later requests wait until every earlier one completed, then
//!   a device flush (if FLUSH) runs; the BARRIER is answered with its
//!   status;
//! - a client that breaks its queue protocol (impossible indices, a full
//!   response queue) is no longer served; the device is kept;
//! - with a timer channel, every client request (READ, WRITE, FLUSH, a
//!   barrier's flush) has a deadline from when it is added to the queue
//!   until its completion is harvested: one overdue fails the device (the
//!   framework logs `blk: request <id> outstanding for <ms> ms: device not
//!   answering`), and everything in flight and waiting is answered ERR_IO.
//!   GET_ID is not watched: it is the driver's own, and a device that
//!   never answers it leaves the driver `Starting` without harming a
//!   client.

use crate::info::{BlkFacts, CONFIG_BYTES};
use crate::journal::{ClientQueues, JOURNAL_BYTES, JOURNAL_REGION_SIZE, Journal, Recovery, Ticket};
use crate::request::{self, Limits, MAX_CHAIN, Plan, chain, header_of, id_chain};
use crate::wiring::BlkConfig;
use crate::{QUEUE_SIZE, REQUESTQ, SLOTS};
use sevio_driver_core::init::CONFIG_ATTEMPTS;
use sevio_driver_core::{
    Ctx, DataRegions, DmaCarver, DmaSlice, DmaSlots, DriverError, DriverQueue, DriverStatus, Probe, QueueParams,
    QueueSpec, RegionSetvars, RequestKey, SystemMaps, Unusable, VirtioDriver, Watch,
};
use sevio_queue::{BlkRequest, BlkRequestConsumer, BlkResponseProducer, BlkStatus, QueueError, StorageInfo};
use sevio_sddf::Region;
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::doorbell::INT_CONFIG_CHANGE;
use sevio_transport_protocol::read_config;
use sevio_virtio::device::blk::{ID_BYTES, features as blk};
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features, Used};

/// Bytes per slot: the 16-byte header, then the status byte.
const SLOT_BYTES: usize = 32;
const STATUS_AT: usize = 16;
/// Status byte value before the device writes one (not a valid status,
/// so a device that skips the write yields ERR_IO, not a stale OK).
const STATUS_UNWRITTEN: u8 = 0xff;
const NO_SLOT: u8 = u8::MAX;
/// Harvest/serve/arm rounds per event (a well-behaved device needs a
/// handful).
const MAX_ROUNDS: usize = 256;

/// Why the device failed (kept for the PD's log): the errors every
/// driver shares.
pub type BlkError = DriverError;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Flush,
    Barrier,
    GetId,
}

#[derive(Copy, Clone, Debug)]
struct InFlight {
    /// The client request's journal entry (none for GET_ID).
    ticket: Option<Ticket>,
    id: u32,
    kind: Kind,
    count: u16,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Barrier {
    ticket: Ticket,
    id: u32,
    /// Its flush is in flight.
    flushing: bool,
}

/// What the driver learnt of the device it probed.
#[derive(Copy, Clone, Debug)]
struct Disk {
    features: Features,
    facts: BlkFacts,
    limits: Limits,
    serial: [u8; ID_BYTES],
    queue_depth: u16,
    /// The storage information is published (GET_ID answered).
    info_ready: bool,
}

type BlkCtx<'a> = Ctx<'a, BlkDriver>;

/// The virtio-blk driver.
pub struct BlkDriver {
    /// The client's queues, journaled; `None` once the client broke its
    /// queue protocol.
    client: Option<ClientQueues>,
    /// What the journal held at start, until logged; and whether an
    /// answer has been published since a restart (logged once, with the
    /// time: how long a restart keeps the client waiting).
    recovery: Option<(u32, Recovery)>,
    first_answer_owed: bool,
    /// When that first answer was published (runtime clock), until logged.
    first_answer_at: Option<u64>,
    /// Why the client is no longer served, until logged.
    client_error: Option<QueueError>,
    client_error_logged: bool,
    storage_info: SharedMemory,
    data: DataRegions,
    slots: DmaSlots,
    id_buf: DmaSlice,
    /// The probed device, until it is removed.
    disk: Option<Disk>,
    inflight: [Option<InFlight>; SLOTS],
    by_token: [u8; QUEUE_SIZE],
    /// A request taken from the client that did not fit the queue yet.
    stash: Option<(BlkRequest, Ticket)>,
    barrier: Option<Barrier>,
    /// Responses were published and the client has not been told yet.
    notify_owed: bool,
}

impl VirtioDriver for BlkDriver {
    const DEVICE: DeviceId = DeviceId::BLK;
    type Queues = DriverQueue<QUEUE_SIZE>;
    const QUEUES: QueueSpec = QueueSpec {
        index: REQUESTQ,
        params: QueueParams { max_size: QUEUE_SIZE as u16, min_size: 4, indirect_descs: MAX_CHAIN as u16 },
    };
    type Error = BlkError;
    type Setvars = BlkConfig;

    /// The request slots and the GET_ID buffer come first in the DMA
    /// region. The queues hold `num_buffers` entries each, as configured.
    fn new(cfg: BlkConfig, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let map = |region, r: Region| maps.region(RegionSetvars { region, vaddr: r.vaddr, size: r.size });
        let capacity = u32::from(cfg.virt.num_buffers);
        let queue_error = |region| {
            move |e| match e {
                QueueError::BadCapacity { .. } => {
                    Unusable::Setvar("blk queue capacity (num_buffers) is not a power of two >= 2")
                }
                _ => Unusable::Layout(region),
            }
        };
        let requests = BlkRequestConsumer::new(map("blk_request", cfg.virt.req_queue)?, capacity)
            .map_err(queue_error("blk_request"))?;
        let responses = BlkResponseProducer::new(map("blk_response", cfg.virt.resp_queue)?, capacity)
            .map_err(queue_error("blk_response"))?;
        let storage_info = map("blk_storage_info", cfg.virt.storage_info)?;
        let slots = dma.slots(SLOTS, SLOT_BYTES, 16).map_err(Unusable::DmaRoom)?;
        let id_buf = dma.take(ID_BYTES, 16).map_err(Unusable::DmaRoom)?;
        // Carved from the DMA region even when the journal has a region
        // of its own, so that the queue memory after it does not move.
        let dma_journal = dma.take(JOURNAL_BYTES, 64).map_err(Unusable::DmaRoom)?;
        let journal_mem = match cfg.journal_vaddr {
            0 => dma_journal.mem,
            vaddr => map("blk_journal", Region { vaddr, size: JOURNAL_REGION_SIZE as u64 })?,
        };
        let (journal, opened) = Journal::open(journal_mem).map_err(|_| Unusable::Layout("blk_journal"))?;
        let (mut client, recovery) =
            ClientQueues::open(requests, responses, journal, &opened).map_err(queue_error("blk_response"))?;
        // Told at the first event (see `answers_waiting`).
        let notify_owed = client.answers_waiting().map_err(queue_error("blk_response"))?;
        let restarted = opened.previous_opens > 0 || opened.corrupt();
        Ok(BlkDriver {
            client: Some(client),
            recovery: restarted.then_some((opened.previous_opens, recovery)),
            first_answer_owed: restarted,
            first_answer_at: None,
            client_error: None,
            client_error_logged: false,
            storage_info,
            data: cfg.data,
            slots,
            id_buf,
            disk: None,
            inflight: [None; SLOTS],
            by_token: [NO_SLOT; QUEUE_SIZE],
            stash: None,
            barrier: None,
            notify_owed,
        })
    }

    /// Nothing is required: a device without any of these is still a disk.
    fn features(&self) -> (Features, Features) {
        let wanted = Features::EMPTY
            .with(blk::FLUSH)
            .with(blk::BLK_SIZE)
            .with(blk::GEOMETRY)
            .with(blk::RO)
            .with(blk::SEG_MAX)
            .with(blk::SIZE_MAX)
            .with(general::EVENT_IDX)
            .with(general::INDIRECT_DESC);
        (wanted, Features::EMPTY)
    }

    /// Read the config space (§5.2.4) and size the client's queue depth:
    /// a request of one data segment takes 3 descriptors, or 1 with an
    /// indirect table; one slot stays for GET_ID or a barrier's flush.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), BlkError> {
        let mut config = [0u8; CONFIG_BYTES];
        device.read_config(0, &mut config)?;
        let features = device.features();
        let facts = BlkFacts::parse(&config, features);
        let queue = &device.queues;
        let chains = if queue.uses_indirect() { queue.size() } else { queue.size() / 3 };
        self.disk = Some(Disk {
            features,
            limits: facts.limits(),
            facts,
            serial: [0; ID_BYTES],
            queue_depth: chains.min(SLOTS as u16 - 1),
            info_ready: false,
        });
        Ok(())
    }

    /// Answer what the device held with ERR_IO, withdraw the storage
    /// information.
    fn remove(&mut self) {
        self.forget_disk();
    }

    fn interrupt(&mut self, ctx: &mut BlkCtx<'_>, causes: u32) {
        storm("an interrupt, before harvesting");
        if causes & INT_CONFIG_CHANGE != 0 {
            self.refresh_config(ctx);
        }
        self.pump(ctx, true);
    }

    fn client_notified(&mut self, ctx: &mut BlkCtx<'_>) {
        self.pump(ctx, true);
    }

    /// A new device asks for its id first; then (or with no device) the
    /// waiting requests are served, answered or left waiting.
    fn after_bind(&mut self, ctx: &mut BlkCtx<'_>) {
        sevio_driver_core::drill::storm_point("blk", "bring-up", true);
        if ctx.device().is_some() {
            self.start_get_id(ctx);
        }
        self.pump(ctx, false);
    }

    /// `Starting` until the storage information is published.
    fn status(&self, device: DriverStatus) -> DriverStatus {
        match device {
            DriverStatus::Ready if !self.disk.is_some_and(|d| d.info_ready) => DriverStatus::Starting,
            other => other,
        }
    }

    /// What the journal recovered (once, after a restart), the first
    /// answer since, and why the client is no longer served (once).
    fn report(&mut self, name: &str) {
        if let Some((opens, r)) = self.recovery.take() {
            if r.corrupt {
                sevio_runtime::debug_println!(
                    "{}: journal corrupt at start {}: {} request(s) it still names answered ERR_IO, unreadable entries lost",
                    name,
                    opens + 1,
                    r.failed
                );
            } else {
                sevio_runtime::debug_println!(
                    "{}: journal at start {}: {} request(s) resubmitted ({} the device had), {} answer(s) given again, {} entries settled",
                    name,
                    opens + 1,
                    r.resubmitted,
                    r.were_posted,
                    r.answered_again,
                    r.dropped
                );
            }
        }
        if let Some(at) = self.first_answer_at.take() {
            // The runtime's clock, which the bus logs the fault on too:
            // the two lines give the time from fault to service.
            sevio_runtime::debug_println!("{}: first answer since the restart at {} us", name, at / 1000);
        }
        if let (Some(e), false) = (self.client_error, self.client_error_logged) {
            self.client_error_logged = true;
            sevio_runtime::debug_println!("{}: client queues unusable, client no longer served: {:?}", name, e);
        }
    }
}

impl BlkDriver {
    /// Requests the device holds for the client (GET_ID not counted).
    pub fn client_in_flight(&self) -> usize {
        self.inflight.iter().flatten().filter(|r| r.kind != Kind::GetId).count()
    }

    /// Why the client is no longer served, if it broke its queue protocol.
    pub fn client_error(&self) -> Option<QueueError> {
        self.client_error
    }

    /// The device broke a rule: the framework resets it and holds it
    /// failed; what it held is answered now, in this event.
    fn fail(&mut self, ctx: &mut BlkCtx<'_>, e: BlkError) {
        ctx.fail(e);
        self.forget_disk();
    }

    /// The device is gone: answer what it held, withdraw the storage
    /// information. Idempotent (a failure forgets at once, `remove`
    /// follows).
    fn forget_disk(&mut self) {
        for slot in 0..SLOTS {
            if let Some(r) = self.inflight[slot].take() {
                self.answer(r, BlkStatus::Io);
            }
        }
        self.by_token = [NO_SLOT; QUEUE_SIZE];
        if self.disk.take().is_some() {
            let _ = StorageInfo::retract(&self.storage_info);
        }
        self.publish_responses();
    }

    /// The client's queues, while it is served.
    pub fn client_queues(&self) -> Option<&ClientQueues> {
        self.client.as_ref()
    }

    fn client_failed(&mut self, e: QueueError) {
        self.client = None;
        self.client_error = Some(e);
    }

    /// Re-read config after a config-change interrupt (capacity can
    /// change) and republish the storage information.
    fn refresh_config(&mut self, ctx: &mut BlkCtx<'_>) {
        let Some(disk) = &mut self.disk else { return };
        let mut config = [0u8; CONFIG_BYTES];
        let t = ctx.transport();
        if read_config(&mut |r| Ok::<_, core::convert::Infallible>(t.call(r)), 0, &mut config, CONFIG_ATTEMPTS).is_err()
        {
            return;
        }
        disk.facts = BlkFacts::parse(&config, disk.features);
        disk.limits = disk.facts.limits();
        // Republished without a notification: sDDF's peers read the page
        // when they need it and take every notification for responses.
        if disk.info_ready {
            let _ = disk.facts.storage_info(&disk.serial, disk.queue_depth).publish(&self.storage_info);
        }
    }

    /// Harvest (if asked), serve, arm; repeat while the device got ahead
    /// of the arming. Then publish responses and tell the client. The
    /// framework kicks.
    fn pump(&mut self, ctx: &mut BlkCtx<'_>, mut harvest: bool) {
        // Each round harvests what the device did meanwhile; a device that
        // toggles used.idx could keep this going, so it is bounded.
        for _ in 0..MAX_ROUNDS {
            if harvest {
                self.harvest(ctx);
            }
            self.serve(ctx);
            let Some(device) = ctx.device() else { break };
            let in_flight = device.queues.in_flight();
            match device.queues.arm(in_flight) {
                Ok(false) => break,
                Ok(true) => harvest = true,
                Err(e) => self.fail(ctx, BlkError::Queue(e)),
            }
        }
        self.publish_responses();
        if core::mem::take(&mut self.notify_owed) {
            ctx.notify_client();
        }
    }

    /// Answer every used chain.
    fn harvest(&mut self, ctx: &mut BlkCtx<'_>) {
        loop {
            let Some(device) = ctx.device() else { return };
            match device.queues.pop_used() {
                Ok(Some(used)) => {
                    if let Some(key) = self.complete(used) {
                        ctx.unwatch(key);
                    }
                }
                Ok(None) => return,
                Err(e) => return self.fail(ctx, BlkError::Queue(e)),
            }
        }
    }

    /// Answer the request `used` completes; the key it was watched by.
    fn complete(&mut self, used: Used) -> Option<RequestKey> {
        let token = used.token.index() as usize;
        let slot = core::mem::replace(&mut self.by_token[token % QUEUE_SIZE], NO_SLOT) as usize;
        let r = self.inflight.get_mut(slot).and_then(Option::take)?;
        let status = self.slots.get(slot).and_then(|s| s.mem.read::<u8>(STATUS_AT)).unwrap_or(STATUS_UNWRITTEN);
        let ok = status == sevio_virtio::device::blk::status::OK;
        if r.kind == Kind::GetId {
            if let Some(disk) = &mut self.disk {
                if !ok || self.id_buf.mem.copy_out(0, &mut disk.serial).is_err() {
                    disk.serial = [0; ID_BYTES];
                }
            }
            self.publish_info();
            return None;
        }
        self.answer(r, if ok { BlkStatus::Ok } else { BlkStatus::Io });
        storm("an answer staged, not yet published");
        Some(watch_key(slot, r.id))
    }

    /// Send the response for a request that left the device.
    fn answer(&mut self, r: InFlight, status: BlkStatus) {
        let count = match (r.kind, status) {
            (Kind::Read | Kind::Write, BlkStatus::Ok) => r.count,
            _ => 0,
        };
        let Some(ticket) = r.ticket else { return };
        match r.kind {
            Kind::GetId => {}
            Kind::Barrier => {
                self.barrier = None;
                self.respond(ticket, status, 0);
            }
            _ => self.respond(ticket, status, count),
        }
    }

    /// Stage the answer to the request journaled as `ticket`.
    fn respond(&mut self, ticket: Ticket, status: BlkStatus, count: u16) {
        let Some(client) = &mut self.client else { return };
        // Room was checked before the request was taken; a full queue now
        // means the client broke the protocol.
        if let Err(e) = client.answer(ticket, status, count) {
            self.client_failed(e);
        }
    }

    /// Hand taken request slots back and publish the staged answers (in
    /// that order: see `journal`).
    fn publish_responses(&mut self) {
        let Some(client) = &mut self.client else { return };
        match client.publish() {
            Ok(false) => {}
            Ok(true) => {
                storm("answers published, the client not yet notified");
                self.notify_owed = true;
                if core::mem::take(&mut self.first_answer_owed) {
                    self.first_answer_at = Some(sevio_runtime::time::now_ns());
                }
            }
            Err(e) => self.client_failed(e),
        }
    }

    /// Publish the storage information (`ready` set with release), as
    /// sDDF's drivers do: without a notification. sDDF's virtualiser spins
    /// on `ready` in its init and has sent its first request by the time a
    /// notification could come; one it takes with an empty response queue
    /// is an error to it ("Notified by driver but queue is empty").
    fn publish_info(&mut self) {
        let Some(disk) = &mut self.disk else { return };
        if disk.facts.storage_info(&disk.serial, disk.queue_depth).publish(&self.storage_info).is_ok() {
            disk.info_ready = true;
        }
    }

    /// Ask the device for its id string (VIRTIO_BLK_T_GET_ID, 20 bytes);
    /// the storage information is published when it completes. With no
    /// room for it, publish at once without a serial.
    fn start_get_id(&mut self, ctx: &mut BlkCtx<'_>) {
        let Some(device) = ctx.device() else { return };
        let slot = free_slot(&self.inflight);
        let Some((slot, mem)) = slot.and_then(|i| Some((i, self.slots.get(i)?))) else {
            return self.publish_info();
        };
        let header = write_header(&mem, sevio_virtio::device::blk::req::GET_ID, 0);
        let _ = self.id_buf.mem.fill(0, self.id_buf.len(), 0);
        let bufs = id_chain(header, self.id_buf.paddr, mem.paddr + STATUS_AT as u64);
        if header == 0 || !device.queues.can_add(bufs.len()) {
            return self.publish_info();
        }
        match device.queues.add(&bufs) {
            Ok(token) => {
                self.by_token[token.index() as usize % QUEUE_SIZE] = slot as u8;
                self.inflight[slot] = Some(InFlight { ticket: None, id: 0, kind: Kind::GetId, count: 0 });
            }
            Err(_) => self.publish_info(),
        }
    }

    /// Take the next client request (one the journal recovered first) if
    /// one can go in flight and its response is sure to fit (the
    /// journal counts every answer owed: in flight, stashed, a barrier).
    fn next_request(&mut self) -> Option<(BlkRequest, Ticket)> {
        if let Some(r) = self.stash.take() {
            return Some(r);
        }
        let client = self.client.as_mut()?;
        if client.plugged() || free_slot(&self.inflight).is_none() {
            return None;
        }
        match client.take() {
            Ok(r) => {
                if r.is_some() {
                    storm("a request taken");
                }
                r
            }
            Err(e) => {
                self.client_failed(e);
                None
            }
        }
    }

    /// Serve client requests: into the queue while the device is up,
    /// ERR_IO once it failed, left waiting while there is none.
    fn serve(&mut self, ctx: &mut BlkCtx<'_>) {
        loop {
            if ctx.failed() {
                if let Some(b) = self.barrier.take() {
                    self.respond(b.ticket, BlkStatus::Io, 0);
                }
                while let Some((_, ticket)) = self.next_request() {
                    self.respond(ticket, BlkStatus::Io, 0);
                }
                break;
            }
            let Some((device, mut watch)) = ctx.device_and_watch() else { return };
            while self.barrier.is_none() {
                let Some((r, ticket)) = self.next_request() else { break };
                if let Submit::Full = self.submit(&mut device.queues, &mut watch, r, ticket) {
                    self.stash = Some((r, ticket));
                    break;
                }
            }
            // A barrier waits for everything before it.
            let Some(b) = self.barrier else { break };
            if b.flushing || self.client_in_flight() > 0 {
                break;
            }
            if !self.disk.is_some_and(|d| d.limits.flush) {
                self.barrier = None;
                self.respond(b.ticket, BlkStatus::Ok, 0);
                continue;
            }
            let flush = self.add_chain(&mut device.queues, &mut watch, Plan::Flush, Kind::Barrier, b.ticket, b.id, 0);
            if let Submit::Added = flush {
                self.barrier = Some(Barrier { flushing: true, ..b });
            }
            break;
        }
    }

    /// Check one request and put it in flight (or answer it).
    fn submit(
        &mut self,
        queue: &mut DriverQueue<QUEUE_SIZE>,
        watch: &mut Watch<'_>,
        r: BlkRequest,
        ticket: Ticket,
    ) -> Submit {
        let Some(limits) = self.disk.map(|d| d.limits) else { return Submit::Full };
        match request::plan(&r, &limits, &self.data) {
            Err(status) => {
                self.respond(ticket, status, 0);
                Submit::Answered
            }
            Ok(Plan::Barrier) => {
                self.barrier = Some(Barrier { ticket, id: r.id, flushing: false });
                Submit::Answered
            }
            Ok(Plan::Flush) if !limits.flush => {
                self.respond(ticket, BlkStatus::Ok, 0);
                Submit::Answered
            }
            Ok(plan) => {
                let (kind, count) = match plan {
                    Plan::Read { count, .. } => (Kind::Read, count),
                    Plan::Write { count, .. } => (Kind::Write, count),
                    _ => (Kind::Flush, 0),
                };
                self.add_chain(queue, watch, plan, kind, ticket, r.id, count)
            }
        }
    }

    /// Post a client request's chain and start its deadline.
    #[allow(clippy::too_many_arguments)]
    fn add_chain(
        &mut self,
        queue: &mut DriverQueue<QUEUE_SIZE>,
        watch: &mut Watch<'_>,
        plan: Plan,
        kind: Kind,
        ticket: Ticket,
        id: u32,
        count: u16,
    ) -> Submit {
        let Some(limits) = self.disk.map(|d| d.limits) else { return Submit::Full };
        let Some(slot) = free_slot(&self.inflight) else { return Submit::Full };
        let Some(mem) = self.slots.get(slot) else { return Submit::Full };
        let (type_, sector) = header_of(&plan);
        let mut bufs = [Buffer::readable(0, 0); MAX_CHAIN];
        let n = chain(&plan, &limits, mem.paddr, mem.paddr + STATUS_AT as u64, &mut bufs);
        if !queue.can_add(n) || write_header(&mem, type_, sector) == 0 {
            return Submit::Full;
        }
        match queue.add(&bufs[..n]) {
            Ok(token) => {
                self.by_token[token.index() as usize % QUEUE_SIZE] = slot as u8;
                self.inflight[slot] = Some(InFlight { ticket: Some(ticket), id, kind, count });
                watch.watch(watch_key(slot, id));
                if let Some(client) = &mut self.client {
                    client.posted(ticket);
                }
                storm("a request posted, not yet kicked");
                Submit::Added
            }
            Err(_) => Submit::Full,
        }
    }
}

enum Submit {
    Added,
    Answered,
    Full,
}

/// A fault storm point (`sevio_driver_core::drill`): nothing unless
/// system.xml gives blk the storm page.
fn storm(place: &str) {
    sevio_driver_core::drill::storm_point("blk", place, false);
    sevio_driver_core::drill::hang_point("blk", place);
}

/// A client request's deadline key: its slot, named by the client's id.
fn watch_key(slot: usize, id: u32) -> RequestKey {
    RequestKey { slot: slot as u16, id }
}

fn free_slot(inflight: &[Option<InFlight>; SLOTS]) -> Option<usize> {
    inflight.iter().position(Option::is_none)
}

/// Write a request header into a slot and mark its status unwritten;
/// returns the header's device address (0 if the slot is too small,
/// which cannot happen with [`SLOT_BYTES`]).
fn write_header(slot: &DmaSlice, type_: u32, sector: u64) -> u64 {
    let ok = slot.mem.write::<u32>(0, type_.to_le()).is_ok()
        && slot.mem.write::<u32>(4, 0).is_ok()
        && slot.mem.write::<u64>(8, sector.to_le()).is_ok()
        && slot.mem.write::<u8>(STATUS_AT, STATUS_UNWRITTEN).is_ok();
    if ok { slot.paddr } else { 0 }
}
