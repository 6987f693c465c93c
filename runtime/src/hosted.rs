//! The hosted backend: a PD as a Linux process driven by `tools/sim`.
//!
//! PLACEHOLDER: the wire protocol to sim is defined together with
//! `tools/sim`. Until then these functions keep the crate building and
//! let host unit tests of PD logic run; an event wait outside sim panics.

use crate::kernel::Kernel;
use crate::{Channel, DeferredAction, MessageInfo, MAX_MESSAGE_REGISTERS};
use std::cell::RefCell;

std::thread_local! {
    static MRS: RefCell<[u64; MAX_MESSAGE_REGISTERS]> = const { RefCell::new([0; MAX_MESSAGE_REGISTERS]) };
}

/// Set up the process (called by `protection_domain!` before `init`).
pub fn start() {}

/// The PD's name as sim passes it.
pub fn pd_name() -> &'static str {
    "pd"
}

pub(crate) fn notify(_channel: Channel) {}
pub(crate) fn irq_ack(_channel: Channel) {}
pub(crate) fn pp_call(_channel: Channel, _info: MessageInfo) -> MessageInfo {
    panic!("pp_call outside sim")
}
pub(crate) fn mr_get(i: usize) -> u64 {
    MRS.with(|m| m.borrow()[i])
}
pub(crate) fn mr_set(i: usize, value: u64) {
    MRS.with(|m| m.borrow_mut()[i] = value)
}

/// A variable sim passes for this PD.
pub fn setvar(symbol: &str) -> u64 {
    panic!("setvar {symbol} outside sim")
}

pub(crate) fn write_output(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(s.as_bytes());
}

pub(crate) fn report_verdict(_pass: bool, _reason: &str) {}

pub(crate) fn mmio_read(_addr: usize, _width: usize) -> u64 {
    u64::MAX
}
pub(crate) fn mmio_write(_addr: usize, _width: usize, _value: u64) {}

/// The sim connection.
pub struct HostedKernel;

impl HostedKernel {
    /// The one kernel handle.
    pub fn take() -> Self {
        HostedKernel
    }
}

impl Kernel for HostedKernel {
    fn start(&mut self) {}
    fn perform(&mut self, _action: DeferredAction) {}
    fn wait(&mut self, _reply: Option<MessageInfo>, _action: Option<DeferredAction>) -> (u64, MessageInfo) {
        panic!("event wait outside sim")
    }
}
