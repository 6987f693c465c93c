//! blk-soak: the blk test client run for many rounds, each with a pattern
//! of its own (see `sevio_client_blk::test_mode`): a write/verify load
//! long enough for a driver to be faulted and restarted under it, which
//! still must see every block it was told was written read back exactly
//! and every request answered once (the engine refuses an id answered
//! twice).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_blk::Mode;
use sevio_client_blk::pd::{ClientPd, test_config};

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Test(sevio_client_blk::TestConfig { rounds: sevio_client_blk::SOAK_ROUNDS, ..test_config() }))
}
