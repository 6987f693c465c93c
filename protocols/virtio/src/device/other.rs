//! Feature bits of the devices sevio has no driver for yet (VIRTIO 1.2 §5).

/// Entropy device (§5.4): no device-specific feature bits.
pub mod rng {}

/// Input device (§5.8): no device-specific feature bits; the config
/// space is selected by `select` / `subsel`.
pub mod input {
    /// `select` values (§5.8.4).
    pub mod cfg {
        /// Nothing selected.
        pub const UNSET: u8 = 0x00;
        /// Device name.
        pub const ID_NAME: u8 = 0x01;
        /// Serial number.
        pub const ID_SERIAL: u8 = 0x02;
        /// Device ids.
        pub const ID_DEVIDS: u8 = 0x03;
        /// Input properties.
        pub const PROP_BITS: u8 = 0x10;
        /// Event type bitmap (`subsel` = type).
        pub const EV_BITS: u8 = 0x11;
        /// Absolute axis info (`subsel` = axis).
        pub const ABS_INFO: u8 = 0x12;
    }
}

/// GPU device (§5.7.3).
pub mod gpu {
    use crate::features::FeatureBit;
    /// 3D mode (virgl).
    pub const VIRGL: FeatureBit = FeatureBit::of(0);
    /// EDID.
    pub const EDID: FeatureBit = FeatureBit::of(1);
    /// Resource UUIDs.
    pub const RESOURCE_UUID: FeatureBit = FeatureBit::of(2);
    /// Blob resources.
    pub const RESOURCE_BLOB: FeatureBit = FeatureBit::of(3);
    /// Multiple context types.
    pub const CONTEXT_INIT: FeatureBit = FeatureBit::of(4);
}

/// Socket device (§5.10.3).
pub mod vsock {
    use crate::features::FeatureBit;
    /// Stream sockets.
    pub const STREAM: FeatureBit = FeatureBit::of(0);
    /// Seqpacket sockets.
    pub const SEQPACKET: FeatureBit = FeatureBit::of(1);
}

/// 9P transport (virtio-9p; mount tag in config).
pub mod p9 {
    use crate::features::FeatureBit;
    /// The mount tag is in the config space.
    pub const MOUNT_TAG: FeatureBit = FeatureBit::of(0);
}

/// Sound device (§5.14.3): VIRTIO 1.2 defines no feature bits; VIRTIO 1.3
/// adds one.
pub mod sound {
    use crate::features::FeatureBit;
    /// Control elements (VIRTIO 1.3; not in 1.2).
    pub const CTLS: FeatureBit = FeatureBit::of(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_numbers() {
        assert_eq!((gpu::VIRGL.bit(), gpu::EDID.bit(), gpu::CONTEXT_INIT.bit()), (0, 1, 4));
        assert_eq!((vsock::STREAM.bit(), vsock::SEQPACKET.bit()), (0, 1));
        assert_eq!(p9::MOUNT_TAG.bit(), 0);
        assert_eq!(input::cfg::ABS_INFO, 0x12);
    }
}
