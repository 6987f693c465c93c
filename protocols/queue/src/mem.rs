//! The memory a queue lives in.
//!
//! Queues are generic over [`QueueMemory`] so that the same code runs over
//! [`SharedMemory`] (the real thing) and, in the loom model checks, over a
//! model whose atomics are loom's. The trait is the smallest set of
//! operations the queues use; every one is bounds-checked and never panics.

use core::sync::atomic::Ordering;
use sevio_sharedmem::{OutOfBounds, Record, RecordArray, SharedMemory};

/// The fields of one queue entry ([`SlotMemory::slot`]): plain
/// (volatile) reads and writes at byte offsets inside the entry, each
/// refused if it does not fit.
pub trait RecordAccess {
    /// Read the u8 at byte `field` of the entry.
    fn read_u8(&self, field: usize) -> Option<u8>;
    /// Read the u16 at byte `field`.
    fn read_u16(&self, field: usize) -> Option<u16>;
    /// Read the u32 at byte `field`.
    fn read_u32(&self, field: usize) -> Option<u32>;
    /// Read the u64 at byte `field`.
    fn read_u64(&self, field: usize) -> Option<u64>;
    /// Write the u8 at byte `field`.
    fn write_u8(&self, field: usize, value: u8) -> Result<(), OutOfBounds>;
    /// Write the u16 at byte `field`.
    fn write_u16(&self, field: usize, value: u16) -> Result<(), OutOfBounds>;
    /// Write the u32 at byte `field`.
    fn write_u32(&self, field: usize, value: u32) -> Result<(), OutOfBounds>;
    /// Write the u64 at byte `field`.
    fn write_u64(&self, field: usize, value: u64) -> Result<(), OutOfBounds>;
}

/// A record over any [`QueueMemory`]: every field access is the memory's
/// own checked access at `offset + field` (for memories with no cheaper
/// way, such as the loom model's).
#[derive(Debug)]
pub struct Checked<'a, M, const SIZE: usize> {
    mem: &'a M,
    offset: usize,
}

impl<'a, M: QueueMemory, const SIZE: usize> Checked<'a, M, SIZE> {
    /// The `SIZE`-byte record at `offset` of `mem`, if it lies inside.
    pub fn new(mem: &'a M, offset: usize) -> Option<Self> {
        (offset.checked_add(SIZE)? <= mem.len()).then_some(Checked { mem, offset })
    }
    /// `offset + field`, if the field starts inside the record (the
    /// memory's own access checks the rest).
    fn at(&self, field: usize) -> Option<usize> {
        if field >= SIZE {
            return None;
        }
        self.offset.checked_add(field)
    }
}

impl<M: QueueMemory, const SIZE: usize> RecordAccess for Checked<'_, M, SIZE> {
    fn read_u8(&self, field: usize) -> Option<u8> {
        self.mem.read_u8(self.at(field)?)
    }
    fn read_u16(&self, field: usize) -> Option<u16> {
        self.mem.read_u16(self.at(field)?)
    }
    fn read_u32(&self, field: usize) -> Option<u32> {
        self.mem.read_u32(self.at(field)?)
    }
    fn read_u64(&self, field: usize) -> Option<u64> {
        self.mem.read_u64(self.at(field)?)
    }
    fn write_u8(&self, field: usize, value: u8) -> Result<(), OutOfBounds> {
        self.mem.write_u8(self.at(field).ok_or(OutOfBounds)?, value)
    }
    fn write_u16(&self, field: usize, value: u16) -> Result<(), OutOfBounds> {
        self.mem.write_u16(self.at(field).ok_or(OutOfBounds)?, value)
    }
    fn write_u32(&self, field: usize, value: u32) -> Result<(), OutOfBounds> {
        self.mem.write_u32(self.at(field).ok_or(OutOfBounds)?, value)
    }
    fn write_u64(&self, field: usize, value: u64) -> Result<(), OutOfBounds> {
        self.mem.write_u64(self.at(field).ok_or(OutOfBounds)?, value)
    }
}

/// Shared memory's records: their fields with offsets known at compile
/// time cost no check at run time.
impl<const SIZE: usize> RecordAccess for Record<'_, SIZE> {
    #[inline(always)]
    fn read_u8(&self, field: usize) -> Option<u8> {
        self.read(field)
    }
    #[inline(always)]
    fn read_u16(&self, field: usize) -> Option<u16> {
        self.read(field)
    }
    #[inline(always)]
    fn read_u32(&self, field: usize) -> Option<u32> {
        self.read(field)
    }
    #[inline(always)]
    fn read_u64(&self, field: usize) -> Option<u64> {
        self.read(field)
    }
    #[inline(always)]
    fn write_u8(&self, field: usize, value: u8) -> Result<(), OutOfBounds> {
        self.write(field, value)
    }
    #[inline(always)]
    fn write_u16(&self, field: usize, value: u16) -> Result<(), OutOfBounds> {
        self.write(field, value)
    }
    #[inline(always)]
    fn write_u32(&self, field: usize, value: u32) -> Result<(), OutOfBounds> {
        self.write(field, value)
    }
    #[inline(always)]
    fn write_u64(&self, field: usize, value: u64) -> Result<(), OutOfBounds> {
        self.write(field, value)
    }
}

/// Bounds-checked atomic and plain (volatile) access to queue memory.
///
/// A location is accessed either always atomically (the header's indices
/// and flags) or always plainly (entries), never both.
pub trait QueueMemory: Clone {
    /// Length of the region in bytes.
    fn len(&self) -> usize;
    /// Whether the region is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Atomic load of a u16.
    fn load_u16(&self, offset: usize, order: Ordering) -> Option<u16>;
    /// Atomic store of a u16.
    fn store_u16(&self, offset: usize, value: u16, order: Ordering) -> Result<(), OutOfBounds>;
    /// Atomic load of a u32.
    fn load_u32(&self, offset: usize, order: Ordering) -> Option<u32>;
    /// Atomic store of a u32.
    fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), OutOfBounds>;
    /// A memory fence (core's, or loom's in the model).
    fn fence(&self, order: Ordering);
    /// Plain (volatile) read of a u8.
    fn read_u8(&self, offset: usize) -> Option<u8>;
    /// Plain read of a u16.
    fn read_u16(&self, offset: usize) -> Option<u16>;
    /// Plain read of a u32.
    fn read_u32(&self, offset: usize) -> Option<u32>;
    /// Plain read of a u64.
    fn read_u64(&self, offset: usize) -> Option<u64>;
    /// Plain (volatile) write of a u8.
    fn write_u8(&self, offset: usize, value: u8) -> Result<(), OutOfBounds>;
    /// Plain write of a u16.
    fn write_u16(&self, offset: usize, value: u16) -> Result<(), OutOfBounds>;
    /// Plain write of a u32.
    fn write_u32(&self, offset: usize, value: u32) -> Result<(), OutOfBounds>;
    /// Plain write of a u64.
    fn write_u64(&self, offset: usize, value: u64) -> Result<(), OutOfBounds>;
    /// A queue's entry array in this memory.
    type Slots: SlotMemory;
    /// The `count` (a power of two) entries of `stride` bytes from
    /// `offset`, checked here once (inside the region; for shared memory
    /// also aligned, see [`sevio_sharedmem::record_align`]), so that
    /// reaching an entry costs no further check where the memory allows
    /// it.
    fn slots(&self, offset: usize, count: u32, stride: usize) -> Option<Self::Slots>;
}

/// A queue's entry array: entry `index` (taken modulo the count) as a
/// record of its fields.
pub trait SlotMemory: core::fmt::Debug {
    /// One entry's fields.
    type Record<'a, const SIZE: usize>: RecordAccess
    where
        Self: 'a;
    /// Entry `index & (count - 1)`, as a `SIZE`-byte record (`None` if
    /// `SIZE` is not the array's stride).
    fn slot<const SIZE: usize>(&self, index: u32) -> Option<Self::Record<'_, SIZE>>;
}

/// An entry array over any [`QueueMemory`] whose accesses are each
/// checked ([`Checked`]): the loom model's, the tests' crashing memory.
#[derive(Clone)]
pub struct CheckedSlots<M> {
    mem: M,
    offset: usize,
    mask: u32,
    stride: usize,
}

impl<M: QueueMemory> CheckedSlots<M> {
    /// `count` entries of `stride` bytes from `offset` of `mem`, if
    /// `count` is a power of two and they lie inside.
    pub fn new(mem: M, offset: usize, count: u32, stride: usize) -> Option<Self> {
        let end = (count as usize).checked_mul(stride)?.checked_add(offset)?;
        (count.is_power_of_two() && end <= mem.len()).then_some(CheckedSlots { mem, offset, mask: count - 1, stride })
    }
}

impl<M> core::fmt::Debug for CheckedSlots<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CheckedSlots").field("offset", &self.offset).field("mask", &self.mask).finish()
    }
}

impl<M: QueueMemory> SlotMemory for CheckedSlots<M> {
    type Record<'a, const SIZE: usize>
        = Checked<'a, M, SIZE>
    where
        M: 'a;
    fn slot<const SIZE: usize>(&self, index: u32) -> Option<Checked<'_, M, SIZE>> {
        if SIZE != self.stride {
            return None;
        }
        Checked::new(&self.mem, self.offset + (index & self.mask) as usize * SIZE)
    }
}

/// Shared memory's entry arrays are checked once, when made: an entry is
/// reached with no check, and its fields (offsets known at compile time)
/// with none at run time.
impl SlotMemory for RecordArray {
    type Record<'a, const SIZE: usize> = Record<'a, SIZE>;
    #[inline(always)]
    fn slot<const SIZE: usize>(&self, index: u32) -> Option<Record<'_, SIZE>> {
        self.get(index as usize)
    }
}

impl QueueMemory for SharedMemory {
    type Slots = RecordArray;
    fn slots(&self, offset: usize, count: u32, stride: usize) -> Option<RecordArray> {
        self.record_array(offset, count as usize, stride)
    }
    #[inline(always)]
    fn len(&self) -> usize {
        SharedMemory::len(self)
    }
    #[inline(always)]
    fn load_u16(&self, offset: usize, order: Ordering) -> Option<u16> {
        SharedMemory::load_u16(self, offset, order)
    }
    #[inline(always)]
    fn store_u16(&self, offset: usize, value: u16, order: Ordering) -> Result<(), OutOfBounds> {
        SharedMemory::store_u16(self, offset, value, order)
    }
    #[inline(always)]
    fn load_u32(&self, offset: usize, order: Ordering) -> Option<u32> {
        SharedMemory::load_u32(self, offset, order)
    }
    #[inline(always)]
    fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), OutOfBounds> {
        SharedMemory::store_u32(self, offset, value, order)
    }
    #[inline(always)]
    fn fence(&self, order: Ordering) {
        core::sync::atomic::fence(order)
    }
    #[inline(always)]
    fn read_u8(&self, offset: usize) -> Option<u8> {
        self.read(offset)
    }
    #[inline(always)]
    fn read_u16(&self, offset: usize) -> Option<u16> {
        self.read(offset)
    }
    #[inline(always)]
    fn read_u32(&self, offset: usize) -> Option<u32> {
        self.read(offset)
    }
    #[inline(always)]
    fn read_u64(&self, offset: usize) -> Option<u64> {
        self.read(offset)
    }
    #[inline(always)]
    fn write_u8(&self, offset: usize, value: u8) -> Result<(), OutOfBounds> {
        self.write(offset, value)
    }
    #[inline(always)]
    fn write_u16(&self, offset: usize, value: u16) -> Result<(), OutOfBounds> {
        self.write(offset, value)
    }
    #[inline(always)]
    fn write_u32(&self, offset: usize, value: u32) -> Result<(), OutOfBounds> {
        self.write(offset, value)
    }
    #[inline(always)]
    fn write_u64(&self, offset: usize, value: u64) -> Result<(), OutOfBounds> {
        self.write(offset, value)
    }
}
