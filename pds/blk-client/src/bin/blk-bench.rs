//! blk-bench: the blk benchmark client PD (see `sevio_blk_client::bench`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_blk_client::pd::{bench_config, ClientPd};
use sevio_blk_client::Mode;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Bench(bench_config()))
}
