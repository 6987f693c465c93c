//! simtest-crash: panics when called, to test fault delivery.
#![no_std]

use sevio_runtime::{Channel, Handler, MessageInfo, MessageRegisters, debug_println};

sevio_runtime::protection_domain!(init);

struct Crash;

fn init() -> Crash {
    Crash
}

impl Handler for Crash {
    fn protected(&mut self, _channel: Channel, _info: MessageInfo) -> MessageInfo {
        debug_println!("crash: called with {}, panicking", MessageRegisters::get(0));
        panic!("deliberate panic in crash");
    }
}
