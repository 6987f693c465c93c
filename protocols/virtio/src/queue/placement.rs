//! Where a driver asks a transport to put a virtqueue, checked against
//! VIRTIO 1.2 §2.7 (split) or §2.8 (packed) before any address reaches a
//! device.
//!
//! A transport programs a device with the ring addresses a driver PD
//! sends it. With no IOMMU the device then reads and writes those
//! addresses in all of RAM, so every transport checks the same things,
//! here and nowhere else:
//!
//! - the size: at most the device's maximum, and a power of two for a
//!   split ring (a packed ring may have any size, §2.8.10.1);
//! - each part aligned as §2.7's (or §2.8.10.1's) table says (modern
//!   interfaces), or the three parts of a split ring in the one contiguous
//!   layout of §2.7.2 (legacy ones; a packed ring needs a modern one);
//! - no part wraps past the end of the address space;
//! - every part inside the driver's DMA window
//!   ([`RingPlacement::check_inside`]).

use super::layout::{
    AVAIL_ALIGN, DESC_ALIGN, EVENT_SUPPRESSION_ALIGN, EVENT_SUPPRESSION_SIZE, USED_ALIGN, check_packed_size, check_size,
};
use super::{DESC_SIZE, MAX_QUEUE_SIZE};

/// One of the three parts of a virtqueue, named after the split ring's
/// (VIRTIO 1.2 §2.7); for a packed ring (§2.8) they are the descriptor
/// ring, the driver and the device event suppression structures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RingPart {
    /// The descriptor table / ring (descriptor area).
    Descriptors,
    /// The available ring / driver event suppression (driver area).
    Available,
    /// The used ring / device event suppression (device area).
    Used,
}

/// Which virtqueue format the three addresses describe (VIRTIO_F_RING_PACKED
/// negotiated or not).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RingFormat {
    /// The split virtqueue (VIRTIO 1.2 §2.7).
    Split,
    /// The packed virtqueue (VIRTIO 1.2 §2.8).
    Packed,
}

/// A rule of VIRTIO 1.2 §2.7 a ring placement breaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PlacementError {
    /// The device has no such queue (its maximum size is 0).
    NoSuchQueue,
    /// Size zero, above the device's maximum or 32768, or (split) not a
    /// power of two.
    BadSize {
        /// The size asked for.
        size: u16,
        /// The device's maximum.
        max: u16,
    },
    /// A part does not start at a multiple of its alignment.
    Misaligned {
        /// The part.
        part: RingPart,
        /// Its address.
        addr: u64,
    },
    /// Legacy: a part is not where the contiguous layout puts it.
    NotContiguous {
        /// The part.
        part: RingPart,
        /// Where the layout puts it.
        expected: u64,
        /// Where the driver put it.
        got: u64,
    },
    /// A part runs past the end of the 64-bit address space.
    Wraps {
        /// The part.
        part: RingPart,
    },
    /// A part lies (partly) outside the driver's DMA window.
    OutsideWindow {
        /// The part.
        part: RingPart,
    },
    /// A packed ring through a legacy interface, which has no way to
    /// program one (VIRTIO_F_RING_PACKED is a VIRTIO 1.x feature).
    PackedNeedsModern,
    /// Legacy: the descriptor table's page frame number is 0 (which the
    /// legacy registers read as "no queue") or does not fit 32 bits.
    BadPageFrame {
        /// The descriptor table's address.
        desc: u64,
    },
}

/// The register interface a queue is programmed through.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RingInterface {
    /// Three independent addresses (virtio-mmio version 2, modern PCI).
    Modern,
    /// One page frame number for a contiguous layout (virtio-mmio
    /// version 1, legacy PCI), with this queue alignment.
    Legacy {
        /// Queue Align: 4096 for legacy PCI, what QueueAlign says for
        /// virtio-mmio version 1.
        queue_align: u64,
    },
}

/// A queue's size and the device (physical) addresses of its three
/// parts, as a driver asks its transport to program them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingPlacement {
    /// Queue size (entries).
    pub size: u16,
    /// Address of the descriptor table.
    pub desc: u64,
    /// Address of the available ring.
    pub avail: u64,
    /// Address of the used ring.
    pub used: u64,
}

impl RingPlacement {
    /// A queue of `size` entries with its parts at `desc`, `avail`, `used`.
    pub const fn new(size: u16, desc: u64, avail: u64, used: u64) -> Self {
        RingPlacement { size, desc, avail, used }
    }

    /// The address and byte length of a split ring's `part` (§2.7's
    /// table: 16n, 6 + 2n, 6 + 8n; the event words are always counted).
    pub const fn part(&self, part: RingPart) -> (u64, u64) {
        self.part_of(RingFormat::Split, part)
    }

    /// The address and byte length of `part` in a ring of `format`
    /// (packed, §2.8.10.1's table: 16n, 4, 4).
    pub const fn part_of(&self, format: RingFormat, part: RingPart) -> (u64, u64) {
        let n = self.size as u64;
        match (format, part) {
            (_, RingPart::Descriptors) => (self.desc, DESC_SIZE as u64 * n),
            (RingFormat::Split, RingPart::Available) => (self.avail, 6 + 2 * n),
            (RingFormat::Split, RingPart::Used) => (self.used, 6 + 8 * n),
            (RingFormat::Packed, RingPart::Available) => (self.avail, EVENT_SUPPRESSION_SIZE as u64),
            (RingFormat::Packed, RingPart::Used) => (self.used, EVENT_SUPPRESSION_SIZE as u64),
        }
    }

    /// The parts with their alignments, in memory order of the legacy
    /// layout.
    const fn parts(format: RingFormat) -> [(RingPart, u64); 3] {
        let (avail, used) = match format {
            RingFormat::Split => (AVAIL_ALIGN as u64, USED_ALIGN as u64),
            RingFormat::Packed => (EVENT_SUPPRESSION_ALIGN as u64, EVENT_SUPPRESSION_ALIGN as u64),
        };
        [(RingPart::Descriptors, DESC_ALIGN as u64), (RingPart::Available, avail), (RingPart::Used, used)]
    }

    /// Check the placement of a split ring for a device whose queue takes
    /// at most `max` entries, programmed through `interface`.
    pub fn check(&self, max: u16, interface: RingInterface) -> Result<(), PlacementError> {
        self.check_format(RingFormat::Split, max, interface)
    }

    /// Check the placement of a ring of `format` for a device whose queue
    /// takes at most `max` entries, programmed through `interface`.
    pub fn check_format(&self, format: RingFormat, max: u16, interface: RingInterface) -> Result<(), PlacementError> {
        if max == 0 {
            return Err(PlacementError::NoSuchQueue);
        }
        // §4.2.2.2 (and likewise the PCI queue_size): "The driver MUST
        // write a value to QueueNum which is less than or equal to the
        // value presented by the device in QueueNumMax."
        let size_ok = match format {
            // VIRTIO 1.2 §2.7: "Queue Size value is always a power of 2.
            // The maximum Queue Size value is 32768."
            RingFormat::Split => check_size(self.size),
            // §2.8: "Packed virtqueues support up to 2^15 entries each";
            // §2.8.10.1: "The Queue Size value does not have to be a power
            // of 2".
            RingFormat::Packed => check_packed_size(self.size),
        };
        if size_ok.is_err() || self.size > max.min(MAX_QUEUE_SIZE) {
            return Err(PlacementError::BadSize { size: self.size, max });
        }
        if format == RingFormat::Packed && interface != RingInterface::Modern {
            return Err(PlacementError::PackedNeedsModern);
        }
        for (part, align) in Self::parts(format) {
            let (addr, len) = self.part_of(format, part);
            // VIRTIO 1.2 §2.7.1 and §2.8.11: "The driver MUST ensure that
            // the physical address of the first byte of each virtqueue
            // part is a multiple of the specified alignment value in the
            // above table."
            if addr % align != 0 {
                return Err(PlacementError::Misaligned { part, addr });
            }
            if addr.checked_add(len).is_none() {
                return Err(PlacementError::Wraps { part });
            }
        }
        match interface {
            RingInterface::Modern => Ok(()),
            RingInterface::Legacy { queue_align } => self.check_legacy_layout(queue_align),
        }
    }

    /// VIRTIO 1.2 §2.7.2: "When using the legacy interface, both
    /// transitional devices and drivers MUST use the following virtqueue
    /// layout structure to locate elements of the virtqueue": the
    /// descriptor table at a Queue Align boundary (the device is given
    /// its page frame), the available ring right after it, the used ring
    /// at the next Queue Align boundary.
    fn check_legacy_layout(&self, queue_align: u64) -> Result<(), PlacementError> {
        if !queue_align.is_power_of_two() || queue_align < DESC_ALIGN as u64 {
            return Err(PlacementError::Misaligned { part: RingPart::Descriptors, addr: self.desc });
        }
        if self.desc % queue_align != 0 {
            return Err(PlacementError::Misaligned { part: RingPart::Descriptors, addr: self.desc });
        }
        let (desc, desc_len) = self.part(RingPart::Descriptors);
        // `check` made sure no part wraps, so these sums do not either;
        // checked anyway, as they are sums of the driver's numbers.
        let wraps = |part| PlacementError::Wraps { part };
        let avail = desc.checked_add(desc_len).ok_or(wraps(RingPart::Available))?;
        if self.avail != avail {
            return Err(PlacementError::NotContiguous { part: RingPart::Available, expected: avail, got: self.avail });
        }
        let (_, avail_len) = self.part(RingPart::Available);
        let used = avail
            .checked_add(avail_len)
            .and_then(|end| end.checked_next_multiple_of(queue_align))
            .ok_or(wraps(RingPart::Used))?;
        if self.used != used {
            return Err(PlacementError::NotContiguous { part: RingPart::Used, expected: used, got: self.used });
        }
        Ok(())
    }

    /// The page frame number a legacy interface is given: the descriptor
    /// table's address in units of `page` (both legacy interfaces write
    /// it to a 32-bit register in which 0 means "no queue"). Call after
    /// [`check`](Self::check) with [`RingInterface::Legacy`].
    pub fn legacy_page_frame(&self, page: u64) -> Result<u32, PlacementError> {
        let frame = self.desc.checked_div(page).ok_or(PlacementError::BadPageFrame { desc: self.desc })?;
        match u32::try_from(frame) {
            Ok(frame) if frame != 0 => Ok(frame),
            _ => Err(PlacementError::BadPageFrame { desc: self.desc }),
        }
    }

    /// Check that every part lies inside the `len` bytes at `base`: with
    /// no IOMMU the device can reach all of RAM, so the one thing a
    /// transport can hold a driver to is that its rings (which the device
    /// writes) are in the driver's own DMA region.
    pub fn check_inside(&self, base: u64, len: u64) -> Result<(), PlacementError> {
        self.check_inside_format(RingFormat::Split, base, len)
    }

    /// [`check_inside`](Self::check_inside) for a ring of `format`.
    pub fn check_inside_format(&self, format: RingFormat, base: u64, len: u64) -> Result<(), PlacementError> {
        // The window is the transport's own configuration; one that
        // reaches past the address space simply ends there.
        let end = base.saturating_add(len);
        for (part, _) in Self::parts(format) {
            let (addr, part_len) = self.part_of(format, part);
            let part_end = addr.checked_add(part_len).ok_or(PlacementError::Wraps { part })?;
            if addr < base || part_end > end {
                return Err(PlacementError::OutsideWindow { part });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{LEGACY_ALIGN, PackedLayout, SplitLayout};

    /// The modern compact layout of `size` entries at `base`.
    fn modern(size: u16, base: u64) -> RingPlacement {
        let l = SplitLayout::new(size).unwrap();
        RingPlacement { size, desc: base, avail: base + l.avail_offset() as u64, used: base + l.used_offset() as u64 }
    }

    /// The legacy layout of `size` entries at `base`, as the drivers lay it out.
    fn legacy(size: u16, base: u64) -> RingPlacement {
        let l = SplitLayout::legacy(size, LEGACY_ALIGN).unwrap();
        RingPlacement { size, desc: base, avail: base + l.avail_offset() as u64, used: base + l.used_offset() as u64 }
    }

    const LEGACY: RingInterface = RingInterface::Legacy { queue_align: 4096 };

    #[test]
    fn the_layouts_drivers_build_pass() {
        assert_eq!(modern(256, 0x4000_0000).check(256, RingInterface::Modern), Ok(()));
        assert_eq!(modern(1, 0x10).check(1, RingInterface::Modern), Ok(()));
        assert_eq!(legacy(128, 0x8000).check(256, LEGACY), Ok(()));
        assert_eq!(legacy(128, 0x8000).legacy_page_frame(4096), Ok(8));
        // Three unrelated, aligned addresses are fine for a modern device.
        let spread = RingPlacement { size: 8, desc: 0x9000, avail: 0x1002, used: 0x5004 };
        assert_eq!(spread.check(8, RingInterface::Modern), Ok(()));
    }

    #[test]
    fn a_queue_of_maximum_zero_does_not_exist() {
        assert_eq!(modern(8, 0x1000).check(0, RingInterface::Modern), Err(PlacementError::NoSuchQueue));
    }

    #[test]
    fn size_must_be_a_power_of_two_within_the_maximum() {
        for size in [0u16, 3, 100] {
            let p = RingPlacement { size, desc: 0x1000, avail: 0x2000, used: 0x3000 };
            assert_eq!(p.check(256, RingInterface::Modern), Err(PlacementError::BadSize { size, max: 256 }));
        }
        let p = modern(512, 0x1_0000);
        assert_eq!(p.check(256, RingInterface::Modern), Err(PlacementError::BadSize { size: 512, max: 256 }));
        // A device that claims more than the split queue can have is
        // still held to 32768.
        let p = RingPlacement { size: 65535, desc: 0, avail: 0, used: 0 };
        assert_eq!(p.check(u16::MAX, RingInterface::Modern), Err(PlacementError::BadSize { size: 65535, max: 65535 }));
    }

    #[test]
    fn each_part_has_its_own_alignment() {
        let good = RingPlacement { size: 8, desc: 0x1000, avail: 0x2000, used: 0x3000 };
        let cases = [
            (RingPlacement { desc: 0x1008, ..good }, RingPart::Descriptors, 0x1008),
            (RingPlacement { avail: 0x2001, ..good }, RingPart::Available, 0x2001),
            (RingPlacement { used: 0x3002, ..good }, RingPart::Used, 0x3002),
        ];
        for (p, part, addr) in cases {
            assert_eq!(p.check(8, RingInterface::Modern), Err(PlacementError::Misaligned { part, addr }));
        }
    }

    #[test]
    fn no_part_may_wrap_the_address_space() {
        let top = u64::MAX - 15; // 16-aligned, 16 bytes before the end
        let p = RingPlacement { size: 8, desc: top, avail: 0x2000, used: 0x3000 };
        assert_eq!(p.check(8, RingInterface::Modern), Err(PlacementError::Wraps { part: RingPart::Descriptors }));
        let p = RingPlacement { size: 8, desc: 0x1000, avail: 0x2000, used: u64::MAX - 3 };
        assert_eq!(p.check(8, RingInterface::Modern), Err(PlacementError::Wraps { part: RingPart::Used }));
    }

    #[test]
    fn legacy_parts_must_be_contiguous() {
        let good = legacy(128, 0x8000);
        let avail_moved = RingPlacement { avail: good.avail + 16, ..good };
        assert_eq!(
            avail_moved.check(128, LEGACY),
            Err(PlacementError::NotContiguous {
                part: RingPart::Available,
                expected: good.avail,
                got: good.avail + 16
            })
        );
        // The modern compact layout puts the used ring right after the
        // available ring, not at the next page: legal for modern only.
        let compact = modern(128, 0x8000);
        assert_eq!(compact.check(128, RingInterface::Modern), Ok(()));
        assert_eq!(
            compact.check(128, LEGACY),
            Err(PlacementError::NotContiguous { part: RingPart::Used, expected: 0x9000, got: compact.used })
        );
        let off_page = legacy(128, 0x8800);
        assert_eq!(
            off_page.check(128, LEGACY),
            Err(PlacementError::Misaligned { part: RingPart::Descriptors, addr: 0x8800 })
        );
        let bad_align = RingInterface::Legacy { queue_align: 1000 };
        assert!(matches!(good.check(128, bad_align), Err(PlacementError::Misaligned { .. })));
    }

    #[test]
    fn legacy_page_frames_are_nonzero_and_32_bit() {
        assert_eq!(legacy(8, 0).legacy_page_frame(4096), Err(PlacementError::BadPageFrame { desc: 0 }));
        let high = legacy(8, 1 << 44);
        assert_eq!(high.check(8, LEGACY), Ok(()));
        assert_eq!(high.legacy_page_frame(4096), Err(PlacementError::BadPageFrame { desc: 1 << 44 }));
        assert_eq!(legacy(8, 0x8000).legacy_page_frame(0), Err(PlacementError::BadPageFrame { desc: 0x8000 }));
    }

    #[test]
    fn every_part_must_lie_in_the_window() {
        let (base, len) = (0x5000_0000u64, 0x2_0000u64);
        assert_eq!(modern(128, base).check_inside(base, len), Ok(()));
        let below = RingPlacement { desc: 0x1000, ..modern(128, base) };
        assert_eq!(below.check_inside(base, len), Err(PlacementError::OutsideWindow { part: RingPart::Descriptors }));
        let straddling = RingPlacement { used: base + len - 8, ..modern(128, base) };
        assert_eq!(straddling.check_inside(base, len), Err(PlacementError::OutsideWindow { part: RingPart::Used }));
        let after = RingPlacement { avail: base + len, ..modern(128, base) };
        assert_eq!(after.check_inside(base, len), Err(PlacementError::OutsideWindow { part: RingPart::Available }));
        let wrapping = RingPlacement { desc: u64::MAX - 15, ..modern(128, base) };
        assert_eq!(wrapping.check_inside(base, len), Err(PlacementError::Wraps { part: RingPart::Descriptors }));
        // A window that itself reaches the end of the address space.
        let top = u64::MAX - 0xffff;
        assert_eq!(modern(8, top).check_inside(top, u64::MAX), Ok(()));
    }

    /// The packed layout of `size` entries at `base`, as `PackedQueue` lays it out.
    fn packed(size: u16, base: u64) -> RingPlacement {
        let l = PackedLayout::new(size).unwrap();
        RingPlacement {
            size,
            desc: base,
            avail: base + l.driver_event_offset() as u64,
            used: base + l.device_event_offset() as u64,
        }
    }

    const PACKED: RingFormat = RingFormat::Packed;

    #[test]
    fn packed_rings_may_have_any_size_up_to_the_maximum() {
        assert_eq!(packed(100, 0x4000).check_format(PACKED, 256, RingInterface::Modern), Ok(()));
        assert_eq!(packed(1, 0x4000).check_format(PACKED, 1, RingInterface::Modern), Ok(()));
        // The same size is not a split ring.
        let split_100 = RingPlacement { size: 100, desc: 0x4000, avail: 0x5000, used: 0x6000 };
        assert_eq!(split_100.check(256, RingInterface::Modern), Err(PlacementError::BadSize { size: 100, max: 256 }));
        for (size, max) in [(0u16, 256u16), (257, 256), (32769, u16::MAX)] {
            let p = RingPlacement { size, desc: 0x1000, avail: 0x2000, used: 0x3000 };
            assert_eq!(p.check_format(PACKED, max, RingInterface::Modern), Err(PlacementError::BadSize { size, max }));
        }
        assert_eq!(packed(8, 0x4000).check_format(PACKED, 0, RingInterface::Modern), Err(PlacementError::NoSuchQueue));
    }

    #[test]
    fn packed_parts_are_16_4_4_aligned() {
        let good = RingPlacement { size: 8, desc: 0x1000, avail: 0x2004, used: 0x3008 };
        assert_eq!(good.check_format(PACKED, 8, RingInterface::Modern), Ok(()));
        let cases = [
            (RingPlacement { desc: 0x1008, ..good }, RingPart::Descriptors, 0x1008),
            // 2-byte aligned is enough for a split available ring, not for
            // a packed driver area.
            (RingPlacement { avail: 0x2002, ..good }, RingPart::Available, 0x2002),
            (RingPlacement { used: 0x3002, ..good }, RingPart::Used, 0x3002),
        ];
        for (p, part, addr) in cases {
            assert_eq!(
                p.check_format(PACKED, 8, RingInterface::Modern),
                Err(PlacementError::Misaligned { part, addr })
            );
        }
        let wraps = RingPlacement { used: u64::MAX - 3, ..good };
        assert_eq!(
            wraps.check_format(PACKED, 8, RingInterface::Modern),
            Err(PlacementError::Wraps { part: RingPart::Used })
        );
    }

    #[test]
    fn packed_rings_need_a_modern_interface() {
        assert_eq!(packed(8, 0x8000).check_format(PACKED, 8, LEGACY), Err(PlacementError::PackedNeedsModern));
    }

    #[test]
    fn packed_parts_must_lie_in_the_window_by_their_own_sizes() {
        let (base, len) = (0x5000_0000u64, 0x1000u64);
        let p = packed(8, base);
        assert_eq!(p.check_inside_format(PACKED, base, len), Ok(()));
        // The device area is 4 bytes for packed: ending exactly at the
        // window's end is inside, though a split used ring there is not.
        let at_end = RingPlacement { used: base + len - 4, ..p };
        assert_eq!(at_end.check_inside_format(PACKED, base, len), Ok(()));
        assert_eq!(at_end.check_inside(base, len), Err(PlacementError::OutsideWindow { part: RingPart::Used }));
        let past = RingPlacement { avail: base + len - 2, ..p };
        assert_eq!(
            past.check_inside_format(PACKED, base, len),
            Err(PlacementError::OutsideWindow { part: RingPart::Available })
        );
    }
}
