//! The virtio-console driver PD: a thin shell around [`ConsoleDriver`].
//!
//! At init it registers with the bus for device id 3 and reads the
//! binding table; then it turns notifications into driver events
//! (`sevio_driver_core::DriverPd`): bus -> binding changes, transport -> interrupt, client -> output to
//! send or room for input. The client notification the driver asks for
//! goes out as the event's deferred action.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_driver_console::{ConsoleDriver, ConsoleResources, SerialRegions};
use sevio_driver_core::{DriverPd, PpcTransport, Unusable, dma, map_dma};
use sevio_runtime::debug_println;
use sevio_sharedmem::SharedMemory;

sevio_runtime::protection_domain!(init);

fn map(vaddr: u64, size: u64) -> Option<SharedMemory> {
    // SAFETY: each vaddr is a <map> of system.xml (sim maps the same) of
    // the size its setvar_size or config.rs states, present for the PD's
    // whole life; the PD makes no Rust reference into it.
    unsafe { dma::mapped(vaddr, usize::try_from(size).ok()?) }
}

/// Every region system.xml gives the driver, or why not.
fn resources() -> Result<(ConsoleResources, SharedMemory), Unusable> {
    let q = config::QUEUE_REGION_SIZE as u64;
    // SAFETY: console_dma is a <map> of system.xml (sim maps the same) of
    // its setvar_size, present for the PD's whole life; the PD makes no
    // Rust reference into it.
    let dma = unsafe { map_dma("console", config::dma(), sevio_transport_protocol::DMA_WINDOW_SIZE) }?;
    let serial = |queue: u64, data: u64, size: u64| -> Option<SerialRegions> {
        Some(SerialRegions { queue: map(queue, q)?, data: map(data, size)? })
    };
    let res = ConsoleResources {
        dma,
        doorbell: map(config::doorbell_vaddr(), config::DOORBELL_SIZE as u64)
            .ok_or("console_doorbell_vaddr missing")?,
        rx: serial(config::rx_queue_vaddr(), config::rx_data_vaddr(), config::rx_data_size())
            .ok_or("console_rx_queue/console_rx_data setvars missing")?,
        tx: serial(config::tx_queue_vaddr(), config::tx_data_vaddr(), config::tx_data_size())
            .ok_or("console_tx_queue/console_tx_data setvars missing")?,
    };
    let bindings =
        map(config::bus_bindings_vaddr(), config::BUS_BINDINGS_SIZE as u64).ok_or("bus_bindings_vaddr missing")?;
    Ok((res, bindings))
}

fn init() -> DriverPd<ConsoleDriver<PpcTransport>> {
    let (res, bindings) = match resources() {
        Ok(r) => r,
        Err(why) => {
            debug_println!("console: {}; not serving", why);
            return DriverPd::idle();
        }
    };
    match ConsoleDriver::new(PpcTransport::new(config::TRANSPORT), res) {
        Ok(driver) => DriverPd::start(&config::PD, driver, bindings),
        Err(e) => {
            debug_println!("console: unusable memory: {:?}; not serving", e);
            DriverPd::idle()
        }
    }
}
