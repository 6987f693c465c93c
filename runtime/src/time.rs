//! A monotonic clock for measurements (benchmarks, timeouts in logs).
//!
//! - seL4 (aarch64): the ARM generic timer's physical count `CNTPCT_EL0`
//!   scaled by `CNTFRQ_EL0`. Microkit 2.3.0 builds its aarch64 kernels with
//!   `KernelArmExportPCNTUser` (and not the virtual-count export), so EL0
//!   may read the physical counter but reading `CNTVCT_EL0` would trap.
//! - hosted: `std::time::Instant`, counted from the first call.

/// Nanoseconds on a monotonic clock. Only differences are meaningful.
pub fn now_ns() -> u64 {
    #[cfg(target_os = "none")]
    {
        let (count, freq) = arch::counter();
        if freq == 0 {
            return 0;
        }
        // u128: count * 1e9 overflows u64 after ~5 minutes at 62.5 MHz.
        (u128::from(count) * 1_000_000_000 / u128::from(freq)) as u64
    }
    #[cfg(not(target_os = "none"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        let start = *START.get_or_init(Instant::now);
        u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
mod arch {
    /// (CNTPCT_EL0, CNTFRQ_EL0).
    pub(super) fn counter() -> (u64, u64) {
        let count: u64;
        let freq: u64;
        // SAFETY: reads of two generic-timer system registers, which seL4
        // lets EL0 read (CNTKCTL_EL1.EL0PCTEN, set by the kernel for
        // KernelArmExportPCNTUser, which Microkit 2.3.0 enables on
        // aarch64); no memory is touched. The `isb` keeps the counter read
        // from being hoisted above earlier instructions.
        unsafe {
            core::arch::asm!(
                "isb",
                "mrs {count}, cntpct_el0",
                "mrs {freq}, cntfrq_el0",
                count = out(reg) count,
                freq = out(reg) freq,
                options(nomem, nostack, preserves_flags),
            );
        }
        (count, freq)
    }
}

#[cfg(all(target_os = "none", not(target_arch = "aarch64")))]
mod arch {
    /// No counter on this architecture yet: the clock stands still.
    pub(super) fn counter() -> (u64, u64) {
        (0, 0)
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
