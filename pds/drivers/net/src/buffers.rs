//! Client buffers: checked before they become device addresses, and the
//! small fixed-size pools the driver keeps them in.
//!
//! A client hands the driver [`NetBuffer`]s whose `io_or_offset` is an
//! offset into one of its data regions (rx buffers into the rx region, tx
//! frames into the tx region). The driver does not map those regions; it
//! knows their physical address and size ([`ClientRegion`]) and checks
//! every buffer against the size, with checked arithmetic, before the
//! device ever sees `paddr + offset` (DESIGN: "a bad one gets an error
//! response, never a DMA"):
//!
//! - an rx buffer must hold a whole [`NET_BUFFER_SIZE`] buffer:
//!   `offset + 2048 <= size`;
//! - a tx frame must be at least an Ethernet header and at most a buffer
//!   (`14 <= len <= 2048`) and lie inside: `offset + len <= size`.

use sevio_queue::NetBuffer;
use sevio_queue::net::NET_BUFFER_SIZE;

/// Bytes of an Ethernet header: the shortest frame the driver sends.
pub const MIN_FRAME: u16 = 14;

/// A client data region as the driver knows it (not mapped here).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientRegion {
    /// Physical address of its first byte.
    pub paddr: u64,
    /// Size in bytes.
    pub size: u64,
}

/// Why a client buffer was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BufferError {
    /// The buffer (or frame) does not lie inside the client's region.
    OutOfRegion {
        /// The offset given.
        offset: u64,
        /// Bytes it would cover.
        len: u64,
        /// The region's size.
        size: u64,
    },
    /// A tx frame shorter than an Ethernet header or longer than a buffer.
    BadLength(u16),
}

fn device_addr(region: &ClientRegion, offset: u64, len: u64) -> Result<u64, BufferError> {
    let bad = BufferError::OutOfRegion { offset, len, size: region.size };
    let end = offset.checked_add(len).ok_or(bad)?;
    if end > region.size {
        return Err(bad);
    }
    let addr = region.paddr.checked_add(offset).ok_or(bad)?;
    addr.checked_add(len).ok_or(bad)?;
    Ok(addr)
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

    const RX: ClientRegion = ClientRegion { paddr: 0x5000_0000, size: 0x8000 };

    fn buf(offset: u64, len: u16) -> NetBuffer {
        NetBuffer { io_or_offset: offset, len, oid: 3 }
    }

    #[test]
    fn rx_buffers_must_fit_whole() {
        assert_eq!(rx_buffer_addr(&buf(0, 0), &RX), Ok(0x5000_0000));
        assert_eq!(rx_buffer_addr(&buf(0x8000 - 2048, 0), &RX), Ok(0x5000_0000 + 0x8000 - 2048), "last buffer");
        for offset in [0x8000 - 2047, 0x8000, u64::MAX - 100, u64::MAX] {
            assert!(
                matches!(rx_buffer_addr(&buf(offset, 0), &RX), Err(BufferError::OutOfRegion { .. })),
                "{offset:#x}"
            );
        }
        let high = ClientRegion { paddr: u64::MAX - 0x1000, size: u64::MAX };
        assert_eq!(rx_buffer_addr(&buf(0x800, 0), &high), Ok(u64::MAX - 0x800), "ends at the top of the address space");
        assert!(rx_buffer_addr(&buf(0x801, 0), &high).is_err(), "paddr + offset + len overflows");
    }

    #[test]
    fn tx_frames_are_length_and_range_checked() {
        assert_eq!(tx_frame_addr(&buf(0x100, 60), &RX), Ok(0x5000_0100));
        assert_eq!(tx_frame_addr(&buf(0x8000 - 14, 14), &RX), Ok(0x5000_0000 + 0x8000 - 14));
        assert_eq!(tx_frame_addr(&buf(0, 13), &RX), Err(BufferError::BadLength(13)));
        assert_eq!(tx_frame_addr(&buf(0, 0), &RX), Err(BufferError::BadLength(0)));
        assert_eq!(tx_frame_addr(&buf(0, 2049), &RX), Err(BufferError::BadLength(2049)));
        assert!(tx_frame_addr(&buf(0, 2048), &RX).is_ok());
        assert_eq!(
            tx_frame_addr(&buf(0x8000 - 59, 60), &RX),
            Err(BufferError::OutOfRegion { offset: 0x8000 - 59, len: 60, size: 0x8000 })
        );
        assert!(tx_frame_addr(&buf(u64::MAX - 10, 60), &RX).is_err());
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
