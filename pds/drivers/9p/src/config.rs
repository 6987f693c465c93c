//! The p9 driver's channels and variables (see the crate README and
//! systems/9p.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_9p::{P9Driver, P9Setvars};
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 4.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). mmio-side channel 40 + 4.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus (in systems/9p.xml: 4): the bus
/// derives it from the channel and answers it at registration; this is
/// the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(4);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "p9",
    device: P9Driver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them
/// (the binding table, the doorbell page and the control page are one
/// page each).
pub fn setvars() -> PdSetvars<P9Setvars> {
    PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "p9_doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "p9_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: P9Setvars {
            control: RegionSetvars { region: "p9_control", vaddr: control_vaddr(), size: PAGE_SIZE },
            data: RegionSetvars { region: "p9_data", vaddr: data_vaddr(), size: data_size() },
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`p9_doorbell`).
    pub fn doorbell_vaddr() = "p9_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`p9_dma`).
    pub fn dma_vaddr() = "p9_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `p9_dma`).
    pub fn dma_size() = "p9_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `p9_dma`).
    pub fn dma_paddr() = "p9_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the control page shared with the client (`p9_control`).
    pub fn control_vaddr() = "p9_control_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the client's data region (`p9_data`).
    pub fn data_vaddr() = "p9_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's data region (setvar_size of `p9_data`).
    pub fn data_size() = "p9_data_size"
);
