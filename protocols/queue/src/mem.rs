//! The memory a queue lives in.
//!
//! Queues are generic over [`QueueMemory`] so that the same code runs over
//! [`SharedMemory`] (the real thing) and, in the loom model checks, over a
//! model whose atomics are loom's. The trait is the smallest set of
//! operations the queues use; every one is bounds-checked and never panics.

use core::sync::atomic::Ordering;
use sevio_sharedmem::{OutOfBounds, SharedMemory};

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
}

impl QueueMemory for SharedMemory {
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
