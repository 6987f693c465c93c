//! The driver's checks, each in one place: a client's command
//! ([`plan_command`]), a client's transfer ([`plan_transfer`]), and what
//! the device answers ([`control_status`], [`stream_infos`],
//! [`transfer_status`]).
//!
//! A client request that fails a check becomes a refusal (an sDDF
//! status) and never reaches the device. A device answer that fails one
//! is an [`AnswerFault`]: the device broke the protocol and is failed.

use crate::MAX_STREAMS;
use sevio_driver_core::{ClientRegion, ClientSpan};
use sevio_queue::sound::{PCM_BUFFER_SIZE, SoundCmd, SoundPcm, SoundStatus, StreamInfo, cmd};
use sevio_virtio::device::sound::{PcmHdr, PcmInfo, PcmSetParams, PcmStatus, SoundFault, code, direction};
use zerocopy::IntoBytes;

/// Bytes of one period the driver asks the device for (and the most one
/// transfer carries): sDDF's buffer size.
pub const PERIOD_BYTES: u32 = PCM_BUFFER_SIZE;
/// Periods in the device's buffer (`buffer_bytes` = this x a period).
pub const PERIODS: u32 = 4;

/// A device answer the driver does not believe.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AnswerFault {
    /// Too few bytes (a status shorter than its 8 bytes, a header
    /// shorter than 4, PCM_INFO items cut short).
    Short(SoundFault),
    /// A status code VIRTIO 1.2 §5.14.6.1 does not define.
    UnknownStatus(u32),
    /// A stream description with an undefined direction or an empty
    /// channel range.
    BadStreamInfo {
        /// The stream.
        stream: u32,
    },
}

/// Which way a stream's frames go, as its PCM_INFO says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Output: transfers go on the txq.
    Playback,
    /// Input: transfers go on the rxq.
    Capture,
}

/// The device's streams as PCM_INFO described them, and which ones the
/// client has set parameters on (and not released).
#[derive(Copy, Clone, Debug)]
pub struct Streams {
    count: usize,
    info: [StreamInfo; MAX_STREAMS],
    taken: [bool; MAX_STREAMS],
}

impl Default for Streams {
    fn default() -> Self {
        Streams { count: 0, info: [StreamInfo::default(); MAX_STREAMS], taken: [false; MAX_STREAMS] }
    }
}

impl Streams {
    /// The streams the device described (checked by [`stream_infos`]).
    pub fn new(infos: &[StreamInfo]) -> Self {
        let mut s = Streams { count: infos.len().min(MAX_STREAMS), ..Default::default() };
        s.info[..s.count].copy_from_slice(&infos[..s.count]);
        s
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Their descriptions.
    pub fn infos(&self) -> &[StreamInfo] {
        &self.info[..self.count]
    }

    /// Stream `id`, if the device has it.
    fn get(&self, id: u32) -> Option<&StreamInfo> {
        self.info[..self.count].get(id as usize)
    }

    /// Whether the client set parameters on `id` (and has not released it).
    pub fn taken(&self, id: u32) -> bool {
        self.taken.get(id as usize).copied().unwrap_or(false)
    }

    /// Record what a command the device completed OK did to its stream.
    pub fn completed(&mut self, cmd_code: u32, id: u32) {
        if let Some(t) = self.taken.get_mut(id as usize) {
            match cmd_code {
                cmd::TAKE => *t = true,
                cmd::RELEASE => *t = false,
                _ => {}
            }
        }
    }
}

/// A checked command: the control request's bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CommandPlan {
    /// The request (a `virtio_snd_pcm_set_params` or a `virtio_snd_pcm_hdr`).
    pub bytes: [u8; 24],
    /// How many of them.
    pub len: usize,
}

/// Check a client's command against the device's streams; the request
/// the device gets, or the status the client gets at once.
///
/// - the stream must exist (`BadMsg`), the code be one of sDDF's five
///   (`BadMsg`);
/// - a TAKE's parameters must be ones the stream's PCM_INFO offers
///   (`NotSupp`): VIRTIO 1.2 §5.14.6.6.3.1 "The driver MUST NOT set
///   undefined ... format, rate ... values" and the device's own
///   supported sets bound what it can honour;
/// - the period the driver asks for is sDDF's buffer size, the buffer
///   [`PERIODS`] of them.
pub fn plan_command(c: &SoundCmd, streams: &Streams) -> Result<CommandPlan, SoundStatus> {
    let info = streams.get(c.stream_id).ok_or(SoundStatus::BadMsg)?;
    let hdr = |virtio_code: u32| PcmHdr { code: virtio_code.into(), stream_id: c.stream_id.into() };
    let mut bytes = [0u8; 24];
    let len = match c.code {
        cmd::TAKE => {
            let p = c.set_params();
            let offered = |set: u64, bit: u8| bit < 64 && set & (1 << bit) != 0;
            let channels_ok = p.channels >= 1 && (info.channels_min..=info.channels_max).contains(&p.channels);
            if !channels_ok || !offered(info.formats, p.format) || !offered(info.rates, p.rate) {
                return Err(SoundStatus::NotSupp);
            }
            let req = PcmSetParams {
                hdr: hdr(code::PCM_SET_PARAMS),
                buffer_bytes: (PERIOD_BYTES * PERIODS).into(),
                period_bytes: PERIOD_BYTES.into(),
                features: 0.into(),
                channels: p.channels,
                format: p.format,
                rate: p.rate,
                padding: 0,
            };
            bytes.copy_from_slice(req.as_bytes());
            24
        }
        cmd::PREPARE | cmd::RELEASE | cmd::START | cmd::STOP => {
            let virtio_code = match c.code {
                cmd::PREPARE => code::PCM_PREPARE,
                cmd::RELEASE => code::PCM_RELEASE,
                cmd::START => code::PCM_START,
                _ => code::PCM_STOP,
            };
            bytes[..8].copy_from_slice(hdr(virtio_code).as_bytes());
            8
        }
        _ => return Err(SoundStatus::BadMsg),
    };
    Ok(CommandPlan { bytes, len })
}

/// A checked transfer.
#[derive(Copy, Clone, Debug)]
pub struct TransferPlan {
    /// Which queue.
    pub direction: Direction,
    /// The frames' bytes in the client's region (device address set).
    pub span: ClientSpan,
}

/// Check a client's transfer: the stream exists and the client set its
/// parameters (`BadMsg` otherwise); 1..=[`PCM_BUFFER_SIZE`] bytes; every
/// byte inside the client's data region (the framework's
/// [`ClientRegion::span`], the one client-range check).
pub fn plan_transfer(pcm: &SoundPcm, streams: &Streams, data: &ClientRegion) -> Result<TransferPlan, SoundStatus> {
    let info = streams.get(pcm.stream_id).ok_or(SoundStatus::BadMsg)?;
    if !streams.taken(pcm.stream_id) || pcm.len == 0 || pcm.len > PCM_BUFFER_SIZE {
        return Err(SoundStatus::BadMsg);
    }
    let span = data.span(pcm.io_or_offset, u64::from(pcm.len)).map_err(|_| SoundStatus::BadMsg)?;
    if span.device_addr.is_none() {
        return Err(SoundStatus::BadMsg);
    }
    let direction = if info.direction == direction::INPUT { Direction::Capture } else { Direction::Playback };
    Ok(TransferPlan { direction, span })
}

/// The sDDF status for a VIRTIO status code (§5.14.6.1: S_OK, S_BAD_MSG,
/// S_NOT_SUPP, S_IO_ERR); any other code is the device breaking the
/// protocol.
pub fn status_of(virtio_code: u32) -> Result<SoundStatus, AnswerFault> {
    match virtio_code {
        code::S_OK => Ok(SoundStatus::Ok),
        code::S_BAD_MSG => Ok(SoundStatus::BadMsg),
        code::S_NOT_SUPP => Ok(SoundStatus::NotSupp),
        code::S_IO_ERR => Ok(SoundStatus::IoErr),
        other => Err(AnswerFault::UnknownStatus(other)),
    }
}

/// The status of a control request whose answer is `written` (the first
/// `used.len` bytes of its device-writable part): a whole
/// `virtio_snd_hdr` (§5.14.6.1) first.
pub fn control_status(written: &[u8]) -> Result<SoundStatus, AnswerFault> {
    let head = written.get(..4).ok_or(AnswerFault::Short(SoundFault::Short { needed: 4, got: written.len() }))?;
    status_of(u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
}

/// The streams a PCM_INFO answer for `count` streams describes: every
/// item whole ([`PcmInfo::parse`]), and each one's direction defined and
/// channel range non-empty (§5.14.6.6.2.1: "The device MUST NOT set
/// undefined ... direction values"). `items` is what follows the header.
pub fn stream_infos(items: &[u8], count: usize, out: &mut [StreamInfo; MAX_STREAMS]) -> Result<usize, AnswerFault> {
    let count = count.min(MAX_STREAMS);
    for (i, slot) in out.iter_mut().enumerate().take(count) {
        let info = PcmInfo::parse(items, i).map_err(AnswerFault::Short)?;
        let defined = matches!(info.direction, direction::OUTPUT | direction::INPUT);
        if !defined || info.channels_min == 0 || info.channels_min > info.channels_max {
            return Err(AnswerFault::BadStreamInfo { stream: i as u32 });
        }
        *slot = StreamInfo {
            formats: info.formats.get(),
            rates: info.rates.get(),
            direction: info.direction,
            channels_min: info.channels_min,
            channels_max: info.channels_max,
        };
    }
    Ok(count)
}

/// How a transfer ended: the sDDF status, the latency the device
/// reported and, for capture, the frame bytes it wrote.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// For the client.
    pub status: SoundStatus,
    /// `latency_bytes`.
    pub latency_bytes: u32,
    /// Bytes of frames written (capture; 0 for playback).
    pub captured: u32,
}

/// A transfer's outcome from the last bytes the device wrote: `tail` is
/// the end of the device-writable part it claims (`used.len` bytes from
/// its start; at most the last 8 are passed), `used_len` that length.
/// §5.14.6.8: the writable part ends with a `virtio_snd_pcm_status`
/// (capture: the frames, then the status), so a device that wrote fewer
/// than 8 bytes gave no status ([`PcmStatus::parse`] refuses it).
pub fn transfer_status(tail: &[u8], used_len: u32) -> Result<Outcome, AnswerFault> {
    let status = PcmStatus::parse(tail).map_err(AnswerFault::Short)?;
    Ok(Outcome {
        status: status_of(status.status.get())?,
        latency_bytes: status.latency_bytes.get(),
        captured: used_len.saturating_sub(8),
    })
}
