//! The gpu driver's channels and variables (see the crate README and
//! systems/gpu.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_gpu::{GpuDriver, GpuSetvars};
use sevio_queue::gpu::SEVIO_CAPACITY;
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 4.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). Transport-side channel 40 + 4.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3, gpu 4):
/// the bus derives it from the channel and answers it at registration;
/// this is the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(4);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "gpu",
    device: GpuDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them.
pub fn setvars() -> PdSetvars<GpuSetvars> {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("gpu_doorbell", doorbell_vaddr()),
        dma: DmaSetvars { region: "gpu_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: GpuSetvars {
            requests: page("gpu_requests", requests_vaddr()),
            responses: page("gpu_responses", responses_vaddr()),
            events: page("gpu_events", events_vaddr()),
            data: RegionSetvars { region: "gpu_client_data", vaddr: data_vaddr(), size: data_size() },
            data_paddr: data_paddr(),
            capacity: SEVIO_CAPACITY,
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`gpu_doorbell`).
    pub fn doorbell_vaddr() = "gpu_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`gpu_dma`).
    pub fn dma_vaddr() = "gpu_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `gpu_dma`).
    pub fn dma_size() = "gpu_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `gpu_dma`).
    pub fn dma_paddr() = "gpu_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the request queue (`gpu_requests`).
    pub fn requests_vaddr() = "gpu_requests_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the response queue (`gpu_responses`).
    pub fn responses_vaddr() = "gpu_responses_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the events page (`gpu_events`).
    pub fn events_vaddr() = "gpu_events_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the client's data region (`gpu_client_data`).
    pub fn data_vaddr() = "gpu_client_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's data region (setvar_size of `gpu_client_data`):
    /// it bounds every backing and display-info offset.
    pub fn data_size() = "gpu_client_data_size"
);
sevio_runtime::setvar!(
    /// paddr of the client's data region (`region_paddr` of
    /// `gpu_client_data`): where the device reads framebuffers.
    pub fn data_paddr() = "gpu_client_data_paddr"
);
