//! Page-aligned owned memory for host tests, benches and fuzzers.

use crate::SharedMemory;
use core::ptr::NonNull;
use std::alloc::{Layout, alloc_zeroed, dealloc};

/// Zeroed, page-aligned memory that frees itself; stands in for a mapped
/// region in host tests.
pub struct HeapRegion {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl HeapRegion {
    /// `len` zeroed bytes, 4096-aligned. Panics if `len` is 0 or the
    /// allocation fails (test-only code).
    pub fn new(len: usize) -> Self {
        let layout = Layout::from_size_align(len.max(1), 4096).expect("layout");
        // SAFETY: layout has non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).expect("allocation failed");
        HeapRegion { ptr, layout }
    }

    /// The memory as a [`SharedMemory`]; valid while `self` lives.
    pub fn memory(&self) -> SharedMemory {
        // SAFETY: the allocation is live for `self`'s lifetime and only
        // reached through SharedMemory's volatile/atomic accesses.
        unsafe { SharedMemory::new(self.ptr, self.layout.size()) }
    }
}

impl Drop for HeapRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

// SAFETY: the region is plain memory owned by this value.
unsafe impl Send for HeapRegion {}
// SAFETY: shared access only hands out SharedMemory, which is Sync.
unsafe impl Sync for HeapRegion {}
