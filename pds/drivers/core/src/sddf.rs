//! A driver configured the sDDF way: its client-side wiring (queues,
//! capacities, channel ids) from the config section sdfgen writes
//! (`.serial_driver_config` and its siblings, parsed by `sevio-sddf`),
//! its transport and bus wiring from its setvars as always.
//!
//! Two rules every such driver shares, here once:
//! - [`sddf_section`]: a section nobody filled (all zeros: the image was
//!   not objcopied, as in sevio's own hand-written systems) means "no
//!   sDDF config, use the PD's own wiring"; any other content must parse,
//!   or the PD is [`Unusable::Config`];
//! - [`client_channels`]: the channel ids a config names are ids of this
//!   PD (at most 61), none of them the bus's, the transport's, the
//!   timer's or the log channel's, and no two alike, or the PD is [`Unusable::Channel`].

use crate::pd::DriverPdConfig;
use crate::setvars::Unusable;
use sevio_runtime::Channel;
use sevio_runtime::line::LOG_CHANNEL;
use sevio_sddf::ConfigError;

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

/// The config in `bytes` (a config section's contents), parsed by
/// `parse`; `Ok(None)` if the section was never filled (all zeros).
pub fn sddf_section<C>(
    bytes: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<C, ConfigError>,
) -> Result<Option<C>, Unusable> {
    if bytes.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    parse(bytes).map(Some).map_err(Unusable::Config)
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
        assert_eq!(sddf_section(&zeros, SerialDriverConfig::parse), Ok(None));
        let mut junk = zeros;
        junk[90] = 1;
        let expected = ConfigError::BadMagic { expected: Magic::Serial, found: [0; 5] };
        assert_eq!(sddf_section(&junk, SerialDriverConfig::parse), Err(Unusable::Config(expected)));
        let text = std::format!("{}", Unusable::Config(expected));
        assert!(text.starts_with("sDDF config: bad magic"), "{text}");
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
