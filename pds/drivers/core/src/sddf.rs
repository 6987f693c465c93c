//! A driver configured the sDDF way: its client-side wiring (queues,
//! capacities, channel ids) from the config section sdfgen writes
//! (`.serial_driver_config` and its siblings, parsed by `sevio-sddf`),
//! its transport and bus wiring from its setvars as always.
//!
//! The rules every such driver shares, here once:
//! - [`sddf_section`]: a section nobody filled (all zeros: the image was
//!   not objcopied, as in sevio's own hand-written systems) means "no
//!   sDDF config, use the PD's own wiring"; any other content must parse,
//!   or the PD is [`Unusable::Sddf`], naming the section;
//! - [`client_channels`]: the channel ids a config names are ids of this
//!   PD (at most 61), none of them the bus's, the transport's, the
//!   timer's or the log channel's, and no two alike, or the PD is [`Unusable::Channel`];
//! - [`data_regions_section`] and [`data_regions_from_setvars`]: the
//!   memory a driver may hand its device (a [`DataRegions`] list, at
//!   least one region), from sevio's `.sevio_data_regions` section in a
//!   generated system or from `setvar_size` + `region_paddr` in a
//!   hand-written one, each region checked as sdfgen's are.

use crate::client::DataRegions;
use crate::pd::DriverPdConfig;
use crate::setvars::Unusable;
use sevio_runtime::Channel;
use sevio_runtime::line::LOG_CHANNEL;
use sevio_sddf::resources::{RawDeviceRegion, RawRegion};
use sevio_sddf::{ConfigError, DeviceRegion, DeviceResources, Field};

/// sevio's section listing the data regions a driver may hand its
/// device, in sDDF's `device_resources_t` layout (vaddr 0, size, io_addr =
/// physical address), written by `tools/sdfgen/sevio_sdfgen.py`: sDDF's
/// driver configs do not say which memory that is.
pub const DATA_REGIONS_SECTION: &str = ".sevio_data_regions";

/// The data regions in the contents of [`DATA_REGIONS_SECTION`]: it must
/// parse and list at least one region (a driver with none could hand its
/// device nothing).
pub fn data_regions_section(bytes: &[u8]) -> Result<DataRegions, Unusable> {
    let resources =
        DeviceResources::parse(bytes).map_err(|error| Unusable::Sddf { section: DATA_REGIONS_SECTION, error })?;
    non_empty(DataRegions::from_resources(&resources))
}

/// A data region as a hand-written system describes it to a driver.
#[derive(Copy, Clone, Debug)]
pub struct DataRegionSetvars {
    /// Its name in the system description, for errors.
    pub region: &'static str,
    /// Its size (`setvar_size` of the driver's read-only map of it; 0:
    /// the system has no such region).
    pub size: u64,
    /// Its physical address (`region_paddr`): where devices reach it, the
    /// address clients name its bytes by.
    pub paddr: u64,
    /// Whether the driver cannot do without it (else a size of 0 means
    /// the system has none).
    pub required: bool,
}

/// The data regions a hand-written system gives by setvars, each checked
/// as a region of sdfgen's output is; at least one.
pub fn data_regions_from_setvars(regions: &[DataRegionSetvars]) -> Result<DataRegions, Unusable> {
    let mut data = DataRegions::new();
    for d in regions {
        match (d.size, d.paddr) {
            (0, _) if d.required => return Err(Unusable::Size(d.region)),
            (0, _) => continue,
            (_, 0) => return Err(Unusable::Setvar("a data region has no region_paddr")),
            _ => {}
        }
        let raw =
            RawDeviceRegion { region: RawRegion { vaddr: 0.into(), size: d.size.into() }, io_addr: d.paddr.into() };
        let parsed = DeviceRegion::parse(&raw, Field::named(d.region), Field::named(d.region))
            .map_err(|error| Unusable::Sddf { section: "setvars", error })?;
        data.push(parsed).map_err(|_| Unusable::Setvar("too many data regions"))?;
    }
    non_empty(data)
}

fn non_empty(data: DataRegions) -> Result<DataRegions, Unusable> {
    if data.is_empty() {
        return Err(Unusable::Setvar("no data regions: no buffer could reach the device"));
    }
    Ok(data)
}

/// Why a configured channel id was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChannelRefusal {
    /// Above [`Channel::MAX_ID`].
    OutOfRange,
    /// The bus's, the transport's, the timer's or the log channel's id.
    Reserved,
    /// Named twice in one config.
    Repeated,
}

/// The config in `bytes` (the contents of `section`), parsed by `parse`;
/// `Ok(None)` if the section was never filled (all zeros).
pub fn sddf_section<C>(
    section: &'static str,
    bytes: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<C, ConfigError>,
) -> Result<Option<C>, Unusable> {
    if bytes.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    parse(bytes).map(Some).map_err(|error| Unusable::Sddf { section, error })
}

/// The channels `ids` name (`(field, id)`, the field for the log), each
/// checked against the PD's own channels in `pd`.
pub fn client_channels<const N: usize>(
    pd: &DriverPdConfig,
    ids: [(&'static str, u8); N],
) -> Result<[Channel; N], Unusable> {
    // A driver without a timer reserves the log channel twice.
    let timer = pd.timer.map_or(LOG_CHANNEL, |t| t.channel);
    let reserved = [pd.bus, pd.transport, timer, LOG_CHANNEL];
    let mut channels = [LOG_CHANNEL; N];
    for (i, (field, id)) in ids.into_iter().enumerate() {
        let refuse = |why| Unusable::Channel { field, id, why };
        let channel = Channel::try_new(u64::from(id)).ok_or(refuse(ChannelRefusal::OutOfRange))?;
        if reserved.contains(&channel) {
            return Err(refuse(ChannelRefusal::Reserved));
        }
        if channels[..i].contains(&channel) {
            return Err(refuse(ChannelRefusal::Repeated));
        }
        channels[i] = channel;
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_bus_protocol::DriverId;
    use sevio_sddf::{Magic, SerialDriverConfig};
    use sevio_virtio::DeviceId;

    const PD: DriverPdConfig = DriverPdConfig {
        name: "t",
        device: DeviceId::CONSOLE,
        fallback_id: DriverId(2),
        bus: Channel::new(0),
        transport: Channel::new(1),
        client: None,
        timer: None,
    };

    #[test]
    fn an_unfilled_section_is_no_config_and_anything_else_must_parse() {
        let zeros = [0u8; SerialDriverConfig::SIZE];
        let section = SerialDriverConfig::SECTION;
        assert_eq!(sddf_section(section, &zeros, SerialDriverConfig::parse), Ok(None));
        let mut junk = zeros;
        junk[90] = 1;
        let error = ConfigError::BadMagic { expected: Magic::Serial, found: [0; 5] };
        assert_eq!(sddf_section(section, &junk, SerialDriverConfig::parse), Err(Unusable::Sddf { section, error }));
        let text = std::format!("{}", Unusable::Sddf { section, error });
        assert!(text.starts_with("sDDF config .serial_driver_config: bad magic"), "{text}");
    }

    #[test]
    fn data_regions_come_from_the_section_or_setvars_and_are_never_none() {
        use sevio_sddf::resources::RawDeviceResources;
        use zerocopy::{FromZeros, IntoBytes};
        let mut raw = RawDeviceResources::new_zeroed();
        assert!(matches!(
            data_regions_section(raw.as_bytes()),
            Err(Unusable::Sddf { section: DATA_REGIONS_SECTION, .. })
        ));
        raw.magic = Magic::DeviceResources.bytes();
        assert!(matches!(data_regions_section(raw.as_bytes()), Err(Unusable::Setvar(_))), "no regions");
        raw.num_regions = 2;
        for (k, r) in raw.regions.iter_mut().take(2).enumerate() {
            r.region.size = 0x1000.into();
            r.io_addr = (0x5000_0000 + k as u64 * 0x2000).into();
        }
        let list = data_regions_section(raw.as_bytes()).unwrap();
        assert_eq!(list.span(0x5000_2000, 0x1000), Ok(0x5000_2000));
        assert!(list.span(0x5000_1000, 1).is_err(), "the gap between them");

        let d = |region, size, paddr, required| DataRegionSetvars { region, size, paddr, required };
        let both = [d("rx", 0x1000, 0x4920_0000, true), d("tx", 0x1000, 0x4928_0000, false)];
        assert_eq!(data_regions_from_setvars(&both).unwrap().regions().len(), 2);
        let absent = [both[0], d("tx", 0, 0, false)];
        assert_eq!(data_regions_from_setvars(&absent).unwrap().regions().len(), 1, "optional");
        assert_eq!(data_regions_from_setvars(&[d("rx", 0, 0x4920_0000, true)]).err(), Some(Unusable::Size("rx")));
        assert!(data_regions_from_setvars(&[d("rx", 0x1000, 0, true)]).is_err(), "no paddr");
        assert!(data_regions_from_setvars(&[d("rx", 0x2000, u64::MAX - 0xfff, true)]).is_err(), "wraps");
        assert!(data_regions_from_setvars(&[d("tx", 0, 0, false)]).is_err(), "none at all");
    }

    #[test]
    fn configured_channels_are_checked_against_the_pds_own() {
        assert_eq!(client_channels(&PD, [("rx.id", 2), ("tx.id", 3)]), Ok([Channel::new(2), Channel::new(3)]));
        let refused = |field, id, why| Err(Unusable::Channel { field, id, why });
        assert_eq!(client_channels(&PD, [("tx.id", 62)]), refused("tx.id", 62, ChannelRefusal::OutOfRange));
        for id in [0, 1, 61] {
            assert_eq!(client_channels(&PD, [("tx.id", id)]), refused("tx.id", id, ChannelRefusal::Reserved));
        }
        let repeated = Unusable::Channel { field: "tx.id", id: 4, why: ChannelRefusal::Repeated };
        assert_eq!(client_channels(&PD, [("rx.id", 4), ("tx.id", 4)]), Err(repeated));
        let text = std::format!("{}", Unusable::Channel { field: "tx.id", id: 1, why: ChannelRefusal::Reserved });
        assert_eq!(text, "tx.id = 1: the bus's, the transport's, the timer's or the log's channel");
        let timed = DriverPdConfig { timer: Some(crate::RequestTimer::new(Channel::new(3))), ..PD };
        assert_eq!(client_channels(&timed, [("tx.id", 3)]), refused("tx.id", 3, ChannelRefusal::Reserved));
    }
}
