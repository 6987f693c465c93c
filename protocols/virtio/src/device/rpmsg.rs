//! rpmsg over virtio (device id 7; Linux `drivers/rpmsg/virtio_rpmsg_bus.c`,
//! OpenAMP `rpmsg_virtio.c`), byte for byte.
//!
//! Queue 0 carries messages to the driver (its rx), queue 1 from it (its
//! tx). Each buffer is [`BUFFER_SIZE`] bytes: a [`Header`] of
//! [`HEADER_SIZE`], then `len` bytes of payload. Addresses below
//! [`RESERVED_ADDRESSES`] are reserved; the name service listens at
//! [`NS_ADDR`] and carries [`NsMessage`]s when [`F_NS`] is negotiated.
//!
//! Both ends are untrusted here: [`Header::parse`] refuses a length past
//! the bytes that arrived, [`NsMessage::parse`] an announcement of the
//! wrong size, with an unterminated or empty name, or unknown flags.
//!
//! Panic contract: nothing here panics on any input.

use crate::features::FeatureBit;

/// The name service is offered (`VIRTIO_RPMSG_F_NS`).
pub const F_NS: FeatureBit = FeatureBit::of(0);
/// Messages to the driver (the driver's rx queue).
pub const RX_QUEUE: u16 = 0;
/// Messages from the driver (its tx queue).
pub const TX_QUEUE: u16 = 1;
/// Bytes of every rpmsg buffer.
pub const BUFFER_SIZE: usize = 512;
/// Bytes of the header.
pub const HEADER_SIZE: usize = 16;
/// The largest payload a buffer carries.
pub const MAX_PAYLOAD: usize = BUFFER_SIZE - HEADER_SIZE;
/// Addresses below this are reserved (the name service among them);
/// endpoints are created from here up.
pub const RESERVED_ADDRESSES: u32 = 1024;
/// The name service's address.
pub const NS_ADDR: u32 = 53;
/// Bytes of an endpoint name, NUL-terminated inside.
pub const NAME_SIZE: usize = 32;
/// Bytes of a name-service message.
pub const NS_MESSAGE_SIZE: usize = NAME_SIZE + 8;

/// A message header (`struct rpmsg_hdr`, packed, little-endian).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sender's address.
    pub src: u32,
    /// Receiver's address.
    pub dst: u32,
    /// Payload bytes.
    pub len: u16,
    /// Flags (none defined; sent 0, ignored on receipt).
    pub flags: u16,
}

/// What is wrong with a message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MessageError {
    /// Fewer bytes than a header.
    Short {
        /// Bytes that arrived.
        got: usize,
    },
    /// The header's `len` runs past the bytes that arrived.
    LenPastBuffer {
        /// The header's `len`.
        len: u16,
        /// Payload bytes that arrived.
        room: usize,
    },
    /// A payload larger than a buffer holds (sending).
    TooLarge {
        /// Payload bytes.
        len: usize,
    },
    /// A name-service message that is not [`NS_MESSAGE_SIZE`] bytes.
    NsWrongSize {
        /// Its size.
        len: usize,
    },
    /// A name with no NUL in its 32 bytes.
    NsUnterminated,
    /// An empty name.
    NsEmptyName,
    /// Flags other than create (0) and destroy (1).
    NsBadFlags {
        /// The flags.
        flags: u32,
    },
}

impl Header {
    /// The header of `msg` (the bytes the peer says it wrote) and its
    /// payload, checked: the payload lies inside `msg`.
    pub fn parse(msg: &[u8]) -> Result<(Header, &[u8]), MessageError> {
        let word = |at: usize| msg.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let half = |at: usize| msg.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        let short = MessageError::Short { got: msg.len() };
        let header = Header {
            src: word(0).ok_or(short)?,
            dst: word(4).ok_or(short)?,
            len: half(12).ok_or(short)?,
            flags: half(14).ok_or(short)?,
        };
        let room = msg.len() - HEADER_SIZE;
        let payload = msg
            .get(HEADER_SIZE..HEADER_SIZE + header.len as usize)
            .ok_or(MessageError::LenPastBuffer { len: header.len, room })?;
        Ok((header, payload))
    }

    /// Write a message of `payload` from `src` to `dst` into `out`;
    /// returns its length. A payload past [`MAX_PAYLOAD`] or `out` is
    /// refused.
    pub fn emit(src: u32, dst: u32, payload: &[u8], out: &mut [u8]) -> Result<usize, MessageError> {
        let total = HEADER_SIZE + payload.len();
        let too_large = MessageError::TooLarge { len: payload.len() };
        if payload.len() > MAX_PAYLOAD {
            return Err(too_large);
        }
        let out = out.get_mut(..total).ok_or(too_large)?;
        out[0..4].copy_from_slice(&src.to_le_bytes());
        out[4..8].copy_from_slice(&dst.to_le_bytes());
        out[8..12].copy_from_slice(&0u32.to_le_bytes());
        out[12..14].copy_from_slice(&(payload.len() as u16).to_le_bytes());
        out[14..16].copy_from_slice(&0u16.to_le_bytes());
        out[HEADER_SIZE..].copy_from_slice(payload);
        Ok(total)
    }
}

/// An endpoint name: up to 31 bytes (NUL-terminated on the wire).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; NAME_SIZE],
    len: u8,
}

impl Name {
    /// `name`, if it is 1..=31 bytes with no NUL.
    pub fn new(name: &[u8]) -> Option<Name> {
        if name.is_empty() || name.len() >= NAME_SIZE || name.contains(&0) {
            return None;
        }
        let mut bytes = [0u8; NAME_SIZE];
        bytes[..name.len()].copy_from_slice(name);
        Some(Name { bytes, len: name.len() as u8 })
    }
    /// The name's bytes (no NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    /// The name as text, for logs (`"?"` if it is not UTF-8).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }
    /// The 32 bytes on the wire.
    pub fn wire(&self) -> [u8; NAME_SIZE] {
        self.bytes
    }
}

/// What an announcement says of its endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NsAction {
    /// The endpoint exists (`RPMSG_NS_CREATE`, 0).
    Create,
    /// The endpoint is gone (`RPMSG_NS_DESTROY`, 1).
    Destroy,
}

/// A name-service announcement (`struct rpmsg_ns_msg`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NsMessage {
    /// The endpoint's name.
    pub name: Name,
    /// Its address.
    pub addr: u32,
    /// Created or destroyed.
    pub action: NsAction,
}

impl NsMessage {
    /// Parse a name-service payload, refusing anything malformed.
    pub fn parse(payload: &[u8]) -> Result<NsMessage, MessageError> {
        if payload.len() != NS_MESSAGE_SIZE {
            return Err(MessageError::NsWrongSize { len: payload.len() });
        }
        let raw = &payload[..NAME_SIZE];
        let end = raw.iter().position(|&b| b == 0).ok_or(MessageError::NsUnterminated)?;
        let name = Name::new(&raw[..end]).ok_or(MessageError::NsEmptyName)?;
        let word = |at: usize| u32::from_le_bytes([payload[at], payload[at + 1], payload[at + 2], payload[at + 3]]);
        let action = match word(NAME_SIZE + 4) {
            0 => NsAction::Create,
            1 => NsAction::Destroy,
            flags => return Err(MessageError::NsBadFlags { flags }),
        };
        Ok(NsMessage { name, addr: word(NAME_SIZE), action })
    }

    /// The payload bytes of this announcement.
    pub fn emit(&self) -> [u8; NS_MESSAGE_SIZE] {
        let mut out = [0u8; NS_MESSAGE_SIZE];
        out[..NAME_SIZE].copy_from_slice(&self.name.wire());
        out[NAME_SIZE..NAME_SIZE + 4].copy_from_slice(&self.addr.to_le_bytes());
        let flags: u32 = match self.action {
            NsAction::Create => 0,
            NsAction::Destroy => 1,
        };
        out[NAME_SIZE + 4..].copy_from_slice(&flags.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_linux_rpmsg_hdr_byte_for_byte() {
        let mut buf = [0u8; 32];
        assert_eq!(Header::emit(1024, 53, b"hi", &mut buf), Ok(18));
        assert_eq!(&buf[..18], &[0, 4, 0, 0, 53, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'h', b'i']);
        let (h, payload) = Header::parse(&buf[..18]).unwrap();
        assert_eq!((h.src, h.dst, h.len, payload), (1024, 53, 2, &b"hi"[..]));
    }

    #[test]
    fn a_length_past_the_buffer_is_refused() {
        let mut buf = [0u8; 32];
        Header::emit(1024, 1025, b"abcd", &mut buf).unwrap();
        buf[12] = 200;
        assert_eq!(Header::parse(&buf[..20]), Err(MessageError::LenPastBuffer { len: 200, room: 4 }));
        assert_eq!(Header::parse(&buf[..15]), Err(MessageError::Short { got: 15 }));
        let big = [0u8; MAX_PAYLOAD + 1];
        let mut out = [0u8; 1024];
        assert_eq!(Header::emit(1, 2, &big, &mut out), Err(MessageError::TooLarge { len: MAX_PAYLOAD + 1 }));
        assert_eq!(Header::emit(1, 2, &big[..MAX_PAYLOAD], &mut out), Ok(BUFFER_SIZE));
        assert_eq!(Header::emit(1, 2, b"abc", &mut out[..18]), Err(MessageError::TooLarge { len: 3 }));
    }

    #[test]
    fn announcements_round_trip_and_bad_ones_are_refused() {
        let ns = NsMessage { name: Name::new(b"rpmsg-echo").unwrap(), addr: 1024, action: NsAction::Create };
        let bytes = ns.emit();
        assert_eq!(&bytes[..11], b"rpmsg-echo\0");
        assert_eq!(&bytes[32..], &[0, 4, 0, 0, 0, 0, 0, 0]);
        assert_eq!(NsMessage::parse(&bytes), Ok(ns));
        let mut unterminated = bytes;
        unterminated[..NAME_SIZE].fill(b'x');
        assert_eq!(NsMessage::parse(&unterminated), Err(MessageError::NsUnterminated));
        let mut empty = bytes;
        empty[0] = 0;
        assert_eq!(NsMessage::parse(&empty), Err(MessageError::NsEmptyName));
        let mut flags = bytes;
        flags[36] = 2;
        assert_eq!(NsMessage::parse(&flags), Err(MessageError::NsBadFlags { flags: 2 }));
        assert_eq!(NsMessage::parse(&bytes[..39]), Err(MessageError::NsWrongSize { len: 39 }));
        assert_eq!(Name::new(&[b'a'; 32]), None);
        assert_eq!(Name::new(b"a\0b"), None);
    }
}
