//! pong's channels and variables (see system.xml).
use sevio_runtime::Channel;

/// Notifications to and from ping.
pub const PING: Channel = Channel::new(0);

sevio_runtime::setvar!(
    /// vaddr of the region shared with ping.
    pub fn shared_vaddr() = "shared_vaddr"
);
