//! The Arm generic timer's EL0 physical timer: the registers a timer
//! driver PD programs.
//!
//! - seL4 (aarch64): the system registers themselves. Microkit 2.3.0's
//!   qemu_virt_aarch64 kernels are built with `CONFIG_EXPORT_PCNT_USER` and
//!   `CONFIG_EXPORT_PTMR_USER` (the physical count and timer are exported
//!   to EL0) and without the virtual ones, so EL0 may use `CNTPCT_EL0`,
//!   `CNTP_CVAL_EL0` and `CNTP_CTL_EL0`; the timer's interrupt is the
//!   physical timer PPI, INTID 30.
//! - hosted: a simulated timer of the same shape. The count is the host's
//!   `CLOCK_MONOTONIC` at [`SIM_COUNTER_HZ`], read in the process; every
//!   compare or control write goes to sim, which raises INTID 30 for the
//!   PD owning it when the count reaches the compare value.
//!
//! There is one such timer per CPU: only the PD that owns INTID 30 (the
//! timer driver) may write it.

#[cfg(not(target_os = "none"))]
use crate::hosted::wire::SIM_COUNTER_HZ;

/// `CNTP_CTL_EL0.ENABLE`: the timer condition is evaluated.
pub const CTL_ENABLE: u64 = 1 << 0;
/// `CNTP_CTL_EL0.IMASK`: the condition does not assert the interrupt.
pub const CTL_IMASK: u64 = 1 << 1;
/// `CNTP_CTL_EL0.ISTATUS` (read-only): the count has reached the compare value.
pub const CTL_ISTATUS: u64 = 1 << 2;
/// INTID of the EL0/EL1 physical timer's interrupt (a PPI).
pub const PHYSICAL_TIMER_INTID: u32 = 30;

/// `CNTPCT_EL0`: the physical count.
pub fn count() -> u64 {
    #[cfg(target_os = "none")]
    {
        arch::count()
    }
    #[cfg(not(target_os = "none"))]
    {
        crate::hosted::wire::sim_count_at(crate::hosted::wire::monotonic_ns())
    }
}

/// `CNTFRQ_EL0`: counts per second (0 if firmware never set it).
pub fn frequency() -> u64 {
    #[cfg(target_os = "none")]
    {
        arch::frequency()
    }
    #[cfg(not(target_os = "none"))]
    {
        SIM_COUNTER_HZ
    }
}

/// Write `CNTP_CVAL_EL0` and then `CNTP_CTL_EL0`: the timer condition holds
/// once [`count`] ≥ `compare`, and asserts the interrupt while `control`
/// has [`CTL_ENABLE`] and not [`CTL_IMASK`].
pub fn program(compare: u64, control: u64) {
    #[cfg(target_os = "none")]
    arch::program(compare, control & (CTL_ENABLE | CTL_IMASK));
    #[cfg(not(target_os = "none"))]
    crate::hosted::timer_set(compare, control & (CTL_ENABLE | CTL_IMASK));
}

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
mod arch {
    pub(super) fn count() -> u64 {
        let count: u64;
        // SAFETY: reads CNTPCT_EL0, which EL0 may read on Microkit 2.3.0
        // kernels (CONFIG_EXPORT_PCNT_USER); no memory is touched. `isb`
        // keeps the read from being hoisted above earlier instructions.
        unsafe {
            core::arch::asm!("isb", "mrs {c}, cntpct_el0", c = out(reg) count, options(nomem, nostack, preserves_flags));
        }
        count
    }

    pub(super) fn frequency() -> u64 {
        let freq: u64;
        // SAFETY: CNTFRQ_EL0 is readable at EL0 whenever any counter is
        // exported; a register read, no memory touched.
        unsafe { core::arch::asm!("mrs {f}, cntfrq_el0", f = out(reg) freq, options(nomem, nostack, preserves_flags)) };
        freq
    }

    pub(super) fn program(compare: u64, control: u64) {
        // SAFETY: writes CNTP_CVAL_EL0 then CNTP_CTL_EL0, which EL0 may
        // write on Microkit 2.3.0 kernels (CONFIG_EXPORT_PTMR_USER). They
        // touch no memory; the only effect is when INTID 30 asserts, and
        // the kernel delivers that only to the PD system.xml gives it.
        // The `isb` makes the new setting take effect before we go on.
        unsafe {
            core::arch::asm!(
                "msr cntp_cval_el0, {cval}",
                "msr cntp_ctl_el0, {ctl}",
                "isb",
                cval = in(reg) compare,
                ctl = in(reg) control,
                options(nomem, nostack, preserves_flags),
            );
        }
    }
}

#[cfg(all(target_os = "none", not(target_arch = "aarch64")))]
mod arch {
    pub(super) fn count() -> u64 {
        0
    }
    pub(super) fn frequency() -> u64 {
        0
    }
    pub(super) fn program(_compare: u64, _control: u64) {}
}

#[cfg(all(test, not(target_os = "none")))]
mod tests {
    use super::*;

    #[test]
    fn hosted_count_runs_at_the_simulated_frequency() {
        let a = count();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = count();
        let elapsed = b - a;
        // 20 ms at 62.5 MHz is 1.25 M counts; a loaded host may oversleep.
        assert!((1_250_000..1_250_000 * 50).contains(&elapsed), "{elapsed}");
        assert_eq!(frequency(), 62_500_000);
    }
}
