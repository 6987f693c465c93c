//! The rpmsg driver PD against the real transport core and a mock
//! virtio-rpmsg device (`sevio_driver_core::harness`): the test plays the
//! remote on the device side of the queues.

use sevio_driver_core::DriverStatus;
use sevio_driver_core::harness::Harness;
use sevio_driver_rpmsg::{QUEUE_SIZE, RpmsgDriver, RpmsgSetvars};
use sevio_queue::rpmsg::{CONTROL_SIZE, ClientPort, EndpointName, Event, Payload, Refusal, Request};
use sevio_transport_core::mock::MockDevice;
use sevio_virtio::device::rpmsg::{BUFFER_SIZE, Header, NS_ADDR, Name, NsAction, NsMessage};

const F_NS: u64 = 1;
const F_VERSION_1: u64 = 1 << 32;
const ECHO: u32 = 1024;

struct Rig {
    h: Harness<RpmsgDriver>,
    client: ClientPort,
}

impl Rig {
    fn ready(features: u64) -> Rig {
        let device = MockDevice::new(7, 2, features | F_VERSION_1, 2, QUEUE_SIZE as u16);
        let mut h = Harness::<RpmsgDriver>::new("rpmsg", device, |mem| RpmsgSetvars {
            control: mem.region("rpmsg_control", CONTROL_SIZE, 0),
        });
        let client = ClientPort::new(h.memory(h.vars.control)).unwrap();
        h.bind();
        assert_eq!(h.status(), DriverStatus::Ready);
        Rig { h, client }
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
        out
    }

    /// The remote sends `bytes` as one message into the next rx buffer.
    fn remote_sends_raw(&mut self, bytes: &[u8], used_len: u32) {
        let chain = self.h.device.pop_avail(0).expect("an rx buffer");
        assert!(chain.bufs[0].writable && chain.bufs[0].len == BUFFER_SIZE as u32);
        self.h.device.write(chain.bufs[0].addr, bytes);
        self.h.device.push_used(0, chain.head as u32, used_len);
        self.h.interrupt(0);
    }

    fn remote_sends(&mut self, src: u32, dst: u32, payload: &[u8]) {
        let mut out = [0u8; BUFFER_SIZE];
        let n = Header::emit(src, dst, payload, &mut out).unwrap();
        self.remote_sends_raw(&out[..n], n as u32);
    }

    /// Every message the driver sent, (header, payload); buffers returned.
    fn remote_receives(&mut self) -> Vec<(Header, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(chain) = self.h.device.pop_avail(1) {
            let b = chain.bufs[0];
            assert!(!b.writable, "tx buffers are device-readable");
            let mut bytes = vec![0u8; b.len as usize];
            self.h.device.read(b.addr, &mut bytes);
            let (h, p) = Header::parse(&bytes).unwrap();
            out.push((h, p.to_vec()));
            self.h.device.push_used(1, chain.head as u32, 0);
        }
        self.h.interrupt(1);
        out
    }

    fn create(&mut self, name: &[u8]) -> u32 {
        self.post(Request::Create { name: EndpointName::new(name).unwrap() });
        match self.events().as_slice() {
            [Event::Created { local, .. }] => *local,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn every_rx_buffer_is_posted_at_probe() {
    let rig = Rig::ready(F_NS);
    assert_eq!(rig.h.device.avail_idx(0), QUEUE_SIZE as u16);
}

#[test]
fn an_endpoint_is_created_announced_and_exchanges_messages() {
    let mut rig = Rig::ready(F_NS);
    let local = rig.create(b"echo-client");
    assert_eq!(local, 1024, "addresses start above the reserved ones");
    let sent = rig.remote_receives();
    assert_eq!(sent.len(), 1);
    let (h, p) = &sent[0];
    assert_eq!((h.src, h.dst), (1024, NS_ADDR));
    let ns = NsMessage::parse(p).unwrap();
    assert_eq!((ns.name.as_bytes(), ns.addr, ns.action), (&b"echo-client"[..], 1024, NsAction::Create));
    // The remote announces its echo endpoint; the client hears of it.
    let echo = NsMessage { name: Name::new(b"rpmsg-echo").unwrap(), addr: ECHO, action: NsAction::Create };
    rig.remote_sends(ECHO, NS_ADDR, &echo.emit());
    let name = EndpointName::new(b"rpmsg-echo").unwrap();
    assert_eq!(rig.events(), [Event::Announced { remote: ECHO, name, created: true }]);
    // 496 bytes out and back, byte for byte.
    let big: Vec<u8> = (0..496u32).map(|i| (i * 13) as u8).collect();
    rig.post(Request::Send { local, remote: ECHO, payload: Payload::new(&big) });
    let sent = rig.remote_receives();
    assert_eq!((sent[0].0.src, sent[0].0.dst, &sent[0].1), (local, ECHO, &big));
    rig.remote_sends(ECHO, local, &big);
    match rig.events().as_slice() {
        [Event::Received { local: l, remote, payload }] => {
            assert_eq!((*l, *remote, payload.bytes()), (local, ECHO, Some(&big[..])));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.h.device.avail_idx(0), QUEUE_SIZE as u16 + 2, "rx buffers go back");
    assert!(rig.h.take_client_notify());
}

#[test]
fn a_message_larger_than_a_buffer_is_refused() {
    let mut rig = Rig::ready(F_NS);
    let local = rig.create(b"c");
    rig.remote_receives();
    rig.post(Request::Send { local, remote: ECHO, payload: Payload::new(&[1u8; 497]) });
    assert_eq!(rig.events(), [Event::Refused { local, remote: ECHO, len: 497, why: Refusal::TooLarge }]);
    rig.post(Request::Send { local: 999, remote: ECHO, payload: Payload::new(b"x") });
    assert_eq!(rig.events(), [Event::Refused { local: 999, remote: ECHO, len: 1, why: Refusal::UnknownEndpoint }]);
    assert!(rig.remote_receives().is_empty(), "nothing reached the device");
    assert_eq!(rig.h.driver().stats().refused, 2);
}

#[test]
fn bad_messages_from_the_remote_are_dropped() {
    let mut rig = Rig::ready(F_NS);
    let local = rig.create(b"c");
    rig.remote_receives();
    // A header length past what the device wrote.
    let mut lie = [0u8; 24];
    Header::emit(ECHO, local, b"12345678", &mut lie).unwrap();
    lie[12] = 200;
    rig.remote_sends_raw(&lie, 24);
    // To an address nobody has.
    rig.remote_sends(ECHO, 4242, b"lost");
    // An announcement whose name is not terminated.
    let mut ns = NsMessage { name: Name::new(b"x").unwrap(), addr: 7, action: NsAction::Create }.emit();
    ns[..32].fill(b'n');
    rig.remote_sends(ECHO, NS_ADDR, &ns);
    // Unknown flags.
    let mut ns = NsMessage { name: Name::new(b"x").unwrap(), addr: 7, action: NsAction::Create }.emit();
    ns[36] = 9;
    rig.remote_sends(ECHO, NS_ADDR, &ns);
    // Shorter than a header.
    rig.remote_sends_raw(&[1, 2, 3], 3);
    assert!(rig.events().is_empty(), "nothing reached the client");
    assert_eq!(rig.h.driver().stats().dropped, 5);
    assert_eq!(rig.h.status(), DriverStatus::Ready, "the device is kept");
    rig.remote_sends(ECHO, local, b"fine");
    assert_eq!(rig.events().len(), 1);
}

#[test]
fn without_the_name_service_nothing_is_announced_and_ns_messages_are_dropped() {
    let mut rig = Rig::ready(0);
    rig.create(b"c");
    assert!(rig.remote_receives().is_empty());
    let echo = NsMessage { name: Name::new(b"rpmsg-echo").unwrap(), addr: ECHO, action: NsAction::Create };
    rig.remote_sends(ECHO, NS_ADDR, &echo.emit());
    assert!(rig.events().is_empty());
}

#[test]
fn a_burst_larger_than_the_ring_waits_for_tx_buffers() {
    let mut rig = Rig::ready(F_NS);
    let local = rig.create(b"c");
    rig.remote_receives();
    let mut got = Vec::new();
    let mut posted = 0u32;
    while got.len() < 100 {
        while posted < 100 && rig.client.requests.free().unwrap() > 0 {
            let req = Request::Send { local, remote: ECHO, payload: Payload::new(&posted.to_le_bytes()) };
            rig.client.post(&req).unwrap();
            posted += 1;
        }
        rig.h.client_notifies();
        for (_, p) in rig.remote_receives() {
            got.push(u32::from_le_bytes(p[..4].try_into().unwrap()));
        }
    }
    assert_eq!(got, (0..100).collect::<Vec<_>>(), "in order, none lost");
    assert_eq!(rig.h.driver().stats().sent, 100);
}
