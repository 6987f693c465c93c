//! net-bench: the UDP echo, measured (see `sevio_net_client::bench`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

sevio_runtime::protection_domain!(init);

fn init() -> sevio_net_client::pd::ClientPd {
    sevio_net_client::pd::init(sevio_net_client::pd::Mode::Bench)
}
