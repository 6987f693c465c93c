//! The PD shell: channels and the runtime [`Handler`].
//!
//! system.xml gives the timer PD the physical timer's interrupt, INTID 30,
//! as id 0 ([`IRQ`]), channel 61 to `uart` for its log lines (its end
//! `pp="true"`, the timer's priority below uart's), and each client a
//! channel with any other id (the client's end `pp="true"`; the timer's
//! priority above every client's).
//! A client's channel id is its slot: the deadline it sets is kept under
//! that id and the notification goes back on it.

use crate::TimerDriver;
use crate::counter::GenericTimer;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, MessageInfo, PpcMessage, debug_println};
use sevio_timer_protocol::wire::{MAX_WORDS, REPLY_LABEL};
use sevio_timer_protocol::{Reply, Request, RequestError};

/// A timer protocol message, either way.
type TimerMessage = PpcMessage<MAX_WORDS>;

/// The physical timer's interrupt (`<irq irq="30" id="0"/>`).
pub const IRQ: Channel = Channel::new(0);

/// The PD: `None` once it cannot run.
pub struct TimerPd {
    driver: Option<TimerDriver<GenericTimer>>,
    ack_pending: bool,
}

impl TimerPd {
    /// Take over the timer.
    pub fn start() -> TimerPd {
        match TimerDriver::new(GenericTimer) {
            Ok(driver) => {
                debug_println!(
                    "timer: Arm generic timer (EL0 physical) at {} Hz, interrupt on id {}",
                    driver.frequency(),
                    IRQ.index()
                );
                TimerPd { driver: Some(driver), ack_pending: false }
            }
            Err(e) => {
                debug_println!("timer: cannot run: {e:?} (CNTFRQ_EL0 reads 0)");
                TimerPd { driver: None, ack_pending: false }
            }
        }
    }
}

impl Handler for TimerPd {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(IRQ) {
            return;
        }
        // Acked after this handler, with the next wait: by then the
        // compare value is past the count or the timer disabled, so the
        // level-triggered line is low unless a deadline is already due.
        self.ack_pending = true;
        let Some(driver) = &mut self.driver else { return };
        for client in driver.interrupt() {
            client.notify();
        }
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        let Some(driver) = &mut self.driver else { return send_reply(Reply::Empty) };
        // A message longer than any request is refused whole (its words
        // are never read), like one that does not decode.
        let request = TimerMessage::receive(info)
            .map_err(|e| RequestError::WrongLength { label: e.label, expected: e.max, got: e.len })
            .and_then(|message| Request::decode(message.label(), message.words()));
        match request {
            Ok(request) => send_reply(driver.request(channel, request)),
            Err(e) => {
                log_refusal(channel, e);
                send_reply(Reply::Empty)
            }
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        core::mem::take(&mut self.ack_pending).then_some(DeferredAction::IrqAck(IRQ))
    }
}

fn log_refusal(channel: Channel, e: RequestError) {
    debug_println!("timer: refused a request from channel {}: {e:?}", channel.index());
}

/// Put `reply` in the message registers; its tag.
fn send_reply(reply: Reply) -> MessageInfo {
    // Both replies fit MAX_WORDS; the fallback is the empty reply.
    TimerMessage::encode(|words| reply.encode(words)).map_or(MessageInfo::new(REPLY_LABEL, 0), |message| message.send())
}
