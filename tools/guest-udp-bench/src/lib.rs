//! The Linux guest's half of `make bench-qemu`'s net workloads: what
//! net-bench and net-bench-rr do on seL4 (`pds/clients/net`), over a
//! Linux UDP socket connected to the same echo peer, printing the same
//! `BENCH` lines with the same arithmetic (net-bench's own `bench`
//! module, compiled in here).
//!
//! A [`Workload`] floods the peer's UDP echo port with `size`-byte
//! datagrams, `depth` in flight, each echo checked (its sequence number
//! and every byte): [`COUNT_PHASE`] echoes, then as many as come back in
//! [`TIMED_PHASE_NS`], the datagrams still in flight then awaited. A
//! datagram unanswered for [`RETRANSMIT_AFTER_NS`] is sent again (as
//! net-bench does); [`MAX_TRIES`] resends in a row without an answer end
//! the run as a failure. The socket and the clock come from a [`Net`]
//! (Linux system calls in `main.rs`, a fake in the tests).
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

/// net-bench's measurement and `BENCH` lines, the same source file.
#[path = "../../../pds/clients/net/src/bench.rs"]
pub mod bench;

use bench::{Bench, Platform};

/// Echoes of the fixed-count phase (net-bench's `COUNT_PHASE`).
pub const COUNT_PHASE: u64 = 1000;
/// Length of the timed phase (net-bench's `TIMED_PHASE_NS`).
pub const TIMED_PHASE_NS: u64 = 2_000_000_000;
/// How long an unanswered datagram waits before it is sent again.
pub const RETRANSMIT_AFTER_NS: u64 = 250_000_000;
/// Resends in a row without an answer before the run fails.
pub const MAX_TRIES: u32 = 8;
/// The most datagrams in flight (one bit each in the window).
pub const MAX_DEPTH: u32 = 64;
/// The largest datagram: one 1500-byte IPv4 packet.
pub const MAX_SIZE: usize = 1472;
/// Bytes of the sequence number at the start of every datagram.
const SEQ_BYTES: usize = 4;

/// One of the two net workloads, as net-bench's modes define them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Datagrams in flight.
    pub depth: u32,
    /// Payload bytes per datagram.
    pub size: usize,
    /// BENCH name tags of the two phases (`None`: untagged).
    pub tags: (Option<&'static str>, &'static str),
}

/// net-bench: a stream of 1024-byte datagrams, 32 in flight, echoed.
pub const STREAM: Workload = Workload { depth: 32, size: 1024, tags: (None, "timed") };
/// net-bench-rr: request/response, one 64-byte datagram at a time.
pub const RR: Workload = Workload { depth: 1, size: 64, tags: (Some("rr"), "rr_timed") };

impl Workload {
    /// The workload named on the command line (`stream` or `rr`).
    pub fn named(name: &str) -> Option<Workload> {
        match name {
            "stream" => Some(STREAM),
            "rr" => Some(RR),
            _ => None,
        }
    }
}

/// What the run needs of the system: a connected UDP socket and a clock.
pub trait Net: Platform {
    /// Send one datagram; false if it could not be sent.
    fn send(&mut self, datagram: &[u8]) -> bool;
    /// Receive one datagram into `buf`, waiting until `deadline_ns` at
    /// most: its length, or `None` when nothing came.
    fn recv(&mut self, buf: &mut [u8], deadline_ns: u64) -> Option<usize>;
}

/// Byte `i` of datagram `seq` (bytes 0..4 are `seq` itself).
pub fn datagram_byte(seq: u32, i: usize) -> u8 {
    match i {
        0..SEQ_BYTES => seq.to_be_bytes()[i],
        _ => (seq.wrapping_mul(31) as usize).wrapping_add(i) as u8,
    }
}

fn fill(seq: u32, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = datagram_byte(seq, i);
    }
}

/// Which datagrams are in flight: `base..sent`, bit `seq - base` set while
/// unanswered.
#[derive(Default)]
struct Window {
    base: u32,
    sent: u32,
    outstanding: u64,
}

impl Window {
    /// `seq` came back: true if it was in flight (now answered).
    fn answer(&mut self, seq: u32) -> bool {
        let Some(bit) = seq.checked_sub(self.base).filter(|&b| seq < self.sent && b < MAX_DEPTH) else {
            return false;
        };
        if self.outstanding & (1 << bit) == 0 {
            return false;
        }
        self.outstanding &= !(1 << bit);
        let gap = self.outstanding.trailing_zeros().min(self.sent - self.base);
        self.base += gap;
        self.outstanding = self.outstanding.checked_shr(gap).unwrap_or(0);
        true
    }

    fn in_flight(&self) -> u32 {
        self.sent - self.base
    }
}

/// Run `w` against the peer; prints the BENCH lines of both phases and
/// returns true if every datagram came back unchanged.
pub fn run(net: &mut dyn Net, w: Workload) -> bool {
    let depth = w.depth.clamp(1, MAX_DEPTH);
    let size = w.size.clamp(SEQ_BYTES, MAX_SIZE);
    let mut count = match w.tags.0 {
        Some(tag) => Bench::tagged(tag),
        None => Bench::default(),
    };
    let mut timed = Bench::tagged(w.tags.1);
    let mut window = Window::default();
    let (mut out, mut buf) = ([0u8; MAX_SIZE], [0u8; MAX_SIZE + 1]);
    let (mut bad, mut tries) = (0u32, 0u32);
    let mut timed_until: Option<u64> = None;
    let mut sending = true;
    count.start(net);
    loop {
        while sending && window.in_flight() < depth {
            fill(window.sent, &mut out[..size]);
            if !net.send(&out[..size]) {
                net.print(format_args!("FAIL: cannot send datagram {}", window.sent));
                return false;
            }
            window.outstanding |= 1 << window.in_flight();
            window.sent += 1;
        }
        if let Some(end) = timed_until
            && sending
            && net.now_ns() >= end
        {
            sending = false;
        }
        if !sending && window.in_flight() == 0 {
            break;
        }
        let deadline = net.now_ns() + RETRANSMIT_AFTER_NS;
        let Some(len) = net.recv(&mut buf, deadline) else {
            tries += 1;
            if tries > MAX_TRIES {
                net.print(format_args!("FAIL: no echo after {MAX_TRIES} resends: giving up"));
                return false;
            }
            net.print(format_args!("no echo: sending again (try {tries})"));
            resend(net, &window, &mut out[..size]);
            continue;
        };
        let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let intact = len == size && buf[..len].iter().enumerate().all(|(i, &b)| b == datagram_byte(seq, i));
        if !intact {
            bad += 1;
            continue;
        }
        if !window.answer(seq) {
            // An echo of a resent datagram answered already: a duplicate.
            continue;
        }
        tries = 0;
        match timed_until {
            None => {
                count.echoed(net, size);
                if count.frames() == COUNT_PHASE {
                    count.report(net, bad);
                    timed.start(net);
                    timed_until = Some(net.now_ns() + TIMED_PHASE_NS);
                }
            }
            Some(_) => timed.echoed(net, size),
        }
    }
    let ok = timed.report(net, bad);
    if ok && count.frames() >= COUNT_PHASE {
        net.print(format_args!("PASS"));
        true
    } else {
        net.print(format_args!("FAIL: wrong or missing echoes"));
        false
    }
}

fn resend(net: &mut dyn Net, window: &Window, out: &mut [u8]) {
    for bit in 0..window.in_flight() {
        if window.outstanding & (1 << bit) != 0 {
            fill(window.base + bit, out);
            net.send(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt;
    use std::collections::VecDeque;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// An echo peer 10 us away, which may lose or corrupt datagrams.
    struct FakePeer {
        now: u64,
        queue: VecDeque<Vec<u8>>,
        lines: Vec<String>,
        sent: u64,
        /// Lose the datagram with this sequence number, once.
        lose: Option<u32>,
        /// Flip a byte of the echo of this one, once.
        corrupt: Option<u32>,
        /// Answer nothing at all.
        silent: bool,
    }

    impl FakePeer {
        fn new() -> FakePeer {
            FakePeer {
                now: 0,
                queue: VecDeque::new(),
                lines: Vec::new(),
                sent: 0,
                lose: None,
                corrupt: None,
                silent: false,
            }
        }
        fn has(&self, prefix: &str) -> Option<&String> {
            self.lines.iter().find(|l| l.starts_with(prefix))
        }
    }

    impl Platform for FakePeer {
        fn now_ns(&mut self) -> u64 {
            self.now
        }
        fn counters(&mut self) -> Option<(u64, u64)> {
            None
        }
        fn print(&mut self, line: fmt::Arguments<'_>) {
            self.lines.push(line.to_string());
        }
    }

    impl Net for FakePeer {
        fn send(&mut self, d: &[u8]) -> bool {
            self.sent += 1;
            let seq = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            if self.silent || self.lose.take_if(|&mut l| l == seq).is_some() {
                return true;
            }
            let mut echo = d.to_vec();
            if self.corrupt.take_if(|&mut c| c == seq).is_some() {
                echo[7] ^= 1;
            }
            self.queue.push_back(echo);
            true
        }
        fn recv(&mut self, buf: &mut [u8], deadline_ns: u64) -> Option<usize> {
            match self.queue.pop_front() {
                Some(d) => {
                    self.now += 10_000;
                    buf[..d.len()].copy_from_slice(&d);
                    Some(d.len())
                }
                None => {
                    self.now = deadline_ns;
                    None
                }
            }
        }
    }

    #[test]
    fn rr_prints_net_bench_rr_names_and_passes() {
        let mut p = FakePeer::new();
        assert!(run(&mut p, RR));
        // One round trip per 10 us: 100000 per second, 64 bytes each.
        assert_eq!(p.has("BENCH net_rr_udp_echo_fps").unwrap(), "BENCH net_rr_udp_echo_fps 100000.000 frames/s");
        assert_eq!(
            p.has("BENCH net_rr_timed_udp_echo_fps").unwrap(),
            "BENCH net_rr_timed_udp_echo_fps 100000.000 frames/s"
        );
        assert_eq!(p.has("BENCH net_rr_timed_udp_echo_mbps").unwrap(), "BENCH net_rr_timed_udp_echo_mbps 6.400 MB/s");
        assert_eq!(p.lines.last().unwrap(), "PASS");
        // The count phase's 1000, 2 s at 10 us each, and the one in flight
        // when the time was up: nothing resent.
        assert_eq!(p.sent, 1000 + 200_000 + 1);
    }

    #[test]
    fn stream_keeps_its_depth_in_flight_and_prints_net_bench_names() {
        let mut p = FakePeer::new();
        assert!(run(&mut p, STREAM));
        assert!(p.has("BENCH net_udp_echo_fps").is_some(), "{:?}", p.lines);
        assert_eq!(p.has("BENCH net_timed_udp_echo_mbps").unwrap(), "BENCH net_timed_udp_echo_mbps 102.400 MB/s");
        // The 32 datagrams in flight at the end of the timed phase are
        // awaited (and counted), nothing more is sent.
        assert_eq!(p.sent, 1000 + 200_000 + 32);
    }

    #[test]
    fn a_lost_datagram_is_resent_and_the_run_still_passes() {
        let mut p = FakePeer::new();
        p.lose = Some(500);
        assert!(run(&mut p, STREAM));
        assert!(p.has("no echo: sending again (try 1)").is_some(), "{:?}", p.lines);
    }

    #[test]
    fn a_wrong_echo_fails_the_run() {
        let mut p = FakePeer::new();
        // Datagram 3's echo comes back changed: not counted, resent when
        // nothing else comes, answered intact, and the run fails.
        p.corrupt = Some(3);
        assert!(!run(&mut p, RR));
        assert!(p.has("no echo: sending again (try 1)").is_some(), "{:?}", p.lines);
        assert!(p.lines.iter().any(|l| l.ends_with(", 1 wrong")), "{:?}", p.lines);
        assert_eq!(p.lines.last().unwrap(), "FAIL: wrong or missing echoes");
    }

    #[test]
    fn a_silent_peer_is_given_up_on() {
        let mut p = FakePeer::new();
        p.silent = true;
        assert!(!run(&mut p, RR));
        assert_eq!(p.lines.last().unwrap(), "FAIL: no echo after 8 resends: giving up");
        assert_eq!(p.sent, 1 + 8);
    }

    #[test]
    fn the_window_takes_each_answer_once_and_slides() {
        let mut w = Window { base: 10, sent: 13, outstanding: 0b111 };
        assert!(w.answer(11));
        assert!(!w.answer(11), "twice");
        assert_eq!(w.base, 10);
        assert!(w.answer(10));
        assert_eq!((w.base, w.outstanding), (12, 0b1));
        assert!(!w.answer(13) && !w.answer(9), "outside the window");
        assert!(w.answer(12));
        assert_eq!((w.base, w.in_flight()), (13, 0));
        assert_eq!(Workload::named("rr"), Some(RR));
        assert_eq!(Workload::named("tcp"), None);
    }
}
