//! The net driver's channels and configuration: its transport and bus
//! wiring from setvars; its client side from sDDF's `.net_driver_config`
//! and sevio's `.sevio_data_regions` sections (sdfgen's output and the
//! helper's, objcopied into the image), or, when the first was never
//! filled, from sevio's own wiring (setvars, the fixed channels of
//! `sevio_driver_net::wiring`; see the crate README and
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
use sevio_driver_core::{
    DataRegionSetvars, DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, Unusable, VirtioDriver, setvars::PAGE_SIZE,
};
use sevio_driver_net::{NetConfig, NetDriver, NetSetvars};
use sevio_runtime::{Channel, debug_println};
use sevio_sddf::{DeviceResources, NetDriverConfig};

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). This end `pp="true"`.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). This end `pp="true"`.
pub const TRANSPORT: Channel = Channel::new(1);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3 in the
/// reference system): the bus derives it from the channel and answers it
/// at registration; this is the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(1);

/// The PD shell's view: name, device, fallback id, channels (the peers'
/// channels are the configuration's).
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "net",
    device: NetDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: None,
    timer: None,
};

sevio_runtime::config_section!(
    /// sDDF's `net_driver_config_t`, as sdfgen writes it (zeros unless
    /// the build objcopied it in).
    fn net_driver_config() -> [u8; NetDriverConfig::SIZE] = ".net_driver_config"
);
sevio_runtime::config_section!(
    /// The data regions, `device_resources_t` layout (sevio's sdfgen
    /// helper).
    fn sevio_data_regions() -> [u8; DeviceResources::SIZE] = ".sevio_data_regions"
);

/// Every region the PD is given: the framework's from setvars, the
/// client side from the sDDF sections or sevio's own wiring.
pub fn setvars() -> Result<PdSetvars<NetConfig>, Unusable> {
    let (driver, source) = match NetConfig::from_sections(&net_driver_config(), &sevio_data_regions(), &PD)? {
        Some(sddf) => (sddf, NetDriverConfig::SECTION),
        None => (NetConfig::from_setvars(&own_setvars(), &PD)?, "setvars"),
    };
    debug_println!(
        "{}: client side from {}: rx {} buffers on channel {}, tx {} on channel {}, {} data regions",
        PD.name,
        source,
        driver.rx.capacity,
        driver.rx.channel.index(),
        driver.tx.capacity,
        driver.tx.channel.index(),
        driver.data.regions().len()
    );
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    Ok(PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("doorbell", doorbell_vaddr()),
        dma: DmaSetvars { region: "dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver,
    })
}

/// sevio's hand-written systems: the queues and the two data regions by
/// setvars.
fn own_setvars() -> NetSetvars {
    let data = |region, size, paddr| DataRegionSetvars { region, size, paddr, required: true };
    NetSetvars {
        rx_free_vaddr: rx_free_vaddr(),
        rx_active_vaddr: rx_active_vaddr(),
        tx_free_vaddr: tx_free_vaddr(),
        tx_active_vaddr: tx_active_vaddr(),
        data: [data("rx_data", rx_data_size(), rx_data_paddr()), data("tx_data", tx_data_size(), tx_data_paddr())],
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
    /// Own wiring: vaddr of the rx free queue.
    pub fn rx_free_vaddr() = "rx_free_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: vaddr of the rx active queue.
    pub fn rx_active_vaddr() = "rx_active_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: vaddr of the tx free queue.
    pub fn tx_free_vaddr() = "tx_free_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: vaddr of the tx active queue.
    pub fn tx_active_vaddr() = "tx_active_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: size of the rx buffers' region (setvar_size of the
    /// driver's read-only map of it; the driver never touches the bytes).
    pub fn rx_data_size() = "rx_data_size"
);
sevio_runtime::setvar!(
    /// Own wiring: physical address of the rx buffers' region
    /// (region_paddr): the I/O address buffers are named by.
    pub fn rx_data_paddr() = "rx_data_paddr"
);
sevio_runtime::setvar!(
    /// Own wiring: size of the tx frames' region (setvar_size).
    pub fn tx_data_size() = "tx_data_size"
);
sevio_runtime::setvar!(
    /// Own wiring: physical address of the tx frames' region
    /// (region_paddr).
    pub fn tx_data_paddr() = "tx_data_paddr"
);
