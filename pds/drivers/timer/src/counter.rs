//! The counter the driver runs on, and tick/nanosecond conversion.

use sevio_runtime::generic_timer;

/// The EL0 physical timer's registers as the driver uses them.
pub trait Counter {
    /// `CNTPCT_EL0`.
    fn count(&self) -> u64;
    /// `CNTFRQ_EL0` (Hz).
    fn frequency(&self) -> u64;
    /// Write `CNTP_CVAL_EL0 = compare`, then `CNTP_CTL_EL0 = control`.
    fn program(&mut self, compare: u64, control: u64);
}

/// The real timer: system registers on seL4, sim's simulated timer
/// hosted (`sevio_runtime::generic_timer`).
#[derive(Copy, Clone, Debug, Default)]
pub struct GenericTimer;

impl Counter for GenericTimer {
    fn count(&self) -> u64 {
        generic_timer::count()
    }
    fn frequency(&self) -> u64 {
        generic_timer::frequency()
    }
    fn program(&mut self, compare: u64, control: u64) {
        generic_timer::program(compare, control)
    }
}

/// `ticks` at `hz` in nanoseconds, rounded down (saturating).
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    if hz == 0 {
        return 0;
    }
    // u128: ticks * 1e9 overflows u64 after ~5 minutes at 62.5 MHz.
    u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(hz)).unwrap_or(u64::MAX)
}

/// The first tick count at `hz` at or after `ns` (saturating).
pub fn ns_to_ticks_ceil(ns: u64, hz: u64) -> u64 {
    u64::try_from((u128::from(ns) * u128::from(hz)).div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}
