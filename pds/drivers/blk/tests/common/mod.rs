//! A test rig: the blk driver PD, the real transport core
//! (`sevio_driver_core::harness`) and a mock virtio-blk behind it whose
//! disk is a Vec, and the client's side of the sDDF queues, all over
//! host memory.
#![allow(dead_code)]

use sevio_driver_blk::{BlkConfig, BlkDriver};
use sevio_driver_core::harness::Harness;
use sevio_driver_core::{DataRegions, RegionSetvars};
use sevio_queue::{BlkRequest, BlkRequestProducer, BlkResponse, BlkResponseConsumer, BlkStatus, StorageInfo};
use sevio_sddf::{BlkConnection, DeviceRegion, Region};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::{Chain, MockDevice};
use sevio_transport_protocol::Location;
use sevio_virtio::device::blk::{req, status};

/// The client's data region: requests name its bytes by I/O address
/// `DATA_PADDR + offset`, as sDDF's virtualiser does.
pub const DATA_PADDR: u64 = 0x4200_0000;
pub const DATA_SIZE: usize = 0x4_0000;
/// A second data region (a virtualiser's metadata buffer), right after
/// the first: a request straddling the two must be refused.
pub const META_PADDR: u64 = DATA_PADDR + DATA_SIZE as u64;
pub const META_SIZE: usize = 0x2000;
pub const CAPACITY_BLOCKS: u64 = 64;
/// What sdfgen gives a driver's blk queues.
pub const QCAP: u32 = 128;
/// Bytes of each queue region (16 + 128 * 32 does not fit a page).
pub const QUEUE_REGION: usize = 0x2000;
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
pub const F_RING_PACKED: u64 = 1 << 34;
/// What QEMU's modern virtio-blk offers, roughly.
pub const QEMU_LIKE: u64 =
    F_SEG_MAX | F_GEOMETRY | F_BLK_SIZE | F_FLUSH | F_MQ | F_INDIRECT | F_EVENT_IDX | F_VERSION_1;

/// A blk device offering `offered` with interface `version`, a queue of
/// at most `queue_max`, and config space with [`CAPACITY_BLOCKS`].
pub fn device(version: u32, offered: u64, queue_max: u16) -> MockDevice {
    let dev = MockDevice::new(2, version, offered, 1, queue_max);
    let mut config = vec![0u8; 72];
    config[0..8].copy_from_slice(&(CAPACITY_BLOCKS * 8).to_le_bytes());
    config[8..12].copy_from_slice(&4096u32.to_le_bytes()); // size_max
    config[12..16].copy_from_slice(&126u32.to_le_bytes()); // seg_max
    config[16..20].copy_from_slice(&[0x10, 0x02, 16, 63]); // geometry: 528 cylinders, 16 heads, 63 sectors
    config[20..24].copy_from_slice(&512u32.to_le_bytes()); // blk_size
    dev.state().config = config;
    dev
}

/// The driver PD, the device's disk and the client.
pub struct Rig {
    pub h: Harness<BlkDriver>,
    pub data: SharedMemory,
    pub meta: SharedMemory,
    pub info_page: SharedMemory,
    pub req_page: SharedMemory,
    pub requests: BlkRequestProducer,
    pub responses: BlkResponseConsumer,
    /// The disk's bytes.
    pub bytes: Vec<u8>,
    /// Chains popped and not yet completed, in arrival order.
    pub pending: Vec<Chain>,
    /// Every request type seen, in order.
    pub types: Vec<u32>,
    /// Status to answer instead of OK (None: behave).
    pub status_override: Option<u8>,
    /// The device decided to interrupt (after its last completions) and
    /// the interrupt is not delivered yet.
    pub irq_pending: bool,
    /// Interrupts delivered to the driver.
    pub interrupts: u32,
}

impl Rig {
    pub fn new(dev: MockDevice) -> Rig {
        Self::at(dev, Location::Mmio { slot: sevio_driver_core::harness::SLOT })
    }

    /// The device at `location` of the transport.
    pub fn at(dev: MockDevice, location: Location) -> Rig {
        Self::build(dev, location, None)
    }

    /// [`ready`](Self::ready) with a timer channel: requests outstanding
    /// for more than `deadline_ns` on the harness's clock fail the device.
    pub fn ready_timed(offered: u64, deadline_ns: u64) -> Rig {
        let location = Location::Mmio { slot: sevio_driver_core::harness::SLOT };
        let mut rig = Self::build(device(2, offered, 256), location, Some(deadline_ns));
        rig.bind_and_settle();
        assert!(!rig.h.take_client_notify());
        rig
    }

    fn build(dev: MockDevice, location: Location, deadline_ns: Option<u64>) -> Rig {
        let mut pages: Option<[RegionSetvars; 5]> = None;
        let regions = |mem: &mut sevio_driver_core::harness::Memory| {
            let p = [
                mem.region("blk_storage_info", 4096, 0),
                mem.region("blk_request", QUEUE_REGION, 0),
                mem.region("blk_response", QUEUE_REGION, 0),
                mem.device_region("blk_client_data", DATA_SIZE, 0, DATA_PADDR),
                mem.device_region("blk_client_meta", META_SIZE, 0, META_PADDR),
            ];
            pages = Some(p);
            let region = |r: RegionSetvars| Region { vaddr: r.vaddr, size: r.size };
            let mut data = DataRegions::new();
            for (r, io_addr) in [(p[3], DATA_PADDR), (p[4], META_PADDR)] {
                data.push(DeviceRegion { region: Region { vaddr: 0, size: r.size }, io_addr }).unwrap();
            }
            let virt = BlkConnection {
                storage_info: region(p[0]),
                req_queue: region(p[1]),
                resp_queue: region(p[2]),
                num_buffers: QCAP as u16,
                id: 2,
            };
            BlkConfig { virt, data, journal_vaddr: 0 }
        };
        let h = match deadline_ns {
            Some(deadline) => Harness::<BlkDriver>::new_timed("blk", dev, location, deadline, regions),
            None => Harness::<BlkDriver>::new_at("blk", dev, location, regions),
        };
        let [info, req, resp, data, meta] = pages.unwrap();
        let (data, meta, info_page) = (h.memory(data), h.memory(meta), h.memory(info));
        let (req_page, resp_page) = (h.memory(req), h.memory(resp));
        Rig {
            requests: BlkRequestProducer::new(req_page, QCAP).unwrap(),
            responses: BlkResponseConsumer::new(resp_page, QCAP).unwrap(),
            h,
            data,
            meta,
            info_page,
            req_page,
            bytes: vec![0; (CAPACITY_BLOCKS * 4096) as usize],
            pending: Vec::new(),
            types: Vec::new(),
            status_override: None,
            irq_pending: false,
            interrupts: 0,
        }
    }

    /// A modern QEMU-like rig, bound, GET_ID answered: ready to serve.
    pub fn ready(offered: u64) -> Rig {
        let mut rig = Rig::new(device(2, offered, 256));
        rig.bind_and_settle();
        assert!(!rig.h.take_client_notify(), "as sDDF's drivers: no notification for the storage info");
        rig
    }

    /// [`bind_and_settle`](Self::bind_and_settle) for a driver that owes
    /// its client a notification from the start: it sends it.
    pub fn bind_and_settle_notified(&mut self) {
        self.h.bind();
        assert!(self.h.take_client_notify(), "the client is told of the answers waiting");
        self.run_device();
        assert!(self.info().is_some(), "storage info published");
    }

    /// Bind, then let the device answer GET_ID.
    pub fn bind_and_settle(&mut self) {
        self.h.bind();
        assert!(self.h.device.live(), "bring-up: {:?}", self.h.last_error());
        self.run_device();
        assert!(self.info().is_some(), "storage info published");
    }

    /// The device takes and completes everything, then interrupts if due.
    pub fn run_device(&mut self) {
        self.pop();
        self.complete(usize::MAX);
        self.deliver_interrupt();
    }

    /// The device takes every available chain.
    pub fn pop(&mut self) -> usize {
        let mut n = 0;
        while let Some(c) = self.h.device.pop_avail(0) {
            self.pending.push(c);
            n += 1;
        }
        n
    }

    /// The device completes up to `n` pending chains, oldest first. Like
    /// QEMU, it decides about the interrupt right after publishing a
    /// batch, with the used_event the driver has set by then.
    pub fn complete(&mut self, n: usize) -> usize {
        let mut done = 0;
        while done < n && !self.pending.is_empty() {
            let chain = self.pending.remove(0);
            let len = self.serve_chain(&chain);
            self.h.device.push_used(0, chain.head as u32, len);
            done += 1;
        }
        if done > 0 && self.h.device.interrupt_if_due(0) {
            self.irq_pending = true;
        }
        done
    }

    /// Play virtio-blk for one chain; returns the bytes written.
    fn serve_chain(&mut self, chain: &Chain) -> u32 {
        let dev = &self.h.device;
        let header = chain.bufs[0];
        assert!(!header.writable && header.len == 16, "header first, 16 bytes, device-readable");
        let status_buf = *chain.bufs.last().unwrap();
        assert!(status_buf.writable && status_buf.len == 1, "status last, 1 byte, device-writable");
        let mut raw = [0u8; 16];
        dev.read(header.addr, &mut raw);
        let type_ = u32::from_le_bytes(raw[0..4].try_into().unwrap());
        let sector = u64::from_le_bytes(raw[8..16].try_into().unwrap());
        self.types.push(type_);
        let data = &chain.bufs[1..chain.bufs.len() - 1];
        let mut written = 0u32;
        let mut st = status::OK;
        let mut at = (sector * 512) as usize;
        match type_ {
            req::IN | req::OUT => {
                let total: usize = data.iter().map(|b| b.len as usize).sum();
                if at + total > self.bytes.len() {
                    st = status::IOERR;
                } else {
                    for b in data {
                        assert_eq!(b.writable, type_ == req::IN, "data direction");
                        let range = at..at + b.len as usize;
                        if type_ == req::IN {
                            dev.write(b.addr, &self.bytes[range]);
                            written += b.len;
                        } else {
                            dev.read(b.addr, &mut self.bytes[range]);
                        }
                        at += b.len as usize;
                    }
                }
            }
            req::FLUSH => assert!(data.is_empty()),
            req::GET_ID => {
                assert_eq!(data.len(), 1);
                assert!(data[0].writable && data[0].len == 20);
                dev.write(data[0].addr, SERIAL);
                written += 20;
            }
            _ => st = status::UNSUPP,
        }
        if let Some(s) = self.status_override {
            st = s;
        }
        dev.write(status_buf.addr, &[st]);
        written + 1
    }

    /// If the device decided to interrupt, deliver it through the
    /// transport to the driver. Returns whether it did.
    pub fn deliver_interrupt(&mut self) -> bool {
        if !std::mem::take(&mut self.irq_pending) {
            return false;
        }
        assert!(self.h.deliver_interrupt());
        self.interrupts += 1;
        true
    }

    /// The device raises an interrupt whether or not one is due, and the
    /// transport delivers it.
    pub fn force_interrupt(&mut self) {
        self.h.device.raise_interrupt();
        self.irq_pending = true;
        self.deliver_interrupt();
    }

    pub fn info(&self) -> Option<StorageInfo> {
        StorageInfo::read(&self.info_page).unwrap()
    }

    /// Enqueue requests and notify the driver once.
    pub fn submit(&mut self, reqs: &[BlkRequest]) {
        for r in reqs {
            self.requests.enqueue(*r).expect("request queue room");
        }
        self.h.client_notifies();
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
        let m = &self.req_page;
        m.read::<u32>(4).unwrap().wrapping_sub(m.read::<u32>(0).unwrap())
    }

    pub fn avail_idx(&self) -> u16 {
        self.h.device.avail_idx(0)
    }

    /// Doorbells the device heard.
    pub fn kicks(&self) -> usize {
        self.h.device.state().notifies.len()
    }

    pub fn write_data(&self, offset: usize, bytes: &[u8]) {
        self.data.copy_in(offset, bytes).unwrap();
    }

    pub fn read_data(&self, offset: usize, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.data.copy_out(offset, &mut v).unwrap();
        v
    }
}

/// A READ into the data region at `offset` (sent as its I/O address).
pub fn read(id: u32, offset: u64, block: u64, count: u16) -> BlkRequest {
    BlkRequest { code: 0, io_or_offset: DATA_PADDR.wrapping_add(offset), block_number: block, count, id }
}

/// A WRITE from the data region at `offset` (sent as its I/O address).
pub fn write(id: u32, offset: u64, block: u64, count: u16) -> BlkRequest {
    BlkRequest { code: 1, io_or_offset: DATA_PADDR.wrapping_add(offset), block_number: block, count, id }
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
