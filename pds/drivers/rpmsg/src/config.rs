//! The rpmsg driver's channels and variables (see systems/rproc.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_rpmsg::{RpmsgDriver, RpmsgSetvars};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed).
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications both ways).
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's fallback id at the bus (the bus answers the real one
/// at registration, from the channel).
pub const DRIVER_ID: DriverId = DriverId(4);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "rpmsg",
    device: RpmsgDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them.
pub fn setvars() -> PdSetvars<RpmsgSetvars> {
    PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "rpmsg_doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "rpmsg_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: RpmsgSetvars {
            control: RegionSetvars {
                region: "rpmsg_control",
                vaddr: control_vaddr(),
                size: sevio_queue::rpmsg::CONTROL_SIZE as u64,
            },
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`rpmsg_doorbell`).
    pub fn doorbell_vaddr() = "rpmsg_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`rpmsg_dma`).
    pub fn dma_vaddr() = "rpmsg_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `rpmsg_dma`).
    pub fn dma_size() = "rpmsg_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `rpmsg_dma`).
    pub fn dma_paddr() = "rpmsg_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the control region shared with the client (`rpmsg_control`).
    pub fn control_vaddr() = "rpmsg_control_vaddr"
);
