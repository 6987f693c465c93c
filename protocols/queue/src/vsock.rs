//! sevio's socket client protocol (sDDF has no socket class; LionsOS's
//! sockets go through lwIP, not a driver): how a client PD listens,
//! connects, sends, receives and closes vsock stream connections through
//! the vsock driver. Specified in `docs/VSOCK.md`.
//!
//! One control region of [`CONTROL_SIZE`] bytes holds two rings of the
//! shared SPSC machine ([`ring`](crate::ring)), each a header `{head u32
//! @0, tail u32 @4}` followed by [`CAPACITY`] entries of [`ENTRY_SIZE`]:
//! - requests, client to driver, at 0: [`Request`];
//! - events, driver to client, at [`EVENTS_OFFSET`]: [`Event`].
//!
//! An entry is `{kind u32 @0, socket u32 @4, port u32 @8, len u32 @12,
//! cid u64 @16, peer_port u32 @24, status u32 @28, data [u8; 2016] @32}`.
//! Each side notifies the other after publishing a batch.
//!
//! Flow control: the client's sends are bounded by the request ring (the
//! driver takes a send only when the peer has credit for it); the
//! driver's deliveries by the event ring: the driver counts a received
//! byte as taken (the `fwd_cnt` it tells the peer) only once the client
//! has consumed the event that carried it.
//!
//! The client is untrusted: [`Request::decode`] refuses an unknown kind,
//! and a `Send` whose `len` is past what the entry carries decodes to a
//! payload whose [`Payload::bytes`] is `None` (the driver answers
//! [`Refusal::TooLarge`]). The driver is trusted no more by the client:
//! [`Event::decode`] checks kinds, lengths and reasons the same way.
//!
//! Panic contract: nothing here panics on any memory contents.

// A request or event is a copy of one entry, payload inline: no heap to
// box into, and data is what they carry.
#![allow(clippy::large_enum_variant)]

use crate::QueueError;
use crate::mem::{RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// Bytes of one entry.
pub const ENTRY_SIZE: usize = 2048;
/// Bytes of payload an entry carries.
pub const DATA_SIZE: usize = ENTRY_SIZE - 32;
/// Entries per ring.
pub const CAPACITY: u32 = 32;
/// Offset of the events ring in the control region (the requests ring,
/// 8 + 32 * 2048 bytes, rounded up to pages).
pub const EVENTS_OFFSET: usize = 0x11000;
/// Bytes of the control region.
pub const CONTROL_SIZE: usize = 2 * EVENTS_OFFSET;

/// `status` of a `Shutdown` request or a `PeerShutdown` event: no more
/// receiving.
pub const SHUT_RECEIVE: u32 = 1;
/// No more sending.
pub const SHUT_SEND: u32 = 2;
/// Both: the connection is to close.
pub const SHUT_BOTH: u32 = SHUT_RECEIVE | SHUT_SEND;

mod kind {
    pub const LISTEN: u32 = 1;
    pub const CONNECT: u32 = 2;
    pub const SEND: u32 = 3;
    pub const SHUTDOWN: u32 = 4;
    pub const RESET: u32 = 5;
    pub const LISTENING: u32 = 16;
    pub const ACCEPTED: u32 = 17;
    pub const CONNECTED: u32 = 18;
    pub const RECEIVED: u32 = 19;
    pub const PEER_SHUTDOWN: u32 = 20;
    pub const CLOSED: u32 = 21;
    pub const REFUSED: u32 = 22;
}

/// One entry as it lies in the ring (a copy; decode before use).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// What it is.
    pub kind: u32,
    /// The socket (an id the driver gave).
    pub socket: u32,
    /// Local port (listen) or peer port (connect); the local port in
    /// events.
    pub port: u32,
    /// Bytes of `data` in use (may lie: checked by the decoders); the
    /// refused request's kind in a refusal.
    pub len: u32,
    /// The peer's context id.
    pub cid: u64,
    /// The peer's port (events).
    pub peer_port: u32,
    /// Shutdown flags, or a reason.
    pub status: u32,
    /// Payload.
    pub data: [u8; DATA_SIZE],
}

impl RawEntry {
    const fn empty(kind: u32) -> RawEntry {
        RawEntry { kind, socket: 0, port: 0, len: 0, cid: 0, peer_port: 0, status: 0, data: [0; DATA_SIZE] }
    }
}

impl Entry for RawEntry {
    const SIZE: usize = ENTRY_SIZE;
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        let mut e = RawEntry::empty(r.read_u32(0)?);
        e.socket = r.read_u32(4)?;
        e.port = r.read_u32(8)?;
        e.len = r.read_u32(12)?;
        e.cid = u64::from(r.read_u32(16)?) | u64::from(r.read_u32(20)?) << 32;
        e.peer_port = r.read_u32(24)?;
        e.status = r.read_u32(28)?;
        // Only the bytes the entry claims (what the decoders will look
        // at), so a short message costs a short copy; a claim past the
        // entry copies all of it and is refused by the decoder.
        let used = (e.len as usize).min(DATA_SIZE);
        for (i, b) in e.data[..used].iter_mut().enumerate() {
            *b = r.read_u8(32 + i)?;
        }
        Some(e)
    }
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.kind)?;
        r.write_u32(4, self.socket)?;
        r.write_u32(8, self.port)?;
        r.write_u32(12, self.len)?;
        r.write_u32(16, self.cid as u32)?;
        r.write_u32(20, (self.cid >> 32) as u32)?;
        r.write_u32(24, self.peer_port)?;
        r.write_u32(28, self.status)?;
        let used = (self.len as usize).min(DATA_SIZE);
        for (i, b) in self.data[..used].iter().enumerate() {
            r.write_u8(32 + i, *b)?;
        }
        Ok(())
    }
}

/// Layout of either ring.
#[derive(Debug)]
pub struct VsockRing;
impl QueueKind for VsockRing {
    type Index = u32;
    type Entry = RawEntry;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for VsockRing {}

/// A payload: up to [`DATA_SIZE`] bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    data: [u8; DATA_SIZE],
    len: u32,
}

impl Payload {
    /// A payload of `bytes` (at most [`DATA_SIZE`] are carried; `len`
    /// says how many were meant, so an oversized send reaches the driver,
    /// which refuses it).
    pub fn new(bytes: &[u8]) -> Payload {
        let mut data = [0u8; DATA_SIZE];
        let n = bytes.len().min(DATA_SIZE);
        data[..n].copy_from_slice(&bytes[..n]);
        Payload { data, len: bytes.len() as u32 }
    }
    /// The bytes, or `None` when the length is past what an entry holds.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.data.get(..self.len as usize)
    }
    /// The length claimed.
    pub fn len(&self) -> u32 {
        self.len
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What a client asks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Accept connections to local `port`; answered [`Event::Listening`].
    Listen {
        /// The port.
        port: u32,
    },
    /// Connect to `port` of context `cid`; answered [`Event::Connected`]
    /// or [`Event::Closed`] with [`CloseReason::Refused`].
    Connect {
        /// The peer's context id (2: the host).
        cid: u64,
        /// The peer's port.
        port: u32,
    },
    /// Send `payload` on `socket` (it goes out as the peer's credit
    /// allows; later requests wait behind it).
    Send {
        /// The socket.
        socket: u32,
        /// The bytes (their length may be past an entry's: see
        /// [`Payload::bytes`]).
        payload: Payload,
    },
    /// Stop receiving and/or sending on `socket` ([`SHUT_RECEIVE`],
    /// [`SHUT_SEND`]); both: close once the peer agrees.
    Shutdown {
        /// The socket.
        socket: u32,
        /// The flags.
        flags: u32,
    },
    /// Abort `socket` at once (the peer gets a reset).
    Reset {
        /// The socket.
        socket: u32,
    },
}

/// Why a request was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Refusal {
    /// An unknown request kind, or shutdown flags other than 1..=3.
    Malformed = 1,
    /// `socket` is not one of this client's open sockets.
    UnknownSocket = 2,
    /// No room for another socket or listening port.
    NoRoom = 3,
    /// A send longer than an entry carries.
    TooLarge = 4,
    /// A send on a socket that may no longer send.
    NotConnected = 5,
    /// The device failed or is gone.
    NoDevice = 6,
    /// The port is already listened on.
    PortInUse = 7,
}

impl Refusal {
    fn from_word(w: u32) -> Option<Refusal> {
        Some(match w {
            1 => Refusal::Malformed,
            2 => Refusal::UnknownSocket,
            3 => Refusal::NoRoom,
            4 => Refusal::TooLarge,
            5 => Refusal::NotConnected,
            6 => Refusal::NoDevice,
            7 => Refusal::PortInUse,
            _ => return None,
        })
    }
}

/// Why a connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CloseReason {
    /// Both sides shut down; the connection closed in order.
    Closed = 1,
    /// The peer reset it.
    Reset = 2,
    /// The peer refused the connection.
    Refused = 3,
    /// The client reset it.
    Aborted = 4,
    /// The device failed, went away or reset its transport.
    DeviceGone = 5,
    /// The peer broke the protocol (credit, state); the driver reset it.
    PeerBroke = 6,
}

impl CloseReason {
    fn from_word(w: u32) -> Option<CloseReason> {
        Some(match w {
            1 => CloseReason::Closed,
            2 => CloseReason::Reset,
            3 => CloseReason::Refused,
            4 => CloseReason::Aborted,
            5 => CloseReason::DeviceGone,
            6 => CloseReason::PeerBroke,
            _ => return None,
        })
    }
}

/// A connection's ends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The socket id the driver gave.
    pub socket: u32,
    /// Our port.
    pub local_port: u32,
    /// The peer's context id.
    pub peer_cid: u64,
    /// The peer's port.
    pub peer_port: u32,
}

/// What the driver tells the client.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Connections to `port` are accepted from now on.
    Listening {
        /// The port.
        port: u32,
    },
    /// A peer connected to a listened port.
    Accepted(Endpoints),
    /// A connection the client asked for is up.
    Connected(Endpoints),
    /// Bytes arrived on `socket`.
    Received {
        /// The socket.
        socket: u32,
        /// The bytes.
        payload: Payload,
    },
    /// The peer will send no more ([`SHUT_SEND`]) and/or receive no more
    /// ([`SHUT_RECEIVE`]).
    PeerShutdown {
        /// The socket.
        socket: u32,
        /// The peer's flags.
        flags: u32,
    },
    /// The connection is gone; the socket id is free. For a refused
    /// connect, `socket` is the id it would have had.
    Closed {
        /// Its ends.
        ends: Endpoints,
        /// Why.
        why: CloseReason,
    },
    /// A request was refused; nothing was done.
    Refused {
        /// The request's socket (0 for listen and connect).
        socket: u32,
        /// Its port.
        port: u32,
        /// Its kind (1 listen .. 5 reset).
        request: u32,
        /// Why.
        why: Refusal,
    },
}

impl Request {
    /// Decode a client's entry.
    pub fn decode(e: &RawEntry) -> Result<Request, Refusal> {
        Ok(match e.kind {
            kind::LISTEN => Request::Listen { port: e.port },
            kind::CONNECT => Request::Connect { cid: e.cid, port: e.port },
            kind::SEND => Request::Send { socket: e.socket, payload: Payload { data: e.data, len: e.len } },
            kind::SHUTDOWN if (1..=SHUT_BOTH).contains(&e.status) => {
                Request::Shutdown { socket: e.socket, flags: e.status }
            }
            kind::RESET => Request::Reset { socket: e.socket },
            _ => return Err(Refusal::Malformed),
        })
    }

    /// The entry for this request.
    pub fn encode(&self) -> RawEntry {
        match *self {
            Request::Listen { port } => RawEntry { port, ..RawEntry::empty(kind::LISTEN) },
            Request::Connect { cid, port } => RawEntry { cid, port, ..RawEntry::empty(kind::CONNECT) },
            Request::Send { socket, payload } => {
                RawEntry { socket, len: payload.len, data: payload.data, ..RawEntry::empty(kind::SEND) }
            }
            Request::Shutdown { socket, flags } => {
                RawEntry { socket, status: flags, ..RawEntry::empty(kind::SHUTDOWN) }
            }
            Request::Reset { socket } => RawEntry { socket, ..RawEntry::empty(kind::RESET) },
        }
    }
}

fn ends_of(e: &RawEntry) -> Endpoints {
    Endpoints { socket: e.socket, local_port: e.port, peer_cid: e.cid, peer_port: e.peer_port }
}

fn with_ends(kind: u32, ends: Endpoints) -> RawEntry {
    RawEntry {
        socket: ends.socket,
        port: ends.local_port,
        cid: ends.peer_cid,
        peer_port: ends.peer_port,
        ..RawEntry::empty(kind)
    }
}

impl Event {
    /// Decode a driver's entry; `None` for one that is not a well-formed
    /// event.
    pub fn decode(e: &RawEntry) -> Option<Event> {
        Some(match e.kind {
            kind::LISTENING => Event::Listening { port: e.port },
            kind::ACCEPTED => Event::Accepted(ends_of(e)),
            kind::CONNECTED => Event::Connected(ends_of(e)),
            kind::RECEIVED => {
                let payload = Payload { data: e.data, len: e.len };
                payload.bytes()?;
                Event::Received { socket: e.socket, payload }
            }
            kind::PEER_SHUTDOWN if (1..=SHUT_BOTH).contains(&e.status) => {
                Event::PeerShutdown { socket: e.socket, flags: e.status }
            }
            kind::CLOSED => Event::Closed { ends: ends_of(e), why: CloseReason::from_word(e.status)? },
            kind::REFUSED => {
                Event::Refused { socket: e.socket, port: e.port, request: e.len, why: Refusal::from_word(e.status)? }
            }
            _ => return None,
        })
    }

    /// The entry for this event.
    pub fn encode(&self) -> RawEntry {
        match *self {
            Event::Listening { port } => RawEntry { port, ..RawEntry::empty(kind::LISTENING) },
            Event::Accepted(ends) => with_ends(kind::ACCEPTED, ends),
            Event::Connected(ends) => with_ends(kind::CONNECTED, ends),
            Event::Received { socket, payload } => {
                RawEntry { socket, len: payload.len, data: payload.data, ..RawEntry::empty(kind::RECEIVED) }
            }
            Event::PeerShutdown { socket, flags } => {
                RawEntry { socket, status: flags, ..RawEntry::empty(kind::PEER_SHUTDOWN) }
            }
            Event::Closed { ends, why } => RawEntry { status: why as u32, ..with_ends(kind::CLOSED, ends) },
            // The refused request's kind rides in `len`: a refusal carries
            // no data.
            Event::Refused { socket, port, request, why } => {
                RawEntry { socket, port, len: request, status: why as u32, ..RawEntry::empty(kind::REFUSED) }
            }
        }
    }

    /// Payload bytes this event carries (what the driver counts as taken
    /// once the client consumed it).
    pub fn payload_len(&self) -> u32 {
        match self {
            Event::Received { payload, .. } => payload.len,
            _ => 0,
        }
    }
}

fn rings(control: SharedMemory) -> Result<(SharedMemory, SharedMemory), QueueError> {
    match (control.slice(0, EVENTS_OFFSET), control.slice(EVENTS_OFFSET, CONTROL_SIZE - EVENTS_OFFSET)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(QueueError::RegionTooSmall { needed: CONTROL_SIZE, len: control.len() }),
    }
}

/// The client's end: produces requests, consumes events.
pub struct ClientPort {
    /// Requests to the driver.
    pub requests: Producer<VsockRing>,
    /// Events from the driver.
    pub events: Consumer<VsockRing>,
}

impl ClientPort {
    /// The client's end of the control region.
    pub fn new(control: SharedMemory) -> Result<Self, QueueError> {
        let (req, ev) = rings(control)?;
        Ok(ClientPort {
            requests: Producer::<VsockRing>::new(req, CAPACITY)?,
            events: Consumer::<VsockRing>::new(ev, CAPACITY)?,
        })
    }

    /// Queue `request` (published; the caller notifies the driver).
    pub fn post(&mut self, request: &Request) -> Result<(), QueueError> {
        self.requests.enqueue(request.encode())
    }

    /// The next event; `Ok(Some(Err(kind)))` for one that does not
    /// decode.
    pub fn next_event(&mut self) -> Result<Option<Result<Event, u32>>, QueueError> {
        Ok(self.events.dequeue()?.map(|e| Event::decode(&e).ok_or(e.kind)))
    }
}

/// The driver's end: consumes requests, produces events.
pub struct DriverPort {
    /// Requests from the client.
    pub requests: Consumer<VsockRing>,
    /// Events to the client.
    pub events: Producer<VsockRing>,
}

impl DriverPort {
    /// The driver's end of the control region.
    pub fn new(control: SharedMemory) -> Result<Self, QueueError> {
        let (req, ev) = rings(control)?;
        Ok(DriverPort {
            requests: Consumer::<VsockRing>::new(req, CAPACITY)?,
            events: Producer::<VsockRing>::new(ev, CAPACITY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    fn ports() -> (HeapRegion, ClientPort, DriverPort) {
        let region = HeapRegion::new(CONTROL_SIZE);
        let client = ClientPort::new(region.memory()).unwrap();
        let driver = DriverPort::new(region.memory()).unwrap();
        (region, client, driver)
    }

    #[test]
    fn the_rings_fit_the_region() {
        assert!(8 + CAPACITY as usize * ENTRY_SIZE <= EVENTS_OFFSET);
        assert_eq!(EVENTS_OFFSET % 0x1000, 0);
    }

    #[test]
    fn requests_and_events_round_trip() {
        let (_r, mut client, mut driver) = ports();
        let full = [0xa5u8; DATA_SIZE];
        let requests = [
            Request::Listen { port: 1234 },
            Request::Connect { cid: 0x1_0000_0002, port: 4321 },
            Request::Send { socket: 0x103, payload: Payload::new(&full) },
            Request::Shutdown { socket: 0x103, flags: SHUT_BOTH },
            Request::Reset { socket: 9 },
        ];
        for r in requests {
            client.post(&r).unwrap();
        }
        for r in requests {
            assert_eq!(Request::decode(&driver.requests.dequeue().unwrap().unwrap()), Ok(r));
        }
        let ends = Endpoints { socket: 0x201, local_port: 1234, peer_cid: 2, peer_port: 50000 };
        let events = [
            Event::Listening { port: 1234 },
            Event::Accepted(ends),
            Event::Connected(ends),
            Event::Received { socket: 0x201, payload: Payload::new(b"hi") },
            Event::Received { socket: 0x201, payload: Payload::new(&full) },
            Event::PeerShutdown { socket: 0x201, flags: SHUT_SEND },
            Event::Closed { ends, why: CloseReason::PeerBroke },
            Event::Refused { socket: 0, port: 1234, request: 1, why: Refusal::PortInUse },
        ];
        for e in events {
            driver.events.enqueue(e.encode()).unwrap();
        }
        for e in events {
            assert_eq!(client.next_event().unwrap(), Some(Ok(e)));
        }
        assert_eq!(client.next_event().unwrap(), None);
        assert_eq!(events[4].payload_len(), DATA_SIZE as u32);
    }

    #[test]
    fn what_a_client_or_driver_cannot_say_is_refused() {
        let (_r, mut client, mut driver) = ports();
        client.post(&Request::Send { socket: 1, payload: Payload::new(&[1u8; DATA_SIZE + 1]) }).unwrap();
        let Ok(Request::Send { payload, .. }) = Request::decode(&driver.requests.dequeue().unwrap().unwrap()) else {
            panic!("a send decodes")
        };
        assert_eq!((payload.len(), payload.bytes()), (DATA_SIZE as u32 + 1, None), "past an entry");
        let raw = |kind, status, len| RawEntry { status, len, ..RawEntry::empty(kind) };
        assert_eq!(Request::decode(&raw(99, 0, 0)), Err(Refusal::Malformed));
        assert_eq!(Request::decode(&raw(kind::SHUTDOWN, 0, 0)), Err(Refusal::Malformed), "no flags");
        assert_eq!(Request::decode(&raw(kind::SHUTDOWN, 4, 0)), Err(Refusal::Malformed), "unknown flags");
        assert_eq!(Event::decode(&raw(kind::RECEIVED, 0, DATA_SIZE as u32 + 1)), None, "a length past the entry");
        assert_eq!(Event::decode(&raw(kind::CLOSED, 7, 0)), None, "an unknown reason");
        assert_eq!(Event::decode(&raw(kind::REFUSED, 0, 1)), None, "no reason");
        assert_eq!(Event::decode(&raw(kind::PEER_SHUTDOWN, 8, 0)), None);
        assert_eq!(Event::decode(&raw(3, 0, 0)), None, "a request kind is no event");
        assert!(ClientPort::new(HeapRegion::new(0x1000).memory()).is_err());
    }
}
