//! pong: answers ping's rounds through the shared region.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_runtime::{ChannelSet, Handler, debug_println};

sevio_runtime::protection_domain!(init);

fn init() -> Pong {
    debug_println!("pong: hello");
    Pong { shared: config::shared_vaddr() as *mut u64 }
}

struct Pong {
    shared: *mut u64,
}

impl Handler for Pong {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(config::PING) {
            return;
        }
        // SAFETY: `shared` is the vaddr of the 4 KiB region system.xml maps
        // read-write into this PD; words 0 and 1 are inside it.
        let round = unsafe { self.shared.read_volatile() };
        debug_println!("pong: round {round}");
        // SAFETY: as above.
        unsafe { self.shared.wrapping_add(1).write_volatile(round.wrapping_mul(round).wrapping_add(1)) };
        config::PING.notify();
    }
}
