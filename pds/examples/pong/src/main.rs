//! pong: answers ping's rounds through the shared region.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_runtime::var::SharedMemory;
use sevio_runtime::{ChannelSet, Handler, debug_println};

sevio_runtime::protection_domain!(init);

/// Where ping writes the round.
const ROUND: usize = 0;
/// Where pong answers round * round + 1.
const ANSWER: usize = 8;

fn init() -> Pong {
    debug_println!("pong: hello");
    let shared = config::shared().map_err(|e| debug_println!("pong: {e}")).ok();
    Pong { shared }
}

struct Pong {
    /// `None`: no usable region; pong stays silent and ping fails.
    shared: Option<SharedMemory>,
}

impl Handler for Pong {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(config::PING) {
            return;
        }
        let Some(shared) = self.shared else { return };
        let Some(round) = shared.read::<u64>(ROUND) else { return };
        debug_println!("pong: round {round}");
        if shared.write::<u64>(ANSWER, round.wrapping_mul(round).wrapping_add(1)).is_ok() {
            config::PING.notify();
        }
    }
}
