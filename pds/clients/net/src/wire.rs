//! The few wire formats the client speaks: Ethernet II, ARP for IPv4 over
//! Ethernet (RFC 826), IPv4 without options on output (RFC 791), ICMP
//! echo (RFC 792) and UDP (RFC 768), with the Internet checksum
//! (RFC 1071).
//!
//! Frames are copied out of shared memory before they are parsed, so
//! these work on plain byte slices. Each `parse_*` checks lengths once
//! and returns `None` for anything malformed; each `emit_*` writes into a
//! caller's buffer and returns the bytes written, or `None` if it is too
//! small.
//!
//! Panic contract: no function here panics, whatever the input.

/// A MAC address.
pub type Mac = [u8; 6];
/// An IPv4 address.
pub type Ipv4Addr = [u8; 4];

/// The broadcast MAC address.
pub const BROADCAST: Mac = [0xff; 6];
/// Bytes of an Ethernet II header.
pub const ETH_HEADER: usize = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Bytes of an ARP packet for IPv4 over Ethernet.
pub const ARP_LEN: usize = 28;
/// ARP request.
pub const ARP_REQUEST: u16 = 1;
/// ARP reply.
pub const ARP_REPLY: u16 = 2;
/// Bytes of an IPv4 header without options.
pub const IPV4_HEADER: usize = 20;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// ICMP echo reply.
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMP echo request.
pub const ICMP_ECHO_REQUEST: u8 = 8;
/// Bytes of an ICMP echo header.
pub const ICMP_ECHO_HEADER: usize = 8;
/// Bytes of a UDP header.
pub const UDP_HEADER: usize = 8;
/// TTL of the packets the client sends.
pub const TTL: u8 = 64;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> Option<()> {
    out.get_mut(at..at.checked_add(bytes.len())?)?.copy_from_slice(bytes);
    Some(())
}

/// The one's-complement sum of `data` as big-endian 16-bit words (an odd
/// last byte padded with zero), added to `sum`; not yet folded.
pub fn checksum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
        // Fold early so the u32 never wraps, whatever the length.
        if sum > 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = words.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Fold a sum to 16 bits and complement it: the checksum to store.
pub fn checksum_finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    checksum_finish(checksum_add(0, data))
}

/// The sum of the IPv4 pseudo-header for UDP/TCP.
fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let mut sum = checksum_add(0, &src);
    sum = checksum_add(sum, &dst);
    sum = sum.wrapping_add(u32::from(proto));
    sum.wrapping_add(u32::from(len))
}

/// An Ethernet II frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ethernet<'a> {
    /// Destination.
    pub dst: Mac,
    /// Source.
    pub src: Mac,
    /// EtherType.
    pub ethertype: u16,
    /// Everything after the header (may include padding).
    pub payload: &'a [u8],
}

/// Parse an Ethernet II frame.
pub fn parse_ethernet(frame: &[u8]) -> Option<Ethernet<'_>> {
    Some(Ethernet {
        dst: array(frame, 0)?,
        src: array(frame, 6)?,
        ethertype: be16(frame, 12)?,
        payload: frame.get(ETH_HEADER..)?,
    })
}

/// Write an Ethernet header; the payload goes at [`ETH_HEADER`].
pub fn emit_ethernet(out: &mut [u8], dst: Mac, src: Mac, ethertype: u16) -> Option<usize> {
    put(out, 0, &dst)?;
    put(out, 6, &src)?;
    put(out, 12, &ethertype.to_be_bytes())?;
    Some(ETH_HEADER)
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Arp {
    /// [`ARP_REQUEST`] or [`ARP_REPLY`] (others are kept as they are).
    pub op: u16,
    /// Sender hardware address.
    pub sha: Mac,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: Mac,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

/// Parse ARP; `None` unless it is Ethernet (1) / IPv4 (0x0800) with
/// 6- and 4-byte addresses. Trailing padding is allowed.
pub fn parse_arp(p: &[u8]) -> Option<Arp> {
    if be16(p, 0)? != 1 || be16(p, 2)? != ETHERTYPE_IPV4 || p.get(4..6)? != [6, 4] {
        return None;
    }
    Some(Arp { op: be16(p, 6)?, sha: array(p, 8)?, spa: array(p, 14)?, tha: array(p, 18)?, tpa: array(p, 24)? })
}

/// Write `arp`; returns [`ARP_LEN`].
pub fn emit_arp(out: &mut [u8], arp: &Arp) -> Option<usize> {
    put(out, 0, &[0, 1, 0x08, 0x00, 6, 4])?;
    put(out, 6, &arp.op.to_be_bytes())?;
    put(out, 8, &arp.sha)?;
    put(out, 14, &arp.spa)?;
    put(out, 18, &arp.tha)?;
    put(out, 24, &arp.tpa)?;
    Some(ARP_LEN)
}

/// An IPv4 packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv4<'a> {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub proto: u8,
    /// Time to live.
    pub ttl: u8,
    /// The payload (exactly `total length - header length` bytes).
    pub payload: &'a [u8],
}

/// Why an IPv4 packet was not taken.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Too short, not version 4, a header length below 20, or a total
    /// length that disagrees with the frame.
    Malformed,
    /// The header checksum is wrong.
    Checksum,
    /// A fragment (not reassembled here).
    Fragment,
}

/// Parse an IPv4 packet, checking its header checksum; options are
/// skipped; fragments are refused.
pub fn parse_ipv4(p: &[u8]) -> Result<Ipv4<'_>, Ipv4Error> {
    let bad = Ipv4Error::Malformed;
    let vihl = *p.first().ok_or(bad)?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < IPV4_HEADER {
        return Err(bad);
    }
    let total = usize::from(be16(p, 2).ok_or(bad)?);
    if total < ihl || total > p.len() {
        return Err(bad);
    }
    let header = p.get(..ihl).ok_or(bad)?;
    if checksum(header) != 0 {
        return Err(Ipv4Error::Checksum);
    }
    let flags_frag = be16(p, 6).ok_or(bad)?;
    if flags_frag & 0x3fff != 0 {
        return Err(Ipv4Error::Fragment);
    }
    Ok(Ipv4 {
        src: array(p, 12).ok_or(bad)?,
        dst: array(p, 16).ok_or(bad)?,
        proto: *p.get(9).ok_or(bad)?,
        ttl: *p.get(8).ok_or(bad)?,
        payload: p.get(ihl..total).ok_or(bad)?,
    })
}

/// Write a 20-byte IPv4 header (DF set, TTL [`TTL`]) for `payload_len`
/// bytes of `proto`; the payload goes at [`IPV4_HEADER`].
pub fn emit_ipv4(
    out: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    payload_len: usize,
) -> Option<usize> {
    let total = u16::try_from(IPV4_HEADER + payload_len).ok()?;
    let h = out.get_mut(..IPV4_HEADER)?;
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    h[8] = TTL;
    h[9] = proto;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let sum = checksum(h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    Some(IPV4_HEADER)
}

/// An ICMP echo request or reply.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Echo<'a> {
    /// [`ICMP_ECHO_REQUEST`] or [`ICMP_ECHO_REPLY`].
    pub kind: u8,
    /// Identifier.
    pub ident: u16,
    /// Sequence number.
    pub seq: u16,
    /// The data.
    pub data: &'a [u8],
}

/// Parse an ICMP echo request or reply with a correct checksum and code 0;
/// `None` for anything else.
pub fn parse_echo(p: &[u8]) -> Option<Echo<'_>> {
    let kind = *p.first()?;
    if !(kind == ICMP_ECHO_REQUEST || kind == ICMP_ECHO_REPLY) || *p.get(1)? != 0 || checksum(p) != 0 {
        return None;
    }
    Some(Echo { kind, ident: be16(p, 4)?, seq: be16(p, 6)?, data: p.get(ICMP_ECHO_HEADER..)? })
}

/// Write an ICMP echo message with its checksum.
pub fn emit_echo(out: &mut [u8], echo: &Echo<'_>) -> Option<usize> {
    let len = ICMP_ECHO_HEADER.checked_add(echo.data.len())?;
    let m = out.get_mut(..len)?;
    m[0] = echo.kind;
    m[1] = 0;
    m[2..4].copy_from_slice(&[0, 0]);
    m[4..6].copy_from_slice(&echo.ident.to_be_bytes());
    m[6..8].copy_from_slice(&echo.seq.to_be_bytes());
    m[8..].copy_from_slice(echo.data);
    let sum = checksum(m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    Some(len)
}

/// A UDP datagram.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The payload (exactly `length - 8` bytes).
    pub payload: &'a [u8],
}

/// Parse the UDP datagram in `ip`; checks the length field and, unless it
/// is zero (none sent), the checksum.
pub fn parse_udp<'a>(ip: &Ipv4<'a>) -> Option<Udp<'a>> {
    let p = ip.payload;
    let len = usize::from(be16(p, 4)?);
    if len < UDP_HEADER || len > p.len() {
        return None;
    }
    let datagram = p.get(..len)?;
    if be16(p, 6)? != 0 {
        let sum = checksum_add(pseudo_header(ip.src, ip.dst, PROTO_UDP, len as u16), datagram);
        if checksum_finish(sum) != 0 {
            return None;
        }
    }
    Some(Udp { src_port: be16(p, 0)?, dst_port: be16(p, 2)?, payload: datagram.get(UDP_HEADER..)? })
}

/// Write a UDP datagram from `src` to `dst` with its checksum (0 is sent
/// as 0xffff, as RFC 768 asks).
pub fn emit_udp(out: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, udp: &Udp<'_>) -> Option<usize> {
    let len = UDP_HEADER.checked_add(udp.payload.len())?;
    let len16 = u16::try_from(len).ok()?;
    let m = out.get_mut(..len)?;
    m[0..2].copy_from_slice(&udp.src_port.to_be_bytes());
    m[2..4].copy_from_slice(&udp.dst_port.to_be_bytes());
    m[4..6].copy_from_slice(&len16.to_be_bytes());
    m[6..8].copy_from_slice(&[0, 0]);
    m[8..].copy_from_slice(udp.payload);
    let sum = match checksum_finish(checksum_add(pseudo_header(src, dst, PROTO_UDP, len16), m)) {
        0 => 0xffff,
        s => s,
    };
    m[6..8].copy_from_slice(&sum.to_be_bytes());
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071's example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
    #[test]
    fn checksum_matches_rfc_1071() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum_finish(checksum_add(0, &data)), !0xddf2);
        assert_eq!(checksum(&[0xff]), !0xff00, "odd length pads with zero");
        assert_eq!(checksum(&[]), 0xffff);
    }

    /// A real IPv4 header (from a capture): its checksum field b861
    /// verifies, and emitting the same fields reproduces it.
    #[test]
    fn ipv4_header_golden() {
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        let mut packet = header.to_vec();
        packet.resize(0x73, 0);
        let ip = parse_ipv4(&packet).unwrap();
        assert_eq!((ip.src, ip.dst, ip.proto, ip.payload.len()), ([192, 168, 0, 1], [192, 168, 0, 199], 17, 0x73 - 20));
        let mut out = [0u8; 20];
        emit_ipv4(&mut out, [192, 168, 0, 1], [192, 168, 0, 199], 17, 0, 0x73 - 20).unwrap();
        assert_eq!(out, header);
    }

    #[test]
    fn ipv4_rejections() {
        let mut p = [0u8; 40];
        emit_ipv4(&mut p, [10, 0, 2, 2], [10, 0, 2, 15], PROTO_UDP, 7, 20).unwrap();
        assert!(parse_ipv4(&p).is_ok());
        assert_eq!(parse_ipv4(&p[..39]), Err(Ipv4Error::Malformed), "total length past the frame");
        let mut bad = p;
        bad[8] ^= 1;
        assert_eq!(parse_ipv4(&bad), Err(Ipv4Error::Checksum));
        let mut frag = p;
        frag[6] = 0x20; // MF
        frag[10..12].copy_from_slice(&[0, 0]);
        let s = checksum(&frag[..20]);
        frag[10..12].copy_from_slice(&s.to_be_bytes());
        assert_eq!(parse_ipv4(&frag), Err(Ipv4Error::Fragment));
        assert_eq!(parse_ipv4(&[0x46; 3]), Err(Ipv4Error::Malformed));
        assert_eq!(parse_ipv4(&[0x44, 0, 0, 20]), Err(Ipv4Error::Malformed), "ihl below 5");
        assert_eq!(parse_ipv4(&[]), Err(Ipv4Error::Malformed));
    }

    #[test]
    fn arp_round_trip_and_rejections() {
        let arp =
            Arp { op: ARP_REQUEST, sha: [2, 0, 0, 0, 0, 1], spa: [10, 0, 2, 15], tha: [0; 6], tpa: [10, 0, 2, 2] };
        let mut out = [0u8; 60];
        assert_eq!(emit_arp(&mut out, &arp), Some(28));
        assert_eq!(&out[..8], [0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(parse_arp(&out), Some(arp), "padding after the packet is fine");
        assert_eq!(parse_arp(&out[..27]), None);
        out[5] = 16;
        assert_eq!(parse_arp(&out), None, "IPv6-sized protocol addresses");
    }

    #[test]
    fn udp_checksum_round_trip() {
        let (src, dst) = ([10, 0, 2, 15], [10, 0, 2, 2]);
        let mut out = [0u8; 64];
        let n = emit_udp(&mut out, src, dst, &Udp { src_port: 1234, dst_port: 40000, payload: b"hello" }).unwrap();
        assert_eq!(n, 13);
        let mut packet = [0u8; 33];
        emit_ipv4(&mut packet, src, dst, PROTO_UDP, 0, n).unwrap();
        packet[20..].copy_from_slice(&out[..n]);
        let ip = parse_ipv4(&packet).unwrap();
        assert_eq!(parse_udp(&ip), Some(Udp { src_port: 1234, dst_port: 40000, payload: b"hello" }));
        packet[30] ^= 0x20;
        assert_eq!(parse_udp(&parse_ipv4(&packet).unwrap()), None, "payload changed: checksum fails");
        packet[26..28].copy_from_slice(&[0, 0]);
        assert!(parse_udp(&parse_ipv4(&packet).unwrap()).is_some(), "checksum 0: not checked");
        packet[24..26].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(parse_udp(&parse_ipv4(&packet).unwrap()), None, "length past the packet");
    }

    #[test]
    fn echo_round_trip() {
        let mut out = [0u8; 40];
        let e = Echo { kind: ICMP_ECHO_REQUEST, ident: 0x1234, seq: 9, data: b"abc" };
        let n = emit_echo(&mut out, &e).unwrap();
        assert_eq!(parse_echo(&out[..n]), Some(e));
        out[9] ^= 1;
        assert_eq!(parse_echo(&out[..n]), None);
        assert_eq!(parse_echo(&[3, 0, 0xfc, 0xff]), None, "not an echo");
        assert_eq!(emit_echo(&mut [0u8; 10], &e), None, "too small");
    }

    #[test]
    fn nothing_panics_on_short_or_random_input() {
        let mut x = 0x1234_5678u32;
        let mut buf = [0u8; 80];
        for len in 0..80 {
            for _ in 0..50 {
                for b in buf.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    *b = x as u8;
                }
                buf[0] = 0x45;
                let p = &buf[..len];
                let _ = parse_ethernet(p);
                let _ = parse_arp(p);
                if let Ok(ip) = parse_ipv4(p) {
                    let _ = parse_udp(&ip);
                }
                let _ = parse_echo(p);
            }
        }
    }
}
