//! Serving log line calls: check the request, write the line.

use crate::pl011::{Pl011, Pl011Error, UartRegisters};
use sevio_runtime::MessageInfo;
use sevio_runtime::line::{self, MAX_LINE_BYTES, NOT_WRITTEN, WRITTEN};
use sevio_runtime::print::LineSink;

/// What the server has done so far.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Lines written whole.
    pub written: u64,
    /// Requests refused as malformed.
    pub refused: u64,
    /// Lines the UART did not take (all or part of them lost).
    pub lost: u64,
}

/// A byte as the serial line shows it: a control character (C0 or DEL)
/// becomes `?`, so a line cannot end early, forge another line or move
/// the terminal's cursor; everything else (UTF-8 included) is written
/// as it is.
pub fn printable(byte: u8) -> u8 {
    if byte < 0x20 || byte == 0x7f { b'?' } else { byte }
}

/// The uart PD's state: the UART (if system.xml gave one that works) and
/// its counters.
pub struct LogServer<R> {
    uart: Option<Pl011<R>>,
    stats: LogStats,
}

impl<R: UartRegisters> LogServer<R> {
    /// A server writing to `uart`; `None` when there is none, and then
    /// every request is answered [`NOT_WRITTEN`] (its callers print
    /// another way).
    pub fn new(uart: Option<Pl011<R>>) -> Self {
        LogServer { uart, stats: LogStats::default() }
    }

    /// The counters.
    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// The UART, if any.
    pub fn uart(&self) -> Option<&Pl011<R>> {
        self.uart.as_ref()
    }

    /// Answer one log line call: `request` and its message registers
    /// (read through `get`). The reply carries no message registers.
    pub fn serve(&mut self, request: MessageInfo, get: impl FnMut(usize) -> u64) -> MessageInfo {
        let mut buf = [0u8; MAX_LINE_BYTES];
        let label = match line::decode(request, get, &mut buf) {
            Ok(text) => match self.write_line(text) {
                Ok(()) => WRITTEN,
                Err(_) => NOT_WRITTEN,
            },
            Err(e) => {
                self.stats.refused += 1;
                e.code()
            }
        };
        MessageInfo::new(label, 0)
    }

    /// Write `text` and CR LF; a UART that stops taking bytes loses the
    /// rest of the line (counted).
    pub fn write_line(&mut self, text: &[u8]) -> Result<(), Pl011Error> {
        let Some(uart) = &self.uart else {
            self.stats.lost += 1;
            return Err(Pl011Error::TxFifoStayedFull);
        };
        let sent = text.iter().map(|&b| printable(b)).chain(*b"\r\n").try_for_each(|b| uart.write_byte(b));
        match sent {
            Ok(()) => self.stats.written += 1,
            Err(_) => self.stats.lost += 1,
        }
        sent
    }
}

/// The uart PD's own lines go straight to its UART.
impl<R: UartRegisters> LineSink for &mut LogServer<R> {
    fn line(&mut self, line: &[u8]) {
        let _ = self.write_line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pl011::POLL_LIMIT;
    use crate::pl011::fake::FakeUart;
    use core::fmt::Write;
    use sevio_runtime::line::{LineError, MAX_LINE_REGISTERS};
    use sevio_runtime::print::LineWriter;

    /// A request as a PD's runtime encodes it.
    fn request(text: &[u8]) -> (MessageInfo, [u64; MAX_LINE_REGISTERS]) {
        let mut mrs = [0u64; MAX_LINE_REGISTERS];
        let (label, used) = line::encode(text, &mut mrs);
        (MessageInfo::new(label, used), mrs)
    }

    #[test]
    fn a_line_from_a_pd_is_written_whole_with_cr_lf() {
        let fake = FakeUart::default();
        let mut server = LogServer::new(Some(Pl011::new(&fake)));
        let (info, mrs) = request(b"blk_client: PASS");
        let reply = server.serve(info, |i| mrs[i]);
        assert_eq!((reply.label(), reply.length()), (WRITTEN, 0));
        assert_eq!(*fake.sent.borrow(), b"blk_client: PASS\r\n");
        assert_eq!(server.stats(), LogStats { written: 1, refused: 0, lost: 0 });
    }

    #[test]
    fn control_characters_cannot_break_or_forge_a_line() {
        let fake = FakeUart::default();
        let mut server = LogServer::new(Some(Pl011::new(&fake)));
        let (info, mrs) = request("rng_client: x\r\nblk_client: PASS\x1b[2J\x7f é".as_bytes());
        server.serve(info, |i| mrs[i]);
        assert_eq!(*fake.sent.borrow(), "rng_client: x??blk_client: PASS?[2J? é\r\n".as_bytes());
    }

    #[test]
    fn malformed_requests_are_refused_and_nothing_is_written() {
        let fake = FakeUart::default();
        let mut server = LogServer::new(Some(Pl011::new(&fake)));
        let too_long = MessageInfo::new(MAX_LINE_BYTES as u64 + 1, MAX_LINE_REGISTERS + 1);
        let short = MessageInfo::new(20, 2);
        assert_eq!(server.serve(too_long, |_| 0).label(), LineError::TooLong { bytes: 0 }.code());
        assert_eq!(server.serve(short, |_| 0).label(), LineError::WrongRegisterCount { bytes: 0, registers: 0 }.code());
        assert!(fake.sent.borrow().is_empty());
        assert_eq!(server.stats().refused, 2);
    }

    #[test]
    fn a_stuck_uart_answers_not_written_after_a_bounded_wait() {
        let fake = FakeUart::default();
        fake.full_reads.set(u32::MAX);
        let mut server = LogServer::new(Some(Pl011::new(&fake)));
        let (info, mrs) = request(b"net_client: PASS");
        assert_eq!(server.serve(info, |i| mrs[i]).label(), NOT_WRITTEN);
        assert_eq!(fake.fr_reads.get(), POLL_LIMIT, "gave up on the first byte");
        assert_eq!(server.stats().lost, 1);
    }

    #[test]
    fn without_a_uart_every_line_is_not_written() {
        let mut server: LogServer<&FakeUart> = LogServer::new(None);
        let (info, mrs) = request(b"ping: PASS");
        assert_eq!(server.serve(info, |i| mrs[i]).label(), NOT_WRITTEN);
    }

    #[test]
    fn the_servers_own_lines_are_named_and_whole() {
        let fake = FakeUart::default();
        let mut server = LogServer::new(Some(Pl011::new(&fake)));
        {
            let mut log = LineWriter::new("uart", &mut server);
            write!(log, "PL011 at {:#x}", 0x0900_0000).unwrap();
        }
        assert_eq!(*fake.sent.borrow(), b"uart: PL011 at 0x9000000\r\n");
    }
}
