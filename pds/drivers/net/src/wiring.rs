//! Where the driver's client side comes from: its two connections, as
//! sDDF's net drivers have them, and the data regions it may hand its
//! device. The bus, transport and DMA wiring are setvars in every system
//! (the framework's `PdSetvars`); this part has two sources, which end in
//! the one [`NetConfig`]:
//!
//! - **sDDF sections**, as an sdfgen-generated system provides them:
//!   `.net_driver_config` (sDDF 0.7.0 `net_driver_config_t`: for `virt_rx`
//!   and `virt_tx` a free and an active queue, their `num_buffers` and the
//!   virtualiser's channel) and `.sevio_data_regions` (written by
//!   `tools/sdfgen/sevio_sdfgen.py`: the rx buffers' region and each
//!   client's tx region, by size and I/O address);
//! - **setvars**, in sevio's hand-written systems, when
//!   `.net_driver_config` was never filled: the four queues by
//!   `setvar_vaddr`, [`SEVIO_RX_CAPACITY`] / [`SEVIO_TX_CAPACITY`]
//!   entries (sdfgen's figures for sDDF's echo_server), the rx peer on
//!   [`SEVIO_RX_CHANNEL`] and the tx peer on [`SEVIO_TX_CHANNEL`], and two
//!   data regions (`rx_data`, `tx_data`) by `setvar_size` and
//!   `region_paddr`.
//!
//! The two connections, as sDDF's virtio-net driver serves them:
//! - **rx**: the driver takes empty buffers from the free queue and
//!   returns filled ones on the active queue; it notifies the rx peer;
//! - **tx**: the driver takes frames from the active queue and returns
//!   sent buffers on the free queue; it notifies the tx peer.
//!
//! A section that was filled but does not parse, an impossible channel id
//! or no data region at all is an [`Unusable`]: the PD logs it and serves
//! nothing. Queue capacities are checked where the queues are built.

use sevio_driver_core::{
    DataRegionSetvars, DataRegions, DriverPdConfig, RegionSetvars, Unusable, client_channels,
    data_regions_from_setvars, data_regions_section, sddf_section,
};
use sevio_runtime::{Channel, ChannelSet};
use sevio_sddf::{NetConnection, NetDriverConfig};

/// Entries of the rx free and active queues in sevio's hand-written
/// systems (what sdfgen gives sDDF's echo_server driver).
pub const SEVIO_RX_CAPACITY: u16 = 512;
/// Entries of the tx free and active queues in sevio's hand-written
/// systems (sdfgen: the sum of the clients' tx buffers, 2 × 512 there).
pub const SEVIO_TX_CAPACITY: u16 = 1024;
/// The rx peer's channel in sevio's hand-written systems.
pub const SEVIO_RX_CHANNEL: u8 = 2;
/// The tx peer's channel in sevio's hand-written systems.
pub const SEVIO_TX_CHANNEL: u8 = 3;

/// Bytes a net queue of `capacity` entries takes: the 8-byte header and
/// 16 bytes per entry, rounded up to whole pages (how sdfgen sizes them:
/// 0x3000 for 512, 0x5000 for 1024).
pub const fn queue_region_size(capacity: u16) -> u64 {
    let bytes = 8 + 16 * capacity as u64;
    bytes.div_ceil(0x1000) * 0x1000
}

/// One connection: its two queues, their capacity, the peer's channel.
#[derive(Copy, Clone, Debug)]
pub struct NetLink {
    /// The free queue (rx: the driver consumes; tx: it produces).
    pub free: RegionSetvars,
    /// The active queue (rx: the driver produces; tx: it consumes).
    pub active: RegionSetvars,
    /// Entries of each queue.
    pub capacity: u32,
    /// The peer (sDDF's rx or tx virtualiser, or a client playing one).
    pub channel: Channel,
}

/// The driver's client side, whichever source it came from.
#[derive(Copy, Clone, Debug)]
pub struct NetConfig {
    /// Received frames.
    pub rx: NetLink,
    /// Frames to send.
    pub tx: NetLink,
    /// The regions buffers may lie in (every buffer is checked).
    pub data: DataRegions,
}

/// What a hand-written system gives the driver by setvar.
#[derive(Copy, Clone, Debug)]
pub struct NetSetvars {
    /// `rx_free_vaddr`.
    pub rx_free_vaddr: u64,
    /// `rx_active_vaddr`.
    pub rx_active_vaddr: u64,
    /// `tx_free_vaddr`.
    pub tx_free_vaddr: u64,
    /// `tx_active_vaddr`.
    pub tx_active_vaddr: u64,
    /// The rx buffers' region and the tx frames' region (both required).
    pub data: [DataRegionSetvars; 2],
}

impl NetConfig {
    /// The configuration in the sDDF sections, or `Ok(None)` if
    /// `.net_driver_config` was never filled; channel ids are checked
    /// against the PD's own (`pd`).
    pub fn from_sections(net: &[u8], data_regions: &[u8], pd: &DriverPdConfig) -> Result<Option<Self>, Unusable> {
        let Some(cfg) = sddf_section(NetDriverConfig::SECTION, net, NetDriverConfig::parse)? else {
            return Ok(None);
        };
        Self::from_sddf(&cfg, data_regions_section(data_regions)?, pd).map(Some)
    }

    /// The client side a parsed `net_driver_config_t` describes (region
    /// names in the log are its fields).
    pub fn from_sddf(cfg: &NetDriverConfig, data: DataRegions, pd: &DriverPdConfig) -> Result<Self, Unusable> {
        let [rx_ch, tx_ch] = client_channels(pd, [("virt_rx.id", cfg.virt_rx.id), ("virt_tx.id", cfg.virt_tx.id)])?;
        let link = |c: &NetConnection, [free, active]: [&'static str; 2], channel| NetLink {
            free: RegionSetvars { region: free, vaddr: c.free_queue.vaddr, size: c.free_queue.size },
            active: RegionSetvars { region: active, vaddr: c.active_queue.vaddr, size: c.active_queue.size },
            capacity: u32::from(c.num_buffers),
            channel,
        };
        Ok(NetConfig {
            rx: link(&cfg.virt_rx, ["virt_rx.free_queue", "virt_rx.active_queue"], rx_ch),
            tx: link(&cfg.virt_tx, ["virt_tx.free_queue", "virt_tx.active_queue"], tx_ch),
            data,
        })
    }

    /// The configuration of a hand-written system.
    pub fn from_setvars(vars: &NetSetvars, pd: &DriverPdConfig) -> Result<Self, Unusable> {
        let [rx_ch, tx_ch] = client_channels(pd, [("rx channel", SEVIO_RX_CHANNEL), ("tx channel", SEVIO_TX_CHANNEL)])?;
        let link = |[free, active]: [(&'static str, u64); 2], capacity: u16, channel| {
            let size = queue_region_size(capacity);
            NetLink {
                free: RegionSetvars { region: free.0, vaddr: free.1, size },
                active: RegionSetvars { region: active.0, vaddr: active.1, size },
                capacity: u32::from(capacity),
                channel,
            }
        };
        Ok(NetConfig {
            rx: link([("rx_free", vars.rx_free_vaddr), ("rx_active", vars.rx_active_vaddr)], SEVIO_RX_CAPACITY, rx_ch),
            tx: link([("tx_free", vars.tx_free_vaddr), ("tx_active", vars.tx_active_vaddr)], SEVIO_TX_CAPACITY, tx_ch),
            data: data_regions_from_setvars(&vars.data)?,
        })
    }

    /// Both peers' channels.
    pub fn channels(&self) -> ChannelSet {
        ChannelSet::from_badge(1 << self.rx.channel.index() | 1 << self.tx.channel.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::DriverId;
    use sevio_sddf::net::{RawNetConnection, RawNetDriverConfig};
    use sevio_sddf::resources::{RawDeviceResources, RawRegion};
    use sevio_sddf::{DeviceResources, Magic};
    use sevio_virtio::DeviceId;
    use zerocopy::IntoBytes;

    const PD: DriverPdConfig = DriverPdConfig {
        name: "net",
        device: DeviceId::NET,
        fallback_id: DriverId(1),
        bus: Channel::new(0),
        transport: Channel::new(1),
        client: None,
        timer: None,
    };

    /// What sdfgen writes for sDDF's echo_server driver (its
    /// `net_driver.data`), with the channel ids to vary.
    fn net_section(rx_id: u8, tx_id: u8) -> RawNetDriverConfig {
        let region = |vaddr: u64, size: u64| RawRegion { vaddr: vaddr.into(), size: size.into() };
        let conn = |base: u64, size: u64, n: u16, id| RawNetConnection {
            free_queue: region(base, size),
            active_queue: region(base + size, size),
            num_buffers: n.into(),
            id,
            _pad: [0; 5],
        };
        RawNetDriverConfig {
            magic: Magic::Net.bytes(),
            _pad: [0; 3],
            virt_rx: conn(0x2001_1000, 0x3000, 512, rx_id),
            virt_tx: conn(0x2001_7000, 0x5000, 1024, tx_id),
        }
    }

    fn data_section(regions: &[(u64, u64)]) -> RawDeviceResources {
        RawDeviceResources::unmapped(regions).unwrap()
    }

    /// echo_server's rx buffers and two clients' tx regions.
    const ECHO_REGIONS: [(u64, u64); 3] =
        [(0x5fef_0000, 0x10_0000), (0x5fdf_0000, 0x10_0000), (0x5fcf_0000, 0x10_0000)];

    #[test]
    fn sdfgen_sections_give_two_links_capacities_channels_and_regions() {
        let data = data_section(&ECHO_REGIONS);
        let cfg = NetConfig::from_sections(net_section(2, 3).as_bytes(), data.as_bytes(), &PD).unwrap().unwrap();
        assert_eq!((cfg.rx.capacity, cfg.tx.capacity), (512, 1024));
        assert_eq!((cfg.rx.channel, cfg.tx.channel), (Channel::new(2), Channel::new(3)));
        assert_eq!(cfg.rx.free.vaddr, 0x2001_1000);
        assert_eq!(cfg.tx.active.region, "virt_tx.active_queue");
        assert_eq!(cfg.tx.active.size, 0x5000);
        assert_eq!(cfg.channels(), ChannelSet::from_badge(0b1100));
        assert_eq!(cfg.data.regions().len(), 3);
        assert_eq!(cfg.data.span(0x5fcf_0000 + 0x800, 1514), Ok(0x5fcf_0800), "second client's tx");
    }

    #[test]
    fn an_unfilled_section_means_setvars_and_a_bad_one_is_refused() {
        let data = data_section(&ECHO_REGIONS);
        let zeros = [0u8; NetDriverConfig::SIZE];
        assert!(NetConfig::from_sections(&zeros, data.as_bytes(), &PD).unwrap().is_none());
        let mut bad = net_section(2, 3);
        bad.magic[4] = 2;
        assert!(matches!(
            NetConfig::from_sections(bad.as_bytes(), data.as_bytes(), &PD),
            Err(Unusable::Sddf { section: ".net_driver_config", .. })
        ));
        let unfilled = [0u8; DeviceResources::SIZE];
        assert!(matches!(
            NetConfig::from_sections(net_section(2, 3).as_bytes(), &unfilled, &PD),
            Err(Unusable::Sddf { section: ".sevio_data_regions", .. })
        ));
        // One channel for both peers is the wiring issue 19 found: refused.
        for (rx, tx) in [(2, 2), (0, 3), (2, 1), (61, 3), (2, 62)] {
            let r = NetConfig::from_sections(net_section(rx, tx).as_bytes(), data.as_bytes(), &PD);
            assert!(matches!(r, Err(Unusable::Channel { .. })), "rx {rx}, tx {tx}");
        }
    }

    #[test]
    fn setvars_give_sevio_systems_the_same_shape() {
        let d = |region, size, paddr| DataRegionSetvars { region, size, paddr, required: true };
        let vars = NetSetvars {
            rx_free_vaddr: 0x240_0000,
            rx_active_vaddr: 0x240_3000,
            tx_free_vaddr: 0x240_6000,
            tx_active_vaddr: 0x240_b000,
            data: [d("rx_data", 0x10_0000, 0x4920_0000), d("tx_data", 0x8_0000, 0x4930_0000)],
        };
        let cfg = NetConfig::from_setvars(&vars, &PD).unwrap();
        assert_eq!((cfg.rx.capacity, cfg.tx.capacity), (512, 1024));
        assert_eq!((cfg.rx.free.size, cfg.tx.free.size), (0x3000, 0x5000));
        assert_eq!(cfg.channels(), ChannelSet::from_badge(0b1100));
        assert!(cfg.data.span(0x4930_0000 - 0x400, 0x800).is_err(), "straddles the two");
        let no_tx = NetSetvars { data: [vars.data[0], d("tx_data", 0, 0x4930_0000)], ..vars };
        assert_eq!(NetConfig::from_setvars(&no_tx, &PD).err(), Some(Unusable::Size("tx_data")));
    }

    #[test]
    fn queue_regions_are_sized_as_sdfgen_sizes_them() {
        assert_eq!(queue_region_size(256), 0x2000);
        assert_eq!(queue_region_size(512), 0x3000);
        assert_eq!(queue_region_size(1024), 0x5000);
    }
}
