//! Client requests: checked, then turned into virtio-blk chains.
//!
//! Every field of a [`BlkRequest`] comes from the client and is checked
//! here before anything reaches the device (a bad one gets an error
//! response, never a DMA):
//! - the code names READ, WRITE, FLUSH or BARRIER;
//! - READ/WRITE: `count > 0`; `block_number + count <= capacity`; the
//!   data fits the device's segment limits; no WRITE to a read-only
//!   device; and `io_or_offset .. + count * 4096`, an I/O address range
//!   as sDDF's virtualisers name buffers, lies entirely inside one of the
//!   data regions the driver is configured with, which the framework's
//!   [`DataRegions::span`] decides (the one client-range check of every
//!   driver). All arithmetic is checked; an overflow is an invalid
//!   request.
//!
//! A chain is `header (16 B, device-readable) | data segments | status
//! (1 B, device-writable)` (VIRTIO 1.2 §5.2.6), data device-writable for
//! READ and device-readable for WRITE. Header and status live in a
//! per-request slot of the DMA region; data is the checked I/O address
//! itself (the address devices use).

use sevio_driver_core::DataRegions;
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

/// Check `req` against the device and the data regions.
pub fn plan(req: &BlkRequest, limits: &Limits, data: &DataRegions) -> Result<Plan, BlkStatus> {
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
    // Without an IOMMU the device reaches all of RAM: an address outside
    // the data regions is answered here and never reaches it.
    let addr = data.span(req.io_or_offset, len).map_err(|_| invalid)?;
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
    use sevio_sddf::{DeviceRegion, Region};

    const DATA_PADDR: u64 = 0x5000_0000;
    const DATA_SIZE: u64 = 0x20_0000;
    /// A second region right after the first, as a virtualiser's metadata
    /// buffer may lie next to a client's data.
    const META_PADDR: u64 = DATA_PADDR + DATA_SIZE;
    const META_SIZE: u64 = 0x1_0000;
    const LIMITS: Limits =
        Limits { capacity: 1000, read_only: false, flush: true, segment_max: u32::MAX, segments: MAX_SEGMENTS };

    /// A request naming its buffer at `offset` into the data region (an
    /// I/O address, as sDDF's virtualisers send).
    fn req(code: u32, offset: u64, block: u64, count: u16) -> BlkRequest {
        BlkRequest { code, io_or_offset: DATA_PADDR.wrapping_add(offset), block_number: block, count, id: 9 }
    }

    /// The data region at [`DATA_PADDR`] and the metadata region after it.
    fn data_region() -> DataRegions {
        let mut list = DataRegions::new();
        for (io_addr, size) in [(DATA_PADDR, DATA_SIZE), (META_PADDR, META_SIZE)] {
            list.push(DeviceRegion { region: Region { vaddr: 0, size }, io_addr }).unwrap();
        }
        list
    }

    #[test]
    fn good_requests_become_plans() {
        let data = data_region();
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
        let data = data_region();
        let bad = [
            req(4, 0, 0, 1),                       // unknown code
            req(0, 0, 0, 0),                       // no blocks
            req(0, 0, 999, 2),                     // past capacity
            req(0, 0, u64::MAX, 1),                // block overflow
            req(0, 0x20_0000 - 4095, 0, 1),        // across into the next region
            req(0, 0x20_0000 - 4096, 0, 2),        // a whole block in each region
            req(0, 0x21_0000, 0, 1),               // past both regions
            req(0, u64::MAX - DATA_PADDR, 0, 1),   // I/O address 0
            req(0, 0u64.wrapping_sub(4096), 0, 1), // just below the region
            req(1, u64::MAX - 100, 0, 1),          // address overflow
            req(0, 0, 0, u16::MAX),                // more than the region
        ];
        for r in bad {
            assert_eq!(plan(&r, &LIMITS, &data), Err(BlkStatus::InvalidParam), "{r:?}");
        }
        let huge = Limits { capacity: u64::MAX, ..LIMITS };
        assert_eq!(plan(&req(0, 0, u64::MAX - 2, 1), &huge, &data), Err(BlkStatus::InvalidParam), "sector overflow");
        assert_eq!(plan(&req(0, 0, 0, 1), &LIMITS, &DataRegions::new()), Err(BlkStatus::InvalidParam), "no regions");
        let meta = plan(&req(0, DATA_SIZE, 0, 16), &LIMITS, &data);
        assert_eq!(
            meta,
            Ok(Plan::Read { sector: 0, addr: META_PADDR, len: 16 * 4096, count: 16 }),
            "all of the second"
        );
    }

    #[test]
    fn read_only_refuses_writes_only() {
        let data = data_region();
        let ro = Limits { read_only: true, ..LIMITS };
        assert_eq!(plan(&req(1, 0, 0, 1), &ro, &data), Err(BlkStatus::InvalidParam));
        assert!(plan(&req(0, 0, 0, 1), &ro, &data).is_ok());
    }

    #[test]
    fn chains_split_data_at_the_segment_limit() {
        let data = data_region();
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
