//! Feature bits (VIRTIO 1.2 §2.2 and §6) and the negotiated set.
//!
//! Bits 0-23 and 50-127 are device-specific (their constants live in the
//! per-device modules: [`crate::device::blk::features`] etc.); bits 24-41
//! are reserved for the queue and transport ([`general`]).

/// One feature bit number (0..=63).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeatureBit(u8);

impl FeatureBit {
    /// Bit `n`; `None` for 64 and above (this crate handles 64 feature
    /// bits, which covers everything VIRTIO 1.2 defines).
    pub const fn new(n: u8) -> Option<Self> {
        if n < 64 { Some(FeatureBit(n)) } else { None }
    }
    pub(crate) const fn of(n: u8) -> Self {
        FeatureBit(n)
    }
    /// The bit number.
    pub const fn bit(self) -> u8 {
        self.0
    }
    /// The bit as a mask.
    pub const fn mask(self) -> u64 {
        1u64 << self.0
    }
}

/// A set of feature bits (offered, requested or negotiated).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Features(pub u64);

impl Features {
    /// No features.
    pub const EMPTY: Features = Features(0);
    /// Whether `bit` is in the set.
    pub const fn has(self, bit: FeatureBit) -> bool {
        self.0 & bit.mask() != 0
    }
    /// The set with `bit` added.
    pub const fn with(self, bit: FeatureBit) -> Features {
        Features(self.0 | bit.mask())
    }
    /// The set with `bit` removed.
    pub const fn without(self, bit: FeatureBit) -> Features {
        Features(self.0 & !bit.mask())
    }
    /// Bits in both sets (what a driver may accept of an offer).
    pub const fn intersect(self, other: Features) -> Features {
        Features(self.0 & other.0)
    }
    /// Whether every bit of `other` is in the set.
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }
    /// Bits 0..32 (feature select 0).
    pub const fn low(self) -> u32 {
        self.0 as u32
    }
    /// Bits 32..64 (feature select 1).
    pub const fn high(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// Join two 32-bit halves.
    pub const fn from_halves(low: u32, high: u32) -> Features {
        Features(low as u64 | (high as u64) << 32)
    }
}

/// Device-independent feature bits (VIRTIO 1.2 §6).
pub mod general {
    use super::FeatureBit;
    /// Legacy: notify when the available ring empties.
    pub const NOTIFY_ON_EMPTY: FeatureBit = FeatureBit::of(24);
    /// Legacy: any message framing.
    pub const ANY_LAYOUT: FeatureBit = FeatureBit::of(27);
    /// VIRTQ_DESC_F_INDIRECT may be used (§2.7.5.3).
    pub const INDIRECT_DESC: FeatureBit = FeatureBit::of(28);
    /// `used_event` / `avail_event` notification suppression (§2.7.7, §2.7.10).
    pub const EVENT_IDX: FeatureBit = FeatureBit::of(29);
    /// Compliance with VIRTIO 1.x (non-legacy).
    pub const VERSION_1: FeatureBit = FeatureBit::of(32);
    /// The device is behind an IOMMU / platform address translation.
    pub const ACCESS_PLATFORM: FeatureBit = FeatureBit::of(33);
    /// Packed virtqueue layout (§2.8).
    pub const RING_PACKED: FeatureBit = FeatureBit::of(34);
    /// Buffers are used in the order they were made available.
    pub const IN_ORDER: FeatureBit = FeatureBit::of(35);
    /// Memory accesses need platform (not SMP) ordering.
    pub const ORDER_PLATFORM: FeatureBit = FeatureBit::of(36);
    /// Single-root I/O virtualisation.
    pub const SR_IOV: FeatureBit = FeatureBit::of(37);
    /// The driver passes extra data in notifications.
    pub const NOTIFICATION_DATA: FeatureBit = FeatureBit::of(38);
    /// Device-supplied notification config data.
    pub const NOTIF_CONFIG_DATA: FeatureBit = FeatureBit::of(39);
    /// Individual queues can be reset.
    pub const RING_RESET: FeatureBit = FeatureBit::of(40);
}

/// Name of a device-independent feature bit, for logs.
pub const fn general_name(bit: FeatureBit) -> Option<&'static str> {
    Some(match bit.0 {
        24 => "NOTIFY_ON_EMPTY",
        27 => "ANY_LAYOUT",
        28 => "INDIRECT_DESC",
        29 => "EVENT_IDX",
        32 => "VERSION_1",
        33 => "ACCESS_PLATFORM",
        34 => "RING_PACKED",
        35 => "IN_ORDER",
        36 => "ORDER_PLATFORM",
        37 => "SR_IOV",
        38 => "NOTIFICATION_DATA",
        39 => "NOTIF_CONFIG_DATA",
        40 => "RING_RESET",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_bits_have_spec_numbers() {
        let want = [
            (general::INDIRECT_DESC, 28),
            (general::EVENT_IDX, 29),
            (general::VERSION_1, 32),
            (general::ACCESS_PLATFORM, 33),
            (general::RING_PACKED, 34),
            (general::IN_ORDER, 35),
            (general::ORDER_PLATFORM, 36),
            (general::NOTIFICATION_DATA, 38),
            (general::RING_RESET, 40),
        ];
        for (b, n) in want {
            assert_eq!(b.bit(), n);
            assert!(general_name(b).is_some());
        }
        assert_eq!(general_name(FeatureBit::new(3).unwrap()), None);
    }

    #[test]
    fn set_operations() {
        let f = Features::EMPTY.with(general::VERSION_1).with(general::EVENT_IDX);
        assert!(f.has(general::VERSION_1) && !f.has(general::RING_PACKED));
        assert_eq!(f.low(), 1 << 29);
        assert_eq!(f.high(), 1);
        assert_eq!(Features::from_halves(f.low(), f.high()), f);
        assert!(!f.without(general::VERSION_1).has(general::VERSION_1));
        assert!(f.contains(Features::EMPTY.with(general::EVENT_IDX)));
        assert_eq!(f.intersect(Features(1 << 29)), Features(1 << 29));
        assert_eq!(FeatureBit::new(64), None);
    }
}
