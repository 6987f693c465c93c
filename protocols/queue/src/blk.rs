//! sDDF block queues: requests (client -> driver), responses (driver ->
//! client) and the storage information page.
//!
//! Layout (bytes; sDDF `include/sddf/blk/queue.h`, `storage_info.h`):
//! - request `{code u32 @0, io_or_offset u64 @8, block_number u64 @16,
//!   count u16 @24, id u32 @28}` = 32 B;
//! - response `{status u32 @0, success_count u16 @4, id u32 @8}` = 12 B;
//! - request queue header `{head u32 @0, tail u32 @4, plugged bool @8}`,
//!   entries at 16; response queue header `{head u32 @0, tail u32 @4}`,
//!   entries at 8. Note: head before tail (net is the other way round).
//! - There is no suppression flag: the producer notifies after every batch.
//!
//! Offsets and counts are in units of [`BLK_TRANSFER_SIZE`]. The request's
//! fields come from the client: the driver checks them (code, the range
//! `io_or_offset..+count*4096` against its data region) before use.

use crate::QueueError;
use crate::mem::{QueueMemory, RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use core::sync::atomic::Ordering::{Acquire, Release};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// The unit of blk transfers (sDDF `BLK_TRANSFER_SIZE`).
pub const BLK_TRANSFER_SIZE: usize = 4096;

/// A block request as laid out in the request queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlkRequest {
    /// Raw operation code; see [`BlkOp`] (unchecked: client-supplied).
    pub code: u32,
    /// Offset into the client data region (or IO address), in bytes.
    pub io_or_offset: u64,
    /// First block, in `BLK_TRANSFER_SIZE` units.
    pub block_number: u64,
    /// Number of blocks.
    pub count: u16,
    /// Request id, echoed in the response.
    pub id: u32,
}

/// The operations a [`BlkRequest::code`] may name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BlkOp {
    /// Read blocks into the client's buffer.
    Read = 0,
    /// Write blocks from the client's buffer.
    Write = 1,
    /// Flush the device's write cache.
    Flush = 2,
    /// Order: earlier requests complete before later ones start.
    Barrier = 3,
}

impl BlkOp {
    /// The op named by a raw code, if any.
    pub fn from_code(code: u32) -> Option<BlkOp> {
        Some(match code {
            0 => BlkOp::Read,
            1 => BlkOp::Write,
            2 => BlkOp::Flush,
            3 => BlkOp::Barrier,
            _ => return None,
        })
    }
}

impl BlkRequest {
    /// Size in the entry array.
    pub const SIZE: usize = 32;

    /// The operation, or `None` for an unknown code (answer
    /// [`BlkStatus::InvalidParam`]).
    pub fn op(&self) -> Option<BlkOp> {
        BlkOp::from_code(self.code)
    }
}

impl Entry for BlkRequest {
    const SIZE: usize = 32;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        Some(BlkRequest {
            code: r.read_u32(0)?,
            io_or_offset: r.read_u64(8)?,
            block_number: r.read_u64(16)?,
            count: r.read_u16(24)?,
            id: r.read_u32(28)?,
        })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.code)?;
        r.write_u64(8, self.io_or_offset)?;
        r.write_u64(16, self.block_number)?;
        r.write_u16(24, self.count)?;
        r.write_u32(28, self.id)
    }
}

/// Response status codes (sDDF `blk_resp_status_t`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BlkStatus {
    /// Success.
    Ok = 0,
    /// Unspecified error.
    ErrUnspec = 1,
    /// A request field was invalid (code, range, offset).
    InvalidParam = 2,
    /// The device reported an I/O error.
    Io = 3,
    /// No device (not bound, or gone).
    NoDevice = 4,
}

impl BlkStatus {
    /// The status named by a raw value, if any.
    pub fn from_u32(v: u32) -> Option<BlkStatus> {
        Some(match v {
            0 => BlkStatus::Ok,
            1 => BlkStatus::ErrUnspec,
            2 => BlkStatus::InvalidParam,
            3 => BlkStatus::Io,
            4 => BlkStatus::NoDevice,
            _ => return None,
        })
    }
}

/// A block response as laid out in the response queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlkResponse {
    /// Raw status; see [`BlkStatus`].
    pub status: u32,
    /// Blocks transferred successfully.
    pub success_count: u16,
    /// The id of the request this answers.
    pub id: u32,
}

impl BlkResponse {
    /// Size in the entry array.
    pub const SIZE: usize = 12;

    /// A response with a typed status.
    pub fn new(status: BlkStatus, success_count: u16, id: u32) -> Self {
        BlkResponse { status: status as u32, success_count, id }
    }
}

impl Entry for BlkResponse {
    const SIZE: usize = 12;
    #[inline]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        Some(BlkResponse { status: r.read_u32(0)?, success_count: r.read_u16(4)?, id: r.read_u32(8)? })
    }
    #[inline]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u32(0, self.status)?;
        r.write_u16(4, self.success_count)?;
        r.write_u32(8, self.id)
    }
}

/// Layout of the request queue (`blk_req_queue_t`).
#[derive(Debug)]
pub struct BlkRequestQueue;
impl QueueKind for BlkRequestQueue {
    type Index = u32;
    type Entry = BlkRequest;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 16;
    const SLACK: u32 = 0;
}
impl InlineKind for BlkRequestQueue {}

/// Layout of the response queue (`blk_resp_queue_t`).
#[derive(Debug)]
pub struct BlkResponseQueue;
impl QueueKind for BlkResponseQueue {
    type Index = u32;
    type Entry = BlkResponse;
    const HEAD: usize = 0;
    const TAIL: usize = 4;
    const HEADER_SIZE: usize = 8;
    const SLACK: u32 = 0;
}
impl InlineKind for BlkResponseQueue {}

/// Byte offset of `plugged` in the request queue header.
pub const PLUGGED_OFFSET: usize = 8;

/// Client side of the request queue.
pub type BlkRequestProducer<M = SharedMemory> = Producer<BlkRequestQueue, M>;
/// Driver side of the request queue.
pub type BlkRequestConsumer<M = SharedMemory> = Consumer<BlkRequestQueue, M>;
/// Driver side of the response queue.
pub type BlkResponseProducer<M = SharedMemory> = Producer<BlkResponseQueue, M>;
/// Client side of the response queue.
pub type BlkResponseConsumer<M = SharedMemory> = Consumer<BlkResponseQueue, M>;

impl<M: QueueMemory> Producer<BlkRequestQueue, M> {
    /// Ask the consumer to hold off processing (sDDF `blk_queue_plug_req`).
    /// Caller: producer (client). Plain store; advisory only.
    pub fn plug(&self) -> Result<(), QueueError> {
        self.header().write_u8(PLUGGED_OFFSET, 1).map_err(|_| QueueError::OutOfBounds)
    }
    /// Clear the plug. Caller: producer (client).
    pub fn unplug(&self) -> Result<(), QueueError> {
        self.header().write_u8(PLUGGED_OFFSET, 0).map_err(|_| QueueError::OutOfBounds)
    }
}

impl<M: QueueMemory> Consumer<BlkRequestQueue, M> {
    /// Whether the client has plugged the queue. Caller: consumer
    /// (driver). Any non-zero byte counts as plugged.
    pub fn plugged(&self) -> bool {
        self.header().read_u8(PLUGGED_OFFSET).is_some_and(|b| b != 0)
    }
}

/// Size of the storage information page's defined part.
pub const STORAGE_INFO_SIZE: usize = 88;
/// Length of the serial number field.
pub const STORAGE_SERIAL_LEN: usize = 64;

/// Storage information (`blk_storage_info_t`), written by the driver,
/// read by clients. Layout: `serial[64] @0, read_only @64, ready @65,
/// sector_size u16 @66, block_size u16 @68, queue_depth u16 @70,
/// cylinders u16 @72, heads u16 @74, blocks u16 @76, capacity u64 @80`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StorageInfo {
    /// Device serial number, NUL-padded.
    pub serial: [u8; STORAGE_SERIAL_LEN],
    /// Writes will fail.
    pub read_only: bool,
    /// Device sector size in bytes.
    pub sector_size: u16,
    /// Optimal block size, in `BLK_TRANSFER_SIZE` units.
    pub block_size: u16,
    /// How many requests the driver handles at once.
    pub queue_depth: u16,
    /// Geometry: cylinders.
    pub cylinders: u16,
    /// Geometry: heads.
    pub heads: u16,
    /// Geometry: blocks.
    pub blocks: u16,
    /// Capacity in `BLK_TRANSFER_SIZE` units.
    pub capacity: u64,
}

impl Default for StorageInfo {
    fn default() -> Self {
        StorageInfo {
            serial: [0; STORAGE_SERIAL_LEN],
            read_only: false,
            sector_size: 0,
            block_size: 0,
            queue_depth: 0,
            cylinders: 0,
            heads: 0,
            blocks: 0,
            capacity: 0,
        }
    }
}

// read_only, ready and sector_size share the aligned word at 64, all
// written by the driver, so `ready` is set with one release store of that
// word and read with one acquire load (byte 65 of it, little-endian).
const FLAGS_WORD: usize = 64;

impl StorageInfo {
    /// Write every field, then set `ready` (release store; pairs with the
    /// acquire in [`StorageInfo::read`]). Caller: the driver, once the
    /// device is up.
    pub fn publish<M: QueueMemory>(&self, mem: &M) -> Result<(), QueueError> {
        self.write_fields(mem).map_err(|_| QueueError::OutOfBounds)?;
        let word = u32::from(self.read_only) | 1 << 8 | u32::from(self.sector_size) << 16;
        mem.store_u32(FLAGS_WORD, word, Release).map_err(|_| QueueError::OutOfBounds)
    }

    fn write_fields<M: QueueMemory>(&self, mem: &M) -> Result<(), OutOfBounds> {
        if mem.len() < STORAGE_INFO_SIZE {
            return Err(OutOfBounds);
        }
        for (i, chunk) in self.serial.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            mem.write_u64(i * 8, u64::from_le_bytes(w))?;
        }
        mem.write_u16(68, self.block_size)?;
        mem.write_u16(70, self.queue_depth)?;
        mem.write_u16(72, self.cylinders)?;
        mem.write_u16(74, self.heads)?;
        mem.write_u16(76, self.blocks)?;
        mem.write_u64(80, self.capacity)
    }

    /// Clear `ready` (release), e.g. before a device reset. Caller: driver.
    pub fn retract<M: QueueMemory>(mem: &M) -> Result<(), QueueError> {
        mem.store_u32(FLAGS_WORD, 0, Release).map_err(|_| QueueError::OutOfBounds)
    }

    /// The information, once `ready` is set (acquire load; pairs with the
    /// release in [`StorageInfo::publish`]); `Ok(None)` before that.
    /// Caller: a client. Values are the driver's word: a client still
    /// bounds its own requests.
    pub fn read<M: QueueMemory>(mem: &M) -> Result<Option<StorageInfo>, QueueError> {
        if mem.len() < STORAGE_INFO_SIZE {
            return Err(QueueError::RegionTooSmall { needed: STORAGE_INFO_SIZE, len: mem.len() });
        }
        let word = mem.load_u32(FLAGS_WORD, Acquire).ok_or(QueueError::OutOfBounds)?;
        if (word >> 8) & 0xff == 0 {
            return Ok(None);
        }
        let rd = |off| mem.read_u16(off).ok_or(QueueError::OutOfBounds);
        let mut serial = [0u8; STORAGE_SERIAL_LEN];
        for (i, chunk) in serial.chunks_exact_mut(8).enumerate() {
            let w = mem.read_u64(i * 8).ok_or(QueueError::OutOfBounds)?;
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        Ok(Some(StorageInfo {
            serial,
            read_only: word & 0xff != 0,
            sector_size: (word >> 16) as u16,
            block_size: rd(68)?,
            queue_depth: rd(70)?,
            cylinders: rd(72)?,
            heads: rd(74)?,
            blocks: rd(76)?,
            capacity: mem.read_u64(80).ok_or(QueueError::OutOfBounds)?,
        }))
    }
}
