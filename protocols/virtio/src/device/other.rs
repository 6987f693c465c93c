//! Feature bits of the devices sevio has no driver for yet (VIRTIO 1.2 §5).

/// Entropy device (§5.4): no device-specific feature bits.
pub mod rng {}

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
        assert_eq!(p9::MOUNT_TAG.bit(), 0);
    }
}
