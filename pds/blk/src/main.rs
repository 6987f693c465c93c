//! The virtio-blk driver PD: a thin shell around [`BlkDriver`].
//!
//! At init it registers with the bus for device id 2 and reads the
//! binding table; then it turns notifications into driver events:
//! bus -> binding changes (bind / unbind), transport -> interrupt,
//! client -> new requests. The client notification the driver asks for
//! goes out as the event's deferred action.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_blk::{BlkDriver, BlkResources, ClientRegion, Status};
use sevio_runtime::{debug_println, ChannelSet, DeferredAction, Handler};
use sevio_sharedmem::SharedMemory;
use sevio_virtio::DeviceId;
use sevio_virtio_driver::{bus, dma, BindingChange, BindingWatch, DmaRegion, PpcBus, PpcTransport};

sevio_runtime::protection_domain!(init);

struct BlkPd {
    driver: BlkDriver<PpcTransport>,
    watch: BindingWatch,
    status: Status,
}

/// Every region system.xml gives the driver, or `None` if a setvar is
/// missing.
fn resources() -> Option<(BlkResources, SharedMemory)> {
    let map = |vaddr: u64, size: usize| {
        // SAFETY: each vaddr is a <map> of system.xml (sim maps the same)
        // of at least the size config.rs states, present for the PD's
        // whole life; the PD makes no Rust reference into it.
        unsafe { dma::mapped(vaddr, size) }
    };
    let dma = map(config::blk_virtqueue_vaddr(), config::VIRTQUEUE_SIZE)?;
    let res = BlkResources {
        dma: DmaRegion::new(dma, config::blk_virtqueue_paddr()).ok()?,
        doorbell: map(config::blk_doorbell_vaddr(), config::DOORBELL_SIZE)?,
        storage_info: map(config::blk_storage_info_vaddr(), config::STORAGE_INFO_SIZE)?,
        requests: map(config::blk_request_vaddr(), config::REQUEST_SIZE)?,
        responses: map(config::blk_response_vaddr(), config::RESPONSE_SIZE)?,
        queue_capacity: config::BLK_QUEUE_CAPACITY,
        client_data: ClientRegion { paddr: config::blk_client_data_paddr(), size: config::CLIENT_DATA_SIZE },
    };
    Some((res, map(config::bus_bindings_vaddr(), config::BUS_BINDINGS_SIZE)?))
}

/// The PD: `None` if its configuration is missing (then it does nothing).
struct Pd(Option<BlkPd>);

fn init() -> Pd {
    Pd(start())
}

fn start() -> Option<BlkPd> {
    let Some((res, bindings)) = resources() else {
        debug_println!("blk: a region setvar is missing; not serving");
        return None;
    };
    if config::blk_virtqueue_paddr() == 0 || config::blk_client_data_paddr() == 0 {
        debug_println!("blk: a region_paddr setvar is missing; not serving");
        return None;
    }
    let driver = BlkDriver::new(PpcTransport::new(config::TRANSPORT), res);
    if let Some(e) = driver.last_error() {
        debug_println!("blk: client queues unusable: {:?}", e);
    }
    if let Err(e) = bus::register(&mut PpcBus::new(config::BUS), &[DeviceId::BLK.0]) {
        debug_println!("blk: bus registration failed: {:?}", e);
    }
    let mut pd = BlkPd { driver, watch: BindingWatch::new(bindings, config::DRIVER_ID), status: Status::Unbound };
    pd.check_binding();
    Some(pd)
}

impl BlkPd {
    fn check_binding(&mut self) {
        match self.watch.poll() {
            Ok(None) => {}
            Ok(Some(BindingChange::Bound(b) | BindingChange::Rebound { new: b, .. })) => {
                debug_println!("blk: bound to {:?} ({})", b.location, DeviceId(b.device_id));
                let _ = self.driver.bind();
            }
            Ok(Some(BindingChange::Unbound(b))) => {
                debug_println!("blk: unbound from {:?}", b.location);
                self.driver.unbind();
            }
            Err(e) => debug_println!("blk: binding table unreadable: {:?}", e),
        }
    }

    fn log_status(&mut self) {
        let now = self.driver.status();
        if now == self.status {
            return;
        }
        self.status = now;
        match now {
            Status::Ready => debug_println!("blk: device ready"),
            Status::Failed => debug_println!("blk: device failed: {:?}", self.driver.last_error()),
            Status::Starting | Status::Unbound => {}
        }
    }
}

impl Handler for BlkPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(config::BUS) {
            self.check_binding();
        }
        if channels.contains(config::TRANSPORT) {
            self.driver.interrupt();
        }
        if channels.contains(config::CLIENT) {
            self.driver.client_notified();
        }
        self.log_status();
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        self.driver.take_client_notify().then_some(DeferredAction::Notify(config::CLIENT))
    }
}

impl Handler for Pd {
    fn notified(&mut self, channels: ChannelSet) {
        if let Some(pd) = &mut self.0 {
            pd.notified(channels);
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        self.0.as_mut().and_then(|pd| pd.take_deferred_action())
    }
}
