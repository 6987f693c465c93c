//! What the device tells us (config space, VIRTIO 1.2 §5.2.4) and what
//! the client is told (the sDDF storage information page, filled as
//! sDDF's virtio-blk driver fills it: capacity in 4096-byte blocks, block
//! size 1, the sector size, the geometry; sevio also says read-only when
//! the device is, and the serial from GET_ID).
//!
//! Config fields are device-supplied and are only believed within reason:
//! a field is read only when its feature was negotiated (§5.2.4: they are
//! valid only then), a `blk_size` that is not a power of two in
//! 512..=32768 is ignored, a `size_max` of 0 means no limit, a `seg_max`
//! of 0 means the driver's own maximum.

use crate::request::{Limits, MAX_SEGMENTS};
use sevio_queue::StorageInfo;
use sevio_queue::blk::{BLK_TRANSFER_SIZE, STORAGE_SERIAL_LEN};
use sevio_virtio::Features;
use sevio_virtio::device::blk::{ID_BYTES, SECTOR_SIZE, features as blk};

/// Bytes of config space read: capacity, size_max, seg_max, geometry,
/// blk_size (offsets 0..24 of `struct virtio_blk_config`).
pub const CONFIG_BYTES: usize = 24;

/// The config fields the driver uses.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BlkFacts {
    /// Capacity in 512-byte sectors.
    pub capacity_sectors: u64,
    /// `size_max`, if SIZE_MAX was negotiated.
    pub size_max: Option<u32>,
    /// `seg_max`, if SEG_MAX was negotiated.
    pub seg_max: Option<u32>,
    /// `blk_size`, if BLK_SIZE was negotiated.
    pub blk_size: Option<u32>,
    /// `geometry` (cylinders, heads, sectors), if GEOMETRY was
    /// negotiated.
    pub geometry: Option<(u16, u8, u8)>,
    /// RO was negotiated.
    pub read_only: bool,
    /// FLUSH was negotiated.
    pub flush: bool,
}

fn le32(b: &[u8; CONFIG_BYTES], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl BlkFacts {
    /// Parse the first [`CONFIG_BYTES`] of config space under `features`.
    pub fn parse(bytes: &[u8; CONFIG_BYTES], features: Features) -> BlkFacts {
        let mut cap = [0u8; 8];
        cap.copy_from_slice(&bytes[0..8]);
        let opt = |bit, at| features.has(bit).then(|| le32(bytes, at));
        BlkFacts {
            capacity_sectors: u64::from_le_bytes(cap),
            size_max: opt(blk::SIZE_MAX, 8),
            seg_max: opt(blk::SEG_MAX, 12),
            blk_size: opt(blk::BLK_SIZE, 20),
            geometry: features
                .has(blk::GEOMETRY)
                .then(|| (u16::from_le_bytes([bytes[16], bytes[17]]), bytes[18], bytes[19])),
            read_only: features.has(blk::RO),
            flush: features.has(blk::FLUSH),
        }
    }

    /// Capacity in 4096-byte blocks (a partial last block is unusable).
    pub fn capacity_blocks(&self) -> u64 {
        self.capacity_sectors / (BLK_TRANSFER_SIZE as u64 / SECTOR_SIZE)
    }

    /// The device's logical block size in bytes, if it gave a sane one.
    pub fn block_bytes(&self) -> Option<u32> {
        self.blk_size.filter(|b| b.is_power_of_two() && (512..=32768).contains(b))
    }

    /// The limits requests are checked against.
    pub fn limits(&self) -> Limits {
        Limits {
            capacity: self.capacity_blocks(),
            read_only: self.read_only,
            flush: self.flush,
            segment_max: self.size_max.filter(|s| *s > 0).unwrap_or(u32::MAX),
            segments: match self.seg_max {
                Some(s) if s > 0 => (s as usize).min(MAX_SEGMENTS),
                _ => MAX_SEGMENTS,
            },
        }
    }

    /// The storage information page's contents; `serial` is the GET_ID
    /// answer (empty if the device gave none).
    pub fn storage_info(&self, serial: &[u8; ID_BYTES], queue_depth: u16) -> StorageInfo {
        let mut info = StorageInfo::default();
        info.serial[..ID_BYTES.min(STORAGE_SERIAL_LEN)].copy_from_slice(serial);
        info.read_only = self.read_only;
        let sector = self.block_bytes().unwrap_or(SECTOR_SIZE as u32);
        info.sector_size = sector as u16;
        info.block_size = (sector as usize).div_ceil(BLK_TRANSFER_SIZE) as u16;
        info.queue_depth = queue_depth;
        info.capacity = self.capacity_blocks();
        // As sDDF's virtio-blk driver fills them (0 without the feature).
        let (cylinders, heads, sectors) = self.geometry.unwrap_or_default();
        (info.cylinders, info.heads, info.blocks) = (cylinders, heads.into(), sectors.into());
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(capacity: u64, size_max: u32, seg_max: u32, blk_size: u32) -> [u8; CONFIG_BYTES] {
        let mut b = [0u8; CONFIG_BYTES];
        b[16..20].copy_from_slice(&[0x10, 0x02, 16, 63]); // 528 cylinders, 16 heads, 63 sectors
        b[0..8].copy_from_slice(&capacity.to_le_bytes());
        b[8..12].copy_from_slice(&size_max.to_le_bytes());
        b[12..16].copy_from_slice(&seg_max.to_le_bytes());
        b[20..24].copy_from_slice(&blk_size.to_le_bytes());
        b
    }

    #[test]
    fn fields_count_only_with_their_feature() {
        let b = bytes(8 * 100 + 7, 4096, 3, 4096);
        let none = BlkFacts::parse(&b, Features::EMPTY);
        assert_eq!(none.capacity_blocks(), 100, "partial last block dropped");
        assert_eq!(
            none.limits(),
            Limits { capacity: 100, read_only: false, flush: false, segment_max: u32::MAX, segments: MAX_SEGMENTS }
        );
        let all =
            Features::EMPTY.with(blk::SIZE_MAX).with(blk::SEG_MAX).with(blk::BLK_SIZE).with(blk::RO).with(blk::FLUSH);
        let f = BlkFacts::parse(&b, all);
        assert_eq!(f.limits(), Limits { capacity: 100, read_only: true, flush: true, segment_max: 4096, segments: 3 });
        let info = f.storage_info(b"serial-0123456789abc", 32);
        assert_eq!(&info.serial[..20], b"serial-0123456789abc");
        assert!(info.serial[20..].iter().all(|&c| c == 0));
        assert_eq!(
            (info.read_only, info.sector_size, info.block_size, info.queue_depth, info.capacity),
            (true, 4096, 1, 32, 100)
        );
        assert_eq!((info.cylinders, info.heads, info.blocks), (0, 0, 0), "no GEOMETRY: no geometry");
        let info = BlkFacts::parse(&b, all.with(blk::GEOMETRY)).storage_info(&[0; 20], 1);
        assert_eq!((info.cylinders, info.heads, info.blocks), (528, 16, 63));
    }

    #[test]
    fn insane_values_are_ignored() {
        let all = Features::EMPTY.with(blk::SIZE_MAX).with(blk::SEG_MAX).with(blk::BLK_SIZE);
        let f = BlkFacts::parse(&bytes(0, 0, 0, 1000), all);
        assert_eq!(f.limits().segment_max, u32::MAX, "size_max 0: no limit");
        assert_eq!(f.limits().segments, MAX_SEGMENTS, "seg_max 0: our maximum");
        assert_eq!(f.block_bytes(), None, "1000 is no block size");
        assert_eq!(f.storage_info(&[0; 20], 1).sector_size, 512);
        let f = BlkFacts::parse(&bytes(0, 0, 1000, 65536), all);
        assert_eq!((f.limits().segments, f.block_bytes()), (MAX_SEGMENTS, None));
    }
}
