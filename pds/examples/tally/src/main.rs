//! tally: a passive server. A PPC with label 1 and six words is answered
//! with their sum in word 0 and the first word times 1000 in word 5, so
//! both the register words (0-3) and the IPC-buffer words (4-5) are checked
//! in each direction.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_runtime::{Channel, Handler, MessageInfo, MessageRegisters, debug_println};

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
        if channel != config::PING || info.label() != 1 || info.length() != 6 {
            return MessageInfo::new(ERROR_LABEL, 0);
        }
        let words: [u64; 6] = core::array::from_fn(MessageRegisters::get);
        let sum = words.iter().fold(0u64, |a, w| a.wrapping_add(*w));
        debug_println!("tally: call {} sums to {sum}", words[0]);
        for i in 1..5 {
            MessageRegisters::set(i, 0);
        }
        MessageRegisters::set(0, sum);
        MessageRegisters::set(5, words[0].wrapping_mul(1000));
        MessageInfo::new(0, 6)
    }
}
