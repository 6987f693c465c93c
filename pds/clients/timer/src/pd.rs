//! The PD shell: the timer channel and the runtime [`Handler`].
//!
//! system.xml gives the client channel 0 to the timer driver ([`TIMER`]:
//! the client's end `pp="true"`, the driver's priority above the client's).

use crate::TimerTest;
use sevio_runtime::print::DebugWriter;
use sevio_runtime::{Channel, ChannelSet, Handler};
use sevio_timer_protocol::TimerClient;

/// The timer driver.
pub const TIMER: Channel = Channel::new(0);

/// The PD.
pub struct ClientPd {
    test: TimerTest,
    timer: TimerClient,
}

impl ClientPd {
    /// Set the first timeout.
    pub fn start() -> ClientPd {
        let mut pd = ClientPd { test: TimerTest::new(sevio_runtime::pd_name()), timer: TimerClient::new(TIMER) };
        pd.test.start(&mut pd.timer, &mut DebugWriter::for_this_pd()).report();
        pd
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(TIMER) {
            self.test.notified(&mut self.timer, &mut DebugWriter::for_this_pd()).report();
        }
    }
}
