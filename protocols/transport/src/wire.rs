//! PPC messages between a driver PD and its transport PD.
//!
//! A message is a label plus up to [`MAX_WORDS`] message registers (u64).
//! The PDs turn `(label, len)` into a seL4 `MessageInfo` themselves; this
//! module knows nothing about seL4. `decode` takes exactly the registers
//! the message carried (`&mrs[..info.length()]`) and rejects anything
//! malformed: unknown label, wrong length, bad width, stray high bits.
//!
//! Panic contract: neither `encode` nor `decode` panics. `encode` writes
//! at most `mr.len()` words; give it [`MAX_WORDS`] (a shorter buffer
//! yields a message the receiver rejects as [`DecodeError::WrongLength`]).

use crate::DecodeError;
use crate::location::{Location, TransportKind};
use crate::regs::{expect, narrow, put};

/// The most message registers any request or reply uses.
pub const MAX_WORDS: usize = 8;

/// Width of a device-config access in bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Width {
    /// One byte.
    W1 = 1,
    /// Two bytes.
    W2 = 2,
    /// Four bytes.
    W4 = 4,
    /// Eight bytes (the transport does two 4-byte accesses).
    W8 = 8,
}

impl Width {
    /// The width for a byte count, if it is 1, 2, 4 or 8.
    pub fn from_bytes(n: u64) -> Option<Width> {
        Some(match n {
            1 => Width::W1,
            2 => Width::W2,
            4 => Width::W4,
            8 => Width::W8,
            _ => return None,
        })
    }
    /// Bytes.
    pub fn bytes(self) -> usize {
        self as usize
    }
    /// The largest value of this width.
    pub fn max_value(self) -> u64 {
        match self {
            Width::W8 => u64::MAX,
            w => (1u64 << (8 * w as u32)) - 1,
        }
    }
}

/// Request labels (driver -> transport).
pub mod label {
    /// [`Request::DeviceInfo`](super::Request::DeviceInfo).
    pub const DEVICE_INFO: u64 = 1;
    /// [`Request::DeviceFeatures`](super::Request::DeviceFeatures).
    pub const DEVICE_FEATURES: u64 = 2;
    /// [`Request::DriverFeatures`](super::Request::DriverFeatures).
    pub const DRIVER_FEATURES: u64 = 3;
    /// [`Request::QueueMaxSize`](super::Request::QueueMaxSize).
    pub const QUEUE_MAX_SIZE: u64 = 4;
    /// [`Request::QueueSetup`](super::Request::QueueSetup).
    pub const QUEUE_SETUP: u64 = 5;
    /// [`Request::QueueReady`](super::Request::QueueReady).
    pub const QUEUE_READY: u64 = 6;
    /// [`Request::QueueDisable`](super::Request::QueueDisable).
    pub const QUEUE_DISABLE: u64 = 7;
    /// [`Request::ConfigRead`](super::Request::ConfigRead).
    pub const CONFIG_READ: u64 = 8;
    /// [`Request::ConfigWrite`](super::Request::ConfigWrite).
    pub const CONFIG_WRITE: u64 = 9;
    /// [`Request::ConfigGeneration`](super::Request::ConfigGeneration).
    pub const CONFIG_GENERATION: u64 = 10;
    /// [`Request::DriverOk`](super::Request::DriverOk).
    pub const DRIVER_OK: u64 = 11;
    /// [`Request::Reset`](super::Request::Reset).
    pub const RESET: u64 = 12;
    /// [`Request::Status`](super::Request::Status).
    pub const STATUS: u64 = 13;
    /// [`Request::QueueNotify`](super::Request::QueueNotify).
    pub const QUEUE_NOTIFY: u64 = 14;
}

/// Reply labels (transport -> driver).
pub mod reply_label {
    /// [`Reply::Ok`](super::Reply::Ok).
    pub const OK: u64 = 0;
    /// [`Reply::DeviceInfo`](super::Reply::DeviceInfo).
    pub const DEVICE_INFO: u64 = 1;
    /// [`Reply::Features`](super::Reply::Features).
    pub const FEATURES: u64 = 2;
    /// [`Reply::FeaturesOk`](super::Reply::FeaturesOk).
    pub const FEATURES_OK: u64 = 3;
    /// [`Reply::QueueMaxSize`](super::Reply::QueueMaxSize).
    pub const QUEUE_MAX_SIZE: u64 = 4;
    /// [`Reply::ConfigValue`](super::Reply::ConfigValue).
    pub const CONFIG_VALUE: u64 = 5;
    /// [`Reply::Generation`](super::Reply::Generation).
    pub const GENERATION: u64 = 6;
    /// [`Reply::Status`](super::Reply::Status).
    pub const STATUS: u64 = 7;
    /// [`Reply::Error`](super::Reply::Error).
    pub const ERROR: u64 = 15;
}

/// A driver's request to its transport.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Which device is bound to me? Reply: [`Reply::DeviceInfo`].
    DeviceInfo,
    /// The device's 64 feature bits. Reply: [`Reply::Features`].
    DeviceFeatures,
    /// Write the driver's features; the transport then sets FEATURES_OK
    /// and reads it back. Reply: [`Reply::FeaturesOk`].
    DriverFeatures {
        /// Accepted feature bits.
        features: u64,
    },
    /// The largest size queue `queue` supports (0: no such queue).
    /// Reply: [`Reply::QueueMaxSize`].
    QueueMaxSize {
        /// Queue index.
        queue: u16,
    },
    /// Program queue `queue` (not yet enabled). Reply: [`Reply::Ok`].
    QueueSetup {
        /// Queue index.
        queue: u16,
        /// Number of descriptors (a power of two).
        size: u16,
        /// Physical address of the descriptor table.
        desc: u64,
        /// Physical address of the available (driver) ring.
        avail: u64,
        /// Physical address of the used (device) ring.
        used: u64,
    },
    /// Enable queue `queue`. Reply: [`Reply::Ok`].
    QueueReady {
        /// Queue index.
        queue: u16,
    },
    /// Disable queue `queue` (VIRTIO 1.2 queue reset where supported).
    /// Reply: [`Reply::Ok`].
    QueueDisable {
        /// Queue index.
        queue: u16,
    },
    /// Read device config. Reply: [`Reply::ConfigValue`].
    ConfigRead {
        /// Byte offset in the device-specific config space.
        offset: u32,
        /// Access width.
        width: Width,
    },
    /// Write device config. Reply: [`Reply::Ok`].
    ConfigWrite {
        /// Byte offset in the device-specific config space.
        offset: u32,
        /// Access width.
        width: Width,
        /// Value (must fit `width`).
        value: u64,
    },
    /// The config generation counter. Reply: [`Reply::Generation`].
    ConfigGeneration,
    /// Set DRIVER_OK: the device is live. Reply: [`Reply::Ok`].
    DriverOk,
    /// Reset the device (status 0, all queues off). Reply: [`Reply::Ok`].
    Reset,
    /// Read the device status byte. Reply: [`Reply::Status`].
    Status,
    /// Tell the device queue `queue` has new buffers (QueueNotify). The
    /// synchronous alternative to the doorbell: a PPC is no notification,
    /// so a driver that kicks this way adds none to the system's count.
    /// Reply: [`Reply::Ok`].
    QueueNotify {
        /// Queue index.
        queue: u16,
    },
}

/// Facts about the bound device.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// VirtIO device id (net 1, blk 2, ...).
    pub device_id: u32,
    /// Vendor id.
    pub vendor_id: u32,
    /// Where the device is (and so the transport kind).
    pub location: Location,
    /// Transport version (virtio-mmio Version register; 1 for PCI modern).
    pub version: u32,
}

impl DeviceInfo {
    /// The transport kind.
    pub fn kind(&self) -> TransportKind {
        self.location.kind()
    }
}

/// Why a transport refused a request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum TransportError {
    /// No device is bound to the calling driver's channel.
    NotBound = 1,
    /// The message did not decode.
    Malformed = 2,
    /// No such queue, or the queue is not available.
    InvalidQueue = 3,
    /// Queue size zero, not a power of two, or above the maximum.
    InvalidQueueSize = 4,
    /// A ring address is misaligned or outside the driver's DMA memory.
    InvalidAddress = 5,
    /// Config access outside the device's config space.
    ConfigOutOfRange = 6,
    /// The request is out of order for the device's state (e.g. queue
    /// setup before FEATURES_OK, or setup of an enabled queue).
    WrongState = 7,
    /// The device set DEVICE_NEEDS_RESET or rejected initialisation.
    DeviceFailed = 8,
    /// The transport does not support this operation.
    Unsupported = 9,
}

impl TransportError {
    /// The error for a wire code.
    pub fn from_code(c: u64) -> Option<TransportError> {
        use TransportError::*;
        Some(match c {
            1 => NotBound,
            2 => Malformed,
            3 => InvalidQueue,
            4 => InvalidQueueSize,
            5 => InvalidAddress,
            6 => ConfigOutOfRange,
            7 => WrongState,
            8 => DeviceFailed,
            9 => Unsupported,
            _ => return None,
        })
    }
}

/// A transport's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Done.
    Ok,
    /// Answer to [`Request::DeviceInfo`].
    DeviceInfo(DeviceInfo),
    /// Answer to [`Request::DeviceFeatures`].
    Features(u64),
    /// Answer to [`Request::DriverFeatures`]: whether FEATURES_OK stuck.
    FeaturesOk(bool),
    /// Answer to [`Request::QueueMaxSize`] (0: queue not available).
    QueueMaxSize(u16),
    /// Answer to [`Request::ConfigRead`]: the value and the config
    /// generation read before it.
    ConfigValue {
        /// The value read.
        value: u64,
        /// Config generation at the time of the read.
        generation: u32,
    },
    /// Answer to [`Request::ConfigGeneration`].
    Generation(u32),
    /// Answer to [`Request::Status`]: the device status byte.
    Status(u8),
    /// The request was refused.
    Error(TransportError),
}

fn queue_size(label: u64, v: u64) -> Result<u16, DecodeError> {
    let s: u16 = narrow(label, v)?;
    if !s.is_power_of_two() {
        return Err(DecodeError::QueueSizeNotPowerOfTwo(v));
    }
    Ok(s)
}

fn width(v: u64) -> Result<Width, DecodeError> {
    Width::from_bytes(v).ok_or(DecodeError::BadWidth(v))
}

impl Request {
    /// Encode into `mr`; returns `(label, number of words)`.
    pub fn encode(&self, mr: &mut [u64]) -> (u64, usize) {
        use label::*;
        match *self {
            Request::DeviceInfo => (DEVICE_INFO, 0),
            Request::DeviceFeatures => (DEVICE_FEATURES, 0),
            Request::DriverFeatures { features } => (DRIVER_FEATURES, put(mr, &[features])),
            Request::QueueMaxSize { queue } => (QUEUE_MAX_SIZE, put(mr, &[queue.into()])),
            Request::QueueSetup { queue, size, desc, avail, used } => {
                (QUEUE_SETUP, put(mr, &[queue.into(), size.into(), desc, avail, used]))
            }
            Request::QueueReady { queue } => (QUEUE_READY, put(mr, &[queue.into()])),
            Request::QueueDisable { queue } => (QUEUE_DISABLE, put(mr, &[queue.into()])),
            Request::ConfigRead { offset, width } => (CONFIG_READ, put(mr, &[offset.into(), width as u64])),
            Request::ConfigWrite { offset, width, value } => {
                (CONFIG_WRITE, put(mr, &[offset.into(), width as u64, value]))
            }
            Request::ConfigGeneration => (CONFIG_GENERATION, 0),
            Request::DriverOk => (DRIVER_OK, 0),
            Request::Reset => (RESET, 0),
            Request::Status => (STATUS, 0),
            Request::QueueNotify { queue } => (QUEUE_NOTIFY, put(mr, &[queue.into()])),
        }
    }

    /// Decode a request; `mr` is exactly the words the message carried.
    pub fn decode(label: u64, mr: &[u64]) -> Result<Request, DecodeError> {
        use label::*;
        let l = label;
        Ok(match label {
            DEVICE_INFO => expect::<0>(l, mr).map(|_| Request::DeviceInfo)?,
            DEVICE_FEATURES => expect::<0>(l, mr).map(|_| Request::DeviceFeatures)?,
            DRIVER_FEATURES => Request::DriverFeatures { features: expect::<1>(l, mr)?[0] },
            QUEUE_MAX_SIZE => Request::QueueMaxSize { queue: narrow(l, expect::<1>(l, mr)?[0])? },
            QUEUE_SETUP => {
                let [queue, size, desc, avail, used] = expect::<5>(l, mr)?;
                Request::QueueSetup { queue: narrow(l, queue)?, size: queue_size(l, size)?, desc, avail, used }
            }
            QUEUE_READY => Request::QueueReady { queue: narrow(l, expect::<1>(l, mr)?[0])? },
            QUEUE_DISABLE => Request::QueueDisable { queue: narrow(l, expect::<1>(l, mr)?[0])? },
            CONFIG_READ => {
                let [offset, w] = expect::<2>(l, mr)?;
                Request::ConfigRead { offset: narrow(l, offset)?, width: width(w)? }
            }
            CONFIG_WRITE => {
                let [offset, w, value] = expect::<3>(l, mr)?;
                let width = width(w)?;
                if value > width.max_value() {
                    return Err(DecodeError::BadValue { label, value });
                }
                Request::ConfigWrite { offset: narrow(l, offset)?, width, value }
            }
            CONFIG_GENERATION => expect::<0>(l, mr).map(|_| Request::ConfigGeneration)?,
            DRIVER_OK => expect::<0>(l, mr).map(|_| Request::DriverOk)?,
            RESET => expect::<0>(l, mr).map(|_| Request::Reset)?,
            STATUS => expect::<0>(l, mr).map(|_| Request::Status)?,
            QUEUE_NOTIFY => Request::QueueNotify { queue: narrow(l, expect::<1>(l, mr)?[0])? },
            _ => return Err(DecodeError::UnknownLabel(label)),
        })
    }
}

impl Reply {
    /// Encode into `mr`; returns `(label, number of words)`.
    pub fn encode(&self, mr: &mut [u64]) -> (u64, usize) {
        use reply_label::*;
        match *self {
            Reply::Ok => (OK, 0),
            Reply::DeviceInfo(d) => {
                // An unencodable location (bad BDF) cannot come from a
                // decoded message; encode it as an impossible kind so the
                // receiver rejects it rather than misreading it.
                let loc = d.location.to_word().unwrap_or(u64::MAX);
                let kind = d.location.kind() as u64;
                (DEVICE_INFO, put(mr, &[d.device_id.into(), d.vendor_id.into(), kind, loc, d.version.into()]))
            }
            Reply::Features(f) => (FEATURES, put(mr, &[f])),
            Reply::FeaturesOk(ok) => (FEATURES_OK, put(mr, &[ok.into()])),
            Reply::QueueMaxSize(n) => (QUEUE_MAX_SIZE, put(mr, &[n.into()])),
            Reply::ConfigValue { value, generation } => (CONFIG_VALUE, put(mr, &[value, generation.into()])),
            Reply::Generation(g) => (GENERATION, put(mr, &[g.into()])),
            Reply::Status(s) => (STATUS, put(mr, &[s.into()])),
            Reply::Error(e) => (ERROR, put(mr, &[e as u64])),
        }
    }

    /// Decode a reply; `mr` is exactly the words the message carried.
    pub fn decode(label: u64, mr: &[u64]) -> Result<Reply, DecodeError> {
        use reply_label::*;
        let l = label;
        Ok(match label {
            OK => expect::<0>(l, mr).map(|_| Reply::Ok)?,
            DEVICE_INFO => {
                let [device_id, vendor_id, kind, loc, version] = expect::<5>(l, mr)?;
                let location = Location::from_word(loc).ok_or(DecodeError::BadValue { label, value: loc })?;
                if location.kind() as u64 != kind {
                    return Err(DecodeError::BadValue { label, value: kind });
                }
                Reply::DeviceInfo(DeviceInfo {
                    device_id: narrow(l, device_id)?,
                    vendor_id: narrow(l, vendor_id)?,
                    location,
                    version: narrow(l, version)?,
                })
            }
            FEATURES => Reply::Features(expect::<1>(l, mr)?[0]),
            FEATURES_OK => match expect::<1>(l, mr)?[0] {
                0 => Reply::FeaturesOk(false),
                1 => Reply::FeaturesOk(true),
                v => return Err(DecodeError::BadValue { label, value: v }),
            },
            QUEUE_MAX_SIZE => Reply::QueueMaxSize(narrow(l, expect::<1>(l, mr)?[0])?),
            CONFIG_VALUE => {
                let [value, generation] = expect::<2>(l, mr)?;
                Reply::ConfigValue { value, generation: narrow(l, generation)? }
            }
            GENERATION => Reply::Generation(narrow(l, expect::<1>(l, mr)?[0])?),
            STATUS => Reply::Status(narrow(l, expect::<1>(l, mr)?[0])?),
            ERROR => {
                let c = expect::<1>(l, mr)?[0];
                Reply::Error(TransportError::from_code(c).ok_or(DecodeError::BadValue { label, value: c })?)
            }
            _ => return Err(DecodeError::UnknownLabel(label)),
        })
    }
}
