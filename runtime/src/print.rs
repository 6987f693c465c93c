//! Output, one whole line at a time, each beginning with the PD's name.
//!
//! [`debug_println!`](crate::debug_println) (and a [`DebugWriter`] used as
//! a `fmt::Write` log) formats into a fixed buffer on the stack, starts
//! every line with `<pd name>: ` and hands each finished line to the
//! platform in one piece:
//! - seL4, a PD with the log channel ([`crate::line::LOG_CHANNEL`]): one
//!   call to the `uart` PD, which writes the line to the PL011 before any
//!   other PD can run (it has the highest priority and serves one call at
//!   a time). This works on release kernels too.
//! - seL4 without that channel: the kernel's debug console, byte by byte
//!   (debug kernels only; a release kernel prints nothing).
//! - sim: one output message per line, which sim prints.
//!
//! So lines of different PDs never splice. Text with a newline becomes
//! several lines, each named; a line longer than
//! [`MAX_LINE_BYTES`](crate::line::MAX_LINE_BYTES) goes on in a new line,
//! named again. Text that already begins with `<pd name>: ` is not named
//! twice.

use crate::line;
use crate::line::{LOG_CHANNEL, MAX_LINE_BYTES, MAX_LINE_REGISTERS};
use crate::{MessageInfo, PpcMessage};
use core::fmt;

/// Where finished lines go (without their newline).
pub trait LineSink {
    /// Write one whole line.
    fn line(&mut self, line: &[u8]);
}

/// The longest start of `text` that is at most `max` bytes and ends at a
/// character boundary.
pub fn fit(text: &str, max: usize) -> &str {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Splits formatted text into whole lines named after a PD and gives each
/// to a [`LineSink`]. An unfinished line is written when the writer is
/// dropped.
pub struct LineWriter<S: LineSink> {
    sink: S,
    name: &'static str,
    buf: [u8; MAX_LINE_BYTES],
    /// Bytes of `buf` in use; 0 while no line is started.
    len: usize,
}

impl<S: LineSink> LineWriter<S> {
    /// A writer whose lines begin with `name: ` (a name that leaves no
    /// room for text is cut short).
    pub fn new(name: &'static str, sink: S) -> Self {
        LineWriter { sink, name: fit(name, MAX_LINE_BYTES / 2), buf: [0; MAX_LINE_BYTES], len: 0 }
    }

    fn prefix_len(&self) -> usize {
        self.name.len() + 2
    }

    fn start_line(&mut self) {
        let p = self.prefix_len();
        self.buf[..p - 2].copy_from_slice(self.name.as_bytes());
        self.buf[p - 2..p].copy_from_slice(b": ");
        self.len = p;
    }

    /// End the current line (starting an empty one first if none is).
    fn end_line(&mut self) {
        if self.len == 0 {
            self.start_line();
        }
        let p = self.prefix_len();
        let line = &self.buf[..self.len];
        let named_twice = line.len() >= 2 * p && line[p..2 * p] == line[..p];
        self.sink.line(if named_twice { &line[p..] } else { line });
        self.len = 0;
    }

    /// Append text that holds no newline, ending lines that fill up.
    fn append(&mut self, mut text: &str) {
        while !text.is_empty() {
            if self.len == 0 {
                self.start_line();
            }
            let piece = fit(text, MAX_LINE_BYTES - self.len);
            self.buf[self.len..self.len + piece.len()].copy_from_slice(piece.as_bytes());
            self.len += piece.len();
            text = &text[piece.len()..];
            if !text.is_empty() {
                self.end_line();
            }
        }
    }
}

impl<S: LineSink> fmt::Write for LineWriter<S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut pieces = s.split('\n');
        if let Some(first) = pieces.next() {
            self.append(first);
        }
        for piece in pieces {
            self.end_line();
            self.append(piece);
        }
        Ok(())
    }
}

impl<S: LineSink> Drop for LineWriter<S> {
    fn drop(&mut self) {
        if self.len != 0 {
            self.end_line();
        }
    }
}

/// This platform's line output (see the module documentation).
pub struct PlatformSink;

impl LineSink for PlatformSink {
    fn line(&mut self, line: &[u8]) {
        #[cfg(target_os = "none")]
        {
            if crate::sel4::has_pp(LOG_CHANNEL) && call_uart(line) {
                return;
            }
            for &b in line {
                crate::sel4::put_byte(b);
            }
            crate::sel4::put_byte(b'\n');
        }
        #[cfg(not(target_os = "none"))]
        crate::hosted::write_line(line);
    }
}

/// Send `line` to the `uart` PD; false if it refused it. The message
/// registers the call overwrites (at least MR0-MR3, which travel in
/// machine registers) are put back afterwards, so a print between reading
/// a message and answering it changes neither.
#[cfg_attr(not(target_os = "none"), expect(dead_code, reason = "sim prints lines itself"))]
fn call_uart(line: &[u8]) -> bool {
    type LineMessage = PpcMessage<MAX_LINE_REGISTERS>;
    // The registers the call overwrites, read as a message now and
    // written back after the call.
    let overwritten = line.len().div_ceil(8).clamp(4, MAX_LINE_REGISTERS);
    let (Ok(saved), Ok(request)) = (
        LineMessage::receive(MessageInfo::new(0, overwritten)),
        LineMessage::encode(|words| line::encode(line, words)),
    ) else {
        return false;
    };
    let reply = LOG_CHANNEL.pp_call(request.send());
    saved.send();
    reply.label() == line::WRITTEN
}

/// A `fmt::Write` log for this PD's output (`writeln!(log, ...)`): every
/// line whole and named, as [`debug_println!`](crate::debug_println)
/// prints it.
pub type DebugWriter = LineWriter<PlatformSink>;

impl DebugWriter {
    /// A log writer named after this PD.
    pub fn for_this_pd() -> Self {
        LineWriter::new(crate::pd_name(), PlatformSink)
    }
}

#[doc(hidden)]
pub fn _println(args: fmt::Arguments<'_>) {
    let mut w = DebugWriter::for_this_pd();
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.end_line();
}

/// Print one line (or several, if the text holds newlines), each whole
/// and beginning with this PD's name.
#[macro_export]
macro_rules! debug_println {
    () => { $crate::print::_println(format_args!("")) };
    ($($arg:tt)*) => { $crate::print::_println(format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::string::String;
    use std::vec::Vec;

    #[derive(Default)]
    struct Lines(Vec<String>);

    impl LineSink for &mut Lines {
        fn line(&mut self, line: &[u8]) {
            self.0.push(String::from_utf8(line.to_vec()).expect("lines end at char boundaries"));
        }
    }

    fn lines(name: &'static str, write: impl FnOnce(&mut LineWriter<&mut Lines>)) -> Vec<String> {
        let mut out = Lines::default();
        {
            let mut w = LineWriter::new(name, &mut out);
            write(&mut w);
        }
        out.0
    }

    #[test]
    fn a_line_arriving_in_pieces_is_written_once_whole_and_named() {
        let got = lines("rng_client", |w| {
            write!(w, "request {}: ", 2).unwrap();
            write!(w, "{} bytes", 100).unwrap();
            w.end_line();
        });
        assert_eq!(got, ["rng_client: request 2: 100 bytes"]);
    }

    #[test]
    fn newlines_split_text_into_named_lines_and_drop_ends_the_last() {
        let got = lines("bus", |w| w.write_str("bus: blk0 waits\nrng0 <- virtio-rng\n\ntail").unwrap());
        assert_eq!(got, ["bus: blk0 waits", "bus: rng0 <- virtio-rng", "bus: ", "bus: tail"]);
    }

    #[test]
    fn text_already_named_is_not_named_twice() {
        let got = lines("net", |w| {
            w.write_str("net: mac 52:54:00:12:34:56").unwrap();
            w.end_line();
            w.write_str("network: up").unwrap();
            w.end_line();
            w.write_str("net: ").unwrap();
            w.end_line();
        });
        assert_eq!(got, ["net: mac 52:54:00:12:34:56", "net: network: up", "net: "]);
    }

    #[test]
    fn a_long_line_goes_on_in_named_lines_at_char_boundaries() {
        let text: String = core::iter::repeat_n("é", MAX_LINE_BYTES).collect();
        let got = lines("pd", |w| w.write_str(&text).unwrap());
        assert!(got.len() > 2, "{} lines", got.len());
        let mut rebuilt = String::new();
        for line in &got {
            assert!(line.len() <= MAX_LINE_BYTES);
            rebuilt.push_str(line.strip_prefix("pd: ").expect("every piece is named"));
        }
        assert_eq!(rebuilt, text);
    }

    #[test]
    fn an_empty_print_is_one_named_line_and_nothing_is_left_over() {
        assert_eq!(lines("ping", |w| w.end_line()), ["ping: "]);
        assert!(lines("ping", |_| {}).is_empty());
    }

    #[test]
    fn fit_cuts_at_a_char_boundary() {
        assert_eq!(fit("aé", 2), "a");
        assert_eq!(fit("aé", 3), "aé");
        assert_eq!(fit("aé", 9), "aé");
        assert_eq!(fit("é", 0), "");
    }

    #[test]
    fn a_name_too_long_for_a_line_is_cut_short() {
        let name: &'static str = std::boxed::Box::leak("n".repeat(MAX_LINE_BYTES).into_boxed_str());
        let got = lines(name, |w| w.write_str("x\n").unwrap());
        assert_eq!(got[0].len(), MAX_LINE_BYTES / 2 + 3);
    }
}
