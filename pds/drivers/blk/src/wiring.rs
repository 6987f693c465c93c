//! Where the driver's own configuration comes from: its connection to the
//! blk virtualiser (or a client that plays one) and the data regions it
//! may hand its device. The bus, transport and DMA wiring are setvars in
//! every system (the framework's `PdSetvars`); this part has two sources,
//! which end in the one [`BlkConfig`]:
//!
//! - **sDDF sections**, as an sdfgen-generated system provides them:
//!   `.blk_driver_config` (sDDF 0.7.0 `blk_driver_config_t`: storage
//!   information, request and response queues with their `num_buffers`,
//!   the virtualiser's channel) and `.sevio_data_regions`
//!   (`device_resources_t` layout: each region's size and I/O address,
//!   written by `tools/sdfgen/sevio_sdfgen.py`, because sDDF's driver
//!   configs do not say which memory a driver may hand its device);
//! - **setvars**, in sevio's hand-written systems (`system.xml`,
//!   `systems/*.xml`), when `.blk_driver_config` was never filled (its
//!   magic is still zero): the same regions by `setvar_vaddr`,
//!   `setvar_size` and `region_paddr`, [`SEVIO_QUEUE_CAPACITY`] entries
//!   per queue and the client on [`SEVIO_CLIENT_CHANNEL`].
//!
//! A section that was filled but does not parse, an impossible channel id
//! or no data region at all is an [`Unusable`]: the PD logs it and serves
//! nothing.

pub use sevio_driver_core::DataRegionSetvars;
use sevio_driver_core::{
    DataRegions, DriverPdConfig, Unusable, client_channels, data_regions_from_setvars, data_regions_section,
};
use sevio_runtime::Channel;
use sevio_sddf::{BlkConnection, BlkDriverConfig, MAGIC_LEN, Region};

/// The section sdfgen's blk driver config goes into.
pub const BLK_SECTION: &str = BlkDriverConfig::SECTION;

/// Entries per queue in sevio's hand-written systems (as many as sdfgen
/// gives a driver's queues; 16 + 128 * 32 bytes fit their 8 KiB request
/// region).
pub const SEVIO_QUEUE_CAPACITY: u16 = 128;
/// Bytes of each queue region in sevio's hand-written systems.
pub const SEVIO_QUEUE_REGION_SIZE: u64 = 0x2000;
/// Bytes of the storage information region.
pub const STORAGE_INFO_REGION_SIZE: u64 = 0x1000;
/// The client's channel in sevio's hand-written systems.
pub const SEVIO_CLIENT_CHANNEL: u8 = 2;

/// The driver's configuration, whichever source it came from.
#[derive(Copy, Clone, Debug)]
pub struct BlkConfig {
    /// Storage information page, request and response queues, queue
    /// capacity, the peer's channel id.
    pub virt: BlkConnection,
    /// The regions requests may name (checked for every request).
    pub data: DataRegions,
    /// vaddr of the request journal's own region (`blk_journal`,
    /// [`JOURNAL_REGION_SIZE`](crate::journal::JOURNAL_REGION_SIZE)); 0:
    /// the journal is carved from the DMA region.
    pub journal_vaddr: u64,
}

/// What a hand-written system gives the driver by setvar.
#[derive(Copy, Clone, Debug)]
pub struct BlkSetvars {
    /// `blk_storage_info_vaddr`.
    pub storage_info_vaddr: u64,
    /// `blk_request_vaddr`.
    pub request_vaddr: u64,
    /// `blk_response_vaddr`.
    pub response_vaddr: u64,
    /// The data regions (the first required, the second optional).
    pub data: [DataRegionSetvars; 2],
}

impl BlkConfig {
    /// The configuration in the sDDF sections, or `Ok(None)` if
    /// `.blk_driver_config` was never filled (all-zero magic).
    pub fn from_sections(blk: &[u8], data_regions: &[u8]) -> Result<Option<BlkConfig>, Unusable> {
        if blk.iter().take(MAGIC_LEN).all(|&b| b == 0) {
            return Ok(None);
        }
        let cfg = BlkDriverConfig::parse(blk).map_err(|error| Unusable::Sddf { section: BLK_SECTION, error })?;
        Ok(Some(BlkConfig { virt: cfg.virt, data: data_regions_section(data_regions)?, journal_vaddr: 0 }))
    }

    /// The configuration of a hand-written system.
    pub fn from_setvars(vars: &BlkSetvars) -> Result<BlkConfig, Unusable> {
        let region = |vaddr, size| Region { vaddr, size };
        let virt = BlkConnection {
            storage_info: region(vars.storage_info_vaddr, STORAGE_INFO_REGION_SIZE),
            req_queue: region(vars.request_vaddr, SEVIO_QUEUE_REGION_SIZE),
            resp_queue: region(vars.response_vaddr, SEVIO_QUEUE_REGION_SIZE),
            num_buffers: SEVIO_QUEUE_CAPACITY,
            id: SEVIO_CLIENT_CHANNEL,
        };
        Ok(BlkConfig { virt, data: data_regions_from_setvars(&vars.data)?, journal_vaddr: 0 })
    }

    /// The channel to the virtualiser or client, checked against the
    /// PD's own wiring `pd` (the framework's one channel-id rule: not the
    /// bus's, the transport's or the log's, and a channel at all).
    pub fn client(&self, pd: &DriverPdConfig) -> Result<Channel, Unusable> {
        let [channel] = client_channels(pd, [("virt.id", self.virt.id)])?;
        Ok(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::DriverId;
    use sevio_sddf::{DeviceResources, Magic};
    use sevio_virtio::DeviceId;

    /// The blk PD's own wiring: bus 0, transport 1 (the log is 61).
    const PD: DriverPdConfig = DriverPdConfig {
        name: "blk",
        device: DeviceId::BLK,
        fallback_id: DriverId(0),
        bus: Channel::new(0),
        transport: Channel::new(1),
        client: None,
        timer: None,
    };
    use sevio_sddf::blk::{RawBlkConnection, RawBlkDriverConfig};
    use sevio_sddf::resources::{RawDeviceResources, RawRegion};
    use zerocopy::IntoBytes;

    /// What sdfgen writes for sDDF's examples/blk (the layout of its
    /// `blk_driver.data`), with `id` and `num_buffers` to vary.
    fn blk_section(id: u8, num_buffers: u16) -> RawBlkDriverConfig {
        let region = |vaddr: u64, size: u64| RawRegion { vaddr: vaddr.into(), size: size.into() };
        RawBlkDriverConfig {
            magic: Magic::Blk.bytes(),
            _pad: [0; 3],
            virt: RawBlkConnection {
                storage_info: region(0x2040_0000, 0x1000),
                req_queue: region(0x2040_1000, 0x4000),
                resp_queue: region(0x2040_5000, 0x4000),
                num_buffers: num_buffers.into(),
                id,
                _pad: [0; 5],
            },
        }
    }

    fn data_section(regions: &[(u64, u64)]) -> RawDeviceResources {
        RawDeviceResources::unmapped(regions).unwrap()
    }

    #[test]
    fn sdfgen_sections_give_queues_capacity_channel_and_regions() {
        let data = data_section(&[(0x5fde_6000, 0xa000), (0x5fbe_6000, 0x20_0000)]);
        let cfg = BlkConfig::from_sections(blk_section(2, 128).as_bytes(), data.as_bytes()).unwrap().unwrap();
        assert_eq!(cfg.virt.num_buffers, 128);
        assert_eq!(cfg.virt.req_queue, Region { vaddr: 0x2040_1000, size: 0x4000 });
        assert_eq!(cfg.client(&PD).unwrap(), Channel::new(2));
        assert_eq!(cfg.data.regions().len(), 2);
        assert_eq!(cfg.data.span(0x5fbe_6000 + 0x1000, 0x1000), Ok(0x5fbe_7000));
    }

    #[test]
    fn an_unfilled_section_means_setvars_and_a_bad_one_is_refused() {
        let zeros = [0u8; BlkDriverConfig::SIZE];
        let data = data_section(&[(0x4820_0000, 0x20_0000)]);
        assert!(BlkConfig::from_sections(&zeros, data.as_bytes()).unwrap().is_none());
        let mut bad = blk_section(2, 128);
        bad.magic[4] = 3;
        assert!(matches!(
            BlkConfig::from_sections(bad.as_bytes(), data.as_bytes()),
            Err(Unusable::Sddf { section: ".blk_driver_config", .. })
        ));
        let unfilled = [0u8; DeviceResources::SIZE];
        assert!(matches!(
            BlkConfig::from_sections(blk_section(2, 128).as_bytes(), &unfilled),
            Err(Unusable::Sddf { section: ".sevio_data_regions", .. })
        ));
        let none = data_section(&[]);
        assert!(BlkConfig::from_sections(blk_section(2, 128).as_bytes(), none.as_bytes()).is_err(), "no regions");
        for id in [0, 1, 61, 62, 255] {
            let cfg = BlkConfig::from_sections(blk_section(id, 128).as_bytes(), data.as_bytes()).unwrap().unwrap();
            assert!(cfg.client(&PD).is_err(), "id {id}");
        }
    }

    #[test]
    fn setvars_give_sevio_systems_the_same_shape() {
        let d = |region, size, paddr| DataRegionSetvars { region, size, paddr, required: region == "blk_client_data" };
        let vars = BlkSetvars {
            storage_info_vaddr: 0x240_0000,
            request_vaddr: 0x240_1000,
            response_vaddr: 0x240_3000,
            data: [d("blk_client_data", 0x20_0000, 0x4820_0000), d("blk_client_meta", 0x1_0000, 0x4840_0000)],
        };
        let cfg = BlkConfig::from_setvars(&vars).unwrap();
        assert_eq!((cfg.virt.num_buffers, cfg.virt.id), (128, 2));
        assert_eq!(cfg.data.regions().len(), 2);
        assert!(cfg.data.span(0x483f_f000, 0x2000).is_err(), "straddles the two regions");
        let one = BlkSetvars { data: [vars.data[0], d("blk_client_meta", 0, 0)], ..vars };
        assert_eq!(BlkConfig::from_setvars(&one).unwrap().data.regions().len(), 1, "the second is optional");
        let none = BlkSetvars { data: [d("blk_client_data", 0, 0x4820_0000), vars.data[1]], ..vars };
        assert_eq!(BlkConfig::from_setvars(&none).err(), Some(Unusable::Size("blk_client_data")));
        let no_paddr = BlkSetvars { data: [d("blk_client_data", 0x1000, 0), vars.data[1]], ..vars };
        assert!(BlkConfig::from_setvars(&no_paddr).is_err());
        let wraps = BlkSetvars { data: [d("blk_client_data", 0x2000, u64::MAX - 0xfff), vars.data[1]], ..vars };
        assert!(BlkConfig::from_setvars(&wraps).is_err());
    }
}
