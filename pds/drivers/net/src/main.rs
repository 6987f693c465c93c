//! The virtio-net driver PD (logic in the `sevio_driver_net` library).
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

sevio_runtime::protection_domain!(sevio_driver_net::pd::init);
