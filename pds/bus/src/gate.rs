//! The IOMMU gate: with an IOMMU in the system, a PCI device's binding
//! is published only once the IOMMU PD has confined the device's DMA to
//! its driver's regions, and its confinement is released when the
//! binding ends. The IOMMU's own binding is never gated (it confines the
//! others).
//!
//! The requests go out through [`BusSide`] (see `sevio_bus_protocol::
//! confine` for why a shared page and not a PPC); this type keeps, per
//! driver, which request is outstanding and whether the binding it holds
//! now is confined.

use sevio_bus_protocol::confine::{BusSide, Outcome, SLOTS, Wish};
use sevio_bus_protocol::{Binding, DriverId, Location};
use sevio_virtio::DeviceId;

/// One driver's confinement.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Slot {
    /// The endpoint confined for the driver's current binding, once the
    /// IOMMU PD said so.
    confined: Option<u16>,
    /// Faults of the slot's device already acted on.
    faults_seen: u64,
}

/// What an answer from the IOMMU PD changes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Driver's device confined: its binding may be published.
    Confined(DriverId, u16),
    /// The IOMMU PD could not confine it: the binding stays unpublished.
    Refused(DriverId, u16),
    /// The driver's device made an access the IOMMU refused.
    DeviceFault {
        /// Whose device.
        driver: DriverId,
        /// The address, if the IOMMU reported one.
        address: Option<u64>,
        /// The IOMMU's fault flags.
        flags: u64,
    },
}

/// The gate.
pub struct Gate {
    side: BusSide,
    /// Request numbers, shared by all slots (never 0).
    next_seq: u32,
    slots: [Slot; SLOTS],
}

impl Gate {
    /// A gate over the confinement pages.
    pub fn new(side: BusSide) -> Gate {
        Gate { side, next_seq: 1, slots: [Slot::default(); SLOTS] }
    }

    /// Whether `binding` goes through the IOMMU: a PCI device other than
    /// the IOMMU itself. (virtio-mmio devices on QEMU arm virt sit behind
    /// no IOMMU; the gate cannot help them.)
    pub fn gates(binding: &Binding) -> bool {
        matches!(binding.location, Location::Pci(_)) && binding.device_id != DeviceId::IOMMU.0
    }

    fn endpoint(binding: &Binding) -> Option<u16> {
        match binding.location {
            Location::Pci(bdf) => bdf.to_u16(),
            _ => None,
        }
    }

    /// Whether `binding` may be in the published table now.
    pub fn publishes(&self, binding: &Binding) -> bool {
        if !Self::gates(binding) {
            return true;
        }
        let slot = self.slots.get(binding.driver.0 as usize);
        slot.is_some_and(|s| s.confined.is_some() && s.confined == Self::endpoint(binding))
    }

    fn seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.checked_add(1).unwrap_or(1);
        seq
    }

    /// The matcher bound `binding`: ask for it to be confined. Returns
    /// whether the IOMMU PD must be notified (false for ungated bindings
    /// and drivers past the page's slots, which then never publish).
    pub fn bound(&mut self, binding: &Binding) -> bool {
        let (Some(endpoint), true) = (Self::endpoint(binding), Self::gates(binding)) else { return false };
        let index = binding.driver.0 as usize;
        if index >= SLOTS {
            return false;
        }
        let seq = self.seq();
        self.slots[index].confined = None;
        self.side.wish(index, Wish::Confine { seq, endpoint });
        true
    }

    /// The matcher unbound `binding`: its device loses its mappings.
    /// Returns whether the IOMMU PD must be notified.
    pub fn unbound(&mut self, binding: &Binding) -> bool {
        let (Some(endpoint), true) = (Self::endpoint(binding), Self::gates(binding)) else { return false };
        let index = binding.driver.0 as usize;
        if index >= SLOTS {
            return false;
        }
        let seq = self.seq();
        self.slots[index].confined = None;
        self.side.wish(index, Wish::Release { seq, endpoint });
        true
    }

    /// Read the IOMMU PD's answers and report what changed into `out`
    /// (at most one confinement event and one fault per slot).
    pub fn collect(&mut self, mut out: impl FnMut(Event)) {
        for index in 0..SLOTS {
            let (confinement, fault) = self.collect_slot(index);
            confinement.into_iter().chain(fault).for_each(&mut out);
        }
    }

    /// What changed in slot `index`: a confinement event, a fault event.
    pub fn collect_slot(&mut self, index: usize) -> (Option<Event>, Option<Event>) {
        let (Some(answer), Some(slot)) = (self.side.answer(index), self.slots.get_mut(index)) else {
            return (None, None);
        };
        let driver = DriverId(index as u8);
        let mut confinement = None;
        if let (Wish::Confine { seq, endpoint }, Some((answered, outcome))) = (self.side.current(index), answer.latest)
            && answered == seq
            && slot.confined.is_none()
        {
            match outcome {
                Outcome::Confined => {
                    slot.confined = Some(endpoint);
                    confinement = Some(Event::Confined(driver, endpoint));
                }
                Outcome::Refused => confinement = Some(Event::Refused(driver, endpoint)),
                Outcome::Released => {}
            }
        }
        let mut fault = None;
        if answer.faults != slot.faults_seen {
            slot.faults_seen = answer.faults;
            fault = Some(Event::DeviceFault { driver, address: answer.fault_address, flags: answer.fault_flags });
        }
        (confinement, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::confine::IommuSide;
    use sevio_bus_protocol::{Bdf, TransportId};
    use sevio_sharedmem::HeapRegion;
    use std::vec::Vec;

    fn pci(driver: u8, device: u8, device_id: u32) -> Binding {
        Binding {
            driver: DriverId(driver),
            transport: TransportId(1),
            location: Location::Pci(Bdf { bus: 0, device, function: 0 }),
            device_id,
            vendor_id: 0x1af4,
        }
    }

    #[test]
    fn a_pci_binding_publishes_only_once_confined_and_faults_are_reported_once() {
        let (requests, answers) = (HeapRegion::new(4096), HeapRegion::new(4096));
        let iommu = IommuSide::new(requests.memory(), answers.memory()).unwrap();
        let mut gate = Gate::new(BusSide::new(requests.memory(), answers.memory()).unwrap());
        let blk = pci(0, 2, 2);
        let own = pci(1, 1, DeviceId::IOMMU.0);
        let mmio = Binding { location: Location::Mmio { slot: 3 }, ..blk };
        assert!(gate.publishes(&own) && gate.publishes(&mmio), "the IOMMU itself and mmio are not gated");
        assert!(!gate.bound(&own));
        assert!(gate.bound(&blk));
        assert!(!gate.publishes(&blk));
        let Some(Wish::Confine { seq, endpoint: 0x10 }) = iommu.wish(0) else { panic!("{:?}", iommu.wish(0)) };
        let mut events = Vec::new();
        gate.collect(|e| events.push(e));
        assert!(events.is_empty(), "nothing answered yet");
        iommu.answer(0, seq, Outcome::Confined);
        gate.collect(|e| events.push(e));
        assert_eq!(events, [Event::Confined(DriverId(0), 0x10)]);
        assert!(gate.publishes(&blk));
        gate.collect(|e| events.push(e));
        assert_eq!(events.len(), 1, "an answer is acted on once");
        iommu.fault(0, Some(0x4900_0000), 2);
        gate.collect(|e| events.push(e));
        assert_eq!(events[1], Event::DeviceFault { driver: DriverId(0), address: Some(0x4900_0000), flags: 2 });
        assert!(gate.unbound(&blk));
        assert!(!gate.publishes(&blk));
        assert!(matches!(iommu.wish(0), Some(Wish::Release { endpoint: 0x10, .. })));
    }

    #[test]
    fn a_stale_or_refused_answer_never_publishes() {
        let (requests, answers) = (HeapRegion::new(4096), HeapRegion::new(4096));
        let iommu = IommuSide::new(requests.memory(), answers.memory()).unwrap();
        let mut gate = Gate::new(BusSide::new(requests.memory(), answers.memory()).unwrap());
        let blk = pci(0, 2, 2);
        gate.bound(&blk);
        let first = iommu.wish(0).unwrap().seq();
        gate.unbound(&blk);
        gate.bound(&blk);
        let third = iommu.wish(0).unwrap().seq();
        iommu.answer(0, first, Outcome::Confined);
        let mut events = Vec::new();
        gate.collect(|e| events.push(e));
        assert!(events.is_empty() && !gate.publishes(&blk), "an answer to an older request");
        iommu.answer(0, third, Outcome::Refused);
        gate.collect(|e| events.push(e));
        assert_eq!(events, [Event::Refused(DriverId(0), 0x10)]);
        assert!(!gate.publishes(&blk));
        let moved = pci(0, 3, 2);
        iommu.answer(0, third, Outcome::Confined);
        gate.collect(|_| {});
        assert!(gate.publishes(&blk) && !gate.publishes(&moved), "confined for one endpoint only");
    }
}
