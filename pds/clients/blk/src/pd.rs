//! The PD shell: channels, setvars, the runtime [`Handler`].
//!
//! system.xml gives the client:
//! - channel 0: the blk driver ([`DRIVER`]), notifications both ways;
//! - `blk_request_vaddr`, `blk_response_vaddr`, `blk_storage_info_vaddr`:
//!   the three 4 KiB pages shared with the driver (setvar_vaddr);
//! - `client_data_vaddr` (setvar_vaddr), `client_data_size`
//!   (setvar_size) and `client_data_paddr` (region_paddr): the data
//!   region, whose bytes requests name by I/O address;
//! - optional: `client_meta_vaddr`, `client_meta_size`,
//!   `client_meta_paddr`: a second data region (like sDDF's virtualiser's
//!   metadata buffer);
//! - optional: `pattern_seed` (test mode; 0 = [`crate::DEFAULT_SEED`]),
//!   `bench_qd1_requests`, `bench_qd32_requests` (bench mode; 0 = the
//!   defaults of [`crate::BenchConfig`]).

use crate::client::{Client, Mode, Outcome, Platform, Regions, wait_for_storage_info};
use crate::text::LineBuf;
use crate::{BenchConfig, Failure, TestConfig};
use core::fmt;
use core::fmt::Write;
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The blk driver.
pub const DRIVER: Channel = Channel::new(0);

/// Size of each queue region (128 requests of 32 bytes after a 16-byte
/// header).
pub const QUEUE_REGION_SIZE: usize = 0x2000;
/// Size of the storage information region.
pub const STORAGE_INFO_REGION_SIZE: usize = 0x1000;

sevio_runtime::shared_region!(
    /// The request queue region.
    pub fn request_region() = "blk_request_vaddr", QUEUE_REGION_SIZE as u64
);
sevio_runtime::shared_region!(
    /// The response queue region.
    pub fn response_region() = "blk_response_vaddr", QUEUE_REGION_SIZE as u64
);
sevio_runtime::shared_region!(
    /// The storage information page.
    pub fn storage_info_region() = "blk_storage_info_vaddr", STORAGE_INFO_REGION_SIZE as u64
);
sevio_runtime::setvar!(
    /// Size of the client data region in bytes.
    pub fn client_data_size() = "client_data_size"
);
sevio_runtime::shared_region!(
    /// The client data region.
    pub fn data_region() = "client_data_vaddr", client_data_size()
);
sevio_runtime::setvar!(
    /// Physical (I/O) address of the client data region.
    pub fn client_data_paddr() = "client_data_paddr"
);
sevio_runtime::setvar!(
    /// Size of the second data region (0: none).
    pub fn client_meta_size() = "client_meta_size"
);
sevio_runtime::shared_region!(
    /// The second data region.
    pub fn meta_region() = "client_meta_vaddr", client_meta_size()
);
sevio_runtime::setvar!(
    /// Physical (I/O) address of the second data region.
    pub fn client_meta_paddr() = "client_meta_paddr"
);
sevio_runtime::setvar!(
    /// Pattern seed override (0: default).
    pub fn pattern_seed() = "pattern_seed"
);
sevio_runtime::setvar!(
    /// Requests per bench phase at depth 1 (0: default).
    pub fn bench_qd1_requests() = "bench_qd1_requests"
);
sevio_runtime::setvar!(
    /// Requests per bench phase at depth 32 (0: default).
    pub fn bench_qd32_requests() = "bench_qd32_requests"
);

/// The test configuration with the setvar overrides applied.
pub fn test_config() -> TestConfig {
    let mut cfg = TestConfig::default();
    if pattern_seed() != 0 {
        cfg.seed = pattern_seed();
    }
    cfg
}

/// The bench configuration with the setvar overrides applied.
pub fn bench_config() -> BenchConfig {
    let mut cfg = BenchConfig::default();
    let pick = |v: u64, default: u32| if v == 0 { default } else { u32::try_from(v).unwrap_or(u32::MAX) };
    cfg.qd1_requests = pick(bench_qd1_requests(), cfg.qd1_requests);
    cfg.deep_requests = pick(bench_qd32_requests(), cfg.deep_requests);
    cfg
}

/// The regions named by the setvars.
pub fn regions_from_setvars() -> Result<Regions, Failure> {
    let unset = |e: MapError| Failure::Unset(e.setvar);
    let nonzero = |v: u64, name| if v == 0 { Err(Failure::Unset(name)) } else { Ok(v) };
    let meta = match client_meta_size() {
        0 => None,
        _ => Some((meta_region().map_err(unset)?, nonzero(client_meta_paddr(), "client_meta_paddr")?)),
    };
    Ok(Regions {
        request: request_region().map_err(unset)?,
        response: response_region().map_err(unset)?,
        storage_info: storage_info_region().map_err(unset)?,
        data: data_region().map_err(unset)?,
        data_io: nonzero(client_data_paddr(), "client_data_paddr")?,
        meta,
    })
}

/// The runtime as the client's [`Platform`].
pub struct RuntimePlatform;

impl Platform for RuntimePlatform {
    fn now_ns(&mut self) -> u64 {
        sevio_runtime::time::now_ns()
    }
    fn system_counters(&mut self) -> Option<(u64, u64)> {
        sevio_runtime::stats::system_counters()
    }
    fn print(&mut self, line: fmt::Arguments<'_>) {
        debug_println!("{}", line);
    }
}

/// The client PD: a [`Client`] behind the runtime's [`Handler`].
pub struct ClientPd {
    client: Option<Client>,
    notify: bool,
}

impl ClientPd {
    /// Build the client from the setvars, wait for the storage
    /// information (spinning, as sDDF's clients do: the driver sends no
    /// notification for it) and take the first step. A configuration
    /// error is reported as `FAIL` at once.
    pub fn start(mode: Mode) -> ClientPd {
        let ready = |r: Regions| wait_for_storage_info(&r.storage_info).map(|()| r);
        let client = match regions_from_setvars().and_then(ready).and_then(|r| Client::new(r, mode)) {
            Ok(client) => Some(client),
            Err(f) => {
                report_failure(&f);
                None
            }
        };
        let mut pd = ClientPd { client, notify: false };
        pd.step();
        pd
    }

    fn step(&mut self) {
        let Some(client) = self.client.as_mut() else { return };
        let step = client.notified(&mut RuntimePlatform);
        self.notify |= step.notify_driver;
        match step.outcome {
            Outcome::Running => return,
            Outcome::Passed => verdict::pass(),
            Outcome::Failed => {
                if let Some(f) = client.failure() {
                    report_failure(f);
                }
            }
        }
        // Finished: later notifications have nothing to do.
        self.client = None;
    }
}

fn report_failure(f: &Failure) {
    let mut why = LineBuf::<240>::new();
    let _ = write!(why, "{f}");
    verdict::fail(why.as_str());
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(DRIVER) {
            self.step();
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        core::mem::take(&mut self.notify).then_some(DeferredAction::Notify(DRIVER))
    }
}

// The handler lives on the PD's stack: the systems give blk client PDs
// 64 KiB (stack_size="0x10000"); the table of 128 requests in flight makes
// it about 4 KiB.
const _: () = assert!(core::mem::size_of::<ClientPd>() <= 6144);
