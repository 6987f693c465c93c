//! The transport's logic: which driver may touch which slot, and what a
//! driver's request does to the device. No syscalls here; `main.rs` feeds
//! it PPCs, IRQs and notifications and performs the notifies it asks for.

use crate::slot::{Probe, Registers, Slot, SlotError};
use sevio_transport_protocol::{DeviceInfo, Location, Reply, Request, TransportDoorbell, TransportError};
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
                Slot::probe(regs(i)).map(|(slot, probe)| SlotEntry { slot, probe, pending: [None; MAX_QUEUES] })
            }),
            drivers: core::array::from_fn(|_| None),
            bound: [None; MAX_DRIVERS],
        }
    }

    /// The devices found: (slot index, probe).
    pub fn devices(&self) -> impl Iterator<Item = (usize, Probe)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|e| (i, e.probe)))
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
        let Some(current) = self.bound.get(driver).copied() else { return false };
        let valid = match slot {
            None => true,
            Some(s) => self.drivers[driver].is_some() && self.slots.get(s).is_some_and(|e| e.is_some()),
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
        let Some(slot_index) = self.binding(driver) else { return Reply::Error(TransportError::NotBound) };
        let Some(window) = self.drivers.get(driver).and_then(|d| d.as_ref()).map(|d| d.dma_window) else {
            return Reply::Error(TransportError::NotBound);
        };
        let Some(Some(entry)) = self.slots.get_mut(slot_index) else {
            return Reply::Error(TransportError::NotBound);
        };
        match request {
            Request::DeviceInfo => Reply::DeviceInfo(DeviceInfo {
                device_id: entry.probe.device_id,
                vendor_id: entry.probe.vendor_id,
                location: Location::Mmio { slot: slot_index as u32 },
                version: match entry.probe.version {
                    Version::Legacy => 1,
                    Version::Modern => 2,
                },
            }),
            Request::DeviceFeatures => Reply::Features(entry.slot.device_features()),
            Request::DriverFeatures { features } => Reply::FeaturesOk(entry.slot.set_driver_features(features)),
            Request::QueueMaxSize { queue } => Reply::QueueMaxSize(entry.slot.queue_max(queue)),
            Request::QueueSetup { queue, size, desc, avail, used } => {
                let Some(pending) = entry.pending.get_mut(queue as usize) else {
                    return Reply::Error(TransportError::InvalidQueue);
                };
                let inside = |addr: u64, len: u64| {
                    addr >= window.0 && addr.checked_add(len).is_some_and(|end| end <= window.0 + window.1)
                };
                let n = size as u64;
                if !(inside(desc, 16 * n) && inside(avail, 6 + 2 * n) && inside(used, 6 + 8 * n)) {
                    return Reply::Error(TransportError::InvalidAddress);
                }
                *pending = Some(QueueParams { size, desc, avail, used });
                Reply::Ok
            }
            Request::QueueReady { queue } => {
                let Some(Some(p)) = entry.pending.get(queue as usize).copied() else {
                    return Reply::Error(TransportError::WrongState);
                };
                match entry.slot.setup_queue(queue, p.size, p.desc, p.avail, p.used) {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(slot_error(e)),
                }
            }
            Request::QueueDisable { .. } => Reply::Error(TransportError::Unsupported),
            Request::ConfigRead { offset, width } => match entry.slot.config_read(offset as usize, width.bytes()) {
                Ok((value, generation)) => Reply::ConfigValue { value, generation },
                Err(e) => Reply::Error(slot_error(e)),
            },
            Request::ConfigWrite { offset, width, value } => {
                match entry.slot.config_write(offset as usize, width.bytes(), value) {
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
        let Some(slot) = self.binding(driver) else { return };
        let Some(Some(port)) = self.drivers.get(driver) else { return };
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
        let Some(Some(entry)) = self.slots.get(slot) else { return None };
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
