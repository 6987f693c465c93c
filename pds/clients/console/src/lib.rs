//! The console client: a plain `no_std` type ([`ConsoleClient`]) the PD
//! shell ([`pd`]) and host tests drive alike.
//!
//! Over the two sDDF-compatible serial queues it shares with the console
//! driver (rx: it consumes, tx: it produces) it
//! - writes a banner at start;
//! - answers every character it reads with the character upper-cased
//!   (ASCII), so each line comes back as the same line in capitals,
//!   whatever its length; it reads only as much as its tx queue has room
//!   for, so a slow device slows the typist down instead of losing
//!   characters;
//! - counts lines and bytes, and on a line `bye` logs the totals;
//! - passes ([`Progress::Passed`]) once the device has consumed what it
//!   waits for: the banner ([`Mode::Standalone`]), or the answer to `bye`
//!   ([`Mode::Session`], for a test that types first). "Consumed" is read
//!   off the tx queue's `head`, which the sevio console driver publishes
//!   only when the device has used the buffers (see sevio-driver-console).
//!
//! Waiting for `head` to move: the client clears `producer_signalled`
//! (the sDDF producer's "tell me when you consume"), fences, and looks
//! again; the driver notifies it when it finds the flag clear after
//! publishing `head`.
//!
//! Two channels, as an sDDF serial client has ([`Notify`]): rx (input
//! arrived; the client tells the driver of room it freed, if asked) and
//! tx (output published; the driver tells of output consumed, if asked).
//!
//! `unsafe` only in [`pd`], where a mapping becomes shared memory.
//!
//! Panic contract: nothing the driver writes into the queues makes this
//! crate panic; impossible indices are [`Progress::Failed`].
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod pd;

use core::fmt::Write;
use core::sync::atomic::{Ordering, fence};
use sevio_queue::serial::PRODUCER_SIGNALLED_OFFSET;
use sevio_queue::{QueueError, SerialConsumer, SerialProducer};
use sevio_sharedmem::SharedMemory;

/// The banner written at start.
pub const BANNER: &str = "sevio console: type a line, it comes back upper-cased ('bye' for totals)\n";

/// When the client passes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Once the device has consumed the banner (a system's own check).
    Standalone,
    /// Once the device has consumed the answer to a line `bye` (the
    /// banner went before it).
    Session,
}

pub use sevio_runtime::verdict::Progress;

/// One serial queue's two regions, as system.xml maps them.
#[derive(Copy, Clone, Debug)]
pub struct QueueRegions {
    /// The header (`tail`, `head`, `producer_signalled`).
    pub header: SharedMemory,
    /// The characters; its size is the capacity (a power of two).
    pub data: SharedMemory,
}

/// Which of its two peers the client should notify.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// The rx producer asked for room and the client freed some.
    pub rx: bool,
    /// The client published output.
    pub tx: bool,
}

/// Lines and bytes answered.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Complete lines answered.
    pub lines: u64,
    /// Characters answered.
    pub bytes: u64,
}

/// The first few characters of the current line, enough to spot `bye`.
#[derive(Copy, Clone, Debug, Default)]
struct LineStart {
    bytes: [u8; 4],
    len: usize,
}

impl LineStart {
    fn push(&mut self, c: u8) {
        if self.len < self.bytes.len() {
            self.bytes[self.len] = c;
        }
        self.len = self.len.saturating_add(1);
    }

    fn is_bye(&self) -> bool {
        let text = &self.bytes[..self.len.min(self.bytes.len())];
        self.len <= self.bytes.len() && (text == b"bye" || text == b"bye\r")
    }
}

/// The console client.
pub struct ConsoleClient {
    rx: SerialConsumer,
    tx: SerialProducer,
    tx_header: SharedMemory,
    mode: Mode,
    /// Characters published to tx since start.
    written: u64,
    banner_end: u64,
    /// Where the answer to `bye` ends in the tx stream, once seen.
    bye_end: Option<u64>,
    line: LineStart,
    totals: Totals,
    /// The tx queue was full and the client asked to be told of room.
    waiting_room: bool,
    notify: Notify,
    passed: bool,
    failed: bool,
}

impl ConsoleClient {
    /// A client on these queues (capacities = the data regions' sizes).
    pub fn new(rx: QueueRegions, tx: QueueRegions, mode: Mode) -> Result<Self, QueueError> {
        let cap = |r: &QueueRegions| u32::try_from(r.data.len()).unwrap_or(0);
        Ok(ConsoleClient {
            rx: SerialConsumer::new(rx.header, rx.data, cap(&rx))?,
            tx: SerialProducer::new(tx.header, tx.data, cap(&tx))?,
            tx_header: tx.header,
            mode,
            written: 0,
            banner_end: 0,
            bye_end: None,
            line: LineStart::default(),
            totals: Totals::default(),
            waiting_room: false,
            notify: Notify::default(),
            passed: false,
            failed: false,
        })
    }

    /// Lines and bytes answered so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Which peers should be notified (clears them).
    pub fn take_notify(&mut self) -> Notify {
        core::mem::take(&mut self.notify)
    }

    /// Write the banner, then answer whatever is already waiting.
    pub fn start(&mut self, log: &mut dyn Write) -> Progress {
        let written = self.tx.write(BANNER.as_bytes());
        match written {
            Ok(n) if n == BANNER.len() => {}
            Ok(_) => return self.fail("the tx queue cannot hold the banner"),
            Err(_) => return self.fail("the tx queue is unusable"),
        }
        self.written = BANNER.len() as u64;
        self.banner_end = self.written;
        self.notify.tx = true;
        self.notified(log)
    }

    /// A peer notified: input to answer, room for output, or output
    /// consumed.
    pub fn notified(&mut self, log: &mut dyn Write) -> Progress {
        if self.failed {
            return Progress::Waiting;
        }
        if let Err(e) = self.answer(log) {
            let _ = writeln!(log, "console-client: queue error {e:?}");
            return self.fail("a serial queue has impossible indices");
        }
        match self.check_consumed(log) {
            Ok(p) => p,
            Err(_) => self.fail("the tx queue has impossible indices"),
        }
    }

    fn fail(&mut self, why: &'static str) -> Progress {
        self.failed = true;
        Progress::Failed(why)
    }

    /// Move characters from rx to tx (upper-cased) while both allow.
    fn answer(&mut self, log: &mut dyn Write) -> Result<(), QueueError> {
        let mut moved = 0u64;
        loop {
            let room = self.tx.free()?;
            if room == 0 {
                if self.rx.is_empty()? {
                    break;
                }
                if self.tx.request_signal()? {
                    continue;
                }
                self.waiting_room = true;
                break;
            }
            self.waiting_room = false;
            let mut n = 0;
            while n < room {
                let Some(c) = self.rx.take()? else { break };
                self.tx.stage(c.to_ascii_uppercase())?;
                n += 1;
                self.track(c, self.written + moved + u64::from(n), log);
            }
            moved += u64::from(n);
            if n < room {
                break;
            }
        }
        if moved > 0 {
            self.tx.publish()?;
            self.written += moved;
            self.totals.bytes += moved;
            self.notify.tx = true;
            // Room appeared in rx: tell its producer if it waits for it.
            self.notify.rx |= self.rx.require_signal()?;
        }
        Ok(())
    }

    /// Count a character answered; `end` is the tx stream position just
    /// after its answer.
    fn track(&mut self, c: u8, end: u64, log: &mut dyn Write) {
        if c != b'\n' {
            self.line.push(c);
            return;
        }
        self.totals.lines += 1;
        if self.line.is_bye() {
            let _ = writeln!(
                log,
                "console-client: bye after {} lines, {} bytes answered",
                self.totals.lines,
                self.totals.bytes + (end - self.written)
            );
            self.bye_end.get_or_insert(end);
        }
        self.line = LineStart::default();
    }

    /// The tx stream position the pass waits for, if known yet.
    fn target(&self) -> Option<u64> {
        match self.mode {
            Mode::Standalone => Some(self.banner_end),
            Mode::Session => self.bye_end,
        }
    }

    /// Characters the device has consumed (tx `head`), from the room the
    /// queue has now.
    fn consumed(&mut self) -> Result<u64, QueueError> {
        let in_queue = u64::from(self.tx.capacity() - self.tx.free()?);
        Ok(self.written.saturating_sub(in_queue))
    }

    fn check_consumed(&mut self, log: &mut dyn Write) -> Result<Progress, QueueError> {
        let Some(target) = self.target().filter(|_| !self.passed) else { return Ok(Progress::Waiting) };
        if self.consumed()? < target {
            // Ask to be told when the head moves, then look again (the
            // driver may have published in between).
            self.tx_header
                .store_u32(PRODUCER_SIGNALLED_OFFSET, 0, Ordering::Relaxed)
                .map_err(|_| QueueError::OutOfBounds)?;
            fence(Ordering::SeqCst);
            if self.consumed()? < target {
                return Ok(Progress::Waiting);
            }
        }
        if !self.waiting_room {
            self.tx.cancel_signal()?;
        }
        self.passed = true;
        let what = if self.mode == Mode::Standalone { "banner" } else { "answer to bye" };
        let _ = writeln!(log, "console-client: the device consumed the {what} ({target} bytes written so far)");
        Ok(Progress::Passed)
    }
}

#[cfg(test)]
mod tests;
