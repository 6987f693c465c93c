//! blk-client: the blk test client PD (see the crate docs and
//! `sevio_client_blk::test_mode`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_blk::Mode;
use sevio_client_blk::pd::{ClientPd, test_config};

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Test(test_config()))
}
