//! The device side of a split virtqueue (VIRTIO 1.2 §2.7), for a PD that
//! plays the device to a driver it shares memory with (the vhost side of
//! remoteproc).
//!
//! Trust model, the mirror of [`SplitQueue`](super::SplitQueue)'s: the
//! driver writes the descriptor table and the available ring, and may
//! write anything at any time. Every value read from them is checked
//! before it is used: the available index may run at most one queue's
//! worth ahead, a head and every `next` must be below the queue size, a
//! chain may not be longer than the queue (so no loop is followed), no
//! indirect descriptor without the feature, no readable buffer after a
//! writable one, and every buffer must lie in memory the driver may give
//! this device ([`DriverMemory`]). Each descriptor is read once, into
//! private state; buffers are handed out as bounded [`SharedMemory`]
//! windows. A driver that breaks a rule fails the queue: that call and
//! every later one return the same [`DriverFault`].
//!
//! The only writes are to the used ring (index `used_idx % size`, inside
//! the ring) and, by the caller, through the windows handed out.
//!
//! Panic contract: nothing here panics, whatever the driver writes.

use super::chain::ReadableFirst;
use super::{DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE, RingPart, RingPlacement};
use core::sync::atomic::Ordering::{Acquire, Release};
use sevio_sharedmem::SharedMemory;

/// Buffers a chain may have here (longer chains are refused, not
/// truncated).
pub const MAX_CHAIN: usize = 4;

/// The memory a driver may point this device at: device (physical)
/// addresses to windows. Anything else is refused.
pub trait DriverMemory {
    /// The `len` bytes at device address `addr`, if every one of them is
    /// memory the driver may hand this device.
    fn window(&self, addr: u64, len: u64) -> Option<SharedMemory>;
}

/// A rule the driver broke on a virtqueue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DriverFault {
    /// A ring part is not in memory the driver may give the device.
    RingOutside {
        /// The part.
        part: RingPart,
    },
    /// avail.idx ran more than a queue's worth ahead of what was taken.
    AvailIndexAhead {
        /// avail.idx as read.
        avail_idx: u16,
        /// The next entry this side would take.
        last_avail: u16,
    },
    /// A head or `next` at or past the queue size.
    DescriptorOutOfRange {
        /// The index read.
        index: u16,
    },
    /// A head offered again while its chain is still with the device.
    HeadInFlight {
        /// The head.
        head: u16,
    },
    /// A chain longer than the queue (a loop) or than [`MAX_CHAIN`].
    ChainTooLong {
        /// The head.
        head: u16,
    },
    /// VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC.
    IndirectNotNegotiated {
        /// The descriptor.
        desc: u16,
    },
    /// A device-readable buffer after a device-writable one.
    ReadableAfterWritable {
        /// The descriptor.
        desc: u16,
    },
    /// A buffer outside the memory the driver may give the device.
    BufferOutside {
        /// The descriptor.
        desc: u16,
        /// Its address.
        addr: u64,
        /// Its length.
        len: u32,
    },
    /// This side tried to return a head that is not in flight, or more
    /// bytes than the chain's writable buffers hold (a device bug, kept
    /// typed like the rest).
    BadReturn {
        /// The head.
        head: u16,
    },
}

/// One buffer of a chain: a window into driver memory.
#[derive(Copy, Clone, Debug)]
pub struct ChainBuffer {
    /// The bytes.
    pub mem: SharedMemory,
    /// Whether the device may write them.
    pub writable: bool,
}

/// A chain the driver made available, checked. Only heads are tracked
/// as held: a driver that reuses a non-head descriptor of a held chain
/// only confuses its own buffers, which lie in its own memory.
#[derive(Copy, Clone, Debug)]
pub struct DescChain {
    /// Its head: hand it back to [`DeviceQueue::push`].
    pub head: u16,
    bufs: [Option<ChainBuffer>; MAX_CHAIN],
}

impl DescChain {
    /// The buffers, in chain order (readable first).
    pub fn buffers(&self) -> impl Iterator<Item = ChainBuffer> + '_ {
        self.bufs.iter().flatten().copied()
    }
    /// The first device-readable buffer.
    pub fn readable(&self) -> Option<ChainBuffer> {
        self.buffers().find(|b| !b.writable)
    }
    /// The first device-writable buffer.
    pub fn writable(&self) -> Option<ChainBuffer> {
        self.buffers().find(|b| b.writable)
    }
    /// Bytes of the writable buffers.
    pub fn writable_len(&self) -> u64 {
        self.buffers().filter(|b| b.writable).map(|b| b.mem.len() as u64).sum()
    }
}

/// The device side of one split virtqueue of at most `N` entries.
///
/// Caller: the one device PD serving the queue.
pub struct DeviceQueue<const N: usize> {
    size: u16,
    desc: SharedMemory,
    avail: SharedMemory,
    used: SharedMemory,
    last_avail: u16,
    used_idx: u16,
    /// Writable bytes of each chain held, by head; `None`: not held.
    held: [Option<u64>; N],
    fault: Option<DriverFault>,
}

impl<const N: usize> DeviceQueue<N> {
    /// The queue the driver placed at `ring` (already checked for size,
    /// alignment and layout by [`RingPlacement::check`]), in `memory`.
    /// This side never offers VIRTIO_F_INDIRECT_DESC.
    pub fn new(ring: RingPlacement, memory: &impl DriverMemory) -> Result<Self, DriverFault> {
        let part = |part: RingPart| {
            let (addr, len) = ring.part(part);
            memory.window(addr, len).ok_or(DriverFault::RingOutside { part })
        };
        if ring.size as usize > N || ring.size == 0 {
            return Err(DriverFault::RingOutside { part: RingPart::Descriptors });
        }
        Ok(DeviceQueue {
            size: ring.size,
            desc: part(RingPart::Descriptors)?,
            avail: part(RingPart::Available)?,
            used: part(RingPart::Used)?,
            last_avail: 0,
            used_idx: 0,
            held: [None; N],
            fault: None,
        })
    }

    /// The queue size.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// The fault that failed the queue, if any.
    pub fn fault(&self) -> Option<DriverFault> {
        self.fault
    }

    /// Chains taken and not yet returned.
    pub fn held(&self) -> usize {
        self.held.iter().flatten().count()
    }

    fn fail<T>(&mut self, f: DriverFault) -> Result<T, DriverFault> {
        self.fault = Some(f);
        Err(f)
    }

    fn avail_u16(&self, offset: usize) -> u16 {
        // In bounds by construction (the window is 6 + 2n bytes).
        self.avail.load_u16(offset, Acquire).map(u16::from_le).unwrap_or(0)
    }

    /// Whether the driver made a chain available that is not taken yet.
    pub fn has_available(&mut self) -> Result<bool, DriverFault> {
        if let Some(f) = self.fault {
            return Err(f);
        }
        let idx = self.avail_u16(2);
        let pending = idx.wrapping_sub(self.last_avail);
        // VIRTIO 1.2 §2.7.6: avail.idx is where the driver puts the next
        // entry, "modulo the queue size"; the driver cannot have more
        // chains available than the ring has entries, so a distance past
        // the size is a lie.
        if pending > self.size {
            return self.fail(DriverFault::AvailIndexAhead { avail_idx: idx, last_avail: self.last_avail });
        }
        Ok(pending != 0)
    }

    /// Take the next available chain, checked; `Ok(None)`: none.
    pub fn pop(&mut self, memory: &impl DriverMemory) -> Result<Option<DescChain>, DriverFault> {
        if !self.has_available()? {
            return Ok(None);
        }
        let slot = 4 + 2 * (self.last_avail % self.size) as usize;
        let head = self.avail_u16(slot);
        match self.walk(head, memory) {
            Ok(chain) => {
                self.last_avail = self.last_avail.wrapping_add(1);
                self.held[head as usize] = Some(chain.writable_len());
                Ok(Some(chain))
            }
            Err(f) => self.fail(f),
        }
    }

    fn walk(&self, head: u16, memory: &impl DriverMemory) -> Result<DescChain, DriverFault> {
        if head >= self.size {
            return Err(DriverFault::DescriptorOutOfRange { index: head });
        }
        if self.held.get(head as usize).copied().flatten().is_some() {
            return Err(DriverFault::HeadInFlight { head });
        }
        let mut chain = DescChain { head, bufs: [None; MAX_CHAIN] };
        let mut index = head;
        let mut order = ReadableFirst::default();
        // VIRTIO 1.2 §2.7.5.1: "Drivers MUST NOT add a descriptor chain
        // longer than 2^32 bytes in total; this implies that loops in the
        // descriptor chain are forbidden!" and "A driver MUST NOT create a
        // descriptor chain longer than the Queue Size of the device": at
        // most `size` descriptors are followed.
        for n in 0..self.size as usize {
            let at = index as usize * DESC_SIZE;
            let addr = self.desc.read::<u64>(at).map(u64::from_le).unwrap_or(0);
            let len = self.desc.read::<u32>(at + 8).map(u32::from_le).unwrap_or(0);
            let flags = self.desc.read::<u16>(at + 12).map(u16::from_le).unwrap_or(0);
            let next = self.desc.read::<u16>(at + 14).map(u16::from_le).unwrap_or(0);
            // §2.7.5.3.1: "The driver MUST NOT set the
            // VIRTQ_DESC_F_INDIRECT flag unless the VIRTIO_F_INDIRECT_DESC
            // feature was negotiated." This side never offers it.
            if flags & DESC_F_INDIRECT != 0 {
                return Err(DriverFault::IndirectNotNegotiated { desc: index });
            }
            let writable = flags & DESC_F_WRITE != 0;
            // §2.7.4: readable buffers first (the rule's one home is
            // `ReadableFirst`).
            if !order.admits(writable) {
                return Err(DriverFault::ReadableAfterWritable { desc: index });
            }
            let mem =
                memory.window(addr, u64::from(len)).ok_or(DriverFault::BufferOutside { desc: index, addr, len })?;
            let slot = chain.bufs.get_mut(n).ok_or(DriverFault::ChainTooLong { head })?;
            *slot = Some(ChainBuffer { mem, writable });
            if flags & DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            if next >= self.size {
                return Err(DriverFault::DescriptorOutOfRange { index: next });
            }
            index = next;
        }
        Err(DriverFault::ChainTooLong { head })
    }

    /// Return chain `head` with `written` bytes written into its writable
    /// buffers (VIRTIO 1.2 §2.7.8: `len` is the bytes written; more than
    /// the writable buffers hold is refused here, as the driver side
    /// refuses it as `UsedLenTooLarge`). Release-publishes used.idx:
    /// pairs with the driver's acquire of it.
    pub fn push(&mut self, head: u16, written: u32) -> Result<(), DriverFault> {
        if let Some(f) = self.fault {
            return Err(f);
        }
        let held = self.held.get_mut(head as usize).and_then(Option::take);
        match held {
            Some(cap) if u64::from(written) <= cap => {}
            Some(cap) => {
                // Keep the chain held: the caller may return it correctly.
                self.held[head as usize] = Some(cap);
                return Err(DriverFault::BadReturn { head });
            }
            None => return Err(DriverFault::BadReturn { head }),
        }
        let at = 4 + 8 * (self.used_idx % self.size) as usize;
        let wrote = self
            .used
            .write::<u32>(at, u32::from(head).to_le())
            .and_then(|()| self.used.write::<u32>(at + 4, written.to_le()));
        if wrote.is_err() {
            return self.fail(DriverFault::RingOutside { part: RingPart::Used });
        }
        self.used_idx = self.used_idx.wrapping_add(1);
        if self.used.store_u16(2, self.used_idx.to_le(), Release).is_err() {
            return self.fail(DriverFault::RingOutside { part: RingPart::Used });
        }
        Ok(())
    }

    /// Whether the driver wants a used-buffer notification (its
    /// VIRTQ_AVAIL_F_NO_INTERRUPT flag clear; advisory, §2.7.10).
    pub fn wants_interrupt(&self) -> bool {
        self.avail_u16(0) & super::AVAIL_F_NO_INTERRUPT == 0
    }
}

#[cfg(test)]
mod tests;
