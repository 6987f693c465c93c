//! pong's channels and variables (see system.xml).
use sevio_runtime::Channel;

/// Notifications to and from ping.
pub const PING: Channel = Channel::new(0);

/// Size of the region shared with ping (its `<memory_region>`).
pub const SHARED_SIZE: u64 = 0x1000;

sevio_runtime::shared_region!(
    /// The region shared with ping: the round in word 0, pong's answer in
    /// word 1.
    pub fn shared() = "shared_vaddr", SHARED_SIZE
);
