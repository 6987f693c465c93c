//! The virtio-mmio register map (VIRTIO 1.2 §4.2.2, and §4.2.4 for the
//! legacy version 1 interface), device status and interrupt bits.
//!
//! All registers are 32 bits wide and little-endian; the device config
//! space starts at [`CONFIG`].

/// "virt" as a little-endian word (0x74726976).
pub const MAGIC_VALUE: u32 = 0x7472_6976;

/// Register offsets.
pub mod reg {
    /// Magic value (R).
    pub const MAGIC: usize = 0x000;
    /// Version: 1 legacy, 2 modern (R).
    pub const VERSION: usize = 0x004;
    /// Device id; 0 = no device (R).
    pub const DEVICE_ID: usize = 0x008;
    /// Vendor id (R).
    pub const VENDOR_ID: usize = 0x00c;
    /// Device features, 32 bits selected by DEVICE_FEATURES_SEL (R).
    pub const DEVICE_FEATURES: usize = 0x010;
    /// Device feature word select (W).
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    /// Driver features (W).
    pub const DRIVER_FEATURES: usize = 0x020;
    /// Driver feature word select (W).
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    /// Legacy only: guest page size for QUEUE_PFN (W).
    pub const GUEST_PAGE_SIZE: usize = 0x028;
    /// Queue select (W).
    pub const QUEUE_SEL: usize = 0x030;
    /// Largest queue size the device takes; 0 = no queue (R).
    pub const QUEUE_NUM_MAX: usize = 0x034;
    /// Queue size (W).
    pub const QUEUE_NUM: usize = 0x038;
    /// Legacy only: used-ring alignment (W).
    pub const QUEUE_ALIGN: usize = 0x03c;
    /// Legacy only: queue page frame number, 0 = stop (RW).
    pub const QUEUE_PFN: usize = 0x040;
    /// Modern only: queue ready (RW).
    pub const QUEUE_READY: usize = 0x044;
    /// Queue notifier: write the queue index (W).
    pub const QUEUE_NOTIFY: usize = 0x050;
    /// Interrupt status, [`super::interrupt`] bits (R).
    pub const INTERRUPT_STATUS: usize = 0x060;
    /// Interrupt acknowledge (W).
    pub const INTERRUPT_ACK: usize = 0x064;
    /// Device status, [`super::DeviceStatus`] (RW).
    pub const STATUS: usize = 0x070;
    /// Modern only: descriptor table address, low 32 bits (W).
    pub const QUEUE_DESC_LOW: usize = 0x080;
    /// Modern only: descriptor table address, high 32 bits (W).
    pub const QUEUE_DESC_HIGH: usize = 0x084;
    /// Modern only: available ring address, low (W).
    pub const QUEUE_DRIVER_LOW: usize = 0x090;
    /// Modern only: available ring address, high (W).
    pub const QUEUE_DRIVER_HIGH: usize = 0x094;
    /// Modern only: used ring address, low (W).
    pub const QUEUE_DEVICE_LOW: usize = 0x0a0;
    /// Modern only: used ring address, high (W).
    pub const QUEUE_DEVICE_HIGH: usize = 0x0a4;
    /// Modern only: shared memory region select (W).
    pub const SHM_SEL: usize = 0x0ac;
    /// Modern only: shared memory length, low (R).
    pub const SHM_LEN_LOW: usize = 0x0b0;
    /// Modern only: shared memory length, high (R).
    pub const SHM_LEN_HIGH: usize = 0x0b4;
    /// Modern only: shared memory base, low (R).
    pub const SHM_BASE_LOW: usize = 0x0b8;
    /// Modern only: shared memory base, high (R).
    pub const SHM_BASE_HIGH: usize = 0x0bc;
    /// Modern only: queue reset (RW, RING_RESET).
    pub const QUEUE_RESET: usize = 0x0c0;
    /// Modern only: config generation (R).
    pub const CONFIG_GENERATION: usize = 0x0fc;
    /// Start of the device config space.
    pub const CONFIG: usize = 0x100;
}

pub use reg::CONFIG;

/// Register-block version.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// Version 1: the legacy interface (QUEUE_PFN, GUEST_PAGE_SIZE, QUEUE_ALIGN).
    Legacy,
    /// Version 2: VIRTIO 1.x (QUEUE_READY, the 64-bit queue addresses).
    Modern,
}

impl Version {
    /// The version register's value, if it names one.
    pub const fn from_register(v: u32) -> Option<Version> {
        match v {
            1 => Some(Version::Legacy),
            2 => Some(Version::Modern),
            _ => None,
        }
    }
}

/// Whether `offset` is a register (not config space) of `version`'s map.
/// A transport may use this to refuse a driver's request for a register
/// the device does not have.
pub const fn is_register(version: Version, offset: usize) -> bool {
    use reg::*;
    match offset {
        MAGIC | VERSION | DEVICE_ID | VENDOR_ID | DEVICE_FEATURES | DEVICE_FEATURES_SEL | DRIVER_FEATURES
        | DRIVER_FEATURES_SEL | QUEUE_SEL | QUEUE_NUM_MAX | QUEUE_NUM | QUEUE_NOTIFY | INTERRUPT_STATUS
        | INTERRUPT_ACK | STATUS => true,
        GUEST_PAGE_SIZE | QUEUE_ALIGN | QUEUE_PFN => matches!(version, Version::Legacy),
        QUEUE_READY | QUEUE_DESC_LOW | QUEUE_DESC_HIGH | QUEUE_DRIVER_LOW | QUEUE_DRIVER_HIGH | QUEUE_DEVICE_LOW
        | QUEUE_DEVICE_HIGH | SHM_SEL | SHM_LEN_LOW | SHM_LEN_HIGH | SHM_BASE_LOW | SHM_BASE_HIGH | QUEUE_RESET
        | CONFIG_GENERATION => {
            matches!(version, Version::Modern)
        }
        _ => false,
    }
}

/// InterruptStatus / InterruptACK bits (VIRTIO 1.2 §4.2.2).
pub mod interrupt {
    /// A used buffer was added to a queue.
    pub const USED_BUFFER: u32 = 1;
    /// The config space changed.
    pub const CONFIG_CHANGE: u32 = 2;
}

/// Device status bits (VIRTIO 1.2 §2.1), shared by every transport.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceStatus(pub u8);

impl DeviceStatus {
    /// Reset (writing 0).
    pub const RESET: DeviceStatus = DeviceStatus(0);
    /// The guest found the device.
    pub const ACKNOWLEDGE: DeviceStatus = DeviceStatus(1);
    /// The guest knows how to drive it.
    pub const DRIVER: DeviceStatus = DeviceStatus(2);
    /// The driver is ready.
    pub const DRIVER_OK: DeviceStatus = DeviceStatus(4);
    /// Feature negotiation is complete.
    pub const FEATURES_OK: DeviceStatus = DeviceStatus(8);
    /// The device hit an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: DeviceStatus = DeviceStatus(64);
    /// The guest gave up on the device.
    pub const FAILED: DeviceStatus = DeviceStatus(128);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: DeviceStatus) -> bool {
        self.0 & other.0 == other.0
    }
    /// Both sets of bits.
    pub const fn union(self, other: DeviceStatus) -> DeviceStatus {
        DeviceStatus(self.0 | other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_spec() {
        assert_eq!(reg::GUEST_PAGE_SIZE, 0x028);
        assert_eq!(reg::QUEUE_ALIGN, 0x03c);
        assert_eq!(reg::QUEUE_PFN, 0x040);
        assert_eq!(reg::QUEUE_DESC_LOW, 0x080);
        assert_eq!(reg::QUEUE_DEVICE_HIGH, 0x0a4);
        assert_eq!(reg::CONFIG_GENERATION, 0x0fc);
        assert_eq!(&MAGIC_VALUE.to_le_bytes(), b"virt");
    }

    #[test]
    fn registers_by_version() {
        assert!(is_register(Version::Legacy, reg::QUEUE_PFN));
        assert!(!is_register(Version::Modern, reg::QUEUE_PFN));
        assert!(is_register(Version::Modern, reg::QUEUE_DESC_LOW));
        assert!(!is_register(Version::Legacy, reg::QUEUE_READY));
        assert!(!is_register(Version::Modern, 0x018));
        assert!(!is_register(Version::Modern, CONFIG));
        assert_eq!(Version::from_register(3), None);
    }

    #[test]
    fn status_bits() {
        let s = DeviceStatus::ACKNOWLEDGE.union(DeviceStatus::DRIVER).union(DeviceStatus::FEATURES_OK);
        assert_eq!(s.0, 11);
        assert!(s.contains(DeviceStatus::DRIVER) && !s.contains(DeviceStatus::DRIVER_OK));
        assert_eq!((DeviceStatus::DEVICE_NEEDS_RESET.0, DeviceStatus::FAILED.0), (64, 128));
    }
}
