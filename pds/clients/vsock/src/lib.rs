//! The vsock client PD's logic, two roles over one driver:
//!
//! - an **echo server** ([`ECHO_PORT`]): every connection a host program
//!   makes gets its bytes back, in order; when the peer shuts down its
//!   sending side the server closes the connection after the last echo;
//! - a **connector** ([`Mode::Check`]): connects out to the host's
//!   [`HOST_PORT`], sends [`CHECK_BYTES`] of a pattern (several times the
//!   credit either side offers, so flow control must work both ways), and
//!   checks that the host echoes every byte back in order, then closes.
//!
//! The connector runs first; the echo server listens once it is done
//! (the two share the client's one event ring: see `notified`). The
//! check passes once the echo server has served a connection to its end. In [`Mode::Bench`] the connector
//! measures instead: round trips of [`ROUND_TRIP_BYTES`] one at a time,
//! then a stream of `stream_bytes` echoed by the host (`BENCH` lines).
//!
//! The driver is untrusted: an event that does not decode, bytes that
//! differ from what was sent, or an event for a socket the client does
//! not hold fails the run.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod pd;

#[cfg(feature = "host")]
pub mod host;

use sevio_queue::vsock::{
    ClientPort, CloseReason, DATA_SIZE, Endpoints, Event, Payload, Request, SHUT_BOTH, SHUT_SEND,
};
use sevio_runtime::debug_println;

/// The port the echo server listens on.
pub const ECHO_PORT: u32 = 1234;
/// The host port the connector connects to (`CONNECT` target of a
/// vhost-device-vsock host listener at `<uds>_4321`).
pub const HOST_PORT: u32 = 4321;
/// The host's context id.
pub const HOST_CID: u64 = 2;
/// Bytes the connector sends and expects back in the check.
pub const CHECK_BYTES: u32 = 300 * 1000;
/// Bytes of each benchmark round trip.
pub const ROUND_TRIP_BYTES: usize = 64;
/// Echo-server connections at once.
const ECHO_CONNECTIONS: usize = 4;

/// The byte at stream offset `k` (not periodic in 256, so a lost or
/// repeated chunk shows).
pub fn pattern(k: u32) -> u8 {
    (k.wrapping_mul(7) ^ (k >> 8).wrapping_mul(13) ^ (k >> 16)) as u8
}

/// What the connector does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Send [`CHECK_BYTES`] and check the echo.
    Check,
    /// `rounds` round trips, then `stream_bytes` streamed, measured.
    Bench {
        /// Round trips of [`ROUND_TRIP_BYTES`].
        rounds: u32,
        /// Bytes of the stream.
        stream_bytes: u32,
    },
}

/// Where the connector is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connect asked.
    Connecting,
    /// Round trips (bench): `done` of them, `back` bytes of the current
    /// one returned.
    RoundTrips {
        /// Completed.
        done: u32,
        /// Bytes of the current one back.
        back: u32,
    },
    /// Streaming: bytes sent and bytes back.
    Streaming {
        /// Sent.
        sent: u32,
        /// Echoed back and checked.
        back: u32,
    },
    /// Closing after the last byte came back.
    Closing,
    /// Closed in order.
    Done,
}

/// One echo-server connection.
#[derive(Copy, Clone, Debug)]
struct EchoConnection {
    ends: Endpoints,
    echoed: u64,
    /// We asked to close.
    closing: bool,
}

/// What a step ended with, for the PD to report.
pub type Outcome = Result<(), &'static str>;

/// The client.
pub struct VsockClient {
    port: ClientPort,
    mode: Mode,
    echo: [Option<EchoConnection>; ECHO_CONNECTIONS],
    listening: bool,
    /// Echo-server connections closed in order.
    pub served: u32,
    out: Option<Endpoints>,
    /// The connector's phase.
    pub phase: Phase,
    bench_start: u64,
    rt_sent: bool,
    notify: bool,
    /// Passed or failed, once decided.
    pub verdict: Option<Outcome>,
}

impl VsockClient {
    /// A client on `port`.
    pub fn new(port: ClientPort, mode: Mode) -> Self {
        VsockClient {
            port,
            mode,
            echo: [None; ECHO_CONNECTIONS],
            listening: false,
            served: 0,
            out: None,
            phase: Phase::Connecting,
            bench_start: 0,
            rt_sent: false,
            notify: false,
            verdict: None,
        }
    }

    /// Connect out; the echo server listens once the connector is done.
    pub fn start(&mut self) -> Outcome {
        self.post(Request::Connect { cid: HOST_CID, port: HOST_PORT })
    }

    /// Whether the driver is to be notified.
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    fn post(&mut self, request: Request) -> Outcome {
        self.port.post(&request).map_err(|_| "the request ring is full or unusable")?;
        self.notify = true;
        Ok(())
    }

    fn room(&mut self) -> u32 {
        self.port.requests.free().unwrap_or(0)
    }

    fn fail(&mut self, why: &'static str) -> Outcome {
        self.verdict = Some(Err(why));
        Err(why)
    }

    /// The driver notified: take events while there is room to answer
    /// them (an echo needs a request slot; without one the events wait,
    /// and with them the driver's credit to the peer), then send more.
    pub fn notified(&mut self) -> Outcome {
        loop {
            // The echo server answers data with a send: without a request
            // slot it takes no more events (and the driver's credit to
            // its peer waits with them). The connector never waits.
            if self.listening && self.room() < 2 {
                break;
            }
            let event = match self.port.next_event() {
                Ok(Some(Ok(e))) => e,
                Ok(Some(Err(kind))) => {
                    debug_println!("an event that does not decode: kind {kind}");
                    return self.fail("bad event from the driver");
                }
                Ok(None) => break,
                Err(_) => return self.fail("the event ring is unusable"),
            };
            // The driver counts what we consumed: let it look.
            self.notify = true;
            self.event(event)?;
        }
        self.send_more()?;
        self.settle();
        Ok(())
    }

    fn settle(&mut self) {
        if self.verdict.is_some() {
            return;
        }
        let echo_done = match self.mode {
            Mode::Check => self.served >= 1,
            Mode::Bench { .. } => true,
        };
        if self.phase == Phase::Done && echo_done {
            self.verdict = Some(Ok(()));
        }
    }

    fn echo_slot(&self, socket: u32) -> Option<usize> {
        self.echo.iter().position(|c| c.is_some_and(|c| c.ends.socket == socket))
    }

    fn event(&mut self, event: Event) -> Outcome {
        match event {
            Event::Listening { port } => {
                debug_println!("echo server listening on port {port}");
                self.listening = true;
            }
            Event::Accepted(ends) => {
                let Some(slot) = self.echo.iter().position(Option::is_none) else {
                    debug_println!("no room for a connection from {}:{}: reset", ends.peer_cid, ends.peer_port);
                    return self.post(Request::Reset { socket: ends.socket });
                };
                debug_println!(
                    "echo: connection from {}:{} to port {}",
                    ends.peer_cid,
                    ends.peer_port,
                    ends.local_port
                );
                self.echo[slot] = Some(EchoConnection { ends, echoed: 0, closing: false });
            }
            Event::Connected(ends) if self.phase == Phase::Connecting && ends.peer_port == HOST_PORT => {
                debug_println!("connected to {}:{} from port {}", ends.peer_cid, ends.peer_port, ends.local_port);
                self.out = Some(ends);
                self.bench_start = sevio_runtime::time::now_ns();
                self.phase = match self.mode {
                    Mode::Check => Phase::Streaming { sent: 0, back: 0 },
                    Mode::Bench { .. } => Phase::RoundTrips { done: 0, back: 0 },
                };
            }
            Event::Received { socket, payload } => {
                let bytes = payload.bytes().ok_or("a payload past its entry")?;
                if let Some(slot) = self.echo_slot(socket) {
                    return self.echo_back(slot, bytes);
                }
                if self.out.is_some_and(|o| o.socket == socket) {
                    return self.back(bytes);
                }
                debug_println!("bytes for socket {socket:#x}, which we do not hold");
                return self.fail("data for an unknown socket");
            }
            Event::PeerShutdown { socket, flags } => {
                // A peer that shut down both ways is closed by the driver
                // (a Closed event follows); one that only stopped sending
                // gets our shutdown after the last echo.
                if let Some(slot) = self.echo_slot(socket)
                    && flags == SHUT_SEND
                    && let Some(c) = &mut self.echo[slot]
                    && !c.closing
                {
                    // Every echo is ahead of this in the request ring.
                    c.closing = true;
                    return self.post(Request::Shutdown { socket, flags: SHUT_BOTH });
                }
            }
            Event::Closed { ends, why } => return self.closed(ends, why),
            Event::Refused { socket, port, request, why } => {
                debug_println!("request {request} (socket {socket:#x}, port {port}) refused: {why:?}");
                return self.fail("a request was refused");
            }
            other => {
                debug_println!("unexpected {other:?}");
                return self.fail("unexpected event");
            }
        }
        Ok(())
    }

    fn echo_back(&mut self, slot: usize, bytes: &[u8]) -> Outcome {
        let Some(c) = &mut self.echo[slot] else { return Ok(()) };
        c.echoed += bytes.len() as u64;
        let socket = c.ends.socket;
        self.post(Request::Send { socket, payload: Payload::new(bytes) })
    }

    fn closed(&mut self, ends: Endpoints, why: CloseReason) -> Outcome {
        if let Some(slot) = self.echo_slot(ends.socket) {
            let c = self.echo[slot].take().ok_or("no connection")?;
            debug_println!(
                "echo: connection from {}:{} closed ({why:?}) after {} bytes echoed",
                ends.peer_cid,
                ends.peer_port,
                c.echoed
            );
            if matches!(why, CloseReason::Closed | CloseReason::Reset) {
                self.served += 1;
                return Ok(());
            }
            return self.fail("an echo connection broke");
        }
        if self.out.is_some_and(|o| o.socket == ends.socket) || self.phase == Phase::Connecting {
            return match (self.phase, why) {
                (Phase::Closing, CloseReason::Closed | CloseReason::Reset) => {
                    debug_println!("connection to {}:{} closed", ends.peer_cid, ends.peer_port);
                    self.phase = Phase::Done;
                    // One role at a time: both share one event ring, and
                    // an echo server that waits for request slots would
                    // hold up the connector's echo behind it.
                    if self.mode == Mode::Check {
                        self.post(Request::Listen { port: ECHO_PORT })?;
                    }
                    Ok(())
                }
                _ => {
                    debug_println!(
                        "connection to {}:{} ended: {why:?} in {:?}",
                        ends.peer_cid,
                        ends.peer_port,
                        self.phase
                    );
                    self.fail("the outgoing connection ended early")
                }
            };
        }
        Ok(())
    }

    /// Bytes back on the outgoing connection.
    fn back(&mut self, bytes: &[u8]) -> Outcome {
        match self.phase {
            Phase::RoundTrips { done, back } => {
                // A round trip's bytes may come back in pieces.
                let ok = back as usize + bytes.len() <= ROUND_TRIP_BYTES
                    && bytes.iter().enumerate().all(|(k, b)| *b == pattern(done + back + k as u32));
                if !ok {
                    return self.fail("a round trip came back wrong");
                }
                let back = back + bytes.len() as u32;
                if back < ROUND_TRIP_BYTES as u32 {
                    self.phase = Phase::RoundTrips { done, back };
                    return Ok(());
                }
                self.rt_sent = false;
                let done = done + 1;
                let Mode::Bench { rounds, .. } = self.mode else { return Ok(()) };
                if done < rounds {
                    self.phase = Phase::RoundTrips { done, back: 0 };
                } else {
                    let ns = (sevio_runtime::time::now_ns() - self.bench_start).max(1);
                    debug_println!("BENCH vsock_round_trips_per_s {} /s", u64::from(rounds) * 1_000_000_000 / ns);
                    self.bench_start = sevio_runtime::time::now_ns();
                    self.phase = Phase::Streaming { sent: 0, back: 0 };
                }
            }
            Phase::Streaming { sent, back } => {
                for (k, b) in bytes.iter().enumerate() {
                    if *b != pattern(back + k as u32) {
                        debug_println!("byte {} came back as {b}, not {}", back + k as u32, pattern(back + k as u32));
                        return self.fail("the echo differs from what was sent");
                    }
                }
                let back = back + bytes.len() as u32;
                if back > sent {
                    return self.fail("more came back than was sent");
                }
                self.phase = Phase::Streaming { sent, back };
                if back == self.stream_bytes() {
                    self.stream_done()?;
                }
            }
            _ => return self.fail("bytes outside a phase that expects them"),
        }
        Ok(())
    }

    fn stream_bytes(&self) -> u32 {
        match self.mode {
            Mode::Check => CHECK_BYTES,
            Mode::Bench { stream_bytes, .. } => stream_bytes,
        }
    }

    fn stream_done(&mut self) -> Outcome {
        let n = self.stream_bytes();
        let ns = (sevio_runtime::time::now_ns() - self.bench_start).max(1);
        match self.mode {
            Mode::Check => debug_println!("{n} bytes to the host and back, in order"),
            Mode::Bench { .. } => {
                // Bytes each way per second, in MB/s with two decimals.
                let centi_mb = u64::from(n) * 100_000 / ns;
                debug_println!("BENCH vsock_stream_mb_per_s {}.{:02} MB/s", centi_mb / 100, centi_mb % 100);
            }
        }
        let socket = self.out.ok_or("no connection")?.socket;
        self.phase = Phase::Closing;
        self.post(Request::Shutdown { socket, flags: SHUT_BOTH })
    }

    /// Send what the phase allows while the request ring has room (one
    /// slot kept for answers).
    fn send_more(&mut self) -> Outcome {
        let Some(out) = self.out else { return Ok(()) };
        match self.phase {
            Phase::RoundTrips { done, .. } if !self.rt_sent => {
                if self.room() < 2 {
                    return Ok(());
                }
                let bytes: [u8; ROUND_TRIP_BYTES] = core::array::from_fn(|k| pattern(done + k as u32));
                self.rt_sent = true;
                self.post(Request::Send { socket: out.socket, payload: Payload::new(&bytes) })
            }
            Phase::Streaming { mut sent, back } => {
                let total = self.stream_bytes();
                let mut chunk = [0u8; DATA_SIZE];
                while sent < total && self.room() >= 2 {
                    let n = (total - sent).min(DATA_SIZE as u32);
                    for (k, b) in chunk[..n as usize].iter_mut().enumerate() {
                        *b = pattern(sent + k as u32);
                    }
                    self.post(Request::Send { socket: out.socket, payload: Payload::new(&chunk[..n as usize]) })?;
                    sent += n;
                    self.phase = Phase::Streaming { sent, back };
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_does_not_repeat_every_256_bytes() {
        let a: [u8; 64] = core::array::from_fn(|k| pattern(k as u32));
        let b: [u8; 64] = core::array::from_fn(|k| pattern(256 + k as u32));
        assert_ne!(a, b);
    }
}

#[cfg(test)]
mod role_tests {
    //! The client against a driver played by the test on the other end
    //! of the rings.
    use super::*;
    use sevio_queue::vsock::{CONTROL_SIZE, DriverPort, SHUT_BOTH};
    use sevio_sharedmem::HeapRegion;

    extern crate std;
    use std::vec::Vec;

    struct Rig {
        _region: HeapRegion,
        client: VsockClient,
        driver: DriverPort,
    }

    fn rig() -> Rig {
        let region = HeapRegion::new(CONTROL_SIZE);
        let client = VsockClient::new(ClientPort::new(region.memory()).unwrap(), Mode::Check);
        let driver = DriverPort::new(region.memory()).unwrap();
        Rig { _region: region, client, driver }
    }

    impl Rig {
        fn requests(&mut self) -> Vec<Request> {
            let mut out = Vec::new();
            while let Some(e) = self.driver.requests.dequeue().unwrap() {
                out.push(Request::decode(&e).unwrap());
            }
            out
        }
        fn tell(&mut self, events: &[Event]) -> Outcome {
            for e in events {
                self.driver.events.enqueue(e.encode()).unwrap();
            }
            self.client.notified()
        }
    }

    const OUT: Endpoints = Endpoints { socket: 0x101, local_port: 49152, peer_cid: HOST_CID, peer_port: HOST_PORT };
    const IN: Endpoints = Endpoints { socket: 0x202, local_port: ECHO_PORT, peer_cid: HOST_CID, peer_port: 7 };

    /// Connect, stream, and echo back what the client sent; `corrupt`
    /// flips one byte of the echo.
    fn stream(r: &mut Rig, corrupt: Option<usize>) -> Outcome {
        r.client.start().unwrap();
        assert_eq!(r.requests(), [Request::Connect { cid: HOST_CID, port: HOST_PORT }]);
        r.tell(&[Event::Connected(OUT)])?;
        let mut offset = 0usize;
        while r.client.phase != Phase::Closing {
            let sent = r.requests();
            assert!(!sent.is_empty(), "the client keeps sending");
            for req in sent {
                let Request::Send { socket, payload } = req else { panic!("{req:?}") };
                assert_eq!(socket, OUT.socket);
                let mut bytes = payload.bytes().unwrap().to_vec();
                if let Some(at) = corrupt
                    && (offset..offset + bytes.len()).contains(&at)
                {
                    bytes[at - offset] ^= 1;
                }
                offset += bytes.len();
                r.tell(&[Event::Received { socket, payload: Payload::new(&bytes) }])?;
            }
        }
        assert_eq!(offset, CHECK_BYTES as usize);
        Ok(())
    }

    #[test]
    fn the_connector_then_the_echo_server_pass() {
        let mut r = rig();
        stream(&mut r, None).unwrap();
        assert_eq!(r.requests(), [Request::Shutdown { socket: OUT.socket, flags: SHUT_BOTH }]);
        r.tell(&[Event::Closed { ends: OUT, why: CloseReason::Closed }]).unwrap();
        assert_eq!(r.requests(), [Request::Listen { port: ECHO_PORT }], "the echo server only now");
        r.tell(&[Event::Listening { port: ECHO_PORT }, Event::Accepted(IN)]).unwrap();
        r.tell(&[Event::Received { socket: IN.socket, payload: Payload::new(b"abc") }]).unwrap();
        assert_eq!(r.requests(), [Request::Send { socket: IN.socket, payload: Payload::new(b"abc") }]);
        assert_eq!(r.client.verdict, None);
        r.tell(&[Event::PeerShutdown { socket: IN.socket, flags: SHUT_SEND }]).unwrap();
        assert_eq!(r.requests(), [Request::Shutdown { socket: IN.socket, flags: SHUT_BOTH }]);
        r.tell(&[Event::Closed { ends: IN, why: CloseReason::Closed }]).unwrap();
        assert_eq!(r.client.verdict, Some(Ok(())));
    }

    #[test]
    fn a_wrong_byte_in_the_echo_fails() {
        let mut r = rig();
        assert_eq!(stream(&mut r, Some(123_456)), Err("the echo differs from what was sent"));
    }

    #[test]
    fn data_for_a_socket_the_client_does_not_hold_fails() {
        let mut r = rig();
        r.client.start().unwrap();
        let stray = Event::Received { socket: 0x999, payload: Payload::new(b"x") };
        assert_eq!(r.tell(&[stray]), Err("data for an unknown socket"));
    }
}
