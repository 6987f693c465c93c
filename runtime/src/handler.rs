//! The PD programming model: what a PD implements.

use crate::{Channel, ChannelSet, Child, MessageInfo};

/// A notify or IRQ ack that the event loop performs on the PD's behalf,
/// fused into its next wait (seL4's NBSendRecv) to save a syscall.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum DeferredAction {
    /// Signal this channel.
    Notify(Channel),
    /// Acknowledge this IRQ.
    IrqAck(Channel),
}

impl DeferredAction {
    /// The channel the action goes to.
    pub fn channel(self) -> Channel {
        match self {
            DeferredAction::Notify(c) | DeferredAction::IrqAck(c) => c,
        }
    }

    /// Notify every channel of `channels` at the end of this event: the
    /// lowest as the deferred action, each other one now (Microkit defers
    /// one action per wait). For a PD with several peers to tell at once,
    /// such as a driver with sDDF's rx and tx virtualisers.
    pub fn notify_each(channels: ChannelSet) -> Option<DeferredAction> {
        let mut channels = channels.into_iter();
        let deferred = channels.next()?;
        channels.for_each(Channel::notify);
        Some(DeferredAction::Notify(deferred))
    }
}

/// A protection domain's behaviour. One event at a time: a handler method
/// runs to completion before the next event is taken.
pub trait Handler {
    /// Some channels (or IRQs) were signalled. Several may come at once.
    fn notified(&mut self, channels: ChannelSet) {
        crate::debug_println!("unexpected notification {:?}", channels);
    }

    /// A PPC arrived on `channel`; the returned message is the reply. The
    /// caller stays blocked until then, so keep this short.
    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        crate::debug_println!("unexpected PPC on {:?} label {}", channel, info.label());
        MessageInfo::new(u64::MAX >> 12, 0)
    }

    /// A child PD faulted. Returning a message replies to the fault and so
    /// resumes the child; `None` leaves it stopped.
    fn fault(&mut self, child: Child, info: MessageInfo) -> Option<MessageInfo> {
        crate::debug_println!("child {} faulted (label {})", child.index(), info.label());
        None
    }

    /// An action to perform with the next wait. The loop asks once after
    /// every event; return `None` when there is nothing to do.
    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        None
    }
}
