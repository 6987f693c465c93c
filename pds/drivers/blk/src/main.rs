//! The virtio-blk driver PD: a thin shell around [`BlkDriver`].
//!
//! At init it registers with the bus for device id 2 and reads the
//! binding table; then it turns notifications into driver events
//! (`sevio_driver_core::DriverPd`): bus -> binding changes (bind /
//! unbind), transport -> interrupt, client -> new requests. The client
//! notification the driver asks for goes out as the event's deferred
//! action.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_driver_blk::{BlkDriver, BlkResources, ClientRegion};
use sevio_driver_core::{DmaRegion, DriverPd, PpcTransport, dma};
use sevio_runtime::debug_println;
use sevio_sharedmem::SharedMemory;

sevio_runtime::protection_domain!(init);

/// Every region system.xml gives the driver, or `None` if a setvar is
/// missing.
fn resources() -> Option<(BlkResources, SharedMemory)> {
    let map = |vaddr: u64, size: usize| {
        // SAFETY: each vaddr is a <map> of system.xml (sim maps the same)
        // of at least the size config.rs states, present for the PD's
        // whole life; the PD makes no Rust reference into it.
        unsafe { dma::mapped(vaddr, size) }
    };
    let (dma_paddr, data_paddr) = (config::blk_virtqueue_paddr(), config::blk_client_data_paddr());
    if dma_paddr == 0 || data_paddr == 0 {
        return None;
    }
    let dma = map(config::blk_virtqueue_vaddr(), config::VIRTQUEUE_SIZE)?;
    let res = BlkResources {
        dma: DmaRegion::new(dma, dma_paddr).ok()?,
        doorbell: map(config::blk_doorbell_vaddr(), config::DOORBELL_SIZE)?,
        storage_info: map(config::blk_storage_info_vaddr(), config::STORAGE_INFO_SIZE)?,
        requests: map(config::blk_request_vaddr(), config::REQUEST_SIZE)?,
        responses: map(config::blk_response_vaddr(), config::RESPONSE_SIZE)?,
        queue_capacity: config::BLK_QUEUE_CAPACITY,
        client_data: ClientRegion { paddr: data_paddr, size: config::CLIENT_DATA_SIZE },
    };
    Some((res, map(config::bus_bindings_vaddr(), config::BUS_BINDINGS_SIZE)?))
}

fn init() -> DriverPd<BlkDriver<PpcTransport>> {
    let Some((res, bindings)) = resources() else {
        debug_println!("blk: a region setvar is missing; not serving");
        return DriverPd::idle();
    };
    let driver = BlkDriver::new(PpcTransport::new(config::TRANSPORT), res);
    if let Some(e) = driver.last_error() {
        debug_println!("blk: client queues unusable: {:?}", e);
    }
    DriverPd::start(&config::PD, driver, bindings)
}
