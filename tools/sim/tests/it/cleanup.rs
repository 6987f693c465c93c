//! However a run ends (timeout, Ctrl-C, SIGTERM, sim killed outright),
//! QEMU, every PD and the shared-memory file are gone afterwards
//! (`Started::finish` checks that after every run in this test binary).

use crate::common::{Started, assert_cleaned_up, sim, start_sim};

#[test]
fn timeout_fails_and_cleans_up() {
    let run = sim(&["idle.xml", "--timeout", "1"]);
    run.assert_code(1);
    run.assert_lines(&[
        "sim: idle.xml: 1 PDs, QEMU with 1 device(s)",
        "sim: FAIL: timeout after 1s: no PD reported a verdict",
    ]);
}

/// The idle system (a PD, QEMU with a device, no verdict), running.
fn idle() -> Started {
    let mut s = start_sim(&["idle.xml", "--timeout", "60"]);
    s.wait_for_line("sim: idle.xml: 1 PDs, QEMU");
    s
}

#[test]
fn ctrl_c_fails_and_cleans_up() {
    let s = idle();
    s.signal(libc::SIGINT);
    s.finish().assert_code(1).assert_lines(&["sim: FAIL: interrupted by signal 2 (SIGINT)"]);
}

#[test]
fn sigterm_fails_and_cleans_up() {
    let s = idle();
    s.signal(libc::SIGTERM);
    s.finish().assert_code(1).assert_lines(&["sim: FAIL: interrupted by signal 15 (SIGTERM)"]);
}

#[test]
fn killed_sim_leaves_nothing() {
    let mut s = idle();
    let pid = s.child.id();
    s.signal(libc::SIGKILL);
    let _ = s.child.wait();
    // QEMU and the PD die by PR_SET_PDEATHSIG; the shared-memory file and
    // the run directory were removed once everything had started.
    assert_cleaned_up(pid);
}
