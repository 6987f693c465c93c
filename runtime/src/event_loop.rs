//! The event loop shared by both backends: decode what the kernel
//! delivered, dispatch it to the handler, carry the reply and the deferred
//! action into the next wait.

use crate::kernel::Kernel;
use crate::{Channel, ChannelSet, Child, Handler, MessageInfo};

/// Badge bit 63: the event is a PPC; the low 6 bits name the channel.
pub const BADGE_PPC: u64 = 1 << 63;
/// Badge bit 62: the event is a child fault; the low 8 bits name the child.
pub const BADGE_FAULT: u64 = 1 << 62;

/// One event as the handler sees it.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// A notification naming these channels/IRQs.
    Notified(ChannelSet),
    /// A PPC on this channel.
    Protected(Channel, MessageInfo),
    /// A fault of this child.
    Fault(Child, MessageInfo),
}

impl Event {
    /// Decode a badge as Microkit assigns them. A fault wins over a PPC if
    /// both bits were ever set (they are not, by construction of the
    /// badges; the order only makes decoding total).
    pub fn decode(badge: u64, info: MessageInfo) -> Event {
        if badge & BADGE_FAULT != 0 {
            Event::Fault(Child::new((badge & 0xff) as u8), info)
        } else if badge & BADGE_PPC != 0 {
            // Low 6 bits hold 0..=63; 62 and 63 are not channels but a
            // corrupted badge must not panic, so they map to 61's neighbour
            // check below.
            match Channel::try_new(badge & 0x3f) {
                Some(ch) => Event::Protected(ch, info),
                None => Event::Notified(ChannelSet::from_badge(0)),
            }
        } else {
            Event::Notified(ChannelSet::from_badge(badge))
        }
    }
}

/// The loop's state between two waits.
#[derive(Default)]
pub struct EventLoop {
    reply: Option<MessageInfo>,
}

impl EventLoop {
    /// A loop with nothing owed.
    pub const fn new() -> Self {
        EventLoop { reply: None }
    }

    /// Wait for one event and dispatch it.
    pub fn step<K: Kernel, H: Handler>(&mut self, kernel: &mut K, handler: &mut H) {
        let action = handler.take_deferred_action();
        let (badge, info) = kernel.wait(self.reply.take(), action);
        match Event::decode(badge, info) {
            Event::Notified(set) => {
                if !set.is_empty() {
                    handler.notified(set)
                }
            }
            Event::Protected(ch, info) => self.reply = Some(handler.protected(ch, info)),
            Event::Fault(child, info) => self.reply = handler.fault(child, info),
        }
    }
}

/// Run `handler` forever on `kernel`.
pub fn run_event_loop<K: Kernel, H: Handler>(kernel: &mut K, mut handler: H) -> ! {
    kernel.start();
    let mut event_loop = EventLoop::new();
    loop {
        event_loop.step(kernel, &mut handler);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeferredAction;
    use std::vec;
    use std::vec::Vec;

    /// A kernel that replays scripted events and records every call.
    struct FakeKernel {
        events: Vec<(u64, MessageInfo)>,
        calls: Vec<String>,
    }
    use std::format;
    use std::string::{String, ToString};

    impl Kernel for FakeKernel {
        fn start(&mut self) {
            self.calls.push("start".to_string());
        }
        fn perform(&mut self, action: DeferredAction) {
            self.calls.push(format!("perform {action:?}"));
        }
        fn wait(&mut self, reply: Option<MessageInfo>, action: Option<DeferredAction>) -> (u64, MessageInfo) {
            self.calls.push(format!("wait reply={:?} action={action:?}", reply.map(|r| r.label())));
            self.events.remove(0)
        }
    }

    #[derive(Default)]
    struct Recorder {
        seen: Vec<String>,
        deferred: Vec<DeferredAction>,
    }

    impl Handler for Recorder {
        fn notified(&mut self, channels: ChannelSet) {
            for ch in channels {
                self.seen.push(format!("notified {}", ch.index()));
            }
        }
        fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
            self.seen.push(format!("ppc {} label {}", channel.index(), info.label()));
            MessageInfo::new(info.label() + 100, 0)
        }
        fn fault(&mut self, child: Child, _info: MessageInfo) -> Option<MessageInfo> {
            self.seen.push(format!("fault {}", child.index()));
            if child.index() == 1 { Some(MessageInfo::new(7, 0)) } else { None }
        }
        fn take_deferred_action(&mut self) -> Option<DeferredAction> {
            self.deferred.pop()
        }
    }

    fn run(events: Vec<(u64, MessageInfo)>, handler: &mut Recorder) -> Vec<String> {
        let n = events.len();
        let mut kernel = FakeKernel { events, calls: Vec::new() };
        let mut lp = EventLoop::new();
        for _ in 0..n {
            lp.step(&mut kernel, handler);
        }
        kernel.calls
    }

    #[test]
    fn decodes_badges() {
        let info = MessageInfo::new(3, 1);
        assert_eq!(Event::decode(BADGE_PPC | 5, info), Event::Protected(Channel::new(5), info));
        assert_eq!(Event::decode(BADGE_FAULT | 0x17, info), Event::Fault(Child::new(0x17), info));
        assert_eq!(Event::decode(0b1010, info), Event::Notified(ChannelSet::from_badge(0b1010)));
        // A PPC badge naming 62 or 63 is not a channel: no event, no panic.
        assert_eq!(Event::decode(BADGE_PPC | 62, info), Event::Notified(ChannelSet::from_badge(0)));
    }

    #[test]
    fn dispatches_in_order_and_replies_on_next_wait() {
        let mut h = Recorder::default();
        let calls = run(
            vec![
                (0b101, MessageInfo::default()),
                (BADGE_PPC | 2, MessageInfo::new(9, 6)),
                (0b10, MessageInfo::default()),
            ],
            &mut h,
        );
        assert_eq!(h.seen, ["notified 0", "notified 2", "ppc 2 label 9", "notified 1"]);
        // The PPC's reply travels with the wait after it, and only that one.
        assert_eq!(
            calls,
            ["wait reply=None action=None", "wait reply=None action=None", "wait reply=Some(109) action=None"]
        );
    }

    #[test]
    fn fault_reply_only_when_handler_gives_one() {
        let mut h = Recorder::default();
        let calls = run(
            vec![
                (BADGE_FAULT | 1, MessageInfo::default()),
                (BADGE_FAULT | 2, MessageInfo::default()),
                (0, MessageInfo::default()),
            ],
            &mut h,
        );
        assert_eq!(h.seen, ["fault 1", "fault 2"]);
        assert_eq!(calls[1], "wait reply=Some(7) action=None");
        assert_eq!(calls[2], "wait reply=None action=None");
    }

    #[test]
    fn deferred_action_is_fused_into_the_wait() {
        let mut h = Recorder { deferred: vec![DeferredAction::IrqAck(Channel::new(4))], ..Default::default() };
        let calls = run(vec![(1, MessageInfo::default()), (1, MessageInfo::default())], &mut h);
        assert_eq!(calls[0], "wait reply=None action=Some(IrqAck(Channel(4)))");
        assert_eq!(calls[1], "wait reply=None action=None");
    }

    #[test]
    fn empty_notification_is_not_dispatched() {
        let mut h = Recorder::default();
        run(vec![(0, MessageInfo::default())], &mut h);
        assert!(h.seen.is_empty());
    }
}
