//! [`BlkDriver`]: the virtio-blk driver as a plain type. The PD shell
//! (`main.rs`) feeds it events; tests feed it the same events with a fake
//! transport and device.
//!
//! Events and what each does:
//! - [`bind`](BlkDriver::bind) (the bus bound us): bring the device up
//!   (VERSION_1 on modern devices, FLUSH, BLK_SIZE, RO, SEG_MAX,
//!   SIZE_MAX, EVENT_IDX, INDIRECT_DESC when offered), read config, set
//!   up queue 0, send GET_ID; the storage information is published when
//!   GET_ID completes;
//! - [`client_notified`](BlkDriver::client_notified): take every queued
//!   client request that can go in flight, check it, add its chain; kick
//!   once (QueueNotify PPC, only if the device asks for it);
//! - [`interrupt`](BlkDriver::interrupt): harvest every used chain,
//!   answer each request, then serve more;
//! - [`unbind`](BlkDriver::unbind): the device is gone (the transport
//!   resets it): in-flight requests fail.
//!
//! After each event the queue is armed to interrupt once, when the last
//! request in flight completes (EVENT_IDX `used_event`); if the device
//! got there first the driver harvests again, so no completion is lost.
//! Responses are published once per event, and the client notified once
//! (through [`take_client_notify`](BlkDriver::take_client_notify)).
//!
//! Choices:
//! - not bound yet: requests wait in the request queue (a device may
//!   still come; the bus decides);
//! - device failed (bring-up failed, a used-ring violation, a refused
//!   kick): every request in flight and every later one is answered
//!   ERR_IO, the device is reset; a new binding starts afresh;
//! - status byte != OK from the device: ERR_IO;
//! - WRITE to a read-only device: ERR_INVALID_PARAM, no DMA;
//! - FLUSH without VIRTIO_BLK_F_FLUSH: OK at once (no writeback cache);
//! - BARRIER: later requests wait until every earlier one completed, then
//!   a device flush (if FLUSH) runs; the BARRIER is answered with its
//!   status.

use crate::info::{BlkFacts, CONFIG_BYTES};
use crate::request::{self, ClientRegion, Limits, MAX_CHAIN, Plan, chain, header_of, id_chain};
use sevio_driver_core::init::CONFIG_ATTEMPTS;
use sevio_driver_core::transport::call_ok;
use sevio_driver_core::{
    Bringup, CallError, DmaRegion, DmaSlice, DmaSlots, Driver, DriverEvents, DriverQueue, InitError, QueueParams,
    Transport,
};
use sevio_queue::{BlkRequest, BlkRequestConsumer, BlkResponse, BlkResponseProducer, BlkStatus, StorageInfo};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::doorbell::INT_CONFIG_CHANGE;
use sevio_transport_protocol::{DriverDoorbell, Request, TransportError, read_config};
use sevio_virtio::device::blk::{ID_BYTES, features as blk};
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features, Used};

/// The largest queue the driver sets up (and its private state's size):
/// 256, the size QEMU's legacy virtio-blk-pci fixes.
pub const QUEUE_SIZE: usize = 256;
/// Request slots (header + status) in the DMA region: the most requests
/// in flight, GET_ID included.
pub const SLOTS: usize = 64;
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

/// The features the driver accepts when offered (VERSION_1 is added for
/// modern devices by the bring-up).
pub fn wanted_features() -> Features {
    Features::EMPTY
        .with(blk::FLUSH)
        .with(blk::BLK_SIZE)
        .with(blk::RO)
        .with(blk::SEG_MAX)
        .with(blk::SIZE_MAX)
        .with(general::EVENT_IDX)
        .with(general::INDIRECT_DESC)
}

/// The memory the driver works with, from system.xml.
#[derive(Copy, Clone, Debug)]
pub struct BlkResources {
    /// The DMA region (queue, indirect tables, request slots).
    pub dma: DmaRegion,
    /// The doorbell page shared with the transport.
    pub doorbell: SharedMemory,
    /// The storage information page shared with the client.
    pub storage_info: SharedMemory,
    /// The request queue region.
    pub requests: SharedMemory,
    /// The response queue region.
    pub responses: SharedMemory,
    /// Entries of each client queue (agreed with the client).
    pub queue_capacity: u32,
    /// The client's data region (physical address and size only).
    pub client_data: ClientRegion,
}

/// Why something failed (kept for the PD's log): the errors every
/// driver shares.
pub type BlkError = sevio_driver_core::DriverError;

/// Where the driver is: `Unbound` (requests wait), `Starting` (device
/// up, storage information not published yet), `Ready`, `Failed`
/// (requests get ERR_IO).
pub use sevio_driver_core::DriverStatus as Status;

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
    id: u32,
    kind: Kind,
    count: u16,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Barrier {
    id: u32,
    /// Its flush is in flight.
    flushing: bool,
}

struct Device {
    queue: DriverQueue<QUEUE_SIZE>,
    doorbell: DriverDoorbell,
    features: Features,
    facts: BlkFacts,
    serial: [u8; ID_BYTES],
    limits: Limits,
    slots: DmaSlots,
    id_buf: DmaSlice,
    queue_depth: u16,
    info_ready: bool,
}

// No heap: the device (with its queue's private state) lives inline.
#[allow(clippy::large_enum_variant)]
enum State {
    /// `retry`: bring-up found the transport not bound yet (it has not
    /// seen the bus's binding); try again at the next event.
    Unbound {
        retry: bool,
    },
    Up(Device),
    Failed,
}

/// The client's two queues.
struct Client {
    requests: BlkRequestConsumer,
    responses: BlkResponseProducer,
}

/// The virtio-blk driver.
pub struct BlkDriver<T: Transport> {
    transport: T,
    res: BlkResources,
    client: Option<Client>,
    state: State,
    inflight: [Option<InFlight>; SLOTS],
    by_token: [u8; QUEUE_SIZE],
    /// A request taken from the client that did not fit the queue yet.
    stash: Option<BlkRequest>,
    barrier: Option<Barrier>,
    notify_client: bool,
    last_error: Option<BlkError>,
}

impl<T: Transport> BlkDriver<T> {
    /// A driver with no device yet. The client queues are opened now; if
    /// they are unusable the driver never serves (see [`last_error`](Self::last_error)).
    pub fn new(transport: T, res: BlkResources) -> Self {
        let client = BlkRequestConsumer::new(res.requests, res.queue_capacity).and_then(|requests| {
            Ok(Client { requests, responses: BlkResponseProducer::new(res.responses, res.queue_capacity)? })
        });
        let (client, last_error) = match client {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(BlkError::Client(e))),
        };
        BlkDriver {
            transport,
            res,
            client,
            state: State::Unbound { retry: false },
            inflight: [None; SLOTS],
            by_token: [NO_SLOT; QUEUE_SIZE],
            stash: None,
            barrier: None,
            notify_client: false,
            last_error,
        }
    }

    /// Where the driver is.
    pub fn status(&self) -> Status {
        match &self.state {
            State::Unbound { .. } => Status::Unbound,
            State::Up(d) if d.info_ready => Status::Ready,
            State::Up(_) => Status::Starting,
            State::Failed => Status::Failed,
        }
    }

    /// The last error seen (for the log).
    pub fn last_error(&self) -> Option<BlkError> {
        self.last_error
    }

    /// The transport (tests reach the fake device through it).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Requests the device holds for the client (GET_ID not counted).
    pub fn client_in_flight(&self) -> usize {
        self.inflight.iter().flatten().filter(|r| r.kind != Kind::GetId).count()
    }

    /// Whether the client should be notified (clears the flag). The PD
    /// shell turns it into one deferred notify per event.
    pub fn take_client_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify_client)
    }

    fn fail(&mut self, e: BlkError) {
        self.last_error = Some(e);
    }

    /// The bus bound a device to this driver: bring it up. Called again
    /// for a new binding (the old device is let go first).
    pub fn bind(&mut self) -> Result<(), BlkError> {
        if matches!(self.state, State::Up(_) | State::Failed) {
            self.unbind();
        }
        let result = self.bring_up();
        match result {
            Ok(device) => {
                self.state = State::Up(device);
                self.start_get_id();
                self.pump(false, true);
                Ok(())
            }
            Err(BlkError::Init(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound)))) => {
                self.state = State::Unbound { retry: true };
                result.map(|_| ())
            }
            Err(e) => {
                self.fail(e);
                self.state = State::Failed;
                self.pump(false, false);
                Err(e)
            }
        }
    }

    fn bring_up(&mut self) -> Result<Device, BlkError> {
        let doorbell = DriverDoorbell::open(self.res.doorbell).map_err(BlkError::Doorbell)?;
        let mut carver = self.res.dma.carver();
        let slots = carver.slots(SLOTS, SLOT_BYTES, 16).map_err(BlkError::Dma)?;
        let id_buf = carver.take(ID_BYTES, 16).map_err(BlkError::Dma)?;
        let init = BlkError::Init;
        let mut c = Bringup::start(&mut self.transport, DeviceId::BLK)
            .map_err(init)?
            .negotiate(wanted_features(), Features::EMPTY)
            .map_err(init)?;
        let mut config = [0u8; CONFIG_BYTES];
        c.read_config(0, &mut config).map_err(init)?;
        let facts = BlkFacts::parse(&config, c.features());
        let params = QueueParams { max_size: QUEUE_SIZE as u16, min_size: 4, indirect_descs: MAX_CHAIN as u16 };
        let queue = c.queue::<QUEUE_SIZE>(0, params, &mut carver).map_err(init)?;
        let features = c.features();
        c.driver_ok().map_err(init)?;
        // A request of one data segment takes 3 descriptors, or 1 with an
        // indirect table; one slot stays for GET_ID / a barrier's flush.
        let chains = if queue.uses_indirect() { queue.size() } else { queue.size() / 3 };
        let queue_depth = chains.min(SLOTS as u16 - 1);
        Ok(Device {
            queue,
            doorbell,
            features,
            limits: facts.limits(),
            facts,
            serial: [0; ID_BYTES],
            slots,
            id_buf,
            queue_depth,
            info_ready: false,
        })
    }

    /// The device is gone (unbound by the bus, or replaced): answer what
    /// it held with ERR_IO, withdraw the storage information.
    pub fn unbind(&mut self) {
        self.drop_device();
        self.state = State::Unbound { retry: false };
        self.publish_responses();
    }

    fn drop_device(&mut self) {
        for slot in 0..SLOTS {
            if let Some(r) = self.inflight[slot].take() {
                self.answer(r, BlkStatus::Io);
            }
        }
        self.by_token = [NO_SLOT; QUEUE_SIZE];
        if matches!(self.state, State::Up(_)) {
            let _ = StorageInfo::retract(&self.res.storage_info);
        }
    }

    /// The device misbehaved or the transport refused: stop using the
    /// queue, reset the device, fail what it held.
    fn fail_device(&mut self, e: BlkError) {
        self.fail(e);
        self.drop_device();
        let _ = self.transport.call(Request::Reset);
        self.state = State::Failed;
    }

    /// The transport notified us: the device interrupted.
    pub fn interrupt(&mut self) {
        self.retry_bind();
        let State::Up(dev) = &mut self.state else { return };
        if dev.doorbell.take_interrupts() & INT_CONFIG_CHANGE != 0 {
            self.refresh_config();
        }
        self.pump(true, false);
    }

    /// The client notified us: new requests.
    pub fn client_notified(&mut self) {
        self.retry_bind();
        self.pump(true, false);
    }

    fn retry_bind(&mut self) {
        if matches!(self.state, State::Unbound { retry: true }) {
            let _ = self.bind();
        }
    }

    /// Re-read config after a config-change interrupt (capacity can
    /// change) and republish the storage information.
    fn refresh_config(&mut self) {
        let State::Up(dev) = &mut self.state else { return };
        let mut config = [0u8; CONFIG_BYTES];
        let t = &mut self.transport;
        if read_config(&mut |r| Ok::<_, core::convert::Infallible>(t.call(r)), 0, &mut config, CONFIG_ATTEMPTS).is_err()
        {
            return;
        }
        dev.facts = BlkFacts::parse(&config, dev.features);
        dev.limits = dev.facts.limits();
        if dev.info_ready {
            let _ = dev.facts.storage_info(&dev.serial, dev.queue_depth).publish(&self.res.storage_info);
            self.notify_client = true;
        }
    }

    /// Harvest (if asked), serve, kick, arm; repeat while the device got
    /// ahead of the arming. Then publish responses.
    fn pump(&mut self, mut harvest: bool, mut added: bool) {
        // Each round harvests what the device did meanwhile; a device that
        // toggles used.idx could keep this going, so it is bounded.
        for _ in 0..MAX_ROUNDS {
            if harvest {
                self.harvest();
            }
            added |= self.serve();
            let State::Up(dev) = &mut self.state else { break };
            if added {
                let kick = match dev.queue.needs_kick() {
                    Ok(k) => k,
                    Err(e) => {
                        self.fail_device(BlkError::Queue(e));
                        continue;
                    }
                };
                if kick {
                    if let Err(e) = call_ok(&mut self.transport, Request::QueueNotify { queue: dev.queue.index() }) {
                        self.fail_device(BlkError::Transport(e));
                        continue;
                    }
                }
            }
            added = false;
            let in_flight = dev.queue.in_flight();
            match dev.queue.arm(in_flight) {
                Ok(false) => break,
                Ok(true) => harvest = true,
                Err(e) => self.fail_device(BlkError::Queue(e)),
            }
        }
        self.publish_responses();
    }

    /// Answer every used chain.
    fn harvest(&mut self) {
        loop {
            let State::Up(dev) = &mut self.state else { return };
            match dev.queue.pop_used() {
                Ok(Some(used)) => self.complete(used),
                Ok(None) => return,
                Err(e) => return self.fail_device(BlkError::Queue(e)),
            }
        }
    }

    fn complete(&mut self, used: Used) {
        let State::Up(dev) = &mut self.state else { return };
        let token = used.token.index() as usize;
        let slot = core::mem::replace(&mut self.by_token[token % QUEUE_SIZE], NO_SLOT) as usize;
        let Some(r) = self.inflight.get_mut(slot).and_then(Option::take) else { return };
        let status = dev.slots.get(slot).and_then(|s| s.mem.read::<u8>(STATUS_AT)).unwrap_or(STATUS_UNWRITTEN);
        let ok = status == sevio_virtio::device::blk::status::OK;
        if r.kind == Kind::GetId {
            if !ok || dev.id_buf.mem.copy_out(0, &mut dev.serial).is_err() {
                dev.serial = [0; ID_BYTES];
            }
            self.publish_info();
            return;
        }
        self.answer(r, if ok { BlkStatus::Ok } else { BlkStatus::Io });
    }

    /// Send the response for a request that left the device.
    fn answer(&mut self, r: InFlight, status: BlkStatus) {
        let count = match (r.kind, status) {
            (Kind::Read | Kind::Write, BlkStatus::Ok) => r.count,
            _ => 0,
        };
        match r.kind {
            Kind::GetId => {}
            Kind::Barrier => {
                self.barrier = None;
                self.respond(status, 0, r.id);
            }
            _ => self.respond(status, count, r.id),
        }
    }

    fn respond(&mut self, status: BlkStatus, count: u16, id: u32) {
        let Some(client) = &mut self.client else { return };
        // Room was checked before the request was taken; a full queue now
        // means the client broke the protocol.
        if let Err(e) = client.responses.stage(BlkResponse::new(status, count, id)) {
            self.client = None;
            self.fail(BlkError::Client(e));
        }
    }

    fn publish_responses(&mut self) {
        let Some(client) = &mut self.client else { return };
        if client.responses.staged() == 0 {
            return;
        }
        match client.responses.publish() {
            Ok(()) => self.notify_client = true,
            Err(e) => {
                self.client = None;
                self.fail(BlkError::Client(e));
            }
        }
    }

    /// Publish the storage information (ready, with release) and tell
    /// the client.
    fn publish_info(&mut self) {
        let State::Up(dev) = &mut self.state else { return };
        if dev.facts.storage_info(&dev.serial, dev.queue_depth).publish(&self.res.storage_info).is_ok() {
            dev.info_ready = true;
            self.notify_client = true;
        }
    }

    /// Ask the device for its id string (VIRTIO_BLK_T_GET_ID, 20 bytes);
    /// the storage information is published when it completes. With no
    /// room for it, publish at once without a serial.
    fn start_get_id(&mut self) {
        let State::Up(dev) = &mut self.state else { return };
        let slot = free_slot(&self.inflight);
        let Some((slot, mem)) = slot.and_then(|i| Some((i, dev.slots.get(i)?))) else {
            return self.publish_info();
        };
        let header = write_header(&mem, sevio_virtio::device::blk::req::GET_ID, 0);
        let _ = dev.id_buf.mem.fill(0, dev.id_buf.len(), 0);
        let bufs = id_chain(header, dev.id_buf.paddr, mem.paddr + STATUS_AT as u64);
        if header == 0 || !dev.queue.can_add(bufs.len()) {
            return self.publish_info();
        }
        match dev.queue.add(&bufs) {
            Ok(token) => {
                self.by_token[token.index() as usize % QUEUE_SIZE] = slot as u8;
                self.inflight[slot] = Some(InFlight { id: 0, kind: Kind::GetId, count: 0 });
            }
            Err(_) => self.publish_info(),
        }
    }

    /// Responses the driver owes: requests in flight, the stashed one,
    /// a barrier not yet in flight.
    fn owed(&self) -> u32 {
        let flying = self.client_in_flight() as u32;
        let barrier = self.barrier.is_some_and(|b| !b.flushing) as u32;
        flying + self.stash.is_some() as u32 + barrier
    }

    /// Take the next client request if one can go in flight and its
    /// response is sure to fit.
    fn next_request(&mut self) -> Option<BlkRequest> {
        if let Some(r) = self.stash.take() {
            return Some(r);
        }
        let owed = self.owed();
        let client = self.client.as_mut()?;
        if client.requests.plugged() || free_slot(&self.inflight).is_none() {
            return None;
        }
        let taken = client.responses.free().and_then(|room| match room > owed {
            true => client.requests.take(),
            false => Ok(None),
        });
        match taken {
            Ok(r) => r,
            Err(e) => {
                self.client = None;
                self.fail(BlkError::Client(e));
                None
            }
        }
    }

    /// Serve client requests; returns whether chains were added.
    fn serve(&mut self) -> bool {
        let mut added = false;
        loop {
            match self.state {
                State::Unbound { .. } => return false,
                State::Failed => {
                    if let Some(b) = self.barrier.take() {
                        self.respond(BlkStatus::Io, 0, b.id);
                    }
                    while let Some(r) = self.next_request() {
                        self.respond(BlkStatus::Io, 0, r.id);
                    }
                    break;
                }
                State::Up(_) => {}
            }
            while self.barrier.is_none() {
                let Some(r) = self.next_request() else { break };
                match self.submit(r) {
                    Submit::Added => added = true,
                    Submit::Answered => {}
                    Submit::Full => {
                        self.stash = Some(r);
                        break;
                    }
                }
            }
            // A barrier waits for everything before it.
            let Some(b) = self.barrier else { break };
            if b.flushing || self.client_in_flight() > 0 {
                break;
            }
            if !self.device_limits().is_some_and(|l| l.flush) {
                self.barrier = None;
                self.respond(BlkStatus::Ok, 0, b.id);
                continue;
            }
            match self.add_chain(Plan::Flush, Kind::Barrier, b.id, 0) {
                Submit::Added => {
                    added = true;
                    self.barrier = Some(Barrier { flushing: true, ..b });
                }
                Submit::Answered | Submit::Full => {}
            }
            break;
        }
        if let Some(client) = &mut self.client {
            if let Err(e) = client.requests.publish() {
                self.client = None;
                self.fail(BlkError::Client(e));
            }
        }
        added
    }

    fn device_limits(&self) -> Option<Limits> {
        match &self.state {
            State::Up(d) => Some(d.limits),
            _ => None,
        }
    }

    /// Check one request and put it in flight (or answer it).
    fn submit(&mut self, r: BlkRequest) -> Submit {
        let Some(limits) = self.device_limits() else { return Submit::Full };
        match request::plan(&r, &limits, &self.res.client_data) {
            Err(status) => {
                self.respond(status, 0, r.id);
                Submit::Answered
            }
            Ok(Plan::Barrier) => {
                self.barrier = Some(Barrier { id: r.id, flushing: false });
                Submit::Answered
            }
            Ok(Plan::Flush) if !limits.flush => {
                self.respond(BlkStatus::Ok, 0, r.id);
                Submit::Answered
            }
            Ok(plan) => {
                let kind = match plan {
                    Plan::Read { .. } => Kind::Read,
                    Plan::Write { .. } => Kind::Write,
                    _ => Kind::Flush,
                };
                let count = match plan {
                    Plan::Read { count, .. } | Plan::Write { count, .. } => count,
                    _ => 0,
                };
                self.add_chain(plan, kind, r.id, count)
            }
        }
    }

    fn add_chain(&mut self, plan: Plan, kind: Kind, id: u32, count: u16) -> Submit {
        let State::Up(dev) = &mut self.state else { return Submit::Full };
        let Some(slot) = free_slot(&self.inflight) else { return Submit::Full };
        let Some(mem) = dev.slots.get(slot) else { return Submit::Full };
        let (type_, sector) = header_of(&plan);
        let mut bufs = [Buffer::readable(0, 0); MAX_CHAIN];
        let n = chain(&plan, &dev.limits, mem.paddr, mem.paddr + STATUS_AT as u64, &mut bufs);
        if !dev.queue.can_add(n) {
            return Submit::Full;
        }
        if write_header(&mem, type_, sector) == 0 {
            return Submit::Full;
        }
        match dev.queue.add(&bufs[..n]) {
            Ok(token) => {
                self.by_token[token.index() as usize % QUEUE_SIZE] = slot as u8;
                self.inflight[slot] = Some(InFlight { id, kind, count });
                Submit::Added
            }
            Err(_) => Submit::Full,
        }
    }
}

impl<T: Transport> DriverEvents for BlkDriver<T> {
    fn interrupt(&mut self) {
        BlkDriver::interrupt(self)
    }

    fn client_notified(&mut self) {
        BlkDriver::client_notified(self)
    }

    fn take_client_notify(&mut self) -> bool {
        BlkDriver::take_client_notify(self)
    }
}

impl<T: Transport> Driver for BlkDriver<T> {
    type Error = BlkError;
    fn bind(&mut self) -> Result<(), BlkError> {
        BlkDriver::bind(self)
    }
    fn unbind(&mut self) {
        BlkDriver::unbind(self)
    }
    fn status(&self) -> Status {
        BlkDriver::status(self)
    }
    fn last_error(&self) -> Option<BlkError> {
        BlkDriver::last_error(self)
    }
}

enum Submit {
    Added,
    Answered,
    Full,
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
