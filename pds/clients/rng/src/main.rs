//! rng-client: asks the rng driver for 16, 100, 4096 and 10000 bytes,
//! checks each answer, probes two refusals, passes (see the crate docs).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_client_rng::pd::ClientPd;

sevio_runtime::protection_domain!(init);

fn init() -> ClientPd {
    ClientPd::start()
}
