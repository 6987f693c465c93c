//! What both ring formats share: the queue and indirect-pool memory, the
//! driver-side rules a chain must meet before it is offered to a device,
//! and the private record of a chain in flight.
//!
//! The rules here are stated once and used by [`SplitQueue`](super::SplitQueue)
//! and [`PackedQueue`](super::PackedQueue) alike.

use super::{Buffer, DESC_SIZE};
use crate::features::{Features, general};
use crate::{DeviceFault, Error};
use sevio_sharedmem::SharedMemory;

/// The region holding a queue: memory the driver maps, and the address the
/// device uses for its first byte.
#[derive(Copy, Clone, Debug)]
pub struct QueueMemory {
    /// The driver's mapping.
    pub mem: SharedMemory,
    /// The same memory's device (physical / bus) address.
    pub device_addr: u64,
}

impl QueueMemory {
    /// Check that the region holds `need` bytes and that both its mapping
    /// and its device address are `align`-aligned (the device needs the
    /// spec's alignment; our atomic accesses need the mapping's).
    pub(super) fn check(&self, need: usize, align: usize) -> Result<(), Error> {
        if self.mem.len() < need {
            return Err(Error::RegionTooSmall { need, have: self.mem.len() });
        }
        if self.device_addr % align as u64 != 0 || self.mem.addr() % align != 0 {
            return Err(Error::Misaligned);
        }
        Ok(())
    }
}

/// Driver-provided memory for indirect descriptor tables (VIRTIO 1.2
/// §2.7.5.3 split, §2.8.7 packed): one table of `max_descs` descriptors
/// per queue slot, the table for the chain named by token `t` at byte
/// `t * max_descs * 16`. Needs `size * max_descs * 16` bytes, 16-byte
/// aligned.
#[derive(Copy, Clone, Debug)]
pub struct IndirectPool {
    /// The driver's mapping.
    pub mem: SharedMemory,
    /// The same memory's device address.
    pub device_addr: u64,
    /// Descriptors per table (at least 2; capped at the queue size).
    pub max_descs: u16,
}

impl IndirectPool {
    /// The pool a queue of `size` uses: `None` unless INDIRECT_DESC was
    /// `negotiated` (VIRTIO 1.2 §2.8.19: "The driver MUST NOT set the
    /// DESC_F_INDIRECT flag unless the VIRTIO_F_INDIRECT_DESC feature was
    /// negotiated", and likewise §2.7.5.3.1); an error if the pool given is
    /// too small or misaligned.
    pub(super) fn for_queue(pool: Option<Self>, size: u16, negotiated: Features) -> Result<Option<Self>, Error> {
        let Some(pool) = pool.filter(|_| negotiated.has(general::INDIRECT_DESC)) else {
            return Ok(None);
        };
        let max = pool.max_descs.min(size);
        if max < 2 {
            return Err(Error::IndirectPoolTooSmall);
        }
        let need = size as usize * max as usize * DESC_SIZE;
        if pool.mem.len() < need {
            return Err(Error::IndirectPoolTooSmall);
        }
        if pool.device_addr % DESC_SIZE as u64 != 0 || pool.mem.addr() % DESC_SIZE != 0 {
            return Err(Error::Misaligned);
        }
        Ok(Some(IndirectPool { max_descs: max, ..pool }))
    }

    /// Whether a chain of `bufs` buffers goes through a table: more than
    /// one buffer (a single one costs one descriptor either way) and no
    /// more than a table holds.
    pub(super) fn takes(pool: Option<Self>, bufs: usize) -> Option<Self> {
        pool.filter(|p| bufs > 1 && bufs <= p.max_descs as usize)
    }

    /// Descriptors a chain of `bufs` buffers takes in the ring / table.
    pub(super) fn descriptors_for(pool: Option<Self>, bufs: usize) -> usize {
        if Self::takes(pool, bufs).is_some() { 1 } else { bufs }
    }

    /// Byte offset of the table for token `token` inside the pool.
    pub(super) fn table_offset(&self, token: u16) -> usize {
        token as usize * self.max_descs as usize * DESC_SIZE
    }
}

/// The private shape of a chain in flight, kept at its token's index.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct Chain {
    /// Split: the last descriptor of the chain in the table (the head
    /// itself for an indirect chain). Packed: unused.
    pub(super) tail: u16,
    /// Descriptors it holds in the ring / table; 0 = no chain in flight
    /// under this token (never added, or already harvested).
    pub(super) ndesc: u16,
    /// Device-writable bytes posted, saturated at u32::MAX (exact for
    /// comparing against a u32 used length).
    pub(super) writable: u32,
}

/// The order of a chain's buffers, checked one buffer at a time: the
/// driver side checks it before offering a chain, the device side
/// ([`DeviceQueue`](super::DeviceQueue)) on every chain it is offered.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct ReadableFirst {
    seen_writable: bool,
}

impl ReadableFirst {
    /// Whether the next buffer, `writable` or not, may follow the ones
    /// before it. VIRTIO 1.2 §2.7.4 and §2.8.17: "The driver MUST place
    /// any device-writable descriptor elements after any device-readable
    /// descriptor elements."
    pub(super) fn admits(&mut self, writable: bool) -> bool {
        let ok = writable || !self.seen_writable;
        self.seen_writable |= writable;
        ok
    }
}

/// Check a chain against the driver-side rules both formats share;
/// returns its device-writable bytes, saturated to u32.
pub(super) fn validate_chain(bufs: &[Buffer], size: u16) -> Result<u32, Error> {
    if bufs.is_empty() {
        return Err(Error::EmptyChain);
    }
    // VIRTIO 1.2 §2.7.5.3: "A driver MUST NOT create a descriptor chain
    // longer than the Queue Size of the device." §2.8.17: "A driver MUST
    // NOT create a descriptor list longer than the Queue Size."
    if bufs.len() > size as usize {
        return Err(Error::ChainTooLong { len: bufs.len(), max: size });
    }
    let (mut total, mut writable, mut order) = (0u64, 0u64, ReadableFirst::default());
    for b in bufs {
        if !order.admits(b.writable) {
            return Err(Error::WritableBeforeReadable);
        }
        total += b.len as u64;
        if b.writable {
            writable += b.len as u64;
        }
    }
    // VIRTIO 1.2 §2.7.5: "Drivers MUST NOT add a descriptor chain longer
    // than 2^32 bytes in total". §2.8 has no such sentence, but its used
    // length is 32 bits too; one limit for both keeps `add` the same call.
    if total > 1 << 32 {
        return Err(Error::ChainTooLarge);
    }
    Ok(u32::try_from(writable).unwrap_or(u32::MAX))
}

/// A queue's failed state: the first rule the device broke, kept forever
/// (every later call reports the same fault).
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct FaultLatch(Option<DeviceFault>);

impl FaultLatch {
    /// `Err` with the recorded fault, if there is one.
    pub(super) fn check(&self) -> Result<(), Error> {
        match self.0 {
            Some(f) => Err(Error::Device(f)),
            None => Ok(()),
        }
    }

    /// Record `f` (the first fault wins) and return it as an error.
    pub(super) fn fail(&mut self, f: DeviceFault) -> Error {
        let f = *self.0.get_or_insert(f);
        Error::Device(f)
    }

    /// The recorded fault.
    pub(super) fn get(&self) -> Option<DeviceFault> {
        self.0
    }
}

/// Little-endian accessors for ring memory; an offset outside the region
/// (impossible once a queue is built) is [`Error::OutOfBounds`], not a panic.
pub(super) fn read_le16(mem: &SharedMemory, off: usize) -> Result<u16, Error> {
    mem.read::<u16>(off).map(u16::from_le).ok_or(Error::OutOfBounds)
}

/// See [`read_le16`].
pub(super) fn read_le32(mem: &SharedMemory, off: usize) -> Result<u32, Error> {
    mem.read::<u32>(off).map(u32::from_le).ok_or(Error::OutOfBounds)
}

/// See [`read_le16`].
pub(super) fn write_le16(mem: &SharedMemory, off: usize, v: u16) -> Result<(), Error> {
    mem.write::<u16>(off, v.to_le()).map_err(|_| Error::OutOfBounds)
}

/// See [`read_le16`].
pub(super) fn write_le32(mem: &SharedMemory, off: usize, v: u32) -> Result<(), Error> {
    mem.write::<u32>(off, v.to_le()).map_err(|_| Error::OutOfBounds)
}

/// See [`read_le16`].
pub(super) fn write_le64(mem: &SharedMemory, off: usize, v: u64) -> Result<(), Error> {
    mem.write::<u64>(off, v.to_le()).map_err(|_| Error::OutOfBounds)
}
