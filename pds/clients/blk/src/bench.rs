//! Bench mode: throughput and signalling cost at two queue depths.
//!
//! Phases, in order: at queue depth 1, then at the deep depth (32):
//! 4 KiB random reads (xorshift64 over the whole disk), sequential reads,
//! sequential writes (skipped on a read-only device), each of a fixed
//! number of requests. Sequential requests are `seq_blocks` transfer units
//! (16 = 64 KiB by default: 32 of them fill the 2 MiB data region) and
//! wrap to block 0 at the end of the disk. Each request in flight has its
//! own buffer (slot `s` uses `s * seq_blocks * 4096`).
//!
//! Refill policy (fio's `iodepth_low`): the client tops the queue up to
//! the depth only when at most `depth / 2` requests are in flight, so it
//! notifies the driver at most once per `depth / 2` requests; at depth 1
//! it refills after every completion.
//!
//! Output, per phase: `BENCH blk_qd<d>_randread_4k_iops <v> IOPS`,
//! `BENCH blk_qd<d>_seqread_<k>k_mbps <v> MB/s`,
//! `BENCH blk_qd<d>_seqwrite_<k>k_mbps <v> MB/s` (MB = 10^6 bytes), and
//! after each `BENCH blk_qd<d>_<phase>_median_latency_us <v> us`: the
//! median time from submitting a request (staging it, before the driver
//! is notified) to seeing its response, from the runtime's clock, within
//! 1/32 ([`LatencyHistogram`]); per depth, when the platform counts them,
//! `BENCH blk_qd<d>_notifications_per_request <v> count` and
//! `BENCH blk_qd<d>_irqs_per_request <v> count` (system-wide counts over
//! that depth's phases divided by its completed requests).

use crate::Failure;
use crate::client::{Ctx, Platform};
use crate::engine::Completion;
use crate::latency::LatencyHistogram;
use crate::text::Fixed;
use sevio_queue::blk::BLK_TRANSFER_SIZE;
use sevio_queue::{BlkOp, BlkRequest, StorageInfo};

/// What the benchmark runs.
#[derive(Copy, Clone, Debug)]
pub struct BenchConfig {
    /// Requests per phase at queue depth 1.
    pub qd1_requests: u32,
    /// Requests per phase at the deep queue depth.
    pub deep_requests: u32,
    /// The deep queue depth (capped at [`crate::MAX_IN_FLIGHT`]).
    pub deep_depth: usize,
    /// Transfer units per sequential request.
    pub seq_blocks: u16,
    /// Seed of the random block sequence (non-zero).
    pub seed: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            qd1_requests: 300,
            deep_requests: 3000,
            deep_depth: 32,
            seq_blocks: 16,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    RandRead,
    SeqRead,
    SeqWrite,
}

/// The phases: (kind, at the deep depth).
const PHASES: [(Kind, bool); 6] = [
    (Kind::RandRead, false),
    (Kind::SeqRead, false),
    (Kind::SeqWrite, false),
    (Kind::RandRead, true),
    (Kind::SeqRead, true),
    (Kind::SeqWrite, true),
];

/// Counts accumulated over one depth's phases.
#[derive(Copy, Clone, Debug, Default)]
struct Group {
    requests: u64,
    signals: Option<(u64, u64)>,
}

/// The bench-mode run.
pub(crate) struct BenchRun {
    cfg: BenchConfig,
    capacity: u64,
    read_only: bool,
    phase: usize,
    started: bool,
    issued: u32,
    done: u32,
    t0: u64,
    counters0: Option<(u64, u64)>,
    next_block: u64,
    rng: u64,
    group: Group,
    latencies: LatencyHistogram,
}

impl BenchRun {
    pub(crate) fn new(cfg: BenchConfig) -> BenchRun {
        BenchRun {
            cfg,
            capacity: 0,
            read_only: false,
            phase: PHASES.len(),
            started: false,
            issued: 0,
            done: 0,
            t0: 0,
            counters0: None,
            next_block: 0,
            rng: cfg.seed | 1,
            group: Group::default(),
            latencies: LatencyHistogram::default(),
        }
    }

    fn deep(&self) -> usize {
        self.cfg.deep_depth.clamp(1, crate::MAX_IN_FLIGHT)
    }

    fn seq_bytes(&self) -> usize {
        usize::from(self.cfg.seq_blocks) * BLK_TRANSFER_SIZE
    }

    pub(crate) fn begin<P: Platform>(&mut self, info: &StorageInfo, ctx: &mut Ctx<'_, P>) -> Result<(), Failure> {
        let needed_blocks = u64::from(self.cfg.seq_blocks.max(1));
        if info.capacity < needed_blocks {
            return Err(Failure::TooSmallDevice { needed: needed_blocks, capacity: info.capacity });
        }
        let needed = self.deep() * self.seq_bytes().max(BLK_TRANSFER_SIZE);
        if ctx.data.len() < needed {
            return Err(Failure::DataRegionTooSmall { needed, len: ctx.data.len() });
        }
        self.capacity = info.capacity;
        self.read_only = info.read_only;
        ctx.data.fill(0, needed, 0x5a).map_err(|_| Failure::Buffer { offset: 0 })?;
        ctx.platform.print(format_args!(
            "blk-bench: {} requests per phase at qd1, {} at qd{}; 4 KiB random reads, {} KiB sequential; refill at <= depth/2 in flight",
            self.cfg.qd1_requests,
            self.cfg.deep_requests,
            self.deep(),
            self.seq_bytes() / 1024
        ));
        if self.read_only {
            ctx.platform.print(format_args!("blk-bench: read-only device: write phases skipped"));
        }
        self.phase = 0;
        Ok(())
    }

    fn random_block(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        ((u128::from(x) * u128::from(self.capacity)) >> 64) as u64
    }

    fn request(&mut self, kind: Kind, slot: usize, data_io: u64) -> BlkRequest {
        let (code, block, count, unit) = match kind {
            Kind::RandRead => (BlkOp::Read, self.random_block(), 1, BLK_TRANSFER_SIZE),
            Kind::SeqRead | Kind::SeqWrite => {
                let count = self.cfg.seq_blocks;
                if self.next_block + u64::from(count) > self.capacity {
                    self.next_block = 0;
                }
                let block = self.next_block;
                self.next_block += u64::from(count);
                let op = if kind == Kind::SeqRead { BlkOp::Read } else { BlkOp::Write };
                (op, block, count, self.seq_bytes())
            }
        };
        let io_or_offset = data_io.wrapping_add((slot * unit) as u64);
        BlkRequest { code: code as u32, io_or_offset, block_number: block, count, id: 0 }
    }

    pub(crate) fn advance<P: Platform>(&mut self, _info: &StorageInfo, ctx: &mut Ctx<'_, P>) -> Result<bool, Failure> {
        loop {
            let Some(&(kind, deep)) = PHASES.get(self.phase) else { return Ok(true) };
            let (depth, total) = if deep { (self.deep(), self.cfg.deep_requests) } else { (1, self.cfg.qd1_requests) };
            if kind == Kind::SeqWrite && self.read_only || total == 0 {
                self.leave_phase(ctx);
                continue;
            }
            if !self.started {
                self.started = true;
                self.next_block = 0;
                self.t0 = ctx.platform.now_ns();
                self.counters0 = ctx.platform.system_counters();
            }
            if ctx.engine.in_flight() <= depth / 2 {
                // The tag carries the submission time's low 32 bits:
                // latencies up to 4.29 s come back exact (wrapping_sub).
                let submitted = ctx.platform.now_ns() as u32;
                while self.issued < total {
                    let Some(slot) = ctx.engine.free_slot(depth) else { break };
                    let request = self.request(kind, slot, ctx.data_io);
                    ctx.engine.submit(slot, request, submitted).map_err(Failure::Engine)?;
                    self.issued += 1;
                }
            }
            if self.done < total {
                return Ok(false);
            }
            self.report(kind, depth, ctx);
            self.leave_phase(ctx);
        }
    }

    pub(crate) fn complete<P: Platform>(&mut self, c: Completion, ctx: &mut Ctx<'_, P>) -> Result<(), Failure> {
        c.check_transfer()?;
        let now = ctx.platform.now_ns() as u32;
        self.latencies.record(u64::from(now.wrapping_sub(c.tag)));
        self.done += 1;
        Ok(())
    }

    fn report<P: Platform>(&mut self, kind: Kind, depth: usize, ctx: &mut Ctx<'_, P>) {
        let p = &mut *ctx.platform;
        let elapsed = p.now_ns().saturating_sub(self.t0).max(1);
        let counters = p.system_counters();
        let n = u128::from(self.done);
        let name = match kind {
            Kind::RandRead => "randread",
            Kind::SeqRead => "seqread",
            Kind::SeqWrite => "seqwrite",
        };
        p.print(format_args!(
            "blk-bench: qd{depth} {name}: {} requests in {} ms, {} us per request",
            self.done,
            Fixed::ratio(u128::from(elapsed), 1_000_000, 1),
            Fixed::ratio(u128::from(elapsed), n * 1000, 1),
        ));
        if kind == Kind::RandRead {
            let iops = Fixed::ratio(n * 1_000_000_000, u128::from(elapsed), 0);
            p.print(format_args!("BENCH blk_qd{depth}_{name}_4k_iops {iops} IOPS"));
        } else {
            let bytes = n * self.seq_bytes() as u128;
            let mbps = Fixed::ratio(bytes * 1000, u128::from(elapsed), 1);
            let kib = self.seq_bytes() / 1024;
            p.print(format_args!("BENCH blk_qd{depth}_{name}_{kib}k_mbps {mbps} MB/s"));
        }
        if let Some(median) = self.latencies.median_ns() {
            let unit = if kind == Kind::RandRead { 4 } else { self.seq_bytes() / 1024 };
            p.print(format_args!(
                "BENCH blk_qd{depth}_{name}_{unit}k_median_latency_us {} us",
                Fixed::ratio(u128::from(median), 1000, 1)
            ));
        }
        self.latencies.clear();
        let delta = match (self.counters0, counters) {
            (Some((n0, i0)), Some((n1, i1))) => Some((n1.saturating_sub(n0), i1.saturating_sub(i0))),
            _ => None,
        };
        self.group.signals = match (self.group.requests, self.group.signals, delta) {
            (0, _, delta) => delta,
            (_, Some((sn, si)), Some((dn, di))) => Some((sn + dn, si + di)),
            _ => None,
        };
        self.group.requests += u64::from(self.done);
    }

    /// Move past the current phase; at the end of a depth's phases, print
    /// its signal counts.
    fn leave_phase<P: Platform>(&mut self, ctx: &mut Ctx<'_, P>) {
        let deep = PHASES[self.phase].1;
        self.phase += 1;
        self.started = false;
        self.issued = 0;
        self.done = 0;
        if PHASES.get(self.phase).is_some_and(|&(_, d)| d == deep) {
            return;
        }
        let depth = if deep { self.deep() } else { 1 };
        let group = core::mem::take(&mut self.group);
        if let (Some((notifications, irqs)), true) = (group.signals, group.requests > 0) {
            let req = u128::from(group.requests);
            let p = &mut *ctx.platform;
            p.print(format_args!(
                "BENCH blk_qd{depth}_notifications_per_request {} count",
                Fixed::ratio(u128::from(notifications), req, 3)
            ));
            p.print(format_args!(
                "BENCH blk_qd{depth}_irqs_per_request {} count",
                Fixed::ratio(u128::from(irqs), req, 3)
            ));
        }
    }
}
