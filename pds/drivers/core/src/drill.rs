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

sevio_runtime::shared_region!(
    /// The fault storm page, if system.xml maps one.
    fn storm_page() = "fault_storm_vaddr", 4096
);

/// Faults a storm brings: enough to exercise recovery again and again,
/// fewer than the bus's limit in its window (12 in 10 s), so the driver
/// is always restarted.
pub const STORM_FAULTS: u64 = 10;
/// The most fault points passed between two storm faults. A blk request
/// passes about four (taken, posted, completed, published), so faults
/// come every hundred requests or so, at places chosen at random.
pub const STORM_MAX_GAP: u64 = 400;

/// The storm fault that always comes during bring-up (the first point of
/// the instance restarted after the fault before it), whatever the
/// countdown says: bring-up is one point among hundreds, and a fault there
/// must be shown to be survived too.
pub const STORM_BRING_UP_FAULT: u64 = 5;

/// Words of the storm page: faults done, points left until the next one,
/// the generator's state (0 until the storm's first point).
const STORM_DONE: usize = 0;
const STORM_LEFT: usize = 8;
const STORM_RNG: usize = 16;

/// xorshift64: the storm needs spread, not secrecy.
fn next_random(state: u64) -> u64 {
    let mut x = state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// What a storm does at one point (`bring_up`: the bring-up point): the
/// state after it, and whether to fault here. The state is (done, left,
/// rng); rng 0 means not started, and `seed` starts it.
pub fn storm_step(done: u64, left: u64, rng: u64, seed: u64, bring_up: bool) -> (u64, u64, u64, bool) {
    if done >= STORM_FAULTS {
        return (done, left, rng, false);
    }
    if bring_up && rng != 0 && done + 1 == STORM_BRING_UP_FAULT {
        return (done + 1, left, rng, true);
    }
    let (left, rng) = match rng {
        0 => {
            let rng = next_random(seed | 1);
            (rng % STORM_MAX_GAP + 1, rng)
        }
        _ => (left, rng),
    };
    if left > 1 {
        return (done, left - 1, rng, false);
    }
    let rng = next_random(rng);
    (done + 1, rng % STORM_MAX_GAP + 1, rng, true)
}

/// A fault storm point in driver `name`, at `place` (`bring_up`: the
/// driver's bring-up): a driver given the `fault_storm` map faults
/// [`STORM_FAULTS`] times, each after a random number (1 to
/// [`STORM_MAX_GAP`]) of points, one of them
/// ([`STORM_BRING_UP_FAULT`]) at bring-up; the count is kept in the page
/// across restarts; the seed (the clock at the first point) is logged so
/// a run can be told apart. Without the map: nothing.
pub fn storm_point(name: &str, place: &str, bring_up: bool) {
    #[cfg(not(target_os = "none"))]
    if !sevio_runtime::hosted::in_sim() {
        return;
    }
    let Ok(page) = storm_page() else { return };
    let word = |at| page.load_u64(at, Ordering::Relaxed).unwrap_or(0);
    let (done, left, rng) = (word(STORM_DONE), word(STORM_LEFT), word(STORM_RNG));
    let seed = if rng == 0 { sevio_runtime::time::now_ns() } else { 0 };
    let (done_now, left, rng_now, fault) = storm_step(done, left, rng, seed, bring_up);
    if rng == 0 {
        debug_println!("{name}: fault storm: {STORM_FAULTS} faults, seed {seed:#x}");
    }
    // Kept before the fault: the restarted instance reads them.
    let kept = page.store_u64(STORM_LEFT, left, Ordering::Relaxed).is_ok()
        && page.store_u64(STORM_RNG, rng_now, Ordering::Relaxed).is_ok()
        && page.store_u64(STORM_DONE, done_now, Ordering::Release).is_ok();
    if fault && kept {
        panic!("{name}: fault storm: fault {done_now} of {STORM_FAULTS}, at {place}");
    }
}

sevio_runtime::shared_region!(
    /// The hang drill page, if system.xml maps one.
    fn hang_page() = "fault_hang_vaddr", 4096
);

/// The storm point at which a hang drill hangs: well into the run, with
/// requests in flight.
pub const HANG_AT_POINT: u64 = 300;

/// Words of the hang page: points passed (the hang happens once: the
/// count, past [`HANG_AT_POINT`], is kept across the restart).
const HANG_POINTS: usize = 0;

/// A hang drill point in driver `name`, at `place`: a driver given the
/// `fault_hang` map stops making progress at the [`HANG_AT_POINT`]th
/// point, once: it spins inside the event for ever, as a driver stuck in
/// a loop would, until its parent restarts it (the bus notices through
/// the heartbeat, `crate::heartbeat`). Without the map: nothing.
pub fn hang_point(name: &str, place: &str) {
    #[cfg(not(target_os = "none"))]
    if !sevio_runtime::hosted::in_sim() {
        return;
    }
    let Ok(page) = hang_page() else { return };
    let Some(points) = page.load_u64(HANG_POINTS, Ordering::Relaxed) else { return };
    if points > HANG_AT_POINT || page.store_u64(HANG_POINTS, points + 1, Ordering::Release).is_err() {
        return;
    }
    if points == HANG_AT_POINT {
        debug_println!("{name}: hang drill: spinning for ever at {place}");
        loop {
            core::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storm faults exactly STORM_FAULTS times, each within the gap,
    /// and never again; the bring-up points pass unless the bring-up
    /// fault is due.
    #[test]
    fn a_storm_faults_ten_times_at_random_gaps_then_stops() {
        for seed in [1u64, 0xdead_beef, 12_345_678_901] {
            let (mut done, mut left, mut rng) = (0, 0, 0);
            let (mut points, mut last, mut gaps) = (0u64, 0u64, std::vec::Vec::new());
            while points < STORM_FAULTS * STORM_MAX_GAP + 100 {
                points += 1;
                let bring_up = done + 1 != STORM_BRING_UP_FAULT;
                let (d, l, r, fault) = storm_step(done, left, rng, seed, bring_up && points % 7 == 0);
                (done, left, rng) = (d, l, r);
                if fault {
                    gaps.push(points - last);
                    last = points;
                }
            }
            assert_eq!(gaps.len() as u64, STORM_FAULTS, "seed {seed}");
            assert!(gaps.iter().all(|&g| (1..=STORM_MAX_GAP).contains(&g)), "{gaps:?}");
            assert!(gaps.windows(2).any(|w| w[0] != w[1]), "gaps vary: {gaps:?}");
        }
    }
}

#[cfg(test)]
mod bring_up_tests {
    use super::*;

    /// The bring-up fault comes at the first bring-up point once the
    /// faults before it are done, not before, and only once.
    #[test]
    fn the_bring_up_fault_comes_at_bring_up() {
        let started = storm_step(0, 0, 0, 99, false);
        assert!(!storm_step(started.0, started.1, started.2, 0, true).3, "fault 1 is not the bring-up one");
        let before = STORM_BRING_UP_FAULT - 1;
        let (done, _, _, fault) = storm_step(before, 300, 12345, 0, true);
        assert!(fault && done == STORM_BRING_UP_FAULT);
        assert!(!storm_step(STORM_BRING_UP_FAULT, 300, 12345, 0, true).3, "only once");
        assert!(!storm_step(before, 300, 12345, 0, false).3, "elsewhere the countdown decides");
    }
}
