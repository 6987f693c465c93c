//! sim's output: PD lines prefixed `[name] `, its own lines `sim: `. Each
//! line is written whole under stdout's lock, so lines of different PDs
//! never mix.

use std::io::Write;

/// Print `text` as one line of `source`.
pub fn line(source: &str, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "[{source}] {text}");
    let _ = out.flush();
}

/// Print one line of sim's own.
pub fn sim(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "sim: {text}");
    let _ = out.flush();
}

/// Splits a PD's output stream into lines.
#[derive(Default)]
pub struct LineBuffer(Vec<u8>);

impl LineBuffer {
    /// Add bytes; returns every line they complete (without the newline).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.0.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(nl) = self.0.iter().position(|b| *b == b'\n') {
            let rest = self.0.split_off(nl + 1);
            self.0.pop();
            lines.push(String::from_utf8_lossy(&self.0).into_owned());
            self.0 = rest;
        }
        lines
    }

    /// What is left of an unfinished line, if anything.
    pub fn take_rest(&mut self) -> Option<String> {
        (!self.0.is_empty()).then(|| String::from_utf8_lossy(&std::mem::take(&mut self.0)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_pushes() {
        let mut b = LineBuffer::default();
        assert!(b.push(b"round ").is_empty());
        assert_eq!(b.push(b"1\nround 2\npartial"), ["round 1", "round 2"]);
        assert_eq!(b.push(b"\n\n"), ["partial", ""]);
        assert_eq!(b.take_rest(), None);
        b.push(b"tail");
        assert_eq!(b.take_rest().as_deref(), Some("tail"));
    }
}
