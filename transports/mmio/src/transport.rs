//! The transport's logic: which driver may touch which slot, and what a
//! driver's request does to the device. No syscalls here; `main.rs` feeds
//! it PPCs, IRQs and notifications and performs the notifies it asks for.

use crate::slot::{Probe, Registers, Slot, SlotError};
use sevio_transport_protocol::{
    DeviceInfo, Location, Reply, Request, TransportDoorbell, TransportError,
};
use sevio_virtio::mmio::Version;

/// virtio-mmio slots on QEMU arm virt.
pub const SLOTS: usize = 32;
/// Driver channels a transport serves.
pub const MAX_DRIVERS: usize = 8;
/// Queues per device a transport keeps setup state for.
pub const MAX_QUEUES: usize = 8;

/// A queue's addresses, given by QueueSetup and applied by QueueReady.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct QueueParams {
    size: u16,
    desc: u64,
    avail: u64,
    used: u64,
}

struct SlotEntry<R> {
    slot: Slot<R>,
    probe: Probe,
    pending: [Option<QueueParams>; MAX_QUEUES],
}

/// What the transport knows about one driver channel.
pub struct DriverPort {
    /// The driver's doorbell page.
    pub doorbell: TransportDoorbell,
    /// Physical range the driver's queues must lie in (its DMA region).
    pub dma_window: (u64, u64),
}

/// The transport: probed slots, driver ports and the bus's bindings.
pub struct MmioTransport<R> {
    slots: [Option<SlotEntry<R>>; SLOTS],
    drivers: [Option<DriverPort>; MAX_DRIVERS],
    bound: [Option<u8>; MAX_DRIVERS],
}

impl<R: Registers> MmioTransport<R> {
    /// Probe every slot through `regs(i)`; slots with no device stay empty.
    pub fn probe(mut regs: impl FnMut(usize) -> R) -> Self {
        MmioTransport {
            slots: core::array::from_fn(|i| {
                Slot::probe(regs(i)).map(|(slot, probe)| SlotEntry {
                    slot,
                    probe,
                    pending: [None; MAX_QUEUES],
                })
            }),
            drivers: core::array::from_fn(|_| None),
            bound: [None; MAX_DRIVERS],
        }
    }

    /// The devices found: (slot index, probe).
    pub fn devices(&self) -> impl Iterator<Item = (usize, Probe)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|e| (i, e.probe)))
    }

    /// Attach driver `index`'s port (done once at init).
    pub fn attach_driver(&mut self, index: usize, port: DriverPort) {
        if let Some(d) = self.drivers.get_mut(index) {
            *d = Some(port);
        }
    }

    /// The bus bound driver `driver` to `slot` (or unbound it). A slot a
    /// driver loses is reset so the device stops using that driver's
    /// memory. Returns false for a binding that names no device or no
    /// driver port.
    pub fn set_binding(&mut self, driver: usize, slot: Option<usize>) -> bool {
        let Some(current) = self.bound.get(driver).copied() else {
            return false;
        };
        let valid = match slot {
            None => true,
            Some(s) => {
                self.drivers[driver].is_some() && self.slots.get(s).is_some_and(|e| e.is_some())
            }
        };
        if !valid {
            return false;
        }
        let new = slot.map(|s| s as u8);
        if current != new {
            if let Some(old) = current {
                self.reset_slot(old as usize);
            }
            self.bound[driver] = new;
        }
        true
    }

    /// The slot driver `driver` is bound to.
    pub fn binding(&self, driver: usize) -> Option<usize> {
        self.bound.get(driver).copied().flatten().map(usize::from)
    }

    fn reset_slot(&mut self, slot: usize) {
        if let Some(Some(entry)) = self.slots.get_mut(slot) {
            entry.slot.reset();
            entry.pending = [None; MAX_QUEUES];
        }
    }

    fn driver_of(&self, slot: usize) -> Option<usize> {
        self.bound.iter().position(|b| *b == Some(slot as u8))
    }

    /// Serve one request of driver `driver`. Requests of a driver the bus
    /// has not bound are refused: a driver reaches only its own device.
    pub fn handle(&mut self, driver: usize, request: Request) -> Reply {
        let Some(slot_index) = self.binding(driver) else {
            return Reply::Error(TransportError::NotBound);
        };
        let Some(window) = self
            .drivers
            .get(driver)
            .and_then(|d| d.as_ref())
            .map(|d| d.dma_window)
        else {
            return Reply::Error(TransportError::NotBound);
        };
        let Some(Some(entry)) = self.slots.get_mut(slot_index) else {
            return Reply::Error(TransportError::NotBound);
        };
        match request {
            Request::DeviceInfo => Reply::DeviceInfo(DeviceInfo {
                device_id: entry.probe.device_id,
                vendor_id: entry.probe.vendor_id,
                location: Location::Mmio {
                    slot: slot_index as u32,
                },
                version: match entry.probe.version {
                    Version::Legacy => 1,
                    Version::Modern => 2,
                },
            }),
            Request::DeviceFeatures => Reply::Features(entry.slot.device_features()),
            Request::DriverFeatures { features } => {
                Reply::FeaturesOk(entry.slot.set_driver_features(features))
            }
            Request::QueueMaxSize { queue } => Reply::QueueMaxSize(entry.slot.queue_max(queue)),
            Request::QueueSetup {
                queue,
                size,
                desc,
                avail,
                used,
            } => {
                let Some(pending) = entry.pending.get_mut(queue as usize) else {
                    return Reply::Error(TransportError::InvalidQueue);
                };
                let inside = |addr: u64, len: u64| {
                    addr >= window.0
                        && addr
                            .checked_add(len)
                            .is_some_and(|end| end <= window.0 + window.1)
                };
                let n = size as u64;
                if !(inside(desc, 16 * n) && inside(avail, 6 + 2 * n) && inside(used, 6 + 8 * n)) {
                    return Reply::Error(TransportError::InvalidAddress);
                }
                *pending = Some(QueueParams {
                    size,
                    desc,
                    avail,
                    used,
                });
                Reply::Ok
            }
            Request::QueueReady { queue } => {
                let Some(Some(p)) = entry.pending.get(queue as usize).copied() else {
                    return Reply::Error(TransportError::WrongState);
                };
                match entry
                    .slot
                    .setup_queue(queue, p.size, p.desc, p.avail, p.used)
                {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(slot_error(e)),
                }
            }
            Request::QueueDisable { .. } => Reply::Error(TransportError::Unsupported),
            Request::ConfigRead { offset, width } => {
                match entry.slot.config_read(offset as usize, width.bytes()) {
                    Ok((value, generation)) => Reply::ConfigValue { value, generation },
                    Err(e) => Reply::Error(slot_error(e)),
                }
            }
            Request::ConfigWrite {
                offset,
                width,
                value,
            } => {
                match entry
                    .slot
                    .config_write(offset as usize, width.bytes(), value)
                {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(slot_error(e)),
                }
            }
            Request::ConfigGeneration => match entry.slot.config_read(0, 1) {
                Ok((_, generation)) => Reply::Generation(generation),
                Err(e) => Reply::Error(slot_error(e)),
            },
            Request::DriverOk => {
                if entry.slot.driver_ok() {
                    Reply::Ok
                } else {
                    Reply::Error(TransportError::DeviceFailed)
                }
            }
            Request::Reset => {
                entry.slot.reset_and_acknowledge();
                entry.pending = [None; MAX_QUEUES];
                Reply::Ok
            }
            Request::Status => Reply::Status(entry.slot.status_byte()),
            Request::QueueNotify { queue } => {
                entry.slot.notify(queue);
                Reply::Ok
            }
        }
    }

    /// Driver `driver` rang its doorbell: notify the device of each queue.
    pub fn kick(&mut self, driver: usize) {
        let Some(slot) = self.binding(driver) else {
            return;
        };
        let Some(Some(port)) = self.drivers.get(driver) else {
            return;
        };
        let kicks = port.doorbell.take_kicks();
        if let Some(Some(entry)) = self.slots.get(slot) {
            for q in 0..32u16 {
                if kicks & (1 << q) != 0 {
                    entry.slot.notify(q);
                }
            }
        }
    }

    /// The IRQ of `slot` fired: acknowledge the device, pass the causes to
    /// the bound driver's doorbell, and return the driver to notify (none
    /// for an interrupt of a device nobody drives, or a spurious one).
    pub fn interrupt(&mut self, slot: usize) -> Option<usize> {
        let Some(Some(entry)) = self.slots.get(slot) else {
            return None;
        };
        let causes = entry.slot.take_interrupt();
        let driver = self.driver_of(slot)?;
        if causes == 0 {
            return None;
        }
        self.drivers[driver].as_ref()?.doorbell.raise(causes);
        Some(driver)
    }
}

fn slot_error(e: SlotError) -> TransportError {
    match e {
        SlotError::NoSuchQueue => TransportError::InvalidQueue,
        SlotError::QueueInUse => TransportError::WrongState,
        SlotError::BadQueueSize => TransportError::InvalidQueueSize,
        SlotError::BadQueueAddress => TransportError::InvalidAddress,
        SlotError::BadConfigAccess => TransportError::ConfigOutOfRange,
        SlotError::ConfigUnstable => TransportError::DeviceFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::fake::FakeSlot;
    use sevio_sharedmem::HeapRegion;
    use sevio_transport_protocol::DriverDoorbell;
    use sevio_virtio::mmio::reg;
    use std::vec::Vec;

    const WINDOW: (u64, u64) = (0x5000_0000, 0x2_0000);

    /// 32 slots: a modern blk at 31, a legacy rng at 30, nothing else.
    fn slots() -> Vec<FakeSlot> {
        (0..SLOTS)
            .map(|i| match i {
                31 => FakeSlot::new(2, 2),
                30 => FakeSlot::new(1, 4),
                _ => FakeSlot::new(2, 0),
            })
            .collect()
    }

    fn transport<'a>(
        fakes: &'a [FakeSlot],
        doorbells: &[HeapRegion],
    ) -> MmioTransport<&'a FakeSlot> {
        let mut t = MmioTransport::probe(|i| &fakes[i]);
        for (i, page) in doorbells.iter().enumerate() {
            let doorbell = TransportDoorbell::init(page.memory()).unwrap();
            t.attach_driver(
                i,
                DriverPort {
                    doorbell,
                    dma_window: WINDOW,
                },
            );
        }
        t
    }

    #[test]
    fn finds_exactly_the_devices_present() {
        let fakes = slots();
        let t = transport(&fakes, &[]);
        let found: Vec<(usize, u32)> = t.devices().map(|(i, p)| (i, p.device_id)).collect();
        assert_eq!(found, [(30, 4), (31, 2)]);
    }

    #[test]
    fn a_driver_reaches_only_the_device_it_is_bound_to() {
        let fakes = slots();
        let pages = [HeapRegion::new(4096), HeapRegion::new(4096)];
        let mut t = transport(&fakes, &pages);
        assert_eq!(
            t.handle(0, Request::DeviceFeatures),
            Reply::Error(TransportError::NotBound)
        );
        assert!(t.set_binding(0, Some(31)));
        assert!(!t.set_binding(1, Some(5)), "no device in slot 5");
        assert!(!t.set_binding(7, Some(30)), "no port for driver 7");
        match t.handle(0, Request::DeviceInfo) {
            Reply::DeviceInfo(info) => {
                assert_eq!(
                    (info.device_id, info.location, info.version),
                    (2, Location::Mmio { slot: 31 }, 2)
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.handle(1, Request::Reset),
            Reply::Error(TransportError::NotBound)
        );
        assert!(
            fakes[30].writes.borrow().is_empty(),
            "driver 1 touched nothing"
        );
    }

    #[test]
    fn queue_addresses_must_lie_in_the_drivers_dma_window() {
        let fakes = slots();
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&fakes, &pages);
        t.set_binding(0, Some(31));
        let (base, size) = WINDOW;
        let outside = Request::QueueSetup {
            queue: 0,
            size: 128,
            desc: 0x1000,
            avail: base,
            used: base + 0x1000,
        };
        assert_eq!(
            t.handle(0, outside),
            Reply::Error(TransportError::InvalidAddress)
        );
        let straddling = Request::QueueSetup {
            queue: 0,
            size: 128,
            desc: base,
            avail: base + 0x800,
            used: base + size - 8,
        };
        assert_eq!(
            t.handle(0, straddling),
            Reply::Error(TransportError::InvalidAddress)
        );
        assert_eq!(
            t.handle(0, Request::QueueReady { queue: 0 }),
            Reply::Error(TransportError::WrongState)
        );
        let good = Request::QueueSetup {
            queue: 0,
            size: 128,
            desc: base,
            avail: base + 0x800,
            used: base + 0x1000,
        };
        assert_eq!(t.handle(0, good), Reply::Ok);
        assert_eq!(t.handle(0, Request::QueueReady { queue: 0 }), Reply::Ok);
        assert_eq!(fakes[31].written(reg::QUEUE_DESC_LOW), [base as u32]);
        assert_eq!(fakes[31].written(reg::QUEUE_READY), [1]);
    }

    #[test]
    fn unbinding_resets_the_device() {
        let fakes = slots();
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&fakes, &pages);
        t.set_binding(0, Some(31));
        assert_eq!(t.handle(0, Request::DriverOk), Reply::Ok);
        assert!(t.set_binding(0, None));
        assert_eq!(
            fakes[31].written(reg::STATUS).last(),
            Some(&0),
            "reset on unbind"
        );
        assert_eq!(
            t.handle(0, Request::DriverOk),
            Reply::Error(TransportError::NotBound)
        );
    }

    #[test]
    fn interrupts_reach_the_bound_driver_only() {
        let fakes = slots();
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&fakes, &pages);
        let driver = DriverDoorbell::open(pages[0].memory()).unwrap();
        fakes[30].regs.borrow_mut()[reg::INTERRUPT_STATUS / 4] = 1;
        assert_eq!(t.interrupt(30), None, "nobody drives slot 30");
        assert_eq!(
            fakes[30].written(reg::INTERRUPT_ACK),
            [1],
            "still acknowledged at the device"
        );
        t.set_binding(0, Some(31));
        assert_eq!(t.interrupt(31), None, "spurious: no cause");
        fakes[31].regs.borrow_mut()[reg::INTERRUPT_STATUS / 4] = 3;
        assert_eq!(t.interrupt(31), Some(0));
        assert_eq!(driver.take_interrupts(), 3);
        assert_eq!(t.interrupt(4), None, "empty slot");
    }

    #[test]
    fn kicks_become_queue_notifies() {
        let fakes = slots();
        let pages = [HeapRegion::new(4096)];
        let mut t = transport(&fakes, &pages);
        let driver = DriverDoorbell::open(pages[0].memory()).unwrap();
        driver.ring(DriverDoorbell::queue_bit(0) | DriverDoorbell::queue_bit(2));
        t.kick(0);
        assert!(
            fakes[31].written(reg::QUEUE_NOTIFY).is_empty(),
            "unbound: the kick goes nowhere"
        );
        t.set_binding(0, Some(31));
        driver.ring(DriverDoorbell::queue_bit(0) | DriverDoorbell::queue_bit(2));
        t.kick(0);
        assert_eq!(fakes[31].written(reg::QUEUE_NOTIFY), [0, 2]);
        assert_eq!(t.handle(0, Request::QueueNotify { queue: 1 }), Reply::Ok);
        assert_eq!(fakes[31].written(reg::QUEUE_NOTIFY), [0, 2, 1]);
    }
}
