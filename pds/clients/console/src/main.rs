//! console-client: answers lines upper-cased; passes once the device has
//! consumed its banner (see the crate docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_console::Mode;
use sevio_client_console::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Standalone)
}
