//! net-echo: answers ARP, ping and UDP echo, and nothing else (the net
//! bench's peer: no gateway to ping, no verdict of its own).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

sevio_runtime::protection_domain!(init);

fn init() -> sevio_client_net::pd::ClientPd {
    sevio_client_net::pd::init(sevio_client_net::pd::Mode::Responder)
}
