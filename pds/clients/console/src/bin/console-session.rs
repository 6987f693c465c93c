//! console-session: the console client for a test that types first: it
//! answers lines upper-cased and passes once the device has consumed its
//! answer to `bye` (see the crate docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_console::Mode;
use sevio_client_console::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start(Mode::Session)
}
