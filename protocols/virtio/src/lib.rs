//! The VirtIO specification as `no_std` Rust: device ids, feature bits,
//! transport register maps, config-space layouts, and the driver side of
//! the split and packed virtqueues.
//!
//! References are to VIRTIO 1.2 (OASIS, 2022) as "VIRTIO 1.2 §x.y".
//!
//! - [`device`]: [`DeviceId`], per-device feature bits, config layouts
//!   (blk, net, console) and request headers.
//! - [`features`]: [`FeatureBit`], [`Features`], device-independent bits.
//! - [`mmio`]: the virtio-mmio register map (version 1 and 2), status and
//!   interrupt bits.
//! - [`pci`]: virtio PCI capabilities (checked parser) and the legacy I/O
//!   register layout.
//! - [`queue`]: the [`VirtQueue`] trait, [`SplitQueue`] and [`PackedQueue`],
//!   which trust nothing the device writes; [`RingPlacement`], the one
//!   check of where a driver put a queue, which every transport makes;
//!   [`DeviceQueue`], the device side of a split queue, which trusts
//!   nothing the driver writes.
//! - [`rproc`]: the remoteproc resource table (checked parser, writer)
//!   and the doorbell mailbox beside it.
//!
//! Panic contract: no function in this crate panics on any input, from the
//! device or from the caller; bad input is an [`Error`].
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
extern crate std;

pub mod device;
pub mod features;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod mmio;
pub mod pci;
pub mod queue;
pub mod rproc;

pub use device::DeviceId;
pub use features::{FeatureBit, Features};
pub use queue::{
    Buffer, DeviceQueue, DriverFault, DriverMemory, IndirectPool, PackedLayout, PackedQueue, PlacementError,
    QueueMemory, RingFormat, RingInterface, RingPart, RingPlacement, SplitLayout, SplitQueue, Token, Used, VirtQueue,
};

/// A rule the device broke on a virtqueue. The queue is failed from then
/// on; the driver should report an I/O error and reset the device.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DeviceFault {
    /// used.idx ran further ahead than the chains in flight.
    UsedIndexAhead {
        /// The used.idx read.
        used_idx: u16,
        /// The next entry the driver would harvest.
        last_used: u16,
        /// Chains in flight at the time.
        in_flight: u16,
    },
    /// used.idx moved backwards.
    UsedIndexBackwards {
        /// The used.idx read.
        used_idx: u16,
        /// The used.idx accepted before.
        last_seen: u16,
    },
    /// A used id at or beyond the queue size.
    UsedIdOutOfRange {
        /// The id read.
        id: u32,
    },
    /// A used id that is not the head of a chain in flight (never added,
    /// not a head, or already harvested).
    UsedIdNotInFlight {
        /// The id read.
        id: u16,
    },
    /// Packed: a descriptor marked used in the current lap while no
    /// buffer was in flight.
    UsedWithoutAvailable {
        /// Ring position of the descriptor.
        position: u16,
        /// Its flags.
        flags: u16,
    },
    /// Packed: with chains in flight, a descriptor at the next used
    /// position whose AVAIL/USED bits are neither the driver's available
    /// ones nor a used descriptor's of this lap.
    UsedFlagsInconsistent {
        /// Ring position of the descriptor.
        position: u16,
        /// Its flags.
        flags: u16,
    },
    /// A used length beyond the chain's device-writable bytes.
    UsedLenTooLarge {
        /// The chain.
        id: u16,
        /// The length read.
        len: u32,
        /// Device-writable bytes posted in that chain.
        writable: u64,
    },
}

/// Everything that can go wrong in this crate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Queue size zero, above 32768, above the queue type's capacity, or
    /// (split) not a power of two.
    BadQueueSize(u16),
    /// The memory given for a queue is smaller than its layout.
    RegionTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        have: usize,
    },
    /// An address or alignment is not aligned as the spec requires.
    Misaligned,
    /// The indirect pool is smaller than `size * max_descs * 16`, or
    /// `max_descs` is below 2.
    IndirectPoolTooSmall,
    /// `add` with no buffers.
    EmptyChain,
    /// A chain with more buffers than the queue size.
    ChainTooLong {
        /// Buffers given.
        len: usize,
        /// Queue size.
        max: u16,
    },
    /// A chain of more than 2^32 bytes.
    ChainTooLarge,
    /// A device-readable buffer after a device-writable one.
    WritableBeforeReadable,
    /// Not enough free descriptors; harvest used chains first.
    QueueFull,
    /// An access fell outside the queue memory (cannot happen once a
    /// queue is built; kept so no path needs to panic).
    OutOfBounds,
    /// The device broke a virtqueue rule; the queue is failed.
    Device(DeviceFault),
    /// A malformed virtio PCI capability.
    PciCap(pci::CapError),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

impl core::error::Error for Error {}
