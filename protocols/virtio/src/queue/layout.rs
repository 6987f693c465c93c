//! Where the three parts of a virtqueue live inside one region: split
//! (VIRTIO 1.2 §2.7, [`SplitLayout`]) and packed (§2.8, [`PackedLayout`]).
//!
//! Split:
//!
//! | part            | size      | alignment |
//! |-----------------|-----------|-----------|
//! | descriptor table| 16 * n    | 16        |
//! | available ring  | 6 + 2 * n | 2         |
//! | used ring       | 6 + 8 * n | 4         |
//!
//! The 6 + 2n / 6 + 8n include the `used_event` / `avail_event` words
//! used with VIRTIO_F_EVENT_IDX; they are always reserved.
//!
//! Legacy interfaces (virtio-mmio version 1, legacy PCI) need the three
//! parts contiguous, with the used ring at the next multiple of the queue
//! alignment (4096 for legacy PCI; QueueAlign for mmio v1) (§2.7.2).
//!
//! Packed (§2.8.10.1), any size from 1 to 32768:
//!
//! | part                     | size   | alignment |
//! |--------------------------|--------|-----------|
//! | descriptor ring          | 16 * n | 16        |
//! | driver event suppression | 4      | 4         |
//! | device event suppression | 4      | 4         |
//!
//! Packed rings exist only on modern interfaces (VIRTIO_F_RING_PACKED is
//! a VIRTIO 1.x feature), so there is no legacy packed layout.

use super::{DESC_SIZE, MAX_QUEUE_SIZE};
use crate::Error;

/// Alignment of the descriptor table (VIRTIO 1.2 §2.7).
pub const DESC_ALIGN: usize = 16;
/// Alignment of the available ring.
pub const AVAIL_ALIGN: usize = 2;
/// Alignment of the used ring.
pub const USED_ALIGN: usize = 4;
/// Alignment of each packed event suppression structure (VIRTIO 1.2 §2.8.10.1).
pub const EVENT_SUPPRESSION_ALIGN: usize = 4;
/// Size of a packed event suppression structure (`struct pvirtq_event_suppress`).
pub const EVENT_SUPPRESSION_SIZE: usize = 4;
/// Queue alignment of the legacy PCI interface (and the usual mmio v1 one).
pub const LEGACY_ALIGN: usize = 4096;

/// Byte offsets of the three parts inside one region, for queue size `size`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SplitLayout {
    size: u16,
    avail: usize,
    used: usize,
    total: usize,
    /// Alignment the region's start must have.
    align: usize,
}

fn align_up(x: usize, align: usize) -> usize {
    // align is a power of two here; x is at most a few MiB.
    (x + align - 1) & !(align - 1)
}

pub(super) fn check_size(size: u16) -> Result<(), Error> {
    // VIRTIO 1.2 §2.7: split queue sizes are powers of two, at most
    // 32768; we never offer the device anything else.
    if size == 0 || !size.is_power_of_two() || size > MAX_QUEUE_SIZE {
        return Err(Error::BadQueueSize(size));
    }
    Ok(())
}

pub(super) fn check_packed_size(size: u16) -> Result<(), Error> {
    // VIRTIO 1.2 §2.8: "Packed virtqueues support up to 2^15 entries
    // each." §2.8.10.1: "The Queue Size value does not have to be a power
    // of 2."
    if size == 0 || size > MAX_QUEUE_SIZE {
        return Err(Error::BadQueueSize(size));
    }
    Ok(())
}

/// Byte offsets of the packed ring's three parts inside one region:
/// descriptor ring at 0, driver event suppression right after it, device
/// event suppression after that (16 n + 8 bytes in all). The region must
/// start 16-byte aligned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PackedLayout {
    size: u16,
}

impl PackedLayout {
    /// The layout for `size` descriptors (1..=32768, any value).
    pub fn new(size: u16) -> Result<Self, Error> {
        check_packed_size(size)?;
        Ok(PackedLayout { size })
    }
    /// Queue size.
    pub const fn size(&self) -> u16 {
        self.size
    }
    /// Offset of the descriptor ring (descriptor area; always 0).
    pub const fn desc_offset(&self) -> usize {
        0
    }
    /// Offset of the driver event suppression structure (driver area).
    pub const fn driver_event_offset(&self) -> usize {
        DESC_SIZE * self.size as usize
    }
    /// Offset of the device event suppression structure (device area).
    pub const fn device_event_offset(&self) -> usize {
        self.driver_event_offset() + EVENT_SUPPRESSION_SIZE
    }
    /// Bytes the region must have.
    pub const fn total_size(&self) -> usize {
        self.device_event_offset() + EVENT_SUPPRESSION_SIZE
    }
    /// Alignment the region's start must have.
    pub const fn alignment(&self) -> usize {
        DESC_ALIGN
    }
}

impl SplitLayout {
    /// The compact modern layout: descriptor table at 0, available ring
    /// right after it, used ring at the next 4-byte boundary. The region
    /// must start 16-byte aligned.
    pub fn new(size: u16) -> Result<Self, Error> {
        check_size(size)?;
        let n = size as usize;
        let avail = DESC_SIZE * n;
        let used = align_up(avail + 6 + 2 * n, USED_ALIGN);
        let total = used + 6 + 8 * n;
        Ok(SplitLayout { size, avail, used, total, align: DESC_ALIGN })
    }

    /// The legacy contiguous layout with queue alignment `align` (a power
    /// of two, at least 16): the used ring starts at the first multiple of
    /// `align` after the available ring, and the region must start
    /// `align`-aligned (the legacy interfaces give the device a page
    /// frame number).
    pub fn legacy(size: u16, align: usize) -> Result<Self, Error> {
        check_size(size)?;
        if !align.is_power_of_two() || !(DESC_ALIGN..=65536).contains(&align) {
            return Err(Error::Misaligned);
        }
        let n = size as usize;
        let avail = DESC_SIZE * n;
        let used = align_up(avail + 6 + 2 * n, align);
        let total = used + align_up(6 + 8 * n, align);
        Ok(SplitLayout { size, avail, used, total, align })
    }

    /// Queue size.
    pub const fn size(&self) -> u16 {
        self.size
    }
    /// Offset of the descriptor table (always 0).
    pub const fn desc_offset(&self) -> usize {
        0
    }
    /// Offset of the available ring (driver area).
    pub const fn avail_offset(&self) -> usize {
        self.avail
    }
    /// Offset of the used ring (device area).
    pub const fn used_offset(&self) -> usize {
        self.used
    }
    /// Bytes the region must have.
    pub const fn total_size(&self) -> usize {
        self.total
    }
    /// Alignment the region's start (both its virtual and device address)
    /// must have.
    pub const fn alignment(&self) -> usize {
        self.align
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_layout_matches_the_spec_table() {
        let l = SplitLayout::new(256).unwrap();
        assert_eq!(l.avail_offset(), 4096);
        // 4096 + 6 + 512 = 4614, rounded up to 4 -> 4616
        assert_eq!(l.used_offset(), 4616);
        assert_eq!(l.total_size(), 4616 + 6 + 8 * 256);
        let l = SplitLayout::new(1).unwrap();
        assert_eq!((l.avail_offset(), l.used_offset(), l.total_size()), (16, 24, 38));
    }

    #[test]
    fn legacy_layout_is_page_aligned() {
        // Linux's vring_size(256, 4096) is 10246 rounded: desc 4096 +
        // avail 518 -> used at 8192, used 2054 -> 4096: 12288.
        let l = SplitLayout::legacy(256, LEGACY_ALIGN).unwrap();
        assert_eq!(l.used_offset(), 8192);
        assert_eq!(l.total_size(), 12288);
        assert_eq!(l.alignment(), 4096);
        let l = SplitLayout::legacy(1024, LEGACY_ALIGN).unwrap();
        assert_eq!(l.used_offset(), 16384 + 4096);
        assert_eq!(l.total_size(), 16384 + 4096 + 12288);
    }

    #[test]
    fn packed_layout_matches_the_spec_table() {
        let l = PackedLayout::new(256).unwrap();
        assert_eq!((l.desc_offset(), l.driver_event_offset(), l.device_event_offset()), (0, 4096, 4100));
        assert_eq!(l.total_size(), 4104);
        // Not a power of two: fine for packed.
        let l = PackedLayout::new(100).unwrap();
        assert_eq!((l.driver_event_offset(), l.total_size()), (1600, 1608));
        assert_eq!(l.driver_event_offset() % EVENT_SUPPRESSION_ALIGN, 0);
        assert!(PackedLayout::new(32768).is_ok());
        for s in [0u16, 32769, 65535] {
            assert_eq!(PackedLayout::new(s), Err(Error::BadQueueSize(s)));
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for s in [0u16, 3, 100, 32769, 65535] {
            assert_eq!(SplitLayout::new(s), Err(Error::BadQueueSize(s)));
        }
        assert!(SplitLayout::new(32768).is_ok());
        assert_eq!(SplitLayout::legacy(8, 1000), Err(Error::Misaligned));
        assert_eq!(SplitLayout::legacy(8, 8), Err(Error::Misaligned));
    }
}
