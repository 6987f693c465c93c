//! The timer driver: sDDF's timer protocol over the Arm generic timer.
//!
//! [`TimerDriver`] is the PD's logic, a plain `no_std` type over a
//! [`Counter`] (the EL0 physical timer's registers; a fake one in the host
//! tests). It keeps one deadline per client channel, in nanoseconds on the
//! counter's clock, and programs the timer's compare value to the earliest
//! of them; when the timer interrupts, every client whose deadline has
//! passed is notified and the next deadline is programmed.
//!
//! - [`counter`]: the [`Counter`] trait, tick/nanosecond conversion, and
//!   [`counter::GenericTimer`], the real registers through the runtime;
//! - [`pd`]: the PD shell (channels, the runtime `Handler`).
//!
//! Panic contract: no client request and no counter value makes this
//! crate panic; arithmetic saturates.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod counter;
pub mod pd;

pub use counter::Counter;
use counter::{ns_to_ticks_ceil, ticks_to_ns};
use sevio_runtime::generic_timer::CTL_ENABLE;
use sevio_runtime::{Channel, ChannelSet};
use sevio_timer_protocol::{Reply, Request};

/// Channel ids a client may use (every Microkit channel id).
pub const CLIENT_SLOTS: usize = Channel::MAX_ID as usize + 1;

/// Why the driver cannot run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `CNTFRQ_EL0` reads 0: firmware never set the counter's frequency,
    /// so no tick count can be turned into time.
    NoFrequency,
}

/// Counts, for the log.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerStats {
    /// Timeouts set.
    pub set: u64,
    /// Timeouts that replaced one still pending.
    pub replaced: u64,
    /// Notifications sent for expired timeouts.
    pub expired: u64,
    /// Interrupts taken.
    pub interrupts: u64,
}

/// The driver's state: the counter and every client's deadline.
pub struct TimerDriver<C: Counter> {
    counter: C,
    frequency: u64,
    /// Deadline (ns) of the client on each channel; `None`: no timeout.
    deadlines: [Option<u64>; CLIENT_SLOTS],
    /// Counts.
    pub stats: TimerStats,
}

impl<C: Counter> TimerDriver<C> {
    /// Take over `counter`: no timeout pending, the timer disabled.
    pub fn new(mut counter: C) -> Result<Self, InitError> {
        let frequency = counter.frequency();
        if frequency == 0 {
            return Err(InitError::NoFrequency);
        }
        counter.program(u64::MAX, 0);
        Ok(TimerDriver { counter, frequency, deadlines: [None; CLIENT_SLOTS], stats: TimerStats::default() })
    }

    /// The counter's frequency (Hz).
    pub fn frequency(&self) -> u64 {
        self.frequency
    }

    /// Nanoseconds since the counter started.
    pub fn now_ns(&self) -> u64 {
        ticks_to_ns(self.counter.count(), self.frequency)
    }

    /// The deadline of the client on `client`, if it has a timeout pending.
    pub fn deadline(&self, client: Channel) -> Option<u64> {
        self.deadlines[client.index() as usize]
    }

    /// Serve a request from the client on channel `client`.
    pub fn request(&mut self, client: Channel, request: Request) -> Reply {
        let now = self.now_ns();
        match request {
            Request::GetTime => Reply::Time(now),
            Request::SetTimeout { relative_ns } => {
                let slot = &mut self.deadlines[client.index() as usize];
                if slot.is_some() {
                    self.stats.replaced += 1;
                }
                // One pending timeout per client: the new one replaces it
                // (sDDF's driver overwrites the client's slot the same way).
                *slot = Some(now.saturating_add(relative_ns));
                self.stats.set += 1;
                self.program_earliest();
                Reply::Empty
            }
        }
    }

    /// The timer interrupted: the clients whose deadline has passed, to be
    /// notified (their timeouts are cleared); the next deadline is
    /// programmed.
    pub fn interrupt(&mut self) -> ChannelSet {
        self.stats.interrupts += 1;
        let now = self.now_ns();
        let mut due = 0u64;
        for (id, slot) in self.deadlines.iter_mut().enumerate() {
            if slot.is_some_and(|at| at <= now) {
                *slot = None;
                due |= 1 << id;
            }
        }
        self.stats.expired += u64::from(due.count_ones());
        self.program_earliest();
        ChannelSet::from_badge(due)
    }

    /// Compare value = the earliest deadline, rounded up to a whole tick
    /// so the interrupt never comes before it; no deadline: disabled.
    /// A deadline already past makes the timer condition hold at once, so
    /// its interrupt follows the ack.
    fn program_earliest(&mut self) {
        match self.deadlines.iter().flatten().min() {
            Some(&at) => self.counter.program(ns_to_ticks_ceil(at, self.frequency), CTL_ENABLE),
            None => self.counter.program(u64::MAX, 0),
        }
    }
}

#[cfg(test)]
mod tests;
