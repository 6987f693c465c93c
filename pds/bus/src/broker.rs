//! The bus's logic: who may say what, the matcher, the binding table, and
//! the log a person reads to see what got bound. No syscalls: the PD shell
//! performs the notifications this returns.

use crate::gate::{Event, Gate};
use core::fmt::Write;
use sevio_bus_protocol::{
    Action, BusError, BusReply, BusRequest, DriverId, Location, MatchError, Matcher, TableWriter, TransportId,
};
use sevio_virtio::DeviceId;

/// Devices, drivers and (driver, transport) rules the bus holds.
pub type BusMatcher = Matcher<64, 16, 32>;

/// How a transport's locations read in the log.
#[derive(Copy, Clone, Debug)]
pub enum TransportKindInfo {
    /// virtio-mmio: slot `i` has its registers at `base + i * stride` and
    /// interrupt `irq_base + i`.
    Mmio {
        /// Physical address of slot 0.
        base: u64,
        /// Bytes between slots.
        stride: u64,
        /// GIC INTID of slot 0.
        irq_base: u32,
    },
    /// PCI: locations are bus/device/function.
    Pci,
    /// remoteproc: locations are resource-table entries.
    Rproc,
}

/// A transport the bus talks to: its channel bit and id.
#[derive(Copy, Clone, Debug)]
pub struct TransportPort {
    /// Channel id on the bus side.
    pub channel: u8,
    /// The id it reports devices under.
    pub id: TransportId,
    /// For the log.
    pub kind: TransportKindInfo,
}

/// A driver the bus talks to.
#[derive(Copy, Clone, Debug)]
pub struct DriverPort {
    /// Channel id on the bus side.
    pub channel: u8,
    /// Its id.
    pub id: DriverId,
}

/// What a PPC to the bus produced.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The reply to the caller.
    pub reply: BusReply,
    /// Channels (bus-side ids) to notify: bit i = channel i.
    pub notify: u64,
}

/// The bus.
pub struct Broker {
    matcher: BusMatcher,
    table: TableWriter,
    transports: &'static [TransportPort],
    drivers: &'static [DriverPort],
    /// With an IOMMU: the gate PCI bindings pass, and the bus-side
    /// channel of the IOMMU PD's confinement requests.
    iommu: Option<(Gate, u8)>,
}

/// A device fault the IOMMU reported, for the PD to handle as a driver
/// fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DmaFault {
    /// Whose device.
    pub driver: DriverId,
    /// The address its device used, if the IOMMU reported one.
    pub address: Option<u64>,
    /// The IOMMU's fault flags (VIRTIO 1.2 §5.13.6.7: read 1, write 2).
    pub flags: u64,
}

impl Broker {
    /// A broker over `table` for these transports and drivers.
    pub fn new(
        table: TableWriter,
        transports: &'static [TransportPort],
        drivers: &'static [DriverPort],
    ) -> Result<Self, MatchError> {
        // No driver may bind anywhere until a transport says it has a
        // channel to it (ServesDrivers): system.xml decides who can reach
        // whom, and only the transport can see its own channels.
        Ok(Broker { matcher: BusMatcher::new(&[])?, table, transports, drivers, iommu: None })
    }

    /// Gate PCI bindings through an IOMMU: each is published only once
    /// the IOMMU PD (notified on bus-side channel `channel`) confined its
    /// device's DMA.
    pub fn with_iommu(mut self, gate: Gate, channel: u8) -> Self {
        self.iommu = Some((gate, channel));
        self
    }

    /// Write the bindings that may be published (all of them, less
    /// those still waiting for the IOMMU).
    fn publish(&mut self) -> Result<u32, sevio_bus_protocol::TableError> {
        let gate = self.iommu.as_ref().map(|(g, _)| g);
        self.table.write(self.matcher.bindings().filter(move |b| gate.is_none_or(|g| g.publishes(b))))
    }

    /// The IOMMU PD answered: publish what it confined, log what it
    /// refused, and hand each device fault it reported to `on_fault`.
    /// Returns the channels to notify.
    pub fn iommu_answered(&mut self, log: &mut impl Write, mut on_fault: impl FnMut(DmaFault)) -> u64 {
        let mut notify = 0;
        let mut republish = false;
        // Slot by slot, with nothing buffered: the bus's stack is small.
        for index in 0..sevio_bus_protocol::confine::SLOTS {
            let Some((gate, _)) = &mut self.iommu else { return 0 };
            let (confinement, fault) = gate.collect_slot(index);
            for event in confinement.into_iter().chain(fault) {
                match event {
                    Event::Confined(driver, _) | Event::Refused(driver, _) => {
                        let Some(b) = self.matcher.binding_of(driver) else { continue };
                        let Some(t) = self.transports.iter().find(|t| t.id == b.transport) else { continue };
                        let at = DeviceAt { transport: t, location: b.location, device_id: b.device_id };
                        if let Event::Refused(..) = event {
                            let _ = writeln!(
                                log,
                                "bus: {} not bound to {at}: the IOMMU could not confine it",
                                self.driver_name(driver)
                            );
                            continue;
                        }
                        let _ = writeln!(log, "bus: {} <- {at} (DMA confined by the IOMMU)", self.driver_name(driver));
                        republish = true;
                        notify |= 1 << t.channel;
                        if let Some(d) = self.drivers.iter().find(|d| d.id == driver) {
                            notify |= 1 << d.channel;
                        }
                    }
                    Event::DeviceFault { driver, address, flags } => on_fault(DmaFault { driver, address, flags }),
                }
            }
        }
        if republish && self.publish().is_err() {
            let _ = writeln!(log, "bus: binding table full; bindings not published");
            return 0;
        }
        notify
    }

    /// Handle a request that arrived on bus-side channel `channel`. Who
    /// may send what is fixed by the channel: only a transport reports
    /// devices, under its own id; only a driver registers, as itself.
    pub fn handle(&mut self, channel: u8, request: &BusRequest, log: &mut impl Write) -> Outcome {
        let transport = self.transports.iter().find(|t| t.channel == channel);
        let driver = self.drivers.iter().find(|d| d.channel == channel);
        let result = match (request, transport, driver) {
            (BusRequest::DeviceFound { transport: id, location, device_id, vendor_id }, Some(t), _) if *id == t.id => {
                let r = self.matcher.device_found(*id, *location, *device_id, *vendor_id);
                if let Ok(actions) = &r
                    && actions.is_empty()
                {
                    let _ = writeln!(
                        log,
                        "bus: {} has no driver (yet)",
                        DeviceAt { transport: t, location: *location, device_id: *device_id }
                    );
                }
                r
            }
            (BusRequest::DeviceGone { transport: id, location }, Some(t), _) if *id == t.id => {
                self.matcher.device_gone(*id, *location)
            }
            (BusRequest::ServesDrivers { transport: id, drivers }, Some(t), _) if *id == t.id => {
                // Each allowance may bind; publish as we go (one
                // operation's actions are bounded, a whole mask's are not).
                let mut notify = 0;
                for d in self.drivers.iter().filter(|d| d.id.0 < 64 && drivers & (1 << d.id.0) != 0) {
                    match self.matcher.allow(d.id, t.id) {
                        Ok(actions) => notify |= self.apply(&actions, log),
                        Err(e) => return Outcome { reply: BusReply::Error(bus_error(e)), notify },
                    }
                }
                return Outcome { reply: BusReply::Ok, notify };
            }
            (BusRequest::RegisterDriver { device_ids }, None, Some(d)) => {
                let r = self.matcher.register_driver(d.id, device_ids);
                if let Ok(actions) = &r
                    && actions.is_empty()
                {
                    let _ = writeln!(log, "bus: {} waits for a device", self.driver_name(d.id));
                }
                r
            }
            _ => {
                return Outcome { reply: BusReply::Error(BusError::NotPermitted), notify: 0 };
            }
        };
        let reply = match (request, driver) {
            (BusRequest::RegisterDriver { .. }, Some(d)) => BusReply::Registered { driver: d.id },
            _ => BusReply::Ok,
        };
        match result {
            Ok(actions) => {
                let notify = self.apply(&actions, log);
                Outcome { reply, notify }
            }
            Err(e) => Outcome { reply: BusReply::Error(bus_error(e)), notify: 0 },
        }
    }

    /// Driver `driver` faulted: unbind it (its transport resets the
    /// device when it sees the binding gone).
    pub fn driver_fault(&mut self, driver: DriverId, log: &mut impl Write) -> u64 {
        match self.matcher.driver_fault(driver) {
            Ok(actions) => self.apply(&actions, log),
            Err(_) => 0,
        }
    }

    fn apply(&mut self, actions: &[Action], log: &mut impl Write) -> u64 {
        if actions.is_empty() {
            return 0;
        }
        // Ask the IOMMU first: a gated binding is left out of the table
        // until its confinement is answered (`iommu_answered`); an ended
        // one loses its mappings.
        let mut notify = 0u64;
        let mut waiting = 0u64;
        if let Some((gate, channel)) = &mut self.iommu {
            for action in actions {
                let asked = match action {
                    Action::Bind(b) => gate.bound(b),
                    Action::Unbind { binding, .. } => gate.unbound(binding),
                };
                if asked {
                    notify |= 1 << *channel;
                }
                if let (Action::Bind(b), true) = (action, asked) {
                    waiting |= driver_bit(b.driver);
                }
            }
        }
        if self.publish().is_err() {
            let _ = writeln!(log, "bus: binding table full; bindings not published");
            return 0;
        }
        for action in actions {
            let (b, verb) = match action {
                Action::Bind(b) => (b, "<-"),
                Action::Unbind { binding, .. } => (binding, "</-"),
            };
            let gated = matches!(action, Action::Bind(_)) && waiting & driver_bit(b.driver) != 0;
            if let Some(t) = self.transports.iter().find(|t| t.id == b.transport) {
                let at = DeviceAt { transport: t, location: b.location, device_id: b.device_id };
                if gated {
                    let _ = writeln!(log, "bus: {} <- {at} waits for the IOMMU", self.driver_name(b.driver));
                    continue;
                }
                notify |= 1 << t.channel;
                let _ = writeln!(log, "bus: {} {verb} {at}", self.driver_name(b.driver));
            }
            if let Some(d) = self.drivers.iter().find(|d| d.id == b.driver) {
                notify |= 1 << d.channel;
            }
        }
        notify
    }

    /// Whether `driver` is bound to a device now.
    pub fn is_bound(&self, driver: DriverId) -> bool {
        self.matcher.binding_of(driver).is_some()
    }

    /// A driver's name in the log: its class and its ordinal among the
    /// registered drivers of that class ("blk0", "net1").
    pub fn driver_name(&self, id: DriverId) -> impl core::fmt::Display + use<> {
        let class = |d: &sevio_bus_protocol::DriverRecord| d.device_ids.first().copied();
        let drivers = self.matcher.drivers();
        let Some(me) = drivers.iter().find(|d| d.id == id) else {
            return DriverName { class: None, ordinal: id.0 };
        };
        let ordinal = drivers.iter().filter(|d| class(d) == class(me) && d.id < id).count() as u8;
        DriverName { class: class(me), ordinal }
    }
}

/// Bit `driver` of a driver mask (0 past bit 63).
fn driver_bit(driver: DriverId) -> u64 {
    1u64.checked_shl(driver.0.into()).unwrap_or(0)
}

fn bus_error(e: MatchError) -> BusError {
    match e {
        MatchError::DevicesFull | MatchError::DriversFull | MatchError::RulesFull => BusError::Full,
        MatchError::DuplicateDevice => BusError::Duplicate,
        MatchError::UnknownDevice | MatchError::UnknownDriver => BusError::Unknown,
        MatchError::NoDeviceIds => BusError::Malformed,
    }
}

struct DriverName {
    class: Option<u32>,
    ordinal: u8,
}

impl core::fmt::Display for DriverName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.class {
            Some(id) => write!(f, "{}{}", DeviceId(id).name(), self.ordinal),
            None => write!(f, "driver{}", self.ordinal),
        }
    }
}

struct DeviceAt<'a> {
    transport: &'a TransportPort,
    location: Location,
    device_id: u32,
}

impl core::fmt::Display for DeviceAt<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = DeviceId(self.device_id).name();
        match (self.location, self.transport.kind) {
            (Location::Mmio { slot }, TransportKindInfo::Mmio { base, stride, irq_base }) => write!(
                f,
                "virtio-{name} at mmio slot {slot} ({:#x}, irq {})",
                base + stride * slot as u64,
                irq_base + slot
            ),
            (Location::Pci(bdf), _) => {
                write!(f, "virtio-{name} at pci {:02x}:{:02x}.{}", bdf.bus, bdf.device, bdf.function)
            }
            (Location::Mmio { slot }, _) => write!(f, "virtio-{name} at slot {slot}"),
            (Location::Rproc { entry }, _) => write!(f, "virtio-{name} at rproc entry {entry}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::{Binding, DeviceIds, TableReader};
    use sevio_sharedmem::HeapRegion;
    use std::string::String;
    use std::vec::Vec;

    static TRANSPORTS: [TransportPort; 1] = [TransportPort {
        channel: 0,
        id: TransportId(0),
        kind: TransportKindInfo::Mmio { base: 0x0a00_0000, stride: 0x200, irq_base: 48 },
    }];
    static DRIVERS: [DriverPort; 3] = [
        DriverPort { channel: 8, id: DriverId(0) },
        DriverPort { channel: 9, id: DriverId(1) },
        DriverPort { channel: 10, id: DriverId(2) },
    ];

    /// A broker whose mmio transport has said it serves every driver.
    fn broker(page: &HeapRegion) -> Broker {
        let mut bus = bare_broker(page);
        let serves = BusRequest::ServesDrivers { transport: TransportId(0), drivers: 0b111 };
        assert_eq!(bus.handle(0, &serves, &mut String::new()), Outcome { reply: BusReply::Ok, notify: 0 });
        bus
    }

    fn bare_broker(page: &HeapRegion) -> Broker {
        let table = TableWriter::init(page.memory(), 32).unwrap();
        Broker::new(table, &TRANSPORTS, &DRIVERS).unwrap()
    }

    fn found(slot: u32, device_id: u32) -> BusRequest {
        BusRequest::DeviceFound {
            transport: TransportId(0),
            location: Location::Mmio { slot },
            device_id,
            vendor_id: 0x554d4551,
        }
    }

    fn register(ids: &[u32]) -> BusRequest {
        BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(ids).unwrap() }
    }

    fn table(page: &HeapRegion) -> Vec<Binding> {
        let reader = TableReader::open(page.memory()).unwrap();
        let mut out = Vec::new();
        reader.for_each(|b| out.push(b)).unwrap();
        out
    }

    #[test]
    fn binds_in_either_order_logs_and_notifies_both_ends() {
        for device_first in [true, false] {
            let page = HeapRegion::new(4096);
            let mut bus = broker(&page);
            let mut log = String::new();
            let steps = if device_first {
                [(0, found(31, 2)), (8, register(&[2]))]
            } else {
                [(8, register(&[2])), (0, found(31, 2))]
            };
            let reply_to = |channel: u8| {
                if channel == 8 { BusReply::Registered { driver: DriverId(0) } } else { BusReply::Ok }
            };
            let first = bus.handle(steps[0].0, &steps[0].1, &mut log);
            assert_eq!(first, Outcome { reply: reply_to(steps[0].0), notify: 0 });
            let second = bus.handle(steps[1].0, &steps[1].1, &mut log);
            assert_eq!(second, Outcome { reply: reply_to(steps[1].0), notify: (1 << 0) | (1 << 8) });
            assert!(log.ends_with("bus: blk0 <- virtio-blk at mmio slot 31 (0xa003e00, irq 79)\n"), "{log}");
            let t = table(&page);
            assert_eq!(t.len(), 1);
            assert_eq!((t[0].driver, t[0].location), (DriverId(0), Location::Mmio { slot: 31 }));
        }
    }

    #[test]
    fn reports_devices_without_drivers_and_drivers_without_devices() {
        let page = HeapRegion::new(4096);
        let mut bus = broker(&page);
        let mut log = String::new();
        bus.handle(0, &found(30, 4), &mut log);
        bus.handle(8, &register(&[2]), &mut log);
        assert_eq!(
            log,
            "bus: virtio-rng at mmio slot 30 (0xa003c00, irq 78) has no driver (yet)\nbus: blk0 waits for a device\n"
        );
        assert!(table(&page).is_empty());
    }

    #[test]
    fn several_devices_of_one_class_go_to_several_drivers() {
        let page = HeapRegion::new(4096);
        let mut bus = broker(&page);
        let mut log = String::new();
        bus.handle(8, &register(&[2]), &mut log);
        bus.handle(9, &register(&[2]), &mut log);
        bus.handle(0, &found(0, 2), &mut log);
        bus.handle(0, &found(31, 2), &mut log);
        let mut slots: Vec<(u8, Location)> = table(&page).iter().map(|b| (b.driver.0, b.location)).collect();
        slots.sort_by_key(|s| s.0);
        assert_eq!(slots, [(0, Location::Mmio { slot: 0 }), (1, Location::Mmio { slot: 31 })]);
        assert!(log.contains("bus: blk0 <- virtio-blk at mmio slot 0"), "{log}");
        assert!(log.contains("bus: blk1 <- virtio-blk at mmio slot 31"), "{log}");
    }

    #[test]
    fn callers_may_speak_only_for_themselves() {
        let page = HeapRegion::new(4096);
        let mut bus = broker(&page);
        let mut log = String::new();
        let refused = Outcome { reply: BusReply::Error(BusError::NotPermitted), notify: 0 };
        assert_eq!(bus.handle(0, &register(&[2]), &mut log), refused, "a transport registering as a driver");
        assert_eq!(bus.handle(8, &found(31, 2), &mut log), refused, "a driver reporting a device");
        let foreign = BusRequest::DeviceFound {
            transport: TransportId(5),
            location: Location::Mmio { slot: 1 },
            device_id: 2,
            vendor_id: 0,
        };
        assert_eq!(bus.handle(0, &foreign, &mut log), refused, "a transport speaking for another");
        assert_eq!(bus.handle(40, &found(31, 2), &mut log), refused, "an unknown channel");
        assert_eq!(bus.handle(0, &found(31, 2), &mut log).reply, BusReply::Ok);
        assert_eq!(bus.handle(0, &found(31, 2), &mut log).reply, BusReply::Error(BusError::Duplicate));
    }

    #[test]
    fn only_drivers_a_transport_serves_bind_on_it() {
        let page = HeapRegion::new(4096);
        let mut bus = bare_broker(&page);
        let mut log = String::new();
        bus.handle(0, &found(31, 2), &mut log);
        let reply = bus.handle(9, &register(&[2]), &mut log);
        assert_eq!(reply, Outcome { reply: BusReply::Registered { driver: DriverId(1) }, notify: 0 });
        assert!(table(&page).is_empty(), "no transport has said it serves driver 1");
        let serves_0 = BusRequest::ServesDrivers { transport: TransportId(0), drivers: 0b001 };
        assert_eq!(bus.handle(0, &serves_0, &mut log).notify, 0, "driver 0 never registered");
        assert!(table(&page).is_empty());
        let serves_1 = BusRequest::ServesDrivers { transport: TransportId(0), drivers: 0b010 };
        assert_eq!(bus.handle(0, &serves_1, &mut log).notify, (1 << 0) | (1 << 9));
        assert_eq!(table(&page)[0].driver, DriverId(1));
        let foreign = BusRequest::ServesDrivers { transport: TransportId(3), drivers: 1 };
        assert_eq!(bus.handle(0, &foreign, &mut log).reply, BusReply::Error(BusError::NotPermitted));
        assert_eq!(bus.handle(8, &serves_1, &mut log).reply, BusReply::Error(BusError::NotPermitted));
    }

    #[test]
    fn a_faulted_driver_is_unbound() {
        let page = HeapRegion::new(4096);
        let mut bus = broker(&page);
        let mut log = String::new();
        bus.handle(0, &found(31, 2), &mut log);
        bus.handle(8, &register(&[2]), &mut log);
        assert_eq!(table(&page).len(), 1);
        let notify = bus.driver_fault(DriverId(0), &mut log);
        assert_eq!(notify, (1 << 0) | (1 << 8));
        assert!(table(&page).is_empty());
        assert!(log.ends_with("bus: blk0 </- virtio-blk at mmio slot 31 (0xa003e00, irq 79)\n"), "{log}");
    }

    static PCI_TRANSPORTS: [TransportPort; 1] =
        [TransportPort { channel: 1, id: TransportId(1), kind: TransportKindInfo::Pci }];

    #[test]
    fn with_an_iommu_a_pci_binding_is_published_only_once_confined_and_a_dma_fault_is_handed_on() {
        use crate::gate::Gate;
        use sevio_bus_protocol::Bdf;
        use sevio_bus_protocol::confine::{BusSide, IommuSide, Outcome, Wish};
        let (page, requests, answers) = (HeapRegion::new(4096), HeapRegion::new(4096), HeapRegion::new(4096));
        let iommu = IommuSide::new(requests.memory(), answers.memory()).unwrap();
        let table_writer = TableWriter::init(page.memory(), 32).unwrap();
        let gate = Gate::new(BusSide::new(requests.memory(), answers.memory()).unwrap());
        let mut bus = Broker::new(table_writer, &PCI_TRANSPORTS, &DRIVERS).unwrap().with_iommu(gate, 7);
        let mut log = String::new();
        bus.handle(1, &BusRequest::ServesDrivers { transport: TransportId(1), drivers: 0b11 }, &mut log);
        let at = |device| Location::Pci(Bdf { bus: 0, device, function: 0 });
        let found = |device, device_id| BusRequest::DeviceFound {
            transport: TransportId(1),
            location: at(device),
            device_id,
            vendor_id: 0x1af4,
        };
        // The IOMMU's own binding is published at once.
        bus.handle(9, &register(&[23]), &mut log);
        assert_eq!(bus.handle(1, &found(1, 23), &mut log).notify, (1 << 1) | (1 << 9));
        assert_eq!(table(&page).len(), 1);
        // blk's waits: only the IOMMU PD hears of it.
        bus.handle(8, &register(&[2]), &mut log);
        assert_eq!(bus.handle(1, &found(2, 2), &mut log).notify, 1 << 7);
        assert_eq!(table(&page).len(), 1, "not published before it is confined");
        assert!(log.ends_with("bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU\n"), "{log}");
        let Some(Wish::Confine { seq, endpoint: 0x10 }) = iommu.wish(0) else { panic!("{:?}", iommu.wish(0)) };
        iommu.answer(0, seq, Outcome::Confined);
        let mut faults = Vec::new();
        assert_eq!(bus.iommu_answered(&mut log, |f| faults.push(f)), (1 << 1) | (1 << 8));
        assert_eq!(table(&page).len(), 2);
        assert!(log.ends_with("bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)\n"), "{log}");
        iommu.fault(0, Some(0x4900_0000), 2);
        bus.iommu_answered(&mut log, |f| faults.push(f));
        assert_eq!(faults, [DmaFault { driver: DriverId(0), address: Some(0x4900_0000), flags: 2 }]);
        // Unbinding releases the mappings and tells the IOMMU PD.
        let notify = bus.driver_fault(DriverId(0), &mut log);
        assert_eq!(notify, (1 << 1) | (1 << 7) | (1 << 8));
        assert!(matches!(iommu.wish(0), Some(Wish::Release { endpoint: 0x10, .. })));
        assert_eq!(table(&page).len(), 1);
    }
}
