//! The input driver's channels and variables (see the crate README and
//! systems/gpu.xml). One image serves any number of input devices: each
//! instance is its own PD with its own page, DMA region and driver id.
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_input::{InputDriver, InputSetvars};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + k.
pub const BUS: Channel = Channel::new(0);
/// The transport PD. Transport-side channel 40 + k.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// The fallback id if registration fails (the bus answers the real one,
/// from the channel: systems/gpu.xml runs input drivers as 5, 6 and 7).
pub const DRIVER_ID: DriverId = DriverId(5);

/// Events the client's queue holds: a page holds the info (512 bytes),
/// the queue header (16) and 256 events of 8 bytes.
pub const CAPACITY: u32 = 256;

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "input",
    device: InputDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them.
pub fn setvars() -> PdSetvars<InputSetvars> {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("input_doorbell", doorbell_vaddr()),
        dma: DmaSetvars { region: "input_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: InputSetvars { page: page("input_page", page_vaddr()), capacity: CAPACITY },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of this instance's doorbell page.
    pub fn doorbell_vaddr() = "input_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of this instance's DMA region.
    pub fn dma_vaddr() = "input_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size).
    pub fn dma_size() = "input_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr`).
    pub fn dma_paddr() = "input_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the page shared with the client (info + event queue).
    pub fn page_vaddr() = "input_page_vaddr"
);
