//! simtest-sddf-config: reads the sDDF driver-side config sections the
//! build (here: sim, from the `[[section]]` entries) wrote into its image,
//! prints what it parsed, and passes if every section parsed.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

use sevio_runtime::{Handler, debug_println, verdict};
use sevio_sddf::{
    BlkDriverConfig, ConfigError, DeviceResources, NetConnection, NetDriverConfig, Region, SerialConnection,
    SerialDriverConfig, TimerClientConfig,
};

sevio_runtime::config_section!(fn device_resources() -> [u8; DeviceResources::SIZE] = ".device_resources");
sevio_runtime::config_section!(fn blk_config() -> [u8; BlkDriverConfig::SIZE] = ".blk_driver_config");
sevio_runtime::config_section!(fn net_config() -> [u8; NetDriverConfig::SIZE] = ".net_driver_config");
sevio_runtime::config_section!(fn serial_config() -> [u8; SerialDriverConfig::SIZE] = ".serial_driver_config");
sevio_runtime::config_section!(fn timer_config() -> [u8; TimerClientConfig::SIZE] = ".timer_client_config");

sevio_runtime::protection_domain!(init);

struct Idle;

/// A region as `vaddr+size`.
struct R(Region);
impl core::fmt::Display for R {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}+{:#x}", self.0.vaddr, self.0.size)
    }
}

fn print_net(dir: &str, c: &NetConnection) {
    debug_println!(
        "net_driver_config: {dir} free {} active {} buffers {} id {}",
        R(c.free_queue),
        R(c.active_queue),
        c.num_buffers,
        c.id
    );
}

fn print_serial(dir: &str, c: &SerialConnection) {
    debug_println!("serial_driver_config: {dir} queue {} data {} id {}", R(c.queue), R(c.data), c.id);
}

fn check() -> Result<(), (&'static str, ConfigError)> {
    let dev = DeviceResources::parse(&device_resources()).map_err(|e| ("device_resources", e))?;
    debug_println!("device_resources: {} regions, irqs {:?}", dev.regions().len(), dev.irqs());
    for (i, r) in dev.regions().iter().enumerate() {
        debug_println!("device_resources: region {i} {} io {:#x}", R(r.region), r.io_addr);
    }
    let blk = BlkDriverConfig::parse(&blk_config()).map_err(|e| ("blk_driver_config", e))?.virt;
    debug_println!(
        "blk_driver_config: storage_info {} req {} resp {} buffers {} id {}",
        R(blk.storage_info),
        R(blk.req_queue),
        R(blk.resp_queue),
        blk.num_buffers,
        blk.id
    );
    let net = NetDriverConfig::parse(&net_config()).map_err(|e| ("net_driver_config", e))?;
    print_net("rx", &net.virt_rx);
    print_net("tx", &net.virt_tx);
    let serial = SerialDriverConfig::parse(&serial_config()).map_err(|e| ("serial_driver_config", e))?;
    match &serial.rx {
        Some(rx) => print_serial("rx", rx),
        None => debug_println!("serial_driver_config: rx none"),
    }
    print_serial("tx", &serial.tx);
    debug_println!("serial_driver_config: baud {}", serial.default_baud);
    let timer = TimerClientConfig::parse(&timer_config()).map_err(|e| ("timer_client_config", e))?;
    debug_println!("timer_client_config: driver_id {}", timer.driver_id);
    Ok(())
}

fn init() -> Idle {
    match check() {
        Ok(()) => verdict::pass(),
        Err((section, e)) => {
            debug_println!("{section}: {e}");
            verdict::fail("a config section was refused")
        }
    }
    Idle
}

impl Handler for Idle {}
