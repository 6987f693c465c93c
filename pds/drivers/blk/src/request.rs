//! Client requests: checked, then turned into virtio-blk chains.
//!
//! Every field of a [`BlkRequest`] comes from the client and is checked
//! here before anything reaches the device (a bad one gets an error
//! response, never a DMA):
//! - the code names READ, WRITE, FLUSH or BARRIER;
//! - READ/WRITE: `count > 0`; `block_number + count <= capacity`; the
//!   data fits the device's segment limits; no WRITE to a read-only
//!   device; and `io_or_offset .. + count * 4096` lies inside the
//!   client's data region, which the framework's
//!   [`ClientRegion::span`] decides (the one client-range check of every
//!   driver). All arithmetic is checked; an overflow is an invalid
//!   request.
//!
//! A chain is `header (16 B, device-readable) | data segments | status
//! (1 B, device-writable)` (VIRTIO 1.2 §5.2.6), data device-writable for
//! READ and device-readable for WRITE. Header and status live in a
//! per-request slot of the DMA region; data is the client's region at
//! its physical address plus the checked offset.

use sevio_driver_core::ClientRegion;
use sevio_queue::blk::BLK_TRANSFER_SIZE;
use sevio_queue::{BlkOp, BlkRequest, BlkStatus};
use sevio_virtio::Buffer;
use sevio_virtio::device::blk::{ID_BYTES, SECTOR_SIZE};

/// The most data segments one request is split into.
pub const MAX_SEGMENTS: usize = 8;
/// The longest chain: header, data segments, status.
pub const MAX_CHAIN: usize = MAX_SEGMENTS + 2;
/// Bytes of the request header.
pub const HEADER_BYTES: u32 = 16;

/// What the device takes, from its config space and features.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Capacity in 4096-byte blocks.
    pub capacity: u64,
    /// VIRTIO_BLK_F_RO was negotiated.
    pub read_only: bool,
    /// VIRTIO_BLK_F_FLUSH was negotiated.
    pub flush: bool,
    /// Largest data segment in bytes (`size_max`; `u32::MAX` if none).
    pub segment_max: u32,
    /// Most data segments per request (`seg_max`, capped at
    /// [`MAX_SEGMENTS`]).
    pub segments: usize,
}

/// A checked request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Read `count` blocks from `sector` into `addr..addr + len`.
    Read {
        /// First 512-byte sector.
        sector: u64,
        /// Physical address of the client buffer.
        addr: u64,
        /// Bytes.
        len: u32,
        /// Blocks.
        count: u16,
    },
    /// Write `count` blocks at `sector` from `addr..addr + len`.
    Write {
        /// First 512-byte sector.
        sector: u64,
        /// Physical address of the client buffer.
        addr: u64,
        /// Bytes.
        len: u32,
        /// Blocks.
        count: u16,
    },
    /// Flush the write cache.
    Flush,
    /// Order: everything before completes first.
    Barrier,
}

/// Check `req` against the device and the client's data region (one the
/// device reaches: [`ClientRegion::device_visible`]).
pub fn plan(req: &BlkRequest, limits: &Limits, data: &ClientRegion) -> Result<Plan, BlkStatus> {
    let invalid = BlkStatus::InvalidParam;
    let op = req.op().ok_or(invalid)?;
    let write = match op {
        BlkOp::Flush => return Ok(Plan::Flush),
        BlkOp::Barrier => return Ok(Plan::Barrier),
        BlkOp::Read => false,
        BlkOp::Write => true,
    };
    if req.count == 0 {
        return Err(invalid);
    }
    // A read-only device: refused here as an invalid request (the client
    // was told `read_only` in the storage information), not sent to fail.
    if write && limits.read_only {
        return Err(invalid);
    }
    let end_block = req.block_number.checked_add(u64::from(req.count)).ok_or(invalid)?;
    if end_block > limits.capacity {
        return Err(invalid);
    }
    let len = u64::from(req.count) * BLK_TRANSFER_SIZE as u64;
    let span = data.span(req.io_or_offset, len).map_err(|_| invalid)?;
    // A region the driver only copies to has no device address: nothing
    // of it may go to the device.
    let addr = span.device_addr.ok_or(invalid)?;
    let sector = req.block_number.checked_mul(BLK_TRANSFER_SIZE as u64 / SECTOR_SIZE).ok_or(invalid)?;
    // count <= 65535, so len < 2^28: fits u32.
    let len = u32::try_from(len).map_err(|_| invalid)?;
    if segments_needed(len, limits.segment_max) > limits.segments.min(MAX_SEGMENTS) {
        return Err(invalid);
    }
    let count = req.count;
    Ok(if write { Plan::Write { sector, addr, len, count } } else { Plan::Read { sector, addr, len, count } })
}

fn segments_needed(len: u32, segment_max: u32) -> usize {
    len.div_ceil(segment_max.max(1)) as usize
}

/// The virtio-blk request type and sector of a plan (`Barrier` is sent as
/// a flush).
pub fn header_of(plan: &Plan) -> (u32, u64) {
    use sevio_virtio::device::blk::req;
    match *plan {
        Plan::Read { sector, .. } => (req::IN, sector),
        Plan::Write { sector, .. } => (req::OUT, sector),
        Plan::Flush | Plan::Barrier => (req::FLUSH, 0),
    }
}

/// Fill `out` with the chain for `plan` (header at `header`, status byte
/// at `status`); returns the number of buffers.
pub fn chain(plan: &Plan, limits: &Limits, header: u64, status: u64, out: &mut [Buffer; MAX_CHAIN]) -> usize {
    out[0] = Buffer::readable(header, HEADER_BYTES);
    let mut n = 1;
    let (addr, len, writable) = match *plan {
        Plan::Read { addr, len, .. } => (addr, len, true),
        Plan::Write { addr, len, .. } => (addr, len, false),
        Plan::Flush | Plan::Barrier => (0, 0, false),
    };
    let seg = limits.segment_max.max(1);
    let mut done = 0u32;
    while done < len && n < MAX_CHAIN - 1 {
        let piece = (len - done).min(seg);
        out[n] = Buffer { addr: addr + u64::from(done), len: piece, writable };
        done += piece;
        n += 1;
    }
    out[n] = Buffer::writable(status, 1);
    n + 1
}

/// The chain of a GET_ID request: header, the 20-byte id buffer, status.
pub fn id_chain(header: u64, id: u64, status: u64) -> [Buffer; 3] {
    [Buffer::readable(header, HEADER_BYTES), Buffer::writable(id, ID_BYTES as u32), Buffer::writable(status, 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    const DATA_PADDR: u64 = 0x5000_0000;
    const DATA_SIZE: usize = 0x20_0000;
    const LIMITS: Limits =
        Limits { capacity: 1000, read_only: false, flush: true, segment_max: u32::MAX, segments: MAX_SEGMENTS };

    fn req(code: u32, offset: u64, block: u64, count: u16) -> BlkRequest {
        BlkRequest { code, io_or_offset: offset, block_number: block, count, id: 9 }
    }

    /// The client's data region, as the device sees it at [`DATA_PADDR`]
    /// (the heap region must outlive the `ClientRegion`).
    fn data_region() -> (HeapRegion, ClientRegion) {
        let heap = HeapRegion::new(DATA_SIZE);
        let region = ClientRegion::device_visible(heap.memory(), DATA_PADDR).unwrap();
        (heap, region)
    }

    #[test]
    fn good_requests_become_plans() {
        let (_heap, data) = data_region();
        assert_eq!(
            plan(&req(0, 0x1000, 10, 2), &LIMITS, &data),
            Ok(Plan::Read { sector: 80, addr: 0x5000_1000, len: 8192, count: 2 })
        );
        assert_eq!(
            plan(&req(1, 0x20_0000 - 4096, 999, 1), &LIMITS, &data),
            Ok(Plan::Write { sector: 7992, addr: 0x5020_0000 - 4096, len: 4096, count: 1 }),
            "last block, last page of the region"
        );
        assert_eq!(plan(&req(2, u64::MAX, u64::MAX, 0), &LIMITS, &data), Ok(Plan::Flush), "flush ignores the range");
        assert_eq!(plan(&req(3, 0, 0, 0), &LIMITS, &data), Ok(Plan::Barrier));
    }

    #[test]
    fn bad_requests_are_invalid() {
        let (heap, data) = data_region();
        let bad = [
            req(4, 0, 0, 1),                // unknown code
            req(0, 0, 0, 0),                // no blocks
            req(0, 0, 999, 2),              // past capacity
            req(0, 0, u64::MAX, 1),         // block overflow
            req(0, 0x20_0000 - 4095, 0, 1), // past the data region
            req(0, 0x20_0000, 0, 1),        // at its end
            req(1, u64::MAX - 100, 0, 1),   // offset overflow
            req(0, 0, 0, u16::MAX),         // more than the region
        ];
        for r in bad {
            assert_eq!(plan(&r, &LIMITS, &data), Err(BlkStatus::InvalidParam), "{r:?}");
        }
        let huge = Limits { capacity: u64::MAX, ..LIMITS };
        assert_eq!(plan(&req(0, 0, u64::MAX - 2, 1), &huge, &data), Err(BlkStatus::InvalidParam), "sector overflow");
        // A paddr + offset that would wrap cannot happen: ClientRegion
        // refuses such a region when it is made. A region the device
        // does not reach gives no address, so nothing goes to the device.
        let copied = ClientRegion::driver_only(heap.memory());
        assert_eq!(plan(&req(0, 0, 0, 1), &LIMITS, &copied), Err(BlkStatus::InvalidParam), "no device address");
    }

    #[test]
    fn read_only_refuses_writes_only() {
        let (_heap, data) = data_region();
        let ro = Limits { read_only: true, ..LIMITS };
        assert_eq!(plan(&req(1, 0, 0, 1), &ro, &data), Err(BlkStatus::InvalidParam));
        assert!(plan(&req(0, 0, 0, 1), &ro, &data).is_ok());
    }

    #[test]
    fn chains_split_data_at_the_segment_limit() {
        let (_heap, data) = data_region();
        let small = Limits { segment_max: 4096, segments: 3, ..LIMITS };
        let p = plan(&req(0, 0, 0, 3), &small, &data).unwrap();
        let mut out = [Buffer::readable(0, 0); MAX_CHAIN];
        let n = chain(&p, &small, 0x100, 0x110, &mut out);
        assert_eq!(
            &out[..n],
            [
                Buffer::readable(0x100, 16),
                Buffer::writable(0x5000_0000, 4096),
                Buffer::writable(0x5000_1000, 4096),
                Buffer::writable(0x5000_2000, 4096),
                Buffer::writable(0x110, 1),
            ]
        );
        assert_eq!(plan(&req(0, 0, 0, 4), &small, &data), Err(BlkStatus::InvalidParam), "4 segments > seg_max 3");
        let w = plan(&req(1, 0, 0, 1), &LIMITS, &data).unwrap();
        let n = chain(&w, &LIMITS, 0x100, 0x110, &mut out);
        assert_eq!(
            &out[..n],
            [Buffer::readable(0x100, 16), Buffer::readable(0x5000_0000, 4096), Buffer::writable(0x110, 1)]
        );
        let n = chain(&Plan::Flush, &LIMITS, 0x100, 0x110, &mut out);
        assert_eq!(&out[..n], [Buffer::readable(0x100, 16), Buffer::writable(0x110, 1)]);
    }
}
