//! The virtio-blk driver PD: [`BlkDriver`] in the driver framework.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_driver_blk::BlkDriver;
use sevio_driver_core::{DriverPd, PpcTransport, SystemMaps, Virtio};

sevio_runtime::protection_domain!(init);

fn init() -> DriverPd<Virtio<BlkDriver, PpcTransport>> {
    // SAFETY: every region config::wiring() names is a <map> of the
    // system (system.xml's setvars, or the vaddrs sdfgen wrote into the
    // config sections for the maps it made; sim maps the same) of the
    // size stated there, present for the PD's whole life; the PD makes no
    // Rust reference into one.
    let maps = unsafe { SystemMaps::vouched() };
    match config::wiring() {
        Ok((pd, vars)) => Virtio::start(&pd, &maps, vars),
        Err(why) => {
            sevio_runtime::debug_println!("blk: {}; not serving", why);
            DriverPd::idle()
        }
    }
}
