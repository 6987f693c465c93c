//! Networking end to end: bus, mmio transport, net driver and a net client
//! under sim, against QEMU's virtio-net.
//!
//! - On QEMU's UDP socket backend (`-netdev socket,udp=...,localaddr=...`,
//!   both on 127.0.0.1, ports picked here) the test is the network: a
//!   peer in this file sends real Ethernet frames (ARP, ping, UDP, and
//!   frames the client must drop) and checks every answer byte by byte,
//!   with its own checksum code, counting every frame both ways. It
//!   plays the gateway last, so the client's own ARP and ping are checked
//!   too, and the client's PASS ends the run.
//! - On QEMU's user networking (slirp) the client resolves and pings the
//!   gateway 10.0.2.2 on its own and passes; modern and legacy devices,
//!   split and packed virtqueues.
//! - Wired the sDDF way: the driver's client side only from
//!   `.net_driver_config` and `.sevio_data_regions` (objcopied in by sim,
//!   as an sDDF build does with sdfgen's output), channel ids the
//!   config's; one channel named for both peers is refused.
//! - `net_bench`: `systems/net-bench.xml`, which `make bench` runs too:
//!   net-bench floods net-echo's UDP echo through two driver instances
//!   and a QEMU hub (1000 datagrams, then 2 s), checks every echo, and
//!   prints `BENCH net_*` and `BENCH net_timed_*` lines (frames/s, MB/s,
//!   notifications and interrupts per frame); this test prints them again
//!   without the PD prefix. Short, and in `make test`: net-bench resends
//!   what goes unanswered, so a lost datagram cannot stall it.
//! - `systems/net-bench-peer.xml` (what `make bench-qemu` compares with
//!   Linux): net-bench alone, its NIC on a UDP socket to
//!   `sevio_e2e::net_peer` on the host; as written (the stream) and with
//!   net-bench-rr (request/response), every echo counted by the peer too.

use sevio_e2e::net_peer::EchoPeer;
use sevio_e2e::{Run, TempDir, build, sim, systems, workspace};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

const DEVICE_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const CLIENT_IP: [u8; 4] = [10, 0, 2, 15];
const GATEWAY_IP: [u8; 4] = [10, 0, 2, 2];
const GATEWAY_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const PEER_IP: [u8; 4] = [10, 0, 2, 100];
const ECHO_PORT: u16 = 1234;
const PEER_PORT: u16 = 40000;
/// How long the peer waits for the system to come up (sim starts QEMU
/// and four processes).
const STARTUP: Duration = Duration::from_secs(60);
/// How long it waits for any one answer once the system is up.
const STEP: Duration = Duration::from_secs(10);

/// Frames as the test builds and reads them: its own code, not the
/// client's.
mod frame {
    /// RFC 1071 sum over `parts`, folded and complemented.
    pub fn inet_sum(parts: &[&[u8]]) -> u16 {
        let bytes: Vec<u8> = parts.concat();
        let mut acc: u64 = 0;
        for pair in bytes.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u64::from);
            acc += hi | lo;
        }
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        [&dst[..], &src[..], &ethertype.to_be_bytes(), payload].concat()
    }

    pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
        [&[0u8, 1, 8, 0, 6, 4][..], &op.to_be_bytes(), &sha, &spa, &tha, &tpa].concat()
    }

    pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut h = vec![0x45, 0];
        h.extend(total.to_be_bytes());
        h.extend([0x12, 0x34, 0, 0, 64, proto, 0, 0]);
        h.extend(src);
        h.extend(dst);
        let sum = inet_sum(&[&h]);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        [h, payload.to_vec()].concat()
    }

    pub fn icmp_echo(kind: u8, ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
        let mut m = vec![kind, 0, 0, 0];
        m.extend(ident.to_be_bytes());
        m.extend(seq.to_be_bytes());
        m.extend(data);
        let sum = inet_sum(&[&m]);
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }

    fn pseudo(src: [u8; 4], dst: [u8; 4], len: usize) -> Vec<u8> {
        [&src[..], &dst[..], &[0, 17], &(len as u16).to_be_bytes()].concat()
    }

    /// A UDP datagram; `checksum: false` sends 0 (none).
    pub fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8], checksum: bool) -> Vec<u8> {
        let len = 8 + data.len();
        let mut d =
            [&sport.to_be_bytes()[..], &dport.to_be_bytes(), &(len as u16).to_be_bytes(), &[0, 0], data].concat();
        if checksum {
            let sum = match inet_sum(&[&pseudo(src, dst, len), &d]) {
                0 => 0xffff,
                s => s,
            };
            d[6..8].copy_from_slice(&sum.to_be_bytes());
        }
        d
    }

    /// An IPv4 packet as read back.
    pub struct Packet {
        pub src: [u8; 4],
        pub dst: [u8; 4],
        pub proto: u8,
        pub ttl: u8,
        pub payload: Vec<u8>,
    }

    /// The IPv4 packet inside an Ethernet frame, checked: header checksum,
    /// version, length.
    pub fn read_ipv4(f: &[u8]) -> Result<Packet, String> {
        let p = f.get(14..).ok_or("no IPv4 header")?;
        if p.len() < 20 || p[0] != 0x45 {
            return Err(format!("not a plain IPv4 header: {:02x?}", &p[..p.len().min(20)]));
        }
        if inet_sum(&[&p[..20]]) != 0 {
            return Err("bad IPv4 header checksum".into());
        }
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        if total < 20 || total > p.len() {
            return Err(format!("IPv4 total length {total} in a {}-byte payload", p.len()));
        }
        let addr = |at: usize| -> [u8; 4] { p[at..at + 4].try_into().unwrap() };
        Ok(Packet { src: addr(12), dst: addr(16), proto: p[9], ttl: p[8], payload: p[20..total].to_vec() })
    }

    /// Check a UDP datagram's length and (mandatory here) checksum.
    pub fn read_udp(src: [u8; 4], dst: [u8; 4], d: &[u8]) -> Result<(u16, u16, Vec<u8>), String> {
        if d.len() < 8 || usize::from(u16::from_be_bytes([d[4], d[5]])) != d.len() {
            return Err(format!("UDP length field disagrees with {} bytes", d.len()));
        }
        if d[6..8] == [0, 0] {
            return Err("UDP sent without a checksum".into());
        }
        if inet_sum(&[&pseudo(src, dst, d.len()), d]) != 0 {
            return Err("bad UDP checksum".into());
        }
        Ok((u16::from_be_bytes([d[0], d[1]]), u16::from_be_bytes([d[2], d[3]]), d[8..].to_vec()))
    }
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)*) => {
        if !$cond {
            return Err(format!($($why)*));
        }
    };
}

/// The test's end of QEMU's UDP socket backend.
struct Peer {
    sock: UdpSocket,
    qemu: SocketAddr,
    sent: usize,
    received: usize,
    /// The client's ARP requests for the gateway: the first is a frame of
    /// the script; the rest are its retransmissions (the gateway answers
    /// only at the end) and are counted here, not received.
    gateway_arp_requests: usize,
}

/// A free port on 127.0.0.1 for QEMU to bind (free a moment ago).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Peer {
    fn new() -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let qemu = SocketAddr::from(([127, 0, 0, 1], free_port()));
        Peer { sock, qemu, sent: 0, received: 0, gateway_arp_requests: 0 }
    }

    /// The device description wiring QEMU's NIC to this peer.
    fn description(&self) -> String {
        format!(
            "expect_pass = [\"net_client\"]\n\n[[device]]\ndriver = \"virtio-net-device\"\n\
             netdev = {{ type = \"socket\", udp = \"127.0.0.1:{}\", localaddr = \"{}\" }}\n\
             properties = {{ mac = \"52:54:00:12:34:56\" }}\n",
            self.sock.local_addr().unwrap().port(),
            self.qemu
        )
    }

    fn send(&mut self, frame: &[u8]) {
        self.sock.send_to(frame, self.qemu).unwrap();
        self.sent += 1;
    }

    /// Wait (up to `wait`) until the client has asked for the gateway's
    /// address at least twice: the gateway answers only then, so the
    /// client's resend is seen however fast the script ran. Nothing else
    /// may arrive meanwhile: the client is waiting for the gateway.
    fn await_gateway_resend(&mut self, wait: Duration) -> Result<(), String> {
        let deadline = std::time::Instant::now() + wait;
        let mut buf = vec![0u8; 65536];
        while self.gateway_arp_requests < 2 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(format!("the client did not resend its ARP request within {wait:?}"));
            }
            self.sock.set_read_timeout(Some(left)).unwrap();
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) if from == self.qemu => {
                    if !is_gateway_arp_request(&buf[..n]) {
                        return Err(format!("waiting for the ARP resend, got {:02x?}", head(&buf[..n])));
                    }
                    self.gateway_arp_requests += 1;
                }
                Ok(_) => continue,
                Err(e) => return Err(format!("waiting for the ARP resend: {e}")),
            }
        }
        Ok(())
    }

    /// The next frame from QEMU within `wait`.
    fn recv(&mut self, wait: Duration) -> Result<Vec<u8>, String> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 65536];
        loop {
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) if from == self.qemu => {
                    if is_gateway_arp_request(&buf[..n]) {
                        self.gateway_arp_requests += 1;
                        if self.gateway_arp_requests > 1 {
                            continue;
                        }
                    }
                    self.received += 1;
                    return Ok(buf[..n].to_vec());
                }
                Ok(_) => continue,
                Err(e) => {
                    return Err(format!(
                        "no frame within {wait:?} ({e}); {} sent, {} received",
                        self.sent, self.received
                    ));
                }
            }
        }
    }

    fn ip_to_client(&mut self, proto: u8, payload: &[u8]) {
        let f = frame::ethernet(DEVICE_MAC, PEER_MAC, 0x0800, &frame::ipv4(PEER_IP, CLIENT_IP, proto, payload));
        self.send(&f);
    }

    fn udp_to_client(&mut self, port: u16, data: &[u8], checksum: bool) {
        let d = frame::udp(PEER_IP, CLIENT_IP, PEER_PORT, port, data, checksum);
        self.ip_to_client(17, &d);
    }

    /// Expect the echo of `data` from the client's echo port.
    fn expect_udp_echo(&mut self, data: &[u8]) -> Result<(), String> {
        let f = self.recv(STEP)?;
        ensure!(
            head(&f) == [&PEER_MAC[..], &DEVICE_MAC[..], &[8, 0]].concat(),
            "UDP echo: Ethernet header {:02x?}",
            head(&f)
        );
        let frame::Packet { src, dst, proto, ttl, payload } = frame::read_ipv4(&f)?;
        ensure!(
            (src, dst, proto) == (CLIENT_IP, PEER_IP, 17) && ttl > 0,
            "UDP echo: IPv4 {src:?} -> {dst:?} proto {proto} ttl {ttl}"
        );
        ensure!(
            f.len() == 14 + 20 + payload.len(),
            "UDP echo: {} bytes after the IPv4 packet",
            f.len() - 34 - payload.len()
        );
        let (sport, dport, echoed) = frame::read_udp(src, dst, &payload)?;
        ensure!((sport, dport) == (ECHO_PORT, PEER_PORT), "UDP echo ports {sport} -> {dport}");
        ensure!(echoed == data, "UDP echo of {} bytes came back as {} bytes (or different)", data.len(), echoed.len());
        Ok(())
    }

    /// Expect the reply to a ping (ident, seq, data).
    fn expect_ping_reply(&mut self, ident: u16, seq: u16, data: &[u8]) -> Result<(), String> {
        let f = self.recv(STEP)?;
        ensure!(
            head(&f) == [&PEER_MAC[..], &DEVICE_MAC[..], &[8, 0]].concat(),
            "ping reply: Ethernet header {:02x?}",
            head(&f)
        );
        let frame::Packet { src, dst, proto, payload: icmp, .. } = frame::read_ipv4(&f)?;
        ensure!((src, dst, proto) == (CLIENT_IP, PEER_IP, 1), "ping reply: IPv4 {src:?} -> {dst:?} proto {proto}");
        ensure!(frame::inet_sum(&[&icmp]) == 0, "ping reply: bad ICMP checksum");
        let want = frame::icmp_echo(0, ident, seq, data);
        ensure!(icmp == want, "ping reply {seq}: {} bytes, not the {} expected", icmp.len(), want.len());
        Ok(())
    }
}

/// What the peer saw in the socket run.
#[derive(Debug)]
struct Tally {
    sent: usize,
    received: usize,
    late: usize,
    /// ARP requests for the gateway, retransmissions included.
    gateway_arp_requests: usize,
}

/// A broadcast ARP request (op 1) for the gateway's address.
fn is_gateway_arp_request(f: &[u8]) -> bool {
    f.len() >= 42 && f[..6] == [0xff; 6] && f[12..14] == [8, 6] && f[20..22] == [0, 1] && f[38..42] == GATEWAY_IP
}

/// The socket run: the script, then the gateway's part, which makes the
/// client pass and so ends the run. After a failure the gateway still
/// answers (if it can), so a failing run ends at once rather than at
/// sim's timeout.
fn converse(p: &mut Peer) -> Result<Tally, String> {
    if let Err(e) = script(p) {
        let _ = gateway(p, false);
        return Err(e);
    }
    gateway(p, true)?;
    // The client passes and the system stops; nothing else may come.
    let received = p.received;
    let mut late = 0;
    while p.recv(Duration::from_millis(500)).is_ok() {
        late += 1;
    }
    Ok(Tally { sent: p.sent, received, late, gateway_arp_requests: p.gateway_arp_requests })
}

/// The test proper. Every answer is checked the moment it comes; the
/// first failure ends the script.
fn script(p: &mut Peer) -> Result<(), String> {
    // 1. The client's own ARP request for its gateway comes first: the
    //    system is up.
    let f = p.recv(STARTUP)?;
    let want =
        frame::ethernet([0xff; 6], DEVICE_MAC, 0x0806, &frame::arp(1, DEVICE_MAC, CLIENT_IP, [0; 6], GATEWAY_IP));
    ensure!(f == want, "first frame is not the client's ARP request for 10.0.2.2: {f:02x?}");

    // 2. ARP: who has 10.0.2.15?
    p.send(&frame::ethernet([0xff; 6], PEER_MAC, 0x0806, &frame::arp(1, PEER_MAC, PEER_IP, [0; 6], CLIENT_IP)));
    let f = p.recv(STEP)?;
    let want = frame::ethernet(PEER_MAC, DEVICE_MAC, 0x0806, &frame::arp(2, DEVICE_MAC, CLIENT_IP, PEER_MAC, PEER_IP));
    ensure!(f == want, "ARP reply: {f:02x?}");

    // 3. Pings of several sizes, up to a full 1500-byte packet.
    let pattern: Vec<u8> = (0..1472u32).map(|i| (i * 31 + 7) as u8).collect();
    for (seq, len) in [0usize, 1, 56, 1000, 1472].into_iter().enumerate() {
        let seq = seq as u16 + 1;
        p.ip_to_client(1, &frame::icmp_echo(8, 0x4242, seq, &pattern[..len]));
        p.expect_ping_reply(0x4242, seq, &pattern[..len])?;
    }

    // 4. UDP echo, with and without a checksum, odd and even lengths.
    for (len, checksum) in [(0usize, true), (1, true), (2, false), (100, true), (1472, true)] {
        p.udp_to_client(ECHO_PORT, &pattern[..len], checksum);
        p.expect_udp_echo(&pattern[..len])?;
    }

    // 5. Frames the client must drop, each followed by a probe whose
    //    echo must be the very next frame (one queue, in order).
    let mut bad_udp = frame::udp(PEER_IP, CLIENT_IP, PEER_PORT, ECHO_PORT, b"corrupt", true);
    bad_udp[9] ^= 0x40;
    let mut bad_icmp = frame::icmp_echo(8, 1, 1, b"corrupt");
    bad_icmp[8] ^= 1;
    let mut bad_ip =
        frame::ipv4(PEER_IP, CLIENT_IP, 17, &frame::udp(PEER_IP, CLIENT_IP, PEER_PORT, ECHO_PORT, b"x", true));
    bad_ip[8] = 1; // TTL changed after the header checksum
    let drops: Vec<(&str, Vec<u8>)> = vec![
        (
            "UDP with a bad checksum",
            frame::ethernet(DEVICE_MAC, PEER_MAC, 0x0800, &frame::ipv4(PEER_IP, CLIENT_IP, 17, &bad_udp)),
        ),
        (
            "ICMP with a bad checksum",
            frame::ethernet(DEVICE_MAC, PEER_MAC, 0x0800, &frame::ipv4(PEER_IP, CLIENT_IP, 1, &bad_icmp)),
        ),
        ("IPv4 with a bad header checksum", frame::ethernet(DEVICE_MAC, PEER_MAC, 0x0800, &bad_ip)),
        (
            "UDP to a closed port",
            frame::ethernet(
                DEVICE_MAC,
                PEER_MAC,
                0x0800,
                &frame::ipv4(PEER_IP, CLIENT_IP, 17, &frame::udp(PEER_IP, CLIENT_IP, PEER_PORT, 9, b"x", true)),
            ),
        ),
        (
            "ping to another address",
            frame::ethernet(
                DEVICE_MAC,
                PEER_MAC,
                0x0800,
                &frame::ipv4(PEER_IP, [10, 0, 2, 16], 1, &frame::icmp_echo(8, 1, 1, b"x")),
            ),
        ),
        (
            "ping to another MAC",
            frame::ethernet(
                [0x02, 0, 0, 0, 0, 0x77],
                PEER_MAC,
                0x0800,
                &frame::ipv4(PEER_IP, CLIENT_IP, 1, &frame::icmp_echo(8, 1, 1, b"x")),
            ),
        ),
        (
            "ARP for another address",
            frame::ethernet([0xff; 6], PEER_MAC, 0x0806, &frame::arp(1, PEER_MAC, PEER_IP, [0; 6], [10, 0, 2, 16])),
        ),
        ("a runt frame", vec![0xff; 10]),
        ("IPv6", frame::ethernet(DEVICE_MAC, PEER_MAC, 0x86dd, &[0x60; 40])),
    ];
    for (i, (what, f)) in drops.iter().enumerate() {
        p.send(f);
        let probe = format!("probe after {what} ({i})");
        p.udp_to_client(ECHO_PORT, probe.as_bytes(), true);
        p.expect_udp_echo(probe.as_bytes()).map_err(|e| format!("after {what}: {e}"))?;
    }

    // 6. A stream kept 32 deep: every datagram echoed once, in order.
    let total = 300u32;
    let (mut next, mut done) = (0u32, 0u32);
    while done < total {
        while next < total && next - done < 32 {
            let data: Vec<u8> = [&next.to_be_bytes()[..], &pattern[..(next as usize * 37) % 1400]].concat();
            p.udp_to_client(ECHO_PORT, &data, true);
            next += 1;
        }
        let data: Vec<u8> = [&done.to_be_bytes()[..], &pattern[..(done as usize * 37) % 1400]].concat();
        p.expect_udp_echo(&data).map_err(|e| format!("stream datagram {done}: {e}"))?;
        done += 1;
    }
    Ok(())
}

/// The gateway answers the client's ARP request of step 1, checks the
/// ping that follows and answers it. `strict`: the ping must be the very
/// next frame (else, after a failure, anything before it is skipped).
fn gateway(p: &mut Peer, strict: bool) -> Result<(), String> {
    if strict {
        p.await_gateway_resend(STEP)?;
    }
    p.send(&frame::ethernet(
        DEVICE_MAC,
        GATEWAY_MAC,
        0x0806,
        &frame::arp(2, GATEWAY_MAC, GATEWAY_IP, DEVICE_MAC, CLIENT_IP),
    ));
    let icmp = loop {
        let f = p.recv(STEP)?;
        match gateway_ping(&f) {
            Ok(icmp) => break icmp,
            Err(e) if strict => return Err(e),
            Err(_) => continue,
        }
    };
    let reply =
        frame::icmp_echo(0, u16::from_be_bytes([icmp[4], icmp[5]]), u16::from_be_bytes([icmp[6], icmp[7]]), &icmp[8..]);
    p.send(&frame::ethernet(DEVICE_MAC, GATEWAY_MAC, 0x0800, &frame::ipv4(GATEWAY_IP, CLIENT_IP, 1, &reply)));
    Ok(())
}

/// The client's ping of the gateway, checked; its ICMP message.
fn gateway_ping(f: &[u8]) -> Result<Vec<u8>, String> {
    ensure!(
        head(f) == [&GATEWAY_MAC[..], &DEVICE_MAC[..], &[8, 0]].concat(),
        "gateway ping: Ethernet header {:02x?}",
        head(f)
    );
    let frame::Packet { src, dst, proto, payload: icmp, .. } = frame::read_ipv4(f)?;
    ensure!((src, dst, proto) == (CLIENT_IP, GATEWAY_IP, 1), "gateway ping: IPv4 {src:?} -> {dst:?} proto {proto}");
    ensure!(
        icmp.len() >= 8 && icmp[0] == 8 && icmp[1] == 0 && frame::inet_sum(&[&icmp]) == 0,
        "gateway ping: not a valid echo request"
    );
    Ok(icmp)
}

/// The Ethernet header of `f` (all of it if shorter).
fn head(f: &[u8]) -> &[u8] {
    f.get(..14).unwrap_or(f)
}

#[test]
fn a_peer_on_a_socket_gets_every_answer_and_nothing_else() {
    build();
    let dir = TempDir::new("net-socket");
    let mut p = Peer::new();
    let desc = dir.file("net.sim.toml", &p.description());
    let peer = std::thread::spawn(move || converse(&mut p));
    let run = sim("net.xml", &["--sim", desc.to_str().unwrap(), "--timeout", "90"]);
    let tally = peer
        .join()
        .expect("the peer")
        .unwrap_or_else(|e| panic!("peer: {e}\n--- stdout\n{}--- stderr\n{}", run.out, run.err));
    run.assert_code(0);
    // Sent: 1 ARP + 5 pings + 5 UDP + 9 drops with 9 probes + 300
    // stream + 2 gateway frames. Received: the client's ARP request, 1
    // ARP reply, 5 + 5 + 9 + 300 answers, the gateway ping.
    assert_eq!(tally.sent, 1 + 5 + 5 + 2 * 9 + 300 + 2, "{tally:?}");
    assert_eq!(tally.received, 1 + 1 + 5 + 5 + 9 + 300 + 1, "{tally:?}");
    assert_eq!(tally.late, 0, "frames after the last answer: {tally:?}");
    // sevio's own wiring, the shape sdfgen gives sDDF's echo_server: the
    // two lines come from two PDs, in either order.
    run.assert_lines(&[
        "net: client side from setvars: rx 512 buffers on channel 2, tx 1024 on channel 3, 2 data regions",
    ]);
    run.assert_lines(&["net_client: 10.0.2.15 at 52:54:00:12:34:56, udp echo on port 1234, 512 rx and 256 tx buffers"]);
    // The gateway answers only after the script and after the client's
    // first resend (it resends every 250 ms until answered).
    assert!(tally.gateway_arp_requests >= 2, "the unanswered ARP request was resent: {tally:?}");
    assert!(run.out.contains("net_client: no answer: sending again (try 1)"), "{}", run.out);
    run.assert_lines(&[
        "bus: net",
        "net: bound to Mmio { slot: 31 }",
        "net: mac 52:54:00:12:34:56",
        "net: modern device, link up, 12-byte header",
        "net: device ready",
        "net_client: gateway 10.0.2.2 is at 52:55:0a:00:02:02",
        "net_client: gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
        "sim: PASS",
    ]);
    assert!(run.lines_with("net: device failed").is_empty(), "the driver stopped:\n{}", run.out);
}

fn user_networking(desc: &str, legacy: bool) -> Run {
    build();
    let run = sim("net.xml", &["--sim", desc, "--timeout", "60"]);
    run.assert_code(0);
    let kind = if legacy { "legacy device, link up, 10-byte header" } else { "modern device, link up, 12-byte header" };
    run.assert_lines(&[
        "net: mac 52:54:00:12:34:56",
        kind,
        "net: device ready",
        "net_client: gateway 10.0.2.2 is at 52:55:0a:00:02:02",
        "net_client: gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
        "sim: PASS",
    ]);
    run
}

#[test]
fn the_client_pings_the_user_networking_gateway_on_its_own() {
    user_networking("net.sim.toml", false);
}

#[test]
fn packed_virtqueues_ping_the_gateway_too() {
    let run = user_networking("net-packed.sim.toml", false);
    run.assert_lines(&["net: packed virtqueues (VIRTIO_F_RING_PACKED)"]);
}

#[test]
fn a_legacy_device_in_another_slot_works_too() {
    let run = user_networking("net-legacy.sim.toml", true);
    run.assert_lines(&["mmio: slot 3: virtio-net (register version 1)", "net: bound to Mmio { slot: 3 }"]);
}

/// `.net_driver_config` as sdfgen writes it for net.xml's queues (the
/// maps of its net PD): rx 512 entries on channel `rx_id`, tx 1024 on
/// `tx_id`; and `.sevio_data_regions` listing the client's rx and tx data
/// (their physical addresses and sizes in net.xml).
fn net_sections(rx_id: u8, tx_id: u8) -> (Vec<u8>, Vec<u8>) {
    use sevio_sddf::Magic;
    use sevio_sddf::net::{RawNetConnection, RawNetDriverConfig};
    use sevio_sddf::resources::{RawDeviceResources, RawRegion};
    use zerocopy::IntoBytes;
    let region = |vaddr: u64, size: u64| RawRegion { vaddr: vaddr.into(), size: size.into() };
    let connection = |free: u64, active: u64, size: u64, n: u16, id| RawNetConnection {
        free_queue: region(free, size),
        active_queue: region(active, size),
        num_buffers: n.into(),
        id,
        _pad: [0; 5],
    };
    let config = RawNetDriverConfig {
        magic: Magic::Net.bytes(),
        _pad: [0; 3],
        virt_rx: connection(0x240_0000, 0x240_3000, 0x3000, 512, rx_id),
        virt_tx: connection(0x240_6000, 0x240_b000, 0x5000, 1024, tx_id),
    };
    let data = RawDeviceResources::unmapped(&[(0x4920_0000, 0x10_0000), (0x4930_0000, 0x8_0000)]).unwrap();
    (config.as_bytes().to_vec(), data.as_bytes().to_vec())
}

/// net.xml with the net driver's client side unwired (no queue or data
/// setvars) and its channels to the client renumbered 5 (rx) and 4 (tx),
/// so only the config sections can wire it; and net.sim.toml with those
/// sections for the net PD, in `dir`.
fn sddf_configured(dir: &TempDir, (config, data): (Vec<u8>, Vec<u8>)) -> (PathBuf, PathBuf) {
    let xml = std::fs::read_to_string(systems().join("net.xml")).unwrap();
    let start = xml.find(r#"<protection_domain name="net" "#).expect("the net PD");
    let end = start + xml[start..].find("</protection_domain>").unwrap();
    let mut pd = xml[start..end].to_string();
    for var in [
        r#" setvar_vaddr="rx_free_vaddr""#,
        r#" setvar_vaddr="rx_active_vaddr""#,
        r#" setvar_vaddr="tx_free_vaddr""#,
        r#" setvar_vaddr="tx_active_vaddr""#,
        r#" setvar_size="rx_data_size""#,
        r#" setvar_size="tx_data_size""#,
        r#"<setvar symbol="rx_data_paddr" region_paddr="net_rx_data" />"#,
        r#"<setvar symbol="tx_data_paddr" region_paddr="net_tx_data" />"#,
    ] {
        assert!(pd.contains(var), "{var}");
        pd = pd.replace(var, "");
    }
    let mut rest = xml[end..].to_string();
    for (own, renumbered) in [("2", "5"), ("3", "4")] {
        let end = format!(r#"<end pd="net" id="{own}" />"#);
        assert!(rest.contains(&end), "{end}");
        rest = rest.replace(&end, &format!(r#"<end pd="net" id="{renumbered}" />"#));
    }
    let system = dir.file("net-sddf.xml", &format!("{}{pd}{rest}", &xml[..start]));
    std::fs::write(dir.0.join("net_driver.data"), config).unwrap();
    std::fs::write(dir.0.join("net_data_regions.data"), data).unwrap();
    let text = std::fs::read_to_string(systems().join("net.sim.toml")).unwrap();
    let sections = "\n[[section]]\npd = \"net\"\nname = \".net_driver_config\"\nfile = \"net_driver.data\"\n\
                    \n[[section]]\npd = \"net\"\nname = \".sevio_data_regions\"\nfile = \"net_data_regions.data\"\n";
    let desc = dir.file("net-sddf.sim.toml", &format!("{text}{sections}"));
    (system, desc)
}

/// The client side the sDDF way: the driver takes its queues, capacities,
/// both peers' channels and its data regions from the sections alone, and
/// the client (playing both virtualisers) passes over user networking.
#[test]
fn config_sections_alone_wire_the_net_driver() {
    build();
    let dir = TempDir::new("net-sddf");
    let (system, desc) = sddf_configured(&dir, net_sections(5, 4));
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(0);
    run.assert_lines(&[
        "net: client side from .net_driver_config: rx 512 buffers on channel 5, tx 1024 on channel 4, 2 data regions",
        "net: device ready",
        "net_client: gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
        "sim: PASS",
    ]);
}

/// One channel named for both virtualisers (the wiring that left sDDF's
/// traffic waiting for the next frame) is refused: the driver says why
/// and serves nothing.
#[test]
fn a_config_naming_one_channel_for_both_peers_is_refused() {
    build();
    let dir = TempDir::new("net-sddf-bad");
    let (system, desc) = sddf_configured(&dir, net_sections(5, 5));
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "10"]);
    assert_ne!(run.lines_with("net: virt_tx.id = 5: named twice; not serving").len(), 0, "{}", run.out);
    assert!(run.lines_with("net_client: PASS").is_empty());
    assert!(run.lines_with("net: device ready").is_empty());
}

/// The benchmark system `make bench` runs (systems/net-bench.xml: two
/// hosts behind two net driver instances, their NICs on one QEMU hub):
/// every datagram of both phases (1000 datagrams, then 2 s) must come
/// back, checked; the BENCH lines are printed again without the PD
/// prefix. net-bench resends what goes unanswered (its timer), so a
/// datagram lost under load costs 250 ms, not the run.
#[test]
fn net_bench() {
    build();
    let system = workspace().join("systems/net-bench.xml");
    let run = sim(system.to_str().unwrap(), &["--timeout", "90"]);
    run.assert_code(0);
    run.assert_lines(&[
        "net_bench: 10.0.2.15 is at 52:54:00:12:34:56",
        "net_bench: 1000 datagrams echoed (1024000 payload bytes)",
        "BENCH net_udp_echo_fps",
        "BENCH net_udp_echo_mbps",
        "datagrams echoed",
        "BENCH net_timed_udp_echo_fps",
        "BENCH net_timed_udp_echo_mbps",
        "net_bench: PASS",
    ]);
    let timed = run.lines_with("datagrams echoed")[1];
    let ms: f64 = timed.split(" in ").nth(1).and_then(|t| t.split(' ').next()).and_then(|t| t.parse().ok()).unwrap();
    assert!((2000.0..4000.0).contains(&ms), "the timed phase lasts its 2 s (plus draining): {timed}");
    assert!(run.lines_with("datagrams echoed").iter().all(|l| l.ends_with(", 0 wrong")), "{}", run.out);
    for line in run.lines_with(": BENCH ") {
        println!("{}", &line[line.find("BENCH").unwrap()..]);
    }
}

/// A gateway that never answers (the NIC alone on a QEMU hub): the client
/// resends its ARP request, backing off, and then fails with a clear
/// reason instead of waiting for sim's timeout.
#[test]
fn an_unanswered_client_gives_up_with_a_clear_fail() {
    build();
    let dir = TempDir::new("net-silent");
    let desc = dir.file(
        "net-silent.sim.toml",
        "expect_pass = [\"net_client\"]\n[[device]]\ndriver = \"virtio-net-device\"\n\
         netdev = { type = \"hubport\", hubid = 0 }\nproperties = { mac = \"52:54:00:12:34:56\" }\n",
    );
    let run = sim("net.xml", &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(1);
    run.assert_lines(&[
        "net_client: no answer: sending again (try 1)",
        "net_client: no answer: sending again (try 8)",
        "net_client: no ARP reply from the target after 9 tries: giving up",
        "net_client: FAIL: no answer after retransmitting",
        "sim: FAIL: net_client reported FAIL",
    ]);
}

/// net-bench-peer.xml against the host's echo peer, with `image` as
/// net_bench's program: the run passes, prints its BENCH lines with
/// `prefix`, and the peer echoed at least every datagram the count phase
/// and the timed phase report.
fn bench_against_the_host_peer(image: &str, prefix: &str, size: usize) {
    build();
    let dir = TempDir::new(&format!("net-bench-peer-{image}"));
    let text = std::fs::read_to_string(workspace().join("systems/net-bench-peer.xml")).unwrap();
    let system = dir.file(
        "net-bench-peer.xml",
        &text.replace(r#"<program_image path="net-bench" />"#, &format!(r#"<program_image path="{image}" />"#)),
    );
    let peer = EchoPeer::start().unwrap();
    let desc = dir.file(
        "net-bench-peer.sim.toml",
        &format!(
            "expect_pass = [\"net_bench\"]\n\n[[device]]\ndriver = \"virtio-net-device\"\n\
             netdev = {{ type = \"socket\", udp = \"127.0.0.1:{}\", localaddr = \"127.0.0.1:{}\" }}\n\
             properties = {{ mac = \"52:54:00:12:34:57\" }}\n",
            peer.port(),
            peer.qemu_port()
        ),
    );
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "90"]);
    let stats = peer.stop();
    run.assert_code(0);
    run.assert_lines(&[
        "net_bench: 10.0.2.15 is at 52:54:00:12:34:56",
        &format!("net_bench: 1000 datagrams echoed ({} payload bytes)", 1000 * size),
        &format!("BENCH net_{prefix}udp_echo_fps"),
        &format!("BENCH net_{prefix}timed_udp_echo_fps"),
        &format!("BENCH net_{prefix}timed_udp_echo_mbps"),
        "net_bench: PASS",
    ]);
    let echoed: u64 = run
        .lines_with("datagrams echoed")
        .iter()
        .map(|l| l.split("net_bench: ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(stats.udp_echoed >= echoed, "the peer echoed {} of the {echoed} datagrams counted", stats.udp_echoed);
    assert_eq!((stats.arp_replies, stats.malformed), (1, 0), "{stats:?}");
}

#[test]
fn net_bench_streams_through_the_host_peer() {
    bench_against_the_host_peer("net-bench", "", 1024);
}

#[test]
fn net_bench_rr_round_trips_through_the_host_peer() {
    bench_against_the_host_peer("net-bench-rr", "rr_", 64);
}
