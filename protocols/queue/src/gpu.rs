//! sDDF GPU queues: requests (client -> driver), responses (driver ->
//! client), the events page and the display information a
//! GET_DISPLAY_INFO writes into the client's data region.
//!
//! Layout (bytes; sDDF 0.7.0 `include/sddf/gpu/{gpu.h,queue.h,events.h}`):
//! - request `gpu_req_t {code u32 @0, id u32 @4, union @8}` = 56 B; the
//!   union (48 B, 8-aligned) holds one of:
//!   - GET_DISPLAY_INFO `{mem_offset u64 @8}`;
//!   - RESOURCE_CREATE_2D `{resource_id @8, width @12, height @16, format @20}`;
//!   - RESOURCE_ATTACH_BACKING `{resource_id @8, mem_offset u64 @16, mem_size u32 @24}`;
//!   - RESOURCE_DETACH_BACKING, RESOURCE_UNREF `{resource_id @8}`;
//!   - SET_SCANOUT `{resource_id @8, scanout_id @12, rect @16}`;
//!   - TRANSFER_TO_2D `{resource_id @8, rect @12, mem_offset u64 @32}`;
//!   - RESOURCE_FLUSH `{resource_id @8, rect @12}`;
//!
//!   a rect is `{x, y, width, height}` u32s;
//! - response `gpu_resp_t {status u32 @0, id u32 @4}` = 8 B;
//! - both queue headers `{head u32 @0, tail u32 @4}`, entries at 8; a
//!   queue is full at `capacity` entries (no slack);
//! - events page `gpu_events_t {display_info bool @0}`.
//!
//! sevio adds two request codes sDDF does not have (its GPU protocol has
//! no cursor), after sDDF's own: [`CODE_UPDATE_CURSOR`] and
//! [`CODE_MOVE_CURSOR`], `{resource_id @8, scanout_id @12, x @16, y @20,
//! hot_x @24, hot_y @28}` (MOVE reads only scanout, x, y). An sDDF
//! client never sends them; a sevio driver refuses nothing sDDF defines
//! except the blob requests (answered `ErrUnspec`: no blob support).
//!
//! Every field of a request comes from the client: [`GpuRequest::command`]
//! only decodes, the driver checks ids, rectangles and offsets.
//!
//! Panic contract: nothing here panics on any memory contents.

use crate::QueueError;
use crate::mem::{RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use core::sync::atomic::Ordering::{Acquire, Release};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// Entries in each queue in sevio's systems (sDDF passes the capacity in
/// its config; a request queue of 64 fits a 4 KiB page: 8 + 64 x 56).
pub const SEVIO_CAPACITY: u32 = 64;
/// Resource ids run 1..=this (sDDF `GPU_MAX_RESOURCES`).
pub const MAX_RESOURCES: u32 = 1024;
/// The resource id that turns a scanout off.
pub const DISABLE_SCANOUT_RESOURCE_ID: u32 = 0;
/// Bytes per pixel of 2D resources (sDDF `GPU_BPP_2D`).
pub const BPP_2D: u32 = 4;
/// Scanouts in [`DisplayInfo`] (sDDF `GPU_MAX_SCANOUTS`).
pub const MAX_SCANOUTS: usize = 16;

/// sDDF `GPU_REQ_GET_DISPLAY_INFO`.
pub const CODE_GET_DISPLAY_INFO: u32 = 0;
/// sDDF `GPU_REQ_RESOURCE_CREATE_BLOB`.
pub const CODE_RESOURCE_CREATE_BLOB: u32 = 1;
/// sDDF `GPU_REQ_SET_SCANOUT_BLOB`.
pub const CODE_SET_SCANOUT_BLOB: u32 = 2;
/// sDDF `GPU_REQ_RESOURCE_CREATE_2D`.
pub const CODE_RESOURCE_CREATE_2D: u32 = 3;
/// sDDF `GPU_REQ_SET_SCANOUT`.
pub const CODE_SET_SCANOUT: u32 = 4;
/// sDDF `GPU_REQ_RESOURCE_ATTACH_BACKING`.
pub const CODE_RESOURCE_ATTACH_BACKING: u32 = 5;
/// sDDF `GPU_REQ_RESOURCE_DETACH_BACKING`.
pub const CODE_RESOURCE_DETACH_BACKING: u32 = 6;
/// sDDF `GPU_REQ_TRANSFER_TO_2D`.
pub const CODE_TRANSFER_TO_2D: u32 = 7;
/// sDDF `GPU_REQ_RESOURCE_FLUSH`.
pub const CODE_RESOURCE_FLUSH: u32 = 8;
/// sDDF `GPU_REQ_RESOURCE_UNREF`.
pub const CODE_RESOURCE_UNREF: u32 = 9;
/// sevio: set the cursor image (a 64x64 resource; 0 hides it) and place it.
pub const CODE_UPDATE_CURSOR: u32 = 0x100;
/// sevio: move the cursor.
pub const CODE_MOVE_CURSOR: u32 = 0x101;

/// A rectangle (`gpu_rect_t`): (0, 0) is the top left.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl GpuRect {
    /// The rectangle at (`x`, `y`) of `width` x `height`.
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        GpuRect { x, y, width, height }
    }

    /// The part of `self` inside a `width` x `height` area at the origin;
    /// `None` when nothing is (the sums are done in 64 bits: a client's
    /// huge rectangle cannot wrap into range).
    pub fn clip(&self, width: u32, height: u32) -> Option<GpuRect> {
        let right = (u64::from(self.x) + u64::from(self.width)).min(u64::from(width));
        let bottom = (u64::from(self.y) + u64::from(self.height)).min(u64::from(height));
        if u64::from(self.x) >= right || u64::from(self.y) >= bottom {
            return None;
        }
        // Both below `width` / `height`, so they fit in u32.
        Some(GpuRect {
            x: self.x,
            y: self.y,
            width: (right - u64::from(self.x)) as u32,
            height: (bottom - u64::from(self.y)) as u32,
        })
    }
}

/// sDDF's pixel formats (`gpu_formats_t`), by their enum value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum GpuFormat {
    /// Bytes B, G, R, A.
    B8G8R8A8 = 0,
    /// Bytes B, G, R, unused.
    B8G8R8X8 = 1,
    /// Bytes A, R, G, B.
    A8R8G8B8 = 2,
    /// Bytes unused, R, G, B.
    X8R8G8B8 = 3,
    /// Bytes R, G, B, A.
    R8G8B8A8 = 4,
    /// Bytes unused, B, G, R.
    X8B8G8R8 = 5,
    /// Bytes A, B, G, R.
    A8B8G8R8 = 6,
    /// Bytes R, G, B, unused.
    R8G8B8X8 = 7,
}

impl GpuFormat {
    /// The format a raw value names, if any.
    pub fn from_u32(v: u32) -> Option<Self> {
        use GpuFormat::*;
        [B8G8R8A8, B8G8R8X8, A8R8G8B8, X8R8G8B8, R8G8B8A8, X8B8G8R8, A8B8G8R8, R8G8B8X8].get(v as usize).copied()
    }
}

/// A request as laid out in the request queue: the code, the id and the
/// union as twelve little-endian words (word `i` at byte `8 + 4 i`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuRequest {
    /// Raw request code (client-supplied).
    pub code: u32,
    /// Request id, echoed in the response.
    pub id: u32,
    /// The union.
    pub words: [u32; 12],
}

/// A request, decoded (fields unchecked: the client's).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GpuCommand {
    /// Write [`DisplayInfo`] at `mem_offset` of the data region.
    GetDisplayInfo {
        /// Where.
        mem_offset: u64,
    },
    /// Create a 2D resource.
    Create2d {
        /// Its id (1..=[`MAX_RESOURCES`]).
        resource_id: u32,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Raw [`GpuFormat`].
        format: u32,
    },
    /// Back a resource by `mem_size` bytes at `mem_offset` of the data region.
    AttachBacking {
        /// The resource.
        resource_id: u32,
        /// Where.
        mem_offset: u64,
        /// How much.
        mem_size: u32,
    },
    /// Take a resource's backing away.
    DetachBacking {
        /// The resource.
        resource_id: u32,
    },
    /// Show `rect` of a resource on a scanout (resource 0: nothing).
    SetScanout {
        /// The resource.
        resource_id: u32,
        /// The scanout.
        scanout_id: u32,
        /// The part shown.
        rect: GpuRect,
    },
    /// Copy `rect` from the backing (its first pixel at `mem_offset` of
    /// the backing) into the resource.
    TransferTo2d {
        /// The resource.
        resource_id: u32,
        /// The rectangle.
        rect: GpuRect,
        /// Offset into the backing.
        mem_offset: u64,
    },
    /// Show `rect`'s new contents.
    Flush {
        /// The resource.
        resource_id: u32,
        /// The rectangle.
        rect: GpuRect,
    },
    /// Destroy a resource.
    Unref {
        /// The resource.
        resource_id: u32,
    },
    /// sevio: cursor image and position.
    UpdateCursor {
        /// A 64x64 resource (0 hides the cursor).
        resource_id: u32,
        /// The scanout.
        scanout_id: u32,
        /// Position.
        x: u32,
        /// Position.
        y: u32,
        /// Hot spot.
        hot_x: u32,
        /// Hot spot.
        hot_y: u32,
    },
    /// sevio: cursor position.
    MoveCursor {
        /// The scanout.
        scanout_id: u32,
        /// Position.
        x: u32,
        /// Position.
        y: u32,
    },
    /// A code sevio does not serve (blob requests, unknown codes).
    Unsupported(u32),
}

fn u64_of(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

fn rect_at(w: &[u32; 12], i: usize) -> GpuRect {
    GpuRect { x: w[i], y: w[i + 1], width: w[i + 2], height: w[i + 3] }
}

impl GpuRequest {
    /// Size in the entry array.
    pub const SIZE: usize = 56;

    /// Decode the union by the code (nothing is checked).
    pub fn command(&self) -> GpuCommand {
        let w = &self.words;
        match self.code {
            CODE_GET_DISPLAY_INFO => GpuCommand::GetDisplayInfo { mem_offset: u64_of(w[0], w[1]) },
            CODE_RESOURCE_CREATE_2D => {
                GpuCommand::Create2d { resource_id: w[0], width: w[1], height: w[2], format: w[3] }
            }
            CODE_RESOURCE_ATTACH_BACKING => {
                GpuCommand::AttachBacking { resource_id: w[0], mem_offset: u64_of(w[2], w[3]), mem_size: w[4] }
            }
            CODE_RESOURCE_DETACH_BACKING => GpuCommand::DetachBacking { resource_id: w[0] },
            CODE_SET_SCANOUT => GpuCommand::SetScanout { resource_id: w[0], scanout_id: w[1], rect: rect_at(w, 2) },
            CODE_TRANSFER_TO_2D => {
                GpuCommand::TransferTo2d { resource_id: w[0], rect: rect_at(w, 1), mem_offset: u64_of(w[6], w[7]) }
            }
            CODE_RESOURCE_FLUSH => GpuCommand::Flush { resource_id: w[0], rect: rect_at(w, 1) },
            CODE_RESOURCE_UNREF => GpuCommand::Unref { resource_id: w[0] },
            CODE_UPDATE_CURSOR => GpuCommand::UpdateCursor {
                resource_id: w[0],
                scanout_id: w[1],
                x: w[2],
                y: w[3],
                hot_x: w[4],
                hot_y: w[5],
            },
            CODE_MOVE_CURSOR => GpuCommand::MoveCursor { scanout_id: w[1], x: w[2], y: w[3] },
            other => GpuCommand::Unsupported(other),
        }
    }

    /// The request for `command` with id `id` (what a client enqueues).
    pub fn new(id: u32, command: GpuCommand) -> Self {
        let mut w = [0u32; 12];
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        let put_rect =
            |w: &mut [u32; 12], i: usize, r: GpuRect| w[i..i + 4].copy_from_slice(&[r.x, r.y, r.width, r.height]);
        let code = match command {
            GpuCommand::GetDisplayInfo { mem_offset } => {
                w[..2].copy_from_slice(&[lo(mem_offset), hi(mem_offset)]);
                CODE_GET_DISPLAY_INFO
            }
            GpuCommand::Create2d { resource_id, width, height, format } => {
                w[..4].copy_from_slice(&[resource_id, width, height, format]);
                CODE_RESOURCE_CREATE_2D
            }
            GpuCommand::AttachBacking { resource_id, mem_offset, mem_size } => {
                w[0] = resource_id;
                w[2..5].copy_from_slice(&[lo(mem_offset), hi(mem_offset), mem_size]);
                CODE_RESOURCE_ATTACH_BACKING
            }
            GpuCommand::DetachBacking { resource_id } => {
                w[0] = resource_id;
                CODE_RESOURCE_DETACH_BACKING
            }
            GpuCommand::SetScanout { resource_id, scanout_id, rect } => {
                w[..2].copy_from_slice(&[resource_id, scanout_id]);
                put_rect(&mut w, 2, rect);
                CODE_SET_SCANOUT
            }
            GpuCommand::TransferTo2d { resource_id, rect, mem_offset } => {
                w[0] = resource_id;
                put_rect(&mut w, 1, rect);
                w[6..8].copy_from_slice(&[lo(mem_offset), hi(mem_offset)]);
                CODE_TRANSFER_TO_2D
            }
            GpuCommand::Flush { resource_id, rect } => {
                w[0] = resource_id;
                put_rect(&mut w, 1, rect);
                CODE_RESOURCE_FLUSH
            }
            GpuCommand::Unref { resource_id } => {
                w[0] = resource_id;
                CODE_RESOURCE_UNREF
            }
            GpuCommand::UpdateCursor { resource_id, scanout_id, x, y, hot_x, hot_y } => {
                w[..6].copy_from_slice(&[resource_id, scanout_id, x, y, hot_x, hot_y]);
                CODE_UPDATE_CURSOR
            }
            GpuCommand::MoveCursor { scanout_id, x, y } => {
                w[1..4].copy_from_slice(&[scanout_id, x, y]);
                CODE_MOVE_CURSOR
            }
            GpuCommand::Unsupported(code) => code,
        };
        GpuRequest { code, id, words: w }
    }
}

impl Entry for GpuRequest {
    const SIZE: usize = 56;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        let mut words = [0u32; 12];
        for (i, w) in words.iter_mut().enumerate() {
            *w = r.read_u32(8 + 4 * i)?;
        }
        Some(GpuRequest { code: r.read_u32(0)?, id: r.read_u32(4)?, words })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.code)?;
        r.write_u32(4, self.id)?;
        for (i, w) in self.words.iter().enumerate() {
            r.write_u32(8 + 4 * i, *w)?;
        }
        Ok(())
    }
}

/// Response status codes (sDDF `gpu_resp_status_t`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum GpuStatus {
    /// Success.
    Ok = 0,
    /// Anything else: no device, a device that failed or misbehaved, an
    /// unsupported request, a busy resource.
    ErrUnspec = 1,
    /// No such scanout.
    InvalidScanoutId = 2,
    /// No such resource (or one that already exists, for a create).
    InvalidResourceId = 3,
    /// A rectangle or memory range outside what it must lie in.
    InvalidBounds = 4,
    /// Any other bad field.
    InvalidParameter = 5,
}

impl GpuStatus {
    /// The status a raw value names, if any.
    pub fn from_u32(v: u32) -> Option<Self> {
        use GpuStatus::*;
        [Ok, ErrUnspec, InvalidScanoutId, InvalidResourceId, InvalidBounds, InvalidParameter].get(v as usize).copied()
    }
}

/// A response as laid out in the response queue.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuResponse {
    /// Raw status; see [`GpuStatus`].
    pub status: u32,
    /// The id of the request this answers.
    pub id: u32,
}

impl GpuResponse {
    /// A response with a typed status.
    pub fn new(status: GpuStatus, id: u32) -> Self {
        GpuResponse { status: status as u32, id }
    }
}

impl Entry for GpuResponse {
    const SIZE: usize = 8;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        Some(GpuResponse { status: r.read_u32(0)?, id: r.read_u32(4)? })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.status)?;
        r.write_u32(4, self.id)
    }
}

/// Layout of the request queue (`gpu_req_queue_t`).
#[derive(Debug)]
pub struct GpuRequestQueue;
impl QueueKind for GpuRequestQueue {
    type Index = u32;
    type Entry = GpuRequest;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for GpuRequestQueue {}

/// Layout of the response queue (`gpu_resp_queue_t`).
#[derive(Debug)]
pub struct GpuResponseQueue;
impl QueueKind for GpuResponseQueue {
    type Index = u32;
    type Entry = GpuResponse;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for GpuResponseQueue {}

/// Client side of the request queue.
pub type GpuRequestProducer<M = SharedMemory> = Producer<GpuRequestQueue, M>;
/// Driver side of the request queue.
pub type GpuRequestConsumer<M = SharedMemory> = Consumer<GpuRequestQueue, M>;
/// Driver side of the response queue.
pub type GpuResponseProducer<M = SharedMemory> = Producer<GpuResponseQueue, M>;
/// Client side of the response queue.
pub type GpuResponseConsumer<M = SharedMemory> = Consumer<GpuResponseQueue, M>;

/// One scanout in [`DisplayInfo`] (`gpu_scanout_t`, 20 bytes: a rect and
/// a bool, padded).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Scanout {
    /// Preferred position and size.
    pub rect: GpuRect,
    /// A display is connected.
    pub enabled: bool,
}

/// `gpu_resp_get_display_info_t` (324 bytes): what GET_DISPLAY_INFO
/// writes at the request's `mem_offset` before its response is enqueued.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DisplayInfo {
    /// Per scanout, by id.
    pub scanouts: [Scanout; MAX_SCANOUTS],
    /// Scanouts the device has.
    pub num_scanouts: u32,
}

impl DisplayInfo {
    /// Bytes it occupies.
    pub const SIZE: usize = 20 * MAX_SCANOUTS + 4;

    /// Write it at `offset` of `mem`. Caller: the driver, after checking
    /// the range against the client's region.
    pub fn write(&self, mem: &SharedMemory, offset: usize) -> Result<(), OutOfBounds> {
        for (i, s) in self.scanouts.iter().enumerate() {
            let at = offset + 20 * i;
            for (j, v) in [s.rect.x, s.rect.y, s.rect.width, s.rect.height, u32::from(s.enabled)].iter().enumerate() {
                mem.write::<u32>(at + 4 * j, v.to_le())?;
            }
        }
        mem.write::<u32>(offset + 20 * MAX_SCANOUTS, self.num_scanouts.to_le())
    }

    /// Read it from `offset` of `mem`. Caller: a client, once the
    /// response came (the values are the driver's word).
    pub fn read(mem: &SharedMemory, offset: usize) -> Result<DisplayInfo, OutOfBounds> {
        let word = |at: usize| mem.read::<u32>(at).map(u32::from_le).ok_or(OutOfBounds);
        let mut info = DisplayInfo::default();
        for (i, s) in info.scanouts.iter_mut().enumerate() {
            let at = offset + 20 * i;
            s.rect = GpuRect::new(word(at)?, word(at + 4)?, word(at + 8)?, word(at + 12)?);
            // A C bool: only its first byte counts.
            s.enabled = word(at + 16)? & 0xff != 0;
        }
        info.num_scanouts = word(offset + 20 * MAX_SCANOUTS)?;
        Ok(info)
    }
}

/// The events page (`gpu_events_t`): one flag, "the display information
/// changed: ask again". sDDF's is a C bool at byte 0; sevio stores it as
/// the little-endian word at 0 (bytes 1..4 are padding nobody reads).
pub struct GpuEvents;

impl GpuEvents {
    /// Set the flag (release: pairs with [`take`](Self::take)). Caller: driver.
    pub fn set_display_info(mem: &SharedMemory) -> Result<(), QueueError> {
        mem.store_u32(0, 1, Release).map_err(|_| QueueError::OutOfBounds)
    }

    /// Read and clear the flag (acquire). Caller: client.
    pub fn take(mem: &SharedMemory) -> Result<bool, QueueError> {
        let set = mem.load_u32(0, Acquire).ok_or(QueueError::OutOfBounds)? & 0xff != 0;
        if set {
            mem.store_u32(0, 0, Release).map_err(|_| QueueError::OutOfBounds)?;
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn golden_request_bytes_match_sddf() {
        let heap = HeapRegion::new(8 + 2 * GpuRequest::SIZE);
        let mem = heap.memory();
        let mut p = GpuRequestProducer::new(mem, 2).unwrap();
        let rect = GpuRect::new(1, 2, 3, 4);
        p.enqueue(GpuRequest::new(9, GpuCommand::TransferTo2d { resource_id: 5, rect, mem_offset: 0x1_0000_0010 }))
            .unwrap();
        let mut b = [0u8; 56];
        mem.copy_out(8, &mut b).unwrap();
        assert_eq!(&b[..8], &[7, 0, 0, 0, 9, 0, 0, 0], "code TRANSFER_TO_2D, id");
        assert_eq!(&b[8..12], &[5, 0, 0, 0], "resource_id");
        assert_eq!(&b[12..28], &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0], "rect");
        assert_eq!(&b[32..40], &[0x10, 0, 0, 0, 1, 0, 0, 0], "mem_offset, 8-aligned after the rect");
        assert_eq!(mem.read::<u32>(4), Some(1), "tail");
        let mut c = GpuRequestConsumer::new(mem, 2).unwrap();
        let got = c.take().unwrap().unwrap();
        assert_eq!(got.command(), GpuCommand::TransferTo2d { resource_id: 5, rect, mem_offset: 0x1_0000_0010 });
    }

    #[test]
    fn every_command_round_trips() {
        let r = GpuRect::new(7, 8, 9, 10);
        for c in [
            GpuCommand::GetDisplayInfo { mem_offset: u64::MAX },
            GpuCommand::Create2d { resource_id: 1, width: 2, height: 3, format: 4 },
            GpuCommand::AttachBacking { resource_id: 1, mem_offset: 1 << 40, mem_size: 5 },
            GpuCommand::DetachBacking { resource_id: 3 },
            GpuCommand::SetScanout { resource_id: 1, scanout_id: 0, rect: r },
            GpuCommand::Flush { resource_id: 1, rect: r },
            GpuCommand::Unref { resource_id: 4 },
            GpuCommand::UpdateCursor { resource_id: 2, scanout_id: 0, x: 1, y: 2, hot_x: 3, hot_y: 4 },
            GpuCommand::MoveCursor { scanout_id: 0, x: 5, y: 6 },
            GpuCommand::Unsupported(CODE_RESOURCE_CREATE_BLOB),
        ] {
            assert_eq!(GpuRequest::new(1, c).command(), c);
        }
        let attach = GpuRequest::new(0, GpuCommand::AttachBacking { resource_id: 1, mem_offset: 0x20, mem_size: 0x30 });
        assert_eq!(attach.words[..5], [1, 0, 0x20, 0, 0x30], "mem_offset at byte 16, mem_size at 24");
    }

    #[test]
    fn clipping_never_wraps() {
        assert_eq!(GpuRect::new(10, 10, 100, 100).clip(50, 40), Some(GpuRect::new(10, 10, 40, 30)));
        assert_eq!(GpuRect::new(0, 0, u32::MAX, u32::MAX).clip(64, 48), Some(GpuRect::new(0, 0, 64, 48)));
        assert_eq!(GpuRect::new(u32::MAX, 0, 2, 1).clip(64, 48), None);
        assert_eq!(GpuRect::new(64, 0, 1, 1).clip(64, 48), None);
        assert_eq!(GpuRect::new(0, 0, 0, 1).clip(64, 48), None, "empty");
    }

    #[test]
    fn display_info_and_events_round_trip() {
        let heap = HeapRegion::new(0x1000);
        let mem = heap.memory();
        let mut info = DisplayInfo { num_scanouts: 1, ..Default::default() };
        info.scanouts[0] = Scanout { rect: GpuRect::new(0, 0, 1280, 800), enabled: true };
        info.write(&mem, 0x100).unwrap();
        assert_eq!(mem.read::<u32>(0x100 + 8), Some(1280));
        assert_eq!(mem.read::<u8>(0x100 + 16), Some(1), "enabled: a C bool at byte 16 of the scanout");
        assert_eq!(mem.read::<u32>(0x100 + 320), Some(1), "num_scanouts at 320");
        assert_eq!(DisplayInfo::read(&mem, 0x100).unwrap(), info);
        assert!(info.write(&mem, 0x1000 - 100).is_err());
        assert_eq!(GpuEvents::take(&mem), Ok(false));
        GpuEvents::set_display_info(&mem).unwrap();
        assert_eq!(GpuEvents::take(&mem), Ok(true));
        assert_eq!(GpuEvents::take(&mem), Ok(false));
    }
}
