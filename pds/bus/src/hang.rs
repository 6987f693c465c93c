//! When the bus judges a driver hung: its heartbeat word
//! (`sevio_driver_core::heartbeat`: odd inside an event, even between,
//! moving on with every event) has stayed the same odd value for at least
//! the hang limit. A driver waiting for work (an even word, however old)
//! is never hung; one that keeps handling events moves its word. No clock
//! here: the caller passes the time and the word it read, so the rule is
//! tested without either.

/// How long a driver may stay inside one event: far beyond any event's
/// work (a bring-up is a few dozen PPCs to its transport), short enough
/// that the client is not kept waiting for long.
pub const HANG_LIMIT_NS: u64 = 1_000_000_000;
/// How often the bus reads the heartbeats (a timer PD's timeout).
pub const HANG_TICK_NS: u64 = 250_000_000;

/// What the bus last saw of one driver's heartbeat: two words, as the
/// bus keeps sixteen of these on what may be a small stack.
#[derive(Copy, Clone, Debug)]
pub struct HangWatch {
    /// The word last read.
    word: u64,
    /// When it was first read at that value; [`NOT_SEEN`] before any.
    since: u64,
}

const NOT_SEEN: u64 = u64::MAX;

impl Default for HangWatch {
    fn default() -> Self {
        HangWatch::new()
    }
}

impl HangWatch {
    /// Nothing seen yet (and after a restart: the new instance's word
    /// starts again).
    pub const fn new() -> Self {
        HangWatch { word: 0, since: NOT_SEEN }
    }

    /// The heartbeat reads `word` at `now`: how long (ns) the driver has
    /// been inside one event, if it is inside one for `limit_ns` or more.
    pub fn check(&mut self, word: u64, now: u64, limit_ns: u64) -> Option<u64> {
        if self.since == NOT_SEEN || self.word != word {
            (self.word, self.since) = (word, now);
            return None;
        }
        let stuck = now.saturating_sub(self.since);
        (word & 1 == 1 && stuck >= limit_ns).then_some(stuck)
    }

    /// Forget what was seen (the driver was restarted).
    pub fn reset(&mut self) {
        self.since = NOT_SEEN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1000;

    #[test]
    fn an_odd_word_unchanged_for_the_limit_is_a_hang() {
        let mut w = HangWatch::new();
        assert_eq!(w.check(7, 0, LIMIT), None, "first sight");
        assert_eq!(w.check(7, 999, LIMIT), None, "not yet");
        assert_eq!(w.check(7, 1000, LIMIT), Some(1000));
        assert_eq!(w.check(7, 1500, LIMIT), Some(1500), "still");
    }

    #[test]
    fn an_idle_driver_or_one_that_moves_on_is_never_hung() {
        let mut w = HangWatch::new();
        for t in 0..10 {
            assert_eq!(w.check(8, t * 10_000, LIMIT), None, "even: waiting for work");
        }
        let mut w = HangWatch::new();
        for (i, t) in (0..10).enumerate() {
            // Inside an event at every look, but a different one each time.
            assert_eq!(w.check(2 * i as u64 + 1, t * 10_000, LIMIT), None);
        }
    }

    #[test]
    fn a_reset_starts_the_count_again() {
        let mut w = HangWatch::new();
        w.check(3, 0, LIMIT);
        w.reset();
        assert_eq!(w.check(3, 1500, LIMIT), None, "first sight after the restart");
        assert_eq!(w.check(3, 2500, LIMIT), Some(1000));
    }
}
