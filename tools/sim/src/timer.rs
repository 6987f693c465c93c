//! The simulated generic timer: the EL0 physical timer a timer driver PD
//! programs (`sevio_runtime::generic_timer`), as one per machine.
//!
//! The count is the host's `CLOCK_MONOTONIC` at `SIM_COUNTER_HZ`, which
//! the PDs read themselves; what reaches sim is each write of the compare
//! value and control register. The interrupt line (INTID 30) is high while
//! the timer is enabled, not masked, and the count has reached the compare
//! value, as the architecture defines the timer condition; sim drives the
//! router's line with it, so delivery, masking until the ack and
//! redelivery of a line still high follow the same rules as a device's
//! level-triggered SPI.

use sevio_runtime::generic_timer::{CTL_ENABLE, CTL_IMASK};
use sevio_runtime::hosted::wire::{sim_count_at, sim_monotonic_ns_of};

/// The timer's registers and the line level sim last reported.
#[derive(Debug, Default)]
pub struct SimTimer {
    compare: u64,
    control: u64,
    line_high: bool,
}

impl SimTimer {
    /// A PD wrote `CNTP_CVAL_EL0` / `CNTP_CTL_EL0`.
    pub fn program(&mut self, compare: u64, control: u64) {
        self.compare = compare;
        self.control = control;
    }

    fn armed(&self) -> bool {
        self.control & CTL_ENABLE != 0 && self.control & CTL_IMASK == 0
    }

    /// The line's level at `monotonic_ns`, if it differs from the level
    /// last returned (which it then becomes).
    pub fn level_change(&mut self, monotonic_ns: u64) -> Option<bool> {
        let high = self.armed() && sim_count_at(monotonic_ns) >= self.compare;
        (high != self.line_high).then(|| {
            self.line_high = high;
            high
        })
    }

    /// When (`CLOCK_MONOTONIC` ns) the line will rise, if it is low and
    /// armed.
    pub fn next_rise_ns(&self) -> Option<u64> {
        (self.armed() && !self.line_high).then(|| sim_monotonic_ns_of(self.compare))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn rises_at_the_compare_value_and_falls_when_reprogrammed_or_masked() {
        let mut t = SimTimer::default();
        assert_eq!(t.level_change(5 * MS), None, "disabled after reset");
        assert_eq!(t.next_rise_ns(), None);
        t.program(sim_count_at(10 * MS), CTL_ENABLE);
        assert_eq!(t.next_rise_ns(), Some(10 * MS));
        assert_eq!(t.level_change(10 * MS - 100), None);
        assert_eq!(t.level_change(10 * MS), Some(true));
        assert_eq!(t.level_change(11 * MS), None, "a level, reported once");
        assert_eq!(t.next_rise_ns(), None);
        t.program(sim_count_at(20 * MS), CTL_ENABLE);
        assert_eq!(t.level_change(12 * MS), Some(false), "a later compare value lowers it");
        t.program(sim_count_at(20 * MS), CTL_ENABLE | CTL_IMASK);
        assert_eq!(t.level_change(25 * MS), None, "masked: the condition holds but the line stays low");
        assert_eq!(t.next_rise_ns(), None);
        t.program(sim_count_at(20 * MS), CTL_ENABLE);
        assert_eq!(t.level_change(25 * MS), Some(true), "unmasked past the compare value: at once");
        t.program(u64::MAX, 0);
        assert_eq!(t.level_change(25 * MS), Some(false), "disabled");
    }
}
