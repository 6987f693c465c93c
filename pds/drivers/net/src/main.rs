//! The virtio-net driver PD: [`NetDriver`] in the driver framework.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_driver_core::{DriverPd, PpcTransport, SystemMaps, Virtio};
use sevio_driver_net::NetDriver;
use sevio_runtime::debug_println;

sevio_runtime::protection_domain!(init);

fn init() -> DriverPd<Virtio<NetDriver, PpcTransport>> {
    let vars = match config::setvars() {
        Ok(vars) => vars,
        Err(why) => {
            debug_println!("{}: {}; not serving", config::PD.name, why);
            return DriverPd::idle();
        }
    };
    // SAFETY: every region config::setvars() names is a <map> of the
    // system description (sim maps the same) of the size stated there,
    // present for the PD's whole life: the setvars' by the microkit tool,
    // the sDDF section's by sdfgen, which wrote it from the very maps it
    // rendered. The PD makes no Rust reference into one.
    let maps = unsafe { SystemMaps::vouched() };
    Virtio::start(&config::PD, &maps, vars)
}
