//! ping's channels and variables (see system.xml).
use sevio_runtime::Channel;

/// Notifications to and from pong.
pub const PONG: Channel = Channel::new(0);
/// PPC to the passive tally server.
pub const TALLY: Channel = Channel::new(1);

/// Size of the region shared with pong (its `<memory_region>`).
pub const SHARED_SIZE: u64 = 0x1000;

sevio_runtime::shared_region!(
    /// The region shared with pong: ping writes the round in word 0, pong
    /// its answer in word 1.
    pub fn shared() = "shared_vaddr", SHARED_SIZE
);
