//! The modern virtio-pci interface (VIRTIO 1.2 §4.1.4-§4.1.5): common
//! configuration, notification area with its offset multiplier, ISR
//! status, device configuration, each a checked window of a memory BAR.

use crate::device::StatusByte;
use crate::msix::queue_entry;
use crate::regs::{Registers, read_field, write_field};
use sevio_transport_core::{DeviceError, MAX_QUEUES};
use sevio_virtio::pci::common::NO_VECTOR;
use sevio_virtio::pci::{common, isr};
use sevio_virtio::{RingFormat, RingInterface, RingPlacement};

/// One modern function's structures.
pub struct Modern<R> {
    common: R,
    notify: R,
    multiplier: u32,
    isr: R,
    device: Option<R>,
    /// Offset in `notify` of each set-up queue's notify register.
    notify_at: [Option<usize>; MAX_QUEUES],
    /// MSI-X vectors the function has (0: MSI-X off, INTx).
    vectors: u16,
    /// A queue fell back to entry 0 (configuration's vector), so an
    /// interrupt there may be a queue's too.
    queue_on_config_vector: bool,
}

impl<R: Registers> StatusByte for Modern<R> {
    fn read_status(&self) -> u8 {
        self.common.read8(common::DEVICE_STATUS)
    }
    fn write_status(&self, value: u8) {
        self.common.write8(common::DEVICE_STATUS, value)
    }
}

impl<R: Registers> Modern<R> {
    /// The interface over its structures (each already bounds-checked
    /// against its BAR).
    pub fn new(common: R, notify: R, multiplier: u32, isr: R, device: Option<R>) -> Self {
        Modern {
            common,
            notify,
            multiplier,
            isr,
            device,
            notify_at: [None; MAX_QUEUES],
            vectors: 0,
            queue_on_config_vector: false,
        }
    }

    /// num_queues.
    pub fn num_queues(&self) -> u16 {
        self.common.read16(common::NUM_QUEUES)
    }

    /// Write `vector` to the MSI-X vector field at `field` (the selected
    /// queue's, or configuration's) and read it back. VIRTIO 1.2
    /// §4.1.5.1.2.2: "After mapping an event to vector, the driver MUST
    /// verify success by reading the Vector field value: on success, the
    /// previously written value is returned, and on failure, NO_VECTOR is
    /// returned. If a mapping failure is detected, the driver MAY retry
    /// mapping with fewer vectors, disable MSI-X or report device
    /// failure." (All three are used: see [`Modern::use_msix`] and
    /// [`Modern::setup_queue`].)
    fn set_vector(&self, field: usize, vector: u16) -> bool {
        self.common.write16(field, vector);
        let back = self.common.read16(field);
        back == vector && back != NO_VECTOR
    }

    /// The function's MSI-X table has `vectors` entries programmed and
    /// MSI-X is on: configuration changes go to entry 0 (written and read
    /// back now, and again after every reset, which returns every vector
    /// to NO_VECTOR), each queue to its own ([`queue_entry`], set with the
    /// queue). False if the device refused entry 0: the caller turns
    /// MSI-X off again, and the function stays on INTx.
    pub fn use_msix(&mut self, vectors: u16) -> bool {
        self.vectors = vectors;
        if vectors > 0 && !self.set_vector(common::CONFIG_MSIX_VECTOR, 0) {
            self.vectors = 0;
            return false;
        }
        true
    }

    /// The causes behind an interrupt on MSI-X entry `entry`: a queue's
    /// entry is a used-buffer notification (VIRTIO 1.2 §4.1.4.5.1: with
    /// MSI-X the device need not set the ISR's queue bit); on entry 0 the
    /// ISR is read (which acknowledges it) for a configuration change,
    /// plus a used buffer where a queue shares the entry.
    pub fn msix_causes(&self, entry: u16) -> u32 {
        let queue = isr::QUEUE as u32;
        match entry {
            0 => {
                let config = self.take_interrupt() & isr::CONFIG as u32;
                let shared = self.queue_on_config_vector || self.vectors == 1;
                config | if shared { queue } else { 0 }
            }
            _ => queue,
        }
    }

    /// Reset (VIRTIO 1.2 §4.1.4.3.2: "After writing 0 to device_status,
    /// the driver MUST wait for a read of device_status to return 0
    /// before reinitializing the device"; bounded here).
    pub fn reset(&mut self) {
        self.reset_and_wait();
        self.notify_at = [None; MAX_QUEUES];
        self.queue_on_config_vector = false;
        if self.vectors > 0 && !self.set_vector(common::CONFIG_MSIX_VECTOR, 0) {
            sevio_runtime::debug_println!("pci: the device refused its configuration vector after a reset");
        }
    }

    /// The 64 device feature bits.
    pub fn device_features(&self) -> u64 {
        let mut features = 0;
        for word in 0..2 {
            self.common.write32(common::DEVICE_FEATURE_SELECT, word);
            features |= (self.common.read32(common::DEVICE_FEATURE) as u64) << (32 * word);
        }
        features
    }

    /// Write the offered subset of `wanted`, set FEATURES_OK, and report
    /// whether it stuck (VIRTIO 1.2 §3.1.1 steps 5-6).
    pub fn set_driver_features(&self, wanted: u64) -> bool {
        let features = wanted & self.device_features();
        for word in 0..2 {
            self.common.write32(common::DRIVER_FEATURE_SELECT, word);
            self.common.write32(common::DRIVER_FEATURE, (features >> (32 * word)) as u32);
        }
        self.features_ok()
    }

    fn select(&self, index: u16) -> bool {
        if index >= self.common.read16(common::NUM_QUEUES) {
            return false;
        }
        self.common.write16(common::QUEUE_SELECT, index);
        true
    }

    /// `queue_size` of queue `index` after reset (its maximum); 0 when
    /// the queue does not exist.
    pub fn queue_max(&self, index: u16) -> u16 {
        if !self.select(index) {
            return 0;
        }
        self.common.read16(common::QUEUE_SIZE)
    }

    /// The notify register of queue `index` (selected): VIRTIO 1.2
    /// §4.1.4.4 "cap.offset + queue_notify_off * notify_off_multiplier",
    /// checked to lie inside the notification structure.
    fn notify_offset(&self) -> Option<usize> {
        let off = self.common.read16(common::QUEUE_NOTIFY_OFF) as u64 * self.multiplier as u64;
        let end = off.checked_add(2)?;
        (end <= self.notify.size() as u64).then_some(off as usize)
    }

    /// Program queue `index` and enable it (VIRTIO 1.2 §4.1.5.1.3).
    pub fn setup_queue(&mut self, index: u16, ring: RingPlacement, format: RingFormat) -> Result<(), DeviceError> {
        if !self.select(index) {
            return Err(DeviceError::NoSuchQueue);
        }
        if self.common.read16(common::QUEUE_ENABLE) != 0 {
            return Err(DeviceError::QueueInUse);
        }
        ring.check_format(format, self.common.read16(common::QUEUE_SIZE), RingInterface::Modern)?;
        let Some(at) = self.notify_offset() else {
            sevio_runtime::debug_println!("pci: queue {index}'s notify address lies outside the notify structure");
            return Err(DeviceError::NoSuchQueue);
        };
        if self.vectors > 0 {
            // VIRTIO 1.2 §4.1.5.1.2 (read back); refused, the queue shares
            // configuration's vector (entry 0), as "fewer vectors" allows;
            // refused again, the queue would never interrupt: an error.
            let entry = queue_entry(self.vectors, index);
            if !self.set_vector(common::QUEUE_MSIX_VECTOR, entry) {
                if entry == 0 || !self.set_vector(common::QUEUE_MSIX_VECTOR, 0) {
                    sevio_runtime::debug_println!("pci: the device refused every MSI-X vector for queue {index}");
                    return Err(DeviceError::NoInterruptVector);
                }
                sevio_runtime::debug_println!("pci: queue {index} refused vector {entry}: it shares vector 0");
                self.queue_on_config_vector = true;
            }
        }
        self.common.write16(common::QUEUE_SIZE, ring.size);
        for (field, addr) in
            [(common::QUEUE_DESC, ring.desc), (common::QUEUE_DRIVER, ring.avail), (common::QUEUE_DEVICE, ring.used)]
        {
            write_field(&self.common, field, 8, addr);
        }
        self.common.write16(common::QUEUE_ENABLE, 1);
        if let Some(slot) = self.notify_at.get_mut(index as usize) {
            *slot = Some(at);
        }
        Ok(())
    }

    fn config(&self, offset: usize, width: usize) -> Result<&R, DeviceError> {
        let device = self.device.as_ref().ok_or(DeviceError::BadConfigAccess)?;
        match offset.checked_add(width) {
            Some(end) if matches!(width, 1 | 2 | 4 | 8) && end <= device.size() => Ok(device),
            _ => Err(DeviceError::BadConfigAccess),
        }
    }

    /// `width` bytes of device configuration and the generation they
    /// belong to (VIRTIO 1.2 §4.1.4.3.1: re-read until config_generation
    /// is the same before and after).
    pub fn config_read(&self, offset: usize, width: usize) -> Result<(u64, u32), DeviceError> {
        let device = self.config(offset, width)?;
        for _ in 0..16 {
            let before = self.generation();
            let value = read_field(device, offset, width);
            if self.generation() == before {
                return Ok((value, before));
            }
        }
        Err(DeviceError::ConfigUnstable)
    }

    /// Write `width` bytes of device configuration.
    pub fn config_write(&self, offset: usize, width: usize, value: u64) -> Result<(), DeviceError> {
        write_field(self.config(offset, width)?, offset, width, value);
        Ok(())
    }

    /// config_generation.
    pub fn generation(&self) -> u32 {
        self.common.read8(common::CONFIG_GENERATION) as u32
    }

    /// Notify queue `index`: its 16-bit index to its notify register.
    pub fn notify(&self, index: u16) {
        let cached = self.notify_at.get(index as usize).copied().flatten();
        let at = cached.or_else(|| if self.select(index) { self.notify_offset() } else { None });
        if let Some(at) = at {
            self.notify.write16(at, index);
        }
    }

    /// Read the ISR status, which acknowledges it and deasserts INTx
    /// (VIRTIO 1.2 §4.1.4.5); the used-buffer and config-change bits.
    pub fn take_interrupt(&self) -> u32 {
        (self.isr.read8(0) & 0x3) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeModern;

    fn device(fake: &FakeModern) -> Modern<crate::fake::FakeRegisters> {
        let (common, notify, isr, device) = fake.windows();
        Modern::new(common, notify, fake.multiplier, isr, Some(device))
    }

    #[test]
    fn negotiation_writes_only_offered_features_and_checks_features_ok() {
        let fake = FakeModern::new(4);
        let d = device(&fake);
        d.acknowledge();
        assert_eq!(d.device_features(), fake.features());
        assert!(d.set_driver_features(1 << 32 | 1 << 28 | 1 << 5));
        assert_eq!(fake.driver_features(), 1 << 32 | 1 << 28);
        fake.refuse_features_ok();
        assert!(!d.set_driver_features(1 << 32));
    }

    #[test]
    fn queue_setup_programs_size_addresses_and_enable() {
        let fake = FakeModern::new(4);
        let mut d = device(&fake);
        assert_eq!(d.queue_max(0), 256);
        assert_eq!(d.queue_max(2), 0, "two queues");
        d.setup_queue(1, RingPlacement::new(64, 0x4_5000_0000, 0x5000_0400, 0x5000_0800), RingFormat::Split).unwrap();
        let q = fake.queue(1);
        assert_eq!(
            (q.size, q.desc, q.driver, q.device, q.enabled),
            (64, 0x4_5000_0000, 0x5000_0400, 0x5000_0800, true)
        );
        assert_eq!(
            d.setup_queue(1, RingPlacement::new(64, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(DeviceError::QueueInUse)
        );
        assert_eq!(
            d.setup_queue(2, RingPlacement::new(64, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(DeviceError::NoSuchQueue)
        );
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(512, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(DeviceError::BadQueueSize)
        );
        assert_eq!(
            d.setup_queue(0, RingPlacement::new(64, 0x1008, 0x2000, 0x3000), RingFormat::Split),
            Err(DeviceError::BadQueueAddress)
        );
        assert!(!fake.queue(0).enabled);
    }

    #[test]
    fn notify_uses_the_offset_multiplier() {
        let fake = FakeModern::new(4);
        let mut d = device(&fake);
        d.setup_queue(1, RingPlacement::new(64, 0x1000, 0x2000, 0x3000), RingFormat::Split).unwrap();
        d.notify(1);
        // queue 1 has queue_notify_off 1; multiplier 4.
        assert_eq!(fake.notifies(), [(4, 1)]);
        d.notify(0);
        assert_eq!(fake.notifies(), [(4, 1), (0, 0)], "not set up: looked up on demand");
        d.notify(7);
        assert_eq!(fake.notifies().len(), 2, "no such queue: nothing written");
    }

    #[test]
    fn a_notify_offset_outside_the_structure_fails_the_queue() {
        let fake = FakeModern::new(4);
        fake.set_notify_off(1, 0x400);
        let mut d = device(&fake);
        assert_eq!(
            d.setup_queue(1, RingPlacement::new(64, 0x1000, 0x2000, 0x3000), RingFormat::Split),
            Err(DeviceError::NoSuchQueue)
        );
        assert!(!fake.queue(1).enabled);
        d.notify(1);
        assert!(fake.notifies().is_empty());
    }

    #[test]
    fn isr_is_read_to_acknowledge() {
        let fake = FakeModern::new(4);
        let d = device(&fake);
        assert_eq!(d.take_interrupt(), 0);
        fake.raise(3);
        assert_eq!(d.take_interrupt(), 3);
        assert_eq!(d.take_interrupt(), 0, "the read cleared it");
    }

    #[test]
    fn config_is_bounded_width_true_and_generation_checked() {
        let fake = FakeModern::new(4);
        fake.set_config(0, &0x1122_3344_5566_7788u64.to_le_bytes());
        let d = device(&fake);
        assert_eq!(d.config_read(0, 8), Ok((0x1122_3344_5566_7788, 0)));
        assert_eq!(fake.config_access_widths(), [4, 4], "a 64-bit field as two 32-bit reads");
        assert_eq!(d.config_read(2, 2), Ok((0x5566, 0)));
        assert_eq!(d.config_read(0x3c, 8), Err(DeviceError::BadConfigAccess), "past the 0x40-byte structure");
        assert_eq!(d.config_read(0, 3), Err(DeviceError::BadConfigAccess));
        fake.bump_generation_during_reads(1);
        assert_eq!(d.config_read(0, 4), Ok((0x5566_7788, 1)));
        fake.bump_generation_during_reads(1000);
        assert_eq!(d.config_read(0, 4), Err(DeviceError::ConfigUnstable));
        fake.bump_generation_during_reads(0);
        d.config_write(8, 4, 0xabcd).unwrap();
        assert_eq!(d.config_read(8, 2).map(|v| v.0), Ok(0xabcd));
        let none = Modern::new(fake.windows().0, fake.windows().1, 4, fake.windows().2, None);
        assert_eq!(none.config_read(0, 1), Err(DeviceError::BadConfigAccess));
    }

    #[test]
    fn reset_waits_for_zero_and_forgets_queues() {
        let fake = FakeModern::new(4);
        let mut d = device(&fake);
        d.setup_queue(1, RingPlacement::new(64, 0x1000, 0x2000, 0x3000), RingFormat::Split).unwrap();
        d.reset();
        assert_eq!(fake.status(), 0);
        assert!(!fake.queue(1).enabled, "reset disabled the queue");
        fake.set_notify_off(1, 0x400);
        d.notify(1);
        assert!(fake.notifies().is_empty(), "the cached notify address went with the reset");
    }

    fn ring() -> RingPlacement {
        RingPlacement::new(64, 0x1000, 0x2000, 0x3000)
    }

    #[test]
    fn with_msix_configuration_and_each_queue_get_their_own_vector() {
        let fake = FakeModern::new(4);
        fake.map_vectors(3);
        let mut d = device(&fake);
        assert_eq!(d.num_queues(), 2);
        assert!(d.use_msix(3));
        assert_eq!(fake.config_vector(), 0);
        d.setup_queue(0, ring(), RingFormat::Split).unwrap();
        d.setup_queue(1, ring(), RingFormat::Split).unwrap();
        assert_eq!((fake.queue(0).vector, fake.queue(1).vector), (1, 2));
        // Queue entries are used buffers; entry 0 reads the ISR.
        assert_eq!(d.msix_causes(2), isr::QUEUE as u32);
        assert_eq!(d.msix_causes(0), 0, "nothing pending");
        fake.raise(isr::CONFIG | isr::QUEUE);
        assert_eq!(d.msix_causes(0), isr::CONFIG as u32, "configuration only: the queues have their own");
        assert_eq!(fake.isr(), 0, "read, so acknowledged");
        // A reset unmaps every vector; configuration's is mapped again.
        d.reset();
        assert_eq!((fake.config_vector(), fake.queue(1).vector), (0, NO_VECTOR));
    }

    #[test]
    fn a_refused_vector_is_read_back_and_the_queue_shares_entry_0() {
        let fake = FakeModern::new(4);
        fake.map_vectors(2);
        let mut d = device(&fake);
        assert!(d.use_msix(3), "the table has 3, the device maps 2");
        d.setup_queue(0, ring(), RingFormat::Split).unwrap();
        assert_eq!(fake.queue(0).vector, 1);
        d.setup_queue(1, ring(), RingFormat::Split).unwrap();
        assert_eq!(fake.queue(1).vector, 0, "vector 2 read back NO_VECTOR: entry 0 instead");
        assert_eq!(d.msix_causes(0), isr::QUEUE as u32, "entry 0 now stands for a queue too");
        d.reset();
        d.setup_queue(1, ring(), RingFormat::Split).unwrap();
        assert_eq!(d.msix_causes(0), isr::QUEUE as u32, "still shared after the reset");
    }

    #[test]
    fn a_queue_no_vector_can_map_fails_and_a_refused_configuration_vector_means_intx() {
        let fake = FakeModern::new(4);
        fake.map_vectors(3);
        fake.refuse_queue_vectors();
        let mut d = device(&fake);
        assert!(d.use_msix(3));
        assert_eq!(d.setup_queue(0, ring(), RingFormat::Split), Err(DeviceError::NoInterruptVector));
        assert!(!fake.queue(0).enabled, "never enabled without an interrupt");
        let refusing = FakeModern::new(4);
        let mut d = device(&refusing);
        assert!(!d.use_msix(3), "NO_VECTOR read back for configuration");
        d.setup_queue(0, ring(), RingFormat::Split).unwrap();
        assert_eq!(refusing.queue(0).vector, NO_VECTOR, "on INTx no vector is written");
        refusing.raise(isr::QUEUE);
        assert_eq!(d.take_interrupt(), isr::QUEUE as u32);
    }
}
