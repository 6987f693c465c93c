//! The PD shell: channels, setvars, the runtime [`Handler`].
//!
//! system.xml gives the client:
//! - channel 0: the blk driver ([`DRIVER`]), notifications both ways;
//! - `blk_request_vaddr`, `blk_response_vaddr`, `blk_storage_info_vaddr`:
//!   the three 4 KiB pages shared with the driver (setvar_vaddr);
//! - `client_data_vaddr` (setvar_vaddr) and `client_data_size`
//!   (setvar_size): the data region;
//! - optional: `pattern_seed` (test mode; 0 = [`crate::DEFAULT_SEED`]),
//!   `bench_qd1_requests`, `bench_qd32_requests` (bench mode; 0 = the
//!   defaults of [`crate::BenchConfig`]).

use crate::client::{Client, Mode, Outcome, Platform, Regions};
use crate::text::LineBuf;
use crate::{BenchConfig, Failure, TestConfig};
use core::fmt;
use core::fmt::Write;
use sevio_runtime::var::MapError;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The blk driver.
pub const DRIVER: Channel = Channel::new(0);

/// Size of each queue region and of the storage information region.
pub const QUEUE_REGION_SIZE: usize = 0x1000;

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
    pub fn storage_info_region() = "blk_storage_info_vaddr", QUEUE_REGION_SIZE as u64
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
    Ok(Regions {
        request: request_region().map_err(unset)?,
        response: response_region().map_err(unset)?,
        storage_info: storage_info_region().map_err(unset)?,
        data: data_region().map_err(unset)?,
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
    /// Build the client from the setvars and take its first step (the
    /// storage information may already be published). A configuration
    /// error is reported as `FAIL` at once.
    pub fn start(mode: Mode) -> ClientPd {
        let client = match regions_from_setvars().and_then(|r| Client::new(r, mode)) {
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

// The handler lives on the PD's stack (8 KiB by default): keep it small.
const _: () = assert!(core::mem::size_of::<ClientPd>() <= 2048);
