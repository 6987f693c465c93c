//! A client of QEMU's qtest protocol: one text command per line, one
//! answer line (`OK [value]`, `FAIL ...`, `ERR ...`) per command, and
//! asynchronous `IRQ raise N` / `IRQ lower N` lines that may arrive at any
//! point, also between a command and its answer. A reader thread splits
//! the two: answers go back to the caller, IRQ lines to a sink.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// What the reader thread reports besides answers.
#[derive(Debug, PartialEq, Eq)]
pub enum QtestEvent {
    /// An intercepted GIC input changed: SPI number (INTID - 32) and level.
    Irq {
        /// SPI number.
        spi: u32,
        /// New level.
        high: bool,
    },
    /// QEMU closed the connection.
    Closed,
}

/// How long a command may take before QEMU counts as hung.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected qtest session.
pub struct Qtest {
    writer: UnixStream,
    answers: Receiver<String>,
}

/// What one line from QEMU is.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Irq(u32, bool),
    Answer(String),
}

fn classify(line: &str) -> Line {
    let mut words = line.split_whitespace();
    if words.next() == Some("IRQ") {
        let level = words.next();
        if let (Some(l @ ("raise" | "lower")), Some(Ok(n))) = (level, words.next().map(str::parse)) {
            return Line::Irq(n, l == "raise");
        }
    }
    Line::Answer(line.to_string())
}

impl Qtest {
    /// Start the reader thread on `stream`; `sink` gets IRQ lines and the close.
    pub fn new(stream: UnixStream, sink: impl Fn(QtestEvent) + Send + 'static) -> std::io::Result<Qtest> {
        let reader = BufReader::new(stream.try_clone()?);
        let (tx, answers) = channel();
        std::thread::Builder::new().name("qtest".into()).spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                match classify(&line) {
                    Line::Irq(spi, high) => sink(QtestEvent::Irq { spi, high }),
                    Line::Answer(a) => {
                        if tx.send(a).is_err() {
                            break;
                        }
                    }
                }
            }
            sink(QtestEvent::Closed);
        })?;
        Ok(Qtest { writer: stream, answers })
    }

    /// Send one command and return what follows `OK` in its answer.
    pub fn command(&mut self, cmd: &str) -> Result<String, String> {
        self.writer.write_all(format!("{cmd}\n").as_bytes()).map_err(|e| format!("qtest `{cmd}`: {e}"))?;
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(a) => match a.strip_prefix("OK") {
                Some(rest) => Ok(rest.trim().to_string()),
                None => Err(format!("qtest `{cmd}`: QEMU answered `{a}`")),
            },
            Err(RecvTimeoutError::Timeout) => Err(format!("qtest `{cmd}`: no answer from QEMU in {ANSWER_TIMEOUT:?}")),
            Err(RecvTimeoutError::Disconnected) => Err(format!("qtest `{cmd}`: QEMU closed the connection")),
        }
    }

    /// Read `width` bytes (1, 2, 4, 8) at guest-physical `addr`.
    pub fn read(&mut self, addr: u64, width: u8) -> Result<u64, String> {
        let answer = self.command(&format!("read{} {addr:#x}", width_letter(width)))?;
        let hex = answer.strip_prefix("0x").unwrap_or(&answer);
        u64::from_str_radix(hex, 16).map_err(|_| format!("qtest read at {addr:#x}: bad value `{answer}`"))
    }

    /// Write `width` bytes (1, 2, 4, 8) at guest-physical `addr`.
    pub fn write(&mut self, addr: u64, width: u8, value: u64) -> Result<(), String> {
        let mask = if width >= 8 { u64::MAX } else { (1u64 << (8 * width)) - 1 };
        self.command(&format!("write{} {addr:#x} {:#x}", width_letter(width), value & mask)).map(drop)
    }
}

fn width_letter(width: u8) -> char {
    match width {
        1 => 'b',
        2 => 'w',
        4 => 'l',
        _ => 'q',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines() {
        assert_eq!(classify("IRQ raise 47"), Line::Irq(47, true));
        assert_eq!(classify("IRQ lower 3"), Line::Irq(3, false));
        assert_eq!(classify("OK 0x0000000074726976"), Line::Answer("OK 0x0000000074726976".into()));
        assert_eq!(classify("IRQ intercepted"), Line::Answer("IRQ intercepted".into()));
    }

    /// A fake QEMU on the other end of a socket pair: IRQ lines arrive
    /// between a command and its answer and still reach the sink.
    #[test]
    fn irq_lines_interleaved_with_answers() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let (tx, seen) = std::sync::mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let mut q = Qtest::new(ours, move |e| tx.lock().unwrap().send(e).unwrap()).unwrap();
        let fake = std::thread::spawn(move || {
            let mut r = BufReader::new(theirs.try_clone().unwrap());
            let mut w = theirs;
            let mut cmds = Vec::new();
            for answer in ["IRQ raise 47\nOK 0x0000000074726976\n", "IRQ lower 47\nOK\n", "FAIL\n"] {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                cmds.push(line.trim().to_string());
                w.write_all(answer.as_bytes()).unwrap();
            }
            cmds
        });
        assert_eq!(q.read(0xa00_3e00, 4), Ok(0x7472_6976));
        assert_eq!(q.write(0xa00_3e64, 2, 0x1_0001), Ok(()));
        assert!(q.read(0, 8).unwrap_err().contains("FAIL"));
        assert_eq!(fake.join().unwrap(), ["readl 0xa003e00", "writew 0xa003e64 0x1", "readq 0x0"]);
        // The fake has hung up: the reader reports the close, after the IRQs.
        let events: Vec<_> = (0..3).map(|_| seen.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
        assert_eq!(
            events,
            [QtestEvent::Irq { spi: 47, high: true }, QtestEvent::Irq { spi: 47, high: false }, QtestEvent::Closed]
        );
    }
}
