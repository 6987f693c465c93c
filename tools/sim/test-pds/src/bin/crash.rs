//! simtest-crash: panics when called, to test fault delivery.
#![no_std]

use sevio_runtime::{Channel, Handler, MessageInfo, PpcMessage, debug_println};

sevio_runtime::protection_domain!(init);

struct Crash;

fn init() -> Crash {
    Crash
}

impl Handler for Crash {
    fn protected(&mut self, _channel: Channel, info: MessageInfo) -> MessageInfo {
        let first = PpcMessage::<1>::receive(info).map_or(0, |call| call.words().first().copied().unwrap_or(0));
        debug_println!("crash: called with {first}, panicking");
        panic!("deliberate panic in crash");
    }
}
