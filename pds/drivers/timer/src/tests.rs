//! The driver against a fake counter whose count the test sets.

use super::*;
use crate::counter::{ns_to_ticks_ceil, ticks_to_ns};
use core::cell::Cell;
use sevio_runtime::generic_timer::CTL_ENABLE;
use std::rc::Rc;
use std::vec::Vec;

const HZ: u64 = 62_500_000;
const MS: u64 = 1_000_000;

/// A counter at [`HZ`] whose count the test moves; it keeps the last
/// programming.
#[derive(Clone, Default)]
struct FakeCounter {
    count: Rc<Cell<u64>>,
    compare: Rc<Cell<u64>>,
    control: Rc<Cell<u64>>,
    hz: u64,
}

impl FakeCounter {
    fn new() -> Self {
        FakeCounter { hz: HZ, ..FakeCounter::default() }
    }
    fn set_ns(&self, ns: u64) {
        self.count.set(ns_to_ticks_ceil(ns, HZ));
    }
    /// Whether the timer condition holds (the interrupt line is high).
    fn line_high(&self) -> bool {
        self.control.get() & CTL_ENABLE != 0 && self.count.get() >= self.compare.get()
    }
}

impl Counter for FakeCounter {
    fn count(&self) -> u64 {
        self.count.get()
    }
    fn frequency(&self) -> u64 {
        self.hz
    }
    fn program(&mut self, compare: u64, control: u64) {
        self.compare.set(compare);
        self.control.set(control);
    }
}

fn ch(id: u8) -> Channel {
    Channel::new(id)
}

fn ids(set: ChannelSet) -> Vec<u8> {
    set.iter().map(Channel::index).collect()
}

fn driver() -> (TimerDriver<FakeCounter>, FakeCounter) {
    let hw = FakeCounter::new();
    hw.set_ns(1_000 * MS);
    (TimerDriver::new(hw.clone()).unwrap(), hw)
}

#[test]
fn starts_disabled_and_refuses_a_counter_without_frequency() {
    let (_, hw) = driver();
    assert_eq!(hw.control.get(), 0);
    assert!(!hw.line_high());
    let broken = FakeCounter { hz: 0, ..FakeCounter::new() };
    assert_eq!(TimerDriver::new(broken).err(), Some(InitError::NoFrequency));
}

#[test]
fn get_time_is_the_count_in_nanoseconds() {
    let (mut d, hw) = driver();
    hw.count.set(HZ * 3 + HZ / 2);
    assert_eq!(d.request(ch(1), Request::GetTime), Reply::Time(3_500 * MS));
}

#[test]
fn each_client_is_notified_at_its_own_deadline() {
    let (mut d, hw) = driver();
    assert_eq!(d.request(ch(1), Request::SetTimeout { relative_ns: 10 * MS }), Reply::Empty);
    d.request(ch(2), Request::SetTimeout { relative_ns: MS });
    d.request(ch(5), Request::SetTimeout { relative_ns: 100 * MS });
    assert_eq!(hw.compare.get(), ns_to_ticks_ceil(1_001 * MS, HZ), "the earliest deadline is programmed");

    hw.set_ns(1_001 * MS);
    assert!(hw.line_high());
    assert_eq!(ids(d.interrupt()), [2]);
    assert!(!hw.line_high(), "reprogrammed to the next deadline before the ack");
    assert_eq!(hw.compare.get(), ns_to_ticks_ceil(1_010 * MS, HZ));

    hw.set_ns(1_050 * MS);
    assert_eq!(ids(d.interrupt()), [1]);
    hw.set_ns(1_100 * MS);
    assert_eq!(ids(d.interrupt()), [5]);
    assert_eq!(hw.control.get(), 0, "nothing left: disabled");
    assert_eq!(d.stats.expired, 3);
}

#[test]
fn a_new_timeout_replaces_the_pending_one() {
    let (mut d, hw) = driver();
    d.request(ch(3), Request::SetTimeout { relative_ns: 50 * MS });
    d.request(ch(3), Request::SetTimeout { relative_ns: 20 * MS });
    assert_eq!(d.deadline(ch(3)), Some(1_020 * MS));
    assert_eq!(d.stats.replaced, 1);
    hw.set_ns(1_020 * MS);
    assert_eq!(ids(d.interrupt()), [3]);
    hw.set_ns(1_060 * MS);
    assert!(!hw.line_high(), "the replaced 50 ms timeout never fires");
    assert!(d.interrupt().is_empty());

    // Replaced by a later one: nothing at the earlier time.
    d.request(ch(3), Request::SetTimeout { relative_ns: 5 * MS });
    d.request(ch(3), Request::SetTimeout { relative_ns: 40 * MS });
    hw.set_ns(1_070 * MS);
    assert!(!hw.line_high());
    hw.set_ns(1_100 * MS);
    assert_eq!(ids(d.interrupt()), [3]);
}

#[test]
fn clients_due_together_are_notified_together() {
    let (mut d, hw) = driver();
    for id in [1, 7, 61] {
        d.request(ch(id), Request::SetTimeout { relative_ns: 2 * MS });
    }
    hw.set_ns(1_005 * MS);
    assert_eq!(ids(d.interrupt()), [1, 7, 61]);
}

#[test]
fn never_early_even_for_deadlines_between_ticks() {
    let (mut d, hw) = driver();
    // 1 ns is a fraction of a 16 ns tick: rounded up, never down.
    d.request(ch(1), Request::SetTimeout { relative_ns: 1 });
    let compare = hw.compare.get();
    assert!(ticks_to_ns(compare, HZ) > 1_000 * MS);
    hw.count.set(compare - 1);
    assert!(!hw.line_high());
    assert!(d.interrupt().is_empty(), "an interrupt before the deadline notifies nobody");
    hw.count.set(compare);
    assert_eq!(ids(d.interrupt()), [1]);
}

#[test]
fn zero_and_huge_timeouts() {
    let (mut d, hw) = driver();
    d.request(ch(1), Request::SetTimeout { relative_ns: 0 });
    assert!(hw.line_high(), "due now: the interrupt is immediate");
    assert_eq!(ids(d.interrupt()), [1]);
    d.request(ch(2), Request::SetTimeout { relative_ns: u64::MAX });
    assert_eq!(d.deadline(ch(2)), Some(u64::MAX), "saturates instead of wrapping into the past");
    assert!(!hw.line_high());
    assert!(d.interrupt().is_empty());
}
