//! simtest-echo: answers every notification on channel 0 with one back.
#![no_std]

use sevio_runtime::{Channel, ChannelSet, Handler};

const PEER: Channel = Channel::new(0);

sevio_runtime::protection_domain!(init);

struct Echo;

fn init() -> Echo {
    Echo
}

impl Handler for Echo {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(PEER) {
            PEER.notify();
        }
    }
}
