//! The client as a state machine: wait for the storage information, then
//! run the test or the benchmark, one [`Client::notified`] at a time.

use crate::bench::{BenchConfig, BenchRun};
use crate::engine::{Engine, EngineError};
use crate::test_mode::{TestConfig, TestRun};
use crate::{BLK_QUEUE_CAPACITY, Failure};
use core::fmt;
use sevio_queue::StorageInfo;
use sevio_sharedmem::SharedMemory;

/// What the client needs from its surroundings (the runtime in the PD, a
/// recorder in tests).
pub trait Platform {
    /// Monotonic nanoseconds.
    fn now_ns(&mut self) -> u64;
    /// System-wide `(notifications, irqs)` so far, if anyone counts them.
    fn system_counters(&mut self) -> Option<(u64, u64)>;
    /// Print one line (the platform adds the newline).
    fn print(&mut self, line: fmt::Arguments<'_>);
}

/// The four memory regions the client shares with the driver.
pub struct Regions {
    /// The request queue (client produces).
    pub request: SharedMemory,
    /// The response queue (client consumes).
    pub response: SharedMemory,
    /// The storage information page (driver writes).
    pub storage_info: SharedMemory,
    /// The client's data region.
    pub data: SharedMemory,
    /// The I/O address of its first byte (its physical address): requests
    /// name a buffer at `offset` as `data_io + offset`.
    pub data_io: u64,
    /// A second data region and its I/O address, if the system has one
    /// (like sDDF's virtualiser's metadata buffer beside a client's data).
    pub meta: Option<(SharedMemory, u64)>,
}

/// Which program the client runs.
#[derive(Copy, Clone, Debug)]
pub enum Mode {
    /// Pattern write / read-back / verify, error probes, flush.
    Test(TestConfig),
    /// Random and sequential throughput at two queue depths.
    Bench(BenchConfig),
}

/// Where a run stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still working (or waiting for the driver).
    Running,
    /// Finished successfully.
    Passed,
    /// Finished with a failure ([`Client::failure`] says which).
    Failed,
}

/// The result of handling one event.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// New requests were published: notify the driver.
    pub notify_driver: bool,
    /// Where the run stands afterwards.
    pub outcome: Outcome,
}

/// What a mode is handed while it runs.
pub(crate) struct Ctx<'a, P: Platform> {
    pub engine: &'a mut Engine,
    pub data: &'a SharedMemory,
    /// I/O address of `data`'s first byte.
    pub data_io: u64,
    pub meta: Option<(SharedMemory, u64)>,
    pub platform: &'a mut P,
}

// No heap in PDs: the bench's latency histogram (about 1 KiB) stays
// inline; a PD holds one Job, so the test variant's unused bytes cost
// nothing that matters.
#[allow(clippy::large_enum_variant)]
enum Job {
    Test(TestRun),
    Bench(BenchRun),
}

/// The blk client.
pub struct Client {
    engine: Engine,
    info_mem: SharedMemory,
    data: SharedMemory,
    data_io: u64,
    meta: Option<(SharedMemory, u64)>,
    info: Option<StorageInfo>,
    job: Job,
    outcome: Outcome,
    failure: Option<Failure>,
}

impl Client {
    /// A client over `regions` running `mode`. Errors if the queue regions
    /// cannot hold [`BLK_QUEUE_CAPACITY`] entries or their indices are
    /// already inconsistent.
    pub fn new(regions: Regions, mode: Mode) -> Result<Client, Failure> {
        let engine = Engine::new(regions.request, regions.response, BLK_QUEUE_CAPACITY)
            .map_err(|e| Failure::Engine(EngineError::Queue(e)))?;
        let job = match mode {
            Mode::Test(cfg) => Job::Test(TestRun::new(cfg)),
            Mode::Bench(cfg) => Job::Bench(BenchRun::new(cfg)),
        };
        Ok(Client {
            engine,
            info_mem: regions.storage_info,
            data: regions.data,
            data_io: regions.data_io,
            meta: regions.meta,
            info: None,
            job,
            outcome: Outcome::Running,
            failure: None,
        })
    }

    /// The prefix of this client's log lines.
    pub fn name(&self) -> &'static str {
        match self.job {
            Job::Test(_) => "blk-client",
            Job::Bench(_) => "blk-bench",
        }
    }

    /// Where the run stands.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Why the run failed, once it has.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The storage information, once the driver has published it.
    pub fn storage_info(&self) -> Option<&StorageInfo> {
        self.info.as_ref()
    }

    /// Requests answered so far.
    pub fn completed_requests(&self) -> u64 {
        self.engine.completed()
    }

    /// Handle a notification from the driver (and the start: call once at
    /// init, once the storage information is there, see
    /// [`wait_for_storage_info`]): take every response, submit what the
    /// run needs next.
    pub fn notified<P: Platform>(&mut self, platform: &mut P) -> Step {
        if self.outcome != Outcome::Running {
            return Step { notify_driver: false, outcome: self.outcome };
        }
        let result = self.drive(platform);
        let flushed = self.engine.flush().map_err(Failure::Engine);
        match result.and_then(|done| flushed.map(|notify| (done, notify))) {
            Ok((done, notify)) => {
                if done {
                    self.outcome = Outcome::Passed;
                }
                Step { notify_driver: notify, outcome: self.outcome }
            }
            Err(f) => {
                self.failure = Some(f);
                self.outcome = Outcome::Failed;
                Step { notify_driver: false, outcome: Outcome::Failed }
            }
        }
    }

    fn drive<P: Platform>(&mut self, platform: &mut P) -> Result<bool, Failure> {
        let name = self.name();
        let mut ctx =
            Ctx { engine: &mut self.engine, data: &self.data, data_io: self.data_io, meta: self.meta, platform };
        let info = match self.info {
            Some(info) => info,
            None => {
                let Some(info) = StorageInfo::read(&self.info_mem).map_err(Failure::StorageInfo)? else {
                    return Ok(false);
                };
                print_device(name, &info, ctx.platform);
                self.info = Some(info);
                match &mut self.job {
                    Job::Test(t) => t.begin(&info, &mut ctx)?,
                    Job::Bench(b) => b.begin(&info, &mut ctx)?,
                }
                info
            }
        };
        while let Some(c) = ctx.engine.next_completion().map_err(Failure::Engine)? {
            match &mut self.job {
                Job::Test(t) => t.complete(c, &info, &mut ctx)?,
                Job::Bench(b) => b.complete(c, &mut ctx)?,
            }
        }
        match &mut self.job {
            Job::Test(t) => t.advance(&info, &mut ctx),
            Job::Bench(b) => b.advance(&info, &mut ctx),
        }
    }
}

fn print_device<P: Platform>(name: &str, info: &StorageInfo, p: &mut P) {
    let serial_len = info.serial.iter().position(|&b| b == 0).unwrap_or(info.serial.len());
    let serial = core::str::from_utf8(&info.serial[..serial_len]).unwrap_or("(not UTF-8)");
    let bytes = info.capacity.saturating_mul(sevio_queue::blk::BLK_TRANSFER_SIZE as u64);
    p.print(format_args!(
        "{name}: device: {} blocks of 4096 B ({} MiB), block size {} x 4096 B, sector size {} B, read-only {}, queue depth {}, serial \"{}\"",
        info.capacity,
        bytes >> 20,
        info.block_size,
        info.sector_size,
        if info.read_only { "yes" } else { "no" },
        info.queue_depth,
        serial.escape_debug(),
    ));
}

/// Spin until the driver has published the storage information, as
/// sDDF's virtualiser and clients do in their init: drivers set `ready`
/// (with release) and send no notification for it. The PD below its
/// driver's priority spins; everything above it runs. Returns the error
/// if the page cannot be read.
pub fn wait_for_storage_info(info: &SharedMemory) -> Result<(), Failure> {
    while StorageInfo::read(info).map_err(Failure::StorageInfo)?.is_none() {
        core::hint::spin_loop();
    }
    Ok(())
}
