//! The virtio-mmio transport PD.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(test)]
extern crate std;

mod slot;
mod transport;

use sevio_runtime::Handler;
sevio_runtime::protection_domain!(init);
struct Placeholder;
impl Handler for Placeholder {}
fn init() -> Placeholder {
    Placeholder
}
