//! A minimal host: one MAC, one IPv4 address, no routing beyond "the
//! peer that asked". It answers ARP requests for its address and ICMP
//! echo requests to it, and echoes UDP datagrams sent to its echo port.
//!
//! Its own traffic, if it has a [`Target`]: one ARP request, then either
//! one ping ([`Traffic::Ping`]; [`Event::TargetAnswered`] on the reply)
//! or a UDP flood ([`Traffic::Flood`]: `count` datagrams of `size` bytes
//! to the target's echo port, `depth` in flight, each echo checked;
//! [`Event::FloodDone`] at the end). The caller collects these frames
//! with [`Stack::poll_send`] after [`Stack::handle`] (and once at the
//! start).
//!
//! Everything that is not for this host, or is malformed, or fails a
//! checksum is dropped and counted; nothing is answered twice.
//!
//! Retransmission: the caller keeps a timer and calls
//! [`Stack::retransmit_due`] when it expires. If the target answered
//! anything since the last call, that is progress and nothing is resent;
//! otherwise the ARP request, the ping, or every flood datagram still in
//! flight is sent again (by the next [`Stack::poll_send`]s), up to
//! [`MAX_TRIES`] times in a row, after which the stack gives up
//! ([`Retransmit::GaveUp`]). An echo of a datagram already answered (the
//! original and its resend both came back) is counted as a duplicate, not
//! as a wrong echo.

use crate::wire::{
    self, ARP_REPLY, ARP_REQUEST, Arp, BROADCAST, ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, Echo, ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST, IPV4_HEADER, Ipv4Addr, Mac, PROTO_ICMP, PROTO_UDP, Udp,
};

/// The identifier of the client's own ping ("se").
pub const PING_IDENT: u16 = 0x7365;
/// The data of the client's single ping.
pub const PING_DATA: &[u8; 32] = b"sevio net-client ping 0123456789";
/// The most flood datagrams in flight.
pub const MAX_DEPTH: u16 = 64;
/// The UDP source port of flood datagrams (their echoes come back to it).
pub const FLOOD_PORT: u16 = 40001;
/// The largest flood datagram: one 1500-byte packet.
pub const MAX_FLOOD_SIZE: usize = 1472;
/// Retransmissions in a row without an answer before the stack gives up.
pub const MAX_TRIES: u8 = 8;

/// What [`Stack::retransmit_due`] did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Retransmit {
    /// Nothing is awaited (no target, or finished).
    Idle,
    /// The target answered since the last call: nothing resent.
    Progressed,
    /// No answer: the awaited frames will be sent again; the try number.
    Resent(u8),
    /// [`MAX_TRIES`] resends went unanswered: what was awaited.
    GaveUp(&'static str),
}

/// Byte `i` of flood datagram `seq`; bytes 0 and 1 are `seq` itself, the
/// rest differ per datagram, so an echo of another one is caught.
pub fn flood_byte(seq: u16, i: usize) -> u8 {
    match i {
        0 => (seq >> 8) as u8,
        1 => seq as u8,
        _ => (usize::from(seq).wrapping_mul(31).wrapping_add(i)) as u8,
    }
}

/// A UDP flood through the target's echo port.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Flood {
    /// Datagrams in all.
    pub count: u16,
    /// Datagrams in flight at most (1..=[`MAX_DEPTH`]).
    pub depth: u16,
    /// Payload bytes per datagram (2..=[`MAX_FLOOD_SIZE`]).
    pub size: usize,
    /// The target's echo port.
    pub port: u16,
}

/// What the host does with its target once it answers ARP.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Traffic {
    /// Ping it once.
    Ping,
    /// Flood its UDP echo port.
    Flood(Flood),
}

/// Another host this one talks to on its own.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its address.
    pub ip: Ipv4Addr,
    /// What to send it.
    pub traffic: Traffic,
}

/// Who the host is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Its MAC address.
    pub mac: Mac,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// UDP port whose datagrams are echoed.
    pub echo_port: u16,
    /// The host to talk to on its own, if any.
    pub target: Option<Target>,
}

/// Something the caller may want to know about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The target answered ARP.
    TargetResolved(Mac),
    /// The target answered the single ping.
    TargetAnswered(Mac),
    /// A UDP datagram of this many payload bytes was echoed.
    Echoed(usize),
    /// A flood datagram of this many payload bytes came back, checked.
    FloodReply(usize),
    /// Every flood datagram came back; `bad` echoes were wrong (not in
    /// flight, or other data) and not counted.
    FloodDone {
        /// Wrong replies seen.
        bad: u32,
    },
}

/// What became of a frame.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// A reply of this many bytes is in the output buffer.
    pub reply: Option<usize>,
    /// Something happened.
    pub event: Option<Event>,
}

/// Counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct StackStats {
    /// ARP requests answered.
    pub arp_replies: u64,
    /// ICMP echo requests answered.
    pub pings_answered: u64,
    /// UDP datagrams echoed.
    pub udp_echoed: u64,
    /// Frames for someone else (other MAC, other IP, other port).
    pub ignored: u64,
    /// Frames dropped as malformed or with a bad checksum.
    pub malformed: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// No target.
    Idle,
    /// ARP request to send.
    Resolve(Ipv4Addr),
    /// ARP request sent.
    Resolving(Ipv4Addr),
    /// The single ping to send, to this MAC.
    Ping(Ipv4Addr, Mac),
    /// Single ping sent.
    Pinging(Ipv4Addr, Mac),
    /// Flooding this MAC.
    Flooding(Ipv4Addr, Mac),
    /// Finished.
    Done,
}

/// The flood's window: datagrams `base..sent` are in flight unless echoed
/// (bit `seq - base` set = still outstanding).
#[derive(Copy, Clone, Debug, Default)]
struct Window {
    base: u16,
    sent: u16,
    outstanding: u64,
    answered: u16,
    bad: u32,
    /// Outstanding datagrams to send again (bit `seq - base`).
    resend: u64,
    /// Echoes of datagrams already answered.
    duplicates: u32,
}

/// The host.
pub struct Stack {
    cfg: Config,
    state: State,
    window: Window,
    /// Datagrams to flood in all (the flood's count, or as extended).
    limit: u16,
    ident: u16,
    /// Answers from the target so far (ARP, ping, flood echoes).
    progress: u64,
    /// `progress` at the last retransmit deadline, and resends since.
    progress_seen: u64,
    tries: u8,
    /// Counters.
    pub stats: StackStats,
}

impl Stack {
    /// A host with `cfg`.
    pub fn new(mut cfg: Config) -> Stack {
        if let Some(Target { traffic: Traffic::Flood(f), .. }) = cfg.target.as_mut() {
            f.depth = f.depth.clamp(1, MAX_DEPTH);
            f.size = f.size.clamp(2, MAX_FLOOD_SIZE);
        }
        let state = match cfg.target {
            Some(t) => State::Resolve(t.ip),
            None => State::Idle,
        };
        let limit = match cfg.target {
            Some(Target { traffic: Traffic::Flood(f), .. }) => f.count,
            _ => 0,
        };
        Stack {
            cfg,
            state,
            window: Window::default(),
            limit,
            ident: 1,
            progress: 0,
            progress_seen: 0,
            tries: 0,
            stats: StackStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Whether the host waits for an answer from its target.
    pub fn awaiting(&self) -> bool {
        matches!(
            self.state,
            State::Resolve(_) | State::Resolving(_) | State::Ping(..) | State::Pinging(..) | State::Flooding(..)
        )
    }

    /// The retransmit timer expired: resend what is awaited unless the
    /// target answered since the last call (see the module docs).
    pub fn retransmit_due(&mut self) -> Retransmit {
        if !self.awaiting() {
            return Retransmit::Idle;
        }
        if self.progress != self.progress_seen {
            self.progress_seen = self.progress;
            self.tries = 0;
            return Retransmit::Progressed;
        }
        if self.tries >= MAX_TRIES {
            return Retransmit::GaveUp(match self.state {
                State::Resolve(_) | State::Resolving(_) => "ARP reply from the target",
                State::Ping(..) | State::Pinging(..) => "ping reply from the target",
                _ => "flood echoes",
            });
        }
        self.tries += 1;
        match self.state {
            State::Resolving(to) => self.state = State::Resolve(to),
            State::Pinging(to, mac) => self.state = State::Ping(to, mac),
            State::Flooding(..) => self.window.resend = self.window.outstanding,
            _ => {}
        }
        Retransmit::Resent(self.tries)
    }

    /// Resends in a row without an answer so far.
    pub fn tries(&self) -> u8 {
        self.tries
    }

    /// Flood datagrams so far: (answered, sent, duplicate echoes).
    pub fn flood_counts(&self) -> (u16, u16, u32) {
        (self.window.answered, self.window.sent, self.window.duplicates)
    }

    /// Send no new flood datagrams: the flood ends when those in flight
    /// are answered ([`Event::FloodDone`] then, or now if none is).
    pub fn stop_flood(&mut self) -> Option<Event> {
        self.limit = self.window.sent;
        self.flood_finished()
    }

    fn flood_finished(&mut self) -> Option<Event> {
        let flooding = matches!(self.state, State::Flooding(..));
        (flooding && self.window.answered >= self.limit).then(|| {
            self.state = State::Done;
            Event::FloodDone { bad: self.window.bad }
        })
    }

    /// The next frame of the host's own traffic, if one is due now.
    pub fn poll_send(&mut self, out: &mut [u8]) -> Option<usize> {
        match self.state {
            State::Resolve(to) => {
                self.state = State::Resolving(to);
                let arp = Arp { op: ARP_REQUEST, sha: self.cfg.mac, spa: self.cfg.ip, tha: [0; 6], tpa: to };
                self.arp_frame(out, BROADCAST, &arp)
            }
            State::Ping(to, mac) => {
                self.state = State::Pinging(to, mac);
                let echo = Echo { kind: ICMP_ECHO_REQUEST, ident: PING_IDENT, seq: 1, data: PING_DATA };
                self.ip_frame(out, mac, to, PROTO_ICMP, |b| wire::emit_echo(b, &echo))
            }
            State::Flooding(to, mac) => self.flood_send(out, to, mac),
            _ => None,
        }
    }

    fn flood(&self) -> Option<Flood> {
        match self.cfg.target {
            Some(Target { traffic: Traffic::Flood(f), .. }) => Some(f),
            _ => None,
        }
    }

    fn flood_send(&mut self, out: &mut [u8], to: Ipv4Addr, mac: Mac) -> Option<usize> {
        let f = self.flood()?;
        let w = &mut self.window;
        // Resends first: still outstanding, lowest sequence first.
        w.resend &= w.outstanding;
        let seq = if w.resend != 0 {
            let off = w.resend.trailing_zeros();
            w.resend &= !(1 << off);
            w.base + off as u16
        } else {
            if w.sent >= self.limit || w.sent.wrapping_sub(w.base) >= f.depth {
                return None;
            }
            let seq = w.sent;
            w.outstanding |= 1 << (seq - w.base);
            w.sent += 1;
            seq
        };
        let mut data = [0u8; MAX_FLOOD_SIZE];
        for (i, b) in data.iter_mut().enumerate().take(f.size) {
            *b = flood_byte(seq, i);
        }
        let udp = Udp { src_port: FLOOD_PORT, dst_port: f.port, payload: &data[..f.size] };
        let me = self.cfg.ip;
        self.ip_frame(out, mac, to, PROTO_UDP, |b| wire::emit_udp(b, me, to, &udp))
    }

    /// A flood echo: count it if it echoes a datagram in flight, whole.
    fn flood_echo(&mut self, data: &[u8]) -> Handled {
        let Some(f) = self.flood() else { return Handled::default() };
        let w = &mut self.window;
        let seq = match data {
            [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
            _ => u16::MAX,
        };
        let off = seq.wrapping_sub(w.base);
        let data_ok = data.len() == f.size && data.iter().enumerate().all(|(i, b)| *b == flood_byte(seq, i));
        let in_flight = off < 64 && w.outstanding & (1 << off) != 0;
        if data_ok && !in_flight && seq < w.sent {
            // Sent and answered before: the echo of a resend (or of the
            // original, after its resend's echo).
            w.duplicates += 1;
            return Handled::default();
        }
        if !in_flight || !data_ok {
            w.bad += 1;
            return Handled::default();
        }
        w.outstanding &= !(1 << off);
        w.answered += 1;
        self.progress += 1;
        // Slide past everything answered at the front.
        while w.base < w.sent && w.outstanding & 1 == 0 {
            w.outstanding >>= 1;
            w.resend >>= 1;
            w.base += 1;
        }
        if let Some(done) = self.flood_finished() {
            return Handled { reply: None, event: Some(done) };
        }
        Handled { reply: None, event: Some(Event::FloodReply(data.len())) }
    }

    fn arp_frame(&self, out: &mut [u8], dst: Mac, arp: &Arp) -> Option<usize> {
        let h = wire::emit_ethernet(out, dst, self.cfg.mac, ETHERTYPE_ARP)?;
        Some(h + wire::emit_arp(out.get_mut(h..)?, arp)?)
    }

    /// Build Ethernet + IPv4 around a payload written by `body` at
    /// `ETH_HEADER + IPV4_HEADER`.
    fn ip_frame(
        &mut self,
        out: &mut [u8],
        dst_mac: Mac,
        dst: Ipv4Addr,
        proto: u8,
        body: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Option<usize> {
        let at = ETH_HEADER + IPV4_HEADER;
        let n = body(out.get_mut(at..)?)?;
        wire::emit_ethernet(out, dst_mac, self.cfg.mac, ETHERTYPE_IPV4)?;
        self.ident = self.ident.wrapping_add(1);
        wire::emit_ipv4(out.get_mut(ETH_HEADER..)?, self.cfg.ip, dst, proto, self.ident, n)?;
        Some(at + n)
    }

    /// Take one received frame; a reply, if any, is written to `out`.
    pub fn handle(&mut self, frame: &[u8], out: &mut [u8]) -> Handled {
        let Some(eth) = wire::parse_ethernet(frame) else {
            self.stats.malformed += 1;
            return Handled::default();
        };
        if eth.dst != self.cfg.mac && eth.dst != BROADCAST {
            return self.ignore();
        }
        match eth.ethertype {
            ETHERTYPE_ARP => self.arp(eth.payload, out),
            ETHERTYPE_IPV4 => self.ipv4(eth.src, eth.payload, out),
            _ => self.ignore(),
        }
    }

    fn ignore(&mut self) -> Handled {
        self.stats.ignored += 1;
        Handled::default()
    }

    fn malformed(&mut self) -> Handled {
        self.stats.malformed += 1;
        Handled::default()
    }

    fn arp(&mut self, payload: &[u8], out: &mut [u8]) -> Handled {
        let Some(arp) = wire::parse_arp(payload) else { return self.malformed() };
        match arp.op {
            ARP_REQUEST if arp.tpa == self.cfg.ip => {
                let reply = Arp { op: ARP_REPLY, sha: self.cfg.mac, spa: self.cfg.ip, tha: arp.sha, tpa: arp.spa };
                self.stats.arp_replies += 1;
                Handled { reply: self.arp_frame(out, arp.sha, &reply), event: None }
            }
            ARP_REPLY => match self.state {
                State::Resolving(to) if arp.spa == to && arp.tpa == self.cfg.ip => {
                    self.progress += 1;
                    self.state = match self.flood() {
                        Some(_) => State::Flooding(to, arp.sha),
                        None => State::Ping(to, arp.sha),
                    };
                    Handled { reply: None, event: Some(Event::TargetResolved(arp.sha)) }
                }
                _ => self.ignore(),
            },
            _ => self.ignore(),
        }
    }

    fn ipv4(&mut self, src_mac: Mac, payload: &[u8], out: &mut [u8]) -> Handled {
        let Ok(ip) = wire::parse_ipv4(payload) else { return self.malformed() };
        if ip.dst != self.cfg.ip {
            return self.ignore();
        }
        match ip.proto {
            PROTO_ICMP => {
                let Some(echo) = wire::parse_echo(ip.payload) else { return self.malformed() };
                match (echo.kind, self.state) {
                    (ICMP_ECHO_REQUEST, _) => {
                        let reply = Echo { kind: ICMP_ECHO_REPLY, ..echo };
                        self.stats.pings_answered += 1;
                        let n = self.ip_frame(out, src_mac, ip.src, PROTO_ICMP, |b| wire::emit_echo(b, &reply));
                        Handled { reply: n, event: None }
                    }
                    (ICMP_ECHO_REPLY, State::Pinging(to, mac))
                        if ip.src == to && echo.ident == PING_IDENT && echo.seq == 1 && echo.data == PING_DATA =>
                    {
                        self.state = State::Done;
                        self.progress += 1;
                        Handled { reply: None, event: Some(Event::TargetAnswered(mac)) }
                    }
                    _ => self.ignore(),
                }
            }
            PROTO_UDP => {
                let Some(udp) = wire::parse_udp(&ip) else { return self.malformed() };
                let flooding = matches!(self.state, State::Flooding(to, _) if to == ip.src);
                if flooding && udp.dst_port == FLOOD_PORT {
                    return self.flood_echo(udp.payload);
                }
                if udp.dst_port != self.cfg.echo_port {
                    return self.ignore();
                }
                let back = Udp { src_port: udp.dst_port, dst_port: udp.src_port, payload: udp.payload };
                let (me, peer) = (self.cfg.ip, ip.src);
                self.stats.udp_echoed += 1;
                let n = self.ip_frame(out, src_mac, peer, PROTO_UDP, |b| wire::emit_udp(b, me, peer, &back));
                Handled { reply: n, event: Some(Event::Echoed(udp.payload.len())) }
            }
            _ => self.ignore(),
        }
    }
}
