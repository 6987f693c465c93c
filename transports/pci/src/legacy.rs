//! The legacy virtio-pci interface: the register block in I/O BAR 0 of a
//! transitional device (VIRTIO 1.2 §4.1.4.10 and §4.1.5.1.4, legacy
//! interfaces), reached through the PCI I/O window.

use crate::device::StatusByte;
use crate::regs::{Registers, read_field, write_field};
use sevio_transport_core::DeviceError;
use sevio_virtio::pci::legacy;
use sevio_virtio::{RingFormat, RingInterface, RingPlacement};

/// One legacy function's I/O BAR.
pub struct Legacy<R> {
    io: R,
}

/// Where device configuration starts: MSI-X is never enabled here.
const CONFIG: usize = legacy::config_offset(false);
/// The legacy interface gives the device a 4 KiB page frame number.
const PAGE: u64 = legacy::QUEUE_ALIGN as u64;

impl<R: Registers> StatusByte for Legacy<R> {
    fn read_status(&self) -> u8 {
        self.io.read8(legacy::DEVICE_STATUS)
    }
    fn write_status(&self, value: u8) {
        self.io.write8(legacy::DEVICE_STATUS, value)
    }
}

impl<R: Registers> Legacy<R> {
    /// The interface over the whole I/O BAR.
    pub fn new(io: R) -> Self {
        Legacy { io }
    }

    /// Feature bits 0..31 (the legacy interface has no others).
    pub fn device_features(&self) -> u64 {
        self.io.read32(legacy::HOST_FEATURES) as u64
    }

    /// Write the offered subset of `wanted`. Legacy devices have no
    /// FEATURES_OK handshake: the write always "sticks"; a driver that
    /// needs VERSION_1 must look at the interface version.
    pub fn set_driver_features(&self, wanted: u64) -> bool {
        let features = wanted & self.device_features();
        self.io.write32(legacy::GUEST_FEATURES, features as u32);
        true
    }

    /// The (fixed) size of queue `index`; 0 when it does not exist.
    pub fn queue_max(&self, index: u16) -> u16 {
        self.io.write16(legacy::QUEUE_SELECT, index);
        self.io.read16(legacy::QUEUE_SIZE)
    }

    /// Place queue `index`. The legacy layout is one contiguous region
    /// of the device's own size (the Queue Size register is read-only):
    /// descriptors at a page boundary, the available ring right after,
    /// the used ring at the next page boundary. Checked by
    /// [`RingPlacement::check`], not assumed.
    pub fn setup_queue(&self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError> {
        let max = self.queue_max(index);
        ring.check_format(format, max, RingInterface::Legacy { queue_align: PAGE })?;
        // The one rule of this interface alone: the driver cannot write
        // Queue Size, so the ring is as big as the device says.
        if ring.size != max {
            return Err(DeviceError::BadQueueSize);
        }
        let pfn = ring.legacy_page_frame(PAGE)?;
        if self.io.read32(legacy::QUEUE_ADDRESS) != 0 {
            return Err(DeviceError::QueueInUse);
        }
        self.io.write32(legacy::QUEUE_ADDRESS, pfn);
        Ok(())
    }

    fn config_size(&self) -> usize {
        self.io.size().saturating_sub(CONFIG)
    }

    fn check_config(&self, offset: usize, width: usize) -> Result<(), DeviceError> {
        match offset.checked_add(width) {
            Some(end) if matches!(width, 1 | 2 | 4 | 8) && end <= self.config_size() => Ok(()),
            _ => Err(DeviceError::BadConfigAccess),
        }
    }

    /// `width` bytes of device configuration (generation always 0: the
    /// legacy interface has none). A 64-bit field is read until two reads
    /// agree, as it is not read atomically.
    pub fn config_read(&self, offset: usize, width: usize) -> Result<(u64, u32), DeviceError> {
        self.check_config(offset, width)?;
        let mut value = read_field(&self.io, CONFIG + offset, width);
        if width <= 4 {
            return Ok((value, 0));
        }
        for _ in 0..16 {
            let again = read_field(&self.io, CONFIG + offset, width);
            if again == value {
                return Ok((value, 0));
            }
            value = again;
        }
        Err(DeviceError::ConfigUnstable)
    }

    /// Write `width` bytes of device configuration.
    pub fn config_write(&self, offset: usize, width: usize, value: u64) -> Result<(), DeviceError> {
        self.check_config(offset, width)?;
        write_field(&self.io, CONFIG + offset, width, value);
        Ok(())
    }

    /// Notify queue `index`.
    pub fn notify(&self, index: u16) {
        self.io.write16(legacy::QUEUE_NOTIFY, index)
    }

    /// Read (and so acknowledge) the ISR status.
    pub fn take_interrupt(&self) -> u32 {
        (self.io.read8(legacy::ISR_STATUS) & 0x3) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeLegacy;

    #[test]
    fn features_are_32_bits_without_features_ok() {
        let fake = FakeLegacy::new(2, 0x40);
        let d = Legacy::new(fake.registers());
        assert_eq!(d.device_features(), fake.features as u64);
        assert!(d.set_driver_features(1 << 32 | 1 << 9 | 1 << 6));
        assert_eq!(fake.read32(legacy::GUEST_FEATURES), 1 << 9, "only offered low bits");
        d.acknowledge();
        assert!(d.driver_ok());
        assert_eq!(fake.read8(legacy::DEVICE_STATUS), 1 | 2 | 4, "no FEATURES_OK in legacy");
    }

    #[test]
    fn queues_need_the_device_size_and_the_contiguous_layout() {
        let fake = FakeLegacy::new(2, 0x40);
        let d = Legacy::new(fake.registers());
        assert_eq!(d.queue_max(0), 128);
        assert_eq!(d.queue_max(1), 0);
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(64, 0x8000, 0x8400, 0x9000), RingFormat::Split),
            Err(DeviceError::BadQueueSize),
            "fixed size"
        );
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(128, 0x8000, 0x8800, 0xa000), RingFormat::Split),
            Err(DeviceError::BadQueueAddress)
        );
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(128, 0x8000, 0x8900, 0x9000), RingFormat::Split),
            Err(DeviceError::BadQueueAddress)
        );
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(128, 0x8100, 0x8900, 0xa000), RingFormat::Split),
            Err(DeviceError::BadQueueAddress)
        );
        assert_eq!(
            d.setup_queue(1, RingPlacement::new(128, 0x8000, 0x8800, 0x9000), RingFormat::Split),
            Err(DeviceError::NoSuchQueue)
        );
        assert_eq!(fake.read32(legacy::QUEUE_ADDRESS), 0);
        d.setup_queue(0, RingPlacement::new(128, 0x8000, 0x8800, 0x9000), RingFormat::Split).unwrap();
        assert_eq!(fake.read32(legacy::QUEUE_ADDRESS), 8);
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(128, 0x8000, 0x8800, 0x9000), RingFormat::Split),
            Err(DeviceError::QueueInUse)
        );
    }

    #[test]
    fn config_starts_after_the_header_and_ends_with_the_bar() {
        let fake = FakeLegacy::new(2, 0x40);
        fake.write_bytes(0x14, &0x0800u64.to_le_bytes());
        let d = Legacy::new(fake.registers());
        assert_eq!(d.config_read(0, 8), Ok((0x800, 0)));
        assert_eq!(d.config_read(0x2c - 4, 4).map(|v| v.1), Ok(0));
        assert_eq!(d.config_read(0x2c - 2, 4), Err(DeviceError::BadConfigAccess), "0x40 - 0x14 = 0x2c bytes");
        d.config_write(4, 1, 0x5a).unwrap();
        assert_eq!(fake.read8(0x18), 0x5a);
    }

    #[test]
    fn notify_and_isr() {
        let fake = FakeLegacy::new(4, 0x20);
        let d = Legacy::new(fake.registers());
        d.notify(0);
        assert_eq!(fake.read16(legacy::QUEUE_NOTIFY), 0);
        assert_eq!(fake.notified(), [0]);
        fake.write8(legacy::ISR_STATUS, 1);
        assert_eq!(d.take_interrupt(), 1);
        assert_eq!(d.take_interrupt(), 0, "read to acknowledge");
    }
}
