//! The client against a fake timer whose clock the test moves.

use super::*;
use sevio_timer_protocol::fake::FakeTimer;
use std::string::String;

const MS: u64 = NS_PER_MS;

/// Run the plan, each notification arriving `late` ns after the pending
/// timeout; the notifications, the verdict and the log.
fn run(late: u64) -> (u64, Progress, String) {
    let mut timer = FakeTimer::at(1_000 * MS);
    let mut log = String::new();
    let mut t = TimerTest::new("t");
    assert_eq!(t.start(&mut timer, &mut log), Progress::Waiting);
    for _ in 0..100 {
        let at = timer.pending.expect("a timeout is always pending until the end") + late;
        assert!(timer.advance_to(at));
        match t.notified(&mut timer, &mut log) {
            Progress::Waiting => {}
            done => return (t.notifications, done, log),
        }
    }
    panic!("no verdict:\n{log}");
}

/// A client started at time 0: the client, its timer, its log.
fn started() -> (TimerTest, FakeTimer, String) {
    let mut timer = FakeTimer::at(0);
    let mut log = String::new();
    let mut t = TimerTest::new("t");
    t.start(&mut timer, &mut log);
    (t, timer, log)
}

#[test]
fn punctual_notifications_pass_with_one_per_timeout() {
    let (notifications, verdict, log) = run(0);
    assert_eq!(verdict, Progress::Passed, "{log}");
    // 13 single or replaced timeouts, 3 list timers.
    assert_eq!(notifications, 16);
    assert!(log.contains("t: lateness 10 ms: 3 timeouts, max 0 us, mean 0 us"), "{log}");
}

#[test]
fn lateness_is_measured() {
    let (_, verdict, log) = run(300 * NS_PER_US);
    assert_eq!(verdict, Progress::Passed, "{log}");
    assert!(log.contains("t: lateness 1 ms: 3 timeouts, max 300 us, mean 300 us"), "{log}");
}

#[test]
fn too_late_fails() {
    let (_, verdict, log) = run(LATENESS_LIMIT_NS + 1);
    assert_eq!(verdict, Progress::Failed("notified too late"), "{log}");
}

#[test]
fn an_early_notification_fails() {
    let (mut t, mut timer, mut log) = started();
    timer.now = 999 * NS_PER_US;
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Failed("notified before the deadline"));
    assert!(log.contains("1 us early") || log.contains("0 us early"), "{log}");
}

#[test]
fn a_notification_left_over_from_a_replaced_timeout_fails() {
    // A driver that also fired the replaced 50 ms timeout: it lands in
    // the 100 ms step's window, before that step's deadline.
    let (mut t, mut timer, mut log) = started();
    let replace_step = PLAN.iter().position(|s| matches!(s, Step::Replace { first: 50, .. })).unwrap();
    while t.step < replace_step {
        let at = timer.pending.unwrap();
        timer.advance_to(at);
        assert_eq!(t.notified(&mut timer, &mut log), Progress::Waiting);
    }
    let start = timer.now;
    timer.advance_to(start + 20 * MS);
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Waiting);
    timer.advance_to(start + 50 * MS);
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Failed("notified before the deadline"), "{log}");
}

#[test]
fn a_list_popping_out_of_order_cannot_happen_and_nothing_comes_unasked() {
    let mut timer = FakeTimer::at(0);
    let mut log = String::new();
    let mut t = TimerTest::new("t");
    let (_, verdict, _) = run(0);
    assert_eq!(verdict, Progress::Passed);
    // After the verdict, further notifications are ignored.
    t.finished = true;
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Waiting);
    // A notification with nothing pending is a failure.
    let mut idle = TimerTest::new("t");
    assert_eq!(idle.notified(&mut timer, &mut log), Progress::Failed("a notification with no timeout pending"));
}

/// A timer each of whose timeout requests reaches the driver `delay` ns
/// after it was made (a loaded host delaying the PPC); a timeout that
/// expires meanwhile is owed to the client as a notification.
struct SlowTimer {
    inner: FakeTimer,
    delay: u64,
    owed: u32,
}

impl Timer for SlowTimer {
    fn now_ns(&mut self) -> u64 {
        self.inner.now
    }
    fn set_timeout(&mut self, relative_ns: u64) {
        let arrives = self.inner.now + self.delay;
        if self.inner.advance_to(arrives) {
            self.owed += 1;
        }
        self.inner.set_timeout(relative_ns);
    }
}

#[test]
fn a_replacement_that_arrives_after_the_replaced_deadline_allows_one_stray_notification() {
    let mut timer = SlowTimer { inner: FakeTimer::at(0), delay: 0, owed: 0 };
    let mut log = String::new();
    let mut t = TimerTest::new("t");
    t.start(&mut timer, &mut log);
    let replace_step = PLAN.iter().position(|s| matches!(s, Step::Replace { first: 10, then: 60 })).unwrap();
    while t.step + 1 < replace_step {
        let at = timer.inner.pending.unwrap();
        timer.inner.advance_to(at);
        assert_eq!(t.notified(&mut timer, &mut log), Progress::Waiting, "{log}");
    }
    // The step before the replacement ends; its successor's two requests
    // each take 15 ms to arrive, so the 10 ms timeout fires before the
    // 60 ms one replaces it.
    timer.delay = 15 * MS;
    let at = timer.inner.pending.unwrap();
    timer.inner.advance_to(at);
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Waiting, "{log}");
    assert_eq!((t.step, timer.owed), (replace_step, 1), "{log}");
    timer.delay = 0;
    // The owed notification: taken once, before the step's deadline.
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Waiting, "{log}");
    assert!(log.contains("fired before its replacement arrived"), "{log}");
    // A second one before the deadline is a real fault.
    assert_eq!(t.notified(&mut timer, &mut log), Progress::Failed("notified before the deadline"), "{log}");
}

#[test]
fn after_a_stray_the_run_still_passes() {
    let mut timer = SlowTimer { inner: FakeTimer::at(0), delay: 0, owed: 0 };
    let mut log = String::new();
    let mut t = TimerTest::new("t");
    t.start(&mut timer, &mut log);
    let replace_step = PLAN.iter().position(|s| matches!(s, Step::Replace { first: 10, then: 60 })).unwrap();
    for _ in 0..100 {
        timer.delay = if t.step + 1 == replace_step { 15 * MS } else { 0 };
        if timer.owed > 0 {
            timer.owed -= 1;
        } else {
            let at = timer.inner.pending.expect("a timeout is pending");
            timer.inner.advance_to(at);
        }
        match t.notified(&mut timer, &mut log) {
            Progress::Waiting => {}
            done => {
                assert_eq!(done, Progress::Passed, "{log}");
                return;
            }
        }
    }
    panic!("no verdict:\n{log}");
}
