//! Network device (VIRTIO 1.2 §5.1).

use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Feature bits (VIRTIO 1.2 §5.1.3).
pub mod features {
    use crate::features::FeatureBit;
    /// Device handles packets with partial checksum.
    pub const CSUM: FeatureBit = FeatureBit::of(0);
    /// Driver handles packets with partial checksum.
    pub const GUEST_CSUM: FeatureBit = FeatureBit::of(1);
    /// Control-queue offload reconfiguration.
    pub const CTRL_GUEST_OFFLOADS: FeatureBit = FeatureBit::of(2);
    /// `mtu` is valid.
    pub const MTU: FeatureBit = FeatureBit::of(3);
    /// `mac` is valid.
    pub const MAC: FeatureBit = FeatureBit::of(5);
    /// Legacy: any GSO type.
    pub const GSO: FeatureBit = FeatureBit::of(6);
    /// Driver takes TSOv4.
    pub const GUEST_TSO4: FeatureBit = FeatureBit::of(7);
    /// Driver takes TSOv6.
    pub const GUEST_TSO6: FeatureBit = FeatureBit::of(8);
    /// Driver takes TSO with ECN.
    pub const GUEST_ECN: FeatureBit = FeatureBit::of(9);
    /// Driver takes UFO.
    pub const GUEST_UFO: FeatureBit = FeatureBit::of(10);
    /// Device takes TSOv4.
    pub const HOST_TSO4: FeatureBit = FeatureBit::of(11);
    /// Device takes TSOv6.
    pub const HOST_TSO6: FeatureBit = FeatureBit::of(12);
    /// Device takes TSO with ECN.
    pub const HOST_ECN: FeatureBit = FeatureBit::of(13);
    /// Device takes UFO.
    pub const HOST_UFO: FeatureBit = FeatureBit::of(14);
    /// Driver can merge receive buffers.
    pub const MRG_RXBUF: FeatureBit = FeatureBit::of(15);
    /// `status` is valid.
    pub const STATUS: FeatureBit = FeatureBit::of(16);
    /// Control queue.
    pub const CTRL_VQ: FeatureBit = FeatureBit::of(17);
    /// Control-queue RX mode.
    pub const CTRL_RX: FeatureBit = FeatureBit::of(18);
    /// Control-queue VLAN filtering.
    pub const CTRL_VLAN: FeatureBit = FeatureBit::of(19);
    /// Extra RX mode control.
    pub const CTRL_RX_EXTRA: FeatureBit = FeatureBit::of(20);
    /// Driver can send gratuitous packets.
    pub const GUEST_ANNOUNCE: FeatureBit = FeatureBit::of(21);
    /// Multiqueue with automatic steering.
    pub const MQ: FeatureBit = FeatureBit::of(22);
    /// MAC address through the control queue.
    pub const CTRL_MAC_ADDR: FeatureBit = FeatureBit::of(23);
    /// Per-virtqueue notification coalescing.
    pub const VQ_NOTF_COAL: FeatureBit = FeatureBit::of(52);
    /// Notification coalescing.
    pub const NOTF_COAL: FeatureBit = FeatureBit::of(53);
    /// Driver takes USO over IPv4.
    pub const GUEST_USO4: FeatureBit = FeatureBit::of(54);
    /// Driver takes USO over IPv6.
    pub const GUEST_USO6: FeatureBit = FeatureBit::of(55);
    /// Device takes USO.
    pub const HOST_USO: FeatureBit = FeatureBit::of(56);
    /// Device reports packet hashes.
    pub const HASH_REPORT: FeatureBit = FeatureBit::of(57);
    /// Driver provides the exact `hdr_len`.
    pub const GUEST_HDRLEN: FeatureBit = FeatureBit::of(59);
    /// RSS steering.
    pub const RSS: FeatureBit = FeatureBit::of(60);
    /// Extended coalescing info.
    pub const RSC_EXT: FeatureBit = FeatureBit::of(61);
    /// Standby for a primary device.
    pub const STANDBY: FeatureBit = FeatureBit::of(62);
    /// `speed` and `duplex` are valid.
    pub const SPEED_DUPLEX: FeatureBit = FeatureBit::of(63);
}

/// `status` bits.
pub mod link {
    /// Link is up.
    pub const UP: u16 = 1;
    /// Driver should announce itself.
    pub const ANNOUNCE: u16 = 2;
}

/// `struct virtio_net_config` (VIRTIO 1.2 §5.1.4), 24 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct NetConfig {
    /// MAC address (MAC).
    pub mac: [u8; 6],
    /// Link status, [`link`] bits (STATUS).
    pub status: U16,
    /// Queue pairs (MQ or RSS).
    pub max_virtqueue_pairs: U16,
    /// MTU (MTU).
    pub mtu: U16,
    /// Speed in Mbit/s (SPEED_DUPLEX).
    pub speed: U32,
    /// 0 half, 1 full duplex (SPEED_DUPLEX).
    pub duplex: u8,
    /// RSS key size (RSS or HASH_REPORT).
    pub rss_max_key_size: u8,
    /// RSS indirection table length (RSS).
    pub rss_max_indirection_table_length: U16,
    /// Supported hash types (RSS or HASH_REPORT).
    pub supported_hash_types: U32,
}

/// `flags` of [`NetHdr`].
pub mod hdr_flags {
    /// Checksum at `csum_start + csum_offset` must be filled in.
    pub const NEEDS_CSUM: u8 = 1;
    /// Checksum already validated.
    pub const DATA_VALID: u8 = 2;
    /// Coalescing info present.
    pub const RSC_INFO: u8 = 4;
}

/// `gso_type` of [`NetHdr`].
pub mod gso {
    /// Not a GSO frame.
    pub const NONE: u8 = 0;
    /// TCPv4.
    pub const TCPV4: u8 = 1;
    /// UDP (UFO).
    pub const UDP: u8 = 3;
    /// TCPv6.
    pub const TCPV6: u8 = 4;
    /// UDP segmentation (USO).
    pub const UDP_L4: u8 = 5;
    /// ECN bit.
    pub const ECN: u8 = 0x80;
}

/// `struct virtio_net_hdr` as a modern (VERSION_1) device uses it
/// (VIRTIO 1.2 §5.1.6): 12 bytes, `num_buffers` always present.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct NetHdr {
    /// [`hdr_flags`] bits.
    pub flags: u8,
    /// One of [`gso`].
    pub gso_type: u8,
    /// Header length.
    pub hdr_len: U16,
    /// Segment size for GSO.
    pub gso_size: U16,
    /// Where checksumming starts.
    pub csum_start: U16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: U16,
    /// Buffers merged into this packet (MRG_RXBUF; 1 otherwise on receive).
    pub num_buffers: U16,
}

/// Bytes of [`NetHdr`].
pub const NET_HDR_SIZE: usize = 12;

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<NetConfig>() == 24);
    assert!(offset_of!(NetConfig, status) == 6);
    assert!(offset_of!(NetConfig, mtu) == 10);
    assert!(offset_of!(NetConfig, speed) == 12);
    assert!(offset_of!(NetConfig, duplex) == 16);
    assert!(offset_of!(NetConfig, supported_hash_types) == 20);
    assert!(size_of::<NetHdr>() == NET_HDR_SIZE);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::config_from_bytes;

    #[test]
    fn parses_golden_config_bytes() {
        let bytes = [0x52, 0x54, 0, 0x12, 0x34, 0x56, 1, 0, 2, 0, 0xdc, 0x05, 0x10, 0x27, 0, 0, 1];
        let c: NetConfig = config_from_bytes(&bytes);
        assert_eq!(c.mac, [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(c.status.get(), link::UP);
        assert_eq!(c.max_virtqueue_pairs.get(), 2);
        assert_eq!(c.mtu.get(), 1500);
        assert_eq!(c.speed.get(), 10000);
        assert_eq!(c.duplex, 1);
        assert_eq!(c.supported_hash_types.get(), 0);
    }

    #[test]
    fn header_bytes() {
        let h = NetHdr { num_buffers: 1.into(), hdr_len: 0x3412.into(), ..Default::default() };
        assert_eq!(h.as_bytes(), &[0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn feature_numbers() {
        assert_eq!(features::MAC.bit(), 5);
        assert_eq!(features::MRG_RXBUF.bit(), 15);
        assert_eq!(features::STATUS.bit(), 16);
        assert_eq!(features::CTRL_VQ.bit(), 17);
        assert_eq!(features::MQ.bit(), 22);
        assert_eq!(features::HASH_REPORT.bit(), 57);
        assert_eq!(features::SPEED_DUPLEX.bit(), 63);
    }
}
