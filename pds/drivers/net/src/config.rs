//! The net driver's channels, variables and sizes (see system.xml).
//!
//! Channels: 0 the bus (PPC), 1 the transport (PPC; notifications both
//! ways: kicks and interrupts), 2 the client (notifications both ways).
//! The driver is driver k on the bus and the transport, k fixed by
//! system.xml: the bus end of channel 0 is bus channel 8 + k, the
//! transport end of channel 1 is transport channel 40 + k, and the
//! transport's variables `driver<k>_doorbell_vaddr` /
//! `driver<k>_dma_paddr` name this driver's doorbell page and DMA region.
//! The bus tells the driver its k when it registers; [`DRIVER_ID`] (1,
//! as in the reference system) is used only if registration fails.

use sevio_bus_protocol::DriverId;
use sevio_driver_core::DriverPdConfig;
use sevio_runtime::Channel;
use sevio_virtio::DeviceId;

/// The bus PD (this end `pp="true"`).
pub const BUS: Channel = Channel::new(0);
/// The transport PD (this end `pp="true"`).
pub const TRANSPORT: Channel = Channel::new(1);
/// The client PD.
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id if the bus does not say (blk is 0, net 1, console 2,
/// rng 3 in the reference system).
pub const DRIVER_ID: DriverId = DriverId(1);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "net",
    device: DeviceId::NET,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
};

/// Entries in each of the four client queues (sDDF net queues).
pub const QUEUE_CAPACITY: u32 = 256;
/// Bytes of each client queue region: 8-byte header + 256 × 16 B.
pub const QUEUE_REGION_SIZE: usize = 0x2000;
/// Bytes of each client data region (rx, tx): 256 buffers of 2048 B.
/// The driver does not map them, so it cannot ask; system.xml must give
/// both regions at least this size.
pub const DATA_REGION_SIZE: u64 = 0x8_0000;
/// Bytes of the DMA region (rings, indirect tables, headers) if
/// `dma_size` is not set: what the driver needs. Give the region the
/// transport's whole DMA window (0x4_0000) so the window covers nothing
/// else, and say so with `setvar_size="dma_size"`.
pub const DMA_REGION_SIZE: usize = 0x1_0000;
/// Bytes of the doorbell page.
pub const DOORBELL_SIZE: usize = 0x1000;
/// Bytes of the bus's binding table page.
pub const BINDINGS_SIZE: usize = 0x1000;

sevio_runtime::setvar!(
    /// vaddr of the binding table (read-only).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page shared with the transport.
    pub fn doorbell_vaddr() = "doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region.
    pub fn dma_vaddr() = "dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size; 0: [`DMA_REGION_SIZE`]).
    pub fn dma_size() = "dma_size"
);
sevio_runtime::setvar!(
    /// Physical address of the DMA region (region_paddr).
    pub fn dma_paddr() = "dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the rx free queue.
    pub fn rx_free_vaddr() = "rx_free_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the rx active queue.
    pub fn rx_active_vaddr() = "rx_active_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the tx free queue.
    pub fn tx_free_vaddr() = "tx_free_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the tx active queue.
    pub fn tx_active_vaddr() = "tx_active_vaddr"
);
sevio_runtime::setvar!(
    /// Physical address of the client's rx data region (region_paddr).
    pub fn rx_data_paddr() = "rx_data_paddr"
);
sevio_runtime::setvar!(
    /// Physical address of the client's tx data region (region_paddr).
    pub fn tx_data_paddr() = "tx_data_paddr"
);
