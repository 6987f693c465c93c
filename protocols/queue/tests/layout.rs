//! Every offset and size of the sDDF layouts, as golden byte arrays: what
//! our producers write, and what our consumers read from bytes a C peer
//! would have written.

use sevio_queue::blk::{BlkRequestQueue, BlkResponseQueue, PLUGGED_OFFSET, STORAGE_INFO_SIZE};
use sevio_queue::net::{CONSUMER_SIGNALLED_OFFSET, NetQueue};
use sevio_queue::ring::{Entry, QueueKind};
use sevio_queue::serial::{PRODUCER_SIGNALLED_OFFSET, SerialQueue};
use sevio_queue::*;
use sevio_sharedmem::{HeapRegion, SharedMemory};

fn bytes(m: &SharedMemory, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    m.copy_out(0, &mut v).unwrap();
    v
}

#[test]
fn header_constants_match_sddf() {
    assert_eq!((NetQueue::TAIL, NetQueue::HEAD, CONSUMER_SIGNALLED_OFFSET, NetQueue::HEADER_SIZE), (0, 2, 4, 8));
    assert_eq!(
        (BlkRequestQueue::HEAD, BlkRequestQueue::TAIL, PLUGGED_OFFSET, BlkRequestQueue::HEADER_SIZE),
        (0, 4, 8, 16)
    );
    assert_eq!((BlkResponseQueue::HEAD, BlkResponseQueue::TAIL, BlkResponseQueue::HEADER_SIZE), (0, 4, 8));
    assert_eq!(
        (SerialQueue::TAIL, SerialQueue::HEAD, PRODUCER_SIGNALLED_OFFSET, SerialQueue::HEADER_SIZE),
        (0, 4, 8, 12)
    );
    assert_eq!((<NetBuffer as Entry>::SIZE, NetBuffer::SIZE), (16, 16));
    assert_eq!((<BlkRequest as Entry>::SIZE, BlkRequest::SIZE), (32, 32));
    assert_eq!((<BlkResponse as Entry>::SIZE, BlkResponse::SIZE), (12, 12));
    assert_eq!(STORAGE_INFO_SIZE, 88);
}

const NET_GOLDEN: [u8; 8 + 2 * 16] = [
    // tail u16 = 2, head u16 = 0, consumer_signalled u32 = 0
    2, 0, 0, 0, 0, 0, 0, 0, //
    // entry 0: io_or_offset, len, oid (6 bits), padding
    0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xaa, 0x99, 0x3f, 0, 0, 0, 0, 0, //
    // entry 1
    0x00, 0x08, 0, 0, 0, 0, 0, 0, 0xea, 0x05, 0x01, 0, 0, 0, 0, 0,
];

#[test]
fn net_producer_writes_golden_bytes() {
    let r = HeapRegion::new(8 + 4 * 16);
    let m = r.memory();
    let mut p = NetProducer::new(m, 4).unwrap();
    p.enqueue(NetBuffer { io_or_offset: 0x1122_3344_5566_7788, len: 0x99aa, oid: 0xff }).unwrap();
    p.enqueue(NetBuffer { io_or_offset: 0x800, len: 1514, oid: 1 }).unwrap();
    assert_eq!(&bytes(&m, 40)[..], &NET_GOLDEN[..]);
}

#[test]
fn net_producers_fill_every_slot_like_sddf() {
    // sDDF 0.7.0 `net_queue_full_free`: `tail - head == capacity`; its rx
    // virtualiser puts all `num_buffers` buffers on the driver's free
    // queue at start, and a consumer must take them all.
    let r = HeapRegion::new(8 + 2 * 16);
    let mut p = NetProducer::new(r.memory(), 2).unwrap();
    p.enqueue(NetBuffer { io_or_offset: 0x800, ..NetBuffer::default() }).unwrap();
    p.enqueue(NetBuffer { io_or_offset: 0x1000, ..NetBuffer::default() }).unwrap();
    assert_eq!(p.enqueue(NetBuffer::default()), Err(QueueError::Full));
    assert_eq!(p.free().unwrap(), 0);
    assert_eq!(&bytes(&r.memory(), 4)[..], &[2, 0, 0, 0], "tail 2, head 0: full");
    let mut c = NetConsumer::new(r.memory(), 2).unwrap();
    assert_eq!(c.len().unwrap(), 2);
}

#[test]
fn net_consumer_reads_golden_bytes() {
    let r = HeapRegion::new(NET_GOLDEN.len());
    let m = r.memory();
    m.copy_in(0, &NET_GOLDEN).unwrap();
    let mut c = NetConsumer::new(m, 2).unwrap();
    assert_eq!(c.dequeue().unwrap(), Some(NetBuffer { io_or_offset: 0x1122_3344_5566_7788, len: 0x99aa, oid: 0x3f }));
    assert_eq!(c.dequeue().unwrap(), Some(NetBuffer { io_or_offset: 0x800, len: 1514, oid: 1 }));
    assert_eq!(c.dequeue().unwrap(), None);
    // head (u16 @2) now 2; tail untouched.
    assert_eq!(&bytes(&m, 4)[..], &[2, 0, 2, 0]);
}

const BLK_REQ_GOLDEN: [u8; 16 + 32] = [
    // head u32 = 0, tail u32 = 1, plugged = 1, padding to 16
    0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, //
    // code u32 = 1 (WRITE), pad, io_or_offset u64
    1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, //
    // block_number u64, count u16, pad, id u32
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0, 0, 0x34, 0x33, 0x32, 0x31,
];

const REQ: BlkRequest = BlkRequest {
    code: 1,
    io_or_offset: 0x0807_0605_0403_0201,
    block_number: 0x1817_1615_1413_1211,
    count: 0x2221,
    id: 0x3132_3334,
};

#[test]
fn blk_request_golden_both_ways() {
    let r = HeapRegion::new(16 + 2 * 32);
    let m = r.memory();
    let mut p = BlkRequestProducer::new(m, 2).unwrap();
    p.enqueue(REQ).unwrap();
    p.plug().unwrap();
    assert_eq!(&bytes(&m, 48)[..], &BLK_REQ_GOLDEN[..]);

    let r = HeapRegion::new(16 + 2 * 32);
    let m = r.memory();
    m.copy_in(0, &BLK_REQ_GOLDEN).unwrap();
    let mut c = BlkRequestConsumer::new(m, 2).unwrap();
    assert!(c.plugged());
    let got = c.dequeue().unwrap().unwrap();
    assert_eq!(got, REQ);
    assert_eq!(got.op(), Some(BlkOp::Write));
    assert_eq!(m.read::<u32>(0), Some(1), "head published at offset 0");
}

const BLK_RESP_GOLDEN: [u8; 8 + 12] = [
    // head u32 = 0, tail u32 = 1
    0, 0, 0, 0, 1, 0, 0, 0, //
    // status u32 = 3 (IO), success_count u16, pad, id u32
    3, 0, 0, 0, 0x02, 0x01, 0, 0, 0x44, 0x33, 0x22, 0x11,
];

#[test]
fn blk_response_golden_both_ways() {
    let resp = BlkResponse::new(BlkStatus::Io, 0x0102, 0x1122_3344);
    let r = HeapRegion::new(8 + 2 * 12);
    let m = r.memory();
    BlkResponseProducer::new(m, 2).unwrap().enqueue(resp).unwrap();
    assert_eq!(&bytes(&m, 20)[..], &BLK_RESP_GOLDEN[..]);

    let r = HeapRegion::new(8 + 2 * 12);
    let m = r.memory();
    m.copy_in(0, &BLK_RESP_GOLDEN).unwrap();
    let got = BlkResponseConsumer::new(m, 2).unwrap().dequeue().unwrap().unwrap();
    assert_eq!(got, resp);
    assert_eq!(BlkStatus::from_u32(got.status), Some(BlkStatus::Io));
}

#[test]
fn serial_golden_both_ways() {
    let h = HeapRegion::new(12);
    let d = HeapRegion::new(4);
    let (hm, dm) = (h.memory(), d.memory());
    let mut p = SerialProducer::new(hm, dm, 4).unwrap();
    // A serial producer may fill every byte.
    assert_eq!(p.write(b"hello").unwrap(), 4);
    assert_eq!(bytes(&hm, 12), [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(bytes(&dm, 4), b"hell");
    let mut c = SerialConsumer::new(hm, dm, 4).unwrap();
    let mut out = [0u8; 3];
    assert_eq!(c.read(&mut out).unwrap(), 3);
    assert_eq!(&out, b"hel");
    assert_eq!(bytes(&hm, 8), [4, 0, 0, 0, 3, 0, 0, 0]);
    // Wraps: 'o' lands in slot 0.
    assert_eq!(p.write(b"o!").unwrap(), 2);
    assert_eq!(bytes(&dm, 4), b"o!ll");
}

#[test]
fn storage_info_golden_and_ready_gate() {
    let r = HeapRegion::new(4096);
    let m = r.memory();
    assert_eq!(StorageInfo::read(&m).unwrap(), None, "not ready yet");
    let mut serial = [0u8; 64];
    serial[..5].copy_from_slice(b"SEVIO");
    let info = StorageInfo {
        serial,
        read_only: true,
        sector_size: 512,
        block_size: 1,
        queue_depth: 0x0102,
        cylinders: 0x0304,
        heads: 0x0506,
        blocks: 0x0708,
        capacity: 0x1122_3344_5566_7788,
    };
    info.publish(&m).unwrap();
    let mut golden = [0u8; 88];
    golden[..5].copy_from_slice(b"SEVIO");
    golden[64..80].copy_from_slice(&[1, 1, 0x00, 0x02, 1, 0, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07, 0, 0]);
    golden[80..88].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(bytes(&m, 88), golden);
    assert_eq!(StorageInfo::read(&m).unwrap(), Some(info));
    StorageInfo::retract(&m).unwrap();
    assert_eq!(StorageInfo::read(&m).unwrap(), None);
    assert!(matches!(StorageInfo::read(&m.slice(0, 80).unwrap()), Err(QueueError::RegionTooSmall { .. })));
}
