//! sDDF sound queues: commands and PCM transfers, each a request queue
//! (client -> driver) and a response queue (driver -> client), plus the
//! shared-state page the driver fills once it knows the device's streams.
//!
//! Layout (bytes; sDDF 0.7.0 `include/sddf/sound/{sound.h,queue.h}`, 64-bit):
//! - `sound_cmd_t {code u32 @0, cookie u32 @4, stream_id u32 @8, union @12}`
//!   = 16 B; the union is `set_params {channels u8 @12, format u8 @13,
//!   rate u8 @14}` in a TAKE request and `status u32 @12` in every
//!   response;
//! - `sound_pcm_t {cookie u32 @0, stream_id u32 @4, io_or_offset u64 @8,
//!   len u32 @16, status u32 @20, latency_bytes u32 @24}` = 32 B (padded
//!   to its 8-byte alignment);
//! - both queue headers `{tail u32 @0, head u32 @4}` (tail first, unlike
//!   blk and gpu), entries at 8; a queue is full at `capacity` entries;
//! - `sound_shared_state_t {ready bool @0, streams u32 @4,
//!   stream_info[32] @8}`, each `sound_pcm_info_t {formats u64 @0,
//!   rates u64 @8, direction u8 @16, channels_min u8 @17, channels_max
//!   u8 @18}` = 24 B, so the page is 776 B.
//!
//! sDDF's own copy functions move only the union's first three bytes
//! (`dest->set_params = command->set_params`), both ways; so a status is
//! read from bytes 12..15 ([`SoundCmd::status`]) and sevio writes the
//! whole word (byte 15 zero).
//!
//! Format, rate and direction numbers are VIRTIO 1.2 §5.14.6.6's (sDDF's
//! enums are the same lists in the same order). `io_or_offset` is, as a
//! sound client of sDDF writes it, an offset into the client's data
//! region; a sevio driver checks it against that region.
//!
//! Panic contract: nothing here panics on any memory contents.

use crate::QueueError;
use crate::mem::{RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use core::sync::atomic::Ordering::{Acquire, Release};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// sDDF `SOUND_CMD_QUEUE_CAPACITY` (8 + 64 x 16 bytes: one page).
pub const CMD_QUEUE_CAPACITY: u32 = 64;
/// sDDF `SOUND_PCM_QUEUE_CAPACITY` (8 + 256 x 32 bytes: three pages).
pub const PCM_QUEUE_CAPACITY: u32 = 256;
/// sDDF `SOUND_PCM_BUFFER_SIZE`: the most bytes one transfer carries.
pub const PCM_BUFFER_SIZE: u32 = 4096;
/// sDDF `SOUND_MAX_STREAM_COUNT`: streams the shared state describes.
pub const MAX_STREAM_COUNT: usize = 32;

/// Command codes (`sound_cmd_code_t`).
pub mod cmd {
    /// Take the stream and set its parameters (VIRTIO PCM_SET_PARAMS).
    pub const TAKE: u32 = 0;
    /// VIRTIO PCM_PREPARE.
    pub const PREPARE: u32 = 1;
    /// VIRTIO PCM_RELEASE.
    pub const RELEASE: u32 = 2;
    /// VIRTIO PCM_START.
    pub const START: u32 = 3;
    /// VIRTIO PCM_STOP.
    pub const STOP: u32 = 4;
}

/// Response statuses (`sound_status_t`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum SoundStatus {
    /// Done.
    Ok = 0,
    /// A malformed request (a bad stream, buffer or parameter).
    BadMsg = 1,
    /// Not supported by the device.
    NotSupp = 2,
    /// The device failed the request, or failed altogether.
    IoErr = 3,
    /// The stream is someone else's (a virtualiser's answer).
    Busy = 4,
}

impl SoundStatus {
    /// The status a raw value names, if any.
    pub fn from_u32(v: u32) -> Option<Self> {
        use SoundStatus::*;
        [Ok, BadMsg, NotSupp, IoErr, Busy].get(v as usize).copied()
    }
}

/// `sound_pcm_set_params_t`: what a TAKE asks for.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SetParams {
    /// Channels.
    pub channels: u8,
    /// A format bit number (VIRTIO `VIRTIO_SND_PCM_FMT_*`).
    pub format: u8,
    /// A rate bit number (VIRTIO `VIRTIO_SND_PCM_RATE_*`).
    pub rate: u8,
}

/// `sound_cmd_t` as it lies in a queue.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SoundCmd {
    /// A [`cmd`] code (the client's; unchecked).
    pub code: u32,
    /// The client's, echoed in the response.
    pub cookie: u32,
    /// The stream.
    pub stream_id: u32,
    /// The union's four bytes.
    pub union: [u8; 4],
}

impl SoundCmd {
    /// Size in the entry array.
    pub const SIZE: usize = 16;

    /// A request.
    pub fn request(code: u32, cookie: u32, stream_id: u32, params: SetParams) -> Self {
        SoundCmd { code, cookie, stream_id, union: [params.channels, params.format, params.rate, 0] }
    }

    /// The response to `self` with `status`.
    pub fn answer(&self, status: SoundStatus) -> Self {
        SoundCmd { union: (status as u32).to_le_bytes(), ..*self }
    }

    /// The parameters of a TAKE.
    pub fn set_params(&self) -> SetParams {
        SetParams { channels: self.union[0], format: self.union[1], rate: self.union[2] }
    }

    /// The status of a response: the three bytes sDDF's copy moves.
    pub fn status(&self) -> u32 {
        u32::from_le_bytes([self.union[0], self.union[1], self.union[2], 0])
    }
}

impl Entry for SoundCmd {
    const SIZE: usize = 16;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        Some(SoundCmd {
            code: r.read_u32(0)?,
            cookie: r.read_u32(4)?,
            stream_id: r.read_u32(8)?,
            union: r.read_u32(12)?.to_le_bytes(),
        })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.code)?;
        r.write_u32(4, self.cookie)?;
        r.write_u32(8, self.stream_id)?;
        r.write_u32(12, u32::from_le_bytes(self.union))
    }
}

/// `sound_pcm_t` as it lies in a queue.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SoundPcm {
    /// The client's, echoed in the response.
    pub cookie: u32,
    /// The stream.
    pub stream_id: u32,
    /// Offset of the buffer in the client's data region.
    pub io_or_offset: u64,
    /// Bytes: to play (request), played or captured (response).
    pub len: u32,
    /// Response: a raw [`SoundStatus`].
    pub status: u32,
    /// Response: bytes the device still held (VIRTIO `latency_bytes`).
    pub latency_bytes: u32,
}

impl Entry for SoundPcm {
    const SIZE: usize = 32;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        Some(SoundPcm {
            cookie: r.read_u32(0)?,
            stream_id: r.read_u32(4)?,
            io_or_offset: r.read_u64(8)?,
            len: r.read_u32(16)?,
            status: r.read_u32(20)?,
            latency_bytes: r.read_u32(24)?,
        })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.cookie)?;
        r.write_u32(4, self.stream_id)?;
        r.write_u64(8, self.io_or_offset)?;
        r.write_u32(16, self.len)?;
        r.write_u32(20, self.status)?;
        r.write_u32(24, self.latency_bytes)?;
        r.write_u32(28, 0)
    }
}

/// Layout of both command queues (`sound_cmd_queue_t`).
#[derive(Debug)]
pub struct SoundCmdQueue;
impl QueueKind for SoundCmdQueue {
    type Index = u32;
    type Entry = SoundCmd;
    const HEAD: usize = 4;
    const TAIL: usize = 0;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for SoundCmdQueue {}

/// Layout of both PCM queues (`sound_pcm_queue_t`).
#[derive(Debug)]
pub struct SoundPcmQueue;
impl QueueKind for SoundPcmQueue {
    type Index = u32;
    type Entry = SoundPcm;
    const HEAD: usize = 4;
    const TAIL: usize = 0;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for SoundPcmQueue {}

/// Client side of a command request queue, driver side of a response queue.
pub type SoundCmdProducer<M = SharedMemory> = Producer<SoundCmdQueue, M>;
/// Driver side of a command request queue, client side of a response queue.
pub type SoundCmdConsumer<M = SharedMemory> = Consumer<SoundCmdQueue, M>;
/// Producer side of a PCM queue.
pub type SoundPcmProducer<M = SharedMemory> = Producer<SoundPcmQueue, M>;
/// Consumer side of a PCM queue.
pub type SoundPcmConsumer<M = SharedMemory> = Consumer<SoundPcmQueue, M>;

/// `sound_pcm_info_t`: one stream as the driver describes it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// Formats (bit per format number).
    pub formats: u64,
    /// Rates (bit per rate number).
    pub rates: u64,
    /// 0 output (playback), 1 input (capture).
    pub direction: u8,
    /// Fewest channels.
    pub channels_min: u8,
    /// Most channels.
    pub channels_max: u8,
}

/// The shared-state page (`sound_shared_state_t`).
pub struct SharedState;

impl SharedState {
    /// Bytes of one [`StreamInfo`].
    pub const INFO_SIZE: usize = 24;
    /// Where stream `i`'s info is.
    pub const fn info_at(i: usize) -> usize {
        8 + Self::INFO_SIZE * i
    }
    /// Bytes of the whole structure.
    pub const SIZE: usize = Self::info_at(MAX_STREAM_COUNT);

    /// Describe `streams` (at most [`MAX_STREAM_COUNT`] are written), then
    /// set `ready` (release: pairs with [`read`](Self::read)). Caller: driver.
    pub fn publish(mem: &SharedMemory, streams: &[StreamInfo]) -> Result<(), OutOfBounds> {
        let streams = &streams[..streams.len().min(MAX_STREAM_COUNT)];
        for (i, s) in streams.iter().enumerate() {
            let at = Self::info_at(i);
            mem.write::<u64>(at, s.formats.to_le())?;
            mem.write::<u64>(at + 8, s.rates.to_le())?;
            mem.copy_in(at + 16, &[s.direction, s.channels_min, s.channels_max, 0, 0, 0, 0, 0])?;
        }
        mem.write::<u32>(4, (streams.len() as u32).to_le())?;
        mem.store_u32(0, 1, Release)
    }

    /// Clear `ready` (the device went away). Caller: driver.
    pub fn withdraw(mem: &SharedMemory) -> Result<(), OutOfBounds> {
        mem.store_u32(0, 0, Release)
    }

    /// The streams, once `ready` (acquire), else `None`; a count over
    /// [`MAX_STREAM_COUNT`] reads as that many. Caller: client.
    pub fn read(mem: &SharedMemory, out: &mut [StreamInfo; MAX_STREAM_COUNT]) -> Result<Option<usize>, QueueError> {
        // A C bool: only byte 0 counts.
        let ready = mem.load_u32(0, Acquire).ok_or(QueueError::OutOfBounds)? & 0xff != 0;
        if !ready {
            return Ok(None);
        }
        let n = (u32::from_le(mem.read::<u32>(4).ok_or(QueueError::OutOfBounds)?) as usize).min(MAX_STREAM_COUNT);
        for (i, s) in out.iter_mut().enumerate().take(n) {
            let at = Self::info_at(i);
            let mut b = [0u8; 24];
            mem.copy_out(at, &mut b).map_err(|_| QueueError::OutOfBounds)?;
            let word = |r: core::ops::Range<usize>| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[r]);
                u64::from_le_bytes(w)
            };
            *s = StreamInfo {
                formats: word(0..8),
                rates: word(8..16),
                direction: b[16],
                channels_min: b[17],
                channels_max: b[18],
            };
        }
        Ok(Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn command_bytes_match_sddf() {
        let heap = HeapRegion::new(8 + 2 * SoundCmd::SIZE);
        let mem = heap.memory();
        let mut p = SoundCmdProducer::new(mem.clone(), 2).unwrap();
        let take = SoundCmd::request(cmd::TAKE, 0x11, 1, SetParams { channels: 2, format: 5, rate: 7 });
        p.enqueue(take).unwrap();
        let mut b = [0u8; 16];
        mem.copy_out(8, &mut b).unwrap();
        assert_eq!(b, [0, 0, 0, 0, 0x11, 0, 0, 0, 1, 0, 0, 0, 2, 5, 7, 0], "code, cookie, stream, set_params");
        assert_eq!(mem.read::<u32>(0), Some(1), "tail at byte 0");
        assert_eq!(mem.read::<u32>(4), Some(0), "head at byte 4");
        let mut c = SoundCmdConsumer::new(mem.clone(), 2).unwrap();
        let got = c.dequeue().unwrap().unwrap();
        assert_eq!(got.set_params(), SetParams { channels: 2, format: 5, rate: 7 });
        assert_eq!(mem.read::<u32>(4), Some(1), "head published");
        assert_eq!(got.answer(SoundStatus::IoErr).status(), 3);
        // What sDDF's copy leaves: three bytes of the status and byte 15
        // whatever it was.
        let c_copied = SoundCmd { union: [4, 0, 0, 0xee], ..got };
        assert_eq!(SoundStatus::from_u32(c_copied.status()), Some(SoundStatus::Busy));
    }

    #[test]
    fn pcm_bytes_match_sddf() {
        let heap = HeapRegion::new(8 + 2 * 32);
        let mem = heap.memory();
        let mut p = SoundPcmProducer::new(mem.clone(), 2).unwrap();
        let pcm = SoundPcm {
            cookie: 9,
            stream_id: 1,
            io_or_offset: 0x1_0000_2000,
            len: 4096,
            status: 3,
            latency_bytes: 0x800,
        };
        p.enqueue(pcm).unwrap();
        let mut b = [0u8; 32];
        mem.copy_out(8, &mut b).unwrap();
        assert_eq!(&b[..8], &[9, 0, 0, 0, 1, 0, 0, 0], "cookie, stream_id");
        assert_eq!(&b[8..16], &[0, 0x20, 0, 0, 1, 0, 0, 0], "io_or_offset, a uintptr_t at 8");
        assert_eq!(&b[16..28], &[0, 0x10, 0, 0, 3, 0, 0, 0, 0, 8, 0, 0], "len, status, latency_bytes");
        let mut c = SoundPcmConsumer::new(mem, 2).unwrap();
        assert_eq!(c.dequeue().unwrap(), Some(pcm));
    }

    #[test]
    fn queues_fill_to_capacity_and_refuse_a_peer_running_ahead() {
        let heap = HeapRegion::new(8 + 4 * 32);
        let mem = heap.memory();
        let mut p = SoundPcmProducer::new(mem.clone(), 4).unwrap();
        for i in 0..4 {
            p.enqueue(SoundPcm { cookie: i, ..Default::default() }).unwrap();
        }
        assert_eq!(p.enqueue(SoundPcm::default()), Err(QueueError::Full), "full at capacity: no slack");
        let mut c = SoundPcmConsumer::new(mem.clone(), 4).unwrap();
        for i in 0..4 {
            assert_eq!(c.dequeue().unwrap().map(|e| e.cookie), Some(i));
        }
        mem.write::<u32>(0, 4 + 5).unwrap();
        assert!(matches!(c.dequeue(), Err(QueueError::PeerIndex { .. })), "a tail 5 ahead of head 4");
    }

    #[test]
    fn shared_state_layout_and_ready_flag() {
        assert_eq!(SharedState::SIZE, 776);
        let heap = HeapRegion::new(0x1000);
        let mem = heap.memory();
        let mut out = [StreamInfo::default(); MAX_STREAM_COUNT];
        assert_eq!(SharedState::read(&mem, &mut out), Ok(None));
        let out_stream = StreamInfo { formats: 1 << 5, rates: 1 << 7, direction: 0, channels_min: 1, channels_max: 2 };
        let in_stream = StreamInfo { direction: 1, ..out_stream };
        SharedState::publish(&mem, &[out_stream, in_stream]).unwrap();
        assert_eq!(mem.read::<u8>(0), Some(1), "ready");
        assert_eq!(mem.read::<u32>(4), Some(2), "streams");
        assert_eq!(mem.read::<u64>(8 + 24), Some(1 << 5), "stream 1's formats at 32");
        assert_eq!(mem.read::<u8>(8 + 24 + 16), Some(1), "its direction at 48");
        assert_eq!(mem.read::<u8>(8 + 24 + 18), Some(2), "its channels_max at 50");
        assert_eq!(SharedState::read(&mem, &mut out), Ok(Some(2)));
        assert_eq!(&out[..2], &[out_stream, in_stream]);
        mem.write::<u32>(4, 1000).unwrap();
        assert_eq!(SharedState::read(&mem, &mut out), Ok(Some(MAX_STREAM_COUNT)), "a count past 32 is capped");
        SharedState::withdraw(&mem).unwrap();
        assert_eq!(SharedState::read(&mem, &mut out), Ok(None));
    }
}
