//! The timer driver end to end under sim: `systems/timer.xml`, the timer
//! PD on sim's generic timer (INTID 30 from the host clock) and three
//! test clients setting timeouts at once. Each client checks that no
//! notification comes before its deadline and none is left over from a
//! replaced timeout; this test checks from the outside what they
//! reported: every length measured, the lateness within the tolerance,
//! one notification per timeout.

use sevio_e2e::{Run, sim, workspace};

/// Lateness a notification may show under sim on a shared host (each hop
/// is a process wake-up): the clients' own limit.
const TOLERANCE_US: u64 = 250_000;

/// `(length ms, count, max us, mean us)` of every lateness line of `client`.
fn lateness(run: &Run, client: &str) -> Vec<(u64, u64, u64, u64)> {
    run.lines_with(&format!("{client}: lateness "))
        .into_iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let after = |w: &str| -> u64 { words[words.iter().position(|x| *x == w).unwrap() + 1].parse().unwrap() };
            (after("lateness"), after("ms:"), after("max"), after("mean"))
        })
        .collect()
}

#[test]
fn three_clients_get_their_timeouts_on_time_and_replaced_ones_never() {
    let system = workspace().join("systems/timer.xml");
    let run = sim(system.to_str().unwrap(), &["--timeout", "60"]);
    run.assert_code(0);
    run.assert_lines(&["timer: Arm generic timer (EL0 physical) at 62500000 Hz", "sim: PASS"]);
    for client in ["timer_client0", "timer_client1", "timer_client2"] {
        let got = lateness(&run, client);
        let lengths: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(lengths, [1, 10, 100], "{client}: every length measured\n{}", run.out);
        for (ms, count, max, mean) in got {
            assert_eq!(count, 3, "{client} {ms} ms");
            assert!(max <= TOLERANCE_US && mean <= max, "{client} {ms} ms: max {max} us, mean {mean} us");
            // Measured lateness, for the record (cargo test -- --nocapture).
            println!("{client}: {ms} ms timeout: max {max} us late, mean {mean} us");
        }
        // 13 timeouts set singly or replaced and 3 list timers: 16
        // notifications, or fewer when list timers fall due together (a
        // late one takes the next with it). One left over from a replaced
        // timeout would have come early in the next step and failed it.
        let summary = run.lines_with(&format!("{client}: 14 steps, "));
        let notifications: u64 = summary
            .iter()
            .find_map(|l| l.split("steps, ").nth(1)?.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{client}: no summary\n{}", run.out));
        assert!((14..=16).contains(&notifications), "{client}: {notifications} notifications");
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
}
