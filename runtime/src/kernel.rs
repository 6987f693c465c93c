//! The seam between the shared event loop and a backend.
//!
//! [`Kernel`] is what the event loop needs from seL4 (or from sim): perform
//! an action now, and wait for the next event while replying and/or
//! performing a deferred action. The `platform_*` functions are what
//! [`crate::Channel`] and the message registers behind
//! [`crate::PpcMessage`] call; they go to the backend this build runs on.

use crate::restart::RestartError;
use crate::{Channel, Child, DeferredAction, MessageInfo};

/// What a backend provides to the event loop.
pub trait Kernel {
    /// Called once after `init`, before the first wait: acknowledge every
    /// IRQ this PD owns (an IRQ may have fired before the PD ran).
    fn start(&mut self);

    /// Perform `action` now.
    fn perform(&mut self, action: DeferredAction);

    /// Block until the next event and return its badge and message info.
    ///
    /// `reply`: the answer owed to the PPC caller or faulting child of the
    /// previous event (seL4 ReplyRecv). `action`: a deferred notify or IRQ
    /// ack to perform on the way (seL4 NBSendRecv). With both, the action
    /// is performed first, then ReplyRecv.
    fn wait(&mut self, reply: Option<MessageInfo>, action: Option<DeferredAction>) -> (u64, MessageInfo);
}

#[cfg(not(target_os = "none"))]
use crate::hosted as backend;
#[cfg(target_os = "none")]
use crate::sel4 as backend;

pub(crate) fn platform_notify(channel: Channel) {
    backend::notify(channel)
}

pub(crate) fn platform_irq_ack(channel: Channel) {
    backend::irq_ack(channel)
}

pub(crate) fn platform_pp_call(channel: Channel, info: MessageInfo) -> MessageInfo {
    backend::pp_call(channel, info)
}

pub(crate) fn platform_mr_get(i: usize) -> u64 {
    backend::mr_get(i)
}

pub(crate) fn platform_mr_set(i: usize, value: u64) {
    backend::mr_set(i, value)
}

pub(crate) fn platform_restart_child(child: Child) -> Result<(), RestartError> {
    backend::restart_child(child).map_err(RestartError::Kernel)
}
