//! simtest-parent: checks fault delivery. Its child `crash` (id 3) panics
//! when called; its child `segv` (id 4) writes to a read-only map. The
//! parent's call to `crash` must come back with sim's dead-peer label, and
//! it must get a fault event for each child with the right seL4 label
//! (3 UserException for the panic, 6 VMFault for the bad write).
#![no_std]

use sevio_runtime::hosted::PEER_DEAD_LABEL;
use sevio_runtime::{Channel, Child, Handler, MessageInfo, PpcMessage, debug_println, verdict};

const CRASH: Channel = Channel::new(0);
const EXPECTED: [(u8, u64); 2] = [(3, 3), (4, 6)];

sevio_runtime::protection_domain!(init);

struct Parent {
    call_answered_dead: bool,
    faults: [Option<u64>; 2],
    done: bool,
}

fn init() -> Parent {
    let label = match PpcMessage::<1>::new(7, &[42]).and_then(|call| call.call(CRASH)) {
        Ok(reply) => reply.label(),
        Err(too_long) => too_long.label,
    };
    let dead = label == PEER_DEAD_LABEL;
    debug_println!("parent: call to crash came back with label {label:#x} (dead peer: {dead})");
    Parent { call_answered_dead: dead, faults: [None; 2], done: false }
}

impl Handler for Parent {
    fn fault(&mut self, child: Child, info: MessageInfo) -> Option<MessageInfo> {
        debug_println!("parent: child {} faulted with label {}", child.index(), info.label());
        let Some(slot) = EXPECTED.iter().position(|(id, _)| *id == child.index()) else {
            self.done = true;
            verdict::fail("fault from a child that does not exist");
            return None;
        };
        self.faults[slot] = Some(info.label());
        if self.faults.iter().all(Option::is_some) && !self.done {
            self.done = true;
            let labels_ok = EXPECTED.iter().zip(self.faults).all(|((_, want), got)| got == Some(*want));
            match (self.call_answered_dead, labels_ok) {
                (true, true) => verdict::pass(),
                (false, _) => verdict::fail("the call to the dead child did not get the dead-peer label"),
                (_, false) => verdict::fail("a fault came with the wrong label"),
            }
        }
        None
    }
}
