//! Access to memory a peer can write while we read it.
//!
//! Virtqueues, client queues and data regions are shared with a device or
//! another PD that may change them at any time. Rust references (`&T`,
//! `&[u8]`) into such memory would promise the compiler it does not change,
//! so sevio never makes one: every access goes through [`SharedMemory`],
//! which checks bounds and alignment and uses volatile or atomic
//! operations. This crate is where the `unsafe` for shared memory lives.
//!
//! Panic contract: no method panics. An access outside the region or
//! misaligned returns `None` (reads) or `Err(OutOfBounds)` (writes) and
//! touches nothing.
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod barrier;
#[cfg(feature = "std")]
mod heap;

pub use barrier::{dma_mb, dma_rmb, dma_wmb};
#[cfg(feature = "std")]
pub use heap::HeapRegion;

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// An access fell outside the region or was misaligned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OutOfBounds;

/// A plain integer that may be read or written as a unit.
pub trait Scalar: Copy + sealed::Sealed {}
impl Scalar for u8 {}
impl Scalar for u16 {}
impl Scalar for u32 {}
impl Scalar for u64 {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// A window of shared memory: `len` bytes from `base`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SharedMemory {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: SharedMemory is an address range; every access through it is
// volatile or atomic, so handing it to another thread is no different from
// the peer on the other side of the memory accessing it.
unsafe impl Send for SharedMemory {}
// SAFETY: as above; `&SharedMemory` only permits the same accesses.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// The `len` bytes at `base`.
    ///
    /// # Safety
    /// `base..base + len` must stay mapped, readable and (for writes made
    /// through this value) writable for as long as this value or any copy
    /// of it is used, and no Rust reference may point into it.
    pub const unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        SharedMemory { base, len }
    }

    /// The region's length in bytes.
    #[inline]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region's address (for diagnostics and vaddr-to-paddr arithmetic).
    #[inline]
    pub fn addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// The sub-region `offset..offset + len`, if it lies inside.
    pub fn slice(&self, offset: usize, len: usize) -> Option<SharedMemory> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: offset <= self.len, so the pointer stays inside (or one
        // past) the region and is non-null.
        let base = unsafe { NonNull::new_unchecked(self.base.as_ptr().add(offset)) };
        Some(SharedMemory { base, len })
    }

    #[inline]
    fn ptr<T>(&self, offset: usize) -> Option<*mut T> {
        let size = core::mem::size_of::<T>();
        let end = offset.checked_add(size)?;
        if end > self.len {
            return None;
        }
        let addr = self.addr().checked_add(offset)?;
        if addr % core::mem::align_of::<T>() != 0 {
            return None;
        }
        Some(addr as *mut T)
    }

    /// Volatile read of a `T` at `offset`.
    #[inline]
    pub fn read<T: Scalar>(&self, offset: usize) -> Option<T> {
        let p = self.ptr::<T>(offset)?;
        // SAFETY: `ptr` checked that p..p+size_of::<T>() lies in the region,
        // which the constructor's contract keeps mapped, and that p is
        // aligned; T is a plain integer, valid for every bit pattern.
        Some(unsafe { p.read_volatile() })
    }

    /// Volatile write of a `T` at `offset`.
    #[inline]
    pub fn write<T: Scalar>(&self, offset: usize, value: T) -> Result<(), OutOfBounds> {
        let p = self.ptr::<T>(offset).ok_or(OutOfBounds)?;
        // SAFETY: as in `read`; the region is writable by contract.
        unsafe { p.write_volatile(value) };
        Ok(())
    }

    #[inline]
    fn atomic_u16(&self, offset: usize) -> Option<&AtomicU16> {
        let p = self.ptr::<u16>(offset)?;
        // SAFETY: p is in bounds and aligned (checked by `ptr`); atomics
        // may alias memory others write, as long as all concurrent access
        // is atomic or volatile, which this crate's contract requires.
        Some(unsafe { AtomicU16::from_ptr(p) })
    }

    #[inline]
    fn atomic_u32(&self, offset: usize) -> Option<&AtomicU32> {
        let p = self.ptr::<u32>(offset)?;
        // SAFETY: as in `atomic_u16`.
        Some(unsafe { AtomicU32::from_ptr(p) })
    }

    #[inline]
    fn atomic_u64(&self, offset: usize) -> Option<&AtomicU64> {
        let p = self.ptr::<u64>(offset)?;
        // SAFETY: as in `atomic_u16`.
        Some(unsafe { AtomicU64::from_ptr(p) })
    }

    /// Atomic load of a u16 with `order`.
    #[inline]
    pub fn load_u16(&self, offset: usize, order: Ordering) -> Option<u16> {
        Some(self.atomic_u16(offset)?.load(order))
    }
    /// Atomic store of a u16 with `order`.
    #[inline]
    pub fn store_u16(&self, offset: usize, value: u16, order: Ordering) -> Result<(), OutOfBounds> {
        self.atomic_u16(offset).ok_or(OutOfBounds)?.store(value, order);
        Ok(())
    }
    /// Atomic load of a u32 with `order`.
    #[inline]
    pub fn load_u32(&self, offset: usize, order: Ordering) -> Option<u32> {
        Some(self.atomic_u32(offset)?.load(order))
    }
    /// Atomic store of a u32 with `order`.
    #[inline]
    pub fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), OutOfBounds> {
        self.atomic_u32(offset).ok_or(OutOfBounds)?.store(value, order);
        Ok(())
    }
    /// Atomic swap of a u32 with `order`; returns the old value.
    #[inline]
    pub fn swap_u32(&self, offset: usize, value: u32, order: Ordering) -> Option<u32> {
        Some(self.atomic_u32(offset)?.swap(value, order))
    }
    /// Atomic fetch-or of a u32 with `order`; returns the old value.
    #[inline]
    pub fn fetch_or_u32(&self, offset: usize, bits: u32, order: Ordering) -> Option<u32> {
        Some(self.atomic_u32(offset)?.fetch_or(bits, order))
    }
    /// Atomic load of a u64 with `order`.
    #[inline]
    pub fn load_u64(&self, offset: usize, order: Ordering) -> Option<u64> {
        Some(self.atomic_u64(offset)?.load(order))
    }
    /// Atomic store of a u64 with `order`.
    #[inline]
    pub fn store_u64(&self, offset: usize, value: u64, order: Ordering) -> Result<(), OutOfBounds> {
        self.atomic_u64(offset).ok_or(OutOfBounds)?.store(value, order);
        Ok(())
    }

    /// Copy `dst.len()` bytes from `offset` out of the region (volatile,
    /// byte by byte where needed: the peer may be writing meanwhile, so the
    /// copy is a snapshot of unspecified mix, never undefined behaviour).
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds> {
        let src = self.slice(offset, dst.len()).ok_or(OutOfBounds)?;
        let base = src.base.as_ptr();
        for (i, d) in dst.iter_mut().enumerate() {
            // SAFETY: i < dst.len() == src.len, inside the checked slice.
            *d = unsafe { base.add(i).read_volatile() };
        }
        Ok(())
    }

    /// Copy `src` into the region at `offset` (volatile).
    pub fn copy_in(&self, offset: usize, src: &[u8]) -> Result<(), OutOfBounds> {
        let dst = self.slice(offset, src.len()).ok_or(OutOfBounds)?;
        let base = dst.base.as_ptr();
        for (i, s) in src.iter().enumerate() {
            // SAFETY: i < src.len() == dst.len, inside the checked slice.
            unsafe { base.add(i).write_volatile(*s) };
        }
        Ok(())
    }

    /// Set `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<(), OutOfBounds> {
        let dst = self.slice(offset, len).ok_or(OutOfBounds)?;
        let base = dst.base.as_ptr();
        for i in 0..len {
            // SAFETY: i < len == dst.len, inside the checked slice.
            unsafe { base.add(i).write_volatile(byte) };
        }
        Ok(())
    }
}

/// The largest power of two dividing `size`, at most 8 (8 for 0): the
/// alignment a record of `size` bytes is kept at, so that every field
/// whose offset is a multiple of its own alignment (no larger than this)
/// is aligned in every record of an array.
pub const fn record_align(size: usize) -> usize {
    let low = size & size.wrapping_neg();
    if low == 0 || low > 8 { 8 } else { low }
}

/// An array of `count` (a power of two) records of `stride` bytes in a
/// [`SharedMemory`] (a queue's entries), checked once when it is made
/// ([`SharedMemory::record_array`]): it lies in the region and its first
/// record is aligned to [`record_align`]`(stride)`. Record `i` is at
/// `(i & (count - 1)) * stride`, so every index names a record inside;
/// reaching one ([`RecordArray::get`]) costs no bounds check.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordArray {
    base: NonNull<u8>,
    mask: usize,
    stride: usize,
}

// SAFETY: a RecordArray is an address range inside a SharedMemory, reached
// only by volatile accesses, exactly as SharedMemory (which is Send and
// Sync for the same reason).
unsafe impl Send for RecordArray {}
// SAFETY: as above.
unsafe impl Sync for RecordArray {}

impl SharedMemory {
    /// `count` records of `stride` bytes from `offset`, if `count` is a
    /// power of two, `stride` is not 0, they all lie in the region and
    /// the first is aligned to [`record_align`]`(stride)`.
    pub fn record_array(&self, offset: usize, count: usize, stride: usize) -> Option<RecordArray> {
        if !count.is_power_of_two() || stride == 0 {
            return None;
        }
        let end = count.checked_mul(stride).and_then(|bytes| bytes.checked_add(offset))?;
        if end > self.len || self.addr().checked_add(offset)? % record_align(stride) != 0 {
            return None;
        }
        // SAFETY: offset < end <= self.len, so the pointer stays inside
        // the region and is non-null.
        let base = unsafe { NonNull::new_unchecked(self.base.as_ptr().add(offset)) };
        Some(RecordArray { base, mask: count - 1, stride })
    }
}

impl RecordArray {
    /// Record `index & (count - 1)` as a `SIZE`-byte record; `None` if
    /// `SIZE` is not the array's stride.
    #[inline(always)]
    pub fn get<const SIZE: usize>(&self, index: usize) -> Option<Record<'_, SIZE>> {
        if SIZE != self.stride {
            return None;
        }
        // SAFETY: (index & mask) <= count - 1, so the record lies in
        // base..base + count * stride, which `record_array` checked is
        // inside the region; the pointer is non-null as base is.
        let ptr = unsafe { NonNull::new_unchecked(self.base.as_ptr().add((index & self.mask) * SIZE)) };
        Some(Record { ptr, _array: PhantomData })
    }
}

/// One record of a [`RecordArray`]: `SIZE` bytes in the region, aligned
/// to [`record_align`]`(SIZE)` (base aligned, stride a multiple). Its
/// fields are read and written with no run-time check beyond one that
/// folds away: a field's offset is a constant at every call site, so
/// `field + size <= SIZE` and its alignment are decided at compile time.
/// A field that does not fit is refused, never reached.
#[derive(Copy, Clone, Debug)]
pub struct Record<'a, const SIZE: usize> {
    ptr: NonNull<u8>,
    _array: PhantomData<&'a RecordArray>,
}

impl<const SIZE: usize> Record<'_, SIZE> {
    #[inline(always)]
    fn field<T>(&self, field: usize) -> Option<*mut T> {
        let size = core::mem::size_of::<T>();
        let align = core::mem::align_of::<T>();
        if field > SIZE || size > SIZE - field || !field.is_multiple_of(align) || align > record_align(SIZE) {
            return None;
        }
        // SAFETY: field + size <= SIZE: inside the record, which is inside
        // the region (see `RecordArray::get`).
        Some(unsafe { self.ptr.as_ptr().add(field) }.cast::<T>())
    }

    /// Volatile read of the `T` at byte `field` of the record.
    #[inline(always)]
    pub fn read<T: Scalar>(&self, field: usize) -> Option<T> {
        let p = self.field::<T>(field)?;
        // SAFETY: `field` checked p..p+size_of::<T>() lies in the record
        // (so in the region, mapped by the constructor's contract) and
        // that p is aligned: the record's address is a multiple of
        // record_align(SIZE) >= align_of::<T>(), and so is `field`. T is a
        // plain integer, valid for every bit pattern.
        Some(unsafe { p.read_volatile() })
    }

    /// Volatile write of `value` at byte `field` of the record.
    #[inline(always)]
    pub fn write<T: Scalar>(&self, field: usize, value: T) -> Result<(), OutOfBounds> {
        let p = self.field::<T>(field).ok_or(OutOfBounds)?;
        // SAFETY: as in `read`; the region is writable by contract.
        unsafe { p.write_volatile(value) };
        Ok(())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_written() {
        let heap = HeapRegion::new(4096);
        let m = heap.memory();
        m.write::<u32>(8, 0xdead_beef).unwrap();
        assert_eq!(m.read::<u32>(8), Some(0xdead_beef));
        assert_eq!(m.read::<u8>(8), Some(0xef));
        m.store_u16(100, 7, Ordering::Release).unwrap();
        assert_eq!(m.load_u16(100, Ordering::Acquire), Some(7));
        let mut buf = [0u8; 4];
        m.copy_out(8, &mut buf).unwrap();
        assert_eq!(buf, 0xdead_beefu32.to_le_bytes());
    }

    #[test]
    fn refuses_out_of_bounds_and_misaligned() {
        let heap = HeapRegion::new(64);
        let m = heap.memory();
        assert_eq!(m.read::<u32>(61), None);
        assert_eq!(m.read::<u32>(2), None);
        assert_eq!(m.read::<u64>(usize::MAX - 2), None);
        assert_eq!(m.write::<u16>(64, 1), Err(OutOfBounds));
        assert_eq!(m.copy_in(60, &[0; 5]), Err(OutOfBounds));
        assert!(m.slice(60, 5).is_none());
        assert!(m.slice(usize::MAX, 2).is_none());
        let sub = m.slice(16, 16).unwrap();
        assert_eq!(sub.read::<u8>(16), None);
        assert_eq!(m.read::<u64>(0), Some(0), "refused accesses touched nothing");
    }

    #[test]
    fn record_arrays_are_checked_once_and_fields_always() {
        let heap = HeapRegion::new(256);
        let m = heap.memory();
        let a = m.record_array(16, 8, 16).unwrap();
        let r = a.get::<16>(1).unwrap();
        r.write::<u64>(8, 0x1122_3344_5566_7788).unwrap();
        r.write::<u16>(2, 0xabcd).unwrap();
        assert_eq!(m.read::<u64>(40), Some(0x1122_3344_5566_7788));
        assert_eq!(a.get::<16>(9).unwrap().read::<u16>(2), Some(0xabcd), "indices wrap at count");
        assert!(a.get::<8>(1).is_none(), "not the array's stride");
        assert_eq!(r.read::<u64>(9), None, "misaligned field");
        assert_eq!(r.read::<u64>(16), None, "past the record");
        assert_eq!(r.write::<u32>(14, 1), Err(OutOfBounds), "straddles the end");
        assert_eq!(r.read::<u8>(usize::MAX), None);
        assert!(m.record_array(16, 16, 16).is_none(), "past the region");
        assert!(m.record_array(0, 3, 16).is_none(), "count not a power of two");
        assert!(m.record_array(0, 4, 0).is_none(), "no stride");
        assert!(m.record_array(4, 4, 16).is_none(), "16-byte records are 8-aligned");
        assert!(m.record_array(usize::MAX, 1, 16).is_none());
        assert!(m.record_array(0, 1 << 62, 16).is_none());
        // 12-byte records are 4-aligned: u32 fields are reachable, a u64
        // (misaligned in every other record) is refused.
        let a = m.record_array(4, 4, 12).unwrap();
        a.get::<12>(1).unwrap().write::<u32>(8, 5).unwrap();
        assert_eq!(m.read::<u32>(24), Some(5));
        assert_eq!(a.get::<12>(0).unwrap().read::<u64>(0), None);
        assert!(m.record_array(2, 4, 12).is_none());
        assert_eq!((record_align(1), record_align(12), record_align(32), record_align(0)), (1, 4, 8, 8));
    }
}
