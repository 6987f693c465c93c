//! sim's output: a PD's runtime lines as the PD wrote them (the runtime
//! starts each with `<pd name>: `, as on seL4), anything else from a
//! source prefixed `[source] ` (QEMU's stderr, a PD's own stdio, a line
//! that does not carry its PD's name), sim's own lines `sim: `. Each line
//! is written whole under stdout's lock, so lines of different PDs never
//! mix.

use std::io::Write;

/// Print `text` as one line of `source`.
pub fn line(source: &str, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "[{source}] {text}");
    let _ = out.flush();
}

/// Print a line the runtime of PD `pd` sent: as it is when it begins with
/// the PD's name, else marked with the name sim knows (so no PD's line
/// passes for another's).
pub fn pd_line(pd: &str, text: &str) {
    if named_by(pd, text) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    } else {
        line(pd, text);
    }
}

fn named_by(pd: &str, text: &str) -> bool {
    text.strip_prefix(pd).is_some_and(|rest| rest.starts_with(": "))
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
    fn a_pd_line_counts_as_named_only_with_its_own_name_and_colon() {
        assert!(named_by("blk_client", "blk_client: PASS"));
        assert!(!named_by("blk_client", "blk_client2: PASS"));
        assert!(!named_by("rng_client", "blk_client: PASS"));
        assert!(!named_by("blk", "blk:PASS"));
        assert!(!named_by("blk", "blk"));
    }

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
