//! The client side: [`Timer`], what a PD's logic asks of the time, and
//! [`TimerClient`], the PPCs to the timer driver that implement it.

use crate::wire::{MAX_WORDS, Reply, Request};
use sevio_runtime::{Channel, PpcMessage};

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

impl TimerClient {
    /// PPC the driver with `request`; its reply as it came, or `None` for
    /// a reply that does not decode.
    fn call(&self, request: Request) -> Option<Reply> {
        let reply =
            PpcMessage::<MAX_WORDS>::encode(|words| request.encode(words)).and_then(|m| m.call(self.channel)).ok()?;
        Reply::decode(reply.words()).ok()
    }
}

impl Timer for TimerClient {
    fn now_ns(&mut self) -> u64 {
        // A reply without a time (a driver that refused, or a dead one
        // under sim) reads as 0: the start of the clock, which makes any
        // deadline computed from it come early rather than never.
        match self.call(Request::GetTime) {
            Some(Reply::Time(ns)) => ns,
            Some(Reply::Empty) | None => 0,
        }
    }

    fn set_timeout(&mut self, relative_ns: u64) {
        // The reply is empty by the protocol: nothing in it to act on.
        let _ = self.call(Request::SetTimeout { relative_ns });
    }
}
