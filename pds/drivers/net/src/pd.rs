//! The PD shell: setvars to regions, and [`Net`], the driver as the
//! shared driver PD (`sevio_driver_core`'s [`DriverPd`]) sees it.
//!
//! At init the driver registers with the bus for device id 1 (the bus
//! answers with this instance's driver id) and looks at the binding
//! table. Once bound it opens the doorbell page, brings the device up and
//! prints what it found. Events:
//! - bus (channel 0): the binding table changed: bind, rebind or let go;
//! - transport (channel 1): interrupt causes are in the doorbell page;
//! - client (channel 2): queues to look at.
//!
//! Kicks ring the doorbell and notify the transport (skipped when the
//! bits were still pending, so one notification is already on its way);
//! the client notification is deferred into the next wait.

use crate::buffers::ClientRegion;
use crate::config;
use crate::device::{Link, MacDisplay};
use crate::driver::{Actions, ClientQueues, ClientRegions, NetDriver, NetError, Summary};
use sevio_driver_core::dma::mapped;
use sevio_driver_core::{DmaRegion, Driver, DriverError, DriverEvents, DriverPd, DriverStatus, PpcTransport};
use sevio_queue::{NetConsumer, NetProducer};
use sevio_runtime::debug_println;
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::DriverDoorbell;
use sevio_virtio::features::general;

/// A region named by a setvar; `Err(name)` if it is unset.
fn region(vaddr: u64, len: usize, name: &'static str) -> Result<SharedMemory, &'static str> {
    #[allow(unsafe_code)]
    // SAFETY: every vaddr passed here is a setvar_vaddr of a region
    // system.xml maps into this PD for its whole life, at least `len`
    // bytes long (the sizes in `config`, or its setvar_size); it is
    // reached only through SharedMemory.
    let mem = unsafe { mapped(vaddr, len) };
    mem.ok_or(name)
}

fn nonzero(value: u64, name: &'static str) -> Result<u64, &'static str> {
    if value == 0 { Err(name) } else { Ok(value) }
}

/// The driver and what it needs from the PD: the doorbell page and the
/// actions collected for the end of the event.
pub struct Net {
    driver: NetDriver<PpcTransport>,
    doorbell_page: SharedMemory,
    doorbell: Option<DriverDoorbell>,
    actions: Actions,
    notify_client: bool,
}

fn setup() -> Result<(Net, SharedMemory), &'static str> {
    let cap = config::QUEUE_CAPACITY;
    let qsize = config::QUEUE_REGION_SIZE;
    let consumer = |vaddr, name| -> Result<NetConsumer, &'static str> {
        NetConsumer::new(region(vaddr, qsize, name)?, cap).map_err(|_| name)
    };
    let producer = |vaddr, name| -> Result<NetProducer, &'static str> {
        NetProducer::new(region(vaddr, qsize, name)?, cap).map_err(|_| name)
    };
    let queues = ClientQueues {
        rx_free: consumer(config::rx_free_vaddr(), "rx_free_vaddr")?,
        rx_active: producer(config::rx_active_vaddr(), "rx_active_vaddr")?,
        tx_free: producer(config::tx_free_vaddr(), "tx_free_vaddr")?,
        tx_active: consumer(config::tx_active_vaddr(), "tx_active_vaddr")?,
    };
    let regions = ClientRegions {
        rx: ClientRegion { paddr: nonzero(config::rx_data_paddr(), "rx_data_paddr")?, size: config::DATA_REGION_SIZE },
        tx: ClientRegion { paddr: nonzero(config::tx_data_paddr(), "tx_data_paddr")?, size: config::DATA_REGION_SIZE },
    };
    let dma_len = match config::dma_size() {
        0 => config::DMA_REGION_SIZE,
        n => usize::try_from(n).map_err(|_| "dma_size")?,
    };
    let dma_mem = region(config::dma_vaddr(), dma_len, "dma_vaddr")?;
    let dma = DmaRegion::new(dma_mem, nonzero(config::dma_paddr(), "dma_paddr")?).map_err(|_| "dma_paddr")?;
    let net = Net {
        driver: NetDriver::new(PpcTransport::new(config::TRANSPORT), dma, queues, regions),
        doorbell_page: region(config::doorbell_vaddr(), config::DOORBELL_SIZE, "doorbell_vaddr")?,
        doorbell: None,
        actions: Actions::default(),
        notify_client: false,
    };
    Ok((net, region(config::bus_bindings_vaddr(), config::BINDINGS_SIZE, "bus_bindings_vaddr")?))
}

fn print_summary(s: &Summary) {
    let kind = if s.legacy { "legacy" } else { "modern" };
    let on = |b| if s.features.has(b) { "on" } else { "off" };
    match s.facts.mac {
        Some(mac) => debug_println!("net: mac {}", MacDisplay(mac)),
        None => debug_println!("net: no mac in config space"),
    }
    debug_println!(
        "net: {kind} device, link {}, {}-byte header, rx queue {}, tx queue {}, event_idx {}, indirect {}",
        link_name(s.facts.link),
        s.hdr_len,
        s.rx_size,
        s.tx_size,
        on(general::EVENT_IDX),
        on(general::INDIRECT_DESC),
    );
}

fn link_name(link: Link) -> &'static str {
    match link {
        Link::Up => "up",
        Link::Down => "down",
        Link::Unknown => "unknown (assumed up)",
    }
}

impl Driver for Net {
    type Error = NetError;

    fn bind(&mut self) -> Result<(), NetError> {
        self.driver.stop(&mut self.actions);
        let doorbell = DriverDoorbell::open(self.doorbell_page).map_err(DriverError::Doorbell)?;
        self.doorbell = Some(doorbell);
        let summary = self.driver.start(&mut self.actions)?;
        print_summary(&summary);
        Ok(())
    }

    fn unbind(&mut self) {
        self.driver.stop(&mut self.actions);
        self.doorbell = None;
    }

    fn status(&self) -> DriverStatus {
        self.driver.status()
    }

    fn last_error(&self) -> Option<NetError> {
        self.driver.last_error()
    }
}

impl DriverEvents for Net {
    /// Interrupt causes are in the doorbell page (none without a device).
    fn interrupt(&mut self) {
        let doorbell = self.doorbell.as_ref();
        if let Some(facts) = doorbell.and_then(|d| self.driver.interrupt(d, &mut self.actions)) {
            debug_println!("net: link {}", link_name(facts.link));
        }
    }

    fn client_notified(&mut self) {
        self.driver.service(&mut self.actions);
    }

    fn take_client_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify_client)
    }

    /// Perform the actions the driver collected.
    fn end_of_event(&mut self) {
        let actions = core::mem::take(&mut self.actions);
        if actions.kick != 0 {
            // Bits still set: the transport has not taken the last kick
            // yet and will see these with it.
            let pending = self.doorbell.as_ref().map(|d| d.ring(actions.kick));
            if pending.is_some_and(|p| p & actions.kick != actions.kick) {
                config::TRANSPORT.notify();
            }
        }
        self.notify_client |= actions.notify_client;
    }
}

/// The net driver PD: idle if its configuration is missing.
pub type NetPd = DriverPd<Net>;

/// The PD's init: set up from the setvars, register with the bus, bind
/// if the device is already known.
pub fn init() -> NetPd {
    match setup() {
        Ok((net, bindings)) => DriverPd::start(&config::PD, net, bindings),
        Err(name) => {
            debug_println!("net: {name} is not set (or unusable) in system.xml: not serving");
            DriverPd::idle()
        }
    }
}
