//! The rng driver's channels and variables (see the crate README and
//! tools/e2e/systems/rng.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_rng::{RngDriver, RngSetvars};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 3.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). mmio-side channel 40 + 3.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3): the bus
/// derives it from the channel and answers it at registration; this is
/// the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(3);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "rng",
    device: RngDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them
/// (the binding table, the doorbell page and the control page are one
/// page each).
pub fn setvars() -> PdSetvars<RngSetvars> {
    PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "rng_doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "rng_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: RngSetvars {
            control: RegionSetvars { region: "rng_control", vaddr: control_vaddr(), size: PAGE_SIZE },
            data: RegionSetvars { region: "rng_data", vaddr: data_vaddr(), size: data_size() },
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`rng_doorbell`).
    pub fn doorbell_vaddr() = "rng_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`rng_dma`).
    pub fn dma_vaddr() = "rng_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `rng_dma`).
    pub fn dma_size() = "rng_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `rng_dma`).
    pub fn dma_paddr() = "rng_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the control page shared with the client (`rng_control`).
    pub fn control_vaddr() = "rng_control_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the client's data region (`rng_data`).
    pub fn data_vaddr() = "rng_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's data region (setvar_size of `rng_data`).
    pub fn data_size() = "rng_data_size"
);
