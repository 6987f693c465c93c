//! [`FakeTimer`]: a [`Timer`] for host tests, whose time the test moves.

use crate::Timer;

/// A timer whose clock the test sets; it records the last timeout asked.
#[derive(Clone, Debug, Default)]
pub struct FakeTimer {
    /// The time [`Timer::now_ns`] answers.
    pub now: u64,
    /// Absolute time of the pending timeout, as the driver would keep it.
    pub pending: Option<u64>,
    /// How many timeouts were set in all.
    pub set_count: usize,
}

impl FakeTimer {
    /// A timer at `now`.
    pub fn at(now: u64) -> Self {
        FakeTimer { now, ..FakeTimer::default() }
    }

    /// Move the clock to `now`; true if the pending timeout expired (it is
    /// then cleared, as the driver's notification clears it).
    pub fn advance_to(&mut self, now: u64) -> bool {
        self.now = now;
        let fired = self.pending.is_some_and(|at| at <= now);
        if fired {
            self.pending = None;
        }
        fired
    }
}

impl Timer for FakeTimer {
    fn now_ns(&mut self) -> u64 {
        self.now
    }
    fn set_timeout(&mut self, relative_ns: u64) {
        self.pending = Some(self.now.saturating_add(relative_ns));
        self.set_count += 1;
    }
}
