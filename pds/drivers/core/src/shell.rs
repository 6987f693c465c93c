//! The part of a driver PD's shell that is the same for every device:
//! register with the bus, follow the binding table, log status changes.
//!
//! A driver type implements [`Driver`]; its `main.rs` keeps a
//! [`Shell`] and calls [`Shell::check_binding`] on the bus channel's
//! notifications and [`Shell::log_status`] after every event.

use crate::bus::{BindingChange, BindingWatch, PpcBus, RegisterError, register};
use sevio_bus_protocol::DriverId;
use sevio_runtime::{Channel, debug_println};
use sevio_virtio::DeviceId;

/// Where a driver is, as its log and tests see it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DriverStatus {
    /// No device (client requests wait).
    Unbound,
    /// The device is up; the driver is not serving yet (e.g. waiting for
    /// an identification request).
    Starting,
    /// Serving.
    Ready,
    /// The device failed.
    Failed,
}

/// What the shell needs from a driver.
pub trait Driver {
    /// Why bring-up or service failed.
    type Error: core::fmt::Debug;
    /// The bus bound a device (or a new one): bring it up.
    fn bind(&mut self) -> Result<(), Self::Error>;
    /// The device was taken away.
    fn unbind(&mut self);
    /// Where the driver is.
    fn status(&self) -> DriverStatus;
    /// The last error, for the log.
    fn last_error(&self) -> Option<Self::Error>;
}

/// Register with the bus on `channel` for `device_ids`, logging a refusal
/// under `name`. Returns the driver id the bus assigned (from the
/// channel): the one to follow in the binding table.
pub fn register_with_bus(name: &str, channel: Channel, device_ids: &[u32]) -> Result<DriverId, RegisterError> {
    let result = register(&mut PpcBus::new(channel), device_ids);
    if let Err(e) = &result {
        debug_println!("{}: bus registration failed: {:?}", name, e);
    }
    result
}

/// A driver plus its binding watch and last logged status.
pub struct Shell<D: Driver> {
    /// The driver.
    pub driver: D,
    watch: BindingWatch,
    status: DriverStatus,
    name: &'static str,
}

impl<D: Driver> Shell<D> {
    /// A shell named `name` (log prefix) around `driver`, watching `watch`.
    pub fn new(name: &'static str, driver: D, watch: BindingWatch) -> Self {
        Shell { driver, watch, status: DriverStatus::Unbound, name }
    }

    /// Read the binding table and bind / unbind the driver accordingly.
    /// Call at init and on every bus notification. Returns the change.
    pub fn check_binding(&mut self) -> Option<BindingChange> {
        let change = match self.watch.poll() {
            Ok(c) => c,
            Err(e) => {
                debug_println!("{}: binding table unreadable: {:?}", self.name, e);
                return None;
            }
        };
        match change {
            None => {}
            Some(BindingChange::Bound(b) | BindingChange::Rebound { new: b, .. }) => {
                debug_println!("{}: bound to {:?} ({})", self.name, b.location, DeviceId(b.device_id));
                if let Err(e) = self.driver.bind() {
                    debug_println!("{}: bring-up: {:?}", self.name, e);
                }
            }
            Some(BindingChange::Unbound(b)) => {
                debug_println!("{}: unbound from {:?}", self.name, b.location);
                self.driver.unbind();
            }
        }
        self.log_status();
        change
    }

    /// Log the driver's status if it changed since the last call.
    pub fn log_status(&mut self) {
        let now = self.driver.status();
        if now == self.status {
            return;
        }
        self.status = now;
        match now {
            DriverStatus::Ready => {
                debug_println!("{}: device ready", self.name);
                crate::drill::device_up(self.name);
            }
            DriverStatus::Failed => debug_println!("{}: device failed: {:?}", self.name, self.driver.last_error()),
            DriverStatus::Starting | DriverStatus::Unbound => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::{Binding, DriverId, TableWriter, TransportId};
    use sevio_sharedmem::HeapRegion;
    use sevio_transport_protocol::Location;

    #[derive(Default)]
    struct Recorder {
        binds: u32,
        unbinds: u32,
        status: Option<DriverStatus>,
    }

    impl Driver for Recorder {
        type Error = ();
        fn bind(&mut self) -> Result<(), ()> {
            self.binds += 1;
            self.status = Some(DriverStatus::Ready);
            Ok(())
        }
        fn unbind(&mut self) {
            self.unbinds += 1;
            self.status = Some(DriverStatus::Unbound);
        }
        fn status(&self) -> DriverStatus {
            self.status.unwrap_or(DriverStatus::Unbound)
        }
        fn last_error(&self) -> Option<()> {
            None
        }
    }

    #[test]
    fn binds_rebinds_and_unbinds_from_the_table() {
        let page = HeapRegion::new(4096);
        let mut table = TableWriter::init(page.memory(), 4).unwrap();
        let mut shell = Shell::new("t", Recorder::default(), BindingWatch::new(page.memory(), DriverId(2)));
        assert_eq!(shell.check_binding(), None);
        let b = |slot| Binding {
            driver: DriverId(2),
            transport: TransportId(0),
            location: Location::Mmio { slot },
            device_id: 3,
            vendor_id: 0,
        };
        table.write([b(4)].into_iter()).unwrap();
        assert!(matches!(shell.check_binding(), Some(BindingChange::Bound(_))));
        table.write([b(5)].into_iter()).unwrap();
        assert!(matches!(shell.check_binding(), Some(BindingChange::Rebound { .. })));
        assert_eq!(shell.driver.binds, 2, "a rebind binds again (the driver lets the old device go)");
        table.write([].into_iter()).unwrap();
        assert!(matches!(shell.check_binding(), Some(BindingChange::Unbound(_))));
        assert_eq!((shell.driver.binds, shell.driver.unbinds), (2, 1));
        assert_eq!(shell.driver.status(), DriverStatus::Unbound);
    }
}
