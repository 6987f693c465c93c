//! IOMMU device (device id 23, VIRTIO 1.2 §5.13), byte for byte.
//!
//! Queue 0 carries requests (a device-readable head and body, then a
//! device-writable tail whose `status` says how it went); queue 1
//! carries fault reports from the device. Every request here is built
//! from values the caller checked with [`Window::check`], and every
//! device answer ([`Status::from_tail`], [`Fault::parse`]) is parsed
//! as untrusted.
//!
//! Panic contract: nothing here panics on any input.

use crate::features::FeatureBit;
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Feature bits (VIRTIO 1.2 §5.13.3).
pub mod features {
    use super::FeatureBit;
    /// `input_range` is valid.
    pub const INPUT_RANGE: FeatureBit = FeatureBit::of(0);
    /// `domain_range` is valid.
    pub const DOMAIN_RANGE: FeatureBit = FeatureBit::of(1);
    /// MAP and UNMAP requests are available.
    pub const MAP_UNMAP: FeatureBit = FeatureBit::of(2);
    /// Endpoints not attached to a domain bypass the IOMMU (legacy
    /// meaning; superseded by [`BYPASS_CONFIG`]).
    pub const BYPASS: FeatureBit = FeatureBit::of(3);
    /// PROBE requests are available.
    pub const PROBE: FeatureBit = FeatureBit::of(4);
    /// The MMIO flag of MAP is available.
    pub const MMIO: FeatureBit = FeatureBit::of(5);
    /// `bypass` in the config space is valid and writable.
    pub const BYPASS_CONFIG: FeatureBit = FeatureBit::of(6);
}

/// The request queue.
pub const REQUEST_QUEUE: u16 = 0;
/// The event queue (fault reports).
pub const EVENT_QUEUE: u16 = 1;

/// Configuration layout (`struct virtio_iommu_config`, 40 bytes).
#[derive(Copy, Clone, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Config {
    /// Bit n set: pages of 2^n bytes can be mapped; the lowest set bit is
    /// the granule every mapping is aligned to.
    pub page_size_mask: U64,
    /// First input (device-visible) address that can be mapped.
    pub input_start: U64,
    /// Last input address that can be mapped.
    pub input_end: U64,
    /// Lowest domain id.
    pub domain_start: U32,
    /// Highest domain id.
    pub domain_end: U32,
    /// Bytes of a PROBE answer's properties.
    pub probe_size: U32,
    /// 1: endpoints attached to no domain bypass the IOMMU; 0: their
    /// accesses fault (with [`features::BYPASS_CONFIG`]).
    pub bypass: u8,
    /// Reserved.
    pub reserved: [u8; 3],
}

/// Offset of `bypass` in [`Config`].
pub const CONFIG_BYPASS_OFFSET: u32 = 36;

/// Request types (`type` of the request head).
pub mod req {
    /// Attach an endpoint to a domain.
    pub const ATTACH: u8 = 1;
    /// Detach an endpoint from its domain.
    pub const DETACH: u8 = 2;
    /// Map a range of a domain's input addresses.
    pub const MAP: u8 = 3;
    /// Remove the mappings inside a range.
    pub const UNMAP: u8 = 4;
    /// Ask the properties of an endpoint.
    pub const PROBE: u8 = 5;
}

/// MAP flags.
pub mod map_flags {
    /// The device may read.
    pub const READ: u32 = 1;
    /// The device may write.
    pub const WRITE: u32 = 1 << 1;
    /// The range is MMIO (needs [`super::features::MMIO`]).
    pub const MMIO: u32 = 1 << 2;
}

/// Bytes of the device-writable tail of every request but PROBE.
pub const TAIL_SIZE: usize = 4;
/// Bytes of the largest device-readable part of a request (MAP).
pub const MAX_REQUEST_SIZE: usize = 36;

/// A request's outcome, from the tail's `status` (VIRTIO 1.2 §5.13.6).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok,
    /// The device could not access a buffer.
    IoError,
    /// Unsupported request.
    Unsupported,
    /// Internal device error.
    DeviceError,
    /// Invalid parameters.
    Invalid,
    /// Out-of-range parameters.
    Range,
    /// No such endpoint or domain.
    NoEntry,
    /// Bad address.
    Fault,
    /// Out of memory.
    NoMemory,
}

/// What is wrong with something the device wrote.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AnswerError {
    /// The device wrote fewer bytes than the structure has.
    Short {
        /// Bytes the used ring says were written.
        written: u32,
        /// Bytes needed.
        need: usize,
    },
    /// A status code VIRTIO 1.2 does not define.
    UnknownStatus(u8),
    /// A fault reason VIRTIO 1.2 does not define.
    UnknownReason(u8),
}

impl Status {
    /// The status a tail carries. `written` is the used length the device
    /// reported for the whole chain: VIRTIO 1.2 §2.7.8 makes it the bytes
    /// written, and every request here has only the tail writable, so
    /// less than a tail means the status was never written.
    pub fn from_tail(tail: [u8; TAIL_SIZE], written: u32) -> Result<Status, AnswerError> {
        if (written as usize) < TAIL_SIZE {
            return Err(AnswerError::Short { written, need: TAIL_SIZE });
        }
        Ok(match tail[0] {
            0 => Status::Ok,
            1 => Status::IoError,
            2 => Status::Unsupported,
            3 => Status::DeviceError,
            4 => Status::Invalid,
            5 => Status::Range,
            6 => Status::NoEntry,
            7 => Status::Fault,
            8 => Status::NoMemory,
            other => return Err(AnswerError::UnknownStatus(other)),
        })
    }
}

/// One request's device-readable bytes, ready to be copied into DMA
/// memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Request {
    bytes: [u8; MAX_REQUEST_SIZE],
    len: usize,
}

impl Request {
    /// The bytes the device reads.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The request type (the head's first byte).
    pub fn kind(&self) -> u8 {
        self.bytes[0]
    }

    fn build(kind: u8, words: &[&[u8]]) -> Request {
        let mut bytes = [0u8; MAX_REQUEST_SIZE];
        bytes[0] = kind;
        let mut at = 4;
        for w in words {
            bytes[at..at + w.len()].copy_from_slice(w);
            at += w.len();
        }
        Request { bytes, len: at }
    }

    /// ATTACH `endpoint` to `domain` (`struct virtio_iommu_req_attach`:
    /// domain, endpoint, flags 0, 4 reserved bytes). Flags stay 0: a
    /// bypass domain would undo the confinement.
    pub fn attach(domain: u32, endpoint: u32) -> Request {
        Request::build(req::ATTACH, &[&domain.to_le_bytes(), &endpoint.to_le_bytes(), &[0; 8]])
    }

    /// DETACH `endpoint` from `domain` (domain, endpoint, 8 reserved
    /// bytes).
    pub fn detach(domain: u32, endpoint: u32) -> Request {
        Request::build(req::DETACH, &[&domain.to_le_bytes(), &endpoint.to_le_bytes(), &[0; 8]])
    }

    /// MAP the identity range `range` in `domain` with `flags`
    /// (domain, virt_start, virt_end (inclusive), phys_start, flags).
    pub fn map_identity(domain: u32, range: Range, flags: u32) -> Request {
        Request::build(
            req::MAP,
            &[
                &domain.to_le_bytes(),
                &range.start.to_le_bytes(),
                &range.last.to_le_bytes(),
                &range.start.to_le_bytes(),
                &flags.to_le_bytes(),
            ],
        )
    }

    /// UNMAP every mapping of `domain` inside `range` (domain, virt_start,
    /// virt_end, 4 reserved bytes).
    pub fn unmap(domain: u32, range: Range) -> Request {
        Request::build(
            req::UNMAP,
            &[&domain.to_le_bytes(), &range.start.to_le_bytes(), &range.last.to_le_bytes(), &[0; 4]],
        )
    }
}

/// An inclusive range of addresses, as MAP and UNMAP carry them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// First address.
    pub start: u64,
    /// Last address (inclusive).
    pub last: u64,
}

impl Range {
    /// Every address: UNMAP over it removes all of a domain's mappings.
    pub const ALL: Range = Range { start: 0, last: u64::MAX };
}

/// What the device can translate, from its config space.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The smallest page: every mapping starts and ends on it.
    pub granule: u64,
    /// Input addresses that can be mapped.
    pub input: Range,
    /// Domain ids that can be used (inclusive).
    pub domains: (u32, u32),
}

/// Why a region cannot be mapped, or a config cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// `page_size_mask` is 0: the device names no page size.
    NoPageSize,
    /// The range is empty or wraps past the top of the address space.
    Empty {
        /// Its base.
        base: u64,
        /// Its size.
        size: u64,
    },
    /// Start or end is not on the device's granule.
    Unaligned {
        /// Its base.
        base: u64,
        /// Its size.
        size: u64,
        /// The granule.
        granule: u64,
    },
    /// Outside `input_range`.
    OutsideInput {
        /// Its base.
        base: u64,
        /// Its size.
        size: u64,
    },
    /// The domain id is outside `domain_range`.
    Domain(u32),
}

impl Window {
    /// The window a config describes. VIRTIO 1.2 §5.13.4: `input_range`
    /// and `domain_range` hold only when their features were negotiated;
    /// without them every address and every 32-bit domain id is allowed.
    pub fn from_config(config: &Config, input_range: bool, domain_range: bool) -> Result<Window, WindowError> {
        let mask = config.page_size_mask.get();
        if mask == 0 {
            return Err(WindowError::NoPageSize);
        }
        let granule = 1u64 << mask.trailing_zeros();
        let input = if input_range {
            Range { start: config.input_start.get(), last: config.input_end.get() }
        } else {
            Range::ALL
        };
        let domains = if domain_range { (config.domain_start.get(), config.domain_end.get()) } else { (0, u32::MAX) };
        Ok(Window { granule, input, domains })
    }

    /// The identity range for `size` bytes at `base`, once it is known
    /// to be mappable: not empty, not wrapping, on the granule at both
    /// ends (the device may refuse anything else with `S_RANGE`, VIRTIO
    /// 1.2 §5.13.6.4), and inside `input_range`.
    pub fn check(&self, base: u64, size: u64) -> Result<Range, WindowError> {
        let last = size.checked_sub(1).and_then(|s| base.checked_add(s)).ok_or(WindowError::Empty { base, size })?;
        let g = self.granule - 1;
        if base & g != 0 || size & g != 0 {
            return Err(WindowError::Unaligned { base, size, granule: self.granule });
        }
        if base < self.input.start || last > self.input.last {
            return Err(WindowError::OutsideInput { base, size });
        }
        Ok(Range { start: base, last })
    }

    /// `domain` if the device accepts it.
    pub fn domain(&self, domain: u32) -> Result<u32, WindowError> {
        if domain < self.domains.0 || domain > self.domains.1 {
            return Err(WindowError::Domain(domain));
        }
        Ok(domain)
    }
}

/// Why a fault happened (`reason` of `struct virtio_iommu_fault`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultReason {
    /// Unknown cause (QEMU: the endpoint was never attached).
    Unknown,
    /// The endpoint is attached to no domain.
    Domain,
    /// No mapping, or a mapping without the access's permission.
    Mapping,
}

/// Fault flags.
pub mod fault_flags {
    /// The access was a read.
    pub const READ: u32 = 1;
    /// The access was a write.
    pub const WRITE: u32 = 1 << 1;
    /// The access was an instruction fetch.
    pub const EXEC: u32 = 1 << 2;
    /// `address` is valid.
    pub const ADDRESS: u32 = 1 << 8;
}

/// Bytes of a fault report.
pub const FAULT_SIZE: usize = 24;

/// A fault report from the event queue: reason, 3 reserved bytes, flags,
/// endpoint, 4 reserved bytes, address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Why.
    pub reason: FaultReason,
    /// [`fault_flags`] bits.
    pub flags: u32,
    /// The endpoint (for PCI: the requester id, bus << 8 | devfn).
    pub endpoint: u32,
    /// The address the endpoint used, when `flags` has
    /// [`fault_flags::ADDRESS`].
    pub address: Option<u64>,
}

impl Fault {
    /// The fault in `bytes`, of which the device wrote `written`.
    pub fn parse(bytes: &[u8; FAULT_SIZE], written: u32) -> Result<Fault, AnswerError> {
        if (written as usize) < FAULT_SIZE {
            return Err(AnswerError::Short { written, need: FAULT_SIZE });
        }
        let reason = match bytes[0] {
            0 => FaultReason::Unknown,
            1 => FaultReason::Domain,
            2 => FaultReason::Mapping,
            other => return Err(AnswerError::UnknownReason(other)),
        };
        let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let flags = word(4);
        let endpoint = word(8);
        let address = u64::from(word(16)) | u64::from(word(20)) << 32;
        let address = (flags & fault_flags::ADDRESS != 0).then_some(address);
        Ok(Fault { reason, flags, endpoint, address })
    }

    /// "read", "write", "exec" or "access", for logs.
    pub fn access(&self) -> &'static str {
        if self.flags & fault_flags::WRITE != 0 {
            "write"
        } else if self.flags & fault_flags::READ != 0 {
            "read"
        } else if self.flags & fault_flags::EXEC != 0 {
            "exec"
        } else {
            "access"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::config_from_bytes;

    #[test]
    fn config_is_40_bytes_with_bypass_at_36() {
        assert_eq!(core::mem::size_of::<Config>(), 40);
        let mut raw = [0u8; 40];
        raw[CONFIG_BYPASS_OFFSET as usize] = 1;
        raw[0] = 0x00;
        raw[1] = 0x10; // 4 KiB
        raw[32] = 0x20;
        let config: Config = config_from_bytes(&raw);
        assert_eq!((config.bypass, config.page_size_mask.get(), config.probe_size.get()), (1, 0x1000, 0x20));
    }

    #[test]
    fn requests_have_the_spec_layouts() {
        let a = Request::attach(7, 0x0010);
        assert_eq!(a.bytes(), &[1, 0, 0, 0, 7, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let d = Request::detach(7, 0x0010);
        assert_eq!((d.bytes().len(), d.kind(), &d.bytes()[4..12]), (20, req::DETACH, &a.bytes()[4..12]));
        let m = Request::map_identity(
            3,
            Range { start: 0x4800_0000, last: 0x4803_ffff },
            map_flags::READ | map_flags::WRITE,
        );
        let b = m.bytes();
        assert_eq!(b.len(), 36);
        assert_eq!((b[0], &b[4..8]), (req::MAP, &3u32.to_le_bytes()[..]));
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 0x4800_0000);
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 0x4803_ffff);
        assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), 0x4800_0000, "identity: phys = virt");
        assert_eq!(u32::from_le_bytes(b[32..36].try_into().unwrap()), 3);
        let u = Request::unmap(3, Range::ALL);
        assert_eq!(u.bytes().len(), 28);
        assert_eq!(&u.bytes()[8..24], &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn a_tail_is_believed_only_when_written_and_known() {
        assert_eq!(Status::from_tail([0, 0, 0, 0], 4), Ok(Status::Ok));
        assert_eq!(Status::from_tail([6, 0, 0, 0], 4), Ok(Status::NoEntry));
        assert_eq!(Status::from_tail([0, 0, 0, 0], 3), Err(AnswerError::Short { written: 3, need: 4 }));
        assert_eq!(Status::from_tail([9, 0, 0, 0], 4), Err(AnswerError::UnknownStatus(9)));
    }

    #[test]
    fn faults_parse_with_and_without_an_address() {
        let mut raw = [0u8; FAULT_SIZE];
        raw[0] = 2;
        raw[4..8].copy_from_slice(&(fault_flags::WRITE | fault_flags::ADDRESS).to_le_bytes());
        raw[8..12].copy_from_slice(&0x10u32.to_le_bytes());
        raw[16..24].copy_from_slice(&0x4900_0000u64.to_le_bytes());
        let f = Fault::parse(&raw, 24).unwrap();
        assert_eq!(
            (f.reason, f.endpoint, f.address, f.access()),
            (FaultReason::Mapping, 0x10, Some(0x4900_0000), "write")
        );
        raw[4..8].copy_from_slice(&fault_flags::READ.to_le_bytes());
        assert_eq!(Fault::parse(&raw, 24).unwrap().address, None);
        assert_eq!(Fault::parse(&raw, 23), Err(AnswerError::Short { written: 23, need: 24 }));
        raw[0] = 3;
        assert_eq!(Fault::parse(&raw, 24), Err(AnswerError::UnknownReason(3)));
    }

    fn window() -> Window {
        let config = Config {
            page_size_mask: U64::new(!0xfff),
            input_start: U64::new(0x1000),
            input_end: U64::new(0xffff_ffff),
            domain_start: U32::new(1),
            domain_end: U32::new(32),
            ..Config::default()
        };
        Window::from_config(&config, true, true).unwrap()
    }

    #[test]
    fn regions_must_be_granule_aligned_and_inside_the_input_range() {
        let w = window();
        assert_eq!(w.granule, 0x1000);
        assert_eq!(w.check(0x4800_0000, 0x4_0000), Ok(Range { start: 0x4800_0000, last: 0x4803_ffff }));
        assert!(matches!(w.check(0x4800_0800, 0x1000), Err(WindowError::Unaligned { .. })));
        assert!(matches!(w.check(0x4800_0000, 0x800), Err(WindowError::Unaligned { .. })));
        assert!(matches!(w.check(0x4800_0000, 0), Err(WindowError::Empty { .. })));
        assert!(matches!(w.check(u64::MAX - 0xfff, 0x2000), Err(WindowError::Empty { .. })));
        assert!(matches!(w.check(0, 0x1000), Err(WindowError::OutsideInput { .. })));
        assert!(matches!(w.check(0xffff_f000, 0x2000), Err(WindowError::OutsideInput { .. })));
        assert_eq!(w.domain(1), Ok(1));
        assert_eq!(w.domain(33), Err(WindowError::Domain(33)));
        assert_eq!(w.domain(0), Err(WindowError::Domain(0)));
    }

    #[test]
    fn ranges_are_ignored_unless_negotiated_and_a_zero_mask_is_refused() {
        let config = Config { page_size_mask: U64::new(0x1000), ..Config::default() };
        let w = Window::from_config(&config, false, false).unwrap();
        assert_eq!((w.input, w.domains), (Range::ALL, (0, u32::MAX)));
        assert_eq!(Window::from_config(&Config::default(), true, true), Err(WindowError::NoPageSize));
    }
}
