//! The console driver's channels and variables (see the crate README and
//! tools/e2e/systems/console.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_console::{ConsoleDriver, ConsoleSetvars, SerialSetvars};
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 2.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). mmio-side channel 40 + 2.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3): the bus
/// derives it from the channel and answers it at registration; this is
/// the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(2);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "console",
    device: ConsoleDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: CLIENT,
};

/// Every region system.xml gives the PD, as its setvars describe them
/// (the binding table, the doorbell page and each serial queue header
/// are one page each; each character region's size is its capacity).
pub fn setvars() -> PdSetvars<ConsoleSetvars> {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("console_doorbell", doorbell_vaddr()),
        dma: DmaSetvars { region: "console_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: ConsoleSetvars {
            rx: SerialSetvars {
                queue: page("console_rx_queue", rx_queue_vaddr()),
                data: RegionSetvars { region: "console_rx_data", vaddr: rx_data_vaddr(), size: rx_data_size() },
            },
            tx: SerialSetvars {
                queue: page("console_tx_queue", tx_queue_vaddr()),
                data: RegionSetvars { region: "console_tx_data", vaddr: tx_data_vaddr(), size: tx_data_size() },
            },
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`console_doorbell`).
    pub fn doorbell_vaddr() = "console_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`console_dma`).
    pub fn dma_vaddr() = "console_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `console_dma`).
    pub fn dma_size() = "console_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `console_dma`).
    pub fn dma_paddr() = "console_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the rx queue header (`console_rx_queue`).
    pub fn rx_queue_vaddr() = "console_rx_queue_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the rx characters (`console_rx_data`).
    pub fn rx_data_vaddr() = "console_rx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the rx characters region = the rx queue's capacity.
    pub fn rx_data_size() = "console_rx_data_size"
);
sevio_runtime::setvar!(
    /// vaddr of the tx queue header (`console_tx_queue`).
    pub fn tx_queue_vaddr() = "console_tx_queue_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the tx characters (`console_tx_data`).
    pub fn tx_data_vaddr() = "console_tx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the tx characters region = the tx queue's capacity.
    pub fn tx_data_size() = "console_tx_data_size"
);
