//! [`Deadlines`]: several timers of one PD over the single timeout the
//! timer driver keeps per client.
//!
//! Each deadline has a key (an enum of the PD's own, say `Retransmit` or
//! `PhaseEnd`) and an absolute time in the driver's nanoseconds. After
//! changing the list the PD calls [`Deadlines::sync`], which asks the
//! driver for the earliest deadline only when it lies before the timeout
//! already asked for (or none is pending). When the driver notifies, the
//! PD calls [`Deadlines::fired`] and then takes the keys that are due with
//! [`Deadlines::pop_expired`], earliest first, and syncs again.
//!
//! A notification for a timeout the list no longer wants (an earlier
//! deadline disarmed, or one already handled) is harmless: nothing is due,
//! and `sync` asks again for what is left.
//!
//! A driver PD watching its device uses one deadline per outstanding
//! request (key = request slot): arm when the request is posted, disarm
//! when it completes; a key popped by `pop_expired` is a request the
//! device did not answer in time.

use crate::Timer;

/// The list is full: [`Deadlines::arm`] could not add a key.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeadlinesFull;

/// Up to `N` deadlines, one per key.
#[derive(Clone, Debug)]
pub struct Deadlines<K: Copy + Eq, const N: usize> {
    slots: [Option<(K, u64)>; N],
    /// The absolute time of the timeout the driver holds for us, if any.
    asked: Option<u64>,
}

impl<K: Copy + Eq, const N: usize> Default for Deadlines<K, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq, const N: usize> Deadlines<K, N> {
    /// An empty list.
    pub const fn new() -> Self {
        Deadlines { slots: [None; N], asked: None }
    }

    /// Set `key` to expire at `at_ns` (absolute), replacing its deadline
    /// if it has one.
    pub fn arm(&mut self, key: K, at_ns: u64) -> Result<(), DeadlinesFull> {
        if let Some(slot) = self.slots.iter_mut().flatten().find(|(k, _)| *k == key) {
            slot.1 = at_ns;
            return Ok(());
        }
        let free = self.slots.iter_mut().find(|s| s.is_none()).ok_or(DeadlinesFull)?;
        *free = Some((key, at_ns));
        Ok(())
    }

    /// Set `key` to expire `after_ns` from `now_ns`.
    pub fn arm_after(&mut self, key: K, now_ns: u64, after_ns: u64) -> Result<(), DeadlinesFull> {
        self.arm(key, now_ns.saturating_add(after_ns))
    }

    /// Remove `key`'s deadline; true if it had one.
    pub fn disarm(&mut self, key: K) -> bool {
        match self.slots.iter_mut().find(|s| s.is_some_and(|(k, _)| k == key)) {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    /// `key`'s deadline, if armed.
    pub fn deadline(&self, key: K) -> Option<u64> {
        self.slots.iter().flatten().find(|(k, _)| *k == key).map(|(_, at)| *at)
    }

    /// The earliest deadline.
    pub fn earliest(&self) -> Option<u64> {
        self.slots.iter().flatten().map(|(_, at)| *at).min()
    }

    /// How many deadlines are armed.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether none is armed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The driver notified: the timeout it held for us is spent.
    pub fn fired(&mut self) {
        self.asked = None;
    }

    /// The earliest key due at `now_ns`, removed from the list.
    pub fn pop_expired(&mut self, now_ns: u64) -> Option<K> {
        let slot = self
            .slots
            .iter_mut()
            .filter(|s| s.is_some_and(|(_, at)| at <= now_ns))
            .min_by_key(|s| s.map_or(u64::MAX, |(_, at)| at))?;
        slot.take().map(|(k, _)| k)
    }

    /// Make sure the driver will notify us by the earliest deadline: ask
    /// for it unless the timeout already pending comes no later. Returns
    /// true if it asked (one PPC).
    pub fn sync(&mut self, timer: &mut impl Timer, now_ns: u64) -> bool {
        let Some(earliest) = self.earliest() else { return false };
        if self.asked.is_some_and(|asked| asked <= earliest) {
            return false;
        }
        timer.set_timeout(earliest.saturating_sub(now_ns));
        self.asked = Some(earliest.max(now_ns));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeTimer;
    use std::vec::Vec;

    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    enum Key {
        Retransmit,
        PhaseEnd,
        Request(u8),
    }

    #[test]
    fn pops_due_keys_earliest_first_and_keeps_the_rest() {
        let mut d: Deadlines<Key, 4> = Deadlines::new();
        d.arm(Key::PhaseEnd, 300).unwrap();
        d.arm(Key::Retransmit, 100).unwrap();
        d.arm(Key::Request(1), 200).unwrap();
        assert_eq!(d.pop_expired(99), None);
        let due: Vec<Key> = core::iter::from_fn(|| d.pop_expired(250)).collect();
        assert_eq!(due, [Key::Retransmit, Key::Request(1)]);
        assert_eq!(d.len(), 1);
        assert_eq!(d.earliest(), Some(300));
    }

    #[test]
    fn rearming_replaces_and_disarming_removes() {
        let mut d: Deadlines<Key, 2> = Deadlines::new();
        d.arm(Key::Retransmit, 100).unwrap();
        d.arm(Key::Retransmit, 500).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d.deadline(Key::Retransmit), Some(500));
        d.arm(Key::PhaseEnd, 50).unwrap();
        assert_eq!(d.arm(Key::Request(0), 1), Err(DeadlinesFull));
        assert!(d.disarm(Key::PhaseEnd));
        assert!(!d.disarm(Key::PhaseEnd));
        assert_eq!(d.earliest(), Some(500));
        assert_eq!(d.arm_after(Key::Request(0), u64::MAX - 1, 10), Ok(()));
        assert_eq!(d.deadline(Key::Request(0)), Some(u64::MAX), "saturates");
    }

    #[test]
    fn sync_asks_the_driver_only_for_an_earlier_deadline() {
        let mut timer = FakeTimer::at(1_000);
        let mut d: Deadlines<Key, 4> = Deadlines::new();
        assert!(!d.sync(&mut timer, 1_000), "nothing armed, nothing asked");
        d.arm(Key::PhaseEnd, 5_000).unwrap();
        assert!(d.sync(&mut timer, 1_000));
        assert_eq!(timer.pending, Some(5_000));
        d.arm(Key::Retransmit, 9_000).unwrap();
        assert!(!d.sync(&mut timer, 1_000), "a later deadline rides on the pending timeout");
        d.arm(Key::Request(3), 2_000).unwrap();
        assert!(d.sync(&mut timer, 1_000), "an earlier one replaces it");
        assert_eq!(timer.pending, Some(2_000));
        assert_eq!(timer.set_count, 2);

        // The timeout fires: Request(3) is due, the rest is asked for.
        assert!(timer.advance_to(2_100));
        d.fired();
        assert_eq!(d.pop_expired(2_100), Some(Key::Request(3)));
        assert_eq!(d.pop_expired(2_100), None);
        assert!(d.sync(&mut timer, 2_100));
        assert_eq!(timer.pending, Some(5_000));
    }

    #[test]
    fn a_stale_notification_is_harmless() {
        let mut timer = FakeTimer::at(0);
        let mut d: Deadlines<Key, 2> = Deadlines::new();
        d.arm(Key::Retransmit, 100).unwrap();
        d.sync(&mut timer, 0);
        // The deadline moves later (progress was made) ...
        d.arm(Key::Retransmit, 400).unwrap();
        // ... and the timeout asked for earlier fires: nothing is due, and
        // the later deadline is asked for.
        assert!(timer.advance_to(100));
        d.fired();
        assert_eq!(d.pop_expired(100), None);
        assert!(d.sync(&mut timer, 100));
        assert_eq!(timer.pending, Some(400));
    }

    #[test]
    fn a_deadline_already_past_is_asked_for_at_once() {
        let mut timer = FakeTimer::at(1_000);
        let mut d: Deadlines<Key, 1> = Deadlines::new();
        d.arm(Key::Retransmit, 10).unwrap();
        assert!(d.sync(&mut timer, 1_000));
        assert_eq!(timer.pending, Some(1_000), "a zero timeout: notified at once");
    }
}
