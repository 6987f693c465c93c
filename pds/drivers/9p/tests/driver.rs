//! The 9p driver PD against the real transport core and a mock
//! virtio-9p (`sevio_driver_core::harness`): the test plays the file
//! server, right and wrong.

use sevio_driver_9p::wire::{HEADER, NOTAG, op};
use sevio_driver_9p::{P9Driver, P9Error, P9Setvars};
use sevio_driver_core::harness::Harness;
use sevio_driver_core::{DriverStatus, RegionSetvars};
use sevio_queue::fs::{ClientPort, FsOp, FsRequest, FsResponse, FsStatus};
use sevio_transport_core::mock::MockDevice;

const F_VERSION_1: u64 = 1 << 32;

struct Rig {
    h: Harness<P9Driver>,
    client: ClientPort,
    data: sevio_sharedmem::SharedMemory,
}

/// A T-message the driver sent: its type, tag and body.
struct Sent {
    kind: u8,
    tag: u16,
    body: Vec<u8>,
    head: u16,
    reply_at: u64,
}

impl Rig {
    fn new() -> Rig {
        let h = Harness::<P9Driver>::new("p9", MockDevice::new(9, 2, F_VERSION_1, 1, 64), |mem| P9Setvars {
            control: mem.region("p9_control", 4096, 0),
            data: mem.region("p9_data", 0x4000, 0),
        });
        let region = |vars: RegionSetvars| h.memory(vars);
        let (control, data) = (region(h.vars.control), region(h.vars.data));
        Rig { client: ClientPort::new(control).unwrap(), data, h }
    }

    fn sent(&mut self) -> Sent {
        let chain = self.h.device.pop_avail(0).expect("a message in flight");
        assert_eq!(chain.bufs.len(), 2);
        assert!(!chain.bufs[0].writable && chain.bufs[1].writable, "T-message readable, reply room writable");
        let mut msg = vec![0u8; chain.bufs[0].len as usize];
        self.h.device.read(chain.bufs[0].addr, &mut msg);
        assert_eq!(u32::from_le_bytes(msg[..4].try_into().unwrap()) as usize, msg.len(), "size field");
        Sent {
            kind: msg[4],
            tag: u16::from_le_bytes([msg[5], msg[6]]),
            body: msg[HEADER..].to_vec(),
            head: chain.head,
            reply_at: chain.bufs[1].addr,
        }
    }

    fn reply(&mut self, to: &Sent, kind: u8, tag: u16, body: &[u8]) {
        let mut m = ((HEADER + body.len()) as u32).to_le_bytes().to_vec();
        m.push(kind);
        m.extend_from_slice(&tag.to_le_bytes());
        m.extend_from_slice(body);
        self.h.device.write(to.reply_at, &m);
        self.h.device.push_used(0, to.head as u32, m.len() as u32);
        self.h.interrupt(0);
    }

    /// Bound, Tversion and Tattach answered as a server would.
    fn attached() -> Rig {
        let mut rig = Rig::new();
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        let v = rig.sent();
        assert_eq!((v.kind, v.tag), (op::TVERSION, NOTAG));
        let mut body = 8192u32.to_le_bytes().to_vec();
        body.extend_from_slice(&[8, 0]);
        body.extend_from_slice(b"9P2000.L");
        rig.reply(&v, op::TVERSION + 1, NOTAG, &body);
        let a = rig.sent();
        assert_eq!(a.kind, op::TATTACH);
        rig.reply(&a, op::TATTACH + 1, a.tag, &[0x80; 13]);
        rig
    }

    fn post(&mut self, req: FsRequest, path: &str) {
        self.data.copy_in(0, path.as_bytes()).unwrap();
        self.client.post(FsRequest { path_offset: 0, path_len: path.len() as u32, ..req });
        self.h.client_notifies();
    }

    fn answer(&self) -> FsResponse {
        self.client.poll().expect("answered")
    }
}

fn rwalk(names: u16) -> Vec<u8> {
    let mut b = names.to_le_bytes().to_vec();
    (0..names).for_each(|_| b.extend_from_slice(&[0; 13]));
    b
}

#[test]
fn open_is_a_walk_then_an_lopen_and_the_fd_reads() {
    let mut rig = Rig::attached();
    rig.post(FsRequest { op: FsOp::Open as u32, ..FsRequest::default() }, "d/f");
    let w = rig.sent();
    assert_eq!(w.kind, op::TWALK);
    assert_eq!(&w.body[8..], &[2, 0, 1, 0, b'd', 1, 0, b'f'], "two names from the root");
    rig.reply(&w, op::TWALK + 1, w.tag, &rwalk(2));
    let o = rig.sent();
    assert_eq!(o.kind, op::TLOPEN);
    let mut body = vec![0u8; 13];
    body.extend_from_slice(&0u32.to_le_bytes());
    rig.reply(&o, op::TLOPEN + 1, o.tag, &body);
    let r = rig.answer();
    assert_eq!(FsStatus::from_word(r.status), Some(FsStatus::Ok));
    let fd = r.value as u32;
    rig.post(FsRequest { op: FsOp::Read as u32, fd, data_offset: 0x100, len: 5, ..FsRequest::default() }, "");
    let t = rig.sent();
    assert_eq!(t.kind, op::TREAD);
    let mut body = 5u32.to_le_bytes().to_vec();
    body.extend_from_slice(b"hello");
    rig.reply(&t, op::TREAD + 1, t.tag, &body);
    assert_eq!((rig.answer().status, rig.answer().len), (0, 5));
    let mut got = [0u8; 5];
    rig.data.copy_out(0x100, &mut got).unwrap();
    assert_eq!(&got, b"hello");
}

#[test]
fn a_reply_with_a_wrong_tag_fails_the_device_and_the_request_is_io() {
    let mut rig = Rig::attached();
    rig.post(FsRequest { op: FsOp::Stat as u32, ..FsRequest::default() }, "x");
    let w = rig.sent();
    rig.reply(&w, op::TWALK + 1, w.tag.wrapping_add(1), &rwalk(1));
    assert_eq!(FsStatus::from_word(rig.answer().status), Some(FsStatus::Io));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    assert!(matches!(rig.h.last_error(), Some(P9Error::Wire(_))), "{:?}", rig.h.last_error());
}

#[test]
fn a_read_count_larger_than_asked_fails_the_device() {
    let mut rig = Rig::attached();
    rig.post(FsRequest { op: FsOp::Open as u32, ..FsRequest::default() }, "f");
    let w = rig.sent();
    rig.reply(&w, op::TWALK + 1, w.tag, &rwalk(1));
    let o = rig.sent();
    rig.reply(&o, op::TLOPEN + 1, o.tag, &[0u8; 17]);
    let fd = rig.answer().value as u32;
    rig.post(FsRequest { op: FsOp::Read as u32, fd, data_offset: 0, len: 4, ..FsRequest::default() }, "");
    let t = rig.sent();
    let mut body = 8u32.to_le_bytes().to_vec();
    body.extend_from_slice(b"too many");
    rig.reply(&t, op::TREAD + 1, t.tag, &body);
    assert_eq!(FsStatus::from_word(rig.answer().status), Some(FsStatus::Io));
    assert_eq!(rig.h.status(), DriverStatus::Failed);
}

#[test]
fn rlerror_is_the_clients_errno_and_the_device_stays() {
    let mut rig = Rig::attached();
    rig.post(FsRequest { op: FsOp::Mkdir as u32, ..FsRequest::default() }, "a/b");
    let w = rig.sent();
    rig.reply(&w, op::TWALK + 1, w.tag, &rwalk(1));
    let m = rig.sent();
    assert_eq!(m.kind, op::TMKDIR);
    rig.reply(&m, op::RLERROR, m.tag, &17u32.to_le_bytes());
    let c = rig.sent();
    assert_eq!(c.kind, op::TCLUNK, "the walked fid is clunked before the answer");
    assert!(rig.client.poll().is_none());
    rig.reply(&c, op::TCLUNK + 1, c.tag, &[]);
    let r = rig.answer();
    assert_eq!((FsStatus::from_word(r.status), r.value), (Some(FsStatus::Errno), 17));
    assert_eq!(rig.h.status(), DriverStatus::Ready);
}

#[test]
fn bad_requests_are_refused_without_a_message() {
    let mut rig = Rig::attached();
    rig.post(FsRequest { op: FsOp::Open as u32, ..FsRequest::default() }, "../x");
    assert_eq!(FsStatus::from_word(rig.answer().status), Some(FsStatus::Invalid));
    rig.post(FsRequest { op: FsOp::Read as u32, fd: 7, len: 4, ..FsRequest::default() }, "");
    assert_eq!(FsStatus::from_word(rig.answer().status), Some(FsStatus::Invalid));
    rig.post(FsRequest { op: 99, ..FsRequest::default() }, "");
    assert_eq!(FsStatus::from_word(rig.answer().status), Some(FsStatus::Invalid));
    assert!(rig.h.device.pop_avail(0).is_none(), "nothing reached the device");
}
