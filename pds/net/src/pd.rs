//! The PD shell: setvars to regions, bus registration and binding, the
//! runtime [`Handler`].
//!
//! At init the driver registers with the bus for device id 1 and looks
//! at the binding table. Once bound it opens the doorbell page, brings
//! the device up and prints what it found. Events:
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
use crate::driver::{Actions, ClientQueues, ClientRegions, NetDriver, Summary};
use sevio_queue::{NetConsumer, NetProducer};
use sevio_runtime::{ChannelSet, DeferredAction, Handler, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::DriverDoorbell;
use sevio_virtio::features::general;
use sevio_virtio_driver::bus::register;
use sevio_virtio_driver::dma::mapped;
use sevio_virtio_driver::{BindingChange, BindingWatch, DmaRegion, PpcBus, PpcTransport};

/// A region named by a setvar; `Err(name)` if it is unset.
fn region(vaddr: u64, len: usize, name: &'static str) -> Result<SharedMemory, &'static str> {
    #[allow(unsafe_code)]
    // SAFETY: every vaddr passed here is a setvar_vaddr of a region
    // system.xml maps into this PD for its whole life, `len` bytes long
    // (the sizes in `config`); it is reached only through SharedMemory.
    let mem = unsafe { mapped(vaddr, len) };
    mem.ok_or(name)
}

fn setvar(value: u64, name: &'static str) -> Result<u64, &'static str> {
    if value == 0 { Err(name) } else { Ok(value) }
}

/// Everything the setvars describe.
struct Setup {
    bindings: SharedMemory,
    doorbell: SharedMemory,
    driver: NetDriver<PpcTransport>,
}

fn setup() -> Result<Setup, &'static str> {
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
        rx: ClientRegion { paddr: setvar(config::rx_data_paddr(), "rx_data_paddr")?, size: config::DATA_REGION_SIZE },
        tx: ClientRegion { paddr: setvar(config::tx_data_paddr(), "tx_data_paddr")?, size: config::DATA_REGION_SIZE },
    };
    let dma_mem = region(config::dma_vaddr(), config::DMA_REGION_SIZE, "dma_vaddr")?;
    let dma = DmaRegion::new(dma_mem, setvar(config::dma_paddr(), "dma_paddr")?).map_err(|_| "dma_paddr")?;
    Ok(Setup {
        bindings: region(config::bus_bindings_vaddr(), config::BINDINGS_SIZE, "bus_bindings_vaddr")?,
        doorbell: region(config::doorbell_vaddr(), config::DOORBELL_SIZE, "doorbell_vaddr")?,
        driver: NetDriver::new(PpcTransport::new(config::TRANSPORT), dma, queues, regions),
    })
}

/// The net driver PD.
pub struct NetPd {
    inner: Option<Bound>,
    deferred: Option<DeferredAction>,
}

struct Bound {
    watch: BindingWatch,
    doorbell_page: SharedMemory,
    doorbell: Option<DriverDoorbell>,
    driver: NetDriver<PpcTransport>,
}

/// The PD's init: set up from the setvars, register with the bus, bind
/// if the device is already known.
pub fn init() -> NetPd {
    let s = match setup() {
        Ok(s) => s,
        Err(name) => {
            debug_println!("net: {name} is not set (or unusable) in system.xml: not serving");
            return NetPd { inner: None, deferred: None };
        }
    };
    if let Err(e) = register(&mut PpcBus::new(config::BUS), &config::DEVICE_IDS) {
        debug_println!("net: the bus refused registration: {e:?}");
    }
    let mut pd = NetPd {
        inner: Some(Bound {
            watch: BindingWatch::new(s.bindings, config::DRIVER_ID),
            doorbell_page: s.doorbell,
            doorbell: None,
            driver: s.driver,
        }),
        deferred: None,
    };
    pd.binding_changed();
    pd
}

fn print_summary(s: &Summary, location: &dyn core::fmt::Debug) {
    let kind = if s.legacy { "legacy" } else { "modern" };
    let on = |b| if s.features.has(b) { "on" } else { "off" };
    match s.facts.mac {
        Some(mac) => debug_println!("net: bound to {location:?}: mac {}", MacDisplay(mac)),
        None => debug_println!("net: bound to {location:?}: no mac in config space"),
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

impl NetPd {
    fn binding_changed(&mut self) {
        let Some(b) = self.inner.as_mut() else { return };
        let mut actions = Actions::default();
        match b.watch.poll() {
            Ok(None) => {}
            Ok(Some(BindingChange::Bound(new))) | Ok(Some(BindingChange::Rebound { new, .. })) => {
                b.driver.stop(&mut actions);
                match DriverDoorbell::open(b.doorbell_page) {
                    Ok(d) => b.doorbell = Some(d),
                    Err(e) => {
                        debug_println!("net: doorbell page unusable: {e:?}");
                        b.doorbell = None;
                    }
                }
                match b.driver.start(&mut actions) {
                    Ok(summary) => print_summary(&summary, &new.location),
                    Err(e) => debug_println!("net: bring-up of {:?} failed: {e:?}", new.location),
                }
            }
            Ok(Some(BindingChange::Unbound(old))) => {
                debug_println!("net: unbound from {:?}", old.location);
                b.driver.stop(&mut actions);
                b.doorbell = None;
            }
            Err(e) => debug_println!("net: binding table unreadable: {e:?}"),
        }
        self.apply(actions);
    }

    fn apply(&mut self, actions: Actions) {
        let Some(b) = self.inner.as_mut() else { return };
        if let Some(e) = b.driver.take_error() {
            debug_println!("net: stopped: {e:?}");
        }
        if actions.kick != 0 {
            // Bits still set: the transport has not taken the last kick
            // yet and will see these with it.
            let pending = b.doorbell.as_ref().map(|d| d.ring(actions.kick));
            if pending.is_some_and(|p| p & actions.kick != actions.kick) {
                config::TRANSPORT.notify();
            }
        }
        if actions.notify_client {
            self.deferred = Some(DeferredAction::Notify(config::CLIENT));
        }
    }
}

impl Handler for NetPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(config::BUS) {
            self.binding_changed();
        }
        let Some(b) = self.inner.as_mut() else { return };
        let mut actions = Actions::default();
        let doorbell = if channels.contains(config::TRANSPORT) { b.doorbell.as_ref() } else { None };
        if let Some(facts) = doorbell.and_then(|d| b.driver.interrupt(d, &mut actions)) {
            debug_println!("net: link {}", link_name(facts.link));
        }
        if channels.contains(config::CLIENT) {
            b.driver.service(&mut actions);
        }
        self.apply(actions);
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        self.deferred.take()
    }
}
