//! p9-bench: file throughput and stat round trips through the 9p driver
//! (see `sevio_client_9p::bench`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_9p::bench::P9Bench;
use sevio_client_9p::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd<P9Bench> {
    ClientPd::start()
}
