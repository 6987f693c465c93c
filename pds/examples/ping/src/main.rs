//! ping: drives the reference ping/pong system.
//!
//! Each round: write the round number into the region shared with pong,
//! notify pong; when pong notifies back, check its answer in the region,
//! then make a six-word PPC to the passive `tally` and check its reply
//! (words 4 and 5 travel in the IPC buffer, not in registers).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_runtime::{ChannelSet, Handler, PpcMessage, debug_println, verdict};

/// A call to tally and its reply: six words each way.
type TallyMessage = PpcMessage<6>;

const ROUNDS: u64 = 3;

sevio_runtime::protection_domain!(init);

fn init() -> Ping {
    debug_println!("ping: hello, shared region at {:#x}", config::shared_vaddr());
    let ping = Ping { round: 1, shared: config::shared_vaddr() as *mut u64, done: false };
    ping.start_round();
    ping
}

struct Ping {
    round: u64,
    shared: *mut u64,
    done: bool,
}

impl Ping {
    fn shared_word(&self, i: usize) -> *mut u64 {
        self.shared.wrapping_add(i)
    }

    fn start_round(&self) {
        // SAFETY: `shared` is the vaddr of the 4 KiB region system.xml maps
        // read-write into this PD; words 0 and 1 are inside it.
        unsafe { self.shared_word(0).write_volatile(self.round) };
        config::PONG.notify();
    }

    fn fail(&mut self, why: &str) {
        self.done = true;
        verdict::fail(why);
    }

    fn call_tally(&mut self) -> Result<(), &'static str> {
        let words = [self.round, 10, 20, 30, 40, 50];
        let call = TallyMessage::new(1, &words).map_err(|_| "the call does not fit six words")?;
        let reply = call.call(config::TALLY).map_err(|_| "tally replied with more than six words")?;
        let sum: u64 = words.iter().sum();
        if reply.label() != 0 || reply.words().len() != 6 {
            return Err("tally replied with a wrong label or length");
        }
        if reply.words()[0] != sum || reply.words()[5] != self.round * 1000 {
            return Err("tally's reply words are wrong");
        }
        Ok(())
    }
}

impl Handler for Ping {
    fn notified(&mut self, channels: ChannelSet) {
        if self.done || !channels.contains(config::PONG) {
            return;
        }
        // SAFETY: as in `start_round`.
        let answer = unsafe { self.shared_word(1).read_volatile() };
        if answer != self.round * self.round + 1 {
            return self.fail("pong's answer in the shared region is wrong");
        }
        if let Err(why) = self.call_tally() {
            return self.fail(why);
        }
        debug_println!("ping: round {} ok (notify both ways, shared region, 6-word PPC)", self.round);
        if self.round == ROUNDS {
            self.done = true;
            verdict::pass();
        } else {
            self.round += 1;
            self.start_round();
        }
    }
}
