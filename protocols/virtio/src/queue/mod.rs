//! Virtqueues, driver side.
//!
//! [`VirtQueue`] is the surface a device driver programs against: add a
//! chain of [`Buffer`]s, ask whether the device needs a notification,
//! harvest [`Used`] elements. [`SplitQueue`] implements it for the split
//! virtqueue of VIRTIO 1.2 §2.7, [`PackedQueue`] for the packed one of
//! §2.8 (negotiated with VIRTIO_F_RING_PACKED); a driver written against
//! the trait runs on either.
//!
//! Trust model: the queue memory and every buffer are shared with the
//! device, which may write anything at any time. The driver keeps the
//! shape of every chain in private state and never reads a descriptor
//! back; every value the device writes (split: used index, used id, used
//! length; packed: the used flags and wrap bit, buffer id, used length)
//! is checked before it is believed. A device that breaks a rule puts the
//! queue into a failed state: that call and every later call return
//! [`Error::Device`] with the same [`DeviceFault`](crate::DeviceFault).
//!
//! Panic contract: nothing in this module panics, whatever the device
//! writes; nothing writes outside the queue memory (and the indirect pool,
//! when one is given). Buffers themselves are never touched.

mod chain;
mod device;
mod layout;
mod packed;
mod placement;
mod split;

pub use chain::{IndirectPool, QueueMemory};
pub use device::{ChainBuffer, DescChain, DeviceQueue, DriverFault, DriverMemory, MAX_CHAIN};
pub use layout::{
    AVAIL_ALIGN, DESC_ALIGN, EVENT_SUPPRESSION_ALIGN, LEGACY_ALIGN, PackedLayout, SplitLayout, USED_ALIGN,
};
pub use packed::{PackedQueue, RingCursor};
pub use placement::{PlacementError, RingFormat, RingInterface, RingPart, RingPlacement};
pub use split::SplitQueue;
pub use split::vring_need_event;

use crate::Error;

/// Descriptor flag: the chain continues in `next` (VIRTQ_DESC_F_NEXT).
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable (VIRTQ_DESC_F_WRITE).
pub const DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer is a table of descriptors (VIRTQ_DESC_F_INDIRECT).
pub const DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: no used-buffer notification wanted (VIRTQ_AVAIL_F_NO_INTERRUPT).
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used-ring flag: no available-buffer notification wanted (VIRTQ_USED_F_NO_NOTIFY).
pub const USED_F_NO_NOTIFY: u16 = 1;
/// The largest queue size a split virtqueue may have (VIRTIO 1.2 §2.7);
/// a packed one too ("Packed virtqueues support up to 2^15 entries", §2.8).
pub const MAX_QUEUE_SIZE: u16 = 32768;
/// Packed descriptor flag: the driver's availability bit (VIRTQ_DESC_F_AVAIL, §2.8.1).
pub const DESC_F_AVAIL: u16 = 1 << 7;
/// Packed descriptor flag: the device's used bit (VIRTQ_DESC_F_USED, §2.8.1).
pub const DESC_F_USED: u16 = 1 << 15;
/// Packed event suppression flags: notifications wanted (RING_EVENT_FLAGS_ENABLE, §2.8.10).
pub const RING_EVENT_FLAGS_ENABLE: u16 = 0;
/// Packed event suppression flags: no notifications (RING_EVENT_FLAGS_DISABLE).
pub const RING_EVENT_FLAGS_DISABLE: u16 = 1;
/// Packed event suppression flags: a notification at one descriptor only
/// (RING_EVENT_FLAGS_DESC; needs VIRTIO_F_RING_EVENT_IDX).
pub const RING_EVENT_FLAGS_DESC: u16 = 2;

/// Size in bytes of one descriptor (`struct virtq_desc`).
pub const DESC_SIZE: usize = 16;

/// One buffer of a chain: a device (physical) address, a length, and
/// whether the device may write it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// Device (bus/physical) address of the first byte.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
    /// True for a device-writable buffer (VIRTQ_DESC_F_WRITE).
    pub writable: bool,
}

impl Buffer {
    /// A buffer the device reads (driver to device).
    pub const fn readable(addr: u64, len: u32) -> Self {
        Buffer { addr, len, writable: false }
    }
    /// A buffer the device writes (device to driver).
    pub const fn writable(addr: u64, len: u32) -> Self {
        Buffer { addr, len, writable: true }
    }
}

/// Names a chain in flight; returned by [`VirtQueue::add`] and handed back
/// in [`Used`]. Its [`index`](Token::index) is below the queue size, so a
/// driver can use it to index per-request state; it is reused once the
/// chain has been harvested.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub(crate) u16);

impl Token {
    /// The token as an index below the queue size.
    pub const fn index(self) -> u16 {
        self.0
    }
}

/// A chain the device has finished with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Used {
    /// The chain, as returned by `add`.
    pub token: Token,
    /// Bytes the device wrote into the chain's writable buffers, from the
    /// first writable byte on. Checked to be at most the chain's total
    /// writable length.
    pub len: u32,
}

/// The driver side of a virtqueue, split or packed.
///
/// Caller: the one driver that owns the queue; nothing here is shared
/// between threads.
pub trait VirtQueue {
    /// The queue size (number of descriptors / ring slots).
    fn size(&self) -> u16;

    /// Descriptors currently free in the main table.
    fn free_descriptors(&self) -> u16;

    /// Chains the device holds (added, not yet harvested).
    fn in_flight(&self) -> u16;

    /// Make a chain of `bufs` available to the device: the device-readable
    /// buffers first, then the device-writable ones. Uses an indirect table
    /// when the queue has one and the chain has more than one buffer.
    /// Does not notify: ask [`should_notify`](VirtQueue::should_notify).
    fn add(&mut self, bufs: &[Buffer]) -> Result<Token, Error>;

    /// Whether the device wants an available-buffer notification for what
    /// was added since the last call (split: EVENT_IDX `avail_event` or
    /// VIRTQ_USED_F_NO_NOTIFY; packed: the device event suppression
    /// structure). Call after one or more `add`s.
    fn should_notify(&mut self) -> Result<bool, Error>;

    /// Harvest the next used element, if the device has published one.
    /// `Ok(None)`: nothing new. A device that breaks the rules gets
    /// `Err(Error::Device(..))`, now and for every later call.
    fn pop_used(&mut self) -> Result<Option<Used>, Error>;

    /// Ask the device not to send used-buffer notifications (interrupts).
    /// Advisory: the device may still send some.
    fn disable_interrupts(&mut self) -> Result<(), Error>;

    /// Ask for a used-buffer notification at the next used element.
    /// Returns true if used elements are already waiting (so the driver
    /// must poll again rather than wait, or it may sleep forever).
    fn enable_interrupts(&mut self) -> Result<bool, Error>;
}

#[cfg(test)]
mod packed_tests;
#[cfg(test)]
mod tests;
