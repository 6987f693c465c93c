//! The virtio-net driver PD (logic in the `sevio_net` library).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

sevio_runtime::protection_domain!(sevio_net::pd::init);
