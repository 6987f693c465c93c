//! The virtio-iommu driver PD: [`IommuDriver`] in the driver framework.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;
mod confine_setvars;

use sevio_driver_core::{DriverPd, PpcTransport, SystemMaps, Virtio};
use sevio_driver_iommu::IommuDriver;

sevio_runtime::protection_domain!(init);

fn init() -> DriverPd<Virtio<IommuDriver, PpcTransport>> {
    // SAFETY: every region config::setvars() names is a <map> of
    // system.xml (sim maps the same) of the size stated there, present
    // for the PD's whole life; the PD makes no Rust reference into one.
    let maps = unsafe { SystemMaps::vouched() };
    Virtio::start(&config::PD, &maps, config::setvars())
}
