//! Client buffers: the net rules checked before they become device
//! addresses, and the small fixed-size pools the driver keeps them in.
//!
//! A client hands the driver [`NetBuffer`]s whose `io_or_offset` is an
//! offset into one of its data regions (rx buffers into the rx region, tx
//! frames into the tx region). Whether a range lies inside its region,
//! and where the device sees it, is the framework's one check
//! ([`ClientRegion::span`]: checked arithmetic against the region's size
//! from the driver's own setvars). On top of it, before the device ever
//! sees an address (a bad buffer gets an error, never a DMA):
//!
//! - an rx buffer is a whole [`NET_BUFFER_SIZE`] buffer the device may
//!   fill: `offset + 2048 <= size`;
//! - a tx frame is at least an Ethernet header and at most a buffer
//!   (`14 <= len <= 2048`), inside the region: `offset + len <= size`.

use sevio_driver_core::{ClientRangeError, ClientRegion};
use sevio_queue::NetBuffer;
use sevio_queue::net::NET_BUFFER_SIZE;

/// Bytes of an Ethernet header: the shortest frame the driver sends.
pub const MIN_FRAME: u16 = 14;

/// Why a client buffer was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// The buffer (or frame) does not lie inside the client's region.
    Range(ClientRangeError),
    /// A tx frame shorter than an Ethernet header or longer than a buffer.
    BadLength(u16),
    /// The region is not one the device reaches (a setup mistake: the
    /// driver builds its data regions device-visible).
    NotDeviceVisible,
}

fn device_addr(region: &ClientRegion, offset: u64, len: u64) -> Result<u64, BufferError> {
    let span = region.span(offset, len).map_err(BufferError::Range)?;
    span.device_addr.ok_or(BufferError::NotDeviceVisible)
}

/// The device address of a free rx buffer (a whole [`NET_BUFFER_SIZE`]
/// buffer the device may fill).
pub fn rx_buffer_addr(buf: &NetBuffer, region: &ClientRegion) -> Result<u64, BufferError> {
    device_addr(region, buf.io_or_offset, NET_BUFFER_SIZE as u64)
}

/// The device address of a tx frame (`buf.len` bytes the device reads).
pub fn tx_frame_addr(buf: &NetBuffer, region: &ClientRegion) -> Result<u64, BufferError> {
    if buf.len < MIN_FRAME || usize::from(buf.len) > NET_BUFFER_SIZE {
        return Err(BufferError::BadLength(buf.len));
    }
    device_addr(region, buf.io_or_offset, u64::from(buf.len))
}

/// A fixed-capacity stack of `u16` indices: the free rx header slots.
#[derive(Clone, Debug)]
pub struct IndexPool<const N: usize> {
    free: [u16; N],
    len: usize,
}

impl<const N: usize> IndexPool<N> {
    /// A pool holding `0..count` (capped at `N`).
    pub fn new(count: usize) -> Self {
        let count = count.min(N);
        let mut free = [0u16; N];
        for (i, slot) in free.iter_mut().enumerate().take(count) {
            // Put low indices on top: slot 0 is taken first.
            *slot = (count - 1 - i) as u16;
        }
        IndexPool { free, len: count }
    }

    /// Take an index, if one is free.
    pub fn take(&mut self) -> Option<u16> {
        self.len = self.len.checked_sub(1)?;
        Some(self.free[self.len])
    }

    /// Give an index back (ignored if the pool is full: a caller bug,
    /// never a panic).
    pub fn put(&mut self, i: u16) {
        if let Some(slot) = self.free.get_mut(self.len) {
            *slot = i;
            self.len += 1;
        }
    }

    /// Indices free now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none is free.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Checked rx buffers the driver holds but the device does not: taken
/// back from a device that went away, or recycled after a bad or
/// undeliverable completion. They are posted again before new ones from
/// the free queue.
#[derive(Clone, Debug)]
pub struct Stash<const N: usize> {
    bufs: [NetBuffer; N],
    len: usize,
}

impl<const N: usize> Default for Stash<N> {
    fn default() -> Self {
        Stash { bufs: [NetBuffer::default(); N], len: 0 }
    }
}

impl<const N: usize> Stash<N> {
    /// Keep `buf`; false if the stash is full (the buffer is then lost to
    /// the client, and counted by the caller).
    pub fn push(&mut self, buf: NetBuffer) -> bool {
        match self.bufs.get_mut(self.len) {
            Some(slot) => {
                *slot = buf;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The buffer kept last.
    pub fn pop(&mut self) -> Option<NetBuffer> {
        self.len = self.len.checked_sub(1)?;
        Some(self.bufs[self.len])
    }

    /// Buffers kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    const PADDR: u64 = 0x5000_0000;
    const SIZE: u64 = 0x8000;

    fn buf(offset: u64, len: u16) -> NetBuffer {
        NetBuffer { io_or_offset: offset, len, oid: 3 }
    }

    fn out_of_region(offset: u64, len: u64) -> BufferError {
        BufferError::Range(ClientRangeError::OutOfRegion { offset, len, size: SIZE })
    }

    #[test]
    fn rx_buffers_must_fit_whole() {
        let heap = HeapRegion::new(SIZE as usize);
        let rx = ClientRegion::device_visible(heap.memory(), PADDR).unwrap();
        assert_eq!(rx_buffer_addr(&buf(0, 0), &rx), Ok(PADDR));
        assert_eq!(rx_buffer_addr(&buf(SIZE - 2048, 0), &rx), Ok(PADDR + SIZE - 2048), "last buffer");
        for offset in [SIZE - 2047, SIZE, u64::MAX - 100, u64::MAX] {
            assert_eq!(rx_buffer_addr(&buf(offset, 0), &rx), Err(out_of_region(offset, 2048)), "{offset:#x}");
        }
        let copied = ClientRegion::driver_only(heap.memory());
        assert_eq!(rx_buffer_addr(&buf(0, 0), &copied), Err(BufferError::NotDeviceVisible));
    }

    #[test]
    fn tx_frames_are_length_and_range_checked() {
        let heap = HeapRegion::new(SIZE as usize);
        let tx = ClientRegion::device_visible(heap.memory(), PADDR).unwrap();
        assert_eq!(tx_frame_addr(&buf(0x100, 60), &tx), Ok(PADDR + 0x100));
        assert_eq!(tx_frame_addr(&buf(SIZE - 14, 14), &tx), Ok(PADDR + SIZE - 14));
        assert_eq!(tx_frame_addr(&buf(0, 13), &tx), Err(BufferError::BadLength(13)));
        assert_eq!(tx_frame_addr(&buf(0, 0), &tx), Err(BufferError::BadLength(0)));
        assert_eq!(tx_frame_addr(&buf(0, 2049), &tx), Err(BufferError::BadLength(2049)));
        assert!(tx_frame_addr(&buf(0, 2048), &tx).is_ok());
        assert_eq!(tx_frame_addr(&buf(SIZE - 59, 60), &tx), Err(out_of_region(SIZE - 59, 60)));
        assert_eq!(tx_frame_addr(&buf(u64::MAX - 10, 60), &tx), Err(out_of_region(u64::MAX - 10, 60)));
    }

    #[test]
    fn index_pool_hands_out_each_index_once() {
        let mut p = IndexPool::<4>::new(3);
        assert_eq!((p.take(), p.take(), p.take(), p.take()), (Some(0), Some(1), Some(2), None));
        p.put(1);
        assert_eq!(p.len(), 1);
        assert_eq!(p.take(), Some(1));
        for i in 0..6 {
            p.put(i);
        }
        assert_eq!(p.len(), 4, "extra puts are ignored");
        assert_eq!(IndexPool::<2>::new(9).len(), 2);
    }

    #[test]
    fn stash_is_bounded() {
        let mut s = Stash::<2>::default();
        assert!(s.push(buf(1, 0)) && s.push(buf(2, 0)));
        assert!(!s.push(buf(3, 0)));
        assert_eq!(s.pop(), Some(buf(2, 0)));
        assert_eq!(s.pop(), Some(buf(1, 0)));
        assert_eq!(s.pop(), None);
        assert!(s.is_empty());
    }
}
