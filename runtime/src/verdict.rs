//! A test PD's verdict. On seL4 it is a `PASS` / `FAIL: why` line on the
//! console; under sim it also tells the runner, which ends the run when
//! every PD it waits for has passed, or at the first failure.

/// Report success.
pub fn pass() {
    crate::debug_println!("PASS");
    #[cfg(not(target_os = "none"))]
    crate::hosted::report_verdict(true, "");
}

/// Report failure with a reason.
pub fn fail(reason: &str) {
    crate::debug_println!("FAIL: {}", reason);
    #[cfg(not(target_os = "none"))]
    crate::hosted::report_verdict(false, reason);
}

/// Where a test client stands after an event.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// No verdict yet.
    Waiting,
    /// The pass condition was met at this event (reported once).
    Passed,
    /// The client failed; the reason (details are in its log).
    Failed(&'static str),
}

impl Progress {
    /// Report a verdict, if this is one: [`pass`] or [`fail`].
    pub fn report(self) {
        match self {
            Progress::Waiting => {}
            Progress::Passed => pass(),
            Progress::Failed(why) => fail(why),
        }
    }
}
