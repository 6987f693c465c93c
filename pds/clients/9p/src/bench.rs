//! The 9p benchmark ([`P9Bench`], the `p9-bench` PD of
//! `systems/9p-bench.xml`): file throughput and request round trips
//! through the 9p driver, against QEMU's virtio-9p.
//!
//! Phases, one request at a time: create `bench.bin`; write [`TOTAL`]
//! bytes in [`CHUNK`]-byte requests; fsync; close; open; read it all back
//! (checked against what was written); [`STATS`] stat requests (one
//! walk, one getattr, one clunk each); close; remove. Output:
//! `BENCH p9_write_mbps <v> MB/s`, `BENCH p9_read_mbps <v> MB/s` (MB =
//! 10^6 bytes) and `BENCH p9_stat_per_s <v> requests/s`.

use crate::Progress;
use core::fmt::Write;
use sevio_queue::fs::{ClientPort, FsOp, FsRequest, FsStatus};
use sevio_runtime::time::now_ns;
use sevio_sharedmem::SharedMemory;

/// Bytes written, then read.
pub const TOTAL: u32 = 8 << 20;
/// Bytes per request.
pub const CHUNK: u32 = 32 << 10;
/// Stat requests timed.
pub const STATS: u32 = 2000;
const PATH_AT: usize = 0;
const DATA_AT: u32 = 0x1000;
const NAME: &str = "bench.bin";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Create,
    Write,
    Fsync,
    Close,
    Open,
    Read,
    Stat,
    CloseRead,
    Remove,
}

/// The benchmark.
pub struct P9Bench {
    port: ClientPort,
    data: SharedMemory,
    phase: Phase,
    fd: u32,
    done: u32,
    started: u64,
    notify: bool,
    finished: bool,
}

fn byte(at: u32) -> u8 {
    (at ^ (at >> 9)) as u8
}

fn rate(bytes: u64, ns: u64) -> (u64, u64) {
    // MB/s with two decimals: bytes * 1000 / ns is MB/s.
    let centi = bytes * 100_000 / ns.max(1);
    (centi / 100, centi % 100)
}

impl P9Bench {
    /// A benchmark on the control page `port` and the data region `data`.
    pub fn new(port: ClientPort, data: SharedMemory) -> Self {
        P9Bench { port, data, phase: Phase::Create, fd: 0, done: 0, started: 0, notify: false, finished: false }
    }

    /// Whether the driver should be notified (clears the flag).
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    /// Post the first request.
    pub fn start(&mut self) -> Progress {
        if self.data.len() < (DATA_AT + CHUNK) as usize {
            self.finished = true;
            return Progress::Failed("the data region is smaller than the benchmark needs");
        }
        let _ = self.data.copy_in(PATH_AT, NAME.as_bytes());
        self.post();
        Progress::Waiting
    }

    fn post(&mut self) {
        let path = FsRequest { path_offset: PATH_AT as u32, path_len: NAME.len() as u32, ..FsRequest::default() };
        let io = FsRequest { fd: self.fd, offset: u64::from(self.done), data_offset: DATA_AT, len: CHUNK, ..path };
        let req = match self.phase {
            Phase::Create => FsRequest { op: FsOp::Create as u32, ..path },
            Phase::Open => FsRequest { op: FsOp::Open as u32, ..path },
            Phase::Stat => FsRequest { op: FsOp::Stat as u32, ..path },
            Phase::Remove => FsRequest { op: FsOp::Remove as u32, ..path },
            Phase::Write => {
                for i in 0..CHUNK {
                    let _ = self.data.write::<u8>((DATA_AT + i) as usize, byte(self.done + i));
                }
                FsRequest { op: FsOp::Write as u32, ..io }
            }
            Phase::Read => FsRequest { op: FsOp::Read as u32, ..io },
            Phase::Fsync => FsRequest { op: FsOp::Fsync as u32, ..io },
            Phase::Close | Phase::CloseRead => FsRequest { op: FsOp::Close as u32, ..io },
        };
        self.port.post(req);
        self.notify = true;
    }

    /// The driver notified: go on if the answer is there.
    pub fn notified(&mut self, log: &mut dyn Write) -> Progress {
        if self.finished {
            return Progress::Waiting;
        }
        let Some(r) = self.port.poll() else { return Progress::Waiting };
        if FsStatus::from_word(r.status) != Some(FsStatus::Ok) {
            self.finished = true;
            let _ = writeln!(log, "p9-bench: {:?} answered {r:?}", self.phase);
            return Progress::Failed("a benchmark request failed");
        }
        let now = now_ns();
        self.phase = match self.phase {
            Phase::Create | Phase::Open => {
                self.fd = r.value as u32;
                self.done = 0;
                self.started = now;
                if self.phase == Phase::Create { Phase::Write } else { Phase::Read }
            }
            Phase::Write | Phase::Read => {
                if r.len != CHUNK {
                    self.finished = true;
                    return Progress::Failed("a short transfer");
                }
                if self.phase == Phase::Read
                    && (0..CHUNK).any(|i| self.data.read::<u8>((DATA_AT + i) as usize) != Some(byte(self.done + i)))
                {
                    self.finished = true;
                    return Progress::Failed("the bytes read back differ from those written");
                }
                self.done += CHUNK;
                if self.done < TOTAL {
                    self.phase
                } else {
                    let (whole, frac) = rate(u64::from(TOTAL), now - self.started);
                    let name = if self.phase == Phase::Write { "write" } else { "read" };
                    let _ = writeln!(log, "BENCH p9_{name}_mbps {whole}.{frac:02} MB/s");
                    self.done = 0;
                    self.started = now;
                    if self.phase == Phase::Write { Phase::Fsync } else { Phase::Stat }
                }
            }
            Phase::Fsync => Phase::Close,
            Phase::Close => Phase::Open,
            Phase::Stat => {
                self.done += 1;
                if self.done < STATS {
                    Phase::Stat
                } else {
                    let per_s = u64::from(STATS) * 1_000_000_000 / (now - self.started).max(1);
                    let _ = writeln!(log, "BENCH p9_stat_per_s {per_s} requests/s");
                    Phase::CloseRead
                }
            }
            Phase::CloseRead => Phase::Remove,
            Phase::Remove => {
                self.finished = true;
                let _ = writeln!(log, "p9-bench: {} MiB written and read back", TOTAL >> 20);
                return Progress::Passed;
            }
        };
        self.post();
        Progress::Waiting
    }
}
