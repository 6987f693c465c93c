//! Reading a system's console: which clients passed, which failed, which
//! lines of interest appeared, and whether anything faulted.
//!
//! Verdict lines are `<pd name>: PASS` and `<pd name>: FAIL: why`, the PD
//! name being its `protection_domain` name in the system file (the
//! runtime names every line, and the `uart` PD prints each whole). Only
//! such a line is a verdict: a line that merely contains `PASS` or `FAIL`
//! is a log line, and a system passes only when exactly its clients
//! printed their named `PASS`.
//!
//! A line mentioning a fault (`fault`, `panic`, the monitor's `MON|ERROR`)
//! fails the system unless the system expects it.
//!
//! The watcher reads one line at a time, so a run can end as soon as its
//! outcome is known.

/// What a system must print, and what it may.
#[derive(Copy, Clone, Debug)]
pub struct Expect<'a> {
    /// PDs that must print `PASS`; any other PD that passes is a failure.
    pub pass: &'a [&'a str],
    /// Text that must appear, each somewhere in a line (in any order: PDs
    /// print concurrently).
    pub lines: &'a [&'a str],
    /// Fault lines the system expects: a fault line containing one of
    /// these is not a failure.
    pub faults: &'a [&'a str],
}

/// One console line, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `<pd>: PASS`.
    Pass(&'a str),
    /// `<pd>: FAIL...`; the whole line is the reason.
    Fail(&'a str),
    /// Neither: a log line.
    Other {
        /// The line mentions a fault.
        fault: bool,
    },
}

/// Words that make a line a fault line (compared case-insensitively).
const FAULT_WORDS: &[&str] = &["fault", "panic", "mon|error"];

/// Classify one line (without its newline).
pub fn classify(line: &str) -> Line<'_> {
    let text = line.trim_end();
    if let Some((pd, rest)) = text.split_once(": ")
        && is_pd_name(pd)
    {
        if rest == "PASS" {
            return Line::Pass(pd);
        }
        if rest == "FAIL" || rest.starts_with("FAIL:") {
            return Line::Fail(pd);
        }
    }
    let lower = text.to_ascii_lowercase();
    Line::Other { fault: FAULT_WORDS.iter().any(|w| lower.contains(w)) }
}

/// A `protection_domain` name as Microkit allows it, as far as the
/// systems here use it: letters, digits, `_` and `-`.
fn is_pd_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Not everything expected has appeared yet, nothing wrong so far.
    Running,
    /// Every expected verdict and line appeared, nothing wrong.
    Complete,
    /// Something went wrong; why.
    Failed(String),
}

/// Reads a console line by line against an [`Expect`].
#[derive(Debug)]
pub struct Watcher<'a> {
    expect: Expect<'a>,
    /// Per expected PD: it printed `<pd>: PASS`.
    passed: Vec<bool>,
    /// Per expected line: seen.
    seen: Vec<bool>,
    failure: Option<String>,
}

impl<'a> Watcher<'a> {
    /// A watcher that has seen nothing yet.
    pub fn new(expect: Expect<'a>) -> Self {
        Watcher { expect, passed: vec![false; expect.pass.len()], seen: vec![false; expect.lines.len()], failure: None }
    }

    /// Take in one line. After the first failure, lines change nothing.
    pub fn feed(&mut self, line: &str) {
        if self.failure.is_some() {
            return;
        }
        let text = line.trim_end();
        for (want, seen) in self.expect.lines.iter().zip(&mut self.seen) {
            *seen |= text.contains(want);
        }
        match classify(text) {
            Line::Pass(pd) => match self.expect.pass.iter().position(|p| *p == pd) {
                Some(i) if self.passed[i] => self.fail(format!("{pd} passed twice")),
                Some(i) => self.passed[i] = true,
                None => self.fail(format!("{pd} passed, but this system expects no PASS from it")),
            },
            Line::Fail(_) => self.fail(text.to_string()),
            Line::Other { fault: true } if !self.expect.faults.iter().any(|f| text.contains(f)) => {
                self.fail(format!("fault: {text}"))
            }
            Line::Other { .. } => {}
        }
    }

    fn fail(&mut self, why: String) {
        self.failure = Some(why);
    }

    /// Expected PDs that passed.
    fn passes(&self) -> usize {
        self.passed.iter().filter(|n| **n).count()
    }

    /// Where the run stands.
    pub fn state(&self) -> State {
        if let Some(why) = &self.failure {
            return State::Failed(why.clone());
        }
        if self.passes() == self.expect.pass.len() && self.seen.iter().all(|s| *s) {
            State::Complete
        } else {
            State::Running
        }
    }

    /// What has not appeared yet, for a run that ended without it.
    pub fn missing(&self) -> String {
        let mut parts = Vec::new();
        let waiting: Vec<&str> =
            self.expect.pass.iter().zip(&self.passed).filter(|(_, n)| !**n).map(|(p, _)| *p).collect();
        if self.passes() < self.expect.pass.len() {
            parts.push(format!(
                "{} of {} PASS lines (no PASS named {})",
                self.passes(),
                self.expect.pass.len(),
                waiting.join(", ")
            ));
        }
        for (line, _) in self.expect.lines.iter().zip(&self.seen).filter(|(_, s)| !**s) {
            parts.push(format!("no line with `{line}`"));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: Expect<'static> =
        Expect { pass: &["blk_client", "rng_client"], lines: &["bus: blk0 <-", "blk: device ready"], faults: &[] };

    fn watch(expect: Expect<'static>, console: &str) -> State {
        let mut w = Watcher::new(expect);
        for line in console.lines() {
            w.feed(line);
        }
        w.state()
    }

    #[test]
    fn verdict_lines_name_their_pd() {
        assert_eq!(classify("blk_client: PASS"), Line::Pass("blk_client"));
        assert_eq!(classify("rng_client: FAIL: the bytes are (nearly) constant"), Line::Fail("rng_client"));
        assert_eq!(classify("client0: PASS\r"), Line::Pass("client0"));
        // A log line that merely mentions a verdict is not one.
        assert_eq!(classify("blk_client: 6 bad requests refused, PASS pending"), Line::Other { fault: false });
        assert_eq!(classify("rng: 4 served (14212 bytes), 0 refused, 0 failed"), Line::Other { fault: false });
        assert_eq!(classify("x y: PASS"), Line::Other { fault: false }, "not a PD name");
    }

    #[test]
    fn fault_lines_are_recognised_in_any_case() {
        for line in ["bus: driver 0 faulted (seL4 fault label 6)", "MON|ERROR: received message", "blk: PANIC at x"] {
            assert!(matches!(classify(line), Line::Other { fault: true, .. }), "{line}");
        }
    }

    #[test]
    fn every_named_pass_and_every_line_in_any_order_completes() {
        let console = "bus: ready\nblk: device ready\nrng_client: PASS\n\
                       bus: blk0 <- virtio-blk at mmio slot 31\nblk_client: PASS\n";
        assert_eq!(watch(REFERENCE, console), State::Complete);
    }

    #[test]
    fn a_missing_line_or_pass_keeps_it_running_and_is_named() {
        let mut w = Watcher::new(REFERENCE);
        "bus: blk0 <- virtio-blk\nrng_client: PASS\n".lines().for_each(|l| w.feed(l));
        assert_eq!(w.state(), State::Running);
        assert_eq!(w.missing(), "1 of 2 PASS lines (no PASS named blk_client); no line with `blk: device ready`");
    }

    #[test]
    fn a_fail_line_fails_at_once_with_the_line_as_reason() {
        let console = "rng_client: FAIL: the bytes are (nearly) constant\nblk_client: PASS\n";
        assert_eq!(
            watch(REFERENCE, console),
            State::Failed("rng_client: FAIL: the bytes are (nearly) constant".into())
        );
    }

    #[test]
    fn an_unexpected_pass_or_a_pass_twice_fails() {
        let fault = Expect { pass: &["net_client"], lines: &[], faults: &[] };
        assert_eq!(
            watch(fault, "blk_client: PASS\n"),
            State::Failed("blk_client passed, but this system expects no PASS from it".into())
        );
        assert_eq!(
            watch(fault, "net_client: PASS\nnet_client: PASS\n"),
            State::Failed("net_client passed twice".into())
        );
    }

    #[test]
    fn faults_fail_unless_expected() {
        let line = "bus: driver 0 faulted (seL4 fault label 6)";
        let plain = Expect { pass: &[], lines: &[], faults: &[] };
        assert_eq!(watch(plain, line), State::Failed(format!("fault: {line}")));
        let fault = Expect { pass: &[], lines: &["bus: driver 0 faulted"], faults: &["bus: driver 0 faulted"] };
        assert_eq!(watch(fault, line), State::Complete);
        // Another fault in the same system is still one too many.
        assert_eq!(
            watch(fault, "Caught cap fault in send phase"),
            State::Failed("fault: Caught cap fault in send phase".into())
        );
    }

    #[test]
    fn only_named_verdicts_count() {
        // A bare verdict (no PD name, or run into another line) is no
        // verdict: it neither passes a client nor fails the system.
        let console = "bus: blk0 <- virtio-blk\nPASS\nblk: device ready\nrng_client: reqPASS\nrng_client: PASS\n";
        assert_eq!(watch(REFERENCE, console), State::Running);
        let fault = Expect { pass: &["net_client"], lines: &[], faults: &[] };
        assert_eq!(watch(fault, "PASS\nFAIL: the data region is too small\n"), State::Running);
        assert_eq!(watch(fault, "net_client: PASS\n"), State::Complete);
    }

    #[test]
    fn nothing_after_a_failure_changes_it() {
        let console = "blk_client: FAIL: read back differs\nbus: blk0 <-\nblk: device ready\nrng_client: PASS\n";
        assert_eq!(watch(REFERENCE, console), State::Failed("blk_client: FAIL: read back differs".into()));
    }
}
