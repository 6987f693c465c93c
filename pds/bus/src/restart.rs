//! When the bus restarts a faulted driver, and when it gives up.
//!
//! Each driver has a [`FaultHistory`]: the times of its latest faults.
//! A fault is answered by a restart after a back-off that doubles with
//! every fault still inside the window, up to a ceiling; the
//! `max_faults`-th fault inside the window leaves the driver down for
//! good (a driver that keeps faulting would only keep its device busy
//! resetting). No clock here: the caller passes the time, so the policy
//! is tested without one.

/// The restart policy (the system's is [`crate::config::RESTART_POLICY`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The fault that makes this many inside [`window_ns`](Self::window_ns)
    /// leaves the driver down. 1 means: never restart. At most
    /// [`MAX_TRACKED_FAULTS`].
    pub max_faults: usize,
    /// The window, in nanoseconds.
    pub window_ns: u64,
    /// The back-off before the first restart in a window.
    pub first_backoff_ns: u64,
    /// The ceiling of the doubling back-off.
    pub max_backoff_ns: u64,
}

/// The most faults a history remembers (and so the largest
/// [`RestartPolicy::max_faults`]).
pub const MAX_TRACKED_FAULTS: usize = 32;

/// What to do about a fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Restart the driver after `backoff_ns`; this is fault number
    /// `faults` inside the window.
    Restart {
        /// How long to wait first.
        backoff_ns: u64,
        /// Faults inside the window, this one included.
        faults: usize,
    },
    /// Leave the driver down: `faults` inside the window reached the
    /// policy's limit.
    StayDown {
        /// Faults inside the window, this one included.
        faults: usize,
    },
}

/// The latest faults of one driver.
#[derive(Copy, Clone, Debug)]
pub struct FaultHistory {
    /// Fault times, oldest first, `len` of them.
    times: [u64; MAX_TRACKED_FAULTS],
    len: usize,
}

impl Default for FaultHistory {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultHistory {
    /// No faults yet.
    pub const fn new() -> Self {
        FaultHistory { times: [0; MAX_TRACKED_FAULTS], len: 0 }
    }

    /// Record a fault at `now_ns` and decide what to do about it.
    pub fn record(&mut self, now_ns: u64, policy: &RestartPolicy) -> Decision {
        // Forget the faults that left the window.
        let keep_from = self.times[..self.len]
            .iter()
            .position(|&t| now_ns.saturating_sub(t) < policy.window_ns)
            .unwrap_or(self.len);
        self.times.copy_within(keep_from..self.len, 0);
        self.len -= keep_from;
        if self.len == MAX_TRACKED_FAULTS {
            self.times.copy_within(1.., 0);
            self.len -= 1;
        }
        self.times[self.len] = now_ns;
        self.len += 1;
        let faults = self.len;
        if faults >= policy.max_faults.clamp(1, MAX_TRACKED_FAULTS) {
            return Decision::StayDown { faults };
        }
        // faults < MAX_TRACKED_FAULTS here, so the shift is below 32.
        let doubled = policy.first_backoff_ns.saturating_mul(1 << (faults - 1));
        Decision::Restart { backoff_ns: doubled.min(policy.max_backoff_ns), faults }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const POLICY: RestartPolicy =
        RestartPolicy { max_faults: 4, window_ns: 1000 * MS, first_backoff_ns: MS, max_backoff_ns: 3 * MS };

    #[test]
    fn backoff_doubles_to_its_ceiling_and_the_limit_leaves_the_driver_down() {
        let mut h = FaultHistory::new();
        assert_eq!(h.record(0, &POLICY), Decision::Restart { backoff_ns: MS, faults: 1 });
        assert_eq!(h.record(10 * MS, &POLICY), Decision::Restart { backoff_ns: 2 * MS, faults: 2 });
        assert_eq!(h.record(20 * MS, &POLICY), Decision::Restart { backoff_ns: 3 * MS, faults: 3 });
        assert_eq!(h.record(30 * MS, &POLICY), Decision::StayDown { faults: 4 });
    }

    #[test]
    fn faults_that_left_the_window_do_not_count() {
        let mut h = FaultHistory::new();
        for t in [0, 100, 200] {
            assert!(matches!(h.record(t * MS, &POLICY), Decision::Restart { .. }));
        }
        // 1.15 s: the first two are more than a window old.
        assert_eq!(h.record(1150 * MS, &POLICY), Decision::Restart { backoff_ns: 2 * MS, faults: 2 });
        // Spread out, a driver may fault forever and still be restarted.
        let mut spread = FaultHistory::new();
        for k in 0..100 {
            assert_eq!(spread.record(k * 1001 * MS, &POLICY), Decision::Restart { backoff_ns: MS, faults: 1 });
        }
    }

    #[test]
    fn a_limit_past_the_history_is_capped_and_one_means_never_restart() {
        let generous = RestartPolicy { max_faults: 1000, ..POLICY };
        let mut h = FaultHistory::new();
        for t in 0..MAX_TRACKED_FAULTS as u64 - 1 {
            assert!(matches!(h.record(t, &generous), Decision::Restart { .. }));
        }
        assert_eq!(h.record(40, &generous), Decision::StayDown { faults: MAX_TRACKED_FAULTS });
        let never = RestartPolicy { max_faults: 1, ..POLICY };
        assert_eq!(FaultHistory::new().record(0, &never), Decision::StayDown { faults: 1 });
    }
}
