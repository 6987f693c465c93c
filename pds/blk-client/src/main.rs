//! blk-client: the blk test client PD (see the crate docs and
//! `sevio_blk_client::test_mode`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_blk_client::pd::{test_config, ClientPd};
use sevio_blk_client::Mode;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Test(test_config()))
}
