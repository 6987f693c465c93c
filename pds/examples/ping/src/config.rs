//! ping's channels and variables (see system.xml).
use sevio_runtime::Channel;

/// Notifications to and from pong.
pub const PONG: Channel = Channel::new(0);
/// PPC to the passive tally server.
pub const TALLY: Channel = Channel::new(1);

sevio_runtime::setvar!(
    /// vaddr of the region shared with pong.
    pub fn shared_vaddr() = "shared_vaddr"
);
