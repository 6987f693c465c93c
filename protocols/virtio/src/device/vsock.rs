//! The socket device, virtio-vsock (device id 19, VIRTIO 1.2 §5.10),
//! byte for byte: the 44-byte packet header, its ops and types, the
//! config space, the event, and the credit accounting of §5.10.6.3 for
//! both directions.
//!
//! Queue 0 (rx) carries packets to the driver, queue 1 (tx) packets from
//! it, queue 2 (event) device events. A packet is a [`Header`] followed by
//! `len` bytes of payload (only `OP_RW` carries one).
//!
//! The device and the peer behind it are untrusted. Every rule a received
//! packet must keep is checked in [`Packet::parse`] (a length past the
//! bytes the device wrote, an unknown op or type), and every credit rule
//! in [`PeerCredit`] (the peer's counters going backwards or claiming
//! bytes never sent) and [`LocalCredit`] (the peer sending past the
//! space we offered).
//!
//! Panic contract: nothing here panics on any input.

use crate::features::FeatureBit;

/// Stream sockets (`VIRTIO_VSOCK_F_STREAM`, §5.10.3). §5.10.3.1: "If no
/// feature bit has been negotiated, the driver SHOULD act as if
/// VIRTIO_VSOCK_F_STREAM has been negotiated."
pub const F_STREAM: FeatureBit = FeatureBit::of(0);
/// Seqpacket sockets (`VIRTIO_VSOCK_F_SEQPACKET`).
pub const F_SEQPACKET: FeatureBit = FeatureBit::of(1);

/// Packets to the driver.
pub const RX_QUEUE: u16 = 0;
/// Packets from the driver.
pub const TX_QUEUE: u16 = 1;
/// Device events.
pub const EVENT_QUEUE: u16 = 2;

/// The host's context id (§5.10.4: "The CID 2 is reserved for the host").
pub const HOST_CID: u64 = 2;
/// Context ids below this are reserved (0 hypervisor, 1 loopback, 2 host);
/// a guest's is at least 3.
pub const FIRST_GUEST_CID: u64 = 3;

/// Bytes of the config space: `le64 guest_cid` (§5.10.4).
pub const CONFIG_SIZE: usize = 8;
/// Offset of `guest_cid` in the config space.
pub const GUEST_CID_OFFSET: usize = 0;
/// §5.10.4: "guest_cid ... only the lower 32 bits are used" (the upper
/// 32 are reserved and zero).
pub const GUEST_CID_MASK: u64 = 0xffff_ffff;

/// Bytes of the packet header (`struct virtio_vsock_hdr`, packed).
pub const HEADER_SIZE: usize = 44;

/// `type`: a connection-oriented byte stream.
pub const TYPE_STREAM: u16 = 1;
/// `type`: a connection-oriented packet stream (not negotiated here).
pub const TYPE_SEQPACKET: u16 = 2;

/// `flags` of `OP_SHUTDOWN`: the sender will receive no more data.
pub const SHUTDOWN_RCV: u32 = 1;
/// `flags` of `OP_SHUTDOWN`: the sender will send no more data.
pub const SHUTDOWN_SEND: u32 = 2;
/// Both shutdown flags.
pub const SHUTDOWN_BOTH: u32 = SHUTDOWN_RCV | SHUTDOWN_SEND;

/// Bytes of an event (`struct virtio_vsock_event`: `le32 id`).
pub const EVENT_SIZE: usize = 4;
/// The only event id (§5.10.6.7): the transport was reset (the guest was
/// migrated); every connection is gone and `guest_cid` must be read
/// again.
pub const EVENT_TRANSPORT_RESET: u32 = 0;

/// A packet's operation (`op`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Op {
    /// Connect.
    Request = 1,
    /// Connection accepted.
    Response = 2,
    /// Reset: refused, or the connection is gone.
    Rst = 3,
    /// The sender stops receiving and/or sending (`flags`).
    Shutdown = 4,
    /// Data.
    Rw = 5,
    /// The sender's credit counters, unasked.
    CreditUpdate = 6,
    /// Asks the receiver for a credit update.
    CreditRequest = 7,
}

impl Op {
    /// The op numbered `v`, if it is one.
    pub fn from_wire(v: u16) -> Option<Op> {
        Some(match v {
            1 => Op::Request,
            2 => Op::Response,
            3 => Op::Rst,
            4 => Op::Shutdown,
            5 => Op::Rw,
            6 => Op::CreditUpdate,
            7 => Op::CreditRequest,
            _ => return None,
        })
    }
}

/// The packet header (`struct virtio_vsock_hdr`, little-endian, packed:
/// src_cid @0, dst_cid @8, src_port @16, dst_port @20, len @24, type @28,
/// op @30, flags @32, buf_alloc @36, fwd_cnt @40).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// Sender's context id.
    pub src_cid: u64,
    /// Receiver's context id.
    pub dst_cid: u64,
    /// Sender's port.
    pub src_port: u32,
    /// Receiver's port.
    pub dst_port: u32,
    /// Payload bytes after the header.
    pub len: u32,
    /// Socket type (`TYPE_STREAM`).
    pub kind: u16,
    /// Operation (`Op` as a number; checked by [`Packet::parse`]).
    pub op: u16,
    /// Op-specific flags (shutdown).
    pub flags: u32,
    /// The sender's receive buffer for this connection, bytes.
    pub buf_alloc: u32,
    /// Bytes the sender has taken from that buffer, free-running.
    pub fwd_cnt: u32,
}

impl Header {
    /// The header in the first [`HEADER_SIZE`] bytes of `b`, unchecked
    /// (`None`: fewer bytes).
    pub fn read(b: &[u8]) -> Option<Header> {
        let b = b.get(..HEADER_SIZE)?;
        let u64_at = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let u16_at = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        Some(Header {
            src_cid: u64_at(0),
            dst_cid: u64_at(8),
            src_port: u32_at(16),
            dst_port: u32_at(20),
            len: u32_at(24),
            kind: u16_at(28),
            op: u16_at(30),
            flags: u32_at(32),
            buf_alloc: u32_at(36),
            fwd_cnt: u32_at(40),
        })
    }

    /// The 44 bytes of this header.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&self.src_cid.to_le_bytes());
        b[8..16].copy_from_slice(&self.dst_cid.to_le_bytes());
        b[16..20].copy_from_slice(&self.src_port.to_le_bytes());
        b[20..24].copy_from_slice(&self.dst_port.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..30].copy_from_slice(&self.kind.to_le_bytes());
        b[30..32].copy_from_slice(&self.op.to_le_bytes());
        b[32..36].copy_from_slice(&self.flags.to_le_bytes());
        b[36..40].copy_from_slice(&self.buf_alloc.to_le_bytes());
        b[40..44].copy_from_slice(&self.fwd_cnt.to_le_bytes());
        b
    }
}

/// What is wrong with a received packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// Fewer bytes than a header.
    Short {
        /// Bytes the device wrote.
        got: usize,
    },
    /// The header's `len` runs past the bytes the device wrote.
    LenPastBuffer {
        /// The header's `len`.
        len: u32,
        /// Payload bytes the device wrote.
        room: usize,
    },
    /// An op number VIRTIO 1.2 does not define.
    UnknownOp {
        /// The number.
        op: u16,
    },
    /// A socket type other than stream (the only one negotiated).
    UnknownType {
        /// The number.
        kind: u16,
    },
    /// A payload on an op other than `OP_RW`.
    PayloadOnControl {
        /// The op.
        op: Op,
        /// The header's `len`.
        len: u32,
    },
}

/// A received packet, checked: its op is known, its type is stream, and
/// its payload lies inside what the device wrote.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header,
    /// Its op.
    pub op: Op,
    /// The payload (`header.len` bytes; empty except for `Op::Rw`).
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// The packet in `written`, the bytes the device says it wrote into
    /// one rx buffer: every rule a received packet keeps, checked here.
    pub fn parse(written: &'a [u8]) -> Result<Packet<'a>, PacketError> {
        let header = Header::read(written).ok_or(PacketError::Short { got: written.len() })?;
        let room = written.len() - HEADER_SIZE;
        let payload = usize::try_from(header.len)
            .ok()
            .and_then(|len| written.get(HEADER_SIZE..HEADER_SIZE.checked_add(len)?))
            .ok_or(PacketError::LenPastBuffer { len: header.len, room })?;
        let op = Op::from_wire(header.op).ok_or(PacketError::UnknownOp { op: header.op })?;
        if header.kind != TYPE_STREAM {
            return Err(PacketError::UnknownType { kind: header.kind });
        }
        if op != Op::Rw && header.len != 0 {
            return Err(PacketError::PayloadOnControl { op, len: header.len });
        }
        Ok(Packet { header, op, payload })
    }
}

/// What is wrong with a peer's credit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CreditError {
    /// The peer's `fwd_cnt` went backwards (or claims more bytes taken
    /// than were ever sent to it, which on a free-running counter is the
    /// same thing).
    FwdCntBackwards {
        /// The last `fwd_cnt` believed.
        was: u32,
        /// The one just received.
        now: u32,
    },
    /// The peer sent more than the space we offered it (§5.10.6.3: "data
    /// packets MUST only be transmitted when the peer has sufficient free
    /// buffer space for the payload").
    Overrun {
        /// Payload bytes received.
        len: u32,
        /// Bytes of space the peer had.
        space: u32,
    },
}

/// What we know of the peer's receive buffer (our send direction),
/// §5.10.6.3: `peer_free = peer_buf_alloc - (tx_cnt - peer_fwd_cnt)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct PeerCredit {
    buf_alloc: u32,
    fwd_cnt: u32,
    tx_cnt: u32,
}

impl PeerCredit {
    /// Nothing known yet: no space until the peer's first packet.
    pub const fn new() -> PeerCredit {
        PeerCredit { buf_alloc: 0, fwd_cnt: 0, tx_cnt: 0 }
    }

    /// Take the counters of a packet from the peer. §5.10.6.3: "fwd_cnt is
    /// the free-running bytes received counter", and "All packets
    /// associated with a stream flow MUST contain valid information in
    /// buf_alloc and fwd_cnt": it can only move forward, and never past
    /// the bytes sent to it (a backwards step reads, modulo 2^32, as past
    /// `tx_cnt`). A bad update changes nothing.
    pub fn update(&mut self, buf_alloc: u32, fwd_cnt: u32) -> Result<(), CreditError> {
        let in_flight = self.tx_cnt.wrapping_sub(self.fwd_cnt);
        if fwd_cnt.wrapping_sub(self.fwd_cnt) > in_flight {
            return Err(CreditError::FwdCntBackwards { was: self.fwd_cnt, now: fwd_cnt });
        }
        self.buf_alloc = buf_alloc;
        self.fwd_cnt = fwd_cnt;
        Ok(())
    }

    /// Bytes we may send now (0 when the peer shrank its buffer below
    /// what is in flight).
    pub fn space(&self) -> u32 {
        self.buf_alloc.saturating_sub(self.tx_cnt.wrapping_sub(self.fwd_cnt))
    }

    /// `n` bytes were sent; callers send at most [`space`](Self::space).
    pub fn sent(&mut self, n: u32) {
        self.tx_cnt = self.tx_cnt.wrapping_add(n);
    }

    /// Bytes sent so far (free-running).
    pub fn tx_cnt(&self) -> u32 {
        self.tx_cnt
    }
}

/// Our receive buffer for one connection (the peer's send direction):
/// what we advertise (`buf_alloc`, `fwd_cnt`) and what the peer may
/// still send.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LocalCredit {
    buf_alloc: u32,
    /// Bytes received (free-running).
    rx_cnt: u32,
    /// Bytes our consumer has taken (free-running).
    fwd_cnt: u32,
    /// The `fwd_cnt` last told to the peer.
    told: u32,
}

impl LocalCredit {
    /// A buffer of `buf_alloc` bytes, empty.
    pub const fn new(buf_alloc: u32) -> LocalCredit {
        LocalCredit { buf_alloc, rx_cnt: 0, fwd_cnt: 0, told: 0 }
    }

    /// `len` payload bytes arrived: refused when past the space the peer
    /// was offered (it broke §5.10.6.3); nothing is counted then.
    pub fn receive(&mut self, len: u32) -> Result<(), CreditError> {
        let space = self.buf_alloc.saturating_sub(self.rx_cnt.wrapping_sub(self.fwd_cnt));
        if len > space {
            return Err(CreditError::Overrun { len, space });
        }
        self.rx_cnt = self.rx_cnt.wrapping_add(len);
        Ok(())
    }

    /// Our consumer took `n` bytes; at most what was received is counted.
    pub fn consumed(&mut self, n: u32) {
        let held = self.rx_cnt.wrapping_sub(self.fwd_cnt);
        self.fwd_cnt = self.fwd_cnt.wrapping_add(n.min(held));
    }

    /// The counters for an outgoing header: `(buf_alloc, fwd_cnt)`; the
    /// peer is now told.
    pub fn advertise(&mut self) -> (u32, u32) {
        self.told = self.fwd_cnt;
        (self.buf_alloc, self.fwd_cnt)
    }

    /// Whether the peer should hear of the space freed since it was last
    /// told: at least a quarter of the buffer, so a peer that ran out of
    /// credit is not left waiting and the update costs one packet per
    /// quarter buffer.
    pub fn update_due(&self) -> bool {
        self.fwd_cnt.wrapping_sub(self.told) >= self.buf_alloc / 4 && self.fwd_cnt != self.told
    }
}

/// The device's `guest_cid` from the config space's 8 bytes, its reserved
/// upper half dropped (§5.10.4: "The upper 32 bits of the CID are
/// reserved and zeroed"); `None` for a reserved id (0, 1, 2, 0xffffffff;
/// §5.10.6.4.2: "The guest_cid configuration field MUST NOT contain a
/// reserved CID").
pub fn guest_cid(config: [u8; CONFIG_SIZE]) -> Option<u64> {
    let cid = u64::from_le_bytes(config) & GUEST_CID_MASK;
    (FIRST_GUEST_CID..GUEST_CID_MASK).contains(&cid).then_some(cid)
}

/// The event id in the bytes the device wrote to an event buffer.
pub fn event_id(written: &[u8]) -> Option<u32> {
    let b = written.get(..EVENT_SIZE)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(op: Op, len: u32) -> Header {
        Header {
            src_cid: 2,
            dst_cid: 3,
            src_port: 4321,
            dst_port: 1234,
            len,
            kind: TYPE_STREAM,
            op: op as u16,
            flags: 0,
            buf_alloc: 65536,
            fwd_cnt: 7,
        }
    }

    #[test]
    fn the_header_is_44_bytes_at_the_spec_offsets() {
        let h = Header {
            src_cid: 0x0102_0304_0506_0708,
            dst_cid: 0x1112_1314_1516_1718,
            src_port: 0x2122_2324,
            dst_port: 0x3132_3334,
            len: 0x4142_4344,
            kind: 0x5152,
            op: 0x6162,
            flags: 0x7172_7374,
            buf_alloc: 0x8182_8384,
            fwd_cnt: 0x9192_9394,
        };
        let b = h.to_bytes();
        assert_eq!(b.len(), 44);
        assert_eq!(b[0], 0x08, "src_cid @0, little-endian");
        assert_eq!(b[8], 0x18, "dst_cid @8");
        assert_eq!(b[16], 0x24, "src_port @16");
        assert_eq!(b[20], 0x34, "dst_port @20");
        assert_eq!(b[24], 0x44, "len @24");
        assert_eq!((b[28], b[30]), (0x52, 0x62), "type @28, op @30");
        assert_eq!((b[32], b[36], b[40]), (0x74, 0x84, 0x94), "flags @32, buf_alloc @36, fwd_cnt @40");
        assert_eq!(Header::read(&b), Some(h));
        assert_eq!(Header::read(&b[..43]), None);
    }

    #[test]
    fn op_numbers_are_the_specs() {
        let ops = [
            (1, Op::Request),
            (2, Op::Response),
            (3, Op::Rst),
            (4, Op::Shutdown),
            (5, Op::Rw),
            (6, Op::CreditUpdate),
            (7, Op::CreditRequest),
        ];
        for (n, op) in ops {
            assert_eq!((Op::from_wire(n), op as u16), (Some(op), n));
        }
        assert_eq!((Op::from_wire(0), Op::from_wire(8)), (None, None));
        assert_eq!((F_STREAM.bit(), F_SEQPACKET.bit()), (0, 1));
        assert_eq!((RX_QUEUE, TX_QUEUE, EVENT_QUEUE), (0, 1, 2));
    }

    fn packet(h: Header, payload: &[u8]) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[..HEADER_SIZE].copy_from_slice(&h.to_bytes());
        b[HEADER_SIZE..HEADER_SIZE + payload.len()].copy_from_slice(payload);
        b
    }

    #[test]
    fn a_packet_parses_only_inside_what_the_device_wrote() {
        let b = packet(header(Op::Rw, 5), b"hello");
        let p = Packet::parse(&b[..HEADER_SIZE + 5]).unwrap();
        assert_eq!((p.op, p.payload), (Op::Rw, &b"hello"[..]));
        // The device wrote one byte less than the header claims.
        assert_eq!(
            Packet::parse(&b[..HEADER_SIZE + 4]),
            Err(PacketError::LenPastBuffer { len: 5, room: 4 }),
            "a length past its buffer"
        );
        let huge = packet(header(Op::Rw, u32::MAX), b"");
        assert_eq!(Packet::parse(&huge), Err(PacketError::LenPastBuffer { len: u32::MAX, room: 20 }));
        assert_eq!(Packet::parse(&b[..43]), Err(PacketError::Short { got: 43 }));
        let unknown = packet(Header { op: 9, ..header(Op::Rw, 0) }, b"");
        assert_eq!(Packet::parse(&unknown), Err(PacketError::UnknownOp { op: 9 }));
        let dgram = packet(Header { kind: 3, ..header(Op::Request, 0) }, b"");
        assert_eq!(Packet::parse(&dgram), Err(PacketError::UnknownType { kind: 3 }));
        let control = packet(header(Op::Response, 2), b"xx");
        assert_eq!(Packet::parse(&control), Err(PacketError::PayloadOnControl { op: Op::Response, len: 2 }));
        // Bytes after the payload are the buffer's, not the packet's.
        let p = Packet::parse(&b).unwrap();
        assert_eq!(p.payload.len(), 5);
    }

    #[test]
    fn peer_credit_bounds_what_we_send_and_never_runs_backwards() {
        let mut c = PeerCredit::default();
        assert_eq!(c.space(), 0, "nothing may be sent before the peer's buffer is known");
        c.update(1000, 0).unwrap();
        assert_eq!(c.space(), 1000);
        c.sent(600);
        assert_eq!(c.space(), 400);
        c.update(1000, 100).unwrap();
        assert_eq!(c.space(), 500);
        // Backwards: 100 -> 99.
        assert_eq!(c.update(1000, 99), Err(CreditError::FwdCntBackwards { was: 100, now: 99 }));
        // Past what was sent (600): claims 601 taken.
        assert_eq!(c.update(1000, 601), Err(CreditError::FwdCntBackwards { was: 100, now: 601 }));
        assert_eq!(c.space(), 500, "a refused update changes nothing");
        c.update(1000, 600).unwrap();
        assert_eq!(c.space(), 1000);
        // A peer that shrinks its buffer below what is in flight: no space.
        c.sent(800);
        c.update(500, 600).unwrap();
        assert_eq!(c.space(), 0);
    }

    #[test]
    fn peer_credit_counts_across_the_wrap() {
        let mut c = PeerCredit { buf_alloc: 100, fwd_cnt: u32::MAX - 10, tx_cnt: u32::MAX - 10 };
        c.sent(50);
        assert_eq!(c.space(), 50);
        c.update(100, 20).unwrap();
        assert_eq!((c.tx_cnt(), c.space()), (39, 81));
        assert!(c.update(100, u32::MAX - 5).is_err(), "behind across the wrap");
    }

    #[test]
    fn local_credit_refuses_an_overrun_and_tells_the_peer_of_freed_space() {
        let mut c = LocalCredit::new(1000);
        assert_eq!(c.advertise(), (1000, 0));
        c.receive(1000).unwrap();
        assert_eq!(c.receive(1), Err(CreditError::Overrun { len: 1, space: 0 }));
        c.consumed(200);
        assert!(!c.update_due(), "200 of 1000 freed: less than a quarter");
        c.consumed(100);
        assert!(c.update_due());
        assert_eq!(c.advertise(), (1000, 300));
        assert!(!c.update_due());
        c.receive(300).unwrap();
        assert_eq!(c.receive(1), Err(CreditError::Overrun { len: 1, space: 0 }));
        c.consumed(5000);
        assert_eq!(c.advertise(), (1000, 1300), "never more consumed than received");
    }

    #[test]
    fn any_bytes_parse_to_a_payload_inside_them_or_an_error() {
        // A deterministic stream of arbitrary buffers, headers biased
        // towards the interesting values.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut b = [0u8; 96];
            for byte in b.iter_mut() {
                *byte = next() as u8;
            }
            let n = (next() % 97) as usize;
            b[24..28].copy_from_slice(&((next() % 60) as u32).to_le_bytes());
            b[28..30].copy_from_slice(&((next() % 3) as u16).to_le_bytes());
            b[30..32].copy_from_slice(&((next() % 9) as u16).to_le_bytes());
            if let Ok(p) = Packet::parse(&b[..n]) {
                parsed += 1;
                assert_eq!(p.payload.len(), p.header.len as usize);
                assert!(HEADER_SIZE + p.payload.len() <= n);
                assert_eq!(p.header.kind, TYPE_STREAM);
                assert!(p.op == Op::Rw || p.payload.is_empty());
            }
        }
        assert!(parsed > 100, "the good cases are reached: {parsed}");
    }

    #[test]
    fn the_guest_cid_is_the_low_half_and_never_reserved() {
        assert_eq!(guest_cid(3u64.to_le_bytes()), Some(3));
        assert_eq!(guest_cid((0xdead_0000_0000_0007u64).to_le_bytes()), Some(7), "upper half reserved");
        for reserved in [0u64, 1, 2, 0xffff_ffff] {
            assert_eq!(guest_cid(reserved.to_le_bytes()), None, "cid {reserved}");
        }
        assert_eq!(event_id(&[0, 0, 0, 0]), Some(EVENT_TRANSPORT_RESET));
        assert_eq!(event_id(&[0, 0]), None);
    }
}
