//! The one check of a client's buffer: does the range the client named
//! lie inside the client's data region, and where is it for the device?
//!
//! A client names a buffer by offset and length in a region it shares
//! with the driver. Neither is trusted: [`ClientRegion::span`] checks the
//! whole range (in 64 bits, so no sum wraps) against the region's size,
//! which comes from the driver's own setvars, never from shared memory,
//! and only then yields the memory and, for a region the device reaches,
//! the device address. Every driver takes client ranges through here.
//!
//! sDDF clients name buffers by I/O address instead, possibly in one of
//! several regions. A list of `ClientRegion`s serves that by asking each
//! region for [`ClientRegion::span_at`] (a request must lie entirely
//! inside one region); the check stays this one.

use sevio_sharedmem::SharedMemory;

/// Why a client's range was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientRangeError {
    /// Zero bytes.
    Empty,
    /// Not entirely inside the region.
    OutOfRegion {
        /// Offset asked for.
        offset: u64,
        /// Length asked for.
        len: u64,
        /// The region's size.
        size: u64,
    },
}

/// A region a client shares with the driver.
#[derive(Copy, Clone, Debug)]
pub struct ClientRegion {
    mem: SharedMemory,
    /// The device address of the first byte, for a region the device
    /// reads or writes directly; `None` when the driver copies.
    device_addr: Option<u64>,
    /// The address the client names the first byte by (its I/O address;
    /// 0 for offset addressing).
    io_addr: u64,
}

/// A checked piece of a client's region.
#[derive(Copy, Clone, Debug)]
pub struct ClientSpan {
    /// The piece, as the driver reaches it.
    pub mem: SharedMemory,
    /// Its offset in the region.
    pub offset: usize,
    /// Its device address (regions the device reaches only).
    pub device_addr: Option<u64>,
}

impl ClientRegion {
    /// A region the device reads or writes at `device_addr` (its
    /// region_paddr). `None` if the device range would overflow.
    pub fn device_visible(mem: SharedMemory, device_addr: u64) -> Option<Self> {
        device_addr.checked_add(mem.len() as u64)?;
        Some(ClientRegion { mem, device_addr: Some(device_addr), io_addr: 0 })
    }

    /// A region only the driver touches (it copies from bounce buffers).
    pub fn driver_only(mem: SharedMemory) -> Self {
        ClientRegion { mem, device_addr: None, io_addr: 0 }
    }

    /// The same region, named by clients at I/O address `io_addr` (sDDF
    /// style) instead of by offset.
    pub fn at_io_addr(self, io_addr: u64) -> Self {
        ClientRegion { io_addr, ..self }
    }

    /// The region's size in bytes.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether the region is empty (no range is ever inside it).
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    /// The `len` bytes at `offset`, if they are at least one byte and lie
    /// entirely inside the region.
    pub fn span(&self, offset: u64, len: u64) -> Result<ClientSpan, ClientRangeError> {
        if len == 0 {
            return Err(ClientRangeError::Empty);
        }
        let size = self.mem.len() as u64;
        let refused = ClientRangeError::OutOfRegion { offset, len, size };
        // u64 sums of u32/u64 client words: a wrapped sum is out of range.
        let inside = offset.checked_add(len).is_some_and(|end| end <= size);
        if !inside {
            return Err(refused);
        }
        let (start, n) = (usize::try_from(offset).map_err(|_| refused)?, usize::try_from(len).map_err(|_| refused)?);
        let mem = self.mem.slice(start, n).ok_or(refused)?;
        // Cannot overflow: checked at construction for the whole region.
        let device_addr = self.device_addr.map(|base| base + offset);
        Ok(ClientSpan { mem, offset: start, device_addr })
    }

    /// The `len` bytes the client names at I/O address `io_addr`, if they
    /// lie entirely inside this region (see [`span`](Self::span)).
    pub fn span_at(&self, io_addr: u64, len: u64) -> Result<ClientSpan, ClientRangeError> {
        let size = self.mem.len() as u64;
        let offset = io_addr.checked_sub(self.io_addr).ok_or(ClientRangeError::OutOfRegion { offset: 0, len, size })?;
        self.span(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn a_span_lies_inside_or_is_refused() {
        let heap = HeapRegion::new(0x1000);
        let r = ClientRegion::device_visible(heap.memory(), 0x5000_0000).unwrap();
        let s = r.span(0x10, 0x20).unwrap();
        assert_eq!((s.offset, s.mem.len(), s.device_addr), (0x10, 0x20, Some(0x5000_0010)));
        assert_eq!(r.span(0xfff, 1).unwrap().device_addr, Some(0x5000_0fff), "the last byte");
        assert_eq!(r.span(0, 0).unwrap_err(), ClientRangeError::Empty);
        for (offset, len) in [(0xfff, 2), (0x1000, 1), (u64::MAX, 2), (1, u64::MAX), (u64::from(u32::MAX), 2)] {
            assert_eq!(
                r.span(offset, len).unwrap_err(),
                ClientRangeError::OutOfRegion { offset, len, size: 0x1000 },
                "{offset:#x}+{len:#x}"
            );
        }
        assert!(ClientRegion::device_visible(heap.memory(), u64::MAX - 0x10).is_none());
        assert_eq!(ClientRegion::driver_only(heap.memory()).span(0, 4).unwrap().device_addr, None);
    }

    #[test]
    fn io_addressing_checks_the_same_range() {
        let heap = HeapRegion::new(0x1000);
        let r = ClientRegion::device_visible(heap.memory(), 0x5000_0000).unwrap().at_io_addr(0x8000);
        assert_eq!(r.span_at(0x8100, 0x10).unwrap().offset, 0x100);
        assert!(r.span_at(0x7fff, 1).is_err(), "below the region");
        assert!(r.span_at(0x8ff0, 0x11).is_err(), "across its end");
    }
}
