//! The blk driver's channels, variables and sizes (see system.xml and the
//! README's "Wiring a driver into a system").
use sevio_bus_protocol::DriverId;
use sevio_driver_core::DriverPdConfig;
use sevio_runtime::Channel;
use sevio_virtio::DeviceId;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed).
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests and kicks; notifications: the
/// device interrupted, causes in the doorbell page).
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// This driver's id at the bus: driver k = 0 (the bus's end of our bus
/// channel is 8 + k, the mmio transport's end of ours is 40 + k).
pub const DRIVER_ID: DriverId = DriverId(0);

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "blk",
    device: DeviceId::BLK,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: CLIENT,
};

/// Entries of the request and of the response queue (agreed with the
/// client: 16 + 64 * 32 bytes fit the 4 KiB request page).
pub const BLK_QUEUE_CAPACITY: u32 = 64;

/// `bus_bindings` (mapped read-only).
pub const BUS_BINDINGS_SIZE: usize = 0x1000;
/// `blk_doorbell`.
pub const DOORBELL_SIZE: usize = 0x1000;
/// `blk_virtqueue`: the DMA region.
pub const VIRTQUEUE_SIZE: usize = 0x10000;
/// `blk_storage_info`.
pub const STORAGE_INFO_SIZE: usize = 0x1000;
/// `blk_request`.
pub const REQUEST_SIZE: usize = 0x1000;
/// `blk_response`.
pub const RESPONSE_SIZE: usize = 0x1000;
/// `blk_client_data`: not mapped here; its size bounds client offsets.
pub const CLIENT_DATA_SIZE: u64 = 0x20_0000;

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
    /// paddr of the client data region (`region_paddr` of `blk_client_data`).
    pub fn blk_client_data_paddr() = "blk_client_data_paddr"
);
