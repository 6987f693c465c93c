//! The vsock driver's channels and variables (see systems/vsock.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_vsock::{VsockDriver, VsockSetvars};
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
    name: "vsock",
    device: VsockDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them.
pub fn setvars() -> PdSetvars<VsockSetvars> {
    PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "vsock_doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "vsock_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: VsockSetvars {
            control: RegionSetvars {
                region: "vsock_control",
                vaddr: control_vaddr(),
                size: sevio_queue::vsock::CONTROL_SIZE as u64,
            },
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`vsock_doorbell`).
    pub fn doorbell_vaddr() = "vsock_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`vsock_dma`).
    pub fn dma_vaddr() = "vsock_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `vsock_dma`).
    pub fn dma_size() = "vsock_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `vsock_dma`).
    pub fn dma_paddr() = "vsock_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the control region shared with the client (`vsock_control`).
    pub fn control_vaddr() = "vsock_control_vaddr"
);
