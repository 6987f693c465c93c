//! The matching rules.

use sevio_bus_protocol::*;

type M = Matcher<8, 8, 16>;
const T_MMIO: TransportId = TransportId(0);
const T_PCI: TransportId = TransportId(1);
const BLK: u32 = 2;
const NET: u32 = 1;

fn slot(s: u32) -> Location {
    Location::Mmio { slot: s }
}

fn bind(d: u8, t: TransportId, loc: Location, id: u32) -> Action {
    Action::Bind(Binding { driver: DriverId(d), transport: t, location: loc, device_id: id, vendor_id: 0 })
}

fn unbind(d: u8, t: TransportId, loc: Location, id: u32, reason: UnbindReason) -> Action {
    Action::Unbind {
        binding: Binding { driver: DriverId(d), transport: t, location: loc, device_id: id, vendor_id: 0 },
        reason,
    }
}

fn all_rules() -> Vec<(DriverId, TransportId)> {
    (0..8).flat_map(|d| [(DriverId(d), T_MMIO), (DriverId(d), T_PCI)]).collect()
}

#[test]
fn device_first_or_driver_first() {
    let mut m = M::new(&all_rules()).unwrap();
    assert!(m.device_found(T_MMIO, slot(31), BLK, 0).unwrap().is_empty());
    assert_eq!(m.register_driver(DriverId(1), &[BLK]).unwrap().as_slice(), &[bind(1, T_MMIO, slot(31), BLK)]);

    let mut m = M::new(&all_rules()).unwrap();
    assert!(m.register_driver(DriverId(1), &[BLK]).unwrap().is_empty());
    assert_eq!(m.device_found(T_MMIO, slot(31), BLK, 0).unwrap().as_slice(), &[bind(1, T_MMIO, slot(31), BLK)]);
}

#[test]
fn several_devices_of_a_class_bind_several_drivers() {
    let mut m = M::new(&all_rules()).unwrap();
    m.device_found(T_MMIO, slot(31), BLK, 0).unwrap();
    m.device_found(T_MMIO, slot(30), BLK, 0).unwrap();
    m.device_found(T_MMIO, slot(29), NET, 0).unwrap();
    assert_eq!(m.register_driver(DriverId(2), &[BLK]).unwrap().as_slice(), &[bind(2, T_MMIO, slot(31), BLK)]);
    assert_eq!(m.register_driver(DriverId(3), &[BLK]).unwrap().as_slice(), &[bind(3, T_MMIO, slot(30), BLK)]);
    // A third blk driver finds nothing; the net device waits for a net driver.
    assert!(m.register_driver(DriverId(4), &[BLK]).unwrap().is_empty());
    assert_eq!(m.idle_drivers().map(|d| d.id).collect::<Vec<_>>(), vec![DriverId(4)]);
    assert_eq!(m.unbound_devices().map(|d| d.location).collect::<Vec<_>>(), vec![slot(29)]);
    // A new blk device goes to the lowest idle driver.
    assert_eq!(m.device_found(T_PCI, slot(5), BLK, 0).unwrap().as_slice(), &[bind(4, T_PCI, slot(5), BLK)]);
    assert_eq!(m.bindings().count(), 3);
}

#[test]
fn static_rules_limit_transports() {
    let mut m = M::new(&[(DriverId(1), T_PCI)]).unwrap();
    m.device_found(T_MMIO, slot(31), BLK, 0).unwrap();
    assert!(m.register_driver(DriverId(1), &[BLK]).unwrap().is_empty(), "not allowed on mmio");
    assert!(!m.is_allowed(DriverId(1), T_MMIO));
    let loc = Location::Pci(Bdf { bus: 0, device: 3, function: 0 });
    assert_eq!(m.device_found(T_PCI, loc, BLK, 0).unwrap().as_slice(), &[bind(1, T_PCI, loc, BLK)]);
    assert_eq!(m.unbound_devices().count(), 1);
}

#[test]
fn fault_unbinds_and_restart_rebinds() {
    let mut m = M::new(&all_rules()).unwrap();
    m.register_driver(DriverId(1), &[BLK]).unwrap();
    m.device_found(T_MMIO, slot(31), BLK, 0).unwrap();
    assert_eq!(
        m.driver_fault(DriverId(1)).unwrap().as_slice(),
        &[unbind(1, T_MMIO, slot(31), BLK, UnbindReason::DriverFault)]
    );
    assert_eq!(m.binding_of(DriverId(1)), None);
    assert_eq!(m.unbound_devices().count(), 1);
    assert_eq!(m.driver_restarted(DriverId(1)).unwrap().as_slice(), &[bind(1, T_MMIO, slot(31), BLK)]);
    // A restarted driver that registers again keeps its binding.
    assert!(m.register_driver(DriverId(1), &[BLK]).unwrap().is_empty());
    assert!(m.binding_of(DriverId(1)).is_some());
    // A fault with another idle driver waiting: fail over at once.
    m.register_driver(DriverId(2), &[BLK]).unwrap();
    assert_eq!(
        m.driver_fault(DriverId(1)).unwrap().as_slice(),
        &[unbind(1, T_MMIO, slot(31), BLK, UnbindReason::DriverFault), bind(2, T_MMIO, slot(31), BLK)]
    );
    assert!(m.driver_restarted(DriverId(1)).unwrap().is_empty(), "nothing left for it");
    assert_eq!(m.driver_fault(DriverId(9)), Err(MatchError::UnknownDriver));
}

#[test]
fn device_gone_frees_its_driver_for_another() {
    let mut m = M::new(&all_rules()).unwrap();
    m.device_found(T_MMIO, slot(31), BLK, 0).unwrap();
    m.register_driver(DriverId(1), &[BLK]).unwrap();
    m.device_found(T_MMIO, slot(30), BLK, 0).unwrap();
    assert_eq!(
        m.device_gone(T_MMIO, slot(31)).unwrap().as_slice(),
        &[unbind(1, T_MMIO, slot(31), BLK, UnbindReason::DeviceGone), bind(1, T_MMIO, slot(30), BLK)]
    );
    assert_eq!(m.devices().len(), 1);
    assert_eq!(m.device_gone(T_MMIO, slot(31)), Err(MatchError::UnknownDevice));
}

#[test]
fn errors_and_limits() {
    let mut m = Matcher::<1, 1, 1>::new(&[(DriverId(0), T_MMIO)]).unwrap();
    assert_eq!(Matcher::<1, 1, 1>::new(&all_rules()).unwrap_err(), MatchError::RulesFull);
    m.device_found(T_MMIO, slot(1), BLK, 0).unwrap();
    assert_eq!(m.device_found(T_MMIO, slot(1), BLK, 0), Err(MatchError::DuplicateDevice));
    assert_eq!(m.device_found(T_MMIO, slot(2), BLK, 0), Err(MatchError::DevicesFull));
    assert_eq!(m.register_driver(DriverId(0), &[]), Err(MatchError::NoDeviceIds));
    m.register_driver(DriverId(0), &[NET]).unwrap();
    assert_eq!(m.register_driver(DriverId(1), &[NET]), Err(MatchError::DriversFull));
    // Re-registering with the right id binds.
    assert_eq!(m.register_driver(DriverId(0), &[NET, BLK]).unwrap().len(), 1);
    // Re-registering without it unbinds.
    let a = m.register_driver(DriverId(0), &[NET]).unwrap();
    assert!(matches!(a[0], Action::Unbind { .. }));
    assert_eq!(m.bindings().count(), 0);
}

#[test]
fn allowing_a_transport_later_binds_waiting_drivers_and_only_those() {
    let mut m = M::new(&[]).unwrap();
    assert!(m.register_driver(DriverId(0), &[BLK]).unwrap().is_empty());
    assert!(m.register_driver(DriverId(1), &[BLK]).unwrap().is_empty());
    assert!(m.device_found(T_PCI, slot(2), BLK, 0).unwrap().is_empty(), "no rule yet: nobody may bind");
    assert_eq!(m.allow(DriverId(1), T_PCI).unwrap().as_slice(), &[bind(1, T_PCI, slot(2), BLK)]);
    assert!(m.allow(DriverId(1), T_PCI).unwrap().is_empty(), "allowing twice changes nothing");
    assert!(m.allow(DriverId(0), T_MMIO).unwrap().is_empty(), "no mmio device");
    assert_eq!(m.device_found(T_MMIO, slot(31), BLK, 0).unwrap().as_slice(), &[bind(0, T_MMIO, slot(31), BLK)]);
    assert!(m.allow(DriverId(7), T_MMIO).unwrap().is_empty(), "a driver that never registered");
}
