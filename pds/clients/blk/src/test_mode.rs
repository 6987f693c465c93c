//! Test mode: write a pattern, read it back, verify, probe, flush.
//!
//! The blocks tested (the *plan*) are `0..head_blocks` and the last
//! `tail_blocks` of the disk (fewer on a small disk). Phases, one after
//! the other, each with up to `depth` requests in flight:
//!
//! 1. *write*: the plan in chunks of 1, 4, 2, 8, 3, 16, 1, 5 blocks, each
//!    block's buffer filled with its [`pattern`](crate::pattern) first;
//! 2. *read*: the plan in chunks of 8, 1, 16, 3, 2, 7, 4 into a second
//!    buffer area filled with a poison byte, each block then checked;
//! 3. *deep*: [`DEEP_REQUESTS`] single-block reads published at once,
//!    more than 64 outstanding (an sDDF virtualiser may have up to the
//!    queue's 128), each checked;
//! 4. *probes*: requests the driver must refuse (an I/O address past
//!    every data region, one whose end wraps, a read straddling the end
//!    of the data region (into the second region when that follows it),
//!    one just below the data, blocks beyond the capacity, an unknown
//!    code), all in flight together;
//! 5. *re-read* of block 1 (the target of the refused writes): unchanged;
//!    and, when there is a second data region, the same block read into
//!    it;
//! 6. *flush*: OK.
//!
//! Read-only device: one WRITE must be refused (ERR_INVALID_PARAM or
//! ERR_IO), then the read phase (reporting how many blocks match the
//! pattern, without requiring it), then the probes; no flush.
//!
//! Buffers: block `i` of the plan uses `i * 4096` in the data region for
//! writes and `(plan length + i) * 4096` for reads; deep read `k` uses
//! `(2 * plan length + k) * 4096`. Requests name them by I/O address
//! (`data_io + offset`).

use crate::client::{Ctx, Platform};
use crate::engine::Completion;
use crate::pattern::{check_block, fill_block};
use crate::{Failure, StatusName};
use sevio_queue::blk::BLK_TRANSFER_SIZE;
use sevio_queue::{BlkOp, BlkRequest, BlkStatus, StorageInfo};
use sevio_sharedmem::SharedMemory;

/// What the test covers.
#[derive(Copy, Clone, Debug)]
pub struct TestConfig {
    /// Pattern seed (see [`crate::pattern`]).
    pub seed: u64,
    /// Blocks tested from the start of the disk.
    pub head_blocks: u64,
    /// Blocks tested at the end of the disk.
    pub tail_blocks: u64,
    /// Most requests in flight (capped at [`crate::MAX_IN_FLIGHT`]).
    pub depth: usize,
    /// Times the whole test runs (writable device), each round writing
    /// the plan with a pattern of its own seed, so a write lost in one
    /// round reads back as the previous round's data.
    pub rounds: u32,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig { seed: crate::DEFAULT_SEED, head_blocks: 64, tail_blocks: 4, depth: 16, rounds: 1 }
    }
}

/// The pattern seed of round `round` (round 0: the configured seed).
pub fn round_seed(seed: u64, round: u32) -> u64 {
    seed ^ u64::from(round).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Byte the read buffers are filled with before a read.
pub const POISON: u8 = 0xa5;

const WRITE_CHUNKS: &[u16] = &[1, 4, 2, 8, 3, 16, 1, 5];
const READ_CHUNKS: &[u16] = &[8, 1, 16, 3, 2, 7, 4];
const UNKNOWN_CODE: u32 = 0x7f;

/// Reads published at once in the deep phase: more than 64 (the old
/// fixed queue size), fewer than the queue's 128.
pub const DEEP_REQUESTS: usize = 100;

/// The blocks under test: two ranges `[start, end)`, the second starting
/// where the first ends at the earliest.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The head and tail ranges.
    pub ranges: [(u64, u64); 2],
}

impl Plan {
    /// The plan for a disk of `capacity` blocks.
    pub fn new(capacity: u64, head: u64, tail: u64) -> Plan {
        let head_end = head.min(capacity);
        let tail_start = capacity.saturating_sub(tail).max(head_end);
        Plan { ranges: [(0, head_end), (tail_start, capacity)] }
    }

    /// Blocks in the plan.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    /// Whether the plan is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The block at plan index `i`, and how many blocks of its range follow
    /// from there (itself included).
    fn locate(&self, i: u64) -> Option<(u64, u64)> {
        let mut i = i;
        for &(s, e) in &self.ranges {
            if i < e - s {
                return Some((s + i, e - s - i));
            }
            i -= e - s;
        }
        None
    }

    /// Every block in the plan.
    pub fn blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(s, e)| s..e)
    }
}

/// Walks the plan in chunks that never cross a range boundary.
#[derive(Copy, Clone, Debug)]
struct Walker {
    next: u64,
    turn: usize,
    chunks: &'static [u16],
}

impl Walker {
    fn new(chunks: &'static [u16]) -> Walker {
        Walker { next: 0, turn: 0, chunks }
    }

    /// (plan index, first block, count).
    fn step(&mut self, plan: &Plan) -> Option<(u64, u64, u16)> {
        let (block, run) = plan.locate(self.next)?;
        let want = self.chunks[self.turn % self.chunks.len()];
        let count = u64::from(want).min(run) as u16;
        let index = self.next;
        self.next += u64::from(count);
        self.turn += 1;
        Some((index, block, count))
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Waiting,
    Write,
    RoWrite,
    Read,
    Deep,
    Probes,
    Reread,
    Flush,
    Done,
}

/// What a single-request phase item must get back.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    InvalidParam,
    Refused,
    AnyError,
}

impl Expect {
    fn accepts(self, status: u32) -> bool {
        let s = BlkStatus::from_u32(status);
        match self {
            Expect::Ok => s == Some(BlkStatus::Ok),
            Expect::InvalidParam => s == Some(BlkStatus::InvalidParam),
            Expect::Refused => matches!(s, Some(BlkStatus::InvalidParam | BlkStatus::Io)),
            Expect::AnyError => matches!(s, Some(st) if st != BlkStatus::Ok),
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Expect::Ok => "OK",
            Expect::InvalidParam => "ERR_INVALID_PARAM",
            Expect::Refused => "ERR_INVALID_PARAM or ERR_IO",
            Expect::AnyError => "an error status",
        }
    }
}

struct Item {
    name: &'static str,
    request: BlkRequest,
    expect: Expect,
}

/// The test-mode run.
pub(crate) struct TestRun {
    cfg: TestConfig,
    plan: Plan,
    read_only: bool,
    capacity: u64,
    phase: Phase,
    walker: Walker,
    next_item: usize,
    exhausted: bool,
    requests: u32,
    max_in_flight: usize,
    matched: u64,
    data_io: u64,
    data_len: usize,
    /// The second data region's I/O address and size.
    meta: Option<(u64, usize)>,
    /// The round running (0-based), and the configured seed.
    round: u32,
    base_seed: u64,
}

impl TestRun {
    pub(crate) fn new(cfg: TestConfig) -> TestRun {
        TestRun {
            cfg,
            plan: Plan::new(0, 0, 0),
            read_only: false,
            capacity: 0,
            phase: Phase::Waiting,
            walker: Walker::new(WRITE_CHUNKS),
            next_item: 0,
            exhausted: false,
            requests: 0,
            max_in_flight: 0,
            matched: 0,
            data_io: 0,
            data_len: 0,
            meta: None,
            round: 0,
            base_seed: cfg.seed,
        }
    }

    fn depth(&self) -> usize {
        match self.phase {
            Phase::Deep => DEEP_REQUESTS,
            _ => self.cfg.depth.clamp(1, crate::MAX_IN_FLIGHT),
        }
    }

    fn deep_offset(&self, k: u64) -> usize {
        (2 * self.plan.len() + k) as usize * BLK_TRANSFER_SIZE
    }

    fn io(&self, offset: usize) -> u64 {
        self.data_io.wrapping_add(offset as u64)
    }

    /// The memory and offset of the buffer at I/O address `io`, if it is
    /// in one of the client's regions.
    fn buffer<P: Platform>(&self, ctx: &Ctx<'_, P>, io: u64) -> Option<(SharedMemory, usize)> {
        let inside = |base: u64, len: usize| io.checked_sub(base).filter(|&o| o < len as u64).map(|o| o as usize);
        if let Some(at) = inside(self.data_io, self.data_len) {
            return Some((*ctx.data, at));
        }
        let (mem, base) = ctx.meta?;
        inside(base, mem.len()).map(|at| (mem, at))
    }

    fn write_offset(&self, index: u64) -> usize {
        index as usize * BLK_TRANSFER_SIZE
    }

    fn read_offset(&self, index: u64) -> usize {
        (self.plan.len() + index) as usize * BLK_TRANSFER_SIZE
    }

    /// The storage information is in: plan the run and check it fits.
    pub(crate) fn begin<P: Platform>(&mut self, info: &StorageInfo, ctx: &mut Ctx<'_, P>) -> Result<(), Failure> {
        if info.capacity == 0 {
            return Err(Failure::TooSmallDevice { needed: 1, capacity: 0 });
        }
        self.capacity = info.capacity;
        self.read_only = info.read_only;
        self.plan = Plan::new(info.capacity, self.cfg.head_blocks, self.cfg.tail_blocks);
        (self.data_io, self.data_len) = (ctx.data_io, ctx.data.len());
        self.meta = ctx.meta.map(|(mem, io)| (io, mem.len()));
        let needed = self.deep_offset(DEEP_REQUESTS as u64);
        if ctx.data.len() < needed.max(2 * BLK_TRANSFER_SIZE) {
            return Err(Failure::DataRegionTooSmall { needed, len: ctx.data.len() });
        }
        let [(h0, h1), (t0, t1)] = self.plan.ranges;
        ctx.platform.print(format_args!(
            "blk-client: pattern seed {:#x} over blocks {h0}..{h1} and {t0}..{t1}, up to {} requests in flight",
            self.cfg.seed,
            self.depth()
        ));
        self.enter(if self.read_only { Phase::RoWrite } else { Phase::Write });
        Ok(())
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.walker = Walker::new(if phase == Phase::Write { WRITE_CHUNKS } else { READ_CHUNKS });
        self.next_item = 0;
        self.exhausted = false;
        self.requests = 0;
        self.max_in_flight = 0;
    }

    /// Submit what the current phase still has, moving on through finished
    /// phases. `Ok(true)` when the whole test is done.
    pub(crate) fn advance<P: Platform>(&mut self, _info: &StorageInfo, ctx: &mut Ctx<'_, P>) -> Result<bool, Failure> {
        loop {
            match self.phase {
                Phase::Waiting => return Ok(false),
                Phase::Done => return Ok(true),
                _ => {}
            }
            while !self.exhausted {
                let Some(slot) = ctx.engine.free_slot(self.depth()) else { break };
                match self.next_request(ctx)? {
                    Some((request, tag)) => {
                        ctx.engine.submit(slot, request, tag).map_err(Failure::Engine)?;
                        self.requests += 1;
                    }
                    None => self.exhausted = true,
                }
            }
            self.max_in_flight = self.max_in_flight.max(ctx.engine.in_flight());
            if !(self.exhausted && ctx.engine.in_flight() == 0) {
                return Ok(false);
            }
            self.finish_phase(ctx);
        }
    }

    fn next_request<P: Platform>(&mut self, ctx: &mut Ctx<'_, P>) -> Result<Option<(BlkRequest, u32)>, Failure> {
        if matches!(self.phase, Phase::Write | Phase::Read) {
            let Some((index, block, count)) = self.walker.step(&self.plan) else { return Ok(None) };
            let write = self.phase == Phase::Write;
            let offset = if write { self.write_offset(index) } else { self.read_offset(index) };
            for k in 0..u64::from(count) {
                let at = offset + k as usize * BLK_TRANSFER_SIZE;
                let filled = if write {
                    fill_block(ctx.data, at, self.cfg.seed, block + k)
                } else {
                    ctx.data.fill(at, BLK_TRANSFER_SIZE, POISON)
                };
                filled.map_err(|_| Failure::Buffer { offset: at })?;
            }
            let code = if write { BlkOp::Write } else { BlkOp::Read } as u32;
            let request = BlkRequest { code, io_or_offset: self.io(offset), block_number: block, count, id: 0 };
            return Ok(Some((request, index as u32)));
        }
        if self.phase == Phase::Deep {
            let k = self.next_item as u64;
            let Some(block) = self.deep_block(k) else { return Ok(None) };
            self.next_item += 1;
            let at = self.deep_offset(k);
            ctx.data.fill(at, BLK_TRANSFER_SIZE, POISON).map_err(|_| Failure::Buffer { offset: at })?;
            let request = BlkRequest {
                code: BlkOp::Read as u32,
                io_or_offset: self.io(at),
                block_number: block,
                count: 1,
                id: 0,
            };
            return Ok(Some((request, k as u32)));
        }
        let i = self.next_item;
        let Some(item) = self.item(i) else { return Ok(None) };
        self.next_item += 1;
        if item.request.code == BlkOp::Read as u32 && item.expect == Expect::Ok {
            let io = item.request.io_or_offset;
            let (mem, at) = self.buffer(ctx, io).ok_or(Failure::Buffer { offset: io as usize })?;
            mem.fill(at, BLK_TRANSFER_SIZE, POISON).map_err(|_| Failure::Buffer { offset: at })?;
        }
        if self.phase == Phase::RoWrite {
            let at = self.write_offset(0);
            fill_block(ctx.data, at, self.cfg.seed, 0).map_err(|_| Failure::Buffer { offset: at })?;
        }
        Ok(Some((item.request, i as u32)))
    }

    /// The block the probes aim their writes at (re-read afterwards), and
    /// its plan index.
    fn victim(&self) -> (u64, u64) {
        let index = if self.plan.len() > 1 { 1 } else { 0 };
        (index, self.plan.locate(index).map_or(0, |(b, _)| b))
    }

    /// The block deep read `k` reads (cycling through the plan), if
    /// `k` is one.
    fn deep_block(&self, k: u64) -> Option<u64> {
        if k >= DEEP_REQUESTS as u64 || self.plan.is_empty() {
            return None;
        }
        self.plan.locate(k % self.plan.len()).map(|(b, _)| b)
    }

    /// Item `i` of a single-request phase.
    fn item(&self, i: usize) -> Option<Item> {
        let (vi, victim) = self.victim();
        let read_buf = self.io(self.read_offset(vi));
        let unit = BLK_TRANSFER_SIZE as u64;
        let data_end = self.io(self.data_len);
        let (lowest, highest_end, after_data) = match self.meta {
            Some((io, len)) => (io.min(self.data_io), io.wrapping_add(len as u64).max(data_end), io == data_end),
            None => (self.data_io, data_end, false),
        };
        let straddle = if after_data {
            "READ straddling the data region and the second region after it"
        } else {
            "READ straddling the end of the data region"
        };
        let req = |code: u32, io_or_offset: u64, block_number: u64, count: u16| BlkRequest {
            code,
            io_or_offset,
            block_number,
            count,
            id: 0,
        };
        let (read, write) = (BlkOp::Read as u32, BlkOp::Write as u32);
        // On a read-only device a refused write may be refused for either reason.
        let bad_write = if self.read_only { Expect::Refused } else { Expect::InvalidParam };
        let item = |name, request, expect| Some(Item { name, request, expect });
        match (self.phase, i) {
            (Phase::RoWrite, 0) => {
                item("WRITE to a read-only device", req(write, self.io(self.write_offset(0)), 0, 1), Expect::Refused)
            }
            (Phase::Probes, 0) => {
                item("WRITE from an I/O address past every data region", req(write, highest_end, victim, 1), bad_write)
            }
            (Phase::Probes, 1) => item(
                "WRITE whose I/O address + length wraps around",
                req(write, u64::MAX - (unit - 1), victim, 2),
                bad_write,
            ),
            (Phase::Probes, 2) => {
                item(straddle, req(read, data_end.wrapping_sub(unit), victim, 2), Expect::InvalidParam)
            }
            (Phase::Probes, 3) => item(
                "READ just below the data regions",
                req(read, lowest.wrapping_sub(unit), victim, 1),
                Expect::InvalidParam,
            ),
            (Phase::Probes, 4) => {
                item("READ at block_number = capacity", req(read, read_buf, self.capacity, 1), Expect::AnyError)
            }
            (Phase::Probes, 5) => {
                item("READ straddling the end of the disk", req(read, read_buf, self.capacity - 1, 2), Expect::AnyError)
            }
            (Phase::Probes, 6) => {
                item("request with unknown code 0x7f", req(UNKNOWN_CODE, read_buf, victim, 1), Expect::AnyError)
            }
            (Phase::Reread, 0) => {
                item("re-read of the probes' target block", req(read, read_buf, victim, 1), Expect::Ok)
            }
            (Phase::Reread, 1) => {
                let (meta_io, _) = self.meta?;
                item("READ into the second data region", req(read, meta_io, victim, 1), Expect::Ok)
            }
            (Phase::Flush, 0) => item("FLUSH", req(BlkOp::Flush as u32, 0, 0, 0), Expect::Ok),
            _ => None,
        }
    }

    /// Check one response.
    pub(crate) fn complete<P: Platform>(
        &mut self,
        c: Completion,
        _info: &StorageInfo,
        ctx: &mut Ctx<'_, P>,
    ) -> Result<(), Failure> {
        let r = c.request;
        if matches!(self.phase, Phase::Write | Phase::Read) {
            c.check_transfer()?;
            if self.phase == Phase::Read {
                self.check_read(ctx, u64::from(c.tag), r.block_number, r.count)?;
            }
            return Ok(());
        }
        if self.phase == Phase::Deep {
            c.check_transfer()?;
            let data = *ctx.data;
            return self.check_at(&data, self.deep_offset(u64::from(c.tag)), r.block_number);
        }
        let Some(item) = self.item(c.tag as usize) else {
            return Err(Failure::Engine(crate::EngineError::BadSlot(c.slot)));
        };
        if self.phase == Phase::RoWrite && c.is_ok() {
            return Err(Failure::ReadOnlyWriteAccepted { block: r.block_number });
        }
        if !item.expect.accepts(c.status) {
            if item.expect == Expect::Ok {
                return Err(Failure::Request { code: r.code, block: r.block_number, count: r.count, status: c.status });
            }
            return Err(Failure::Probe { probe: item.name, status: c.status, want: item.expect.describe() });
        }
        if self.phase == Phase::RoWrite {
            ctx.platform.print(format_args!("blk-client: read-only device refused a WRITE: {}", StatusName(c.status)));
        }
        if self.phase == Phase::Reread {
            c.check_transfer()?;
            let (mem, at) = self.buffer(ctx, item.request.io_or_offset).ok_or(Failure::Buffer { offset: 0 })?;
            self.check_at(&mem, at, r.block_number)?;
        }
        Ok(())
    }

    /// Verify `count` blocks read into the read buffers of plan index
    /// `index` onwards (on a read-only device: count the matches).
    fn check_read<P: Platform>(
        &mut self,
        ctx: &mut Ctx<'_, P>,
        index: u64,
        block: u64,
        count: u16,
    ) -> Result<(), Failure> {
        let data = *ctx.data;
        for k in 0..u64::from(count) {
            self.check_at(&data, self.read_offset(index + k), block + k)?;
        }
        Ok(())
    }

    /// Verify one block read into `mem` at `at` (on a read-only device:
    /// count the matches).
    fn check_at(&mut self, mem: &SharedMemory, at: usize, block: u64) -> Result<(), Failure> {
        match check_block(mem, at, self.cfg.seed, block, self.plan.blocks()) {
            Ok(()) => self.matched += 1,
            Err(m) if m.unreadable => return Err(Failure::Buffer { offset: at }),
            Err(_) if self.read_only => {}
            Err(mismatch) => return Err(Failure::Mismatch { block, mismatch }),
        }
        Ok(())
    }

    fn finish_phase<P: Platform>(&mut self, ctx: &mut Ctx<'_, P>) {
        let (n, reqs, most) = (self.plan.len(), self.requests, self.max_in_flight);
        let p = &mut *ctx.platform;
        let next = match self.phase {
            Phase::Write => {
                p.print(format_args!("blk-client: wrote {n} blocks in {reqs} requests, up to {most} in flight"));
                Phase::Read
            }
            Phase::RoWrite => Phase::Read,
            Phase::Read if self.read_only => {
                p.print(format_args!(
                    "blk-client: read-only device: read {n} blocks in {reqs} requests; {} of them match the pattern (seed {:#x})",
                    self.matched, self.cfg.seed
                ));
                Phase::Deep
            }
            Phase::Read => {
                p.print(format_args!(
                    "blk-client: read back and verified {n} blocks in {reqs} requests, up to {most} in flight"
                ));
                Phase::Deep
            }
            Phase::Deep => {
                let checked = if self.read_only { "done" } else { "all verified" };
                p.print(format_args!(
                    "blk-client: {reqs} reads outstanding at once (up to {most} in flight), {checked}"
                ));
                Phase::Probes
            }
            Phase::Probes => {
                p.print(format_args!("blk-client: {reqs} bad requests refused as expected"));
                if self.read_only { Phase::Done } else { Phase::Reread }
            }
            Phase::Reread => {
                p.print(format_args!("blk-client: block {} unchanged after the refused writes", self.victim().1));
                if self.meta.is_some() {
                    p.print(format_args!("blk-client: read into the second data region verified"));
                }
                Phase::Flush
            }
            Phase::Flush => {
                p.print(format_args!("blk-client: flush ok"));
                if self.round + 1 < self.cfg.rounds {
                    self.round += 1;
                    self.cfg.seed = round_seed(self.base_seed, self.round);
                    p.print(format_args!(
                        "blk-client: round {} of {}: pattern seed {:#x}",
                        self.round + 1,
                        self.cfg.rounds,
                        self.cfg.seed
                    ));
                    Phase::Write
                } else {
                    Phase::Done
                }
            }
            Phase::Waiting | Phase::Done => self.phase,
        };
        self.enter(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_head_and_tail_without_overlap() {
        assert_eq!(Plan::new(1000, 64, 4).ranges, [(0, 64), (996, 1000)]);
        assert_eq!(Plan::new(66, 64, 4).ranges, [(0, 64), (64, 66)]);
        assert_eq!(Plan::new(10, 64, 4).ranges, [(0, 10), (10, 10)]);
        assert_eq!(Plan::new(1000, 64, 4).len(), 68);
    }

    #[test]
    fn walker_chunks_stay_inside_ranges_and_cover_the_plan() {
        let plan = Plan::new(1000, 64, 4);
        let mut w = Walker::new(WRITE_CHUNKS);
        let mut covered = std::vec::Vec::new();
        let mut multi = 0;
        while let Some((index, block, count)) = w.step(&plan) {
            assert_eq!(plan.locate(index).unwrap().0, block);
            multi += usize::from(count > 1);
            covered.extend(block..block + u64::from(count));
        }
        assert_eq!(covered, plan.blocks().collect::<std::vec::Vec<_>>());
        assert!(multi > 3);
    }
}
