//! A blk driver and a platform in host memory, for tests (feature
//! `test-utils`).
//!
//! [`FakeSystem`] owns the regions; [`FakeDriver`] serves the request
//! queue against a `Vec<u8>` disk, checking requests as the real driver
//! must (code, I/O address and length inside one of the two data regions
//! with the drivers' own check, `sevio_sddf::find_io_range`, blocks
//! against the capacity, writes to a read-only disk), and can misbehave on
//! purpose; [`FakeSystem::run`] passes notifications back and forth until
//! the client finishes or nothing moves.

use crate::client::{Client, Mode, Outcome, Platform, Regions};
use core::fmt;
use sevio_queue::blk::{BLK_TRANSFER_SIZE, STORAGE_SERIAL_LEN};
use sevio_queue::{BlkOp, BlkRequest, BlkRequestConsumer, BlkResponse, BlkResponseProducer, BlkStatus, StorageInfo};
use sevio_sddf::{DeviceRegion, Region, find_io_range};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use std::string::String;
use std::vec;
use std::vec::Vec;

/// A platform that records what the client prints, with a clock that
/// advances `tick_ns` per reading and counters the test sets.
#[derive(Default)]
pub struct RecordingPlatform {
    /// Every line printed.
    pub lines: Vec<String>,
    /// The clock.
    pub now: u64,
    /// Clock advance per reading.
    pub tick_ns: u64,
    /// What `system_counters` answers.
    pub counters: Option<(u64, u64)>,
}

impl RecordingPlatform {
    /// Whether some line contains `text`.
    pub fn printed(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }
}

impl Platform for RecordingPlatform {
    fn now_ns(&mut self) -> u64 {
        self.now += self.tick_ns;
        self.now
    }
    fn system_counters(&mut self) -> Option<(u64, u64)> {
        self.counters
    }
    fn print(&mut self, line: fmt::Arguments<'_>) {
        self.lines.push(std::format!("{line}"));
    }
}

/// How the fake driver misbehaves.
#[derive(Copy, Clone, Debug, Default)]
pub struct Faults {
    /// Flip a byte of this block whenever it is read.
    pub corrupt_block: Option<u64>,
    /// Serve reads of block `b` from block `b + 1`.
    pub shifted_reads: bool,
    /// Accept writes even though the disk is read-only.
    pub ignore_read_only: bool,
    /// Skip the I/O address check (and then clamp into the data region,
    /// to stay in bounds).
    pub skip_offset_check: bool,
    /// Acknowledge the WRITEs after the first n without storing them (a
    /// write lost across a driver restart).
    pub lose_writes_after: Option<usize>,
}

/// The driver side, in host memory.
pub struct FakeDriver {
    requests: BlkRequestConsumer,
    responses: BlkResponseProducer,
    info_mem: SharedMemory,
    /// The data regions and their I/O addresses.
    buffers: [(SharedMemory, u64); 2],
    /// The disk's contents.
    pub disk: Vec<u8>,
    /// What the driver publishes.
    pub info: StorageInfo,
    /// Misbehaviour.
    pub faults: Faults,
    /// Most requests answered per [`FakeDriver::process`] call.
    pub max_batch: usize,
    /// Answer each batch in reverse order.
    pub reverse: bool,
    /// Every request answered, with its status.
    pub log: Vec<(BlkRequest, BlkStatus)>,
    /// Most requests taken and not yet answered at any time.
    pub max_outstanding: usize,
}

impl FakeDriver {
    /// Publish the storage information (sets `ready`).
    pub fn publish_info(&self) {
        self.info.publish(&self.info_mem).expect("storage info page");
    }

    /// (op, buffer memory, offset in it, disk byte offset).
    fn check(&self, r: &BlkRequest) -> Result<(BlkOp, SharedMemory, usize, usize), BlkStatus> {
        let (data, _) = self.buffers[0];
        let op = r.op().ok_or(BlkStatus::InvalidParam)?;
        if matches!(op, BlkOp::Flush | BlkOp::Barrier) {
            return Ok((op, data, 0, 0));
        }
        let len = usize::from(r.count) * BLK_TRANSFER_SIZE;
        let regions = self
            .buffers
            .map(|(mem, io_addr)| DeviceRegion { region: Region { vaddr: 0, size: mem.len() as u64 }, io_addr });
        let target = find_io_range(&regions, r.io_or_offset, len as u64);
        if r.count == 0 || target.is_none() && !self.faults.skip_offset_check {
            return Err(BlkStatus::InvalidParam);
        }
        let last = r.block_number.checked_add(u64::from(r.count));
        if last.is_none_or(|l| l > self.info.capacity) {
            return Err(BlkStatus::InvalidParam);
        }
        if op == BlkOp::Write && self.info.read_only && !self.faults.ignore_read_only {
            return Err(BlkStatus::InvalidParam);
        }
        let (mem, offset) = match target {
            Some(t) => (self.buffers[t.index].0, t.offset as usize),
            None => {
                (data, (r.io_or_offset.wrapping_sub(self.buffers[0].1) as usize).min(data.len().saturating_sub(len)))
            }
        };
        Ok((op, mem, offset, r.block_number as usize * BLK_TRANSFER_SIZE))
    }

    fn serve(&mut self, r: &BlkRequest) -> BlkStatus {
        let (op, mem, offset, disk_at) = match self.check(r) {
            Ok(x) => x,
            Err(status) => return status,
        };
        let len = usize::from(r.count) * BLK_TRANSFER_SIZE;
        match op {
            BlkOp::Read => {
                let shift = if self.faults.shifted_reads { BLK_TRANSFER_SIZE } else { 0 };
                let from = (disk_at + shift).min(self.disk.len() - len);
                let mut buf = self.disk[from..from + len].to_vec();
                if let Some(b) = self.faults.corrupt_block {
                    let first = r.block_number;
                    if (first..first + u64::from(r.count)).contains(&b) {
                        buf[(b - first) as usize * BLK_TRANSFER_SIZE + 100] ^= 0x40;
                    }
                }
                mem.copy_in(offset, &buf).expect("checked range");
            }
            BlkOp::Write => {
                let done = self.log.iter().filter(|(r, _)| r.code == BlkOp::Write as u32).count();
                if self.faults.lose_writes_after.is_none_or(|n| done < n) {
                    mem.copy_out(offset, &mut self.disk[disk_at..disk_at + len]).expect("checked range");
                }
            }
            BlkOp::Flush | BlkOp::Barrier => {}
        }
        BlkStatus::Ok
    }

    /// Take every new request, answer up to `max_batch` of those waiting.
    /// Returns (answered any, requests still waiting).
    pub fn process(&mut self, waiting: &mut Vec<BlkRequest>) -> (bool, usize) {
        while let Some(r) = self.requests.take().expect("request queue") {
            waiting.push(r);
        }
        self.requests.publish().expect("request queue");
        self.max_outstanding = self.max_outstanding.max(waiting.len());
        let n = waiting.len().min(self.max_batch.max(1));
        let mut batch: Vec<BlkRequest> = waiting.drain(..n).collect();
        if self.reverse {
            batch.reverse();
        }
        for r in &batch {
            let status = self.serve(r);
            let count = if status == BlkStatus::Ok { r.count } else { 0 };
            self.responses.enqueue(BlkResponse::new(status, count, r.id)).expect("response queue");
            self.log.push((*r, status));
        }
        (!batch.is_empty(), waiting.len())
    }
}

/// Regions, driver and notification bookkeeping for one test.
pub struct FakeSystem {
    _regions: [HeapRegion; 5],
    regions: [SharedMemory; 5],
    /// The driver.
    pub driver: FakeDriver,
    /// Notifications sent (client to driver, driver to client).
    pub notifications: (u64, u64),
    waiting: Vec<BlkRequest>,
}

/// Data region size of a fake system (as in the reference system.xml).
pub const FAKE_DATA_SIZE: usize = 0x20_0000;
/// The data region's I/O address (as in the reference system.xml).
pub const FAKE_DATA_IO: u64 = 0x4820_0000;
/// The second data region, right after the first.
pub const FAKE_META_SIZE: usize = 0x1_0000;
/// Its I/O address.
pub const FAKE_META_IO: u64 = FAKE_DATA_IO + FAKE_DATA_SIZE as u64;

impl FakeSystem {
    /// A disk of `capacity` blocks, read-only or not, a 2 MiB data region
    /// and a 64 KiB second one after it.
    pub fn new(capacity: u64, read_only: bool) -> FakeSystem {
        let queue = crate::pd::QUEUE_REGION_SIZE;
        let heaps = [
            HeapRegion::new(queue),
            HeapRegion::new(queue),
            HeapRegion::new(4096),
            HeapRegion::new(FAKE_DATA_SIZE),
            HeapRegion::new(FAKE_META_SIZE),
        ];
        let regions = heaps.each_ref().map(HeapRegion::memory);
        let mut serial = [0u8; STORAGE_SERIAL_LEN];
        serial[..8].copy_from_slice(b"fake-blk");
        let info = StorageInfo {
            serial,
            read_only,
            sector_size: 512,
            block_size: 1,
            queue_depth: 32,
            capacity,
            ..StorageInfo::default()
        };
        let driver = FakeDriver {
            requests: BlkRequestConsumer::new(regions[0], crate::BLK_QUEUE_CAPACITY).expect("queue"),
            responses: BlkResponseProducer::new(regions[1], crate::BLK_QUEUE_CAPACITY).expect("queue"),
            info_mem: regions[2],
            buffers: [(regions[3], FAKE_DATA_IO), (regions[4], FAKE_META_IO)],
            disk: vec![0; capacity as usize * BLK_TRANSFER_SIZE],
            info,
            faults: Faults::default(),
            max_batch: usize::MAX,
            reverse: false,
            log: Vec::new(),
            max_outstanding: 0,
        };
        FakeSystem { _regions: heaps, regions, driver, notifications: (0, 0), waiting: Vec::new() }
    }

    /// The client's view of the regions.
    pub fn regions(&self) -> Regions {
        Regions {
            request: self.regions[0],
            response: self.regions[1],
            storage_info: self.regions[2],
            data: self.regions[3],
            data_io: FAKE_DATA_IO,
            meta: Some((self.regions[4], FAKE_META_IO)),
        }
    }

    /// A client over this system's regions.
    pub fn client(&self, mode: Mode) -> Client {
        Client::new(self.regions(), mode).expect("client")
    }

    /// Deliver notifications until the client finishes or nothing moves
    /// (at most `max_rounds` deliveries). The client handles each
    /// notification before the driver goes on (it has the lower priority
    /// in the real system, but a driver answering one request per device
    /// interrupt gives it the same interleaving). The client's first step is taken
    /// here, as the PD's init does. `platform.counters`, if set, counts
    /// every notification sent (the driver's IRQ count stays 0).
    pub fn run(&mut self, client: &mut Client, platform: &mut RecordingPlatform, max_rounds: usize) -> Outcome {
        let mut step = client.notified(platform);
        let (mut to_driver, mut to_client) = (step.notify_driver, false);
        self.count(&mut to_driver, false, platform);
        for _ in 0..max_rounds {
            if step.outcome != Outcome::Running {
                break;
            }
            if to_client {
                to_client = false;
                step = client.notified(platform);
                to_driver = step.notify_driver;
                self.count(&mut to_driver, false, platform);
            } else if to_driver || !self.waiting.is_empty() {
                to_driver = false;
                let (answered, _) = self.driver.process(&mut self.waiting);
                if answered {
                    to_client = true;
                    self.count(&mut to_client, true, platform);
                }
            } else {
                break;
            }
        }
        client.outcome()
    }

    fn count(&mut self, sent: &mut bool, to_client: bool, platform: &mut RecordingPlatform) {
        if !*sent {
            return;
        }
        if to_client {
            self.notifications.1 += 1;
        } else {
            self.notifications.0 += 1;
        }
        if let Some((n, _)) = platform.counters.as_mut() {
            *n += 1;
        }
    }
}
