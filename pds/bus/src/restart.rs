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

/// A system's own restart policy, as its build writes it into the bus
/// image's ELF section [`POLICY_SECTION`] (`tools/sdfgen`:
/// `SevioSystem.serialise_restart_policy`, then `objcopy
/// --update-section`, as sDDF's build does with sdfgen's output). Six
/// little-endian u32s:
///
/// | offset | field | allowed |
/// |---|---|---|
/// | 0 | magic `b"SVRP"` | exactly |
/// | 4 | `max_faults`: the fault that makes this many in one window leaves the driver down (1: never restart) | 1..=1000 |
/// | 8 | `window_ms` | 1..=86_400_000 (a day) |
/// | 12 | `first_backoff_us` | 0..=`max_backoff_us` |
/// | 16 | `max_backoff_us` | 0..=100_000 |
/// | 20 | reserved | 0 |
///
/// The back-off ceiling is short because the bus waits it out itself
/// (no timer serves it), binding nothing meanwhile. A section nobody
/// filled is all zeros: the built-in policy ([`crate::config::RESTART_POLICY`]).
pub const POLICY_SECTION: &str = ".sevio_restart_policy";
/// Size of [`POLICY_SECTION`].
pub const POLICY_SECTION_SIZE: usize = 24;
/// The section's first four bytes.
pub const POLICY_MAGIC: [u8; 4] = *b"SVRP";
/// The largest `max_faults` a section may give.
pub const MAX_FAULTS_LIMIT: u32 = 1000;
/// The longest window, in ms.
pub const WINDOW_MS_LIMIT: u32 = 86_400_000;
/// The highest back-off ceiling, in us.
pub const BACKOFF_US_LIMIT: u32 = 100_000;

/// What is wrong with a [`POLICY_SECTION`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// The first four bytes are not `SVRP`.
    Magic([u8; 4]),
    /// A field outside its range.
    OutOfRange {
        /// The field's name, as in the table above.
        field: &'static str,
        /// What the section holds.
        value: u32,
        /// The smallest allowed.
        min: u32,
        /// The largest allowed.
        max: u32,
    },
    /// The reserved word is not 0 (a newer layout this bus does not know).
    Reserved(u32),
}

impl core::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PolicyError::Magic(m) => write!(f, "the magic is {m:02x?}, not \"SVRP\""),
            PolicyError::OutOfRange { field, value, min, max } => {
                write!(f, "{field} is {value}, must be {min}..={max}")
            }
            PolicyError::Reserved(v) => write!(f, "the reserved word is {v:#x}, must be 0"),
        }
    }
}

impl RestartPolicy {
    /// The policy [`POLICY_SECTION`] holds: `Ok(None)` if the section is
    /// all zeros (nobody filled it), an error naming the first field that
    /// is wrong otherwise. Every field is checked before any is used.
    pub fn from_section(bytes: &[u8; POLICY_SECTION_SIZE]) -> Result<Option<Self>, PolicyError> {
        if bytes.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let word = |i: usize| u32::from_le_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]);
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != POLICY_MAGIC {
            return Err(PolicyError::Magic(magic));
        }
        let in_range = |field, value: u32, min, max| {
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(PolicyError::OutOfRange { field, value, min, max })
            }
        };
        let max_faults = in_range("max_faults", word(1), 1, MAX_FAULTS_LIMIT)?;
        let window_ms = in_range("window_ms", word(2), 1, WINDOW_MS_LIMIT)?;
        let max_backoff_us = in_range("max_backoff_us", word(4), 0, BACKOFF_US_LIMIT)?;
        let first_backoff_us = in_range("first_backoff_us", word(3), 0, max_backoff_us)?;
        if word(5) != 0 {
            return Err(PolicyError::Reserved(word(5)));
        }
        Ok(Some(RestartPolicy {
            max_faults: max_faults as usize,
            window_ns: u64::from(window_ms) * 1_000_000,
            first_backoff_ns: u64::from(first_backoff_us) * 1000,
            max_backoff_ns: u64::from(max_backoff_us) * 1000,
        }))
    }
}

impl core::fmt::Display for RestartPolicy {
    /// `3 faults in 2000 ms leave a driver down; back-off 1000 us doubling to 16000 us`
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} faults in {} ms leave a driver down; back-off {} us doubling to {} us",
            self.max_faults,
            self.window_ns / 1_000_000,
            self.first_backoff_ns / 1000,
            self.max_backoff_ns / 1000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(words: [u32; 5]) -> [u8; POLICY_SECTION_SIZE] {
        let mut bytes = [0u8; POLICY_SECTION_SIZE];
        bytes[..4].copy_from_slice(&POLICY_MAGIC);
        for (i, w) in words.iter().enumerate() {
            bytes[4 + 4 * i..8 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn a_filled_section_is_the_policy_and_an_empty_one_is_none() {
        let p = RestartPolicy::from_section(&section([3, 2000, 500, 4000, 0])).unwrap().unwrap();
        assert_eq!(
            p,
            RestartPolicy { max_faults: 3, window_ns: 2000 * MS, first_backoff_ns: 500_000, max_backoff_ns: 4 * MS }
        );
        assert_eq!(RestartPolicy::from_section(&[0; POLICY_SECTION_SIZE]), Ok(None));
        // The limits themselves are allowed.
        let edge = section([MAX_FAULTS_LIMIT, WINDOW_MS_LIMIT, BACKOFF_US_LIMIT, BACKOFF_US_LIMIT, 0]);
        assert!(RestartPolicy::from_section(&edge).unwrap().is_some());
        assert!(RestartPolicy::from_section(&section([1, 1, 0, 0, 0])).unwrap().is_some());
    }

    #[test]
    fn a_bad_section_names_what_is_wrong() {
        let mut wrong_magic = section([3, 2000, 500, 4000, 0]);
        wrong_magic[0] = b'X';
        assert_eq!(RestartPolicy::from_section(&wrong_magic), Err(PolicyError::Magic(*b"XVRP")));
        let cases = [
            ([0, 2000, 500, 4000, 0], "max_faults is 0, must be 1..=1000"),
            ([1001, 2000, 500, 4000, 0], "max_faults is 1001, must be 1..=1000"),
            ([3, 0, 500, 4000, 0], "window_ms is 0, must be 1..=86400000"),
            ([3, 2000, 500, 100_001, 0], "max_backoff_us is 100001, must be 0..=100000"),
            ([3, 2000, 5000, 4000, 0], "first_backoff_us is 5000, must be 0..=4000"),
            ([3, 2000, 500, 4000, 7], "the reserved word is 0x7, must be 0"),
        ];
        for (words, said) in cases {
            let e = RestartPolicy::from_section(&section(words)).unwrap_err();
            assert_eq!(std::format!("{e}"), said);
        }
    }

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
