//! The vsock driver PD against the real transport core and a mock
//! virtio-vsock device (`sevio_driver_core::harness`): the test plays the
//! host (context id 2) on the device side of the queues.

use sevio_driver_core::DriverStatus;
use sevio_driver_core::harness::Harness;
use sevio_driver_vsock::{EVENT_BUFFERS, QUEUE_SIZE, RX_BUFFER_SIZE, RX_CREDIT, VsockDriver, VsockSetvars};
use sevio_queue::vsock::{
    CONTROL_SIZE, ClientPort, CloseReason, DATA_SIZE, Endpoints, Event, Payload, Refusal, Request, SHUT_BOTH,
};
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::device::vsock::{HEADER_SIZE, Header, Op, Packet, TYPE_STREAM};

const F_STREAM: u64 = 1;
const F_VERSION_1: u64 = 1 << 32;
const GUEST: u64 = 3;
const HOST: u64 = 2;
const LISTEN_PORT: u32 = 1234;
const HOST_PORT: u32 = 50000;

struct Rig {
    h: Harness<VsockDriver>,
    client: ClientPort,
}

fn packet(op: Op, src_port: u32, dst_port: u32, len: u32) -> Header {
    Header {
        src_cid: HOST,
        dst_cid: GUEST,
        src_port,
        dst_port,
        len,
        kind: TYPE_STREAM,
        op: op as u16,
        flags: 0,
        buf_alloc: 1 << 20,
        fwd_cnt: 0,
    }
}

impl Rig {
    fn with_cid(cid: u64) -> Rig {
        let device = MockDevice::new(19, 2, F_STREAM | F_VERSION_1, 3, QUEUE_SIZE as u16);
        device.state().config = cid.to_le_bytes().to_vec();
        let mut h = Harness::<VsockDriver>::new("vsock", device, |mem| VsockSetvars {
            control: mem.region("vsock_control", CONTROL_SIZE, 0),
        });
        let client = ClientPort::new(h.memory(h.vars.control)).unwrap();
        h.bind();
        Rig { h, client }
    }

    fn ready() -> Rig {
        let rig = Rig::with_cid(GUEST);
        let mut rig = rig;
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        rig
    }

    fn post(&mut self, request: Request) {
        self.client.post(&request).unwrap();
        self.h.client_notifies();
    }

    fn events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = self.client.next_event().unwrap() {
            out.push(e.expect("the driver's events decode"));
        }
        // The client consumed them: tell the driver, as a client does.
        self.h.client_notifies();
        out
    }

    /// The host's packet `bytes` in the next rx buffer, the device saying
    /// it wrote `written` bytes.
    fn host_sends_raw(&mut self, bytes: &[u8], written: u32) {
        let chain = self.h.device.pop_avail(0).expect("an rx buffer");
        assert!(chain.bufs[0].writable && chain.bufs[0].len == RX_BUFFER_SIZE as u32);
        self.h.device.write(chain.bufs[0].addr, bytes);
        self.h.device.push_used(0, chain.head as u32, written);
        self.h.interrupt(0);
    }

    fn host_sends(&mut self, h: Header, payload: &[u8]) {
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(payload);
        let n = bytes.len() as u32;
        self.host_sends_raw(&bytes, n);
    }

    /// Every packet the driver sent, (header, payload); buffers returned.
    fn host_receives(&mut self) -> Vec<(Header, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(chain) = self.h.device.pop_avail(1) {
            let b = chain.bufs[0];
            assert!(!b.writable, "tx buffers are device-readable");
            let mut bytes = vec![0u8; b.len as usize];
            self.h.device.read(b.addr, &mut bytes);
            let p = Packet::parse(&bytes).expect("the driver's packets parse");
            assert_eq!((p.header.src_cid, p.header.dst_cid, p.header.kind), (GUEST, HOST, TYPE_STREAM));
            out.push((p.header, p.payload.to_vec()));
            self.h.device.push_used(1, chain.head as u32, 0);
        }
        self.h.interrupt(1);
        out
    }

    fn ops(&mut self) -> Vec<Op> {
        self.host_receives().iter().map(|(h, _)| Op::from_wire(h.op).unwrap()).collect()
    }

    /// Listen on LISTEN_PORT; the host connects from `host_port` with
    /// `buf_alloc`; returns the socket.
    fn accepted(&mut self, host_port: u32, buf_alloc: u32) -> u32 {
        self.post(Request::Listen { port: LISTEN_PORT });
        assert_eq!(self.events(), [Event::Listening { port: LISTEN_PORT }]);
        self.host_sends(Header { buf_alloc, ..packet(Op::Request, host_port, LISTEN_PORT, 0) }, &[]);
        let socket = match self.events().as_slice() {
            [Event::Accepted(Endpoints { socket, local_port: LISTEN_PORT, peer_cid: HOST, peer_port })]
                if *peer_port == host_port =>
            {
                *socket
            }
            other => panic!("{other:?}"),
        };
        let sent = self.host_receives();
        assert_eq!(sent.len(), 1);
        let (h, _) = sent[0];
        assert_eq!((h.op, h.src_port, h.dst_port), (Op::Response as u16, LISTEN_PORT, host_port));
        assert_eq!((h.buf_alloc, h.fwd_cnt), (RX_CREDIT, 0), "our credit, advertised");
        socket
    }
}

#[test]
fn probe_reads_the_guest_cid_and_posts_rx_and_event_buffers() {
    let mut rig = Rig::ready();
    assert_eq!(rig.h.driver().guest_cid(), GUEST);
    assert_eq!(rig.h.device.avail_idx(0), QUEUE_SIZE as u16);
    assert_eq!(rig.h.device.avail_idx(2), EVENT_BUFFERS as u16);
    assert_eq!(rig.h.device.avail_idx(1), 0, "nothing sent yet");
}

#[test]
fn a_reserved_guest_cid_fails_the_device() {
    for cid in [0u64, 1, 2, 0xffff_ffff] {
        let mut rig = Rig::with_cid(cid);
        assert_eq!(rig.h.status(), DriverStatus::Failed, "cid {cid}");
    }
}

#[test]
fn an_accepted_connection_receives_and_sends_within_the_peers_credit() {
    let mut rig = Rig::ready();
    // The host offers 3000 bytes of buffer.
    let socket = rig.accepted(HOST_PORT, 3000);
    rig.host_sends(Header { buf_alloc: 3000, ..packet(Op::Rw, HOST_PORT, LISTEN_PORT, 5) }, b"hello");
    match rig.events().as_slice() {
        [Event::Received { socket: s, payload }] => assert_eq!((*s, payload.bytes()), (socket, Some(&b"hello"[..]))),
        other => panic!("{other:?}"),
    }
    // 2016 + 2016 bytes: the first fits, the second only 984 of it.
    let a: Vec<u8> = (0..DATA_SIZE).map(|i| i as u8).collect();
    let b: Vec<u8> = (0..DATA_SIZE).map(|i| (i * 7) as u8).collect();
    rig.post(Request::Send { socket, payload: Payload::new(&a) });
    rig.post(Request::Send { socket, payload: Payload::new(&b) });
    let sent = rig.host_receives();
    let rw: Vec<_> = sent.iter().filter(|(h, _)| h.op == Op::Rw as u16).collect();
    assert_eq!(rw.len(), 2);
    assert_eq!(rw[0].1, a);
    assert_eq!(rw[1].1, b[..3000 - DATA_SIZE]);
    assert!(sent.iter().any(|(h, _)| h.op == Op::CreditRequest as u16), "out of credit: the driver asks");
    assert_eq!(rig.h.driver().stats().bytes_sent, 3000);
    // The host took everything: the rest goes.
    rig.host_sends(
        Header { buf_alloc: 3000, fwd_cnt: 3000, ..packet(Op::CreditUpdate, HOST_PORT, LISTEN_PORT, 0) },
        &[],
    );
    let sent = rig.host_receives();
    assert_eq!(sent.len(), 1, "{:?}", sent.iter().map(|(h, p)| (h.op, p.len())).collect::<Vec<_>>());
    assert_eq!(sent[0].1, b[3000 - DATA_SIZE..]);
    assert_eq!(rig.h.driver().stats().bytes_sent, 2 * DATA_SIZE as u64);
}

#[test]
fn the_peer_hears_of_space_only_once_the_client_consumed_it() {
    let mut rig = Rig::ready();
    let _socket = rig.accepted(HOST_PORT, 1 << 20);
    let chunk = [0x5au8; 2000];
    // A quarter of the credit and a bit, not yet consumed.
    for _ in 0..5 {
        rig.host_sends(packet(Op::Rw, HOST_PORT, LISTEN_PORT, 2000), &chunk);
    }
    assert!(rig.host_receives().is_empty(), "nothing taken yet: no update");
    assert_eq!(rig.events().len(), 5);
    let sent = rig.host_receives();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (h, _) = sent[0];
    assert_eq!((h.op, h.buf_alloc, h.fwd_cnt), (Op::CreditUpdate as u16, RX_CREDIT, 10000));
}

#[test]
fn a_peer_that_sends_past_its_credit_is_reset() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 1 << 20);
    let chunk = [1u8; 2000];
    let fits = RX_CREDIT / 2000;
    for _ in 0..fits {
        rig.host_sends(packet(Op::Rw, HOST_PORT, LISTEN_PORT, 2000), &chunk);
        // Not consumed: the client holds the events.
    }
    // The event ring is 32 deep; 16 in it. One more packet is past the
    // credit (32768 - 32000 = 768 bytes left).
    rig.host_sends(packet(Op::Rw, HOST_PORT, LISTEN_PORT, 2000), &chunk);
    let events = rig.events();
    assert_eq!(events.len() as u32, fits + 1);
    match events.last() {
        Some(Event::Closed { ends, why: CloseReason::PeerBroke }) => assert_eq!(ends.socket, socket),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.ops(), [Op::Rst]);
    assert_eq!(rig.h.driver().stats().peer_broke, 1);
    // The socket is gone.
    rig.post(Request::Send { socket, payload: Payload::new(b"x") });
    assert!(matches!(rig.events().as_slice(), [Event::Refused { why: Refusal::UnknownSocket, .. }]));
}

#[test]
fn a_credit_that_goes_backwards_resets_the_connection() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    rig.post(Request::Send { socket, payload: Payload::new(&[7u8; 1000]) });
    assert_eq!(rig.ops(), [Op::Rw]);
    rig.host_sends(Header { fwd_cnt: 600, ..packet(Op::CreditUpdate, HOST_PORT, LISTEN_PORT, 0) }, &[]);
    assert!(rig.events().is_empty());
    // 600 -> 500: backwards.
    rig.host_sends(Header { fwd_cnt: 500, ..packet(Op::CreditUpdate, HOST_PORT, LISTEN_PORT, 0) }, &[]);
    match rig.events().as_slice() {
        [Event::Closed { ends, why: CloseReason::PeerBroke }] => assert_eq!(ends.socket, socket),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.ops(), [Op::Rst]);
}

#[test]
fn a_credit_past_what_was_sent_resets_the_connection() {
    let mut rig = Rig::ready();
    let _socket = rig.accepted(HOST_PORT, 100_000);
    // Nothing was sent: the peer cannot have taken 1 byte.
    rig.host_sends(Header { fwd_cnt: 1, ..packet(Op::CreditUpdate, HOST_PORT, LISTEN_PORT, 0) }, &[]);
    assert!(matches!(rig.events().as_slice(), [Event::Closed { why: CloseReason::PeerBroke, .. }]));
}

#[test]
fn a_packet_with_a_length_past_its_buffer_is_dropped() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    // The header claims 100 bytes; the device wrote 10 after it.
    let mut bytes = packet(Op::Rw, HOST_PORT, LISTEN_PORT, 100).to_bytes().to_vec();
    bytes.extend_from_slice(&[9u8; 10]);
    rig.host_sends_raw(&bytes, (HEADER_SIZE + 10) as u32);
    // A header claiming more than any rx buffer.
    let huge = packet(Op::Rw, HOST_PORT, LISTEN_PORT, u32::MAX).to_bytes();
    rig.host_sends_raw(&huge, HEADER_SIZE as u32);
    assert!(rig.events().is_empty(), "nothing reached the client");
    assert_eq!(rig.h.driver().stats().dropped, 2);
    assert_eq!(rig.h.status(), DriverStatus::Ready, "a bad packet does not fail the device");
    assert_eq!(rig.h.device.avail_idx(0), QUEUE_SIZE as u16 + 3, "the buffers went back");
    // The connection still works.
    rig.host_sends(packet(Op::Rw, HOST_PORT, LISTEN_PORT, 2), b"ok");
    assert!(matches!(rig.events().as_slice(), [Event::Received { socket: s, .. }] if *s == socket));
}

#[test]
fn a_packet_of_an_unknown_type_is_dropped_and_answered_with_a_reset() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    // Seqpacket was never negotiated.
    rig.host_sends(Header { kind: 2, ..packet(Op::Rw, HOST_PORT, LISTEN_PORT, 2) }, b"xy");
    assert!(rig.events().is_empty());
    let sent = rig.host_receives();
    assert_eq!(sent.len(), 1);
    let (h, _) = sent[0];
    assert_eq!((h.op, h.src_port, h.dst_port), (Op::Rst as u16, LISTEN_PORT, HOST_PORT));
    assert_eq!(rig.h.driver().stats().dropped, 1);
    let _ = socket;
}

#[test]
fn a_request_to_a_port_nobody_listens_on_is_reset() {
    let mut rig = Rig::ready();
    rig.host_sends(packet(Op::Request, HOST_PORT, 999, 0), &[]);
    let sent = rig.host_receives();
    assert_eq!(sent.len(), 1);
    let (h, _) = sent[0];
    assert_eq!((h.op, h.src_port, h.dst_port), (Op::Rst as u16, 999, HOST_PORT));
    assert!(rig.events().is_empty());
    // A stray reset is not answered.
    rig.host_sends(packet(Op::Rst, HOST_PORT, 999, 0), &[]);
    assert!(rig.host_receives().is_empty());
}

#[test]
fn a_connect_is_answered_or_refused() {
    let mut rig = Rig::ready();
    rig.post(Request::Connect { cid: HOST, port: 4321 });
    let sent = rig.host_receives();
    let (h, _) = sent[0];
    assert_eq!((h.op, h.dst_port, h.dst_cid), (Op::Request as u16, 4321, HOST));
    let local = h.src_port;
    assert!(local >= 49152);
    rig.host_sends(packet(Op::Response, 4321, local, 0), &[]);
    let socket = match rig.events().as_slice() {
        [Event::Connected(e)] => {
            assert_eq!((e.local_port, e.peer_cid, e.peer_port), (local, HOST, 4321));
            e.socket
        }
        other => panic!("{other:?}"),
    };
    rig.post(Request::Send { socket, payload: Payload::new(b"out") });
    let sent = rig.host_receives();
    assert_eq!(sent[0].1, b"out");
    // A second connect, refused by the host.
    rig.post(Request::Connect { cid: HOST, port: 4322 });
    let (h, _) = rig.host_receives()[0];
    rig.host_sends(packet(Op::Rst, 4322, h.src_port, 0), &[]);
    match rig.events().as_slice() {
        [Event::Closed { ends, why: CloseReason::Refused }] => assert_eq!(ends.peer_port, 4322),
        other => panic!("{other:?}"),
    }
}

#[test]
fn shutdown_both_ways_closes_in_order() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    rig.post(Request::Shutdown { socket, flags: SHUT_BOTH });
    let sent = rig.host_receives();
    assert_eq!((sent[0].0.op, sent[0].0.flags), (Op::Shutdown as u16, 3));
    rig.post(Request::Send { socket, payload: Payload::new(b"late") });
    assert!(matches!(rig.events().as_slice(), [Event::Refused { why: Refusal::NotConnected, .. }]));
    rig.host_sends(packet(Op::Rst, HOST_PORT, LISTEN_PORT, 0), &[]);
    assert!(matches!(rig.events().as_slice(), [Event::Closed { why: CloseReason::Closed, .. }]));
}

#[test]
fn a_peer_that_shuts_down_both_ways_is_closed_with_a_reset() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    rig.host_sends(Header { flags: 3, ..packet(Op::Shutdown, HOST_PORT, LISTEN_PORT, 0) }, &[]);
    assert_eq!(
        rig.events(),
        [
            Event::PeerShutdown { socket, flags: 3 },
            Event::Closed {
                ends: Endpoints { socket, local_port: LISTEN_PORT, peer_cid: HOST, peer_port: HOST_PORT },
                why: CloseReason::Closed
            }
        ]
    );
    assert_eq!(rig.ops(), [Op::Rst]);
}

#[test]
fn a_client_reset_reaches_the_peer_and_bad_requests_are_refused() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    rig.post(Request::Reset { socket });
    assert!(matches!(rig.events().as_slice(), [Event::Closed { why: CloseReason::Aborted, .. }]));
    assert_eq!(rig.ops(), [Op::Rst]);
    rig.post(Request::Listen { port: LISTEN_PORT });
    assert!(matches!(rig.events().as_slice(), [Event::Refused { why: Refusal::PortInUse, .. }]));
    rig.post(Request::Send { socket: 12345, payload: Payload::new(b"x") });
    rig.post(Request::Send { socket, payload: Payload::new(&[0u8; DATA_SIZE + 1]) });
    let events = rig.events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Refused { why: Refusal::UnknownSocket, .. }, Event::Refused { why: Refusal::UnknownSocket, .. }]
        ),
        "{events:?}"
    );
    assert!(rig.host_receives().is_empty());
}

#[test]
fn a_transport_reset_event_closes_every_connection() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100_000);
    let chain = rig.h.device.pop_avail(2).expect("an event buffer");
    rig.h.device.write(chain.bufs[0].addr, &0u32.to_le_bytes());
    rig.h.device.push_used(2, chain.head as u32, 4);
    rig.h.interrupt(2);
    match rig.events().as_slice() {
        [Event::Closed { ends, why: CloseReason::DeviceGone }] => assert_eq!(ends.socket, socket),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.h.device.avail_idx(2), EVENT_BUFFERS as u16 + 1, "the event buffer went back");
}

#[test]
fn credit_reaches_a_waiting_send_while_the_client_has_no_room() {
    let mut rig = Rig::ready();
    let socket = rig.accepted(HOST_PORT, 100);
    let out: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    rig.post(Request::Send { socket, payload: Payload::new(&out) });
    assert_eq!(rig.ops(), [Op::Rw, Op::CreditRequest], "100 bytes fit, then the driver asks");
    // The client takes no event: 31 one-byte packets leave one slot.
    for k in 0..31u8 {
        rig.host_sends(Header { buf_alloc: 100, ..packet(Op::Rw, HOST_PORT, LISTEN_PORT, 1) }, &[k]);
    }
    // No room for more: this one is held, with its credit taken.
    rig.host_sends(Header { buf_alloc: 100, ..packet(Op::Rw, HOST_PORT, LISTEN_PORT, 1) }, &[31]);
    // The host took the first 100 bytes: the rest of the send goes now.
    rig.host_sends(Header { buf_alloc: 100, fwd_cnt: 100, ..packet(Op::CreditUpdate, HOST_PORT, LISTEN_PORT, 0) }, &[]);
    let sent = rig.host_receives();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, out[100..]);
    // Every byte reaches the client, in order, the held one last.
    let got: Vec<u8> = rig
        .events()
        .iter()
        .chain(rig.events().iter())
        .map(|e| match e {
            Event::Received { payload, .. } => payload.bytes().unwrap()[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, (0..32u8).collect::<Vec<_>>());
}
