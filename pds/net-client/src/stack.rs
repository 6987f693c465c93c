//! A minimal host: one MAC, one IPv4 address, no routing beyond "the
//! peer that asked". It answers ARP requests for its address and ICMP
//! echo requests to it, echoes UDP datagrams sent to its echo port, and
//! (if asked) resolves its gateway and pings it once.
//!
//! Everything that is not for this host, or is malformed, or fails a
//! checksum is dropped and counted; nothing is ever answered twice.

use crate::wire::{
    self, ARP_REPLY, ARP_REQUEST, Arp, BROADCAST, ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, Echo, ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST, IPV4_HEADER, Ipv4Addr, Mac, PROTO_ICMP, PROTO_UDP, Udp,
};

/// The identifier of the client's own pings ("se").
pub const PING_IDENT: u16 = 0x7365;
/// The data of the client's own ping.
pub const PING_DATA: &[u8; 32] = b"sevio net-client ping 0123456789";

/// Who the host is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Its MAC address.
    pub mac: Mac,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// The gateway to ping, if any.
    pub gateway: Option<Ipv4Addr>,
    /// UDP port whose datagrams are echoed.
    pub echo_port: u16,
    /// UDP port whose datagrams are reported as [`Event::Report`] (bench
    /// mode), if any.
    pub report_port: Option<u16>,
}

/// Something the caller may want to know about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The gateway answered ARP.
    GatewayResolved(Mac),
    /// The gateway answered the ping.
    GatewayAnswered(Mac),
    /// A UDP datagram of this many payload bytes was echoed.
    Echoed(usize),
    /// A datagram arrived on the report port; its first 8 bytes (big-
    /// endian, 0 if shorter) are the number of datagrams the peer sent.
    Report(u64),
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
enum Gateway {
    /// Not asked for, or not started.
    Idle,
    /// ARP request sent.
    Resolving(Ipv4Addr),
    /// Ping sent to this MAC.
    Pinging(Ipv4Addr, Mac),
    /// Answered.
    Done,
}

/// The host.
pub struct Stack {
    cfg: Config,
    gateway: Gateway,
    ident: u16,
    /// Counters.
    pub stats: StackStats,
}

impl Stack {
    /// A host with `cfg`.
    pub fn new(cfg: Config) -> Stack {
        Stack { cfg, gateway: Gateway::Idle, ident: 1, stats: StackStats::default() }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The first frame to send, if any: the ARP request for the gateway.
    pub fn start(&mut self, out: &mut [u8]) -> Option<usize> {
        let gw = self.cfg.gateway?;
        if self.gateway != Gateway::Idle {
            return None;
        }
        self.gateway = Gateway::Resolving(gw);
        let arp = Arp { op: ARP_REQUEST, sha: self.cfg.mac, spa: self.cfg.ip, tha: [0; 6], tpa: gw };
        self.arp_frame(out, BROADCAST, &arp)
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
            self.stats.ignored += 1;
            return Handled::default();
        }
        match eth.ethertype {
            ETHERTYPE_ARP => self.arp(eth.payload, out),
            ETHERTYPE_IPV4 => self.ipv4(eth.src, eth.payload, out),
            _ => {
                self.stats.ignored += 1;
                Handled::default()
            }
        }
    }

    fn arp(&mut self, payload: &[u8], out: &mut [u8]) -> Handled {
        let Some(arp) = wire::parse_arp(payload) else {
            self.stats.malformed += 1;
            return Handled::default();
        };
        match arp.op {
            ARP_REQUEST if arp.tpa == self.cfg.ip => {
                let reply = Arp { op: ARP_REPLY, sha: self.cfg.mac, spa: self.cfg.ip, tha: arp.sha, tpa: arp.spa };
                self.stats.arp_replies += 1;
                Handled { reply: self.arp_frame(out, arp.sha, &reply), event: None }
            }
            ARP_REPLY => match self.gateway {
                Gateway::Resolving(gw) if arp.spa == gw && arp.tpa == self.cfg.ip => {
                    self.gateway = Gateway::Pinging(gw, arp.sha);
                    let echo = Echo { kind: ICMP_ECHO_REQUEST, ident: PING_IDENT, seq: 1, data: PING_DATA };
                    let reply = self.ip_frame(out, arp.sha, gw, PROTO_ICMP, |b| wire::emit_echo(b, &echo));
                    Handled { reply, event: Some(Event::GatewayResolved(arp.sha)) }
                }
                _ => self.ignore(),
            },
            _ => self.ignore(),
        }
    }

    fn ignore(&mut self) -> Handled {
        self.stats.ignored += 1;
        Handled::default()
    }

    fn ipv4(&mut self, src_mac: Mac, payload: &[u8], out: &mut [u8]) -> Handled {
        let ip = match wire::parse_ipv4(payload) {
            Ok(ip) => ip,
            Err(_) => {
                self.stats.malformed += 1;
                return Handled::default();
            }
        };
        if ip.dst != self.cfg.ip {
            return self.ignore();
        }
        match ip.proto {
            PROTO_ICMP => {
                let Some(echo) = wire::parse_echo(ip.payload) else {
                    self.stats.malformed += 1;
                    return Handled::default();
                };
                match (echo.kind, self.gateway) {
                    (ICMP_ECHO_REQUEST, _) => {
                        let reply = Echo { kind: ICMP_ECHO_REPLY, ..echo };
                        self.stats.pings_answered += 1;
                        let n = self.ip_frame(out, src_mac, ip.src, PROTO_ICMP, |b| wire::emit_echo(b, &reply));
                        Handled { reply: n, event: None }
                    }
                    (ICMP_ECHO_REPLY, Gateway::Pinging(gw, mac))
                        if ip.src == gw && echo.ident == PING_IDENT && echo.seq == 1 && echo.data == PING_DATA =>
                    {
                        self.gateway = Gateway::Done;
                        Handled { reply: None, event: Some(Event::GatewayAnswered(mac)) }
                    }
                    _ => self.ignore(),
                }
            }
            PROTO_UDP => {
                let Some(udp) = wire::parse_udp(&ip) else {
                    self.stats.malformed += 1;
                    return Handled::default();
                };
                if udp.dst_port == self.cfg.echo_port {
                    let back = Udp { src_port: udp.dst_port, dst_port: udp.src_port, payload: udp.payload };
                    let (me, peer) = (self.cfg.ip, ip.src);
                    self.stats.udp_echoed += 1;
                    let n = self.ip_frame(out, src_mac, peer, PROTO_UDP, |b| wire::emit_udp(b, me, peer, &back));
                    Handled { reply: n, event: Some(Event::Echoed(udp.payload.len())) }
                } else if Some(udp.dst_port) == self.cfg.report_port {
                    let mut count = [0u8; 8];
                    if let Some(b) = udp.payload.get(..8) {
                        count.copy_from_slice(b);
                    }
                    Handled { reply: None, event: Some(Event::Report(u64::from_be_bytes(count))) }
                } else {
                    self.ignore()
                }
            }
            _ => self.ignore(),
        }
    }
}
