//! net-bench-rr: UDP request/response (one datagram in flight), measured (see `sevio_client_net::bench`).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

sevio_runtime::protection_domain!(init);

fn init() -> sevio_client_net::pd::ClientPd {
    sevio_client_net::pd::init(sevio_client_net::pd::Mode::BenchRr)
}
