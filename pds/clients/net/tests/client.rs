//! The host and the client against hand-made frames and a fake driver
//! end of the four queues (rx queues of 512, tx of 1024, as sdfgen sizes
//! a net driver's; buffers by I/O address in two data regions).

use sevio_client_net::client::{Data, NetClient, Notify, Queues};
use sevio_client_net::stack::{
    Config, Event, FLOOD_PORT, Flood, Handled, MAX_TRIES, PING_DATA, PING_IDENT, Retransmit, Stack, Target, Traffic,
    flood_byte,
};
use sevio_client_net::wire;
use sevio_queue::{NetBuffer, NetConsumer, NetProducer};
use sevio_sharedmem::{HeapRegion, SharedMemory};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const IP: [u8; 4] = [10, 0, 2, 15];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
const PEER_IP: [u8; 4] = [10, 0, 2, 99];
const GW_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
const GW: [u8; 4] = [10, 0, 2, 2];

fn config(gateway: bool) -> Config {
    Config { mac: MAC, ip: IP, echo_port: 1234, target: gateway.then_some(Target { ip: GW, traffic: Traffic::Ping }) }
}

/// An ARP request from the peer for `target`, as bytes (no helpers).
fn arp_request(target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(PEER_MAC);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(PEER_MAC);
    f.extend(PEER_IP);
    f.extend([0; 6]);
    f.extend(target);
    f.resize(60, 0); // padded to the Ethernet minimum
    f
}

fn ip_frame(dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], proto: u8, body: &[u8]) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend(PEER_MAC);
    f.extend([0x08, 0x00]);
    let mut ip = [0u8; 20];
    wire::emit_ipv4(&mut ip, src, dst, proto, 77, body.len()).unwrap();
    f.extend(ip);
    f.extend(body);
    f
}

fn ping(dst: [u8; 4], ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut icmp = vec![0u8; 8 + data.len()];
    wire::emit_echo(&mut icmp, &wire::Echo { kind: 8, ident, seq, data }).unwrap();
    ip_frame(MAC, PEER_IP, dst, 1, &icmp)
}

fn udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    udp_from(PEER_IP, 40000, dst_port, payload)
}

fn udp_from(src: [u8; 4], src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 8 + payload.len()];
    wire::emit_udp(&mut d, src, IP, &wire::Udp { src_port, dst_port, payload }).unwrap();
    ip_frame(MAC, src, IP, 17, &d)
}

fn handle(s: &mut Stack, frame: &[u8]) -> (Handled, Vec<u8>) {
    let mut out = [0u8; 2048];
    let h = s.handle(frame, &mut out);
    let reply = h.reply.map(|n| out[..n].to_vec()).unwrap_or_default();
    (h, reply)
}

#[test]
fn answers_arp_for_its_address_only() {
    let mut s = Stack::new(config(false));
    let (h, reply) = handle(&mut s, &arp_request(IP));
    assert_eq!(h.event, None);
    let mut want = PEER_MAC.to_vec();
    want.extend(MAC);
    want.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    want.extend(MAC);
    want.extend(IP);
    want.extend(PEER_MAC);
    want.extend(PEER_IP);
    assert_eq!(reply, want, "golden ARP reply");
    let (h, _) = handle(&mut s, &arp_request([10, 0, 2, 16]));
    assert_eq!(h, Handled::default(), "someone else's address");
    let (h, _) = handle(&mut s, &arp_request(IP)[..41]);
    assert_eq!(h, Handled::default(), "truncated");
    assert_eq!((s.stats.arp_replies, s.stats.ignored, s.stats.malformed), (1, 1, 1));
}

#[test]
fn answers_ping_with_the_same_data_and_a_valid_checksum() {
    let mut s = Stack::new(config(false));
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    for len in [0, 1, 31, 1000] {
        let (_, reply) = handle(&mut s, &ping(IP, 0xbeef, len as u16, &data[..len]));
        let eth = wire::parse_ethernet(&reply).unwrap();
        assert_eq!((eth.dst, eth.src, eth.ethertype), (PEER_MAC, MAC, 0x0800));
        let ip = wire::parse_ipv4(eth.payload).unwrap();
        assert_eq!((ip.src, ip.dst, ip.proto, ip.ttl), (IP, PEER_IP, 1, 64));
        let icmp = ip.payload;
        assert_eq!(wire::checksum(icmp), 0, "ICMP checksum over the whole message");
        assert_eq!(icmp[0..2], [0, 0], "echo reply, code 0");
        assert_eq!(icmp[4..8], [0xbe, 0xef, (len >> 8) as u8, len as u8]);
        assert_eq!(&icmp[8..], &data[..len]);
    }
    let mut bad = ping(IP, 1, 1, b"x");
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let (h, _) = handle(&mut s, &bad);
    assert_eq!(h.reply, None, "bad ICMP checksum: dropped");
    let (h, _) = handle(&mut s, &ping([10, 0, 2, 16], 1, 1, b"x"));
    assert_eq!(h.reply, None, "not our address");
    assert_eq!((s.stats.pings_answered, s.stats.malformed, s.stats.ignored), (4, 1, 1));
}

#[test]
fn echoes_udp_on_its_port_only() {
    let mut s = Stack::new(config(false));
    let (h, reply) = handle(&mut s, &udp(1234, b"hello, sevio"));
    assert_eq!(h.event, Some(Event::Echoed(12)));
    let ip = wire::parse_ipv4(&reply[14..]).unwrap();
    assert_eq!((ip.src, ip.dst), (IP, PEER_IP));
    let u = wire::parse_udp(&ip).unwrap();
    assert_eq!((u.src_port, u.dst_port, u.payload), (1234, 40000, &b"hello, sevio"[..]));
    assert_ne!(ip.payload[6..8], [0, 0], "a checksum is sent");
    let (h, _) = handle(&mut s, &udp(FLOOD_PORT, b"not flooding"));
    assert_eq!(h, Handled::default());
    let (h, _) = handle(&mut s, &udp(9, b"discard"));
    assert_eq!(h, Handled::default());
    let mut corrupt = udp(1234, b"abc");
    let n = corrupt.len();
    corrupt[n - 2] ^= 1;
    assert_eq!(handle(&mut s, &corrupt).0, Handled::default(), "bad UDP checksum");
    let mut other_mac = udp(1234, b"abc");
    other_mac[0] = 0x02;
    assert_eq!(handle(&mut s, &other_mac).0, Handled::default(), "another host's frame");
    assert_eq!((s.stats.udp_echoed, s.stats.malformed, s.stats.ignored), (1, 1, 3));
}

#[test]
fn resolves_and_pings_the_gateway_once() {
    let mut s = Stack::new(config(true));
    let mut out = [0u8; 2048];
    let n = s.poll_send(&mut out).unwrap();
    let arp = wire::parse_arp(&out[14..n]).unwrap();
    assert_eq!(out[..6], [0xff; 6]);
    assert_eq!((arp.op, arp.sha, arp.spa, arp.tpa), (1, MAC, IP, GW));
    assert_eq!(s.poll_send(&mut out), None, "only once");

    let mut reply = MAC.to_vec();
    reply.extend(GW_MAC);
    reply.extend([0x08, 0x06]);
    let mut a = [0u8; 28];
    wire::emit_arp(&mut a, &wire::Arp { op: 2, sha: GW_MAC, spa: GW, tha: MAC, tpa: IP }).unwrap();
    reply.extend(a);
    let (h, _) = handle(&mut s, &reply);
    assert_eq!(h, Handled { reply: None, event: Some(Event::TargetResolved(GW_MAC)) });
    let n = s.poll_send(&mut out).unwrap();
    let echo = out[..n].to_vec();
    assert_eq!(s.poll_send(&mut out), None, "one ping");
    let eth = wire::parse_ethernet(&echo).unwrap();
    assert_eq!(eth.dst, GW_MAC);
    let ip = wire::parse_ipv4(eth.payload).unwrap();
    assert_eq!(ip.dst, GW);
    let e = wire::parse_echo(ip.payload).unwrap();
    assert_eq!((e.kind, e.ident, e.seq, e.data), (8, PING_IDENT, 1, &PING_DATA[..]));
    assert_eq!(handle(&mut s, &reply).0, Handled::default(), "a second ARP reply changes nothing");

    // The gateway's answer (built from the request: type 0, same rest).
    let mut icmp = ip.payload.to_vec();
    icmp[0] = 0;
    icmp[2..4].copy_from_slice(&[0, 0]);
    let sum = wire::checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut answer = ip_frame(MAC, GW, IP, 1, &icmp);
    answer[6..12].copy_from_slice(&GW_MAC);
    assert_eq!(handle(&mut s, &answer).0, Handled { reply: None, event: Some(Event::TargetAnswered(GW_MAC)) });
    assert_eq!(handle(&mut s, &answer).0, Handled::default(), "answered once");
}

/// The target's ARP reply to the host.
fn arp_reply_from(mac: [u8; 6], ip: [u8; 4]) -> Vec<u8> {
    let mut f = MAC.to_vec();
    f.extend(mac);
    f.extend([0x08, 0x06]);
    let mut a = [0u8; 28];
    wire::emit_arp(&mut a, &wire::Arp { op: 2, sha: mac, spa: ip, tha: MAC, tpa: IP }).unwrap();
    f.extend(a);
    f
}

#[test]
fn a_flood_keeps_its_depth_and_checks_every_echo() {
    let flood = Flood { count: 5, depth: 2, size: 10, port: 1234 };
    let cfg = Config { target: Some(Target { ip: PEER_IP, traffic: Traffic::Flood(flood) }), ..config(false) };
    let mut s = Stack::new(cfg);
    let mut out = [0u8; 2048];
    assert!(s.poll_send(&mut out).is_some(), "the ARP request");
    assert_eq!(handle(&mut s, &arp_reply_from(PEER_MAC, PEER_IP)).0.event, Some(Event::TargetResolved(PEER_MAC)));
    // Two datagrams go out, then the window is full.
    let mut sent = Vec::new();
    let mut send_all = |s: &mut Stack, sent: &mut Vec<Vec<u8>>| {
        while let Some(n) = s.poll_send(&mut out) {
            let ip = wire::parse_ipv4(&out[14..n]).unwrap();
            assert_eq!((ip.dst, out[..6].to_vec()), (PEER_IP, PEER_MAC.to_vec()));
            let u = wire::parse_udp(&ip).unwrap();
            assert_eq!((u.src_port, u.dst_port), (FLOOD_PORT, 1234));
            sent.push(u.payload.to_vec());
        }
    };
    send_all(&mut s, &mut sent);
    assert_eq!(sent.len(), 2);
    let payload = |seq: u16| (0..10).map(|i| flood_byte(seq, i)).collect::<Vec<u8>>();
    assert_eq!(sent, [payload(0), payload(1)]);
    let echo = |seq: u16| udp_from(PEER_IP, 1234, FLOOD_PORT, &payload(seq));
    // Out of order is fine; the window slides once 0 is back.
    assert_eq!(handle(&mut s, &echo(1)).0.event, Some(Event::FloodReply(10)));
    send_all(&mut s, &mut sent);
    assert_eq!(sent.len(), 2, "0 still in flight: no room");
    assert_eq!(handle(&mut s, &echo(0)).0.event, Some(Event::FloodReply(10)));
    send_all(&mut s, &mut sent);
    assert_eq!(sent.len(), 4);
    // Echoes that do not count: a duplicate (of a datagram answered
    // already: counted as such, not as wrong), one never sent, one with
    // other data, one from another host.
    let mut wrong_data = payload(2);
    wrong_data[5] ^= 1;
    for f in [
        echo(0),
        echo(4),
        udp_from(PEER_IP, 1234, FLOOD_PORT, &wrong_data),
        udp_from(GW, 1234, FLOOD_PORT, &payload(2)),
    ] {
        assert_eq!(handle(&mut s, &f).0.event, None);
    }
    for seq in [2, 3] {
        assert_eq!(handle(&mut s, &echo(seq)).0.event, Some(Event::FloodReply(10)));
        send_all(&mut s, &mut sent);
    }
    assert_eq!(sent.len(), 5, "all five sent, never more");
    assert_eq!(
        handle(&mut s, &echo(4)).0.event,
        Some(Event::FloodDone { bad: 2 }),
        "the other host's echo is not ours to judge; a duplicate is not wrong"
    );
    assert_eq!(s.flood_counts(), (5, 5, 1));
    send_all(&mut s, &mut sent);
    assert_eq!(sent.len(), 5);
}

/// The driver's ends of the queues, and the regions.
struct Driver {
    _heaps: Vec<HeapRegion>,
    rx_free: NetConsumer,
    rx_active: NetProducer,
    tx_free: NetProducer,
    tx_active: NetConsumer,
    rx: SharedMemory,
    tx: SharedMemory,
}

/// I/O addresses of the client's rx and tx regions.
const RX_IO: u64 = 0x4920_0000;
const TX_IO: u64 = 0x4930_0000;
const RX_CAP: u32 = 512;
const TX_CAP: u32 = 1024;

/// The offset in its region of a buffer the client named by I/O address.
fn offset(io_addr: u64, base: u64) -> usize {
    (io_addr - base) as usize
}

fn client(gateway: bool, data_size: usize) -> (NetClient, Driver) {
    let heaps: Vec<HeapRegion> = [0x3000, 0x3000, 0x5000, 0x5000].map(HeapRegion::new).into();
    let (rx, tx) = (HeapRegion::new(data_size), HeapRegion::new(data_size));
    let m: Vec<SharedMemory> = heaps.iter().map(HeapRegion::memory).collect();
    let q = Queues {
        rx_free: NetProducer::new(m[0], RX_CAP).unwrap(),
        rx_active: NetConsumer::new(m[1], RX_CAP).unwrap(),
        tx_free: NetConsumer::new(m[2], TX_CAP).unwrap(),
        tx_active: NetProducer::new(m[3], TX_CAP).unwrap(),
    };
    let data = Data { rx: rx.memory(), rx_io: RX_IO, tx: tx.memory(), tx_io: TX_IO };
    let c = NetClient::new(q, data, Stack::new(config(gateway)));
    let d = Driver {
        rx_free: NetConsumer::new(m[0], RX_CAP).unwrap(),
        rx_active: NetProducer::new(m[1], RX_CAP).unwrap(),
        tx_free: NetProducer::new(m[2], TX_CAP).unwrap(),
        tx_active: NetConsumer::new(m[3], TX_CAP).unwrap(),
        rx: rx.memory(),
        tx: tx.memory(),
        _heaps: {
            let mut h = heaps;
            h.extend([rx, tx]);
            h
        },
    };
    (c, d)
}

fn drain(c: &mut NetConsumer) -> Vec<NetBuffer> {
    std::iter::from_fn(|| c.dequeue().unwrap()).collect()
}

#[test]
fn start_posts_every_rx_buffer_and_the_gateway_arp() {
    let (mut c, mut d) = client(true, 0x10_0000);
    assert_eq!(c.buffers(), (512, 512), "rx: the whole queue, as sDDF's rx virtualiser; tx: what the region holds");
    let mut events = Vec::new();
    let notify = c.start(&mut |e| events.push(e));
    assert_eq!(notify, Notify { rx: true, tx: true }, "each side of the driver on its own channel");
    assert_eq!(d.rx_free.len(), Ok(512), "rx free full: tail - head == capacity");
    let free = drain(&mut d.rx_free);
    assert!(free.iter().enumerate().all(|(i, b)| b.io_or_offset == RX_IO + i as u64 * 2048 && b.len == 0));
    let tx = drain(&mut d.tx_active);
    assert_eq!(tx.len(), 1);
    let mut frame = vec![0u8; tx[0].len as usize];
    d.tx.copy_out(offset(tx[0].io_or_offset, TX_IO), &mut frame).unwrap();
    assert_eq!(wire::parse_arp(&frame[14..]).unwrap().tpa, GW);
    assert_eq!(c.tx_buffers_free(), 511);
    assert!(events.is_empty());
}

#[test]
fn a_received_frame_is_answered_and_its_buffer_reposted() {
    let (mut c, mut d) = client(false, 0x4000); // 8 buffers
    assert_eq!(c.buffers(), (8, 8));
    c.start(&mut |_| {});
    let free = drain(&mut d.rx_free);
    assert_eq!(free.len(), 8);
    let frame = udp(1234, b"ping-pong");
    d.rx.copy_in(3 * 2048, &frame).unwrap();
    d.rx_active.enqueue(NetBuffer { io_or_offset: RX_IO + 3 * 2048, len: frame.len() as u16, oid: 4 }).unwrap();
    let mut events = Vec::new();
    // The rx side was told at start and has not asked again (its flag is
    // still set); the tx side has never been told.
    assert_eq!(c.notified(&mut |e| events.push(e)), Notify { rx: false, tx: true });
    assert_eq!(events, [Event::Echoed(9)]);
    assert_eq!(drain(&mut d.rx_free), [NetBuffer { io_or_offset: RX_IO + 3 * 2048, len: 0, oid: 4 }]);
    let tx = drain(&mut d.tx_active);
    assert_eq!(tx.len(), 1);
    assert!(tx[0].io_or_offset >= TX_IO, "a tx buffer, by its I/O address");
    let mut reply = vec![0u8; tx[0].len as usize];
    d.tx.copy_out(offset(tx[0].io_or_offset, TX_IO), &mut reply).unwrap();
    let ip = wire::parse_ipv4(&reply[14..]).unwrap();
    assert_eq!(wire::parse_udp(&ip).unwrap().payload, b"ping-pong");
    assert_eq!(c.tx_buffers_free(), 7);
    // The driver returns it; the next wake-up takes it back.
    d.tx_free.enqueue(tx[0]).unwrap();
    c.notified(&mut |_| {});
    assert_eq!(c.tx_buffers_free(), 8);
    assert_eq!((c.stats.rx_frames, c.stats.tx_frames), (1, 1));
}

#[test]
fn bad_descriptors_from_the_driver_are_dropped() {
    let (mut c, mut d) = client(false, 0x4000);
    c.start(&mut |_| {});
    drain(&mut d.rx_free);
    for b in [
        NetBuffer { io_or_offset: RX_IO + 100, len: 60, oid: 0 }, // not a buffer start
        NetBuffer { io_or_offset: RX_IO + 8 * 2048, len: 60, oid: 0 }, // not ours
        NetBuffer { io_or_offset: RX_IO, len: 2049, oid: 0 },     // longer than a buffer
        NetBuffer { io_or_offset: 2048, len: 60, oid: 0 },        // an offset, no I/O address
        NetBuffer { io_or_offset: TX_IO, len: 60, oid: 0 },       // a tx buffer on rx
    ] {
        d.rx_active.enqueue(b).unwrap();
    }
    d.rx_active.enqueue(NetBuffer { io_or_offset: RX_IO + 2048, len: 0, oid: 0 }).unwrap(); // unused: reposted
    d.tx_free.enqueue(NetBuffer { io_or_offset: TX_IO, len: 0, oid: 0 }).unwrap(); // we hold it already
    d.tx_free.enqueue(NetBuffer { io_or_offset: RX_IO, len: 0, oid: 0 }).unwrap(); // an rx buffer on tx
    c.notified(&mut |_| {});
    assert_eq!(c.stats.bad_descriptors, 7);
    assert_eq!(c.stats.empty_frames, 1);
    assert_eq!(drain(&mut d.rx_free), [NetBuffer { io_or_offset: RX_IO + 2048, len: 0, oid: 0 }]);
    assert_eq!(c.tx_buffers_free(), 8, "the duplicate did not add a buffer");
    assert!(drain(&mut d.tx_active).is_empty());
}

#[test]
fn out_of_tx_buffers_it_asks_for_tx_free_signals() {
    let (mut c, mut d) = client(false, 0x1000); // 2 buffers
    c.start(&mut |_| {});
    drain(&mut d.rx_free);
    for round in 0..3u64 {
        let frame = udp(1234, &[round as u8; 10]);
        let slot = round % 2;
        d.rx.copy_in(slot as usize * 2048, &frame).unwrap();
        let io_or_offset = RX_IO + slot * 2048;
        d.rx_active.enqueue(NetBuffer { io_or_offset, len: frame.len() as u16, oid: 0 }).unwrap();
        c.notified(&mut |_| {});
        drain(&mut d.rx_free);
    }
    assert_eq!(c.stats.tx_no_buffer, 1, "two buffers, three replies");
    assert_eq!(c.tx_buffers_free(), 0);
    // The client asked for a signal on tx free (flag cleared): the driver
    // must notify when it returns one.
    d.tx_free.stage(drain(&mut d.tx_active)[0]).unwrap();
    assert_eq!(d.tx_free.require_signal(), Ok(true));
}

#[test]
fn an_unanswered_arp_request_is_resent_until_the_stack_gives_up() {
    let cfg = Config { target: Some(Target { ip: GW, traffic: Traffic::Ping }), ..config(false) };
    let mut s = Stack::new(cfg);
    let mut out = [0u8; 2048];
    assert!(s.poll_send(&mut out).is_some(), "the ARP request");
    assert!(s.poll_send(&mut out).is_none());
    for try_no in 1..=MAX_TRIES {
        assert_eq!(s.retransmit_due(), Retransmit::Resent(try_no));
        let n = s.poll_send(&mut out).expect("the ARP request again");
        assert_eq!(&out[12..14], &[0x08, 0x06]);
        assert!(n >= 42);
        assert!(s.poll_send(&mut out).is_none(), "once per try");
    }
    assert_eq!(s.retransmit_due(), Retransmit::GaveUp("ARP reply from the target"));
}

#[test]
fn a_lost_flood_datagram_is_resent_and_an_answer_in_between_is_progress() {
    let flood = Flood { count: 3, depth: 2, size: 10, port: 1234 };
    let cfg = Config { target: Some(Target { ip: PEER_IP, traffic: Traffic::Flood(flood) }), ..config(false) };
    let mut s = Stack::new(cfg);
    let mut out = [0u8; 2048];
    s.poll_send(&mut out).unwrap();
    assert_eq!(s.retransmit_due(), Retransmit::Resent(1), "no ARP reply yet");
    s.poll_send(&mut out).unwrap();
    handle(&mut s, &arp_reply_from(PEER_MAC, PEER_IP));
    assert_eq!(s.retransmit_due(), Retransmit::Progressed, "the ARP reply was progress");
    let mut seqs = |s: &mut Stack| {
        let mut v = Vec::new();
        while let Some(n) = s.poll_send(&mut out) {
            let ip = wire::parse_ipv4(&out[14..n]).unwrap();
            let u = wire::parse_udp(&ip).unwrap();
            v.push(u16::from_be_bytes([u.payload[0], u.payload[1]]));
        }
        v
    };
    assert_eq!(seqs(&mut s), [0, 1]);
    let payload = |seq: u16| (0..10).map(|i| flood_byte(seq, i)).collect::<Vec<u8>>();
    let echo = |seq: u16| udp_from(PEER_IP, 1234, FLOOD_PORT, &payload(seq));
    // 0 is lost; 1 comes back (progress), then nothing.
    assert_eq!(handle(&mut s, &echo(1)).0.event, Some(Event::FloodReply(10)));
    assert_eq!(seqs(&mut s), [] as [u16; 0], "0 still in flight: the window is full");
    assert_eq!(s.retransmit_due(), Retransmit::Progressed);
    assert_eq!(s.retransmit_due(), Retransmit::Resent(1));
    assert_eq!(seqs(&mut s), [0], "only the datagram still outstanding");
    assert_eq!(handle(&mut s, &echo(0)).0.event, Some(Event::FloodReply(10)));
    assert_eq!(seqs(&mut s), [2]);
    // The original 0 turns up late: a duplicate.
    assert_eq!(handle(&mut s, &echo(0)).0.event, None);
    assert_eq!(handle(&mut s, &echo(2)).0.event, Some(Event::FloodDone { bad: 0 }));
    assert_eq!(s.flood_counts(), (3, 3, 1));
    assert_eq!(s.retransmit_due(), Retransmit::Idle, "done: nothing awaited");
}

#[test]
fn a_stopped_flood_ends_when_the_last_in_flight_is_back() {
    let flood = Flood { count: 100, depth: 4, size: 10, port: 1234 };
    let cfg = Config { target: Some(Target { ip: PEER_IP, traffic: Traffic::Flood(flood) }), ..config(false) };
    let mut s = Stack::new(cfg);
    let mut out = [0u8; 2048];
    s.poll_send(&mut out).unwrap();
    handle(&mut s, &arp_reply_from(PEER_MAC, PEER_IP));
    let mut sent = 0;
    while s.poll_send(&mut out).is_some() {
        sent += 1;
    }
    assert_eq!(sent, 4, "up to the depth");
    let payload = |seq: u16| (0..10).map(|i| flood_byte(seq, i)).collect::<Vec<u8>>();
    let echo = |seq: u16| udp_from(PEER_IP, 1234, FLOOD_PORT, &payload(seq));
    handle(&mut s, &echo(0));
    assert_eq!(s.stop_flood(), None, "three still in flight");
    assert!(s.poll_send(&mut out).is_none(), "stopped: nothing new");
    handle(&mut s, &echo(1));
    handle(&mut s, &echo(2));
    assert_eq!(handle(&mut s, &echo(3)).0.event, Some(Event::FloodDone { bad: 0 }));
}
