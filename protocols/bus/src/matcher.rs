//! Which driver gets which device: the bus's decision logic, with no I/O.
//!
//! Rules (NuttX's, adapted to PDs):
//! - devices and drivers register in any order: a new device is offered
//!   to the idle drivers, a new driver to the unbound devices;
//! - one driver instance binds at most one device and a device at most
//!   one driver; several devices of a class need several driver PDs;
//! - a driver may bind only devices whose id it registered, and only on a
//!   transport the static rules (from system.xml channels) allow it;
//! - choice is deterministic: the lowest-numbered idle driver gets a new
//!   device; a new driver gets the earliest-found unbound device;
//! - a faulted driver is unbound and not offered devices until
//!   [`Matcher::driver_restarted`] (or a fresh registration); its device
//!   is offered to the other idle drivers meanwhile.
//!
//! Every operation returns the [`Action`]s the bus must carry out (write
//! the table, notify, reset a device). After every operation no unbound
//! device and idle driver remain that could be matched.

use crate::{Binding, DeviceIds, DriverId, TransportId};
use heapless::Vec;
use sevio_transport_protocol::Location;

/// At most this many actions come out of one operation.
pub const MAX_ACTIONS: usize = 3;

/// Why an unbinding happened.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UnbindReason {
    /// The transport reported the device gone.
    DeviceGone,
    /// The driver faulted (the transport should reset the device).
    DriverFault,
}

/// Something the bus must do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Record this binding and notify its transport and driver.
    Bind(Binding),
    /// Remove this binding and notify its transport and driver.
    Unbind {
        /// The binding that ends.
        binding: Binding,
        /// Why.
        reason: UnbindReason,
    },
}

/// The actions of one operation.
pub type Actions = Vec<Action, MAX_ACTIONS>;

/// Why the matcher refused an operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MatchError {
    /// More devices than the matcher holds.
    DevicesFull,
    /// More drivers than the matcher holds.
    DriversFull,
    /// More rules than the matcher holds.
    RulesFull,
    /// This transport already reported a device at this location.
    DuplicateDevice,
    /// No device at this location on this transport.
    UnknownDevice,
    /// This driver never registered.
    UnknownDriver,
    /// A registration with no device ids.
    NoDeviceIds,
}

/// A device the bus knows of.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The transport it is on.
    pub transport: TransportId,
    /// Where.
    pub location: Location,
    /// VirtIO device id.
    pub device_id: u32,
    /// Vendor id.
    pub vendor_id: u32,
    /// The driver bound to it.
    pub driver: Option<DriverId>,
}

/// A driver the bus knows of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverRecord {
    /// Its id (from its channel).
    pub id: DriverId,
    /// The device ids it serves.
    pub device_ids: DeviceIds,
    /// False between a fault and its restart.
    pub running: bool,
    /// Index into the device list of the device bound to it.
    device: Option<usize>,
}

/// The matcher: up to `DEV` devices, `DRV` drivers, `RULES` rules.
#[derive(Clone, Debug)]
pub struct Matcher<const DEV: usize, const DRV: usize, const RULES: usize> {
    devices: Vec<DeviceRecord, DEV>,
    drivers: Vec<DriverRecord, DRV>,
    rules: Vec<(DriverId, TransportId), RULES>,
}

impl<const DEV: usize, const DRV: usize, const RULES: usize> Matcher<DEV, DRV, RULES> {
    /// A matcher that lets driver `d` bind on transport `t` only if
    /// `(d, t)` is in `rules`.
    pub fn new(rules: &[(DriverId, TransportId)]) -> Result<Self, MatchError> {
        let rules = Vec::from_slice(rules).map_err(|_| MatchError::RulesFull)?;
        Ok(Matcher { devices: Vec::new(), drivers: Vec::new(), rules })
    }

    fn allowed(&self, driver: DriverId, transport: TransportId) -> bool {
        self.rules.iter().any(|&(d, t)| d == driver && t == transport)
    }

    fn fits(&self, drv: &DriverRecord, dev: &DeviceRecord) -> bool {
        drv.running
            && drv.device.is_none()
            && dev.driver.is_none()
            && drv.device_ids.contains(&dev.device_id)
            && self.allowed(drv.id, dev.transport)
    }

    fn binding(&self, dev: usize) -> Option<Binding> {
        let d = self.devices.get(dev)?;
        Some(Binding {
            driver: d.driver?,
            transport: d.transport,
            location: d.location,
            device_id: d.device_id,
            vendor_id: d.vendor_id,
        })
    }

    fn bind(&mut self, drv: usize, dev: usize, out: &mut Actions) {
        let id = self.drivers[drv].id;
        self.drivers[drv].device = Some(dev);
        self.devices[dev].driver = Some(id);
        if let Some(b) = self.binding(dev) {
            // Cannot overflow: an operation does at most one unbind and
            // two binds (MAX_ACTIONS).
            let _ = out.push(Action::Bind(b));
        }
    }

    fn unbind(&mut self, dev: usize, reason: UnbindReason, out: &mut Actions) -> Option<usize> {
        let b = self.binding(dev)?;
        let drv = self.drivers.iter().position(|d| d.id == b.driver)?;
        self.drivers[drv].device = None;
        self.devices[dev].driver = None;
        let _ = out.push(Action::Unbind { binding: b, reason });
        Some(drv)
    }

    /// Offer device `dev` to the idle drivers (lowest id first).
    fn offer_device(&mut self, dev: usize, out: &mut Actions) {
        let d = &self.devices[dev];
        let best =
            (0..self.drivers.len()).filter(|&i| self.fits(&self.drivers[i], d)).min_by_key(|&i| self.drivers[i].id);
        if let Some(drv) = best {
            self.bind(drv, dev, out);
        }
    }

    /// Offer driver `drv` the earliest-found device it fits.
    fn offer_driver(&mut self, drv: usize, out: &mut Actions) {
        let r = &self.drivers[drv];
        if let Some(dev) = (0..self.devices.len()).find(|&i| self.fits(r, &self.devices[i])) {
            self.bind(drv, dev, out);
        }
    }

    fn device_index(&self, transport: TransportId, location: Location) -> Option<usize> {
        self.devices.iter().position(|d| d.transport == transport && d.location == location)
    }

    fn driver_index(&self, driver: DriverId) -> Result<usize, MatchError> {
        self.drivers.iter().position(|d| d.id == driver).ok_or(MatchError::UnknownDriver)
    }

    /// A transport found a device.
    pub fn device_found(
        &mut self,
        transport: TransportId,
        location: Location,
        device_id: u32,
        vendor_id: u32,
    ) -> Result<Actions, MatchError> {
        if self.device_index(transport, location).is_some() {
            return Err(MatchError::DuplicateDevice);
        }
        let rec = DeviceRecord { transport, location, device_id, vendor_id, driver: None };
        self.devices.push(rec).map_err(|_| MatchError::DevicesFull)?;
        let mut out = Actions::new();
        self.offer_device(self.devices.len() - 1, &mut out);
        Ok(out)
    }

    /// A transport lost a device: unbind it, forget it, and offer its
    /// driver another device.
    pub fn device_gone(&mut self, transport: TransportId, location: Location) -> Result<Actions, MatchError> {
        let dev = self.device_index(transport, location).ok_or(MatchError::UnknownDevice)?;
        let mut out = Actions::new();
        let freed = self.unbind(dev, UnbindReason::DeviceGone, &mut out);
        self.devices.remove(dev);
        // Indices above `dev` moved down by one.
        for d in self.drivers.iter_mut() {
            if let Some(i) = d.device.as_mut()
                && *i > dev
            {
                *i -= 1;
            }
        }
        if let Some(drv) = freed {
            self.offer_driver(drv, &mut out);
        }
        Ok(out)
    }

    /// A driver registered the device ids it serves (again, after a
    /// restart, is fine: the ids are replaced, a binding it still has is
    /// kept if it still fits its ids).
    pub fn register_driver(&mut self, driver: DriverId, device_ids: &[u32]) -> Result<Actions, MatchError> {
        if device_ids.is_empty() {
            return Err(MatchError::NoDeviceIds);
        }
        let ids = DeviceIds::from_slice(device_ids).map_err(|_| MatchError::NoDeviceIds)?;
        let mut out = Actions::new();
        let drv = match self.driver_index(driver) {
            Ok(i) => {
                let r = &mut self.drivers[i];
                r.device_ids = ids;
                r.running = true;
                if let Some(dev) = r.device
                    && !r.device_ids.contains(&self.devices[dev].device_id)
                {
                    self.unbind(dev, UnbindReason::DriverFault, &mut out);
                    self.offer_device(dev, &mut out);
                }
                i
            }
            Err(_) => {
                let rec = DriverRecord { id: driver, device_ids: ids, running: true, device: None };
                self.drivers.push(rec).map_err(|_| MatchError::DriversFull)?;
                self.drivers.len() - 1
            }
        };
        if self.drivers[drv].device.is_none() {
            self.offer_driver(drv, &mut out);
        }
        Ok(out)
    }

    /// A driver faulted: unbind its device (the transport resets it) and
    /// offer the device to the other idle drivers. The driver gets nothing
    /// until [`driver_restarted`](Self::driver_restarted) or it registers
    /// again.
    pub fn driver_fault(&mut self, driver: DriverId) -> Result<Actions, MatchError> {
        let drv = self.driver_index(driver)?;
        self.drivers[drv].running = false;
        let mut out = Actions::new();
        if let Some(dev) = self.drivers[drv].device {
            self.unbind(dev, UnbindReason::DriverFault, &mut out);
            self.offer_device(dev, &mut out);
        }
        Ok(out)
    }

    /// A faulted driver was restarted: it may bind again (with the ids it
    /// registered before).
    pub fn driver_restarted(&mut self, driver: DriverId) -> Result<Actions, MatchError> {
        let drv = self.driver_index(driver)?;
        self.drivers[drv].running = true;
        let mut out = Actions::new();
        if self.drivers[drv].device.is_none() {
            self.offer_driver(drv, &mut out);
        }
        Ok(out)
    }

    /// Let `driver` bind on `transport` from now on (a transport tells the
    /// bus which drivers it has channels to). If the driver is registered
    /// and idle, it is offered the transport's devices at once.
    pub fn allow(&mut self, driver: DriverId, transport: TransportId) -> Result<Actions, MatchError> {
        let mut out = Actions::new();
        if self.allowed(driver, transport) {
            return Ok(out);
        }
        self.rules.push((driver, transport)).map_err(|_| MatchError::RulesFull)?;
        if let Ok(drv) = self.driver_index(driver)
            && self.drivers[drv].device.is_none()
        {
            self.offer_driver(drv, &mut out);
        }
        Ok(out)
    }

    /// Every current binding, in device order (what the table holds).
    pub fn bindings(&self) -> impl Iterator<Item = Binding> + Clone + '_ {
        (0..self.devices.len()).filter_map(|i| self.binding(i))
    }

    /// The binding of `driver`, if it has one.
    pub fn binding_of(&self, driver: DriverId) -> Option<Binding> {
        let drv = self.driver_index(driver).ok()?;
        self.binding(self.drivers[drv].device?)
    }

    /// Devices no driver is bound to (no driver serves them, or all such
    /// drivers are busy, faulted or not allowed on their transport).
    pub fn unbound_devices(&self) -> impl Iterator<Item = &DeviceRecord> + '_ {
        self.devices.iter().filter(|d| d.driver.is_none())
    }

    /// Registered drivers without a device (running or faulted).
    pub fn idle_drivers(&self) -> impl Iterator<Item = &DriverRecord> + '_ {
        self.drivers.iter().filter(|d| d.device.is_none())
    }

    /// Every known device.
    pub fn devices(&self) -> &[DeviceRecord] {
        &self.devices
    }

    /// Every registered driver.
    pub fn drivers(&self) -> &[DriverRecord] {
        &self.drivers
    }

    /// Whether driver `d` may bind on transport `t`.
    pub fn is_allowed(&self, d: DriverId, t: TransportId) -> bool {
        self.allowed(d, t)
    }
}
