//! blk-bench: the blk benchmark client PD (see `sevio_client_blk::bench`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_blk::Mode;
use sevio_client_blk::pd::{ClientPd, bench_config};

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Bench(bench_config()))
}
