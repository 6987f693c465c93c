//! A driver and the bus PD: register, then wait to be bound.
//!
//! At init a driver PPCs `RegisterDriver { device_ids }` on its bus
//! channel ([`register`]). The bus answers at once; the binding itself
//! appears in the binding table page (protocols/bus `table`), now or
//! whenever a matching device is found, and the bus notifies the driver
//! each time the table changes. [`BindingWatch`] reads the table for this
//! driver's [`DriverId`] and reports what changed. A driver acts on its
//! device only while bound.

use sevio_bus_protocol::table::TableReader;
use sevio_bus_protocol::wire::MAX_WORDS;
use sevio_bus_protocol::{Binding, BusError, BusReply, BusRequest, DecodeError, DeviceIds, DriverId, TableError};
use sevio_runtime::{Channel, PpcMessage, TooLong};
use sevio_sharedmem::SharedMemory;

/// Reads of a torn table before giving up until the next notification.
pub use sevio_bus_protocol::table::TORN_READ_ATTEMPTS as TABLE_ATTEMPTS;

/// A driver's line to the bus.
pub trait BusCall {
    /// Send `request`; a reply that does not decode is an error.
    fn call(&mut self, request: &BusRequest) -> Result<BusReply, DecodeError>;
}

/// The bus reached by PPC on a channel (driver end `pp="true"`).
#[derive(Copy, Clone, Debug)]
pub struct PpcBus {
    channel: Channel,
}

impl PpcBus {
    /// The bus on `channel`.
    pub const fn new(channel: Channel) -> Self {
        PpcBus { channel }
    }
}

impl BusCall for PpcBus {
    fn call(&mut self, request: &BusRequest) -> Result<BusReply, DecodeError> {
        let too_long = |e: TooLong| DecodeError::WrongLength { label: e.label, expected: e.max, got: e.len };
        let reply = PpcMessage::<MAX_WORDS>::encode(|words| request.encode(words))
            .and_then(|message| message.call(self.channel))
            .map_err(too_long)?;
        BusReply::decode(reply.label(), reply.words())
    }
}

/// Why registration failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// No ids, or more than the protocol carries.
    BadIds,
    /// The bus's reply did not decode.
    Reply(DecodeError),
    /// The bus refused.
    Refused(BusError),
    /// The bus accepted but did not say which driver id the caller is.
    NoDriverId,
}

/// Register as the driver of `device_ids` (e.g. `[2]` for blk). Returns
/// the driver id the bus knows this driver by (it takes it from the
/// channel, so the same driver image can run as several instances): the
/// id to look for in the binding table.
pub fn register<B: BusCall + ?Sized>(bus: &mut B, device_ids: &[u32]) -> Result<DriverId, RegisterError> {
    let ids = DeviceIds::from_slice(device_ids).map_err(|_| RegisterError::BadIds)?;
    if ids.is_empty() {
        return Err(RegisterError::BadIds);
    }
    match bus.call(&BusRequest::RegisterDriver { device_ids: ids }) {
        Ok(BusReply::Registered { driver }) => Ok(driver),
        Ok(BusReply::Ok) => Err(RegisterError::NoDriverId),
        Ok(BusReply::Error(e)) => Err(RegisterError::Refused(e)),
        Err(e) => Err(RegisterError::Reply(e)),
    }
}

/// What changed in this driver's binding.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BindingChange {
    /// Bound to a device (there was none).
    Bound(Binding),
    /// The device was taken away.
    Unbound(Binding),
    /// Bound to another device than before.
    Rebound {
        /// The device before.
        old: Binding,
        /// The device now.
        new: Binding,
    },
}

/// Follows the binding table for one driver.
#[derive(Copy, Clone, Debug)]
pub struct BindingWatch {
    mem: SharedMemory,
    driver: DriverId,
    current: Option<Binding>,
}

impl BindingWatch {
    /// Watch the table in `mem` (mapped read-only) for `driver`.
    pub fn new(mem: SharedMemory, driver: DriverId) -> Self {
        BindingWatch { mem, driver, current: None }
    }

    /// The binding last seen.
    pub fn current(&self) -> Option<Binding> {
        self.current
    }

    /// Read the table (retrying torn reads) and report a change, if any.
    /// A table the bus has not initialised yet reads as "not bound". On
    /// an error the last binding seen is kept; call again on the next
    /// notification.
    pub fn poll(&mut self) -> Result<Option<BindingChange>, TableError> {
        let now = match TableReader::open(self.mem) {
            Ok(table) => table.binding_of_driver(self.driver, TABLE_ATTEMPTS)?,
            Err(TableError::NotInitialised) => None,
            Err(e) => return Err(e),
        };
        let change = match (self.current, now) {
            (None, Some(b)) => Some(BindingChange::Bound(b)),
            (Some(b), None) => Some(BindingChange::Unbound(b)),
            (Some(old), Some(new)) if old != new => Some(BindingChange::Rebound { old, new }),
            _ => None,
        };
        self.current = now;
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::{TableWriter, TransportId};
    use sevio_sharedmem::HeapRegion;
    use sevio_transport_protocol::Location;

    fn binding(driver: u8, slot: u32) -> Binding {
        Binding {
            driver: DriverId(driver),
            transport: TransportId(0),
            location: Location::Mmio { slot },
            device_id: 2,
            vendor_id: 0x554d4551,
        }
    }

    #[test]
    fn reports_bind_rebind_unbind_for_its_own_driver_only() {
        let page = HeapRegion::new(4096);
        let mut w = BindingWatch::new(page.memory(), DriverId(1));
        assert_eq!(w.poll(), Ok(None), "no table yet: not bound");
        let mut table = TableWriter::init(page.memory(), 8).unwrap();
        table.write([binding(0, 31)].into_iter()).unwrap();
        assert_eq!(w.poll(), Ok(None), "someone else's binding");
        table.write([binding(0, 31), binding(1, 5)].into_iter()).unwrap();
        assert_eq!(w.poll(), Ok(Some(BindingChange::Bound(binding(1, 5)))));
        assert_eq!(w.poll(), Ok(None), "no change");
        table.write([binding(1, 6)].into_iter()).unwrap();
        assert_eq!(w.poll(), Ok(Some(BindingChange::Rebound { old: binding(1, 5), new: binding(1, 6) })));
        table.write([].into_iter()).unwrap();
        assert_eq!(w.poll(), Ok(Some(BindingChange::Unbound(binding(1, 6)))));
        assert_eq!(w.current(), None);
    }

    #[test]
    fn a_table_being_written_is_an_error_and_keeps_the_old_binding() {
        let page = HeapRegion::new(4096);
        let mut table = TableWriter::init(page.memory(), 8).unwrap();
        table.write([binding(0, 1)].into_iter()).unwrap();
        let mut w = BindingWatch::new(page.memory(), DriverId(0));
        assert!(matches!(w.poll(), Ok(Some(BindingChange::Bound(_)))));
        // An odd generation: the bus is mid-write.
        page.memory().store_u32(8, 3, core::sync::atomic::Ordering::Release).unwrap();
        assert_eq!(w.poll(), Err(TableError::Torn));
        assert_eq!(w.current(), Some(binding(0, 1)));
    }

    struct FakeBus(Result<BusReply, DecodeError>, Option<BusRequest>);
    impl BusCall for FakeBus {
        fn call(&mut self, request: &BusRequest) -> Result<BusReply, DecodeError> {
            self.1 = Some(request.clone());
            self.0
        }
    }

    #[test]
    fn registration_sends_the_ids_and_sorts_the_reply() {
        let mut bus = FakeBus(Ok(BusReply::Registered { driver: DriverId(3) }), None);
        assert_eq!(register(&mut bus, &[2]), Ok(DriverId(3)));
        let mut bus = FakeBus(Ok(BusReply::Ok), None);
        assert_eq!(register(&mut bus, &[2]), Err(RegisterError::NoDriverId));
        assert_eq!(bus.1, Some(BusRequest::RegisterDriver { device_ids: DeviceIds::from_slice(&[2]).unwrap() }));
        let mut bus = FakeBus(Ok(BusReply::Error(BusError::Full)), None);
        assert_eq!(register(&mut bus, &[2]), Err(RegisterError::Refused(BusError::Full)));
        let mut bus = FakeBus(Err(DecodeError::UnknownLabel(9)), None);
        assert_eq!(register(&mut bus, &[2]), Err(RegisterError::Reply(DecodeError::UnknownLabel(9))));
        assert_eq!(register(&mut bus, &[]), Err(RegisterError::BadIds));
        assert_eq!(register(&mut bus, &[1; 9]), Err(RegisterError::BadIds));
    }
}
