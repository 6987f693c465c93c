//! The console driver's channels and variables (see the crate README and
//! tools/e2e/systems/console.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig};
use sevio_runtime::Channel;
use sevio_virtio::DeviceId;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 2.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests and kicks; notifications: the
/// device interrupted). mmio-side channel 40 + 2.
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
    device: DeviceId::CONSOLE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: CLIENT,
};

/// `bus_bindings` (mapped read-only).
pub const BUS_BINDINGS_SIZE: usize = 0x1000;
/// `console_doorbell`.
pub const DOORBELL_SIZE: usize = 0x1000;
/// Each serial queue header region (`console_rx_queue`, `console_tx_queue`).
pub const QUEUE_REGION_SIZE: usize = 0x1000;

/// The DMA region `console_dma` as its setvars describe it.
pub fn dma() -> DmaSetvars {
    DmaSetvars { region: "console_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() }
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
