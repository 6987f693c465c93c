//! Sound device (VIRTIO 1.2 §5.14): the config space, the request and
//! response headers of the control queue, and the PCM transfer header
//! and status that frame every tx/rx buffer.
//!
//! Device-written structures are read through [`PcmStatus::parse`] and
//! [`PcmInfo::parse`], which refuse bytes that are too few (a short
//! status is [`SoundFault::ShortStatus`], never a guess). Panic contract:
//! nothing here panics on any device bytes.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The queues (§5.14.2).
pub mod queues {
    /// Control requests.
    pub const CONTROLQ: u16 = 0;
    /// Device notifications.
    pub const EVENTQ: u16 = 1;
    /// Playback buffers.
    pub const TXQ: u16 = 2;
    /// Capture buffers.
    pub const RXQ: u16 = 3;
}

/// `struct virtio_snd_config` (§5.14.4), 12 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SoundConfig {
    /// Jacks.
    pub jacks: U32,
    /// PCM streams.
    pub streams: U32,
    /// Channel maps.
    pub chmaps: U32,
}

/// Request, event and status codes (§5.14.6).
pub mod code {
    /// Jack information.
    pub const JACK_INFO: u32 = 1;
    /// Jack remap.
    pub const JACK_REMAP: u32 = 2;
    /// PCM stream information.
    pub const PCM_INFO: u32 = 0x0100;
    /// Set a stream's parameters.
    pub const PCM_SET_PARAMS: u32 = 0x0101;
    /// Prepare a stream.
    pub const PCM_PREPARE: u32 = 0x0102;
    /// Release a stream.
    pub const PCM_RELEASE: u32 = 0x0103;
    /// Start a stream.
    pub const PCM_START: u32 = 0x0104;
    /// Stop a stream.
    pub const PCM_STOP: u32 = 0x0105;
    /// Channel map information.
    pub const CHMAP_INFO: u32 = 0x0200;
    /// Event: a period elapsed.
    pub const PCM_PERIOD_ELAPSED: u32 = 0x1100;
    /// Event: an underrun or overrun.
    pub const PCM_XRUN: u32 = 0x1101;
    /// Status: done.
    pub const S_OK: u32 = 0x8000;
    /// Status: malformed request.
    pub const S_BAD_MSG: u32 = 0x8001;
    /// Status: not supported.
    pub const S_NOT_SUPP: u32 = 0x8002;
    /// Status: I/O error.
    pub const S_IO_ERR: u32 = 0x8003;
}

/// Sample formats (§5.14.6.6.1: bit numbers of `formats`), those used.
pub mod format {
    /// Signed 16-bit.
    pub const S16: u8 = 5;
}

/// Frame rates (bit numbers of `rates`), those used.
pub mod rate {
    /// 44100 Hz.
    pub const R44100: u8 = 6;
    /// 48000 Hz.
    pub const R48000: u8 = 7;
}

/// Stream directions (§5.14.6.6.2).
pub mod direction {
    /// Playback.
    pub const OUTPUT: u8 = 0;
    /// Capture.
    pub const INPUT: u8 = 1;
}

/// `struct virtio_snd_query_info` (§5.14.6.1), 16 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct QueryInfo {
    /// `code::PCM_INFO`, `JACK_INFO` or `CHMAP_INFO`.
    pub code: U32,
    /// First item.
    pub start_id: U32,
    /// Items.
    pub count: U32,
    /// Bytes per item the driver expects.
    pub size: U32,
}

/// `struct virtio_snd_pcm_hdr` (§5.14.6.6): a request about one stream
/// (PREPARE, RELEASE, START, STOP), 8 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PcmHdr {
    /// The request code.
    pub code: U32,
    /// The stream.
    pub stream_id: U32,
}

/// `struct virtio_snd_pcm_set_params` (§5.14.6.6.3), 24 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PcmSetParams {
    /// `code::PCM_SET_PARAMS` and the stream.
    pub hdr: PcmHdr,
    /// Bytes of the whole buffer.
    pub buffer_bytes: U32,
    /// Bytes of one period.
    pub period_bytes: U32,
    /// Stream features.
    pub features: U32,
    /// Channels.
    pub channels: u8,
    /// A [`format`] bit number.
    pub format: u8,
    /// A [`rate`] bit number.
    pub rate: u8,
    /// Zero.
    pub padding: u8,
}

/// `struct virtio_snd_pcm_info` (§5.14.6.6.1), 32 bytes, device-written.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PcmInfo {
    /// The HDA function group node.
    pub hda_fn_nid: U32,
    /// Stream features.
    pub features: U32,
    /// Supported formats (bit per [`format`]).
    pub formats: U64,
    /// Supported rates (bit per [`rate`]).
    pub rates: U64,
    /// A [`direction`].
    pub direction: u8,
    /// Fewest channels.
    pub channels_min: u8,
    /// Most channels.
    pub channels_max: u8,
    /// Zero.
    pub padding: [u8; 5],
}

/// `struct virtio_snd_pcm_xfer` (§5.14.6.8): the device-readable head of
/// every tx/rx buffer, 4 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PcmXfer {
    /// The stream.
    pub stream_id: U32,
}

/// `struct virtio_snd_pcm_status` (§5.14.6.8): the device-writable tail
/// of every tx/rx buffer, 8 bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PcmStatus {
    /// A `code::S_*` status.
    pub status: U32,
    /// Bytes the device holds not yet played (or captured, not yet
    /// delivered).
    pub latency_bytes: U32,
}

/// A device-written structure the driver refuses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SoundFault {
    /// Fewer bytes than a status (8) were written: the device did not
    /// say how the transfer ended.
    ShortStatus {
        /// Bytes written.
        written: usize,
    },
    /// Fewer bytes than the structure holds.
    Short {
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        got: usize,
    },
}

impl PcmStatus {
    /// The status at the end of a transfer whose device-writable part is
    /// `written` bytes: for playback only the status, for capture the
    /// frames then the status, so the status is the last 8 bytes.
    pub fn parse(written: &[u8]) -> Result<PcmStatus, SoundFault> {
        let at = written.len().checked_sub(8).ok_or(SoundFault::ShortStatus { written: written.len() })?;
        PcmStatus::read_from_bytes(&written[at..]).map_err(|_| SoundFault::ShortStatus { written: written.len() })
    }
}

impl PcmInfo {
    /// Item `i` of a PCM_INFO answer (after its 4-byte status header).
    pub fn parse(items: &[u8], i: usize) -> Result<PcmInfo, SoundFault> {
        let size = core::mem::size_of::<PcmInfo>();
        let start = i.checked_mul(size).ok_or(SoundFault::Short { needed: usize::MAX, got: items.len() })?;
        let bytes =
            items.get(start..start + size).ok_or(SoundFault::Short { needed: start + size, got: items.len() })?;
        PcmInfo::read_from_bytes(bytes).map_err(|_| SoundFault::Short { needed: size, got: bytes.len() })
    }
}

const _: () = {
    assert!(core::mem::size_of::<SoundConfig>() == 12);
    assert!(core::mem::size_of::<QueryInfo>() == 16);
    assert!(core::mem::size_of::<PcmSetParams>() == 24);
    assert!(core::mem::size_of::<PcmInfo>() == 32);
    assert!(core::mem::size_of::<PcmStatus>() == 8);
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn set_params_is_laid_out_as_the_spec_says() {
        let p = PcmSetParams {
            hdr: PcmHdr { code: code::PCM_SET_PARAMS.into(), stream_id: 1.into() },
            buffer_bytes: 8192.into(),
            period_bytes: 2048.into(),
            features: 0.into(),
            channels: 2,
            format: format::S16,
            rate: rate::R48000,
            padding: 0,
        };
        let golden = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0x20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 2, 5, 7, 0];
        assert_eq!(p.as_bytes(), &golden);
    }

    #[test]
    fn a_short_status_is_refused_and_a_whole_one_is_the_last_eight_bytes() {
        assert_eq!(PcmStatus::parse(&[0, 0x80, 0, 0, 9, 0, 0]), Err(SoundFault::ShortStatus { written: 7 }));
        assert_eq!(PcmStatus::parse(&[]), Err(SoundFault::ShortStatus { written: 0 }));
        let mut capture = vec![0xaa; 16];
        capture.extend_from_slice(&[0, 0x80, 0, 0, 64, 0, 0, 0]);
        let s = PcmStatus::parse(&capture).unwrap();
        assert_eq!((s.status.get(), s.latency_bytes.get()), (code::S_OK, 64));
    }

    #[test]
    fn pcm_info_items_must_be_whole() {
        let mut items = vec![0u8; 64];
        items[32 + 24] = direction::INPUT;
        assert_eq!(PcmInfo::parse(&items, 1).unwrap().direction, direction::INPUT);
        assert_eq!(PcmInfo::parse(&items[..63], 1), Err(SoundFault::Short { needed: 64, got: 63 }));
        assert!(PcmInfo::parse(&items, usize::MAX).is_err());
    }
}
