//! ping: drives the reference ping/pong system.
//!
//! Each round: write the round number into the region shared with pong,
//! notify pong; when pong notifies back, check its answer in the region,
//! then make a six-word PPC to the passive `tally` and check its reply
//! (words 4 and 5 travel in the IPC buffer, not in registers).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_runtime::var::SharedMemory;
use sevio_runtime::{ChannelSet, Handler, PpcMessage, debug_println, verdict};

/// A call to tally and its reply: six words each way.
type TallyMessage = PpcMessage<6>;

const ROUNDS: u64 = 3;

sevio_runtime::protection_domain!(init);

/// The round number's offset in the shared region; pong answers at
/// [`ANSWER`].
const ROUND: usize = 0;
/// Pong's answer: round * round + 1.
const ANSWER: usize = 8;

fn init() -> Ping {
    let mut ping = match config::shared() {
        Ok(shared) => {
            debug_println!("ping: hello, shared region at {:#x}", shared.addr());
            Ping { round: 1, shared: Some(shared), done: false }
        }
        Err(e) => {
            debug_println!("ping: {e}");
            Ping { round: 1, shared: None, done: false }
        }
    };
    ping.start_round();
    ping
}

struct Ping {
    round: u64,
    /// `None`: system.xml gave no usable region (the run fails).
    shared: Option<SharedMemory>,
    done: bool,
}

impl Ping {
    fn start_round(&mut self) {
        match self.shared.map(|s| s.write::<u64>(ROUND, self.round)) {
            Some(Ok(())) => config::PONG.notify(),
            _ => self.fail("no shared region to write the round into"),
        }
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
        let answer = self.shared.and_then(|s| s.read::<u64>(ANSWER));
        if answer != Some(self.round * self.round + 1) {
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
