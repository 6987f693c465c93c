//! Bench mode: how fast frames go round through a UDP echo.
//!
//! The bench host floods another host's UDP echo port (in
//! `systems/net-bench.xml`: a second net-client behind a second net
//! driver, the two NICs on one QEMU hub) with `depth` datagrams in
//! flight, checking every echo ([`crate::stack::Flood`]). It times from
//! the first datagram sent to the last echo, and reads the system-wide
//! counters ([`Platform::counters`]) at both ends. It prints:
//!
//! - `BENCH net_udp_echo_fps <v> frames/s`: datagrams echoed per second
//!   (each crossed the bench host's driver twice and the echo host's
//!   driver twice);
//! - `BENCH net_udp_echo_mbps <v> MB/s`: UDP payload bytes echoed per
//!   second, one way (MB = 10^6 bytes);
//! - `BENCH net_notifications_per_frame <v> count` and
//!   `BENCH net_irqs_per_frame <v> count`: every notification and
//!   interrupt in the system over the run, per datagram echoed (only
//!   where the platform counts them),
//!
//! and passes if every datagram came back and no echo was wrong.

use core::fmt;

/// Time, counters and output, from the runtime (or a test).
pub trait Platform {
    /// Nanoseconds on a monotonic clock.
    fn now_ns(&mut self) -> u64;
    /// `(notifications, irqs)` system-wide, if counted.
    fn counters(&mut self) -> Option<(u64, u64)>;
    /// Print one line.
    fn print(&mut self, line: fmt::Arguments<'_>);
}

/// `num / den` with three decimals, for printing without floats.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Milli(pub u128);

impl Milli {
    /// `num / den` (0 when `den` is 0).
    pub fn ratio(num: u128, den: u128) -> Milli {
        Milli(num.saturating_mul(1000).checked_div(den).unwrap_or(0))
    }
}

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// The measurement.
#[derive(Debug, Default)]
pub struct Bench {
    /// Inserted into the BENCH names (`net_<tag>_udp_echo_fps`), if set.
    tag: Option<&'static str>,
    start: Option<(u64, Option<(u64, u64)>)>,
    last_ns: u64,
    frames: u64,
    bytes: u64,
}

impl Bench {
    /// A measurement whose BENCH lines are named `net_<tag>_...` (the
    /// untagged one's `net_...`).
    pub fn tagged(tag: &'static str) -> Bench {
        Bench { tag: Some(tag), ..Bench::default() }
    }

    /// The flood starts now.
    pub fn start(&mut self, p: &mut dyn Platform) {
        let now = p.now_ns();
        self.start = Some((now, p.counters()));
        self.last_ns = now;
    }

    /// A datagram of `payload` bytes came back.
    pub fn echoed(&mut self, p: &mut dyn Platform, payload: usize) {
        self.last_ns = p.now_ns();
        self.frames += 1;
        self.bytes += payload as u64;
    }

    /// Datagrams echoed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The flood is over (`bad` wrong echoes): print the results; true if
    /// there was a flood and no echo was wrong.
    pub fn report(&mut self, p: &mut dyn Platform, bad: u32) -> bool {
        let Some((t0, c0)) = self.start else {
            p.print(format_args!("net-bench: no flood was started"));
            return false;
        };
        let ns = u128::from(self.last_ns.saturating_sub(t0));
        let frames = u128::from(self.frames);
        p.print(format_args!(
            "net-bench: {} datagrams echoed ({} payload bytes) in {} ms, {bad} wrong",
            self.frames,
            self.bytes,
            Milli::ratio(ns, 1_000_000)
        ));
        let (tag, sep) = match self.tag {
            Some(tag) => (tag, "_"),
            None => ("", ""),
        };
        p.print(format_args!("BENCH net_{tag}{sep}udp_echo_fps {} frames/s", Milli::ratio(frames * 1_000_000_000, ns)));
        p.print(format_args!(
            "BENCH net_{tag}{sep}udp_echo_mbps {} MB/s",
            Milli::ratio(u128::from(self.bytes) * 1000, ns)
        ));
        if let (Some((n0, i0)), Some((n1, i1))) = (c0, p.counters()) {
            let per = |a: u64, b: u64| Milli::ratio(u128::from(b.saturating_sub(a)), frames);
            p.print(format_args!("BENCH net_{tag}{sep}notifications_per_frame {} count", per(n0, n1)));
            p.print(format_args!("BENCH net_{tag}{sep}irqs_per_frame {} count", per(i0, i1)));
        }
        bad == 0 && self.frames > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    struct Fake {
        now: u64,
        counters: Option<(u64, u64)>,
        lines: Vec<String>,
    }

    impl Platform for Fake {
        fn now_ns(&mut self) -> u64 {
            self.now
        }
        fn counters(&mut self) -> Option<(u64, u64)> {
            self.counters
        }
        fn print(&mut self, line: fmt::Arguments<'_>) {
            self.lines.push(line.to_string());
        }
    }

    #[test]
    fn rates_and_counts_per_frame() {
        let mut p = Fake { now: 1_000, counters: Some((10, 3)), lines: Vec::new() };
        let mut b = Bench::default();
        b.start(&mut p);
        for i in 1..=10 {
            p.now = 1_000 + i * 100_000; // one every 100 us
            b.echoed(&mut p, 1000);
        }
        p.counters = Some((10 + 40, 3 + 20));
        assert!(b.report(&mut p, 0));
        assert_eq!(
            p.lines[1..],
            [
                "BENCH net_udp_echo_fps 10000.000 frames/s",
                "BENCH net_udp_echo_mbps 10.000 MB/s",
                "BENCH net_notifications_per_frame 4.000 count",
                "BENCH net_irqs_per_frame 2.000 count",
            ]
        );
        assert!(!b.report(&mut p, 1), "a wrong echo fails the run");
    }

    #[test]
    fn no_counters_no_counter_lines_and_no_flood_no_pass() {
        let mut p = Fake { now: 5, counters: None, lines: Vec::new() };
        let mut b = Bench::default();
        assert!(!b.report(&mut p, 0));
        b.start(&mut p);
        assert!(!b.report(&mut p, 0), "nothing echoed");
        b.echoed(&mut p, 10);
        assert!(b.report(&mut p, 0));
        assert!(p.lines.iter().all(|l| !l.contains("per_frame")));
        assert!(p.lines.iter().any(|l| l == "BENCH net_udp_echo_fps 0.000 frames/s"), "{:?}", p.lines);
        assert_eq!(Milli::ratio(1, 3).to_string(), "0.333");
    }
}
