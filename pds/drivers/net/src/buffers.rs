//! Buffers the virtualisers hand the driver: the net rules checked
//! before they become device addresses, and the small fixed-size pools
//! the driver keeps them in.
//!
//! As between sDDF's virtualisers and its net drivers, a [`NetBuffer`]'s
//! `io_or_offset` is the buffer's I/O address, the address the device
//! uses. Whether every byte of a range lies inside one of the data
//! regions the driver was configured with (any number: sDDF's rx
//! buffers, one tx region per client) is the framework's one check
//! ([`DataRegions::span`], through `sevio_sddf::find_io_range`, against
//! sizes from the driver's configuration, never from shared memory). On
//! top of it, before the device ever sees an address (a bad buffer gets
//! an error, never a DMA):
//!
//! - an rx buffer is a whole [`NET_BUFFER_SIZE`] buffer the device may
//!   fill: all 2048 bytes inside one region;
//! - a tx frame is at least an Ethernet header and at most a buffer
//!   (`14 <= len <= 2048`), all `len` bytes inside one region.

use sevio_driver_core::{ClientRangeError, DataRegions};
use sevio_queue::NetBuffer;
use sevio_queue::net::NET_BUFFER_SIZE;

/// Bytes of an Ethernet header: the shortest frame the driver sends.
pub const MIN_FRAME: u16 = 14;

/// Why a buffer was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// The buffer (or frame) does not lie inside one data region.
    Range(ClientRangeError),
    /// A tx frame shorter than an Ethernet header or longer than a buffer.
    BadLength(u16),
}

/// The device address of a free rx buffer (a whole [`NET_BUFFER_SIZE`]
/// buffer the device may fill).
pub fn rx_buffer_addr(buf: &NetBuffer, data: &DataRegions) -> Result<u64, BufferError> {
    data.span(buf.io_or_offset, NET_BUFFER_SIZE as u64).map_err(BufferError::Range)
}

/// The device address of a tx frame (`buf.len` bytes the device reads).
pub fn tx_frame_addr(buf: &NetBuffer, data: &DataRegions) -> Result<u64, BufferError> {
    if buf.len < MIN_FRAME || usize::from(buf.len) > NET_BUFFER_SIZE {
        return Err(BufferError::BadLength(buf.len));
    }
    data.span(buf.io_or_offset, u64::from(buf.len)).map_err(BufferError::Range)
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
    use sevio_sddf::{DeviceRegion, Region};

    /// sDDF's echo_server shape: the rx buffers, then one client's tx
    /// region right after them.
    const RX: u64 = 0x5fef_0000;
    const RX_SIZE: u64 = 0x10_0000;
    const TX: u64 = RX + RX_SIZE;
    const TX_SIZE: u64 = 0x8000;

    fn regions() -> DataRegions {
        let mut list = DataRegions::new();
        for (io_addr, size) in [(RX, RX_SIZE), (TX, TX_SIZE)] {
            list.push(DeviceRegion { region: Region { vaddr: 0, size }, io_addr }).unwrap();
        }
        list
    }

    fn buf(io_addr: u64, len: u16) -> NetBuffer {
        NetBuffer { io_or_offset: io_addr, len, oid: 3 }
    }

    fn outside(io_addr: u64, len: u64) -> BufferError {
        BufferError::Range(ClientRangeError::OutsideDataRegions { io_addr, len })
    }

    #[test]
    fn rx_buffers_must_fit_whole_in_one_region() {
        let data = regions();
        assert_eq!(rx_buffer_addr(&buf(RX, 0), &data), Ok(RX), "the I/O address is the device address");
        assert_eq!(rx_buffer_addr(&buf(TX - 2048, 0), &data), Ok(TX - 2048), "last of the first region");
        assert_eq!(rx_buffer_addr(&buf(TX + TX_SIZE - 2048, 0), &data), Ok(TX + TX_SIZE - 2048));
        // An offset (sevio's old naming) is no I/O address of any region.
        for io_addr in [0, 0x800, RX - 1, TX - 2047, TX + TX_SIZE - 2047, u64::MAX - 100, u64::MAX] {
            assert_eq!(rx_buffer_addr(&buf(io_addr, 0), &data), Err(outside(io_addr, 2048)), "{io_addr:#x}");
        }
    }

    #[test]
    fn tx_frames_are_length_and_range_checked() {
        let data = regions();
        assert_eq!(tx_frame_addr(&buf(TX + 0x100, 60), &data), Ok(TX + 0x100));
        assert_eq!(tx_frame_addr(&buf(TX + TX_SIZE - 14, 14), &data), Ok(TX + TX_SIZE - 14));
        assert_eq!(tx_frame_addr(&buf(TX, 13), &data), Err(BufferError::BadLength(13)));
        assert_eq!(tx_frame_addr(&buf(TX, 0), &data), Err(BufferError::BadLength(0)));
        assert_eq!(tx_frame_addr(&buf(TX, 2049), &data), Err(BufferError::BadLength(2049)));
        assert!(tx_frame_addr(&buf(TX, 2048), &data).is_ok());
        assert_eq!(tx_frame_addr(&buf(TX - 30, 60), &data), Err(outside(TX - 30, 60)), "straddles the two");
        assert_eq!(tx_frame_addr(&buf(TX + TX_SIZE - 59, 60), &data), Err(outside(TX + TX_SIZE - 59, 60)));
        assert_eq!(tx_frame_addr(&buf(u64::MAX - 10, 60), &data), Err(outside(u64::MAX - 10, 60)));
        assert_eq!(tx_frame_addr(&buf(TX, 60), &DataRegions::new()), Err(outside(TX, 60)), "no regions");
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
