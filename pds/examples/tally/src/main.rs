//! tally: a passive server. A PPC with label 1 and six words is answered
//! with their sum in word 0 and the first word times 1000 in word 5, so
//! both the register words (0-3) and the IPC-buffer words (4-5) are checked
//! in each direction.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_runtime::{Channel, Handler, MessageInfo, PpcMessage, debug_println};

sevio_runtime::protection_domain!(init);

fn init() -> Tally {
    debug_println!("tally: hello (passive)");
    Tally
}

struct Tally;

/// Label of a reply to a malformed call.
const ERROR_LABEL: u64 = 1;

impl Handler for Tally {
    fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        let call = match PpcMessage::<6>::receive(info) {
            Ok(call) if channel == config::PING && call.label() == 1 && call.words().len() == 6 => call,
            _ => return MessageInfo::new(ERROR_LABEL, 0),
        };
        let words = call.words();
        let sum = words.iter().fold(0u64, |a, w| a.wrapping_add(*w));
        debug_println!("tally: call {} sums to {sum}", words[0]);
        let reply = [sum, 0, 0, 0, 0, words[0].wrapping_mul(1000)];
        match PpcMessage::<6>::new(0, &reply) {
            Ok(reply) => reply.send(),
            Err(_) => MessageInfo::new(ERROR_LABEL, 0),
        }
    }
}
