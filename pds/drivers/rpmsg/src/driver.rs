//! [`RpmsgDriver`]: the virtio-rpmsg driver, a [`VirtioDriver`]. The
//! framework brings the device up, sets up both queues, kicks and keeps
//! the device state; this is the rpmsg logic.
//!
//! The device (Linux's `virtio_rpmsg_bus` is the driver side of the same
//! protocol) has two queues: rx 0, into which the driver posts
//! [`QUEUE_SIZE`] writable buffers of 512 bytes the remote fills with
//! messages, and tx 1, into which it posts readable buffers with its own
//! messages. Every buffer is in the driver's DMA region: the device never
//! sees the client's memory.
//!
//! From the client (`sevio_queue::rpmsg`): `Create` makes a local
//! endpoint at the next free address from 1024 and, when the name service
//! is negotiated, announces it to the remote (`NS_ADDR`); `Send` goes out
//! in a tx buffer from one of the client's endpoints. A message larger
//! than a buffer, from an endpoint the client does not have, or a bad
//! name is refused with an event saying why.
//!
//! From the remote: a message whose header length runs past what the
//! device wrote, to an address with no endpoint, or a name-service
//! message that does not parse (wrong size, unterminated name, unknown
//! flags) is logged and dropped. Good ones become events for the client.
//!
//! Flow control: a request waits while no tx buffer is free; rx buffers
//! are harvested only while the client's event ring has room (the remote
//! then waits for rx buffers). Nothing is lost, nothing is overwritten.

use crate::{MAX_ENDPOINTS, QUEUE_SIZE};
use sevio_driver_core::{
    Ctx, DmaCarver, DmaSlots, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, RegionSetvars, SystemMaps,
    Unusable, VirtioDriver,
};
use sevio_queue::QueueError;
use sevio_queue::rpmsg::{DriverPort, EndpointName, Event, Payload, RawEntry, Refusal, Request};
use sevio_runtime::debug_println;
use sevio_virtio::device::rpmsg::{
    BUFFER_SIZE, F_NS, Header, MessageError, NS_ADDR, NsAction, NsMessage, RESERVED_ADDRESSES, RX_QUEUE, TX_QUEUE,
};
use sevio_virtio::{Buffer, DeviceId, Features, Used};

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct RpmsgSetvars {
    /// The control region shared with the client (`rpmsg_control`).
    pub control: RegionSetvars,
}

/// Counters, for the log and tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent for the client.
    pub sent: u64,
    /// Messages delivered to the client.
    pub received: u64,
    /// Announcements delivered to the client.
    pub announcements: u64,
    /// Messages from the remote dropped.
    pub dropped: u64,
    /// Client requests refused.
    pub refused: u64,
}

const NO_BUFFER: u8 = u8::MAX;

/// The virtio-rpmsg driver.
pub struct RpmsgDriver {
    port: DriverPort,
    rx_bufs: DmaSlots,
    tx_bufs: DmaSlots,
    /// Buffer index held by each rx / tx token.
    rx_of_token: [u8; QUEUE_SIZE],
    tx_of_token: [u8; QUEUE_SIZE],
    /// Bit i: tx buffer i is free.
    tx_free: u64,
    endpoints: [Option<(u32, EndpointName)>; MAX_ENDPOINTS],
    next_addr: u32,
    /// Whether the name service was negotiated.
    ns: bool,
    /// A request taken from the client that waits for a tx buffer.
    waiting: Option<RawEntry>,
    stats: Stats,
    logged: Stats,
}

type RpmsgCtx<'a> = Ctx<'a, RpmsgDriver>;
type Queues = (DriverQueue<QUEUE_SIZE>, DriverQueue<QUEUE_SIZE>);

const PARAMS: QueueParams = QueueParams { max_size: QUEUE_SIZE as u16, min_size: 1, indirect_descs: 0 };
const ALL_FREE: u64 = u64::MAX;

/// What became of one thing the driver tried.
enum Step {
    /// Done; look for more.
    Done,
    /// Blocked on a buffer or on room in the event ring.
    Blocked,
}

impl VirtioDriver for RpmsgDriver {
    const DEVICE: DeviceId = DeviceId::RPMSG;
    type Queues = Queues;
    const QUEUES: [QueueSpec; 2] =
        [QueueSpec { index: RX_QUEUE, params: PARAMS }, QueueSpec { index: TX_QUEUE, params: PARAMS }];
    type Error = DriverError;
    type Setvars = RpmsgSetvars;

    /// The rx and tx buffers come first in the DMA region.
    fn new(vars: RpmsgSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let port = DriverPort::new(maps.region(vars.control)?).map_err(|_| Unusable::Layout(vars.control.region))?;
        let rx_bufs = dma.slots(QUEUE_SIZE, BUFFER_SIZE, 64).map_err(Unusable::DmaRoom)?;
        let tx_bufs = dma.slots(QUEUE_SIZE, BUFFER_SIZE, 64).map_err(Unusable::DmaRoom)?;
        Ok(RpmsgDriver {
            port,
            rx_bufs,
            tx_bufs,
            rx_of_token: [NO_BUFFER; QUEUE_SIZE],
            tx_of_token: [NO_BUFFER; QUEUE_SIZE],
            tx_free: ALL_FREE,
            endpoints: [None; MAX_ENDPOINTS],
            next_addr: RESERVED_ADDRESSES,
            ns: false,
            waiting: None,
            stats: Stats::default(),
            logged: Stats::default(),
        })
    }

    /// The name service when offered; nothing required.
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(F_NS), Features::EMPTY)
    }

    /// Post every rx buffer the queue holds.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), DriverError> {
        self.ns = device.features().has(F_NS);
        let rx = &mut device.queues.0;
        for i in 0..(rx.size() as usize).min(QUEUE_SIZE) {
            let Some(buf) = self.rx_bufs.get(i) else { break };
            let token = rx.add(&[Buffer::writable(buf.paddr, BUFFER_SIZE as u32)]).map_err(DriverError::Queue)?;
            self.rx_of_token[token.index() as usize % QUEUE_SIZE] = i as u8;
        }
        Ok(())
    }

    /// Forget every buffer the device held; endpoints stay (they are the
    /// client's), and are announced again on the next device.
    fn remove(&mut self) {
        self.rx_of_token = [NO_BUFFER; QUEUE_SIZE];
        self.tx_of_token = [NO_BUFFER; QUEUE_SIZE];
        self.tx_free = ALL_FREE;
    }

    fn interrupt(&mut self, ctx: &mut RpmsgCtx<'_>, _causes: u32) {
        self.pump(ctx);
    }

    fn client_notified(&mut self, ctx: &mut RpmsgCtx<'_>) {
        self.pump(ctx);
    }

    /// The counters, whenever something other than a delivery changed.
    fn report(&mut self, name: &str) {
        let s = self.stats;
        let quiet = Stats { sent: self.logged.sent, received: self.logged.received, ..s };
        if quiet != self.logged {
            debug_println!(
                "{name}: {} sent, {} received, {} announcements, {} dropped, {} refused",
                s.sent,
                s.received,
                s.announcements,
                s.dropped,
                s.refused
            );
            self.logged = s;
        }
    }
}

impl RpmsgDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Harvest tx, deliver rx, serve requests, arm; repeat while the
    /// device got ahead of the arming. The framework kicks.
    fn pump(&mut self, ctx: &mut RpmsgCtx<'_>) {
        for _ in 0..4 * QUEUE_SIZE {
            if let Err(e) = self.harvest_tx(ctx).and_then(|()| self.deliver_rx(ctx)) {
                return ctx.fail(DriverError::Queue(e));
            }
            self.serve_requests(ctx);
            if let Err(e) = self.port.events.publish() {
                return self.client_broke(e);
            }
            let Some(device) = ctx.device() else { return };
            let (rx, tx) = &mut device.queues;
            let (rx_in, tx_in) = (rx.in_flight(), tx.in_flight());
            match (rx.arm(rx_in), tx.arm(tx_in)) {
                (Ok(false), Ok(false)) => return,
                (Ok(_), Ok(_)) => {}
                (Err(e), _) | (_, Err(e)) => return ctx.fail(DriverError::Queue(e)),
            }
        }
    }

    fn client_broke(&mut self, e: QueueError) {
        debug_println!("rpmsg: the client's rings are unusable: {e:?}");
    }

    fn harvest_tx(&mut self, ctx: &mut RpmsgCtx<'_>) -> Result<(), sevio_virtio::Error> {
        let Some(device) = ctx.device() else { return Ok(()) };
        while let Some(used) = device.queues.1.pop_used()? {
            let slot = &mut self.tx_of_token[used.token.index() as usize % QUEUE_SIZE];
            let i = core::mem::replace(slot, NO_BUFFER);
            if (i as usize) < QUEUE_SIZE {
                self.tx_free |= 1 << i;
            }
        }
        Ok(())
    }

    /// Room for one more event in the client's ring.
    fn event_room(&mut self) -> bool {
        self.port.events.free().is_ok_and(|n| n > 0)
    }

    fn emit(&mut self, event: Event) {
        if let Err(e) = self.port.events.stage(event.encode()) {
            self.client_broke(e);
        }
        // The client is told once the event is over.
    }

    /// Deliver the remote's messages while the client has room for them;
    /// each buffer goes straight back to the device.
    fn deliver_rx(&mut self, ctx: &mut RpmsgCtx<'_>) -> Result<(), sevio_virtio::Error> {
        loop {
            if !self.event_room() {
                return Ok(());
            }
            let Some(device) = ctx.device() else { return Ok(()) };
            let Some(used) = device.queues.0.pop_used()? else { return Ok(()) };
            let i = core::mem::replace(&mut self.rx_of_token[used.token.index() as usize % QUEUE_SIZE], NO_BUFFER);
            let Some(buf) = self.rx_bufs.get(i as usize) else { continue };
            if let Some(event) = self.message(used, buf.mem) {
                self.emit(event);
                ctx.notify_client();
            }
            let Some(device) = ctx.device() else { return Ok(()) };
            let token = device.queues.0.add(&[Buffer::writable(buf.paddr, BUFFER_SIZE as u32)])?;
            self.rx_of_token[token.index() as usize % QUEUE_SIZE] = i;
        }
    }

    fn dropped(&mut self, why: MessageError) -> Option<Event> {
        self.stats.dropped += 1;
        debug_println!("rpmsg: message from the remote dropped: {why:?}");
        None
    }

    /// What a message from the remote means for the client, if anything.
    /// `used.len` is at most the buffer's 512 bytes (the split queue
    /// checked it against what was posted).
    fn message(&mut self, used: Used, mem: sevio_sharedmem::SharedMemory) -> Option<Event> {
        let mut bytes = [0u8; BUFFER_SIZE];
        let n = (used.len as usize).min(BUFFER_SIZE);
        if mem.copy_out(0, &mut bytes[..n]).is_err() {
            return self.dropped(MessageError::Short { got: 0 });
        }
        let (header, payload) = match Header::parse(&bytes[..n]) {
            Ok(m) => m,
            Err(e) => return self.dropped(e),
        };
        if header.dst == NS_ADDR && self.ns {
            let ns = match NsMessage::parse(payload) {
                Ok(ns) => ns,
                Err(e) => return self.dropped(e),
            };
            self.stats.announcements += 1;
            return Some(Event::Announced { remote: ns.addr, name: ns.name, created: ns.action == NsAction::Create });
        }
        if !self.endpoints.iter().flatten().any(|(addr, _)| *addr == header.dst) {
            self.stats.dropped += 1;
            debug_println!("rpmsg: message from {} to unknown address {} dropped", header.src, header.dst);
            return None;
        }
        self.stats.received += 1;
        Some(Event::Received { local: header.dst, remote: header.src, payload: Payload::new(payload) })
    }

    fn refuse(&mut self, entry: &RawEntry, why: Refusal) {
        self.stats.refused += 1;
        debug_println!(
            "rpmsg: request refused: {why:?} (from {} to {}, {} bytes)",
            entry.local,
            entry.remote,
            entry.len
        );
        self.emit(Event::Refused { local: entry.local, remote: entry.remote, len: entry.len, why });
    }

    /// Serve the client's requests while there are tx buffers and event
    /// room.
    fn serve_requests(&mut self, ctx: &mut RpmsgCtx<'_>) {
        loop {
            if !self.event_room() {
                return;
            }
            let entry = match self.waiting.take() {
                Some(e) => e,
                None => match self.port.requests.dequeue() {
                    Ok(Some(e)) => e,
                    Ok(None) => return,
                    Err(e) => return self.client_broke(e),
                },
            };
            ctx.notify_client();
            match self.request(ctx, &entry) {
                Step::Done => {}
                Step::Blocked => {
                    self.waiting = Some(entry);
                    return;
                }
            }
        }
    }

    fn request(&mut self, ctx: &mut RpmsgCtx<'_>, entry: &RawEntry) -> Step {
        if ctx.failed() {
            self.refuse(entry, Refusal::NoDevice);
            return Step::Done;
        }
        // Before a device is up the name service is not known: wait.
        if ctx.device().is_none() {
            return Step::Blocked;
        }
        match Request::decode(entry) {
            Err(why) => self.refuse(entry, why),
            Ok(Request::Create { name }) => return self.create(ctx, entry, name),
            Ok(Request::Send { local, remote, payload }) => {
                if !self.endpoints.iter().flatten().any(|(addr, _)| *addr == local) {
                    self.refuse(entry, Refusal::UnknownEndpoint);
                    return Step::Done;
                }
                let Some(bytes) = payload.bytes() else {
                    self.refuse(entry, Refusal::TooLarge);
                    return Step::Done;
                };
                return match self.transmit(ctx, local, remote, bytes) {
                    Ok(true) => {
                        self.stats.sent += 1;
                        Step::Done
                    }
                    Ok(false) => Step::Blocked,
                    Err(MessageError::TooLarge { .. }) => {
                        self.refuse(entry, Refusal::TooLarge);
                        Step::Done
                    }
                    Err(_) => Step::Done,
                };
            }
        }
        Step::Done
    }

    fn create(&mut self, ctx: &mut RpmsgCtx<'_>, entry: &RawEntry, name: EndpointName) -> Step {
        let Some(slot) = self.endpoints.iter().position(Option::is_none) else {
            self.refuse(entry, Refusal::NoRoom);
            return Step::Done;
        };
        let addr = self.next_addr;
        if self.ns {
            let ns = NsMessage { name, addr, action: NsAction::Create };
            match self.transmit(ctx, addr, NS_ADDR, &ns.emit()) {
                Ok(true) => {}
                Ok(false) => return Step::Blocked,
                Err(_) => {
                    self.refuse(entry, Refusal::BadName);
                    return Step::Done;
                }
            }
        }
        self.next_addr += 1;
        self.endpoints[slot] = Some((addr, name));
        self.emit(Event::Created { local: addr, name });
        Step::Done
    }

    /// Put one message in a free tx buffer; `Ok(false)`: none free or no
    /// device (the request waits). A payload past a buffer is
    /// [`MessageError::TooLarge`] (`Header::emit`: the one check).
    fn transmit(&mut self, ctx: &mut RpmsgCtx<'_>, src: u32, dst: u32, payload: &[u8]) -> Result<bool, MessageError> {
        let mut bytes = [0u8; BUFFER_SIZE];
        let len = Header::emit(src, dst, payload, &mut bytes)?;
        let Some(device) = ctx.device() else { return Ok(false) };
        if self.tx_free == 0 || !device.queues.1.can_add(1) {
            return Ok(false);
        }
        let i = self.tx_free.trailing_zeros() as usize;
        let Some(buf) = self.tx_bufs.get(i) else { return Ok(false) };
        if buf.mem.copy_in(0, &bytes[..len]).is_err() {
            return Ok(false);
        }
        match device.queues.1.add(&[Buffer::readable(buf.paddr, len as u32)]) {
            Ok(token) => {
                self.tx_free &= !(1 << i);
                self.tx_of_token[token.index() as usize % QUEUE_SIZE] = i as u8;
                Ok(true)
            }
            Err(e) => {
                ctx.fail(DriverError::Queue(e));
                Ok(false)
            }
        }
    }
}
