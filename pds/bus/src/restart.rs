//! When the bus restarts a faulted driver, and when it gives up.
//!
//! Each driver has a [`FaultHistory`]: a window that opens at a fault and
//! counts the faults until it is `window_ns` old; the next fault after
//! that opens a new one. A fault is answered by a restart after a
//! back-off that doubles with every fault in the window, up to a
//! ceiling; the `max_faults`-th fault in one window leaves the driver
//! down for good (a driver that keeps faulting would only keep its device
//! busy resetting). Two words per driver: the bus runs on a small stack.
//! No clock here: the caller passes the time, so the policy is tested
//! without one.

/// The restart policy (the system's is [`crate::config::RESTART_POLICY`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The fault that makes this many in one window leaves the driver
    /// down. 1 (or 0) means: never restart.
    pub max_faults: usize,
    /// The window, in nanoseconds.
    pub window_ns: u64,
    /// The back-off before the first restart in a window.
    pub first_backoff_ns: u64,
    /// The ceiling of the doubling back-off.
    pub max_backoff_ns: u64,
}

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

/// The faults of one driver in its current window.
#[derive(Copy, Clone, Debug, Default)]
pub struct FaultHistory {
    /// When the current window opened (its first fault).
    window_start: u64,
    /// Faults in it; 0 before the first fault.
    faults: usize,
}

impl FaultHistory {
    /// No faults yet.
    pub const fn new() -> Self {
        FaultHistory { window_start: 0, faults: 0 }
    }

    /// Record a fault at `now_ns` and decide what to do about it.
    pub fn record(&mut self, now_ns: u64, policy: &RestartPolicy) -> Decision {
        if self.faults == 0 || now_ns.saturating_sub(self.window_start) >= policy.window_ns {
            *self = FaultHistory { window_start: now_ns, faults: 0 };
        }
        self.faults = self.faults.saturating_add(1);
        let faults = self.faults;
        if faults >= policy.max_faults.max(1) {
            return Decision::StayDown { faults };
        }
        // Doubling stops mattering long before 2^63.
        let doubled = policy.first_backoff_ns.saturating_mul(1 << (faults - 1).min(62));
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
    fn a_fault_after_the_window_opens_a_new_one() {
        let mut h = FaultHistory::new();
        for t in [0, 100, 200] {
            assert!(matches!(h.record(t * MS, &POLICY), Decision::Restart { .. }));
        }
        // 1.15 s: past the window that opened at 0.
        assert_eq!(h.record(1150 * MS, &POLICY), Decision::Restart { backoff_ns: MS, faults: 1 });
        assert_eq!(h.record(1200 * MS, &POLICY), Decision::Restart { backoff_ns: 2 * MS, faults: 2 });
        // Spread out, a driver may fault forever and still be restarted.
        let mut spread = FaultHistory::new();
        for k in 0..100 {
            assert_eq!(spread.record(k * 1001 * MS, &POLICY), Decision::Restart { backoff_ns: MS, faults: 1 });
        }
    }

    #[test]
    fn a_limit_of_one_means_never_restart() {
        for max_faults in [0, 1] {
            let never = RestartPolicy { max_faults, ..POLICY };
            assert_eq!(FaultHistory::new().record(0, &never), Decision::StayDown { faults: 1 });
        }
    }
}
