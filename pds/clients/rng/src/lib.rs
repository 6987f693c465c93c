//! The rng test client: a plain `no_std` type ([`RngClient`]) the PD
//! shell ([`pd`]) and host tests drive alike.
//!
//! It asks the rng driver (through `sevio_queue::rng`) for the ranges of
//! [`PLAN`], one after the other: 16, 100, 4096 and 10000 bytes (the last
//! larger than one device buffer, so served in pieces), then two requests
//! the driver must refuse (a range past the end of the data region, and
//! zero bytes). Before each request the range and [`GUARD`] bytes after it
//! are filled with [`POISON`]. Each answer is checked:
//! - status OK and exactly the length asked for;
//! - the guard bytes after the range are untouched (nothing written past
//!   it);
//! - the bytes are not constant: at least `min(len / 4, 64)` distinct
//!   values (a fair source fails this with probability below 2^-40 for
//!   these sizes);
//! - no two answers share their first 16 bytes or their FNV-1a hash;
//! - refused requests: status INVALID, length 0, the region untouched.
//!
//! Each answer is logged with its length, pieces and hash; after the last
//! the client passes ([`Progress::Passed`]).
//!
//! Panic contract: nothing the driver writes makes this crate panic.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod pd;

use core::fmt::Write;
use sevio_queue::rng::{ClientPort, RngResponse, RngStatus};
use sevio_sharedmem::SharedMemory;

/// Byte the ranges are filled with before a request.
pub const POISON: u8 = 0xa5;
/// Bytes after each range that must stay [`POISON`].
pub const GUARD: usize = 32;
/// The data region must be at least this large for [`PLAN`].
pub const DATA_NEEDED: usize = 0x4000;

/// What a step expects from the driver.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Exactly `len` random bytes.
    Bytes,
    /// A refusal.
    Invalid,
}

/// One request of the plan.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Offset in the data region.
    pub offset: u32,
    /// Bytes asked for.
    pub len: u32,
    /// The answer expected.
    pub expect: Expect,
}

const fn step(offset: u32, len: u32, expect: Expect) -> Step {
    Step { offset, len, expect }
}

/// The requests, in order.
pub const PLAN: [Step; 6] = [
    step(0x0, 16, Expect::Bytes),
    step(0x40, 100, Expect::Bytes),
    step(0x101, 4096, Expect::Bytes),
    step(0x1200, 10_000, Expect::Bytes),
    step(0x3f00, 0x200, Expect::Invalid),
    step(0x10, 0, Expect::Invalid),
];
const BYTE_STEPS: usize = 4;

pub use sevio_runtime::verdict::Progress;

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// What is kept of an answer to compare later ones with.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Print {
    head: [u8; 16],
    hash: u64,
}

/// The rng test client.
pub struct RngClient {
    port: ClientPort,
    data: SharedMemory,
    step: usize,
    prints: [Print; BYTE_STEPS],
    seen: usize,
    bytes: u64,
    notify: bool,
    finished: bool,
}

impl RngClient {
    /// A client on the control page `port` and the data region `data`.
    pub fn new(port: ClientPort, data: SharedMemory) -> Self {
        RngClient {
            port,
            data,
            step: 0,
            prints: [Print::default(); BYTE_STEPS],
            seen: 0,
            bytes: 0,
            notify: false,
            finished: false,
        }
    }

    /// Whether the driver should be notified (clears the flag).
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    /// Post the first request.
    pub fn start(&mut self) -> Progress {
        if self.data.len() < DATA_NEEDED {
            return self.fail("the data region is smaller than the plan needs");
        }
        self.post();
        Progress::Waiting
    }

    fn fail(&mut self, why: &'static str) -> Progress {
        self.finished = true;
        Progress::Failed(why)
    }

    /// The range a step poisons and checks: its bytes and the guard,
    /// clipped to the region.
    fn span(&self, s: Step) -> (usize, usize) {
        let start = (s.offset as usize).min(self.data.len());
        let end = (s.offset as usize + s.len as usize + GUARD).min(self.data.len());
        (start, end)
    }

    fn post(&mut self) {
        let s = PLAN[self.step];
        let (start, end) = self.span(s);
        let _ = self.data.fill(start, end - start, POISON);
        self.port.post(s.offset, s.len);
        self.notify = true;
    }

    /// The driver notified: check the answer if it is there.
    pub fn notified(&mut self, log: &mut dyn Write) -> Progress {
        if self.finished {
            return Progress::Waiting;
        }
        let Some(resp) = self.port.poll() else { return Progress::Waiting };
        let s = PLAN[self.step];
        let checked = match s.expect {
            Expect::Bytes => self.check_bytes(s, resp, log),
            Expect::Invalid => self.check_refusal(s, resp, log),
        };
        if let Err(why) = checked {
            let _ = writeln!(log, "request {}: {why} (answer {resp:?})", self.step + 1);
            return self.fail(why);
        }
        self.step += 1;
        if self.step == PLAN.len() {
            self.finished = true;
            let _ = writeln!(
                log,
                "{} requests, {} bytes, no two alike; {} refusals",
                self.seen,
                self.bytes,
                PLAN.len() - self.seen
            );
            return Progress::Passed;
        }
        self.post();
        Progress::Waiting
    }

    fn byte(&self, at: usize) -> u8 {
        self.data.read::<u8>(at).unwrap_or(POISON)
    }

    fn guard_intact(&self, s: Step) -> bool {
        let (_, end) = self.span(s);
        let after = (s.offset as usize + s.len as usize).min(end);
        (after..end).all(|i| self.byte(i) == POISON)
    }

    fn check_bytes(&mut self, s: Step, r: RngResponse, log: &mut dyn Write) -> Result<(), &'static str> {
        if RngStatus::from_word(r.status) != Some(RngStatus::Ok) {
            return Err("the driver did not answer OK");
        }
        if r.len != s.len {
            return Err("not exactly the length asked for");
        }
        if !self.guard_intact(s) {
            return Err("bytes written past the range");
        }
        let range = s.offset as usize..s.offset as usize + s.len as usize;
        let mut present = [false; 256];
        range.clone().for_each(|i| present[self.byte(i) as usize] = true);
        let distinct = present.iter().filter(|p| **p).count();
        if distinct < (s.len as usize / 4).min(64) {
            return Err("the bytes are (nearly) constant");
        }
        let mut print = Print { hash: fnv1a(range.clone().map(|i| self.byte(i))), ..Print::default() };
        for (k, b) in print.head.iter_mut().enumerate() {
            *b = self.byte(range.start + k);
        }
        if self.prints[..self.seen].iter().any(|p| p.head == print.head || p.hash == print.hash) {
            return Err("the same bytes as an earlier answer");
        }
        self.prints[self.seen] = print;
        self.seen += 1;
        self.bytes += u64::from(r.len);
        let _ = writeln!(
            log,
            "request {}: {} bytes at {:#x} in {} pieces, {} distinct values, fnv1a {:016x}",
            self.step + 1,
            r.len,
            s.offset,
            r.pieces,
            distinct,
            print.hash
        );
        Ok(())
    }

    fn check_refusal(&mut self, s: Step, r: RngResponse, log: &mut dyn Write) -> Result<(), &'static str> {
        if RngStatus::from_word(r.status) != Some(RngStatus::Invalid) || r.len != 0 {
            return Err("an invalid request was not refused");
        }
        let (start, end) = self.span(s);
        if !(start..end).all(|i| self.byte(i) == POISON) {
            return Err("a refused request wrote bytes");
        }
        let _ = writeln!(log, "request {}: {:#x}+{} refused as invalid", self.step + 1, s.offset, s.len);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
