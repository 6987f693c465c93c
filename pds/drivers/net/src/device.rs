//! What the driver asks of a virtio-net device (VIRTIO 1.2 §5.1) and
//! what its config space says. The framework brings the device up with
//! these features and queues.
//!
//! Features asked for: MAC and STATUS (config fields), EVENT_IDX
//! (interrupt and kick suppression) and INDIRECT_DESC (so every
//! two-descriptor chain takes one ring slot and a queue of 256 holds 256
//! frames). No offloads, no MRG_RXBUF, no control queue: one receive
//! queue (0) and one transmit queue (1).
//!
//! The header in front of every frame (§5.1.6) is 12 bytes with
//! VIRTIO_F_VERSION_1 (a modern device always has `num_buffers`) or with
//! MRG_RXBUF, and 10 bytes on a legacy device without MRG_RXBUF (which
//! this driver never asks for). Either way it travels in its own
//! descriptor from the driver's DMA region, so the client's buffers stay
//! plain frames; that is also the one layout a legacy device without
//! VIRTIO_F_ANY_LAYOUT accepts (§5.1.6.6, legacy framing).

use sevio_driver_core::init::CONFIG_ATTEMPTS;
use sevio_driver_core::{QueueParams, QueueSpec, Transport};
use sevio_transport_protocol::config::read_config;
use sevio_virtio::Features;
use sevio_virtio::device::net::{NET_HDR_SIZE, features as net, link};
use sevio_virtio::features::general;

/// The receive queue's index.
pub const RX_QUEUE: u16 = 0;
/// The transmit queue's index.
pub const TX_QUEUE: u16 = 1;
/// The largest virtqueue size used (QEMU's default for virtio-net).
pub const VQ_SIZE: usize = 256;
/// Bytes of config space read: `mac[6]`, `status u16`.
pub const CONFIG_BYTES: usize = 8;
/// Header length of a legacy device without MRG_RXBUF.
pub const LEGACY_HDR_SIZE: u32 = 10;
/// Stride of the rx header slots in the DMA region.
pub const HDR_STRIDE: usize = 16;

/// Queue sizing: up to 256, at least 8, two descriptors per indirect table.
pub const QUEUE_PARAMS: QueueParams = QueueParams { max_size: VQ_SIZE as u16, min_size: 8, indirect_descs: 2 };

/// The two queues, in the order the framework sets them up (VIRTIO 1.2
/// §5.1.2: receiveq1 0, transmitq1 1).
pub const QUEUES: [QueueSpec; 2] =
    [QueueSpec { index: RX_QUEUE, params: QUEUE_PARAMS }, QueueSpec { index: TX_QUEUE, params: QUEUE_PARAMS }];

/// The feature bits the driver asks for (VERSION_1 is the framework's:
/// required of a modern device, never asked of a legacy one).
pub fn wanted() -> Features {
    Features::EMPTY.with(net::MAC).with(net::STATUS).with(general::EVENT_IDX).with(general::INDIRECT_DESC)
}

/// The header length for the negotiated `features` (VIRTIO 1.2 §5.1.6).
pub fn header_len(features: Features) -> u32 {
    if features.has(general::VERSION_1) || features.has(net::MRG_RXBUF) { NET_HDR_SIZE as u32 } else { LEGACY_HDR_SIZE }
}

/// Link state from the `status` field.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// VIRTIO_NET_S_LINK_UP set.
    Up,
    /// VIRTIO_NET_S_LINK_UP clear.
    Down,
    /// STATUS not negotiated: the driver assumes the link is up (§5.1.4).
    Unknown,
}

/// What config space says (fields believed only with their feature).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NetFacts {
    /// The device's MAC address, if MAC was negotiated.
    pub mac: Option<[u8; 6]>,
    /// The link.
    pub link: Link,
}

impl NetFacts {
    /// Parse the first [`CONFIG_BYTES`] of config space under `features`.
    pub fn parse(bytes: &[u8; CONFIG_BYTES], features: Features) -> NetFacts {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&bytes[..6]);
        let status = u16::from_le_bytes([bytes[6], bytes[7]]);
        let link = match (features.has(net::STATUS), status & link::UP != 0) {
            (false, _) => Link::Unknown,
            (true, true) => Link::Up,
            (true, false) => Link::Down,
        };
        NetFacts { mac: features.has(net::MAC).then_some(mac), link }
    }
}

impl Link {
    /// As the log says it.
    pub fn name(self) -> &'static str {
        match self {
            Link::Up => "up",
            Link::Down => "down",
            Link::Unknown => "unknown (assumed up)",
        }
    }
}

/// A MAC address as `52:54:00:12:34:56`.
pub struct MacDisplay(pub [u8; 6]);

impl core::fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// Read the config fields the driver uses from a live device, as one
/// generation-consistent snapshot; `None` if the transport or device
/// would not give one.
pub fn read_facts<T: Transport + ?Sized>(t: &mut T, features: Features) -> Option<NetFacts> {
    let mut bytes = [0u8; CONFIG_BYTES];
    read_config(&mut |r| Ok::<_, core::convert::Infallible>(t.call(r)), 0, &mut bytes, CONFIG_ATTEMPTS).ok()?;
    Some(NetFacts::parse(&bytes, features))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_follows_the_features() {
        assert_eq!(header_len(Features::EMPTY.with(general::VERSION_1)), 12);
        assert_eq!(header_len(Features::EMPTY.with(net::MRG_RXBUF)), 12, "legacy with MRG_RXBUF");
        assert_eq!(header_len(Features::EMPTY), 10, "legacy");
    }

    #[test]
    fn config_fields_count_only_with_their_feature() {
        let bytes = [0x52, 0x54, 0, 0xab, 0xcd, 0xef, 1, 0];
        let all = Features::EMPTY.with(net::MAC).with(net::STATUS);
        assert_eq!(
            NetFacts::parse(&bytes, all),
            NetFacts { mac: Some([0x52, 0x54, 0, 0xab, 0xcd, 0xef]), link: Link::Up }
        );
        assert_eq!(NetFacts::parse(&bytes, Features::EMPTY), NetFacts { mac: None, link: Link::Unknown });
        let down = [0, 0, 0, 0, 0, 0, 2, 0];
        assert_eq!(NetFacts::parse(&down, all).link, Link::Down, "ANNOUNCE alone is not UP");
        assert_eq!(std::format!("{}", MacDisplay([0x52, 0x54, 0, 0xab, 0xcd, 0xef])), "52:54:00:ab:cd:ef");
    }
}
