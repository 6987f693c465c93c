//! tally's channels (see system.xml).
use sevio_runtime::Channel;

/// PPCs from ping.
pub const PING: Channel = Channel::new(0);
