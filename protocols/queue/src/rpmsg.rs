//! sevio's rpmsg client protocol (sDDF has no rpmsg class): how a client
//! PD creates endpoints by name, sends and receives messages, and learns
//! of remote endpoints, through the rpmsg driver.
//!
//! One control region of [`CONTROL_SIZE`] bytes holds two rings of the
//! shared SPSC machine ([`ring`](crate::ring)), each a header `{head u32
//! @0, tail u32 @4}` followed by [`CAPACITY`] entries of [`ENTRY_SIZE`]:
//! - requests, client to driver, at 0: [`Request`];
//! - events, driver to client, at [`EVENTS_OFFSET`]: [`Event`].
//!
//! An entry is `{kind u32 @0, local u32 @4, remote u32 @8, len u32 @12,
//! data [u8; 496] @16}`. Each side notifies the other after publishing a
//! batch (no signalling flags: the driver serves one client).
//!
//! The client is untrusted: [`Request::decode`] refuses an unknown kind
//! and a name that is empty, too long or holds a NUL; a `Send` whose
//! `len` is past what the entry carries decodes, and
//! [`Request::payload`] says so (the driver answers
//! [`Refusal::TooLarge`]). The driver is trusted no more by the client:
//! [`Event::decode`] checks lengths and names the same way.
//!
//! Panic contract: nothing here panics on any memory contents.

// A request or event is a copy of one entry, payload inline: no heap to
// box into, and a message is what they carry.
#![allow(clippy::large_enum_variant)]

use crate::QueueError;
use crate::mem::{RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// Bytes of payload an entry carries: an rpmsg buffer's (512) less its
/// 16-byte header.
pub const DATA_SIZE: usize = sevio_virtio::device::rpmsg::MAX_PAYLOAD;
/// Bytes of one entry.
pub const ENTRY_SIZE: usize = 16 + DATA_SIZE;
/// Entries per ring.
pub const CAPACITY: u32 = 32;
/// Offset of the events ring in the control region.
pub const EVENTS_OFFSET: usize = 0x8000;
/// Bytes of the control region.
pub const CONTROL_SIZE: usize = 0x10000;

mod kind {
    pub const CREATE: u32 = 1;
    pub const SEND: u32 = 2;
    pub const CREATED: u32 = 16;
    pub const RECEIVED: u32 = 17;
    pub const ANNOUNCED: u32 = 18;
    pub const REFUSED: u32 = 19;
}

/// One entry as it lies in the ring (a copy; decode before use).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// What it is.
    pub kind: u32,
    /// Local endpoint address.
    pub local: u32,
    /// Remote endpoint address.
    pub remote: u32,
    /// Bytes of `data` in use (may lie: checked by the decoders).
    pub len: u32,
    /// Payload or name.
    pub data: [u8; DATA_SIZE],
}

impl Entry for RawEntry {
    const SIZE: usize = ENTRY_SIZE;
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        let mut data = [0u8; DATA_SIZE];
        for (i, b) in data.iter_mut().enumerate() {
            *b = r.read_u8(16 + i)?;
        }
        Some(RawEntry {
            kind: r.read_u32(0)?,
            local: r.read_u32(4)?,
            remote: r.read_u32(8)?,
            len: r.read_u32(12)?,
            data,
        })
    }
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.kind)?;
        r.write_u32(4, self.local)?;
        r.write_u32(8, self.remote)?;
        r.write_u32(12, self.len)?;
        // Only the bytes in use, so a short message costs a short copy;
        // at least the first word, where a refusal keeps its reason.
        let used = (self.len as usize).clamp(4, DATA_SIZE);
        for (i, b) in self.data[..used].iter().enumerate() {
            r.write_u8(16 + i, *b)?;
        }
        Ok(())
    }
}

/// Layout of either ring.
#[derive(Debug)]
pub struct RpmsgRing;
impl QueueKind for RpmsgRing {
    type Index = u32;
    type Entry = RawEntry;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for RpmsgRing {}

/// An endpoint name: 1..=31 bytes, no NUL (the rpmsg wire format's own
/// rule, `sevio_virtio::device::rpmsg::Name`).
pub use sevio_virtio::device::rpmsg::Name as EndpointName;

fn name_of(e: &RawEntry) -> Option<EndpointName> {
    EndpointName::new(e.data.get(..e.len as usize)?)
}

/// A payload: up to [`DATA_SIZE`] bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    data: [u8; DATA_SIZE],
    len: u32,
}

impl Payload {
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
    /// Create a local endpoint named `name` (announced to the remote when
    /// the name service is there); answered [`Event::Created`].
    Create {
        /// Its name.
        name: EndpointName,
    },
    /// Send `payload` from local endpoint `local` to remote address
    /// `remote`.
    Send {
        /// A local endpoint this client created.
        local: u32,
        /// The remote address.
        remote: u32,
        /// The message (its length may be past an entry's: see
        /// [`Payload::bytes`]).
        payload: Payload,
    },
}

/// Why a request was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Refusal {
    /// A message larger than an rpmsg buffer's payload.
    TooLarge = 1,
    /// `local` is not an endpoint this client created.
    UnknownEndpoint = 2,
    /// An empty or too long name, or one with a NUL.
    BadName = 3,
    /// No room for another endpoint.
    NoRoom = 4,
    /// An unknown request kind.
    Malformed = 5,
    /// The device failed or is gone.
    NoDevice = 6,
}

impl Refusal {
    fn from_word(w: u32) -> Option<Refusal> {
        Some(match w {
            1 => Refusal::TooLarge,
            2 => Refusal::UnknownEndpoint,
            3 => Refusal::BadName,
            4 => Refusal::NoRoom,
            5 => Refusal::Malformed,
            6 => Refusal::NoDevice,
            _ => return None,
        })
    }
}

/// What the driver tells the client.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An endpoint was created at `local`.
    Created {
        /// Its address.
        local: u32,
        /// Its name.
        name: EndpointName,
    },
    /// A message for local endpoint `local` from `remote`.
    Received {
        /// The local endpoint.
        local: u32,
        /// The sender.
        remote: u32,
        /// The message.
        payload: Payload,
    },
    /// The remote announced (or withdrew) an endpoint.
    Announced {
        /// Its address.
        remote: u32,
        /// Its name.
        name: EndpointName,
        /// False: withdrawn (NS destroy).
        created: bool,
    },
    /// A request was refused.
    Refused {
        /// The request's local address (0 for a create).
        local: u32,
        /// Its remote address.
        remote: u32,
        /// Its length.
        len: u32,
        /// Why.
        why: Refusal,
    },
}

fn entry(kind: u32, local: u32, remote: u32, bytes: &[u8], len: u32) -> RawEntry {
    let mut data = [0u8; DATA_SIZE];
    let n = bytes.len().min(DATA_SIZE);
    data[..n].copy_from_slice(&bytes[..n]);
    RawEntry { kind, local, remote, len, data }
}

impl Request {
    /// Decode a client's entry; `None` for one that is not a request
    /// (answer [`Refusal::Malformed`] or [`Refusal::BadName`]).
    pub fn decode(e: &RawEntry) -> Result<Request, Refusal> {
        match e.kind {
            kind::CREATE => name_of(e).map(|name| Request::Create { name }).ok_or(Refusal::BadName),
            kind::SEND => {
                Ok(Request::Send { local: e.local, remote: e.remote, payload: Payload { data: e.data, len: e.len } })
            }
            _ => Err(Refusal::Malformed),
        }
    }

    /// The entry for this request.
    pub fn encode(&self) -> RawEntry {
        match self {
            Request::Create { name } => entry(kind::CREATE, 0, 0, name.as_bytes(), name.as_bytes().len() as u32),
            Request::Send { local, remote, payload } => {
                RawEntry { kind: kind::SEND, local: *local, remote: *remote, len: payload.len, data: payload.data }
            }
        }
    }
}

impl Event {
    /// Decode a driver's entry; `None` for one that is not a well-formed
    /// event.
    pub fn decode(e: &RawEntry) -> Option<Event> {
        Some(match e.kind {
            kind::CREATED => Event::Created { local: e.local, name: name_of(e)? },
            kind::RECEIVED => {
                let payload = Payload { data: e.data, len: e.len };
                payload.bytes()?;
                Event::Received { local: e.local, remote: e.remote, payload }
            }
            kind::ANNOUNCED => Event::Announced { remote: e.remote, name: name_of(e)?, created: e.local == 0 },
            kind::REFUSED => {
                let why = Refusal::from_word(u32::from_le_bytes([e.data[0], e.data[1], e.data[2], e.data[3]]))?;
                Event::Refused { local: e.local, remote: e.remote, len: e.len, why }
            }
            _ => return None,
        })
    }

    /// The entry for this event.
    pub fn encode(&self) -> RawEntry {
        match self {
            Event::Created { local, name } => {
                entry(kind::CREATED, *local, 0, name.as_bytes(), name.as_bytes().len() as u32)
            }
            Event::Received { local, remote, payload } => {
                RawEntry { kind: kind::RECEIVED, local: *local, remote: *remote, len: payload.len, data: payload.data }
            }
            Event::Announced { remote, name, created } => {
                entry(kind::ANNOUNCED, u32::from(!created), *remote, name.as_bytes(), name.as_bytes().len() as u32)
            }
            // `len` is the refused request's; the reason is data's first word.
            Event::Refused { local, remote, len, why } => {
                entry(kind::REFUSED, *local, *remote, &(*why as u32).to_le_bytes(), *len)
            }
        }
    }
}

impl Payload {
    /// A payload of `bytes` (at most [`DATA_SIZE`] are carried; `len`
    /// says how many were meant, so an oversized message reaches the
    /// driver, which refuses it).
    pub fn new(bytes: &[u8]) -> Payload {
        let mut data = [0u8; DATA_SIZE];
        let n = bytes.len().min(DATA_SIZE);
        data[..n].copy_from_slice(&bytes[..n]);
        Payload { data, len: bytes.len() as u32 }
    }
}

fn rings(control: SharedMemory) -> Result<(SharedMemory, SharedMemory), QueueError> {
    let half = CONTROL_SIZE - EVENTS_OFFSET;
    match (control.slice(0, EVENTS_OFFSET), control.slice(EVENTS_OFFSET, half)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(QueueError::RegionTooSmall { needed: CONTROL_SIZE, len: control.len() }),
    }
}

/// The client's end: produces requests, consumes events.
pub struct ClientPort {
    /// Requests to the driver.
    pub requests: Producer<RpmsgRing>,
    /// Events from the driver.
    pub events: Consumer<RpmsgRing>,
}

impl ClientPort {
    /// The client's end of the control region.
    pub fn new(control: SharedMemory) -> Result<Self, QueueError> {
        let (req, ev) = rings(control)?;
        Ok(ClientPort {
            requests: Producer::<RpmsgRing>::new(req, CAPACITY)?,
            events: Consumer::<RpmsgRing>::new(ev, CAPACITY)?,
        })
    }

    /// Queue `request` (publish, then notify the driver).
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
    pub requests: Consumer<RpmsgRing>,
    /// Events to the client.
    pub events: Producer<RpmsgRing>,
}

impl DriverPort {
    /// The driver's end of the control region.
    pub fn new(control: SharedMemory) -> Result<Self, QueueError> {
        let (req, ev) = rings(control)?;
        Ok(DriverPort {
            requests: Consumer::<RpmsgRing>::new(req, CAPACITY)?,
            events: Producer::<RpmsgRing>::new(ev, CAPACITY)?,
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
    fn requests_and_events_round_trip() {
        let (_r, mut client, mut driver) = ports();
        let name = EndpointName::new(b"echo-client").unwrap();
        client.post(&Request::Create { name }).unwrap();
        let big = [7u8; DATA_SIZE];
        client.post(&Request::Send { local: 1024, remote: 1024, payload: Payload::new(&big) }).unwrap();
        let e = driver.requests.dequeue().unwrap().unwrap();
        assert_eq!(Request::decode(&e), Ok(Request::Create { name }));
        let Ok(Request::Send { payload, .. }) = Request::decode(&driver.requests.dequeue().unwrap().unwrap()) else {
            panic!()
        };
        assert_eq!(payload.bytes(), Some(&big[..]));
        let events = [
            Event::Created { local: 1024, name },
            Event::Received { local: 1024, remote: 1024, payload: Payload::new(b"hi") },
            Event::Announced { remote: 1024, name, created: true },
            Event::Announced { remote: 1025, name, created: false },
            Event::Refused { local: 1024, remote: 7, len: 600, why: Refusal::TooLarge },
            Event::Refused { local: 0, remote: 0, len: 0, why: Refusal::BadName },
        ];
        for ev in events {
            driver.events.enqueue(ev.encode()).unwrap();
        }
        for ev in events {
            assert_eq!(client.next_event().unwrap(), Some(Ok(ev)));
        }
        assert_eq!(client.next_event().unwrap(), None);
    }

    #[test]
    fn what_a_client_cannot_say_is_refused() {
        let (_r, mut client, mut driver) = ports();
        let oversized = Payload::new(&[1u8; 600]);
        assert_eq!(oversized.bytes(), None, "600 bytes do not fit a buffer");
        client.post(&Request::Send { local: 1024, remote: 1024, payload: oversized }).unwrap();
        let Ok(Request::Send { payload, .. }) = Request::decode(&driver.requests.dequeue().unwrap().unwrap()) else {
            panic!()
        };
        assert_eq!((payload.len(), payload.bytes()), (600, None));
        let raw = |kind, len, data: &[u8]| entry(kind, 0, 0, data, len);
        assert_eq!(Request::decode(&raw(kind::CREATE, 0, b"")), Err(Refusal::BadName));
        assert_eq!(Request::decode(&raw(kind::CREATE, 40, &[b'a'; 40])), Err(Refusal::BadName));
        assert_eq!(Request::decode(&raw(kind::CREATE, 3, b"a\0b")), Err(Refusal::BadName));
        assert_eq!(Request::decode(&raw(99, 0, b"")), Err(Refusal::Malformed));
        assert_eq!(Event::decode(&raw(kind::RECEIVED, 497, b"")), None, "a length past the entry");
        assert_eq!(Event::decode(&raw(kind::REFUSED, 0, &[9, 0, 0, 0])), None, "an unknown reason");
        assert!(ClientPort::new(HeapRegion::new(0x1000).memory()).is_err());
    }
}
