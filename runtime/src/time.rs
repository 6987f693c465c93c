//! A monotonic clock for measurements (benchmarks, timeouts in logs).
//!
//! - seL4 (aarch64): the ARM generic timer's physical count `CNTPCT_EL0`
//!   scaled by `CNTFRQ_EL0` ([`crate::generic_timer`] says why the
//!   physical and not the virtual counter).
//! - hosted: `CLOCK_MONOTONIC`, the same for every process (sim's PDs
//!   and sim itself).

/// Nanoseconds on a monotonic clock. Only differences are meaningful.
pub fn now_ns() -> u64 {
    #[cfg(target_os = "none")]
    {
        let (count, freq) = (crate::generic_timer::count(), crate::generic_timer::frequency());
        if freq == 0 {
            return 0;
        }
        // u128: count * 1e9 overflows u64 after ~5 minutes at 62.5 MHz.
        (u128::from(count) * 1_000_000_000 / u128::from(freq)) as u64
    }
    #[cfg(not(target_os = "none"))]
    {
        // CLOCK_MONOTONIC, as sim's own clock: one clock for every PD
        // process, as the generic timer is one for every PD on seL4, so
        // times logged by two PDs compare.
        crate::hosted::wire::monotonic_ns()
    }
}

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    #[test]
    fn never_goes_backwards_and_advances() {
        let a = super::now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::now_ns();
        assert!(b >= a + 1_000_000, "{a} -> {b}");
    }
}
