//! The bus's logic: who may say what, the matcher, the binding table, and
//! the log a person reads to see what got bound. No syscalls: the PD shell
//! performs the notifications this returns.

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
        Ok(Broker { matcher: BusMatcher::new(&[])?, table, transports, drivers })
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
        if self.table.write(self.matcher.bindings()).is_err() {
            let _ = writeln!(log, "bus: binding table full; bindings not published");
            return 0;
        }
        let mut notify = 0u64;
        for action in actions {
            let (b, verb) = match action {
                Action::Bind(b) => (b, "<-"),
                Action::Unbind { binding, .. } => (binding, "</-"),
            };
            if let Some(t) = self.transports.iter().find(|t| t.id == b.transport) {
                notify |= 1 << t.channel;
                let _ = writeln!(
                    log,
                    "bus: {} {verb} {}",
                    self.driver_name(b.driver),
                    DeviceAt { transport: t, location: b.location, device_id: b.device_id }
                );
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
}
