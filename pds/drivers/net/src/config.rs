//! The net driver's channels and variables (see the crate README and
//! tools/e2e/systems/net.xml).
//!
//! The driver is driver k on the bus and the transport, k fixed by
//! system.xml: the bus end of channel 0 is bus channel 8 + k, the
//! transport end of channel 1 is transport channel 40 + k, and the
//! transport's variables `driver<k>_doorbell_vaddr` /
//! `driver<k>_dma_paddr` name this driver's doorbell page and DMA region.
//! Region names here are the setvar prefixes, so a missing one is logged
//! by its setvar's name.

use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_net::{DataSetvars, NetDriver, NetSetvars, QUEUE_REGION_SIZE};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). This end `pp="true"`.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). This end `pp="true"`.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3 in the
/// reference system): the bus derives it from the channel and answers it
/// at registration; this is the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(1);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "net",
    device: NetDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them
/// (the binding table and the doorbell page are one page each, the
/// client queues [`QUEUE_REGION_SIZE`] each).
pub fn setvars() -> PdSetvars<NetSetvars> {
    let queue = |region, vaddr| RegionSetvars { region, vaddr, size: QUEUE_REGION_SIZE };
    PdSetvars {
        bindings: RegionSetvars { region: "bus_bindings", vaddr: bus_bindings_vaddr(), size: PAGE_SIZE },
        doorbell: RegionSetvars { region: "doorbell", vaddr: doorbell_vaddr(), size: PAGE_SIZE },
        dma: DmaSetvars { region: "dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: NetSetvars {
            rx_free: queue("rx_free", rx_free_vaddr()),
            rx_active: queue("rx_active", rx_active_vaddr()),
            tx_free: queue("tx_free", tx_free_vaddr()),
            tx_active: queue("tx_active", tx_active_vaddr()),
            rx_data: DataSetvars {
                map: RegionSetvars { region: "rx_data", vaddr: rx_data_vaddr(), size: rx_data_size() },
                paddr: rx_data_paddr(),
            },
            tx_data: DataSetvars {
                map: RegionSetvars { region: "tx_data", vaddr: tx_data_vaddr(), size: tx_data_size() },
                paddr: tx_data_paddr(),
            },
        },
    }
}

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
    /// Size of the DMA region (setvar_size): the transport's DMA window.
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
    /// vaddr of the client's rx data region (mapped read-only: its size
    /// bounds every rx buffer).
    pub fn rx_data_vaddr() = "rx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's rx data region (setvar_size).
    pub fn rx_data_size() = "rx_data_size"
);
sevio_runtime::setvar!(
    /// Physical address of the client's rx data region (region_paddr).
    pub fn rx_data_paddr() = "rx_data_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the client's tx data region (mapped read-only: its size
    /// bounds every tx frame).
    pub fn tx_data_vaddr() = "tx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's tx data region (setvar_size).
    pub fn tx_data_size() = "tx_data_size"
);
sevio_runtime::setvar!(
    /// Physical address of the client's tx data region (region_paddr).
    pub fn tx_data_paddr() = "tx_data_paddr"
);
