//! The console driver's channels and configuration: its transport and
//! bus wiring from setvars; its client side from sDDF's
//! `.serial_driver_config` section (sdfgen's output, objcopied into the
//! image), or, when that section was never filled, from sevio's own
//! wiring (setvars and the fixed channels below; see the crate README
//! and tools/e2e/systems/console.xml).
use sevio_bus_protocol::DriverId;
use sevio_driver_console::{ConsoleConfig, ConsoleDriver, SerialLink};
use sevio_driver_core::{
    DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, Unusable, VirtioDriver, sddf_section, setvars::PAGE_SIZE,
};
use sevio_runtime::{Channel, debug_println};
use sevio_sddf::SerialDriverConfig;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table
/// changed). Bus-side channel 8 + 2.
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other). mmio-side channel 40 + 2.
pub const TRANSPORT: Channel = Channel::new(1);
/// sevio's own wiring: the rx peer (input).
pub const OWN_RX: Channel = Channel::new(2);
/// sevio's own wiring: the tx peer (output).
pub const OWN_TX: Channel = Channel::new(3);

/// This driver's id at the bus (blk 0, net 1, console 2, rng 3): the bus
/// derives it from the channel and answers it at registration; this is
/// the fallback if registration fails.
pub const DRIVER_ID: DriverId = DriverId(2);

/// The PD shell's view: name, device, fallback id, channels (the client
/// channels are the configuration's).
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "console",
    device: ConsoleDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: None,
    timer: None,
};

sevio_runtime::config_section!(
    /// sDDF's `serial_driver_config_t`, as sdfgen writes it.
    fn serial_driver_config() -> [u8; SerialDriverConfig::SIZE] = ".serial_driver_config"
);

/// Every region the PD is given: the framework's from setvars, the
/// client side from the sDDF section or sevio's own wiring.
pub fn setvars() -> Result<PdSetvars<ConsoleConfig>, Unusable> {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    let (driver, source) =
        match sddf_section(SerialDriverConfig::SECTION, &serial_driver_config(), SerialDriverConfig::parse)? {
            Some(sddf) => (ConsoleConfig::from_sddf(&sddf, &PD)?, SerialDriverConfig::SECTION),
            None => (own_wiring(), "setvars"),
        };
    let tx = driver.tx.channel.index();
    match driver.rx {
        Some(rx) => debug_println!(
            "{}: client side from {}: rx on channel {}, tx on {}",
            PD.name,
            source,
            rx.channel.index(),
            tx
        ),
        None => debug_println!("{}: client side from {}: no rx, tx on channel {}", PD.name, source, tx),
    }
    Ok(PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("console_doorbell", doorbell_vaddr()),
        dma: DmaSetvars { region: "console_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver,
    })
}

/// sevio's hand-written systems: the queues by setvars (each header one
/// page, each character region's size its capacity), rx on channel 2, tx
/// on 3.
fn own_wiring() -> ConsoleConfig {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    ConsoleConfig {
        rx: Some(SerialLink {
            queue: page("console_rx_queue", rx_queue_vaddr()),
            data: RegionSetvars { region: "console_rx_data", vaddr: rx_data_vaddr(), size: rx_data_size() },
            channel: OWN_RX,
        }),
        tx: SerialLink {
            queue: page("console_tx_queue", tx_queue_vaddr()),
            data: RegionSetvars { region: "console_tx_data", vaddr: tx_data_vaddr(), size: tx_data_size() },
            channel: OWN_TX,
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
    /// Own wiring: vaddr of the rx queue header (`console_rx_queue`).
    pub fn rx_queue_vaddr() = "console_rx_queue_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: vaddr of the rx characters (`console_rx_data`).
    pub fn rx_data_vaddr() = "console_rx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: size of the rx characters region = the rx queue's
    /// capacity.
    pub fn rx_data_size() = "console_rx_data_size"
);
sevio_runtime::setvar!(
    /// Own wiring: vaddr of the tx queue header (`console_tx_queue`).
    pub fn tx_queue_vaddr() = "console_tx_queue_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: vaddr of the tx characters (`console_tx_data`).
    pub fn tx_data_vaddr() = "console_tx_data_vaddr"
);
sevio_runtime::setvar!(
    /// Own wiring: size of the tx characters region = the tx queue's
    /// capacity.
    pub fn tx_data_size() = "console_tx_data_size"
);
