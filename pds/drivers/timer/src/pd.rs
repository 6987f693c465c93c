//! The PD shell: channels and the runtime [`Handler`].
//!
//! system.xml gives the timer PD the physical timer's interrupt, INTID 30,
//! as id 0 ([`IRQ`]), and each client a channel with any other id (the
//! client's end `pp="true"`; the timer's priority above every client's).
//! A client's channel id is its slot: the deadline it sets is kept under
//! that id and the notification goes back on it.

use crate::counter::GenericTimer;
use crate::{Reply, TimerDriver};
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, MessageInfo, MessageRegisters, debug_println};
use sevio_timer_protocol::wire::{GET_TIME_REPLY_WORDS, REPLY_LABEL};
use sevio_timer_protocol::{Request, RequestError};

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
        let empty = MessageInfo::new(REPLY_LABEL, 0);
        let Some(driver) = &mut self.driver else { return empty };
        let request = match Request::decode(info.label(), info.length(), || MessageRegisters::get(0)) {
            Ok(request) => request,
            Err(e) => {
                log_refusal(channel, e);
                return empty;
            }
        };
        match driver.request(channel, request) {
            Reply::Time(ns) => {
                MessageRegisters::set(0, ns);
                MessageInfo::new(REPLY_LABEL, GET_TIME_REPLY_WORDS)
            }
            Reply::Empty => empty,
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        core::mem::take(&mut self.ack_pending).then_some(DeferredAction::IrqAck(IRQ))
    }
}

fn log_refusal(channel: Channel, e: RequestError) {
    debug_println!("timer: refused a request from channel {}: {e:?}", channel.index());
}
