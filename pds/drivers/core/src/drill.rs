//! A fault drill: a driver given the `fault_drill` map faults once, the
//! first time its device is up, so that a system can show on seL4 (where
//! sim's `--fault` does not reach) that its bus restarts the driver and
//! the driver's clients are served again.
//!
//! The once is kept in the drill page, a shared region, because a
//! restarted driver starts from its boot state: private memory cannot
//! remember that the drill already happened. A driver without the map
//! (every system but the drill variants) never faults here.
//!
//! ```xml
//! <memory_region name="blk_fault_drill" size="0x1000" />
//! <map mr="blk_fault_drill" vaddr="0x2800000" perms="rw" setvar_vaddr="fault_drill_vaddr" />
//! ```

use core::sync::atomic::Ordering;
use sevio_runtime::debug_println;

sevio_runtime::shared_region!(
    /// The drill page, if system.xml maps one.
    fn drill_page() = "fault_drill_vaddr", 4096
);

/// Word 0 of the page: how many drill faults have happened (the loader
/// zeroes the region, so none at first).
const FAULTS_DONE: usize = 0;

/// The device of driver `name` just came up: fault if the drill says so.
pub fn device_up(name: &str) {
    // A host unit test has no system.xml to ask.
    #[cfg(not(target_os = "none"))]
    if !sevio_runtime::hosted::in_sim() {
        return;
    }
    let Ok(page) = drill_page() else { return };
    if page.load_u64(FAULTS_DONE, Ordering::Acquire) != Some(0) {
        return;
    }
    // Counted before the fault: the restarted instance reads it.
    if page.store_u64(FAULTS_DONE, 1, Ordering::Release).is_ok() {
        // A panic ends in a fault of this PD on seL4 and a crash in sim;
        // either way the bus gets it as its child's fault.
        panic!("{name}: fault drill: faulting once with the device up");
    }
    debug_println!("{name}: fault drill page not writable; no drill");
}
