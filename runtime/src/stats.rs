//! System-wide event counters, for benchmarks that report signals per
//! operation.

/// `(notifications, irqs)`: every notification any PD has sent and every
/// interrupt delivered, since the system started; `None` where nobody
/// counts them (seL4 without a benchmark kernel; sim until it answers).
/// Only differences are meaningful.
pub fn system_counters() -> Option<(u64, u64)> {
    #[cfg(target_os = "none")]
    {
        None
    }
    #[cfg(not(target_os = "none"))]
    {
        crate::hosted::system_counters()
    }
}
