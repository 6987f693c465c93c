//! One virtio-mmio register block: probing, feature negotiation, queue
//! setup, config space, notify and interrupt acknowledge (VIRTIO 1.2
//! §4.2.2 for version 2, §4.2.4 for the legacy version 1).
//!
//! Everything here is a register sequence over [`Registers`], so it is
//! tested against a fake register block and runs unchanged on seL4 (a
//! device mapping) and under sim (registers proxied to QEMU).

use sevio_virtio::mmio::{DeviceStatus, MAGIC_VALUE, Version, reg};
use sevio_virtio::{RingFormat, RingInterface, RingPlacement};

/// A 32-bit register file (one slot's 0x200 bytes).
pub trait Registers {
    /// Read the 32-bit register at `offset`.
    fn read32(&self, offset: usize) -> u32;
    /// Write the 32-bit register at `offset`.
    fn write32(&self, offset: usize, value: u32);
    /// Read a byte of config space (offsets from 0x100 up).
    fn read8(&self, offset: usize) -> u8;
    /// Write a byte of config space.
    fn write8(&self, offset: usize, value: u8);
}

impl Registers for sevio_runtime::mmio::DeviceRegion {
    fn read32(&self, offset: usize) -> u32 {
        sevio_runtime::mmio::DeviceRegion::read32(self, offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        sevio_runtime::mmio::DeviceRegion::write32(self, offset, value)
    }
    fn read8(&self, offset: usize) -> u8 {
        sevio_runtime::mmio::DeviceRegion::read8(self, offset)
    }
    fn write8(&self, offset: usize, value: u8) {
        sevio_runtime::mmio::DeviceRegion::write8(self, offset, value)
    }
}

/// Bytes of a slot's register block; config space is what follows 0x100.
pub const SLOT_SIZE: usize = 0x200;
/// Bytes of config space a slot can have.
pub const CONFIG_SIZE: usize = SLOT_SIZE - reg::CONFIG;
/// Page size the legacy interface is told (GuestPageSize) and aligns to.
pub const LEGACY_PAGE: u64 = 4096;

/// What a probe found in a slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Register interface version.
    pub version: Version,
    /// Device id (never 0: 0 means an empty slot).
    pub device_id: u32,
    /// Vendor id.
    pub vendor_id: u32,
}

use sevio_transport_core::DeviceError as SlotError;

/// One slot's registers and what the probe found there.
pub struct Slot<R> {
    regs: R,
    version: Version,
    probe: Probe,
}

impl<R: Registers> Slot<R> {
    /// Probe `regs`: `None` for no device (bad magic, unknown version, or
    /// device id 0, as QEMU shows an empty slot).
    pub fn probe(regs: R) -> Option<(Slot<R>, Probe)> {
        if regs.read32(reg::MAGIC) != MAGIC_VALUE {
            return None;
        }
        let version = Version::from_register(regs.read32(reg::VERSION))?;
        let device_id = regs.read32(reg::DEVICE_ID);
        if device_id == 0 {
            return None;
        }
        let vendor_id = regs.read32(reg::VENDOR_ID);
        let probe = Probe { version, device_id, vendor_id };
        Some((Slot { regs, version, probe }, probe))
    }

    /// The device status byte.
    pub fn status_byte(&self) -> u8 {
        self.status().0
    }

    fn status(&self) -> DeviceStatus {
        DeviceStatus(self.regs.read32(reg::STATUS) as u8)
    }

    fn add_status(&self, bits: DeviceStatus) {
        let s = self.status().union(bits);
        self.regs.write32(reg::STATUS, s.0 as u32);
    }

    /// Reset the device (VIRTIO 1.2 §4.2.3.1: write 0 to Status, then for
    /// version 2 wait until it reads 0) and acknowledge it: ACKNOWLEDGE |
    /// DRIVER, ready for feature negotiation.
    pub fn reset_and_acknowledge(&self) {
        self.reset();
        self.add_status(DeviceStatus::ACKNOWLEDGE);
        self.add_status(DeviceStatus::DRIVER);
    }

    /// Reset the device and leave it reset.
    pub fn reset(&self) {
        self.regs.write32(reg::STATUS, 0);
        if self.version == Version::Modern {
            // "the driver SHOULD wait for a read of device_status to return
            // 0 before reinitializing" — bounded, a stuck device is not our
            // reason to hang.
            for _ in 0..1000 {
                if self.regs.read32(reg::STATUS) == 0 {
                    break;
                }
            }
        }
    }

    /// The device's feature bits (legacy devices have only 32).
    pub fn device_features(&self) -> u64 {
        self.regs.write32(reg::DEVICE_FEATURES_SEL, 0);
        let low = self.regs.read32(reg::DEVICE_FEATURES) as u64;
        if self.version == Version::Legacy {
            return low;
        }
        self.regs.write32(reg::DEVICE_FEATURES_SEL, 1);
        let high = self.regs.read32(reg::DEVICE_FEATURES) as u64;
        (high << 32) | low
    }

    /// Write the driver's features, and for version 2 set FEATURES_OK and
    /// report whether the device kept it (VIRTIO 1.2 §3.1.1 step 5-6).
    /// Only features the device offered are written.
    pub fn set_driver_features(&self, wanted: u64) -> bool {
        let features = wanted & self.device_features();
        self.regs.write32(reg::DRIVER_FEATURES_SEL, 0);
        self.regs.write32(reg::DRIVER_FEATURES, features as u32);
        if self.version == Version::Legacy {
            // Legacy has no FEATURES_OK handshake and no feature bits
            // above 31.
            return features >> 32 == 0 || wanted >> 32 == 0;
        }
        self.regs.write32(reg::DRIVER_FEATURES_SEL, 1);
        self.regs.write32(reg::DRIVER_FEATURES, (features >> 32) as u32);
        self.add_status(DeviceStatus::FEATURES_OK);
        self.status().contains(DeviceStatus::FEATURES_OK)
    }

    /// QueueNumMax of queue `index`; 0 when the queue does not exist.
    pub fn queue_max(&self, index: u16) -> u16 {
        self.regs.write32(reg::QUEUE_SEL, index as u32);
        self.regs.read32(reg::QUEUE_NUM_MAX).min(u16::MAX as u32) as u16
    }

    /// Give queue `index` its size and addresses and make it live.
    ///
    /// Version 2 takes three addresses (§4.2.3.2). Version 1 takes one page
    /// frame, so the queue must be in the legacy contiguous layout with
    /// [`LEGACY_PAGE`] as Queue Align. Both are checked by
    /// [`RingPlacement::check`], not assumed.
    pub fn setup_queue(&self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), SlotError> {
        let max = self.queue_max(index);
        match self.version {
            Version::Modern => {
                ring.check_format(format, max, RingInterface::Modern)?;
                if self.regs.read32(reg::QUEUE_READY) != 0 {
                    return Err(SlotError::QueueInUse);
                }
                self.regs.write32(reg::QUEUE_NUM, ring.size as u32);
                for (low, value) in [
                    (reg::QUEUE_DESC_LOW, ring.desc),
                    (reg::QUEUE_DRIVER_LOW, ring.avail),
                    (reg::QUEUE_DEVICE_LOW, ring.used),
                ] {
                    self.regs.write32(low, value as u32);
                    self.regs.write32(low + 4, (value >> 32) as u32);
                }
                self.regs.write32(reg::QUEUE_READY, 1);
            }
            Version::Legacy => {
                ring.check_format(format, max, RingInterface::Legacy { queue_align: LEGACY_PAGE })?;
                let pfn = ring.legacy_page_frame(LEGACY_PAGE)?;
                if self.regs.read32(reg::QUEUE_PFN) != 0 {
                    return Err(SlotError::QueueInUse);
                }
                self.regs.write32(reg::GUEST_PAGE_SIZE, LEGACY_PAGE as u32);
                self.regs.write32(reg::QUEUE_NUM, ring.size as u32);
                self.regs.write32(reg::QUEUE_ALIGN, LEGACY_PAGE as u32);
                self.regs.write32(reg::QUEUE_PFN, pfn);
            }
        }
        Ok(())
    }

    /// Read `width` bytes of config space at `offset`, with the config
    /// generation the value belongs to (0 for legacy, which has none).
    /// Version 2 rereads until the generation is stable (§4.2.2.1:
    /// "drivers MUST NOT assume reads from fields greater than 32 bits
    /// wide are atomic, nor are reads from multiple fields").
    pub fn config_read(&self, offset: usize, width: usize) -> Result<(u64, u32), SlotError> {
        check_config_access(offset, width)?;
        for _ in 0..16 {
            let before = self.generation();
            let mut value = 0u64;
            for i in 0..width {
                value |= (self.regs.read8(reg::CONFIG + offset + i) as u64) << (8 * i);
            }
            if self.generation() == before {
                return Ok((value, before));
            }
        }
        Err(SlotError::ConfigUnstable)
    }

    /// Write `width` bytes of config space at `offset`.
    pub fn config_write(&self, offset: usize, width: usize, value: u64) -> Result<(), SlotError> {
        check_config_access(offset, width)?;
        for i in 0..width {
            self.regs.write8(reg::CONFIG + offset + i, (value >> (8 * i)) as u8);
        }
        Ok(())
    }

    fn generation(&self) -> u32 {
        match self.version {
            Version::Modern => self.regs.read32(reg::CONFIG_GENERATION),
            Version::Legacy => 0,
        }
    }

    /// Set DRIVER_OK: the device is live (§3.1.1 step 8). Returns whether
    /// the device accepted it (it did not fail or ask for a reset).
    pub fn driver_ok(&self) -> bool {
        self.add_status(DeviceStatus::DRIVER_OK);
        let s = self.status();
        s.contains(DeviceStatus::DRIVER_OK)
            && !s.contains(DeviceStatus::FAILED)
            && !s.contains(DeviceStatus::DEVICE_NEEDS_RESET)
    }

    /// Tell the device queue `index` has new buffers.
    pub fn notify(&self, index: u16) {
        self.regs.write32(reg::QUEUE_NOTIFY, index as u32);
    }

    /// Read and acknowledge the interrupt status (used-buffer and
    /// config-change bits); 0 when the device did not interrupt.
    pub fn take_interrupt(&self) -> u32 {
        let status = self.regs.read32(reg::INTERRUPT_STATUS) & 0x3;
        if status != 0 {
            self.regs.write32(reg::INTERRUPT_ACK, status);
        }
        status
    }
}

impl<R: Registers> sevio_transport_core::VirtioDevice for Slot<R> {
    fn device_id(&self) -> u32 {
        self.probe.device_id
    }
    fn vendor_id(&self) -> u32 {
        self.probe.vendor_id
    }
    fn version(&self) -> u32 {
        match self.version {
            Version::Legacy => 1,
            Version::Modern => 2,
        }
    }
    fn reset(&mut self) {
        Slot::reset(self)
    }
    fn reset_and_acknowledge(&mut self) {
        Slot::reset_and_acknowledge(self)
    }
    fn device_features(&mut self) -> u64 {
        Slot::device_features(self)
    }
    fn set_driver_features(&mut self, wanted: u64) -> bool {
        Slot::set_driver_features(self, wanted)
    }
    fn queue_max(&mut self, index: u16) -> u16 {
        Slot::queue_max(self, index)
    }
    fn setup_queue(&mut self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), SlotError> {
        Slot::setup_queue(self, index, ring, format)
    }
    fn config_read(&mut self, offset: usize, width: usize) -> Result<(u64, u32), SlotError> {
        Slot::config_read(self, offset, width)
    }
    fn config_write(&mut self, offset: usize, width: usize, value: u64) -> Result<(), SlotError> {
        Slot::config_write(self, offset, width, value)
    }
    fn config_generation(&mut self) -> u32 {
        self.generation()
    }
    fn driver_ok(&mut self) -> bool {
        Slot::driver_ok(self)
    }
    fn status(&mut self) -> u8 {
        self.status_byte()
    }
    fn notify(&mut self, index: u16) {
        Slot::notify(self, index)
    }
    fn take_interrupt(&mut self) -> u32 {
        Slot::take_interrupt(self)
    }
}

fn check_config_access(offset: usize, width: usize) -> Result<(), SlotError> {
    if !matches!(width, 1 | 2 | 4 | 8) {
        return Err(SlotError::BadConfigAccess);
    }
    match offset.checked_add(width) {
        Some(end) if end <= CONFIG_SIZE => Ok(()),
        _ => Err(SlotError::BadConfigAccess),
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A register block that records writes and serves reads like a
    //! simple virtio-mmio device.
    use super::*;
    use std::cell::RefCell;
    use std::vec::Vec;

    pub struct FakeSlot {
        pub regs: RefCell<[u32; SLOT_SIZE / 4]>,
        pub config: RefCell<[u8; CONFIG_SIZE]>,
        pub writes: RefCell<Vec<(usize, u32)>>,
        pub features: u64,
        pub refuse_features_ok: bool,
        pub feature_sel: RefCell<u32>,
        pub queue_max: u32,
        pub generation_bumps: RefCell<u32>,
    }

    impl FakeSlot {
        pub fn new(version: u32, device_id: u32) -> Self {
            let mut regs = [0u32; SLOT_SIZE / 4];
            regs[reg::MAGIC / 4] = MAGIC_VALUE;
            regs[reg::VERSION / 4] = version;
            regs[reg::DEVICE_ID / 4] = device_id;
            regs[reg::VENDOR_ID / 4] = 0x554d4551;
            FakeSlot {
                regs: RefCell::new(regs),
                config: RefCell::new([0; CONFIG_SIZE]),
                writes: RefCell::new(Vec::new()),
                features: (1 << 32) | (1 << 9) | 1,
                refuse_features_ok: false,
                feature_sel: RefCell::new(0),
                queue_max: 256,
                generation_bumps: RefCell::new(0),
            }
        }
        pub fn written(&self, offset: usize) -> Vec<u32> {
            self.writes.borrow().iter().filter(|(o, _)| *o == offset).map(|(_, v)| *v).collect()
        }
    }

    impl Registers for &FakeSlot {
        fn read32(&self, offset: usize) -> u32 {
            match offset {
                reg::DEVICE_FEATURES => (self.features >> (32 * *self.feature_sel.borrow())) as u32,
                reg::QUEUE_NUM_MAX => self.queue_max,
                reg::CONFIG_GENERATION => {
                    let mut b = self.generation_bumps.borrow_mut();
                    if *b > 0 {
                        *b -= 1;
                        self.regs.borrow_mut()[offset / 4] += 1;
                    }
                    self.regs.borrow()[offset / 4]
                }
                _ => self.regs.borrow()[offset / 4],
            }
        }
        fn write32(&self, offset: usize, value: u32) {
            self.writes.borrow_mut().push((offset, value));
            match offset {
                reg::DEVICE_FEATURES_SEL => *self.feature_sel.borrow_mut() = value,
                reg::STATUS if self.refuse_features_ok => {
                    self.regs.borrow_mut()[offset / 4] = value & !(DeviceStatus::FEATURES_OK.0 as u32)
                }
                reg::INTERRUPT_ACK => self.regs.borrow_mut()[reg::INTERRUPT_STATUS / 4] &= !value,
                _ => self.regs.borrow_mut()[offset / 4] = value,
            }
        }
        fn read8(&self, offset: usize) -> u8 {
            self.config.borrow()[offset - reg::CONFIG]
        }
        fn write8(&self, offset: usize, value: u8) {
            self.config.borrow_mut()[offset - reg::CONFIG] = value
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeSlot;
    use super::*;

    #[test]
    fn probe_finds_devices_and_skips_empty_or_foreign_slots() {
        let dev = FakeSlot::new(2, 2);
        let (_, p) = Slot::probe(&dev).unwrap();
        assert_eq!(p, Probe { version: Version::Modern, device_id: 2, vendor_id: 0x554d4551 });
        assert!(Slot::probe(&FakeSlot::new(2, 0)).is_none(), "device id 0 is an empty slot");
        assert!(Slot::probe(&FakeSlot::new(3, 2)).is_none(), "unknown version");
        let bad = FakeSlot::new(2, 2);
        bad.regs.borrow_mut()[0] = 0xffff_ffff;
        assert!(Slot::probe(&bad).is_none(), "bad magic");
    }

    #[test]
    fn modern_negotiation_writes_only_offered_features_and_checks_features_ok() {
        let dev = FakeSlot::new(2, 2);
        let (slot, _) = Slot::probe(&dev).unwrap();
        slot.reset_and_acknowledge();
        assert_eq!(slot.device_features(), dev.features);
        assert!(slot.set_driver_features((1 << 32) | (1 << 9) | (1 << 5)));
        assert_eq!(dev.written(reg::DRIVER_FEATURES), [1 << 9, 1]);
        let refusing = FakeSlot { refuse_features_ok: true, ..FakeSlot::new(2, 2) };
        let (slot, _) = Slot::probe(&refusing).unwrap();
        assert!(!slot.set_driver_features(1 << 32), "FEATURES_OK did not stick");
    }

    #[test]
    fn modern_queue_setup_writes_all_three_addresses() {
        let dev = FakeSlot::new(2, 2);
        let (slot, _) = Slot::probe(&dev).unwrap();
        slot.setup_queue(0, RingPlacement::new(128, 0x4000_0000_1000, 0x5000, 0x6000), RingFormat::Split).unwrap();
        assert_eq!(dev.written(reg::QUEUE_DESC_LOW), [0x1000]);
        assert_eq!(dev.written(reg::QUEUE_DESC_HIGH), [0x4000]);
        assert_eq!(dev.written(reg::QUEUE_DRIVER_LOW), [0x5000]);
        assert_eq!(dev.written(reg::QUEUE_DEVICE_LOW), [0x6000]);
        assert_eq!(dev.written(reg::QUEUE_READY), [1]);
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(128, 0x1000, 0x5000, 0x6000), RingFormat::Split),
            Err(SlotError::QueueInUse)
        );
    }

    #[test]
    fn queue_setup_refuses_bad_sizes_and_addresses() {
        let dev = FakeSlot::new(2, 2);
        let (slot, _) = Slot::probe(&dev).unwrap();
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(100, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(SlotError::BadQueueSize)
        );
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(512, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(SlotError::BadQueueSize)
        );
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(0, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(SlotError::BadQueueSize)
        );
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(128, 0x1008, 0x2000, 0x3000), RingFormat::Split),
            Err(SlotError::BadQueueAddress)
        );
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(128, 0x1000, 0x2001, 0x3000), RingFormat::Split),
            Err(SlotError::BadQueueAddress)
        );
        let none = FakeSlot { queue_max: 0, ..FakeSlot::new(2, 2) };
        let (slot, _) = Slot::probe(&none).unwrap();
        assert_eq!(
            slot.setup_queue(3, RingPlacement::new(128, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(SlotError::NoSuchQueue)
        );
        assert!(dev.written(reg::QUEUE_READY).is_empty(), "nothing went live");
    }

    #[test]
    fn legacy_queue_setup_needs_the_contiguous_layout() {
        let dev = FakeSlot::new(1, 2);
        let (slot, _) = Slot::probe(&dev).unwrap();
        // size 128: desc 2048 B, avail 6+256 B -> used at the next page.
        assert_eq!(
            slot.setup_queue(0, RingPlacement::new(128, 0x8000, 0x8800, 0xa000), RingFormat::Split),
            Err(SlotError::BadQueueAddress)
        );
        slot.setup_queue(0, RingPlacement::new(128, 0x8000, 0x8800, 0x9000), RingFormat::Split).unwrap();
        assert_eq!(dev.written(reg::QUEUE_PFN), [8]);
        assert_eq!(dev.written(reg::GUEST_PAGE_SIZE), [4096]);
        assert_eq!(dev.written(reg::QUEUE_ALIGN), [4096]);
        assert!(dev.written(reg::QUEUE_DESC_LOW).is_empty());
    }

    #[test]
    fn legacy_features_are_32_bits_without_features_ok() {
        let dev = FakeSlot::new(1, 2);
        let (slot, _) = Slot::probe(&dev).unwrap();
        assert_eq!(slot.device_features(), dev.features & 0xffff_ffff);
        assert!(slot.set_driver_features(1 << 9));
        assert!(!DeviceStatus(dev.regs.borrow()[reg::STATUS / 4] as u8).contains(DeviceStatus::FEATURES_OK));
    }

    #[test]
    fn config_reads_are_bounded_and_generation_checked() {
        let dev = FakeSlot::new(2, 2);
        dev.config.borrow_mut()[..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        let (slot, _) = Slot::probe(&dev).unwrap();
        assert_eq!(slot.config_read(0, 8), Ok((0x1122_3344_5566_7788, 0)));
        assert_eq!(slot.config_read(2, 2), Ok((0x5566, 0)));
        assert_eq!(slot.config_read(0xfc, 8), Err(SlotError::BadConfigAccess));
        assert_eq!(slot.config_read(0, 3), Err(SlotError::BadConfigAccess));
        assert_eq!(slot.config_read(usize::MAX, 1), Err(SlotError::BadConfigAccess));
        // The generation moves once during the read: the read is retried
        // and reports the generation it is consistent with.
        *dev.generation_bumps.borrow_mut() = 1;
        assert_eq!(slot.config_read(0, 4), Ok((0x5566_7788, 1)));
        *dev.generation_bumps.borrow_mut() = 1000;
        assert_eq!(slot.config_read(0, 4), Err(SlotError::ConfigUnstable));
    }

    #[test]
    fn interrupts_are_acknowledged_with_the_bits_read() {
        let dev = FakeSlot::new(2, 2);
        let (slot, _) = Slot::probe(&dev).unwrap();
        assert_eq!(slot.take_interrupt(), 0);
        assert!(dev.written(reg::INTERRUPT_ACK).is_empty(), "no ack without an interrupt");
        dev.regs.borrow_mut()[reg::INTERRUPT_STATUS / 4] = 3;
        assert_eq!(slot.take_interrupt(), 3);
        assert_eq!(dev.written(reg::INTERRUPT_ACK), [3]);
    }
}
