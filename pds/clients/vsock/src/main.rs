//! The vsock test client PD: the echo server and the connector's check
//! ([`Mode::Check`]).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_vsock::Mode;
use sevio_client_vsock::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Check)
}
