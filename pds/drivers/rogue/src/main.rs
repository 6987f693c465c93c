//! The misbehaving blk driver PD: [`RogueDriver`] in the driver framework.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_bus_protocol::DriverId;
use sevio_driver_core::setvars::PAGE_SIZE;
use sevio_driver_core::{
    DmaSetvars, DriverPd, DriverPdConfig, PdSetvars, PpcTransport, RegionSetvars, SystemMaps, Virtio,
};
use sevio_driver_rogue::{RogueDriver, RogueSetvars};
use sevio_runtime::Channel;
use sevio_virtio::DeviceId;

sevio_runtime::protection_domain!(init);

/// Bus 0, transport 1, the canary PD 2 (notified when the attack ended).
const PD: DriverPdConfig = DriverPdConfig {
    name: "rogue",
    device: DeviceId::BLK,
    fallback_id: DriverId(0),
    bus: Channel::new(0),
    transport: Channel::new(1),
    client: Some(Channel::new(2)),
    timer: None,
};

sevio_runtime::setvar!(fn bus_bindings_vaddr() = "bus_bindings_vaddr");
sevio_runtime::setvar!(fn doorbell_vaddr() = "rogue_doorbell_vaddr");
sevio_runtime::setvar!(fn dma_vaddr() = "rogue_dma_vaddr");
sevio_runtime::setvar!(fn dma_size() = "rogue_dma_size");
sevio_runtime::setvar!(fn dma_paddr() = "rogue_dma_paddr");
sevio_runtime::setvar!(fn canary_paddr() = "canary_paddr");

fn init() -> DriverPd<Virtio<RogueDriver, PpcTransport>> {
    let vars = PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "rogue_doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "rogue_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: RogueSetvars { canary_paddr: canary_paddr() },
    };
    // SAFETY: every region `vars` names is a <map> of system.xml (sim maps
    // the same) of the size stated there, present for the PD's whole
    // life; the PD makes no Rust reference into one.
    let maps = unsafe { SystemMaps::vouched() };
    Virtio::start(&PD, &maps, vars)
}
