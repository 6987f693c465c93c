//! The blk driver's channels and variables (see the crate README and
//! system.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_blk::{BlkDriver, BlkSetvars};
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 0.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). mmio-side channel 40 + 0.
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3): the bus
/// derives it from the channel and answers it at registration; this is
/// the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(0);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "blk",
    device: BlkDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
};

/// Entries of the request and of the response queue (agreed with the
/// client: 16 + 64 * 32 bytes fit the 4 KiB request page).
pub const BLK_QUEUE_CAPACITY: u32 = 64;

/// Every region system.xml gives the PD, as its setvars describe them
/// (the binding table, the doorbell page, the storage information page
/// and the two client queues are one page each).
pub fn setvars() -> PdSetvars<BlkSetvars> {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("blk_doorbell", blk_doorbell_vaddr()),
        dma: DmaSetvars {
            region: "blk_virtqueue",
            vaddr: blk_virtqueue_vaddr(),
            size: blk_virtqueue_size(),
            paddr: blk_virtqueue_paddr(),
        },
        driver: BlkSetvars {
            storage_info: page("blk_storage_info", blk_storage_info_vaddr()),
            requests: page("blk_request", blk_request_vaddr()),
            responses: page("blk_response", blk_response_vaddr()),
            queue_capacity: BLK_QUEUE_CAPACITY,
            data: RegionSetvars {
                region: "blk_client_data",
                vaddr: blk_client_data_vaddr(),
                size: blk_client_data_size(),
            },
            data_paddr: blk_client_data_paddr(),
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page (`blk_doorbell`).
    pub fn blk_doorbell_vaddr() = "blk_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region (`blk_virtqueue`).
    pub fn blk_virtqueue_vaddr() = "blk_virtqueue_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region (setvar_size of `blk_virtqueue`).
    pub fn blk_virtqueue_size() = "blk_virtqueue_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region (`region_paddr` of `blk_virtqueue`).
    pub fn blk_virtqueue_paddr() = "blk_virtqueue_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the storage information page (`blk_storage_info`).
    pub fn blk_storage_info_vaddr() = "blk_storage_info_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the request queue (`blk_request`).
    pub fn blk_request_vaddr() = "blk_request_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the response queue (`blk_response`).
    pub fn blk_response_vaddr() = "blk_response_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the client's data region (`blk_client_data`, mapped
    /// read-only: the driver never touches it, the device does).
    pub fn blk_client_data_vaddr() = "blk_client_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's data region (setvar_size of
    /// `blk_client_data`): it bounds client offsets.
    pub fn blk_client_data_size() = "blk_client_data_size"
);
sevio_runtime::setvar!(
    /// paddr of the client data region (`region_paddr` of `blk_client_data`).
    pub fn blk_client_data_paddr() = "blk_client_data_paddr"
);
