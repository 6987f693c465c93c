//! A test rig: the driver, a fake transport with a virtio-blk device
//! behind it (a disk in a Vec), and the client's side of the sDDF queues,
//! all over host memory at fixed "physical" addresses.
#![allow(dead_code)]

use sevio_driver_blk::{BlkDriver, BlkResources, ClientRegion};
use sevio_driver_core::fake::{Chain, FakeDevice, FakeTransport};
use sevio_driver_core::{DmaRegion, Transport};
use sevio_queue::{BlkRequest, BlkRequestProducer, BlkResponse, BlkResponseConsumer, BlkStatus, StorageInfo};
use sevio_sharedmem::HeapRegion;
use sevio_transport_protocol::doorbell::INT_USED_BUFFER;
use sevio_transport_protocol::{Reply, Request, TransportDoorbell};
use sevio_virtio::device::blk::{req, status};
use std::cell::RefCell;
use std::rc::Rc;

pub const DMA_PADDR: u64 = 0x4100_0000;
pub const DATA_PADDR: u64 = 0x4200_0000;
pub const DATA_SIZE: usize = 0x4_0000;
pub const CAPACITY_BLOCKS: u64 = 64;
pub const QCAP: u32 = 64;
pub const SERIAL: &[u8; 20] = b"sevio-test-disk-0001";

pub const F_SIZE_MAX: u64 = 1 << 1;
pub const F_SEG_MAX: u64 = 1 << 2;
pub const F_GEOMETRY: u64 = 1 << 4;
pub const F_RO: u64 = 1 << 5;
pub const F_BLK_SIZE: u64 = 1 << 6;
pub const F_FLUSH: u64 = 1 << 9;
pub const F_MQ: u64 = 1 << 12;
pub const F_INDIRECT: u64 = 1 << 28;
pub const F_EVENT_IDX: u64 = 1 << 29;
pub const F_VERSION_1: u64 = 1 << 32;
/// What QEMU's modern virtio-blk offers, roughly.
pub const QEMU_LIKE: u64 =
    F_SEG_MAX | F_GEOMETRY | F_BLK_SIZE | F_FLUSH | F_MQ | F_INDIRECT | F_EVENT_IDX | F_VERSION_1;

/// The device's behaviour, shared with the transport wrapper.
pub struct Disk {
    pub bytes: Vec<u8>,
    /// Chains popped and not yet completed, in arrival order.
    pub pending: Vec<Chain>,
    /// Every request type seen, in order.
    pub types: Vec<u32>,
    /// Status to answer instead of OK (None: behave).
    pub status_override: Option<u8>,
    /// Complete everything as soon as the driver kicks.
    pub sync: bool,
    /// The device decided to interrupt (after its last completions) and
    /// the interrupt is not delivered yet.
    pub irq_pending: bool,
}

/// The transport the driver gets: the fake, plus "the device runs on a
/// kick" when `sync` is set.
pub struct TestTransport {
    pub fake: FakeTransport,
    pub disk: Rc<RefCell<Disk>>,
}

impl Transport for TestTransport {
    fn call(&mut self, request: Request) -> Reply {
        let reply = self.fake.call(request);
        if matches!(request, Request::QueueNotify { .. }) && self.disk.borrow().sync {
            device_pop(&self.fake, &self.disk);
            device_complete(&self.fake, &self.disk, usize::MAX);
        }
        reply
    }
}

/// The device takes every available chain.
pub fn device_pop(fake: &FakeTransport, disk: &Rc<RefCell<Disk>>) -> usize {
    let mut dev = fake.device();
    let mut n = 0;
    while let Some(c) = dev.pop_avail(0) {
        disk.borrow_mut().pending.push(c);
        n += 1;
    }
    n
}

/// The device completes up to `n` pending chains, oldest first.
pub fn device_complete(fake: &FakeTransport, disk: &Rc<RefCell<Disk>>, n: usize) -> usize {
    let mut done = 0;
    while done < n {
        let chain = {
            let mut d = disk.borrow_mut();
            if d.pending.is_empty() {
                break;
            }
            d.pending.remove(0)
        };
        let mut dev = fake.device();
        let len = serve_chain(&dev, &mut disk.borrow_mut(), &chain);
        dev.push_used(0, chain.head as u32, len);
        done += 1;
    }
    // Like QEMU, the device decides about the interrupt right after
    // publishing a batch, with the used_event the driver has set by then.
    if done > 0 && fake.device().interrupt_due(0) {
        disk.borrow_mut().irq_pending = true;
    }
    done
}

/// Play virtio-blk for one chain; returns the bytes written.
fn serve_chain(dev: &FakeDevice, disk: &mut Disk, chain: &Chain) -> u32 {
    let mem = &dev.memory;
    let header = chain.bufs[0];
    assert!(!header.writable && header.len == 16, "header first, 16 bytes, device-readable");
    let status_buf = *chain.bufs.last().unwrap();
    assert!(status_buf.writable && status_buf.len == 1, "status last, 1 byte, device-writable");
    let type_ = mem.read_u32(header.addr);
    let sector = mem.read_u64(header.addr + 8);
    disk.types.push(type_);
    let data = &chain.bufs[1..chain.bufs.len() - 1];
    let mut written = 0u32;
    let mut st = status::OK;
    let mut at = (sector * 512) as usize;
    match type_ {
        req::IN | req::OUT => {
            let total: usize = data.iter().map(|b| b.len as usize).sum();
            if at + total > disk.bytes.len() {
                st = status::IOERR;
            } else {
                for b in data {
                    assert_eq!(b.writable, type_ == req::IN, "data direction");
                    let range = at..at + b.len as usize;
                    if type_ == req::IN {
                        mem.write(b.addr, &disk.bytes[range]);
                        written += b.len;
                    } else {
                        mem.read(b.addr, &mut disk.bytes[range]);
                    }
                    at += b.len as usize;
                }
            }
        }
        req::FLUSH => assert!(data.is_empty()),
        req::GET_ID => {
            assert_eq!(data.len(), 1);
            assert!(data[0].writable && data[0].len == 20);
            mem.write(data[0].addr, SERIAL);
            written += 20;
        }
        _ => st = status::UNSUPP,
    }
    if let Some(s) = disk.status_override {
        st = s;
    }
    mem.write(status_buf.addr, &[st]);
    written + 1
}

/// Regions, driver, device and client.
pub struct Rig {
    pub dma: HeapRegion,
    pub data: HeapRegion,
    pub doorbell_page: HeapRegion,
    pub info_page: HeapRegion,
    pub req_page: HeapRegion,
    pub resp_page: HeapRegion,
    pub doorbell: TransportDoorbell,
    pub fake: FakeTransport,
    pub disk: Rc<RefCell<Disk>>,
    pub driver: BlkDriver<TestTransport>,
    pub requests: BlkRequestProducer,
    pub responses: BlkResponseConsumer,
    /// Interrupts delivered to the driver.
    pub interrupts: u32,
}

/// A blk device offering `offered` with interface `version`, a queue of
/// at most `queue_max`, and config space with `capacity_blocks`.
pub fn device(version: u32, offered: u64, queue_max: u16) -> FakeDevice {
    let mut dev = FakeDevice::new(2, version, offered, 1, queue_max);
    let mut config = vec![0u8; 72];
    config[0..8].copy_from_slice(&(CAPACITY_BLOCKS * 8).to_le_bytes());
    config[8..12].copy_from_slice(&4096u32.to_le_bytes()); // size_max
    config[12..16].copy_from_slice(&126u32.to_le_bytes()); // seg_max
    config[20..24].copy_from_slice(&512u32.to_le_bytes()); // blk_size
    dev.config = config;
    dev
}

impl Rig {
    pub fn new(dev: FakeDevice) -> Rig {
        let dma = HeapRegion::new(0x10000);
        let data = HeapRegion::new(DATA_SIZE);
        let doorbell_page = HeapRegion::new(4096);
        let (info_page, req_page, resp_page) = (HeapRegion::new(4096), HeapRegion::new(4096), HeapRegion::new(4096));
        let mut dev = dev;
        dev.memory.add(DMA_PADDR, dma.memory());
        dev.memory.add(DATA_PADDR, data.memory());
        dev.dma_window = Some((DMA_PADDR, 0x10000));
        let fake = FakeTransport::new(dev);
        let disk = Rc::new(RefCell::new(Disk {
            bytes: vec![0; (CAPACITY_BLOCKS * 4096) as usize],
            pending: Vec::new(),
            types: Vec::new(),
            status_override: None,
            sync: false,
            irq_pending: false,
        }));
        let doorbell = TransportDoorbell::init(doorbell_page.memory()).unwrap();
        let res = BlkResources {
            dma: DmaRegion::new(dma.memory(), DMA_PADDR).unwrap(),
            doorbell: doorbell_page.memory(),
            storage_info: info_page.memory(),
            requests: req_page.memory(),
            responses: resp_page.memory(),
            queue_capacity: QCAP,
            client_data: ClientRegion { paddr: DATA_PADDR, size: DATA_SIZE as u64 },
        };
        let transport = TestTransport { fake: fake.clone(), disk: disk.clone() };
        let driver = BlkDriver::new(transport, res);
        let requests = BlkRequestProducer::new(req_page.memory(), QCAP).unwrap();
        let responses = BlkResponseConsumer::new(resp_page.memory(), QCAP).unwrap();
        Rig {
            dma,
            data,
            doorbell_page,
            info_page,
            req_page,
            resp_page,
            doorbell,
            fake,
            disk,
            driver,
            requests,
            responses,
            interrupts: 0,
        }
    }

    /// A modern QEMU-like rig, bound, GET_ID answered: ready to serve.
    pub fn ready(offered: u64) -> Rig {
        let mut rig = Rig::new(device(2, offered, 256));
        rig.bind_and_settle();
        rig
    }

    /// Bind, then let the device answer GET_ID.
    pub fn bind_and_settle(&mut self) {
        self.driver.bind().expect("bring-up");
        self.run_device();
        assert!(self.driver.take_client_notify(), "the client hears that the storage info is ready");
    }

    /// The device takes and completes everything, then interrupts if due.
    pub fn run_device(&mut self) {
        self.pop();
        self.complete(usize::MAX);
        self.deliver_interrupt();
    }

    pub fn pop(&mut self) -> usize {
        device_pop(&self.fake, &self.disk)
    }

    pub fn complete(&mut self, n: usize) -> usize {
        device_complete(&self.fake, &self.disk, n)
    }

    /// If the device decided to interrupt, raise it through the doorbell
    /// and tell the driver. Returns whether it did.
    pub fn deliver_interrupt(&mut self) -> bool {
        if !std::mem::take(&mut self.disk.borrow_mut().irq_pending) {
            return false;
        }
        self.doorbell.raise(INT_USED_BUFFER);
        self.interrupts += 1;
        self.driver.interrupt();
        true
    }

    pub fn info(&self) -> Option<StorageInfo> {
        StorageInfo::read(&self.info_page.memory()).unwrap()
    }

    /// Enqueue requests and notify the driver once.
    pub fn submit(&mut self, reqs: &[BlkRequest]) {
        for r in reqs {
            self.requests.enqueue(*r).expect("request queue room");
        }
        self.driver.client_notified();
    }

    /// Every response published so far.
    pub fn take_responses(&mut self) -> Vec<BlkResponse> {
        let mut out = Vec::new();
        while let Some(r) = self.responses.dequeue().unwrap() {
            out.push(r);
        }
        out
    }

    /// Requests still waiting in the request queue (not taken).
    pub fn waiting(&self) -> u32 {
        let m = self.req_page.memory();
        m.read::<u32>(4).unwrap().wrapping_sub(m.read::<u32>(0).unwrap())
    }

    pub fn avail_idx(&self) -> u16 {
        let q = self.fake.device().queues[0].expect("queue set up");
        self.fake.device().memory.read_u16(q.avail + 2)
    }

    pub fn kicks(&self) -> usize {
        self.fake.device().kicks.len()
    }

    pub fn write_data(&self, offset: usize, bytes: &[u8]) {
        self.data.memory().copy_in(offset, bytes).unwrap();
    }

    pub fn read_data(&self, offset: usize, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.data.memory().copy_out(offset, &mut v).unwrap();
        v
    }
}

pub fn read(id: u32, offset: u64, block: u64, count: u16) -> BlkRequest {
    BlkRequest { code: 0, io_or_offset: offset, block_number: block, count, id }
}

pub fn write(id: u32, offset: u64, block: u64, count: u16) -> BlkRequest {
    BlkRequest { code: 1, io_or_offset: offset, block_number: block, count, id }
}

pub fn flush(id: u32) -> BlkRequest {
    BlkRequest { code: 2, io_or_offset: 0, block_number: 0, count: 0, id }
}

pub fn barrier(id: u32) -> BlkRequest {
    BlkRequest { code: 3, io_or_offset: 0, block_number: 0, count: 0, id }
}

pub fn ok(id: u32, count: u16) -> BlkResponse {
    BlkResponse::new(BlkStatus::Ok, count, id)
}

pub fn status_of(status: BlkStatus, id: u32) -> BlkResponse {
    BlkResponse::new(status, 0, id)
}

/// A recognisable byte pattern.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}
