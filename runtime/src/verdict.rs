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
