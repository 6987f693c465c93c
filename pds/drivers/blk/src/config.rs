//! The blk driver's channels, setvars and config sections (see the crate
//! README, `sevio_driver_blk::wiring` and system.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_blk::BlkDriver;
use sevio_driver_blk::wiring::{BlkConfig, BlkSetvars, DataRegionSetvars};
use sevio_driver_core::{
    DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, RequestTimer, Unusable, VirtioDriver, setvars::PAGE_SIZE,
};
use sevio_runtime::Channel;
use sevio_sddf::{BlkDriverConfig, DeviceResources};

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 0.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). mmio-side channel 40 + 0.
pub const TRANSPORT: Channel = Channel::new(1);
/// The timer PD (PPC: SET_TIMEOUT; notifications: a timeout expired), in
/// sevio's hand-written systems: every client request has a deadline
/// (`sevio_driver_core::watchdog`). An sDDF-configured blk (sdfgen's
/// systems) has no timer channel and no deadlines. timer-side channel
/// 2 (1 is net_client's).
pub const TIMER: Channel = Channel::new(3);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3): the bus
/// derives it from the channel and answers it at registration; this is
/// the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(0);

sevio_runtime::config_section!(
    /// sdfgen's `blk_driver_config_t` (zeros unless the build objcopied it in).
    pub fn blk_driver_config() -> [u8; BlkDriverConfig::SIZE] = ".blk_driver_config"
);
sevio_runtime::config_section!(
    /// The data regions, `device_resources_t` layout (sevio's sdfgen helper).
    pub fn sevio_data_regions() -> [u8; DeviceResources::SIZE] = ".sevio_data_regions"
);

/// The PD's wiring: its channels (the client's from the config) and every
/// region it is given.
pub fn wiring() -> Result<(DriverPdConfig, PdSetvars<BlkConfig>), Unusable> {
    let (mut driver, timer) = match BlkConfig::from_sections(&blk_driver_config(), &sevio_data_regions())? {
        Some(sddf) => (sddf, None),
        None => (BlkConfig::from_setvars(&blk_setvars())?, Some(RequestTimer::new(TIMER))),
    };
    driver.journal_vaddr = blk_journal_vaddr();
    let mut pd = DriverPdConfig {
        name: "blk",
        device: BlkDriver::DEVICE,
        fallback_id: DRIVER_ID,
        bus: BUS,
        transport: TRANSPORT,
        client: None,
        timer,
    };
    pd.client = Some(driver.client(&pd)?);
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    let vars = PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("blk_doorbell", blk_doorbell_vaddr()),
        dma: DmaSetvars {
            region: "blk_virtqueue",
            vaddr: blk_virtqueue_vaddr(),
            size: blk_virtqueue_size(),
            paddr: blk_virtqueue_paddr(),
        },
        driver,
    };
    Ok((pd, vars))
}

/// The driver's own regions in a hand-written system (no sDDF sections).
fn blk_setvars() -> BlkSetvars {
    BlkSetvars {
        storage_info_vaddr: blk_storage_info_vaddr(),
        request_vaddr: blk_request_vaddr(),
        response_vaddr: blk_response_vaddr(),
        data: [
            DataRegionSetvars {
                region: "blk_client_data",
                size: blk_client_data_size(),
                paddr: blk_client_data_paddr(),
                required: true,
            },
            DataRegionSetvars {
                region: "blk_client_meta",
                size: blk_client_meta_size(),
                paddr: blk_client_meta_paddr(),
                required: false,
            },
        ],
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
    /// Optional: vaddr of the request journal's region (`blk_journal`,
    /// 8 KiB, mapped by blk alone); without it the journal is carved from
    /// the DMA region.
    pub fn blk_journal_vaddr() = "blk_journal_vaddr"
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
    /// Hand-written systems: vaddr of the storage information page
    /// (`blk_storage_info`, 4 KiB).
    pub fn blk_storage_info_vaddr() = "blk_storage_info_vaddr"
);
sevio_runtime::setvar!(
    /// Hand-written systems: vaddr of the request queue (`blk_request`, 8 KiB).
    pub fn blk_request_vaddr() = "blk_request_vaddr"
);
sevio_runtime::setvar!(
    /// Hand-written systems: vaddr of the response queue (`blk_response`, 8 KiB).
    pub fn blk_response_vaddr() = "blk_response_vaddr"
);
sevio_runtime::setvar!(
    /// Hand-written systems: size of the client's data region (setvar_size
    /// of the driver's read-only map of `blk_client_data`).
    pub fn blk_client_data_size() = "blk_client_data_size"
);
sevio_runtime::setvar!(
    /// Hand-written systems: paddr of `blk_client_data` (`region_paddr`).
    pub fn blk_client_data_paddr() = "blk_client_data_paddr"
);
sevio_runtime::setvar!(
    /// Hand-written systems, optional: size of the client's second data
    /// region (`blk_client_meta`, like a virtualiser's metadata buffer).
    pub fn blk_client_meta_size() = "blk_client_meta_size"
);
sevio_runtime::setvar!(
    /// Hand-written systems, optional: paddr of `blk_client_meta`.
    pub fn blk_client_meta_paddr() = "blk_client_meta_paddr"
);
