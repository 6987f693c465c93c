//! The rpmsg client PD's logic: it creates the endpoint `echo-client`,
//! waits for the remote to announce `rpmsg-echo`, then either checks the
//! echo ([`Mode::Check`]: a small message, exactly 496 bytes, a 497-byte
//! one that must be refused, a burst of [`BURST`] messages, more than a
//! virtqueue holds, each back byte for byte and in order) or measures it
//! ([`Mode::Bench`]: round trips one at a time; `BENCH` lines).
//!
//! The driver is untrusted: an event that does not decode, an echo that
//! differs from what was sent, or one from the wrong address fails the
//! run.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod pd;

#[cfg(test)]
mod tests;

use sevio_queue::rpmsg::{ClientPort, DATA_SIZE, EndpointName, Event, Payload, Refusal, Request};
use sevio_runtime::debug_println;

/// Our endpoint's name.
pub const LOCAL_NAME: &[u8] = b"echo-client";
/// The remote endpoint we wait for.
pub const ECHO_NAME: &[u8] = b"rpmsg-echo";
/// Messages in the burst (more than the 64 a virtqueue holds).
pub const BURST: u32 = 100;
/// Bytes of each burst message.
pub const BURST_LEN: usize = 64;

/// What the client does once the echo endpoint is known.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The checks.
    Check,
    /// `rounds` round trips of 32 bytes, one at a time, measured.
    Bench {
        /// Round trips.
        rounds: u32,
    },
}

/// The byte `k` of message `seq`.
pub fn pattern(seq: u32, k: usize) -> u8 {
    (seq.wrapping_mul(31) as usize + k * 7 + k / 256) as u8
}

fn message(seq: u32, len: usize) -> Payload {
    let mut bytes = [0u8; DATA_SIZE + 1];
    for (k, b) in bytes.iter_mut().enumerate().take(len) {
        *b = pattern(seq, k);
    }
    Payload::new(&bytes[..len])
}

/// One step of the check, by the messages it sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Phase {
    /// Sequence numbers `first..first + count`, each `len` bytes.
    first: u32,
    count: u32,
    len: usize,
    /// The driver must refuse them as too large.
    refused: bool,
}

const PHASES: [Phase; 4] = [
    Phase { first: 0, count: 1, len: 12, refused: false },
    Phase { first: 1, count: 1, len: DATA_SIZE, refused: false },
    Phase { first: 2, count: 1, len: DATA_SIZE + 1, refused: true },
    Phase { first: 3, count: BURST, len: BURST_LEN, refused: false },
];

/// Where the client is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for our endpoint and the remote's announcement.
    Meeting,
    /// Running phase `phase`: `sent` and `answered` of its messages.
    Running {
        /// Index into the phases (bench: always 0).
        phase: usize,
        /// Messages sent.
        sent: u32,
        /// Messages answered.
        answered: u32,
    },
    /// Passed.
    Passed,
    /// Failed.
    Failed,
}

/// The client.
pub struct RpmsgClient {
    port: ClientPort,
    mode: Mode,
    local: Option<u32>,
    echo: Option<u32>,
    /// Where it is.
    pub state: State,
    notify: bool,
    bench_start: Option<(u64, Option<(u64, u64)>)>,
}

/// What a step ended with, for the PD to report.
pub type Outcome = Result<(), &'static str>;

impl RpmsgClient {
    /// A client on `port`.
    pub fn new(port: ClientPort, mode: Mode) -> Self {
        RpmsgClient { port, mode, local: None, echo: None, state: State::Meeting, notify: false, bench_start: None }
    }

    /// Ask for our endpoint.
    pub fn start(&mut self) -> Outcome {
        let name = EndpointName::new(LOCAL_NAME).ok_or("bad local name")?;
        self.post(Request::Create { name })
    }

    /// Whether the driver is to be notified.
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    fn post(&mut self, request: Request) -> Outcome {
        self.port.post(&request).map_err(|_| "the request ring is unusable")?;
        self.notify = true;
        Ok(())
    }

    fn phase(&self, i: usize) -> Option<Phase> {
        match self.mode {
            Mode::Check => PHASES.get(i).copied(),
            Mode::Bench { rounds } => (i == 0).then_some(Phase { first: 0, count: rounds, len: 32, refused: false }),
        }
    }

    /// The driver notified: take every event.
    pub fn notified(&mut self) -> Outcome {
        loop {
            let event = match self.port.next_event() {
                Ok(Some(Ok(e))) => e,
                Ok(Some(Err(kind))) => {
                    debug_println!("an event that does not decode: kind {kind}");
                    return self.fail("bad event from the driver");
                }
                Ok(None) => break,
                Err(_) => return self.fail("the event ring is unusable"),
            };
            self.event(event)?;
            // Room in the event ring: the driver may be holding messages
            // for it (it harvests the device only while there is room).
            self.notify = true;
        }
        self.send_more()
    }

    fn fail(&mut self, why: &'static str) -> Outcome {
        self.state = State::Failed;
        Err(why)
    }

    fn event(&mut self, event: Event) -> Outcome {
        match (event, self.state) {
            (Event::Created { local, name }, State::Meeting) => {
                debug_println!("endpoint {} at {local}", name.as_str());
                self.local = Some(local);
            }
            (Event::Announced { remote, name, created: true }, State::Meeting) if name.as_bytes() == ECHO_NAME => {
                debug_println!("remote endpoint {} at {remote}", name.as_str());
                self.echo = Some(remote);
            }
            (Event::Announced { remote, name, created }, _) => {
                debug_println!("announcement of {} at {remote} (created: {created})", name.as_str());
            }
            (Event::Received { local, remote, payload }, State::Running { phase, sent, answered }) => {
                let p = self.phase(phase).ok_or("no phase")?;
                let seq = p.first + answered;
                let ok = Some(local) == self.local
                    && Some(remote) == self.echo
                    && answered < sent
                    && payload.bytes() == message(seq, p.len).bytes();
                if !ok {
                    debug_println!("echo {seq} is not what was sent ({} bytes)", payload.len());
                    return self.fail("an echo differs from what was sent");
                }
                self.answered(phase, sent, answered + 1);
            }
            (Event::Refused { len, why: Refusal::TooLarge, .. }, State::Running { phase, sent, answered })
                if self.phase(phase).is_some_and(|p| p.refused) =>
            {
                debug_println!("a {len}-byte message refused as too large");
                self.answered(phase, sent, answered + 1);
            }
            (other, _) => {
                debug_println!("unexpected {other:?}");
                return self.fail("unexpected event");
            }
        }
        if self.state == State::Meeting && self.local.is_some() && self.echo.is_some() {
            self.state = State::Running { phase: 0, sent: 0, answered: 0 };
            self.bench_start = Some((sevio_runtime::time::now_ns(), sevio_runtime::stats::system_counters()));
        }
        Ok(())
    }

    fn answered(&mut self, phase: usize, sent: u32, answered: u32) {
        let Some(p) = self.phase(phase) else { return };
        if answered < p.count {
            self.state = State::Running { phase, sent, answered };
            return;
        }
        match self.mode {
            Mode::Check if p.count > 1 => debug_println!("burst of {} echoed in order", p.count),
            Mode::Check if !p.refused => debug_println!("{}-byte echo ok", p.len),
            Mode::Check => {}
            Mode::Bench { rounds } => self.report_bench(rounds),
        }
        self.state = if self.phase(phase + 1).is_some() {
            State::Running { phase: phase + 1, sent: 0, answered: 0 }
        } else {
            State::Passed
        };
    }

    fn report_bench(&self, rounds: u32) {
        let Some((t0, c0)) = self.bench_start else { return };
        let ns = sevio_runtime::time::now_ns().saturating_sub(t0).max(1);
        let per_s = u64::from(rounds) * 1_000_000_000 / ns;
        debug_println!("BENCH rpmsg_round_trips_per_s {per_s} /s");
        if let (Some((n0, _)), Some((n1, _))) = (c0, sevio_runtime::stats::system_counters()) {
            let hundredths = (n1 - n0) * 100 / u64::from(rounds.max(1));
            debug_println!("BENCH rpmsg_notifications_per_message {}.{:02} count", hundredths / 100, hundredths % 100);
        }
    }

    /// Send what the phase allows: the burst as fast as the request ring
    /// takes it, everything else (and the bench) one at a time.
    fn send_more(&mut self) -> Outcome {
        let (Some(local), Some(remote)) = (self.local, self.echo) else { return Ok(()) };
        while let State::Running { phase, sent, answered } = self.state {
            let Some(p) = self.phase(phase) else { break };
            let window = if p.count > 1 && self.mode == Mode::Check { p.count } else { 1 };
            if sent >= p.count || sent - answered >= window || self.port.requests.free().unwrap_or(0) == 0 {
                break;
            }
            self.post(Request::Send { local, remote, payload: message(p.first + sent, p.len) })?;
            self.state = State::Running { phase, sent: sent + 1, answered };
        }
        Ok(())
    }
}
