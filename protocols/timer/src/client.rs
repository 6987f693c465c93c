//! The client side: [`Timer`], what a PD's logic asks of the time, and
//! [`TimerClient`], the PPCs to the timer driver that implement it.

use crate::wire::{LABEL_GET_TIME, LABEL_SET_TIMEOUT};
use sevio_runtime::{Channel, MessageInfo, MessageRegisters};

/// The time services a PD's logic uses. PD logic takes `&mut impl Timer`
/// so host tests can drive it with [`crate::fake::FakeTimer`].
pub trait Timer {
    /// Nanoseconds since the counter started.
    fn now_ns(&mut self) -> u64;
    /// Be notified `relative_ns` from now, replacing a pending timeout.
    fn set_timeout(&mut self, relative_ns: u64);
}

/// A PD's channel to the timer driver (its end must be `pp="true"`, and the
/// driver's priority above the PD's).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerClient {
    channel: Channel,
}

impl TimerClient {
    /// The driver at the other end of `channel`.
    pub const fn new(channel: Channel) -> Self {
        TimerClient { channel }
    }

    /// The channel the driver notifies on when a timeout expires.
    pub const fn channel(&self) -> Channel {
        self.channel
    }
}

impl Timer for TimerClient {
    fn now_ns(&mut self) -> u64 {
        let reply = self.channel.pp_call(MessageInfo::new(LABEL_GET_TIME, 0));
        // A reply without MR0 (a driver that refused, or a dead one under
        // sim) would leave our own stale MR0; read it only when sent.
        if reply.length() >= 1 { MessageRegisters::get(0) } else { 0 }
    }

    fn set_timeout(&mut self, relative_ns: u64) {
        MessageRegisters::set(0, relative_ns);
        self.channel.pp_call(MessageInfo::new(LABEL_SET_TIMEOUT, 1));
    }
}
