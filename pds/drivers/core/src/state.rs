//! The binding state every driver keeps: no device (perhaps with a
//! bring-up to retry), a device up, or a failed one.
//!
//! The bus notifies a driver when it writes the binding table, and the
//! transport learns of the same binding from the same table: if the
//! driver gets there first, the transport refuses `DeviceInfo` with
//! `NotBound`. [`DeviceState::settle`] turns that refusal into "not bound
//! yet, retry at the next event" and any other bring-up error into
//! "failed".

use crate::{CallError, DriverError, DriverStatus, InitError};
use sevio_transport_protocol::TransportError;

/// A driver's device, as far as binding goes.
#[derive(Debug)]
pub enum DeviceState<D> {
    /// No device. `retry`: the last bring-up found the transport not
    /// bound yet; try again at the next event.
    Unbound {
        /// A bring-up is to be retried.
        retry: bool,
    },
    /// The device is up.
    Up(D),
    /// The device failed (bring-up or service); a new binding starts
    /// afresh.
    Failed,
}

impl<D> Default for DeviceState<D> {
    fn default() -> Self {
        DeviceState::Unbound { retry: false }
    }
}

/// Whether `e` says the transport has not seen the binding yet.
pub fn not_bound_yet(e: &DriverError) -> bool {
    matches!(e, DriverError::Init(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound))))
}

impl<D> DeviceState<D> {
    /// The status the shell logs (`Up` is [`DriverStatus::Ready`]).
    pub fn status(&self) -> DriverStatus {
        match self {
            DeviceState::Unbound { .. } => DriverStatus::Unbound,
            DeviceState::Up(_) => DriverStatus::Ready,
            DeviceState::Failed => DriverStatus::Failed,
        }
    }

    /// The device, if it is up.
    pub fn device(&mut self) -> Option<&mut D> {
        match self {
            DeviceState::Up(d) => Some(d),
            _ => None,
        }
    }

    /// Whether a bring-up the transport was not ready for is to be tried
    /// again now.
    pub fn retry_due(&self) -> bool {
        matches!(self, DeviceState::Unbound { retry: true })
    }

    /// Whether a device is held (up or failed): let go of it before
    /// binding another.
    pub fn holds_device(&self) -> bool {
        matches!(self, DeviceState::Up(_) | DeviceState::Failed)
    }

    /// Forget the device: unbound, nothing to retry.
    pub fn unbind(&mut self) {
        *self = DeviceState::Unbound { retry: false };
    }

    /// Record a bring-up's outcome: up; unbound with a retry due if the
    /// transport has not seen the binding yet ([`not_bound_yet`]);
    /// failed on any other error. Returns the error, for the log.
    pub fn settle(&mut self, outcome: Result<D, DriverError>) -> Result<(), DriverError> {
        match outcome {
            Ok(device) => {
                *self = DeviceState::Up(device);
                Ok(())
            }
            Err(e) => {
                *self = if not_bound_yet(&e) { DeviceState::Unbound { retry: true } } else { DeviceState::Failed };
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_bring_up_outcomes() {
        let mut s = DeviceState::<u8>::default();
        assert_eq!((s.status(), s.retry_due(), s.holds_device()), (DriverStatus::Unbound, false, false));
        let not_bound = DriverError::Init(InitError::DeviceInfo(CallError::Refused(TransportError::NotBound)));
        assert_eq!(s.settle(Err(not_bound)), Err(not_bound));
        assert!(s.retry_due() && !s.holds_device());
        assert_eq!(s.settle(Ok(7)), Ok(()));
        assert_eq!((s.status(), s.device().copied(), s.holds_device()), (DriverStatus::Ready, Some(7), true));
        let refused = DriverError::Init(InitError::DeviceInfo(CallError::Refused(TransportError::DeviceFailed)));
        assert_eq!(s.settle(Err(refused)), Err(refused));
        assert_eq!((s.status(), s.retry_due(), s.device()), (DriverStatus::Failed, false, None));
        s.unbind();
        assert_eq!(s.status(), DriverStatus::Unbound);
    }
}
