//! A transport's devices, its drivers' ports, the bus's bindings, and what
//! a driver's request does. No syscalls: the PD shell feeds it PPCs, IRQs
//! and notifications and performs the notifies it asks for.

use crate::device::{DeviceError, VirtioDevice};
use sevio_transport_protocol::{DeviceInfo, Location, Reply, Request, TransportDoorbell, TransportError};
use sevio_virtio::features::general;
use sevio_virtio::{RingFormat, RingPlacement};

/// Driver channels a transport serves.
pub const MAX_DRIVERS: usize = 8;
/// Queues per device a transport keeps setup state for.
pub const MAX_QUEUES: usize = 8;

struct Entry<D> {
    device: D,
    location: Location,
    /// Each queue's ring, given by QueueSetup and applied by QueueReady.
    pending: [Option<RingPlacement>; MAX_QUEUES],
    /// The ring format the features in force call for: packed once the
    /// device kept FEATURES_OK for VIRTIO_F_RING_PACKED (VIRTIO 1.2 §2.8),
    /// split otherwise and after every reset.
    format: RingFormat,
}

/// What the transport knows about one driver channel.
pub struct DriverPort {
    /// The driver's doorbell page.
    pub doorbell: TransportDoorbell,
    /// Physical range `(base, size)` the driver's queues must lie in (its
    /// DMA region).
    pub dma_window: (u64, u64),
}

/// Up to `N` devices, [`MAX_DRIVERS`] driver ports, and the bindings
/// between them.
pub struct Transport<D, const N: usize> {
    entries: [Option<Entry<D>>; N],
    drivers: [Option<DriverPort>; MAX_DRIVERS],
    bound: [Option<usize>; MAX_DRIVERS],
}

impl<D: VirtioDevice, const N: usize> Default for Transport<D, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: VirtioDevice, const N: usize> Transport<D, N> {
    /// A transport with no devices and no drivers.
    pub fn new() -> Self {
        Transport {
            entries: core::array::from_fn(|_| None),
            drivers: core::array::from_fn(|_| None),
            bound: [None; MAX_DRIVERS],
        }
    }

    /// Put `device`, found at `location`, at `index` (an mmio slot number,
    /// or the order PCI enumeration found it in). Gives the device back
    /// if `index` is out of range or taken.
    pub fn insert(&mut self, index: usize, location: Location, device: D) -> Result<(), D> {
        match self.entries.get_mut(index) {
            Some(e @ None) => {
                *e = Some(Entry { device, location, pending: [None; MAX_QUEUES], format: RingFormat::Split });
                Ok(())
            }
            _ => Err(device),
        }
    }

    /// The devices: (index, location, device).
    pub fn devices(&self) -> impl Iterator<Item = (usize, Location, &D)> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| e.as_ref().map(|e| (i, e.location, &e.device)))
    }

    /// Attach driver `index`'s port (once, at init).
    pub fn attach_driver(&mut self, index: usize, port: DriverPort) {
        if let Some(d) = self.drivers.get_mut(index) {
            *d = Some(port);
        }
    }

    /// The bus bound driver `driver` to the device at `location` (or
    /// unbound it). A device a driver loses is reset, so it stops using
    /// that driver's memory. Returns false for a binding that names no
    /// device here or a driver without a port.
    pub fn set_binding(&mut self, driver: usize, location: Option<Location>) -> bool {
        let Some(current) = self.bound.get(driver).copied() else {
            return false;
        };
        let new = match location {
            None => None,
            Some(loc) => {
                let index = self.entries.iter().position(|e| e.as_ref().is_some_and(|e| e.location == loc));
                match index {
                    Some(i) if self.drivers[driver].is_some() => Some(i),
                    _ => return false,
                }
            }
        };
        if current != new {
            if let Some(old) = current {
                self.reset_device(old);
            }
            self.bound[driver] = new;
        }
        true
    }

    /// The location of the device driver `driver` is bound to.
    pub fn binding(&self, driver: usize) -> Option<Location> {
        let index = self.bound.get(driver).copied().flatten()?;
        Some(self.entries[index].as_ref()?.location)
    }

    fn reset_device(&mut self, index: usize) {
        if let Some(Some(entry)) = self.entries.get_mut(index) {
            entry.device.reset();
            entry.pending = [None; MAX_QUEUES];
            entry.format = RingFormat::Split;
        }
    }

    fn driver_of(&self, index: usize) -> Option<usize> {
        self.bound.iter().position(|b| *b == Some(index))
    }

    /// Serve one request of driver `driver`. A driver the bus has not
    /// bound is refused: a driver reaches only its own device.
    pub fn handle(&mut self, driver: usize, request: Request) -> Reply {
        let Some(index) = self.bound.get(driver).copied().flatten() else {
            return Reply::Error(TransportError::NotBound);
        };
        let Some(window) = self.drivers.get(driver).and_then(|d| d.as_ref()).map(|d| d.dma_window) else {
            return Reply::Error(TransportError::NotBound);
        };
        let Some(Some(entry)) = self.entries.get_mut(index) else {
            return Reply::Error(TransportError::NotBound);
        };
        let device = &mut entry.device;
        match request {
            Request::DeviceInfo => Reply::DeviceInfo(DeviceInfo {
                device_id: device.device_id(),
                vendor_id: device.vendor_id(),
                location: entry.location,
                version: device.version(),
            }),
            Request::DeviceFeatures => Reply::Features(device.device_features()),
            Request::DriverFeatures { features } => {
                let offered = device.device_features();
                let kept = device.set_driver_features(features);
                // The device takes only bits it offered; the ring format
                // follows what it took, and only if FEATURES_OK stuck.
                let packed = kept && features & offered & general::RING_PACKED.mask() != 0;
                entry.format = if packed { RingFormat::Packed } else { RingFormat::Split };
                Reply::FeaturesOk(kept)
            }
            Request::QueueMaxSize { queue } => Reply::QueueMaxSize(device.queue_max(queue)),
            Request::QueueSetup { queue, size, desc, avail, used } => {
                let Some(pending) = entry.pending.get_mut(queue as usize) else {
                    return Reply::Error(TransportError::InvalidQueue);
                };
                let ring = RingPlacement { size, desc, avail, used };
                if ring.check_inside_format(entry.format, window.0, window.1).is_err() {
                    return Reply::Error(TransportError::InvalidAddress);
                }
                *pending = Some(ring);
                Reply::Ok
            }
            Request::QueueReady { queue } => {
                let Some(Some(ring)) = entry.pending.get(queue as usize).copied() else {
                    return Reply::Error(TransportError::WrongState);
                };
                match device.setup_queue(queue, ring, entry.format) {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(device_error(e)),
                }
            }
            Request::QueueDisable { .. } => Reply::Error(TransportError::Unsupported),
            Request::ConfigRead { offset, width } => match device.config_read(offset as usize, width.bytes()) {
                Ok((value, generation)) => Reply::ConfigValue { value, generation },
                Err(e) => Reply::Error(device_error(e)),
            },
            Request::ConfigWrite { offset, width, value } => {
                match device.config_write(offset as usize, width.bytes(), value) {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(device_error(e)),
                }
            }
            Request::ConfigGeneration => Reply::Generation(device.config_generation()),
            Request::DriverOk => {
                if device.driver_ok() {
                    Reply::Ok
                } else {
                    Reply::Error(TransportError::DeviceFailed)
                }
            }
            Request::Reset => {
                device.reset_and_acknowledge();
                entry.pending = [None; MAX_QUEUES];
                entry.format = RingFormat::Split;
                Reply::Ok
            }
            Request::Status => Reply::Status(device.status()),
            Request::QueueNotify { queue } => {
                device.notify(queue);
                Reply::Ok
            }
        }
    }

    /// Driver `driver` rang its doorbell: notify the device of each queue.
    pub fn kick(&mut self, driver: usize) {
        let Some(Some(port)) = self.drivers.get(driver) else {
            return;
        };
        let kicks = port.doorbell.take_kicks();
        let Some(index) = self.bound.get(driver).copied().flatten() else {
            return;
        };
        if let Some(Some(entry)) = self.entries.get_mut(index) {
            for q in 0..32u16 {
                if kicks & (1 << q) != 0 {
                    entry.device.notify(q);
                }
            }
        }
    }

    /// Device `index` interrupted: acknowledge it, pass the causes to the
    /// bound driver's doorbell, and return the driver to notify (none for
    /// a device nobody drives, or a spurious interrupt).
    pub fn interrupt(&mut self, index: usize) -> Option<usize> {
        self.interrupt_with(index, |d| d.take_interrupt())
    }

    /// The device at `index` interrupted and `causes` says why (e.g. which
    /// MSI-X vector it used): the causes it returns are raised at the
    /// bound driver's doorbell; returns that driver, to be notified.
    pub fn interrupt_with(&mut self, index: usize, causes: impl FnOnce(&mut D) -> u32) -> Option<usize> {
        let causes = causes(&mut self.entries.get_mut(index)?.as_mut()?.device);
        let driver = self.driver_of(index)?;
        if causes == 0 {
            return None;
        }
        self.drivers[driver].as_ref()?.doorbell.raise(causes);
        Some(driver)
    }

    /// Interrupt every device that shares a line (PCI INTx): each one's
    /// causes are read and acknowledged; returns a bitmask of drivers to
    /// notify (bit k = driver k).
    pub fn interrupt_all(&mut self, mut indices: impl FnMut(usize) -> bool) -> u32 {
        let mut notify = 0;
        for index in 0..N {
            if indices(index)
                && let Some(k) = self.interrupt(index)
            {
                notify |= 1 << k;
            }
        }
        notify
    }
}

fn device_error(e: DeviceError) -> TransportError {
    match e {
        DeviceError::NoSuchQueue => TransportError::InvalidQueue,
        DeviceError::QueueInUse => TransportError::WrongState,
        DeviceError::BadQueueSize => TransportError::InvalidQueueSize,
        DeviceError::BadQueueAddress => TransportError::InvalidAddress,
        DeviceError::BadConfigAccess => TransportError::ConfigOutOfRange,
        DeviceError::ConfigUnstable | DeviceError::NoInterruptVector => TransportError::DeviceFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{DeviceOp, MockDevice};
    use sevio_sharedmem::HeapRegion;
    use sevio_transport_protocol::DriverDoorbell;
    use std::vec::Vec;

    const WINDOW: (u64, u64) = (0x5000_0000, 0x2_0000);
    const BLK: Location = Location::Mmio { slot: 31 };
    const RNG: Location = Location::Mmio { slot: 30 };

    /// A modern device `id` with one queue of up to 256.
    fn device(id: u32) -> MockDevice {
        MockDevice::new(id, 2, 1 << 32, 1, 256)
    }

    fn transport(doorbells: &[HeapRegion]) -> Transport<MockDevice, 32> {
        let mut t = Transport::new();
        assert!(t.insert(31, BLK, device(2)).is_ok());
        assert!(t.insert(30, RNG, device(4)).is_ok());
        assert!(t.insert(30, RNG, device(4)).is_err(), "index taken");
        assert!(t.insert(32, RNG, device(4)).is_err(), "index out of range");
        for (i, page) in doorbells.iter().enumerate() {
            let doorbell = TransportDoorbell::init(page.memory()).unwrap();
            t.attach_driver(i, DriverPort { doorbell, dma_window: WINDOW });
        }
        t
    }

    /// What the transport did to the device at `index`.
    fn ops(t: &Transport<MockDevice, 32>, index: usize) -> Vec<DeviceOp> {
        t.entries[index].as_ref().unwrap().device.state().ops.clone()
    }

    fn raise(t: &Transport<MockDevice, 32>, index: usize, causes: u32) {
        t.entries[index].as_ref().unwrap().device.state().interrupt_status = causes;
    }

    #[test]
    fn lists_the_devices_inserted() {
        let t = transport(&[]);
        let found: Vec<(usize, u32)> = t.devices().map(|(i, _, d)| (i, d.device_id())).collect();
        assert_eq!(found, [(30, 4), (31, 2)]);
    }

    #[test]
    fn a_driver_reaches_only_the_device_it_is_bound_to() {
        let pages = [HeapRegion::new(4096), HeapRegion::new(4096)];
        let mut t = transport(&pages);
        assert_eq!(t.handle(0, Request::DeviceFeatures), Reply::Error(TransportError::NotBound));
        assert!(t.set_binding(0, Some(BLK)));
        assert!(!t.set_binding(1, Some(Location::Mmio { slot: 5 })), "no device in slot 5");
        assert!(!t.set_binding(7, Some(RNG)), "no port for driver 7");
        assert!(!t.set_binding(9, Some(RNG)), "no driver 9 at all");
        match t.handle(0, Request::DeviceInfo) {
            Reply::DeviceInfo(info) => {
                assert_eq!((info.device_id, info.location, info.version), (2, BLK, 2))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.handle(1, Request::Reset), Reply::Error(TransportError::NotBound));
        assert!(ops(&t, 30).is_empty(), "driver 1 touched nothing");
    }

    #[test]
    fn queue_addresses_must_lie_in_the_drivers_dma_window() {
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&pages);
        t.set_binding(0, Some(BLK));
        let (base, size) = WINDOW;
        let outside = Request::QueueSetup { queue: 0, size: 128, desc: 0x1000, avail: base, used: base + 0x1000 };
        assert_eq!(t.handle(0, outside), Reply::Error(TransportError::InvalidAddress));
        let straddling =
            Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + 0x800, used: base + size - 8 };
        assert_eq!(t.handle(0, straddling), Reply::Error(TransportError::InvalidAddress));
        let wrapping = Request::QueueSetup { queue: 0, size: 128, desc: u64::MAX - 15, avail: base, used: base };
        assert_eq!(t.handle(0, wrapping), Reply::Error(TransportError::InvalidAddress));
        let high_queue = Request::QueueSetup { queue: 9, size: 128, desc: base, avail: base, used: base };
        assert_eq!(t.handle(0, high_queue), Reply::Error(TransportError::InvalidQueue));
        assert_eq!(t.handle(0, Request::QueueReady { queue: 0 }), Reply::Error(TransportError::WrongState));
        assert!(ops(&t, 31).is_empty(), "nothing reached the device");
        let good = Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + 0x800, used: base + 0x1000 };
        assert_eq!(t.handle(0, good), Reply::Ok);
        assert_eq!(t.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
        let ring = RingPlacement::new(128, base, base + 0x800, base + 0x1000);
        assert_eq!(ops(&t, 31), [DeviceOp::SetupQueue(0, ring)]);
    }

    /// The ring format follows the features the device kept: packed
    /// placements (VIRTIO 1.2 §2.8.10.1: 16n, 4 and 4 bytes) are checked as
    /// packed ones, and a reset goes back to split.
    #[test]
    fn packed_once_ring_packed_is_negotiated_split_after_a_reset() {
        let pages = [HeapRegion::new(4096)];
        let mut t = Transport::<MockDevice, 32>::new();
        let device = MockDevice::new(2, 2, 1 << 32 | 1 << 34, 1, 256);
        assert!(t.insert(31, BLK, device.clone()).is_ok());
        t.attach_driver(
            0,
            DriverPort { doorbell: TransportDoorbell::init(pages[0].memory()).unwrap(), dma_window: WINDOW },
        );
        t.set_binding(0, Some(BLK));
        let (base, size) = WINDOW;
        // The two event suppression structures in the window's last 8
        // bytes: inside as packed parts, far outside as split rings.
        let tail =
            Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + size - 8, used: base + size - 4 };
        assert_eq!(t.handle(0, Request::DriverFeatures { features: 1 << 32 }), Reply::FeaturesOk(true));
        assert_eq!(t.handle(0, tail), Reply::Error(TransportError::InvalidAddress), "split: the rings run out");
        assert_eq!(t.handle(0, Request::DriverFeatures { features: 1 << 32 | 1 << 34 }), Reply::FeaturesOk(true));
        assert_eq!(t.handle(0, tail), Reply::Ok);
        assert_eq!(t.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
        assert!(device.packed(0), "the device was set up packed");
        // Size 100 is no power of two: fine for a packed ring (§2.8.10.1).
        assert_eq!(t.handle(0, Request::Reset), Reply::Ok);
        assert_eq!(t.handle(0, Request::DriverFeatures { features: 1 << 32 | 1 << 34 }), Reply::FeaturesOk(true));
        let odd = Request::QueueSetup { queue: 0, size: 100, desc: base, avail: base + 1600, used: base + 1604 };
        assert_eq!(t.handle(0, odd), Reply::Ok);
        assert_eq!(t.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
        // After a reset the features are gone: split rules again.
        assert_eq!(t.handle(0, Request::Reset), Reply::Ok);
        assert_eq!(
            t.handle(
                0,
                Request::QueueSetup { queue: 0, size: 128, desc: base, avail: base + size - 8, used: base + size - 4 }
            ),
            Reply::Error(TransportError::InvalidAddress)
        );
    }

    #[test]
    fn unbinding_resets_the_device() {
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&pages);
        t.set_binding(0, Some(BLK));
        assert_eq!(t.handle(0, Request::DriverOk), Reply::Ok);
        assert!(t.set_binding(0, None));
        assert_eq!(ops(&t, 31), [DeviceOp::DriverOk, DeviceOp::Reset]);
        assert_eq!(t.handle(0, Request::DriverOk), Reply::Error(TransportError::NotBound));
    }

    #[test]
    fn interrupts_reach_the_bound_driver_only() {
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&pages);
        let driver = DriverDoorbell::open(pages[0].memory()).unwrap();
        raise(&t, 30, 1);
        assert_eq!(t.interrupt(30), None, "nobody drives slot 30");
        assert_eq!(ops(&t, 30), [DeviceOp::TakeInterrupt], "still acknowledged at the device");
        t.set_binding(0, Some(BLK));
        assert_eq!(t.interrupt(31), None, "spurious: no cause");
        raise(&t, 31, 3);
        assert_eq!(t.interrupt(31), Some(0));
        assert_eq!(driver.take_interrupts(), 3);
        assert_eq!(t.interrupt(4), None, "empty slot");
        raise(&t, 31, 1);
        assert_eq!(t.interrupt_all(|i| i >= 30), 1 << 0);
    }

    #[test]
    fn causes_the_caller_knows_reach_the_bound_driver_without_asking_the_device() {
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&pages);
        let driver = DriverDoorbell::open(pages[0].memory()).unwrap();
        assert_eq!(t.interrupt_with(31, |_| 1), None, "unbound");
        t.set_binding(0, Some(BLK));
        assert_eq!(t.interrupt_with(31, |_| 0), None, "no cause, nobody told");
        assert_eq!(t.interrupt_with(31, |_| 1), Some(0));
        assert_eq!(driver.take_interrupts(), 1);
        assert!(ops(&t, 31).is_empty(), "the device was not read (an MSI-X queue vector)");
        assert_eq!(t.interrupt_with(4, |_| 1), None, "empty slot");
    }

    #[test]
    fn kicks_become_queue_notifies() {
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&pages);
        let driver = DriverDoorbell::open(pages[0].memory()).unwrap();
        driver.ring(DriverDoorbell::queue_bit(0) | DriverDoorbell::queue_bit(2));
        t.kick(0);
        assert!(ops(&t, 31).is_empty(), "unbound: the kick goes nowhere");
        t.set_binding(0, Some(BLK));
        assert_eq!(t.handle(0, Request::DriverOk), Reply::Ok, "a device is kicked only once live");
        driver.ring(DriverDoorbell::queue_bit(0) | DriverDoorbell::queue_bit(2));
        t.kick(0);
        assert_eq!(t.handle(0, Request::QueueNotify { queue: 1 }), Reply::Ok);
        let notifies = [DeviceOp::Notify(0), DeviceOp::Notify(2), DeviceOp::Notify(1)];
        assert_eq!(ops(&t, 31)[1..], notifies);
    }
}
