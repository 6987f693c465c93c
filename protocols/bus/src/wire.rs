//! PPC messages to the bus PD.
//!
//! Every message fits in message registers (label + at most
//! [`MAX_WORDS`] u64 words), so no serialisation library is needed. The
//! bus PD learns *who* called from the PPC channel, not from the message:
//! it must check that a `DeviceFound` names the transport of the calling
//! channel, and takes a registering driver's identity from its channel.
//!
//! Panic contract: neither `encode` nor `decode` panics (`encode` writes
//! at most `mr.len()` words; give it [`MAX_WORDS`]).

use crate::{DecodeError, DeviceIds, MAX_DEVICE_IDS, TransportId};
use sevio_transport_protocol::Location;
use sevio_transport_protocol::regs::{expect, narrow as field, put};

/// The most words a bus message uses.
pub const MAX_WORDS: usize = 1 + MAX_DEVICE_IDS / 2;

/// Request labels.
pub mod label {
    /// [`BusRequest::DeviceFound`](super::BusRequest::DeviceFound).
    pub const DEVICE_FOUND: u64 = 1;
    /// [`BusRequest::DeviceGone`](super::BusRequest::DeviceGone).
    pub const DEVICE_GONE: u64 = 2;
    /// [`BusRequest::RegisterDriver`](super::BusRequest::RegisterDriver).
    pub const REGISTER_DRIVER: u64 = 3;
    /// [`BusRequest::ServesDrivers`](super::BusRequest::ServesDrivers).
    pub const SERVES_DRIVERS: u64 = 4;
}

/// Reply labels.
pub mod reply_label {
    /// [`BusReply::Ok`](super::BusReply::Ok).
    pub const OK: u64 = 0;
    /// [`BusReply::Registered`](super::BusReply::Registered).
    pub const REGISTERED: u64 = 1;
    /// [`BusReply::Error`](super::BusReply::Error).
    pub const ERROR: u64 = 15;
}

/// A message to the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusRequest {
    /// Transport -> bus: a device answered at `location`.
    DeviceFound {
        /// The reporting transport.
        transport: TransportId,
        /// Where the device is.
        location: Location,
        /// VirtIO device id.
        device_id: u32,
        /// Vendor id.
        vendor_id: u32,
    },
    /// Transport -> bus: the device at `location` is gone (or failed).
    DeviceGone {
        /// The reporting transport.
        transport: TransportId,
        /// Where the device was.
        location: Location,
    },
    /// Transport -> bus, before its first DeviceFound: the drivers it has
    /// a channel to (bit k = driver k). Only these may be bound to its
    /// devices: system.xml's channels, not the bus, decide which driver
    /// can reach which transport.
    ServesDrivers {
        /// The reporting transport.
        transport: TransportId,
        /// Bit k: driver k.
        drivers: u64,
    },
    /// Driver -> bus: I serve these device ids.
    RegisterDriver {
        /// VirtIO device ids served (1..=[`MAX_DEVICE_IDS`]).
        device_ids: DeviceIds,
    },
}

/// Error codes in a [`BusReply::Error`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum BusError {
    /// The message did not decode.
    Malformed = 1,
    /// The caller may not send this (wrong channel, or a transport id
    /// that is not the caller's).
    NotPermitted = 2,
    /// A fixed-size table is full.
    Full = 3,
    /// The device is already known (DeviceFound twice).
    Duplicate = 4,
    /// No such device (DeviceGone for an unknown location).
    Unknown = 5,
}

impl BusError {
    /// The error for a wire code.
    pub fn from_code(c: u64) -> Option<BusError> {
        Some(match c {
            1 => BusError::Malformed,
            2 => BusError::NotPermitted,
            3 => BusError::Full,
            4 => BusError::Duplicate,
            5 => BusError::Unknown,
            _ => return None,
        })
    }
}

/// The bus's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BusReply {
    /// Accepted. Bindings, if any, appear in the binding table.
    Ok,
    /// A driver's registration was accepted; this is its id, the one its
    /// binding carries in the table (the bus takes it from the channel).
    Registered {
        /// The caller's driver id.
        driver: crate::DriverId,
    },
    /// Refused.
    Error(BusError),
}

fn location(label: u64, w: u64) -> Result<Location, DecodeError> {
    Location::from_word(w).ok_or(DecodeError::BadValue { label, value: w })
}

fn location_word(l: &Location) -> u64 {
    // A Location that cannot be encoded (out-of-range BDF) becomes a word
    // the receiver rejects.
    l.to_word().unwrap_or(u64::MAX)
}

impl BusRequest {
    /// Encode into `mr`; returns `(label, number of words)`.
    pub fn encode(&self, mr: &mut [u64]) -> (u64, usize) {
        match self {
            BusRequest::DeviceFound { transport, location, device_id, vendor_id } => (
                label::DEVICE_FOUND,
                put(mr, &[transport.0.into(), location_word(location), (*device_id).into(), (*vendor_id).into()]),
            ),
            BusRequest::DeviceGone { transport, location } => {
                (label::DEVICE_GONE, put(mr, &[transport.0.into(), location_word(location)]))
            }
            BusRequest::ServesDrivers { transport, drivers } => {
                (label::SERVES_DRIVERS, put(mr, &[transport.0.into(), *drivers]))
            }
            BusRequest::RegisterDriver { device_ids } => {
                let mut words = [0u64; MAX_WORDS];
                words[0] = device_ids.len() as u64;
                for (i, id) in device_ids.iter().enumerate() {
                    words[1 + i / 2] |= u64::from(*id) << (32 * (i % 2));
                }
                let n = 1 + device_ids.len().div_ceil(2);
                (label::REGISTER_DRIVER, put(mr, &words[..n]))
            }
        }
    }

    /// Decode a request; `mr` is exactly the words the message carried.
    pub fn decode(label: u64, mr: &[u64]) -> Result<BusRequest, DecodeError> {
        let l = label;
        match label {
            label::DEVICE_FOUND => {
                let [t, loc, dev, ven] = expect::<4>(l, mr)?;
                Ok(BusRequest::DeviceFound {
                    transport: TransportId(field(l, t)?),
                    location: location(l, loc)?,
                    device_id: field(l, dev)?,
                    vendor_id: field(l, ven)?,
                })
            }
            label::DEVICE_GONE => {
                let [t, loc] = expect::<2>(l, mr)?;
                Ok(BusRequest::DeviceGone { transport: TransportId(field(l, t)?), location: location(l, loc)? })
            }
            label::SERVES_DRIVERS => {
                let [t, drivers] = expect::<2>(l, mr)?;
                Ok(BusRequest::ServesDrivers { transport: TransportId(field(l, t)?), drivers })
            }
            label::REGISTER_DRIVER => {
                let count = *mr.first().ok_or(DecodeError::WrongLength { label, expected: 1, got: 0 })?;
                if count == 0 || count > MAX_DEVICE_IDS as u64 {
                    return Err(DecodeError::BadValue { label, value: count });
                }
                let count = count as usize;
                let expected = 1 + count.div_ceil(2);
                if mr.len() != expected {
                    return Err(DecodeError::WrongLength { label, expected, got: mr.len() });
                }
                let mut device_ids = DeviceIds::new();
                for i in 0..count {
                    let id = (mr[1 + i / 2] >> (32 * (i % 2))) as u32;
                    // Cannot fail: count <= capacity.
                    let _ = device_ids.push(id);
                }
                // An odd count leaves the last word's high half unused: it
                // must be zero.
                if count % 2 == 1 && mr[expected - 1] >> 32 != 0 {
                    return Err(DecodeError::BadValue { label, value: mr[expected - 1] });
                }
                Ok(BusRequest::RegisterDriver { device_ids })
            }
            _ => Err(DecodeError::UnknownLabel(label)),
        }
    }
}

impl BusReply {
    /// Encode into `mr`; returns `(label, number of words)`.
    pub fn encode(&self, mr: &mut [u64]) -> (u64, usize) {
        match self {
            BusReply::Ok => (reply_label::OK, 0),
            BusReply::Registered { driver } => (reply_label::REGISTERED, put(mr, &[driver.0.into()])),
            BusReply::Error(e) => (reply_label::ERROR, put(mr, &[*e as u64])),
        }
    }

    /// Decode a reply.
    pub fn decode(label: u64, mr: &[u64]) -> Result<BusReply, DecodeError> {
        match label {
            reply_label::OK => expect::<0>(label, mr).map(|_| BusReply::Ok),
            reply_label::REGISTERED => {
                let [d] = expect::<1>(label, mr)?;
                Ok(BusReply::Registered { driver: crate::DriverId(field(label, d)?) })
            }
            reply_label::ERROR => {
                let [c] = expect::<1>(label, mr)?;
                BusError::from_code(c).map(BusReply::Error).ok_or(DecodeError::BadValue { label, value: c })
            }
            _ => Err(DecodeError::UnknownLabel(label)),
        }
    }
}
