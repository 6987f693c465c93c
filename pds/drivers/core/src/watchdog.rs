//! [`Watchdog`]: a deadline on every request a driver posts to its
//! device, so that a device that stops answering is noticed.
//!
//! A driver arms a deadline when it posts a request
//! ([`Ctx::watch`](crate::Ctx::watch)) and disarms it when the request
//! completes ([`Ctx::unwatch`](crate::Ctx::unwatch)). The framework keeps
//! the deadlines ([`sevio_timer_protocol::Deadlines`]) over the one
//! timeout the timer PD holds for the driver, asks for it after each event
//! when the earliest deadline moved earlier, and on the timer's
//! notification takes the request that is overdue: it logs it, fails the
//! device ([`DriverError::DeviceTimeout`](crate::DriverError)) and lets
//! the driver answer what it held.
//!
//! The time is read from the PD's own clock ([`RuntimeClock`]: the generic
//! timer's count the timer PD counts too; sim: the host's monotonic
//! clock), not by a PPC to the timer PD, so watching a request costs no
//! call; only a timeout earlier than the one pending costs one
//! `SET_TIMEOUT`. The timeout is relative, so the two clocks need only
//! run at the same rate, which they do (one counter).
//!
//! A driver without a timer channel ([`RequestTimer`] absent from its
//! `DriverPdConfig`) has a watchdog that is off: watching is a no-op.

use sevio_runtime::Channel;
use sevio_timer_protocol::{Deadlines, NS_PER_MS, NS_PER_S, Timer, TimerClient};

/// The most requests watched at once; a request posted while as many are
/// watched goes unwatched (and is counted, see
/// [`Watchdog::unwatched`]). 64: blk's request slots.
pub const WATCHED_REQUESTS: usize = 64;

/// How long a request may be outstanding before the device counts as not
/// answering, unless the driver's configuration says otherwise: 5 s. A
/// virtio device under QEMU answers in micro- to milliseconds, and a
/// flush of a host's writeback cache in well under a second on a loaded
/// machine; 5 s is far beyond any of that (no false alarm on a slow
/// host running TCG), yet short enough that a client hears of a hung
/// device while it still matters, and that a restart can follow.
pub const DEFAULT_REQUEST_DEADLINE_NS: u64 = 5 * NS_PER_S;

/// A driver's timer channel and request deadline (in its `config.rs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RequestTimer {
    /// The channel to the timer PD (this end `pp="true"`; the timer PD's
    /// priority above the driver's).
    pub channel: Channel,
    /// How long a request may be outstanding.
    pub deadline_ns: u64,
}

impl RequestTimer {
    /// The timer PD on `channel`, with [`DEFAULT_REQUEST_DEADLINE_NS`].
    pub const fn new(channel: Channel) -> Self {
        RequestTimer { channel, deadline_ns: DEFAULT_REQUEST_DEADLINE_NS }
    }
}

/// One request a driver watches: its slot (unique among the driver's
/// outstanding requests) and the id to name it by in the log (e.g. the
/// client's request id).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RequestKey {
    /// The driver's slot for the request.
    pub slot: u16,
    /// The request's id, for the log.
    pub id: u32,
}

/// A request outstanding past its deadline.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Overdue {
    /// The request's id ([`RequestKey::id`]).
    pub request: u32,
    /// How long it had been outstanding when the timeout was handled, ms.
    pub waited_ms: u64,
}

/// The timer of a driver PD: the time from the PD's own clock, timeouts
/// from the timer PD (see the module docs).
#[derive(Copy, Clone, Debug)]
pub struct RuntimeClock(TimerClient);

impl RuntimeClock {
    /// The timer PD on `channel`.
    pub const fn new(channel: Channel) -> Self {
        RuntimeClock(TimerClient::new(channel))
    }
}

impl Timer for RuntimeClock {
    fn now_ns(&mut self) -> u64 {
        sevio_runtime::time::now_ns()
    }
    fn set_timeout(&mut self, relative_ns: u64) {
        self.0.set_timeout(relative_ns)
    }
}

/// Arming and disarming request deadlines, as a driver reaches them
/// through its `Ctx` (whatever the timer behind them).
pub trait RequestWatch {
    /// `key` was posted to the device: its deadline starts now.
    fn watch(&mut self, key: RequestKey);
    /// `key` completed (or was answered otherwise): forget its deadline.
    /// True if it had one.
    fn unwatch(&mut self, key: RequestKey) -> bool;
}

/// The deadlines of one driver's outstanding requests.
pub struct Watchdog<C> {
    /// `None`: off (no timer channel).
    timer: Option<C>,
    deadline_ns: u64,
    deadlines: Deadlines<RequestKey, WATCHED_REQUESTS>,
    /// The time read in this event, if any (one read per event).
    now: Option<u64>,
    /// A deadline was armed, or the timeout fired, since the last sync.
    changed: bool,
    unwatched: u64,
}

impl<C: Timer> Watchdog<C> {
    /// Deadlines of `deadline_ns` on `timer`.
    pub fn new(timer: C, deadline_ns: u64) -> Self {
        Watchdog {
            timer: Some(timer),
            deadline_ns,
            deadlines: Deadlines::new(),
            now: None,
            changed: false,
            unwatched: 0,
        }
    }

    /// No timer: nothing is watched.
    pub fn off() -> Self {
        Watchdog {
            timer: None,
            deadline_ns: DEFAULT_REQUEST_DEADLINE_NS,
            deadlines: Deadlines::new(),
            now: None,
            changed: false,
            unwatched: 0,
        }
    }

    /// Whether requests are watched (the driver has a timer).
    pub fn is_on(&self) -> bool {
        self.timer.is_some()
    }

    /// Requests watched now.
    pub fn watched(&self) -> usize {
        self.deadlines.len()
    }

    /// Requests that went unwatched because [`WATCHED_REQUESTS`] were
    /// watched already.
    pub fn unwatched(&self) -> u64 {
        self.unwatched
    }

    /// The time of this event (read once per event).
    fn now(&mut self) -> Option<u64> {
        let timer = self.timer.as_mut()?;
        Some(*self.now.get_or_insert_with(|| timer.now_ns()))
    }

    /// The event is over: make sure the timer PD will notify by the
    /// earliest deadline (a PPC only if it moved earlier), and read the
    /// time afresh in the next event.
    pub fn end_of_event(&mut self) {
        if core::mem::take(&mut self.changed) {
            if let Some(now) = self.now() {
                if let Some(timer) = self.timer.as_mut() {
                    self.deadlines.sync(timer, now);
                }
            }
        }
        self.now = None;
    }

    /// The timer PD notified: the request that is overdue, if one is (the
    /// earliest; the rest stay armed until [`clear`](Self::clear)).
    pub fn take_overdue(&mut self) -> Option<Overdue> {
        self.deadlines.fired();
        self.changed = true;
        let now = self.now()?;
        // pop_expired takes the earliest due deadline, which is then the
        // earliest of all.
        let at = self.deadlines.earliest()?;
        let key = self.deadlines.pop_expired(now)?;
        let posted = at.saturating_sub(self.deadline_ns);
        Some(Overdue { request: key.id, waited_ms: now.saturating_sub(posted) / NS_PER_MS })
    }

    /// The device is gone: no request of it is outstanding any more. A
    /// timeout already asked for may still fire; nothing is then due.
    pub fn clear(&mut self) {
        while self.deadlines.pop_expired(u64::MAX).is_some() {}
    }
}

impl<C: Timer> RequestWatch for Watchdog<C> {
    fn watch(&mut self, key: RequestKey) {
        let Some(now) = self.now() else { return };
        match self.deadlines.arm_after(key, now, self.deadline_ns) {
            Ok(()) => self.changed = true,
            Err(_) => self.unwatched += 1,
        }
    }

    fn unwatch(&mut self, key: RequestKey) -> bool {
        self.deadlines.disarm(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_timer_protocol::fake::FakeTimer;

    const KEY: RequestKey = RequestKey { slot: 3, id: 77 };

    #[test]
    fn a_request_past_its_deadline_is_overdue_with_how_long_it_waited() {
        let mut w = Watchdog::new(FakeTimer::at(1_000 * NS_PER_MS), 5 * NS_PER_S);
        w.watch(KEY);
        w.end_of_event();
        let timer = w.timer.as_mut().unwrap();
        assert_eq!(timer.pending, Some(6_000 * NS_PER_MS), "asked for the deadline");
        assert!(timer.advance_to(6_250 * NS_PER_MS));
        assert_eq!(w.take_overdue(), Some(Overdue { request: 77, waited_ms: 5_250 }));
        w.end_of_event();
        assert_eq!(w.take_overdue(), None, "taken once");
    }

    #[test]
    fn a_completed_request_is_not_overdue_and_costs_no_further_timeout() {
        let mut w = Watchdog::new(FakeTimer::at(0), 100);
        w.watch(KEY);
        w.end_of_event();
        w.timer.as_mut().unwrap().advance_to(50);
        w.watch(RequestKey { slot: 4, id: 78 });
        w.end_of_event();
        assert_eq!(w.timer.as_ref().unwrap().set_count, 1, "the later deadline rides on the first timeout");
        assert!(w.unwatch(KEY));
        assert!(!w.unwatch(KEY));
        w.end_of_event();
        assert!(w.timer.as_mut().unwrap().advance_to(100));
        assert_eq!(w.take_overdue(), None, "the stale timeout finds nothing due");
        w.end_of_event();
        assert_eq!(w.timer.as_ref().unwrap().pending, Some(150), "the remaining request's deadline is asked for");
    }

    #[test]
    fn off_watches_nothing_and_clear_forgets_everything() {
        let mut off: Watchdog<FakeTimer> = Watchdog::off();
        off.watch(KEY);
        off.end_of_event();
        assert_eq!((off.is_on(), off.watched(), off.take_overdue()), (false, 0, None));
        let mut w = Watchdog::new(FakeTimer::at(0), 10);
        for slot in 0..=WATCHED_REQUESTS as u16 {
            w.watch(RequestKey { slot, id: 0 });
        }
        assert_eq!((w.watched(), w.unwatched()), (WATCHED_REQUESTS, 1));
        w.clear();
        w.timer.as_mut().unwrap().advance_to(1_000);
        assert_eq!(w.take_overdue(), None);
    }
}
