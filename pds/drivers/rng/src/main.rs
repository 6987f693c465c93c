//! The virtio-rng driver PD: a thin shell around [`RngDriver`].
//!
//! At init it registers with the bus for device id 4 and reads the
//! binding table; then (`sevio_driver_core::DriverPd`) bus -> binding
//! changes, transport -> interrupt, client -> a request may be waiting.
//! The client notification the driver asks for goes out as the event's
//! deferred action. After each event it logs the request counters if a
//! request was answered.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use sevio_driver_core::{DriverPd, PpcTransport, Unusable, dma, map_dma};
use sevio_driver_rng::{RngDriver, RngResources};
use sevio_runtime::{ChannelSet, DeferredAction, Handler, debug_println};
use sevio_sharedmem::SharedMemory;

sevio_runtime::protection_domain!(init);

fn map(vaddr: u64, size: u64) -> Option<SharedMemory> {
    // SAFETY: each vaddr is a <map> of system.xml (sim maps the same) of
    // the size its setvar_size or config.rs states, present for the PD's
    // whole life; the PD makes no Rust reference into it.
    unsafe { dma::mapped(vaddr, usize::try_from(size).ok()?) }
}

/// Every region system.xml gives the driver, or why not.
fn resources() -> Result<(RngResources, SharedMemory), Unusable> {
    // SAFETY: rng_dma is a <map> of system.xml (sim maps the same) of its
    // setvar_size, present for the PD's whole life; the PD makes no Rust
    // reference into it.
    let dma = unsafe { map_dma("rng", config::dma(), sevio_transport_protocol::DMA_WINDOW_SIZE) }?;
    if config::data_size() == 0 {
        return Err("rng_data_size missing".into());
    }
    let res = RngResources {
        dma,
        doorbell: map(config::doorbell_vaddr(), config::DOORBELL_SIZE).ok_or("rng_doorbell_vaddr missing")?,
        control: map(config::control_vaddr(), config::CONTROL_SIZE).ok_or("rng_control_vaddr missing")?,
        data: map(config::data_vaddr(), config::data_size()).ok_or("rng_data_vaddr missing")?,
    };
    let bindings = map(config::bus_bindings_vaddr(), config::BUS_BINDINGS_SIZE).ok_or("bus_bindings_vaddr missing")?;
    Ok((res, bindings))
}

/// The PD: the shared driver PD, plus a log line whenever a request was
/// answered.
struct Pd {
    inner: DriverPd<RngDriver<PpcTransport>>,
    /// Requests answered, as last logged.
    logged: u64,
}

fn init() -> Pd {
    let inner = match resources() {
        Err(why) => {
            debug_println!("rng: {}; not serving", why);
            DriverPd::idle()
        }
        Ok((res, bindings)) => match RngDriver::new(PpcTransport::new(config::TRANSPORT), res) {
            Ok(driver) => DriverPd::start(&config::PD, driver, bindings),
            Err(e) => {
                debug_println!("rng: unusable memory: {:?}; not serving", e);
                DriverPd::idle()
            }
        },
    };
    Pd { inner, logged: 0 }
}

impl Handler for Pd {
    fn notified(&mut self, channels: ChannelSet) {
        self.inner.notified(channels);
        let Some(shell) = self.inner.shell() else { return };
        let s = shell.driver.stats();
        let answered = s.served + s.invalid + s.failed;
        if answered != self.logged {
            self.logged = answered;
            debug_println!("rng: {} served ({} bytes), {} refused, {} failed", s.served, s.bytes, s.invalid, s.failed);
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        self.inner.take_deferred_action()
    }
}
