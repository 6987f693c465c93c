//! [`VsockDriver`]: the virtio-vsock driver, a [`VirtioDriver`]. The
//! framework brings the device up, sets up the three queues, kicks and
//! keeps the device state; this is the socket logic (VIRTIO 1.2 §5.10).
//!
//! Queues: rx 0, into which the driver posts [`RX_BUFFERS`] writable
//! buffers of [`RX_BUFFER_SIZE`] bytes (a 44-byte header and up to
//! 2004 bytes of payload, one descriptor each); tx 1, readable buffers
//! with the driver's packets; event 2, [`EVENT_BUFFERS`] 4-byte event
//! buffers. Every buffer is in the driver's DMA region: the device never
//! sees the client's memory.
//!
//! Connections: up to [`MAX_SOCKETS`] at once, each a [`Socket`] slot;
//! up to [`MAX_LISTENING`] listened ports. A peer's REQUEST to a listened
//! port is answered RESPONSE and reported `Accepted`; to any other port
//! (or with no slot free) RST. A client's `Connect` sends REQUEST from a
//! fresh local port; RESPONSE makes it `Connected`, RST `Closed(Refused)`.
//!
//! Flow control, both ways (§5.10.6.3): what we send on a connection is
//! bounded by the peer's credit (`PeerCredit`: a send waits, and asks for
//! a credit update, while the peer has no room); what the peer sends is
//! bounded by [`RX_CREDIT`] bytes per connection (`LocalCredit`), counted
//! as taken only once the client has consumed the event that carried the
//! bytes, and the peer hears of freed space in a CREDIT_UPDATE every
//! quarter buffer. A peer that sends past its credit, moves its
//! `fwd_cnt` backwards, or breaks the connection's state machine gets a
//! RST and the client `Closed(PeerBroke)`; a packet that does not parse
//! (`Packet::parse`: a length past its buffer, an unknown op or type) is
//! dropped and counted. Neither fails the device: one bad connection is
//! not the whole device's fault.

use crate::{EVENT_BUFFERS, MAX_LISTENING, MAX_SOCKETS, QUEUE_SIZE, RX_BUFFER_SIZE, RX_BUFFERS, RX_CREDIT};
use sevio_driver_core::init::CONFIG_ATTEMPTS;
use sevio_driver_core::{
    Ctx, DmaCarver, DmaSlots, DriverError, DriverQueue, Probe, QueueParams, QueueSpec, RegionSetvars, SystemMaps,
    Unusable, VirtioDriver,
};
use sevio_queue::QueueError;
use sevio_queue::vsock::{
    self as proto, CloseReason, DriverPort, Endpoints, Event, Payload, RawEntry, Refusal, Request, SHUT_BOTH,
    SHUT_RECEIVE, SHUT_SEND,
};
use sevio_runtime::debug_println;
use sevio_transport_protocol::config::read_config;
use sevio_virtio::device::vsock::{
    self as wire, CONFIG_SIZE, EVENT_QUEUE, EVENT_SIZE, EVENT_TRANSPORT_RESET, F_STREAM, GUEST_CID_OFFSET, HEADER_SIZE,
    Header, LocalCredit, Op, Packet, PacketError, PeerCredit, RX_QUEUE, TX_QUEUE, TYPE_STREAM,
};
use sevio_virtio::{Buffer, DeviceId, Features};

/// Bytes of a tx buffer: a header and the most an entry carries.
const TX_BUFFER_SIZE: usize = HEADER_SIZE + proto::DATA_SIZE;
/// Slot stride of a tx buffer (cache-line multiple).
const TX_STRIDE: usize = TX_BUFFER_SIZE.next_multiple_of(64);
/// Event buffers' stride.
const EVENT_STRIDE: usize = 8;
/// Local ports the driver picks for connects: the dynamic range.
const FIRST_EPHEMERAL_PORT: u32 = 49152;
/// Socket ids: slot in the low byte, a generation above it, so an id
/// from a closed connection never names its slot's next one (until the
/// 24-bit generation wraps).
const SLOT_BITS: u32 = 8;

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct VsockSetvars {
    /// The control region shared with the client (`vsock_control`).
    pub control: RegionSetvars,
}

/// Why the device failed (kept for the PD's log).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum VsockError {
    /// The errors every driver shares.
    Driver(DriverError),
    /// The config space names a reserved context id (§5.10.4).
    BadGuestCid(u64),
}

impl From<DriverError> for VsockError {
    fn from(e: DriverError) -> Self {
        VsockError::Driver(e)
    }
}

/// Counters, for the log and tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u32,
    /// Connections made.
    pub connected: u32,
    /// Connections closed (any way).
    pub closed: u32,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes delivered to the client.
    pub bytes_received: u64,
    /// Packets dropped: did not parse, or not for us.
    pub dropped: u32,
    /// Connections reset because the peer broke a rule.
    pub peer_broke: u32,
    /// Client requests refused.
    pub refused: u32,
}

/// Where a connection is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// REQUEST owed or sent; waiting for RESPONSE.
    Connecting,
    Connected,
    /// The client reset it, or the peer broke a rule: a RST is owed, then
    /// the slot is free (the client was already told).
    Resetting,
    /// The device went away: the client is still to be told.
    Lost,
}

/// Control packets owed on a connection (sent as tx buffers allow).
mod owe {
    pub const REQUEST: u8 = 1;
    pub const RESPONSE: u8 = 2;
    pub const CREDIT_UPDATE: u8 = 4;
    pub const CREDIT_REQUEST: u8 = 8;
    pub const SHUTDOWN: u8 = 16;
    pub const RST: u8 = 32;
}

/// One connection.
#[derive(Copy, Clone, Debug)]
struct Socket {
    state: State,
    id: u32,
    local_port: u32,
    peer_cid: u64,
    peer_port: u32,
    peer: PeerCredit,
    local: LocalCredit,
    /// Shutdown flags the peer sent (its view: RCV = it receives no more).
    peer_shut: u32,
    /// Shutdown flags the client asked for.
    our_shut: u32,
    owed: u8,
    /// `tx_cnt` when we last asked the peer for credit: once per stall.
    asked_at: Option<u32>,
}

impl Socket {
    const FREE: Socket = Socket {
        state: State::Free,
        id: 0,
        local_port: 0,
        peer_cid: 0,
        peer_port: 0,
        peer: PeerCredit::new(),
        local: LocalCredit::new(RX_CREDIT),
        peer_shut: 0,
        our_shut: 0,
        owed: 0,
        asked_at: None,
    };

    fn ends(&self) -> Endpoints {
        Endpoints { socket: self.id, local_port: self.local_port, peer_cid: self.peer_cid, peer_port: self.peer_port }
    }

    fn is_open(&self) -> bool {
        matches!(self.state, State::Connecting | State::Connected)
    }
}

/// A packet the driver owes a peer that has no connection here (a RST to
/// a stray packet, or a refused REQUEST).
#[derive(Copy, Clone, PartialEq, Eq)]
struct Stray {
    cid: u64,
    /// Its port (our packet's destination).
    peer_port: u32,
    /// Our port it named.
    local_port: u32,
}

/// What an event carried, to credit its bytes once the client took it.
#[derive(Copy, Clone, Debug, Default)]
struct Delivery {
    socket: u32,
    bytes: u32,
}

const NO_BUFFER: u8 = u8::MAX;

/// A used rx buffer not yet handled.
#[derive(Copy, Clone, Debug, Default)]
struct Held {
    buffer: u8,
    /// Bytes the device wrote.
    len: u32,
    /// Its credit was taken when it was held.
    credit_taken: bool,
}
const STRAYS: usize = 8;

/// The virtio-vsock driver.
pub struct VsockDriver {
    port: DriverPort,
    rx_bufs: DmaSlots,
    tx_bufs: DmaSlots,
    event_bufs: DmaSlots,
    rx_of_token: [u8; QUEUE_SIZE],
    tx_of_token: [u8; QUEUE_SIZE],
    event_of_token: [u8; EVENT_BUFFERS],
    /// Bit i: tx buffer i is free.
    tx_free: u32,
    guest_cid: u64,
    sockets: [Socket; MAX_SOCKETS],
    listening: [Option<u32>; MAX_LISTENING],
    strays: [Option<Stray>; STRAYS],
    next_port: u32,
    next_generation: u32,
    /// Events staged so far, and how many of them the client has been
    /// credited for (both free-running).
    events_pushed: u32,
    events_credited: u32,
    deliveries: [Delivery; proto::CAPACITY as usize],
    /// A send taken from the client that waits for credit or a tx buffer,
    /// and how many of its bytes went out already.
    waiting: Option<(RawEntry, u32)>,
    /// Used rx buffers held while the client had no room, in order.
    held: [Held; RX_BUFFERS],
    held_head: usize,
    held_count: usize,
    stats: Stats,
    logged: Stats,
}

type VsockCtx<'a> = Ctx<'a, VsockDriver>;
type Queues = (DriverQueue<QUEUE_SIZE>, DriverQueue<QUEUE_SIZE>, DriverQueue<EVENT_BUFFERS>);

const PARAMS: QueueParams = QueueParams { max_size: QUEUE_SIZE as u16, min_size: 1, indirect_descs: 0 };
const EVENT_PARAMS: QueueParams = QueueParams { max_size: EVENT_BUFFERS as u16, min_size: 1, indirect_descs: 0 };
const ALL_TX_FREE: u32 = u32::MAX >> (32 - QUEUE_SIZE);

impl VirtioDriver for VsockDriver {
    const DEVICE: DeviceId = DeviceId::VSOCK;
    type Queues = Queues;
    const QUEUES: [QueueSpec; 3] = [
        QueueSpec { index: RX_QUEUE, params: PARAMS },
        QueueSpec { index: TX_QUEUE, params: PARAMS },
        QueueSpec { index: EVENT_QUEUE, params: EVENT_PARAMS },
    ];
    type Error = VsockError;
    type Setvars = VsockSetvars;

    /// The rx, tx and event buffers come first in the DMA region.
    fn new(vars: VsockSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let port = DriverPort::new(maps.region(vars.control)?).map_err(|_| Unusable::Layout(vars.control.region))?;
        let rx_bufs = dma.slots(RX_BUFFERS, RX_BUFFER_SIZE, 64).map_err(Unusable::DmaRoom)?;
        let tx_bufs = dma.slots(QUEUE_SIZE, TX_STRIDE, 64).map_err(Unusable::DmaRoom)?;
        let event_bufs = dma.slots(EVENT_BUFFERS, EVENT_STRIDE, 64).map_err(Unusable::DmaRoom)?;
        Ok(VsockDriver {
            port,
            rx_bufs,
            tx_bufs,
            event_bufs,
            rx_of_token: [NO_BUFFER; QUEUE_SIZE],
            tx_of_token: [NO_BUFFER; QUEUE_SIZE],
            event_of_token: [NO_BUFFER; EVENT_BUFFERS],
            tx_free: ALL_TX_FREE,
            guest_cid: 0,
            sockets: [Socket::FREE; MAX_SOCKETS],
            listening: [None; MAX_LISTENING],
            strays: [None; STRAYS],
            next_port: FIRST_EPHEMERAL_PORT,
            next_generation: 1,
            events_pushed: 0,
            events_credited: 0,
            deliveries: [Delivery::default(); proto::CAPACITY as usize],
            waiting: None,
            held: [Held::default(); RX_BUFFERS],
            held_head: 0,
            held_count: 0,
            stats: Stats::default(),
            logged: Stats::default(),
        })
    }

    /// Stream sockets (a device that offers no type bit has them anyway,
    /// §5.10.3); nothing required.
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(F_STREAM), Features::EMPTY)
    }

    /// Read `guest_cid`, post every rx and event buffer.
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), VsockError> {
        let mut config = [0u8; CONFIG_SIZE];
        device.read_config(GUEST_CID_OFFSET as u32, &mut config)?;
        self.guest_cid = wire::guest_cid(config).ok_or(VsockError::BadGuestCid(u64::from_le_bytes(config)))?;
        debug_println!("vsock: guest cid {}", self.guest_cid);
        let (rx, _, events) = &mut device.queues;
        for i in 0..(rx.size() as usize).min(RX_BUFFERS) {
            let Some(buf) = self.rx_bufs.get(i) else { break };
            let token = rx.add(&[Buffer::writable(buf.paddr, RX_BUFFER_SIZE as u32)]).map_err(DriverError::Queue)?;
            self.rx_of_token[token.index() as usize % QUEUE_SIZE] = i as u8;
        }
        for i in 0..(events.size() as usize).min(EVENT_BUFFERS) {
            let Some(buf) = self.event_bufs.get(i) else { break };
            let token = events.add(&[Buffer::writable(buf.paddr, EVENT_SIZE as u32)]).map_err(DriverError::Queue)?;
            self.event_of_token[token.index() as usize % EVENT_BUFFERS] = i as u8;
        }
        Ok(())
    }

    /// Forget every buffer the device held; every connection died with
    /// it (the client hears so at the next event). Listened ports stay.
    fn remove(&mut self) {
        self.rx_of_token = [NO_BUFFER; QUEUE_SIZE];
        self.tx_of_token = [NO_BUFFER; QUEUE_SIZE];
        self.event_of_token = [NO_BUFFER; EVENT_BUFFERS];
        self.tx_free = ALL_TX_FREE;
        self.held_count = 0;
        self.lose_connections();
    }

    fn interrupt(&mut self, ctx: &mut VsockCtx<'_>, _causes: u32) {
        self.pump(ctx);
    }

    fn client_notified(&mut self, ctx: &mut VsockCtx<'_>) {
        self.pump(ctx);
    }

    /// The counters, whenever a connection came or went or something was
    /// dropped or refused (not on every byte).
    fn report(&mut self, name: &str) {
        let s = self.stats;
        let quiet = Stats { bytes_sent: self.logged.bytes_sent, bytes_received: self.logged.bytes_received, ..s };
        if quiet != self.logged {
            debug_println!(
                "{name}: {} accepted, {} connected, {} closed, {} bytes sent, {} received, {} dropped, {} reset for breaking the protocol, {} refused",
                s.accepted,
                s.connected,
                s.closed,
                s.bytes_sent,
                s.bytes_received,
                s.dropped,
                s.peer_broke,
                s.refused
            );
            self.logged = s;
        }
    }
}

impl VsockDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The context id the device gave (0 before the first probe).
    pub fn guest_cid(&self) -> u64 {
        self.guest_cid
    }

    /// Everything there is to do, until nothing moves: harvest tx, credit
    /// what the client consumed, deliver rx and events, send what is
    /// owed, serve requests, then arm the queues; again while the device
    /// got ahead of the arming. The framework kicks.
    fn pump(&mut self, ctx: &mut VsockCtx<'_>) {
        for _ in 0..4 * QUEUE_SIZE {
            if let Err(e) = self.harvest_tx(ctx) {
                return ctx.fail(DriverError::Queue(e).into());
            }
            self.credit_consumed();
            if let Err(e) = self.device_events(ctx) {
                return ctx.fail(DriverError::Queue(e).into());
            }
            self.tell_lost(ctx);
            if let Err(e) = self.deliver_rx(ctx) {
                return ctx.fail(DriverError::Queue(e).into());
            }
            self.send_owed(ctx);
            self.serve_requests(ctx);
            self.send_owed(ctx);
            if let Err(e) = self.port.events.publish() {
                return self.client_broke(e);
            }
            let Some(device) = ctx.device() else { return };
            let (rx, tx, events) = &mut device.queues;
            let (rx_in, tx_in, ev_in) = (rx.in_flight(), tx.in_flight(), events.in_flight());
            match (rx.arm(rx_in), tx.arm(tx_in), events.arm(ev_in)) {
                (Ok(false), Ok(false), Ok(false)) => return,
                (Ok(_), Ok(_), Ok(_)) => {}
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return ctx.fail(DriverError::Queue(e).into()),
            }
        }
    }

    fn client_broke(&mut self, e: QueueError) {
        debug_println!("vsock: the client's rings are unusable: {e:?}");
    }

    fn harvest_tx(&mut self, ctx: &mut VsockCtx<'_>) -> Result<(), sevio_virtio::Error> {
        let Some(device) = ctx.device() else { return Ok(()) };
        while let Some(used) = device.queues.1.pop_used()? {
            let i = core::mem::replace(&mut self.tx_of_token[used.token.index() as usize % QUEUE_SIZE], NO_BUFFER);
            if (i as usize) < QUEUE_SIZE {
                self.tx_free |= 1 << i;
            }
        }
        Ok(())
    }

    // ---- the client's event ring and the credit it implies ----

    /// Room for `n` more events.
    fn event_room(&mut self, n: u32) -> bool {
        self.port.events.free().is_ok_and(|free| free >= n)
    }

    /// Stage `event`, remembering its payload to credit its socket once
    /// the client took it. The client is told once the event is over.
    fn emit(&mut self, ctx: &mut VsockCtx<'_>, event: Event) {
        let socket = match event {
            Event::Received { socket, .. } => socket,
            _ => 0,
        };
        if let Err(e) = self.port.events.stage(event.encode()) {
            return self.client_broke(e);
        }
        let slot = self.events_pushed as usize % self.deliveries.len();
        self.deliveries[slot] = Delivery { socket, bytes: event.payload_len() };
        self.events_pushed = self.events_pushed.wrapping_add(1);
        ctx.notify_client();
    }

    /// The events the client consumed since the last look: their bytes
    /// count as taken (`fwd_cnt`), and a peer owed news of the space gets
    /// a CREDIT_UPDATE.
    fn credit_consumed(&mut self) {
        let Ok(free) = self.port.events.free() else { return };
        let in_ring = proto::CAPACITY - free;
        let consumed = self.events_pushed.wrapping_sub(in_ring);
        while self.events_credited != consumed {
            let d = self.deliveries[self.events_credited as usize % self.deliveries.len()];
            self.events_credited = self.events_credited.wrapping_add(1);
            if d.bytes == 0 {
                continue;
            }
            if let Some(s) = self.socket_mut(d.socket) {
                s.local.consumed(d.bytes);
                if s.local.update_due() && s.state == State::Connected {
                    s.owed |= owe::CREDIT_UPDATE;
                }
            }
        }
    }

    // ---- sockets ----

    fn slot_of(&self, id: u32) -> Option<usize> {
        let slot = (id & ((1 << SLOT_BITS) - 1)) as usize;
        let s = self.sockets.get(slot)?;
        (s.state != State::Free && s.id == id).then_some(slot)
    }

    fn socket_mut(&mut self, id: u32) -> Option<&mut Socket> {
        let slot = self.slot_of(id)?;
        Some(&mut self.sockets[slot])
    }

    /// A free slot, made a socket with a fresh id.
    fn allocate(&mut self, local_port: u32, peer_cid: u64, peer_port: u32, state: State) -> Option<usize> {
        let slot = self.sockets.iter().position(|s| s.state == State::Free)?;
        let id = (self.next_generation << SLOT_BITS) | slot as u32;
        self.next_generation = (self.next_generation + 1) & ((1 << (32 - SLOT_BITS)) - 1);
        self.next_generation = self.next_generation.max(1);
        self.sockets[slot] = Socket { state, id, local_port, peer_cid, peer_port, ..Socket::FREE };
        Some(slot)
    }

    /// The connection a packet from `h` belongs to.
    fn find(&self, h: &Header) -> Option<usize> {
        self.sockets.iter().position(|s| {
            s.state != State::Free
                && s.state != State::Lost
                && s.local_port == h.dst_port
                && s.peer_cid == h.src_cid
                && s.peer_port == h.src_port
        })
    }

    /// A local port no connection or listener uses.
    fn fresh_port(&mut self) -> u32 {
        loop {
            let port = self.next_port;
            self.next_port = if port == u32::MAX - 1 { FIRST_EPHEMERAL_PORT } else { port + 1 };
            let taken = self.sockets.iter().any(|s| s.state != State::Free && s.local_port == port)
                || self.listening.contains(&Some(port));
            if !taken {
                return port;
            }
        }
    }

    /// Close slot `i` and tell the client why.
    fn close(&mut self, ctx: &mut VsockCtx<'_>, i: usize, why: CloseReason) {
        let ends = self.sockets[i].ends();
        self.sockets[i] = Socket::FREE;
        self.stats.closed += 1;
        self.emit(ctx, Event::Closed { ends, why });
    }

    /// Reset slot `i`: a RST goes to the peer, the client hears `why` now.
    fn reset(&mut self, ctx: &mut VsockCtx<'_>, i: usize, why: CloseReason) {
        let ends = self.sockets[i].ends();
        let s = &mut self.sockets[i];
        s.state = State::Resetting;
        s.owed = owe::RST;
        self.stats.closed += 1;
        self.emit(ctx, Event::Closed { ends, why });
    }

    /// The peer broke a rule on slot `i`.
    fn peer_broke(&mut self, ctx: &mut VsockCtx<'_>, i: usize, what: &dyn core::fmt::Debug) {
        let s = self.sockets[i];
        debug_println!(
            "vsock: connection {}:{} <-> port {} reset: the peer broke the protocol: {what:?}",
            s.peer_cid,
            s.peer_port,
            s.local_port
        );
        self.stats.peer_broke += 1;
        self.reset(ctx, i, CloseReason::PeerBroke);
    }

    fn lose_connections(&mut self) {
        for s in self.sockets.iter_mut() {
            match s.state {
                State::Connecting | State::Connected => s.state = State::Lost,
                State::Resetting => *s = Socket::FREE,
                State::Free | State::Lost => {}
            }
        }
        self.strays = [None; STRAYS];
        self.waiting = None;
    }

    /// Tell the client of connections that died with the device.
    fn tell_lost(&mut self, ctx: &mut VsockCtx<'_>) {
        for i in 0..MAX_SOCKETS {
            if self.sockets[i].state == State::Lost {
                if !self.event_room(1) {
                    return;
                }
                self.close(ctx, i, CloseReason::DeviceGone);
            }
        }
    }

    // ---- from the device ----

    /// Device events: a transport reset (§5.10.6.7.1: "The guest_cid
    /// configuration field MUST be fetched ...", "Existing connections
    /// MUST be shut down ...", "Listen connections MUST remain
    /// operational").
    fn device_events(&mut self, ctx: &mut VsockCtx<'_>) -> Result<(), sevio_virtio::Error> {
        loop {
            let Some(device) = ctx.device() else { return Ok(()) };
            let Some(used) = device.queues.2.pop_used()? else { return Ok(()) };
            let i =
                core::mem::replace(&mut self.event_of_token[used.token.index() as usize % EVENT_BUFFERS], NO_BUFFER);
            let Some(buf) = self.event_bufs.get(i as usize) else { continue };
            let mut bytes = [0u8; EVENT_SIZE];
            let n = (used.len as usize).min(EVENT_SIZE);
            let id = buf.mem.copy_out(0, &mut bytes[..n]).ok().and_then(|()| wire::event_id(&bytes[..n]));
            match id {
                Some(EVENT_TRANSPORT_RESET) => {
                    debug_println!("vsock: transport reset: every connection is gone");
                    self.lose_connections();
                    let mut config = [0u8; CONFIG_SIZE];
                    let t = ctx.transport();
                    let read = read_config(
                        &mut |r| Ok::<_, ()>(t.call(r)),
                        GUEST_CID_OFFSET as u32,
                        &mut config,
                        CONFIG_ATTEMPTS,
                    );
                    match read.ok().and_then(|_| wire::guest_cid(config)) {
                        Some(cid) => self.guest_cid = cid,
                        None => {
                            ctx.fail(VsockError::BadGuestCid(u64::from_le_bytes(config)));
                            return Ok(());
                        }
                    }
                }
                other => {
                    self.stats.dropped += 1;
                    debug_println!("vsock: unknown device event {other:?} ({} bytes) ignored", used.len);
                }
            }
            let Some(device) = ctx.device() else { return Ok(()) };
            let token = device.queues.2.add(&[Buffer::writable(buf.paddr, EVENT_SIZE as u32)])?;
            self.event_of_token[token.index() as usize % EVENT_BUFFERS] = i;
        }
    }

    /// Handle the peer's packets in order while the client has room for
    /// what they may cause (two events at most); each buffer goes
    /// straight back. While the client's event ring is full, packets are
    /// held in their buffers, in order, but the peer's credit in each is
    /// taken at once and credit packets are answered at once: a send
    /// waiting for credit must never wait behind data the client has no
    /// room for (that client may be waiting for the send). The rx queue
    /// never waits for the tx queue either (§5.10.6.1.1: "The rx
    /// virtqueue MUST be processed even when the tx virtqueue is full so
    /// long as there are additional resources available to hold packets
    /// outside the tx virtqueue": replies owed are flags per connection
    /// and a list of resets, sent as tx buffers free up).
    fn deliver_rx(&mut self, ctx: &mut VsockCtx<'_>) -> Result<(), sevio_virtio::Error> {
        loop {
            while self.held_count > 0 && self.event_room(2) {
                let held = self.held[self.held_head];
                self.held_head = (self.held_head + 1) % RX_BUFFERS;
                self.held_count -= 1;
                self.process(ctx, held)?;
                if ctx.failed() {
                    return Ok(());
                }
            }
            let Some(device) = ctx.device() else { return Ok(()) };
            let Some(used) = device.queues.0.pop_used()? else { return Ok(()) };
            let i = core::mem::replace(&mut self.rx_of_token[used.token.index() as usize % QUEUE_SIZE], NO_BUFFER);
            if (i as usize) >= RX_BUFFERS {
                continue;
            }
            let held = Held { buffer: i, len: used.len, credit_taken: false };
            if self.held_count == 0 && self.event_room(2) {
                self.process(ctx, held)?;
            } else {
                self.hold(ctx, held)?;
            }
            if ctx.failed() {
                return Ok(());
            }
        }
    }

    /// Handle one received buffer, then give it back to the device.
    fn process(&mut self, ctx: &mut VsockCtx<'_>, held: Held) -> Result<(), sevio_virtio::Error> {
        let Some(buf) = self.rx_bufs.get(held.buffer as usize) else { return Ok(()) };
        self.received(ctx, held, buf.mem);
        self.repost(ctx, held.buffer)
    }

    fn repost(&mut self, ctx: &mut VsockCtx<'_>, i: u8) -> Result<(), sevio_virtio::Error> {
        let Some(buf) = self.rx_bufs.get(i as usize) else { return Ok(()) };
        let Some(device) = ctx.device() else { return Ok(()) };
        let token = device.queues.0.add(&[Buffer::writable(buf.paddr, RX_BUFFER_SIZE as u32)])?;
        self.rx_of_token[token.index() as usize % QUEUE_SIZE] = i;
        Ok(())
    }

    /// The client has no room: take the packet's credit now, answer a
    /// credit packet now, hold anything else for later, in order.
    fn hold(&mut self, ctx: &mut VsockCtx<'_>, mut held: Held) -> Result<(), sevio_virtio::Error> {
        let Some(buf) = self.rx_bufs.get(held.buffer as usize) else { return Ok(()) };
        let mut bytes = [0u8; HEADER_SIZE];
        let n = (held.len as usize).min(HEADER_SIZE);
        let header = buf.mem.copy_out(0, &mut bytes[..n]).ok().and_then(|()| Header::read(&bytes[..n]));
        let connection = header.and_then(|h| self.find(&h).map(|i| (h, i)));
        if let Some((h, i)) = connection
            && h.dst_cid == self.guest_cid
            && h.op != Op::Rst as u16
            && self.sockets[i].state != State::Resetting
            && self.sockets[i].peer.update(h.buf_alloc, h.fwd_cnt).is_ok()
        {
            held.credit_taken = true;
            let credit_only = h.len == 0 && matches!(Op::from_wire(h.op), Some(Op::CreditUpdate | Op::CreditRequest));
            if credit_only && self.sockets[i].state == State::Connected {
                if h.op == Op::CreditRequest as u16 {
                    self.sockets[i].owed |= owe::CREDIT_UPDATE;
                }
                return self.repost(ctx, held.buffer);
            }
        }
        let tail = (self.held_head + self.held_count) % RX_BUFFERS;
        self.held[tail] = held;
        self.held_count += 1;
        Ok(())
    }

    fn drop_packet(&mut self, why: &dyn core::fmt::Debug) {
        self.stats.dropped += 1;
        debug_println!("vsock: packet from the device dropped: {why:?}");
    }

    /// One rx buffer: `held.len` bytes written (at most the buffer's: the
    /// split queue checked it against what was posted).
    fn received(&mut self, ctx: &mut VsockCtx<'_>, held: Held, mem: sevio_sharedmem::SharedMemory) {
        let mut bytes = [0u8; RX_BUFFER_SIZE];
        let n = (held.len as usize).min(RX_BUFFER_SIZE);
        if mem.copy_out(0, &mut bytes[..n]).is_err() {
            return self.drop_packet(&PacketError::Short { got: 0 });
        }
        let packet = match Packet::parse(&bytes[..n]) {
            Ok(p) => p,
            Err(e) => {
                self.drop_packet(&e);
                // §5.10.6.4.1: "A VIRTIO_VSOCK_OP_RST reply MUST be sent if
                // a packet is received with an unknown type value."
                if let (PacketError::UnknownType { .. }, Some(h)) = (e, Header::read(&bytes[..n]))
                    && h.op != Op::Rst as u16
                    && h.dst_cid == self.guest_cid
                {
                    self.owe_stray(h);
                }
                return;
            }
        };
        let h = packet.header;
        if h.dst_cid != self.guest_cid {
            return self.drop_packet(&("for another context id", h.dst_cid));
        }
        match self.find(&h) {
            Some(i) => self.on_connection(ctx, i, &packet, held.credit_taken),
            None => self.unconnected(ctx, &packet),
        }
    }

    /// A packet that names no connection here.
    fn unconnected(&mut self, ctx: &mut VsockCtx<'_>, packet: &Packet<'_>) {
        let h = packet.header;
        match packet.op {
            // Never answer a reset with a reset.
            Op::Rst => {}
            Op::Request if self.listening.contains(&Some(h.dst_port)) => {
                let Some(i) = self.allocate(h.dst_port, h.src_cid, h.src_port, State::Connected) else {
                    debug_println!("vsock: connection from {}:{} refused: no socket free", h.src_cid, h.src_port);
                    return self.owe_stray(h);
                };
                if let Err(e) = self.sockets[i].peer.update(h.buf_alloc, h.fwd_cnt) {
                    return self.peer_broke(ctx, i, &e);
                }
                self.sockets[i].owed |= owe::RESPONSE;
                self.stats.accepted += 1;
                let ends = self.sockets[i].ends();
                self.emit(ctx, Event::Accepted(ends));
            }
            // §5.10.6.5: "A VIRTIO_VSOCK_OP_RST reply is sent if a
            // listening socket does not exist on the destination"; so is
            // any other packet for no connection.
            _ => self.owe_stray(h),
        }
    }

    fn owe_stray(&mut self, h: Header) {
        let stray = Stray { cid: h.src_cid, peer_port: h.src_port, local_port: h.dst_port };
        match self.strays.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(stray),
            // The peer's own timeout ends its wait.
            None => debug_println!("vsock: no room to answer {}:{} with a reset", h.src_cid, h.src_port),
        }
    }

    /// A packet on connection `i`.
    /// `credit_taken`: the packet's credit was taken when it was held.
    fn on_connection(&mut self, ctx: &mut VsockCtx<'_>, i: usize, packet: &Packet<'_>, credit_taken: bool) {
        let h = packet.header;
        if self.sockets[i].state == State::Resetting {
            return;
        }
        if packet.op == Op::Rst {
            let why = if self.sockets[i].state == State::Connecting {
                CloseReason::Refused
            } else if self.sockets[i].our_shut == SHUT_BOTH || self.sockets[i].peer_shut == SHUT_BOTH {
                CloseReason::Closed
            } else {
                CloseReason::Reset
            };
            return self.close(ctx, i, why);
        }
        // Every packet carries the peer's credit (§5.10.6.3).
        if !credit_taken && let Err(e) = self.sockets[i].peer.update(h.buf_alloc, h.fwd_cnt) {
            return self.peer_broke(ctx, i, &e);
        }
        let s = &mut self.sockets[i];
        match (s.state, packet.op) {
            (State::Connecting, Op::Response) => {
                s.state = State::Connected;
                self.stats.connected += 1;
                let ends = s.ends();
                self.emit(ctx, Event::Connected(ends));
            }
            (State::Connected, Op::Rw) => {
                // The peer said it sends no more, or sends past its credit.
                if s.peer_shut & wire::SHUTDOWN_SEND != 0 {
                    return self.peer_broke(ctx, i, &"data after the peer's shutdown");
                }
                if let Err(e) = s.local.receive(h.len) {
                    return self.peer_broke(ctx, i, &e);
                }
                if s.our_shut & SHUT_RECEIVE != 0 {
                    // The client wants no more: taken and dropped at once.
                    s.local.consumed(h.len);
                    return;
                }
                self.stats.bytes_received += u64::from(h.len);
                let socket = s.id;
                self.emit(ctx, Event::Received { socket, payload: Payload::new(packet.payload) });
            }
            (State::Connected, Op::Shutdown) => {
                // The client protocol's flags are the wire's (RCV 1,
                // SEND 2), the peer's view.
                let flags = h.flags & wire::SHUTDOWN_BOTH;
                s.peer_shut |= flags;
                let (socket, both) = (s.id, s.peer_shut == wire::SHUTDOWN_BOTH);
                if flags != 0 {
                    self.emit(ctx, Event::PeerShutdown { socket, flags });
                }
                if both {
                    // A peer that closed both ways is done: reset (as
                    // Linux does) and close in order.
                    self.reset(ctx, i, CloseReason::Closed);
                }
            }
            (State::Connected, Op::CreditUpdate) => {}
            (State::Connected, Op::CreditRequest) => s.owed |= owe::CREDIT_UPDATE,
            (_, op) => self.peer_broke(ctx, i, &("unexpected op", op)),
        }
    }

    // ---- to the device ----

    /// Put one packet in a free tx buffer; `false`: none free or no
    /// device.
    fn transmit(&mut self, ctx: &mut VsockCtx<'_>, header: Header, payload: &[u8]) -> bool {
        let Some(device) = ctx.device() else { return false };
        if self.tx_free == 0 || !device.queues.1.can_add(1) || payload.len() > proto::DATA_SIZE {
            return false;
        }
        let i = self.tx_free.trailing_zeros() as usize;
        let Some(buf) = self.tx_bufs.get(i) else { return false };
        let len = HEADER_SIZE + payload.len();
        if buf.mem.copy_in(0, &header.to_bytes()).is_err() || buf.mem.copy_in(HEADER_SIZE, payload).is_err() {
            return false;
        }
        match device.queues.1.add(&[Buffer::readable(buf.paddr, len as u32)]) {
            Ok(token) => {
                self.tx_free &= !(1 << i);
                self.tx_of_token[token.index() as usize % QUEUE_SIZE] = i as u8;
                true
            }
            Err(e) => {
                ctx.fail(DriverError::Queue(e).into());
                false
            }
        }
    }

    /// The header of a packet on slot `i` (our credit advertised).
    fn header(&mut self, i: usize, op: Op, flags: u32, len: u32) -> Header {
        let guest_cid = self.guest_cid;
        let s = &mut self.sockets[i];
        let (buf_alloc, fwd_cnt) = s.local.advertise();
        Header {
            src_cid: guest_cid,
            dst_cid: s.peer_cid,
            src_port: s.local_port,
            dst_port: s.peer_port,
            len,
            kind: TYPE_STREAM,
            op: op as u16,
            flags,
            buf_alloc,
            fwd_cnt,
        }
    }

    /// Send the control packets owed, in the order the protocol needs
    /// them, while tx buffers last.
    fn send_owed(&mut self, ctx: &mut VsockCtx<'_>) {
        for k in 0..STRAYS {
            let Some(stray) = self.strays[k] else { continue };
            let header = Header {
                src_cid: self.guest_cid,
                dst_cid: stray.cid,
                src_port: stray.local_port,
                dst_port: stray.peer_port,
                kind: TYPE_STREAM,
                op: Op::Rst as u16,
                ..Header::default()
            };
            if !self.transmit(ctx, header, &[]) {
                return;
            }
            self.strays[k] = None;
        }
        for i in 0..MAX_SOCKETS {
            for (bit, op) in [
                (owe::REQUEST, Op::Request),
                (owe::RESPONSE, Op::Response),
                (owe::CREDIT_UPDATE, Op::CreditUpdate),
                (owe::CREDIT_REQUEST, Op::CreditRequest),
                (owe::SHUTDOWN, Op::Shutdown),
                (owe::RST, Op::Rst),
            ] {
                if self.sockets[i].owed & bit == 0 {
                    continue;
                }
                // The client's view of its flags is the wire's: RCV, SEND.
                let flags = if op == Op::Shutdown { self.sockets[i].our_shut } else { 0 };
                let header = self.header(i, op, flags, 0);
                if !self.transmit(ctx, header, &[]) {
                    return;
                }
                self.sockets[i].owed &= !bit;
                if op == Op::Rst && self.sockets[i].state == State::Resetting {
                    self.sockets[i] = Socket::FREE;
                }
            }
        }
    }

    // ---- from the client ----

    fn refuse(&mut self, ctx: &mut VsockCtx<'_>, entry: &RawEntry, why: Refusal) {
        self.stats.refused += 1;
        debug_println!("vsock: request {} on socket {:#x} refused: {why:?}", entry.kind, entry.socket);
        self.emit(ctx, Event::Refused { socket: entry.socket, port: entry.port, request: entry.kind, why });
    }

    /// Serve the client's requests in order while each can be done and
    /// there is room for what it answers.
    fn serve_requests(&mut self, ctx: &mut VsockCtx<'_>) {
        loop {
            if !self.event_room(1) {
                return;
            }
            let (entry, done) = match self.waiting.take() {
                Some(w) => w,
                None => match self.port.requests.dequeue() {
                    Ok(Some(e)) => (e, 0),
                    Ok(None) => return,
                    Err(e) => return self.client_broke(e),
                },
            };
            // Room in the request ring.
            ctx.notify_client();
            match self.request(ctx, &entry, done) {
                Ok(()) => {}
                Err(sent) => {
                    self.waiting = Some((entry, sent));
                    return;
                }
            }
        }
    }

    /// One request; `Err(bytes sent)`: it waits (credit, a tx buffer, a
    /// device).
    fn request(&mut self, ctx: &mut VsockCtx<'_>, entry: &RawEntry, done: u32) -> Result<(), u32> {
        if ctx.failed() {
            self.refuse(ctx, entry, Refusal::NoDevice);
            return Ok(());
        }
        if ctx.device().is_none() {
            return Err(done);
        }
        let request = match Request::decode(entry) {
            Ok(r) => r,
            Err(why) => {
                self.refuse(ctx, entry, why);
                return Ok(());
            }
        };
        match request {
            Request::Listen { port } => {
                if self.listening.contains(&Some(port)) {
                    self.refuse(ctx, entry, Refusal::PortInUse);
                } else if let Some(slot) = self.listening.iter_mut().find(|p| p.is_none()) {
                    *slot = Some(port);
                    self.emit(ctx, Event::Listening { port });
                } else {
                    self.refuse(ctx, entry, Refusal::NoRoom);
                }
            }
            Request::Connect { cid, port } => {
                let local_port = self.fresh_port();
                match self.allocate(local_port, cid, port, State::Connecting) {
                    Some(i) => self.sockets[i].owed |= owe::REQUEST,
                    None => self.refuse(ctx, entry, Refusal::NoRoom),
                }
            }
            Request::Send { socket, payload } => return self.send(ctx, entry, socket, payload, done),
            Request::Shutdown { socket, flags } => match self.slot_of(socket) {
                Some(i) if self.sockets[i].state == State::Connected => {
                    let s = &mut self.sockets[i];
                    s.our_shut |= flags;
                    s.owed |= owe::SHUTDOWN;
                }
                _ => self.refuse(ctx, entry, Refusal::UnknownSocket),
            },
            Request::Reset { socket } => match self.slot_of(socket) {
                Some(i) if self.sockets[i].is_open() => self.reset(ctx, i, CloseReason::Aborted),
                _ => self.refuse(ctx, entry, Refusal::UnknownSocket),
            },
        }
        Ok(())
    }

    /// A send: as much as the peer's credit and the tx buffers allow; the
    /// rest waits (asking the peer for credit when it has none).
    fn send(
        &mut self,
        ctx: &mut VsockCtx<'_>,
        entry: &RawEntry,
        socket: u32,
        payload: Payload,
        done: u32,
    ) -> Result<(), u32> {
        let Some(i) = self.slot_of(socket) else {
            self.refuse(ctx, entry, Refusal::UnknownSocket);
            return Ok(());
        };
        let Some(bytes) = payload.bytes() else {
            self.refuse(ctx, entry, Refusal::TooLarge);
            return Ok(());
        };
        let s = &self.sockets[i];
        let may_send =
            s.state == State::Connected && s.our_shut & SHUT_SEND == 0 && s.peer_shut & wire::SHUTDOWN_RCV == 0;
        if !may_send {
            self.refuse(ctx, entry, Refusal::NotConnected);
            return Ok(());
        }
        let mut done = done as usize;
        while done < bytes.len() {
            // §5.10.6.3: "VIRTIO_VSOCK_OP_RW data packets MUST only be
            // transmitted when the peer has sufficient free buffer space
            // for the payload".
            let space = self.sockets[i].peer.space() as usize;
            if space == 0 {
                let s = &mut self.sockets[i];
                if s.asked_at != Some(s.peer.tx_cnt()) {
                    s.asked_at = Some(s.peer.tx_cnt());
                    s.owed |= owe::CREDIT_REQUEST;
                }
                return Err(done as u32);
            }
            let n = space.min(bytes.len() - done);
            let header = self.header(i, Op::Rw, 0, n as u32);
            if !self.transmit(ctx, header, &bytes[done..done + n]) {
                return Err(done as u32);
            }
            self.sockets[i].peer.sent(n as u32);
            self.stats.bytes_sent += n as u64;
            done += n;
        }
        Ok(())
    }
}

impl core::fmt::Debug for Stray {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{} -> {}", self.cid, self.peer_port, self.local_port)
    }
}
