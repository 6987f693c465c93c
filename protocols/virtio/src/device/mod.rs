//! Device types (VIRTIO 1.2 §5) and per-device feature bits, config-space
//! layouts and request headers.

pub mod blk;
pub mod console;
pub mod gpu;
pub mod input;
pub mod iommu;
pub mod net;
pub mod other;
pub mod rpmsg;
pub mod sound;
pub mod vsock;

/// A VirtIO device id (VIRTIO 1.2 §5). Unknown ids are kept as they are so
/// a bus can report them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u32);

impl DeviceId {
    /// No device (an empty virtio-mmio slot reads 0).
    pub const INVALID: DeviceId = DeviceId(0);
    /// Network card.
    pub const NET: DeviceId = DeviceId(1);
    /// Block device.
    pub const BLK: DeviceId = DeviceId(2);
    /// Console.
    pub const CONSOLE: DeviceId = DeviceId(3);
    /// Entropy source.
    pub const RNG: DeviceId = DeviceId(4);
    /// Traditional memory balloon.
    pub const BALLOON: DeviceId = DeviceId(5);
    /// rpmsg.
    pub const RPMSG: DeviceId = DeviceId(7);
    /// SCSI host.
    pub const SCSI: DeviceId = DeviceId(8);
    /// 9P transport.
    pub const P9: DeviceId = DeviceId(9);
    /// GPU.
    pub const GPU: DeviceId = DeviceId(16);
    /// Input.
    pub const INPUT: DeviceId = DeviceId(18);
    /// Socket (vsock).
    pub const VSOCK: DeviceId = DeviceId(19);
    /// Crypto.
    pub const CRYPTO: DeviceId = DeviceId(20);
    /// IOMMU.
    pub const IOMMU: DeviceId = DeviceId(23);
    /// Sound.
    pub const SOUND: DeviceId = DeviceId(25);
    /// File system (virtio-fs).
    pub const FS: DeviceId = DeviceId(26);
    /// RPMB.
    pub const RPMB: DeviceId = DeviceId(28);

    /// Every id this crate names, for tables and tests.
    pub const KNOWN: [DeviceId; 16] = [
        Self::NET,
        Self::BLK,
        Self::CONSOLE,
        Self::RNG,
        Self::BALLOON,
        Self::RPMSG,
        Self::SCSI,
        Self::P9,
        Self::GPU,
        Self::INPUT,
        Self::VSOCK,
        Self::CRYPTO,
        Self::IOMMU,
        Self::SOUND,
        Self::FS,
        Self::RPMB,
    ];

    /// A short name for logs ("blk", "net", ...; "unknown" otherwise).
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "invalid",
            1 => "net",
            2 => "blk",
            3 => "console",
            4 => "rng",
            5 => "balloon",
            7 => "rpmsg",
            8 => "scsi",
            9 => "9p",
            16 => "gpu",
            18 => "input",
            19 => "vsock",
            20 => "crypto",
            23 => "iommu",
            25 => "sound",
            26 => "fs",
            28 => "rpmb",
            _ => "unknown",
        }
    }

    /// Whether this crate names the id.
    pub const fn is_known(self) -> bool {
        !matches!(self.name().as_bytes(), b"unknown" | b"invalid")
    }
}

impl core::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

/// A config-space structure from the bytes a transport read: missing
/// trailing bytes (an older or smaller device) read as zero, extra bytes
/// are ignored. Fields are only meaningful when their feature bit was
/// negotiated (VIRTIO 1.2 §2.5).
pub fn config_from_bytes<T>(bytes: &[u8]) -> T
where
    T: zerocopy::FromBytes + zerocopy::IntoBytes,
{
    let mut value = T::new_zeroed();
    let dst = value.as_mut_bytes();
    let n = dst.len().min(bytes.len());
    dst[..n].copy_from_slice(&bytes[..n]);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_spec() {
        let want = [
            ("net", 1),
            ("blk", 2),
            ("console", 3),
            ("rng", 4),
            ("balloon", 5),
            ("rpmsg", 7),
            ("scsi", 8),
            ("9p", 9),
            ("gpu", 16),
            ("input", 18),
            ("vsock", 19),
            ("crypto", 20),
            ("iommu", 23),
            ("sound", 25),
            ("fs", 26),
            ("rpmb", 28),
        ];
        for (id, (name, n)) in DeviceId::KNOWN.iter().zip(want) {
            assert_eq!((id.name(), id.0), (name, n));
            assert!(id.is_known());
        }
        assert_eq!(DeviceId(6).name(), "unknown");
        assert!(!DeviceId(6).is_known() && !DeviceId::INVALID.is_known());
    }
}
