//! Channels, channel sets and children: the ids system.xml gives a PD.

use crate::MessageInfo;
use crate::kernel::{platform_irq_ack, platform_notify, platform_pp_call, platform_restart_child};
use crate::restart::RestartError;
use core::fmt;

/// A channel end of this PD (`id` in system.xml, 0..=61).
///
/// IRQs share the id space: an `<irq id="N">` is acknowledged through
/// `Channel::new(N).irq_ack()`.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(u8);

impl Channel {
    /// Highest channel id Microkit accepts (62 and 63 are rejected by the tool).
    pub const MAX_ID: u8 = 61;

    /// The channel with this id. Panics at compile time (in a const) or at
    /// run time for an id above [`Channel::MAX_ID`]: ids come from the PD's
    /// own `config.rs`, never from a peer.
    pub const fn new(id: u8) -> Self {
        assert!(id <= Self::MAX_ID, "channel id out of range");
        Channel(id)
    }

    /// The channel with this id, if it is a valid id.
    pub const fn try_new(id: u64) -> Option<Self> {
        if id <= Self::MAX_ID as u64 { Some(Channel(id as u8)) } else { None }
    }

    /// The id.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Signal the PD at the other end.
    pub fn notify(self) {
        platform_notify(self)
    }

    /// Acknowledge the IRQ with this id so it can be delivered again.
    pub fn irq_ack(self) {
        platform_irq_ack(self)
    }

    /// Call the (higher-priority) PD at the other end and wait for its
    /// reply. The message itself travels through [`crate::PpcMessage`]
    /// ([`PpcMessage::call`](crate::PpcMessage::call) does both).
    pub fn pp_call(self, info: MessageInfo) -> MessageInfo {
        platform_pp_call(self, info)
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.0)
    }
}

/// A child PD (`id` of a nested `<protection_domain>`), whose faults this
/// PD receives.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Child(u8);

impl Child {
    /// The child with this id.
    pub const fn new(id: u8) -> Self {
        Child(id)
    }
    /// The id.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Start the child again from its entry, with a fresh stack, and
    /// resume it; its runtime then restores the memory it booted with
    /// (see [`crate::restart`]). Meant for a child that faulted (the
    /// fault is then not replied to: a reply would resume it at the
    /// faulting instruction) or one its parent judged hung.
    pub fn restart(self) -> Result<(), RestartError> {
        platform_restart_child(self)
    }
}

/// The set of channels (and IRQs) a notification badge names.
#[derive(Copy, Clone, PartialEq, Eq, Default)]
pub struct ChannelSet(u64);

impl ChannelSet {
    /// The set a badge describes; bits 62 and 63 are never channels and are
    /// masked off.
    pub const fn from_badge(badge: u64) -> Self {
        ChannelSet(badge & ((1 << 62) - 1))
    }
    /// The raw bitmask.
    pub const fn bits(self) -> u64 {
        self.0
    }
    /// Whether `channel` is in the set.
    pub const fn contains(self, channel: Channel) -> bool {
        self.0 & (1 << channel.0) != 0
    }
    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The channels, lowest id first.
    pub fn iter(self) -> ChannelSetIter {
        ChannelSetIter(self.0)
    }
}

impl fmt::Debug for ChannelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}

impl IntoIterator for ChannelSet {
    type Item = Channel;
    type IntoIter = ChannelSetIter;
    fn into_iter(self) -> ChannelSetIter {
        self.iter()
    }
}

/// Iterator over a [`ChannelSet`], lowest id first.
pub struct ChannelSetIter(u64);

impl Iterator for ChannelSetIter {
    type Item = Channel;
    fn next(&mut self) -> Option<Channel> {
        if self.0 == 0 {
            return None;
        }
        let id = self.0.trailing_zeros() as u8;
        self.0 &= self.0 - 1;
        Some(Channel(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_lowest_first_and_masks_kind_bits() {
        let set = ChannelSet::from_badge((1 << 63) | (1 << 62) | (1 << 61) | (1 << 5) | 1);
        let ids: std::vec::Vec<u8> = set.iter().map(Channel::index).collect();
        assert_eq!(ids, [0, 5, 61]);
        assert!(set.contains(Channel::new(5)));
        assert!(!set.contains(Channel::new(4)));
    }

    #[test]
    fn empty_set_yields_nothing() {
        assert!(ChannelSet::from_badge(0).is_empty());
        assert_eq!(ChannelSet::from_badge(0).iter().count(), 0);
    }

    #[test]
    fn try_new_rejects_ids_past_61() {
        assert!(Channel::try_new(61).is_some());
        assert!(Channel::try_new(62).is_none());
        assert!(Channel::try_new(u64::MAX).is_none());
    }
}
