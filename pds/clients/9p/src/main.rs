//! p9-client: writes a tree of files through the 9p driver, reads it
//! back, lists it, removes part of it, reads a host file (see the crate
//! docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_9p::P9Client;
use sevio_client_9p::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd<P9Client> {
    ClientPd::start()
}
