//! Block device (VIRTIO 1.2 §5.2).

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Feature bits (VIRTIO 1.2 §5.2.3).
pub mod features {
    use crate::features::FeatureBit;
    /// Legacy: request barriers.
    pub const BARRIER: FeatureBit = FeatureBit::of(0);
    /// `size_max` is valid.
    pub const SIZE_MAX: FeatureBit = FeatureBit::of(1);
    /// `seg_max` is valid.
    pub const SEG_MAX: FeatureBit = FeatureBit::of(2);
    /// `geometry` is valid.
    pub const GEOMETRY: FeatureBit = FeatureBit::of(4);
    /// Read-only device.
    pub const RO: FeatureBit = FeatureBit::of(5);
    /// `blk_size` is valid.
    pub const BLK_SIZE: FeatureBit = FeatureBit::of(6);
    /// Legacy: SCSI packet commands.
    pub const SCSI: FeatureBit = FeatureBit::of(7);
    /// Cache flush command.
    pub const FLUSH: FeatureBit = FeatureBit::of(9);
    /// `topology` is valid.
    pub const TOPOLOGY: FeatureBit = FeatureBit::of(10);
    /// Writeback mode is configurable (`writeback`).
    pub const CONFIG_WCE: FeatureBit = FeatureBit::of(11);
    /// Multiple queues (`num_queues`).
    pub const MQ: FeatureBit = FeatureBit::of(12);
    /// Discard command.
    pub const DISCARD: FeatureBit = FeatureBit::of(13);
    /// Write-zeroes command.
    pub const WRITE_ZEROES: FeatureBit = FeatureBit::of(14);
    /// Lifetime information.
    pub const LIFETIME: FeatureBit = FeatureBit::of(15);
    /// Secure-erase command.
    pub const SECURE_ERASE: FeatureBit = FeatureBit::of(16);
    /// Zoned device (VIRTIO 1.3 / Linux uapi; not in 1.2).
    pub const ZONED: FeatureBit = FeatureBit::of(17);
}

/// Sector size the request header's `sector` counts in, whatever `blk_size` says.
pub const SECTOR_SIZE: u64 = 512;
/// Bytes of the GET_ID answer.
pub const ID_BYTES: usize = 20;

/// Request types (`type` of [`ReqHeader`]).
pub mod req {
    /// Read.
    pub const IN: u32 = 0;
    /// Write.
    pub const OUT: u32 = 1;
    /// Flush.
    pub const FLUSH: u32 = 4;
    /// Device id string.
    pub const GET_ID: u32 = 8;
    /// Lifetime information.
    pub const GET_LIFETIME: u32 = 10;
    /// Discard.
    pub const DISCARD: u32 = 11;
    /// Write zeroes.
    pub const WRITE_ZEROES: u32 = 13;
    /// Secure erase.
    pub const SECURE_ERASE: u32 = 14;
}

/// Status byte the device writes last (VIRTIO 1.2 §5.2.6).
pub mod status {
    /// Success.
    pub const OK: u8 = 0;
    /// Device or driver error.
    pub const IOERR: u8 = 1;
    /// Unsupported request.
    pub const UNSUPP: u8 = 2;
}

/// Legacy-free disk geometry.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Geometry {
    /// Cylinders.
    pub cylinders: U16,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
}

/// I/O topology hints.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Topology {
    /// Logical blocks per physical block, as log2.
    pub physical_block_exp: u8,
    /// Offset of the first aligned logical block.
    pub alignment_offset: u8,
    /// Suggested minimum I/O size in blocks.
    pub min_io_size: U16,
    /// Optimal (suggested maximum) I/O size in blocks.
    pub opt_io_size: U32,
}

/// `struct virtio_blk_config` (VIRTIO 1.2 §5.2.4), 72 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BlkConfig {
    /// Capacity in 512-byte sectors.
    pub capacity: U64,
    /// Largest segment (SIZE_MAX).
    pub size_max: U32,
    /// Most segments per request (SEG_MAX).
    pub seg_max: U32,
    /// Geometry (GEOMETRY).
    pub geometry: Geometry,
    /// Block size (BLK_SIZE).
    pub blk_size: U32,
    /// Topology (TOPOLOGY).
    pub topology: Topology,
    /// Writeback cache on (CONFIG_WCE).
    pub writeback: u8,
    /// Reserved.
    pub unused0: u8,
    /// Queue count (MQ).
    pub num_queues: U16,
    /// Discard limit in sectors (DISCARD).
    pub max_discard_sectors: U32,
    /// Discard segments (DISCARD).
    pub max_discard_seg: U32,
    /// Discard alignment in sectors (DISCARD).
    pub discard_sector_alignment: U32,
    /// Write-zeroes limit in sectors (WRITE_ZEROES).
    pub max_write_zeroes_sectors: U32,
    /// Write-zeroes segments (WRITE_ZEROES).
    pub max_write_zeroes_seg: U32,
    /// Write-zeroes may unmap (WRITE_ZEROES).
    pub write_zeroes_may_unmap: u8,
    /// Reserved.
    pub unused1: [u8; 3],
    /// Secure-erase limit in sectors (SECURE_ERASE).
    pub max_secure_erase_sectors: U32,
    /// Secure-erase segments (SECURE_ERASE).
    pub max_secure_erase_seg: U32,
    /// Secure-erase alignment in sectors (SECURE_ERASE).
    pub secure_erase_sector_alignment: U32,
}

/// The device-readable header every request starts with (VIRTIO 1.2
/// §5.2.6), 16 bytes; followed by data buffers and a one-byte status the
/// device writes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ReqHeader {
    /// One of [`req`].
    pub type_: U32,
    /// Reserved (legacy ioprio).
    pub reserved: U32,
    /// First sector (512-byte units) for IN / OUT.
    pub sector: U64,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<Geometry>() == 4);
    assert!(size_of::<Topology>() == 8);
    assert!(size_of::<BlkConfig>() == 72);
    assert!(offset_of!(BlkConfig, geometry) == 16);
    assert!(offset_of!(BlkConfig, blk_size) == 20);
    assert!(offset_of!(BlkConfig, writeback) == 32);
    assert!(offset_of!(BlkConfig, num_queues) == 34);
    assert!(offset_of!(BlkConfig, max_discard_sectors) == 36);
    assert!(offset_of!(BlkConfig, write_zeroes_may_unmap) == 56);
    assert!(offset_of!(BlkConfig, max_secure_erase_sectors) == 60);
    assert!(size_of::<ReqHeader>() == 16);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::config_from_bytes;

    #[test]
    fn parses_golden_config_bytes() {
        let mut bytes = [0u8; 72];
        bytes[0..8].copy_from_slice(&0x1_0000_0800u64.to_le_bytes());
        bytes[12..16].copy_from_slice(&126u32.to_le_bytes());
        bytes[20..24].copy_from_slice(&4096u32.to_le_bytes());
        bytes[24] = 3;
        bytes[34..36].copy_from_slice(&4u16.to_le_bytes());
        bytes[68..72].copy_from_slice(&8u32.to_le_bytes());
        let c: BlkConfig = config_from_bytes(&bytes);
        assert_eq!(c.capacity.get(), 0x1_0000_0800);
        assert_eq!(c.seg_max.get(), 126);
        assert_eq!(c.blk_size.get(), 4096);
        assert_eq!(c.topology.physical_block_exp, 3);
        assert_eq!(c.num_queues.get(), 4);
        assert_eq!(c.secure_erase_sector_alignment.get(), 8);
        // A short (older) config space: absent fields read as zero.
        let short: BlkConfig = config_from_bytes(&bytes[..20]);
        assert_eq!(short.capacity.get(), 0x1_0000_0800);
        assert_eq!(short.blk_size.get(), 0);
    }

    #[test]
    fn request_header_bytes() {
        let h = ReqHeader { type_: req::OUT.into(), reserved: 0.into(), sector: 0x0102_0304_0506_0708u64.into() };
        assert_eq!(h.as_bytes(), &[1, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn feature_numbers() {
        let bits = [
            features::SIZE_MAX,
            features::SEG_MAX,
            features::GEOMETRY,
            features::RO,
            features::BLK_SIZE,
            features::FLUSH,
            features::TOPOLOGY,
            features::CONFIG_WCE,
            features::MQ,
            features::DISCARD,
            features::WRITE_ZEROES,
            features::LIFETIME,
            features::SECURE_ERASE,
        ];
        let nums: [u8; 13] = [1, 2, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16];
        for (b, n) in bits.iter().zip(nums) {
            assert_eq!(b.bit(), n);
        }
    }
}
