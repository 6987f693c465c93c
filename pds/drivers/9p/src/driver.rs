//! [`P9Driver`]: the virtio-9p driver, a [`VirtioDriver`] that is a
//! 9P2000.L client. The framework brings the device up and sets up its
//! one request queue; this is the device and protocol logic.
//!
//! The device (virtio-9p) carries 9P messages: each request is a chain
//! of one device-readable buffer (the T-message) and one device-writable
//! buffer (room for the R-message), both bounce buffers in the driver's
//! DMA region; the device never sees the client's memory. The driver
//! keeps one message in flight.
//!
//! Once a device is up the driver opens a session: Tversion (9P2000.L,
//! msize [`MSIZE`] at most), then Tattach of the export's root as fid
//! [`ROOT`]. It then serves its client's requests (`sevio_queue::fs`) one
//! at a time, each as a short sequence of 9P transactions ([`Job`]):
//! walk from the root to a fid, open/create/getattr/mkdir/unlinkat, clunk
//! the scratch fid. The fids are the driver's: the client's fds are the
//! fids of the files it opened ([`FIRST_FD`]..), checked on every use.
//!
//! Every reply goes through [`Reply::parse`](crate::wire::Reply::parse)
//! (size, tag, type) and the checked field readers; a reply that breaks
//! the protocol fails the device (the request in hand is answered `Io`),
//! an `Rlerror` is the client's answer (`Errno`).

use crate::path::Path;
use crate::wire::{self, DirEntries, NOFID, NOTAG, Reply, Request, WireError, op};
use crate::{FIDS, FIRST_FD, MSIZE, QUEUE_SIZE, REQUESTQ, ROOT, SCRATCH};
use sevio_driver_core::{
    ClientRegion, ClientSpan, Ctx, DmaCarver, DmaSlice, DriverError, DriverQueue, Probe, QueueParams, QueueSpec,
    RegionSetvars, SystemMaps, Unusable, VirtioDriver,
};
use sevio_queue::fs::{DIRENT_HEADER, DriverPort, FsOp, FsRequest, FsStatus, OPEN_WRITE, PATH_MAX, REMOVE_DIR};
use sevio_virtio::device::other::p9;
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceId, Features};

/// Why the device failed (kept for the PD's log).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum P9Error {
    /// The errors every driver shares.
    Driver(DriverError),
    /// A reply broke 9P.
    Wire(WireError),
    /// The server refused Tversion or Tattach with this errno.
    Session(u32),
}

impl From<DriverError> for P9Error {
    fn from(e: DriverError) -> Self {
        P9Error::Driver(e)
    }
}

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct P9Setvars {
    /// The control page shared with the client (`p9_control`).
    pub control: RegionSetvars,
    /// The client's data region (`p9_data`).
    pub data: RegionSetvars,
}

/// Counters for the log and tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered, by status: Ok, Invalid, Io, Errno.
    pub answered: [u64; 4],
    /// 9P messages exchanged.
    pub messages: u64,
    /// File bytes moved either way.
    pub bytes: u64,
}

/// Answers between two count lines when all were OK.
const REPORT_EVERY: u64 = 1000;
/// Linux ENOENT: a walk that stopped short.
const ENOENT: u64 = 2;
/// 9P2000.L open flags (Linux numbering).
const L_O_RDONLY: u32 = 0;
const L_O_RDWR: u32 = 2;
const L_O_CREAT: u32 = 0o100;
const L_O_EXCL: u32 = 0o200;
/// Tunlinkat flag for a directory.
const AT_REMOVEDIR: u32 = 0x200;
/// Tgetattr: P9_GETATTR_BASIC.
const GETATTR_BASIC: u64 = 0x7ff;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Session {
    /// No device, or a device not talked to yet.
    Down,
    /// Tversion sent.
    Versioning,
    /// Tattach sent.
    Attaching,
    /// The root is attached.
    Up,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Fid {
    Free,
    /// Walked to, being opened or created.
    Opening,
    Open,
}

/// Where a job stands: what the next message is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Stage {
    /// Nothing answered yet (or, for reads and writes, the next piece).
    Start,
    /// The walk to `Job::fid` succeeded.
    Walked,
    /// `fid` is to be clunked, then `answer` given.
    Clunk { fid: u32, answer: Answer },
    /// Tclunk sent; then `answer`.
    ClunkSent { answer: Answer },
    /// Finished.
    Done(Answer),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Answer {
    status: FsStatus,
    value: u64,
    len: u32,
}

const fn answer(status: FsStatus, value: u64, len: u32) -> Answer {
    Answer { status, value, len }
}

/// A client request being served.
#[derive(Copy, Clone, Debug)]
struct Job {
    req: FsRequest,
    op: FsOp,
    path: Path,
    /// The client's data range (read, write, readdir), checked.
    span: Option<ClientSpan>,
    /// The fid the job works on.
    fid: u32,
    stage: Stage,
    /// Bytes moved so far.
    done: u32,
}

/// The message in flight.
#[derive(Copy, Clone, Debug)]
struct InFlight {
    tag: u16,
    kind: u8,
    /// The count asked for (Tread/Treaddir/Twrite), else 0.
    asked: u32,
}

/// What the job does next.
enum Next {
    Send { kind: u8, len: usize, asked: u32 },
    Answer(Answer),
}

/// The virtio-9p driver.
pub struct P9Driver {
    port: DriverPort,
    data: ClientRegion,
    tx: DmaSlice,
    rx: DmaSlice,
    session: Session,
    msize: u32,
    tag: u16,
    fids: [Fid; FIDS],
    job: Option<Job>,
    in_flight: Option<InFlight>,
    mount_tag: [u8; 32],
    mount_tag_len: usize,
    stats: Stats,
    /// Answers, and answers other than OK, as last logged.
    logged: u64,
    logged_refused: u64,
}

type P9Ctx<'a> = Ctx<'a, P9Driver>;

impl VirtioDriver for P9Driver {
    const DEVICE: DeviceId = DeviceId::P9;
    type Queues = DriverQueue<QUEUE_SIZE>;
    const QUEUES: QueueSpec = QueueSpec {
        index: REQUESTQ,
        params: QueueParams { max_size: QUEUE_SIZE as u16, min_size: 2, indirect_descs: 0 },
    };
    type Error = P9Error;
    type Setvars = P9Setvars;

    fn new(vars: P9Setvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let data = ClientRegion::driver_only(maps.region(vars.data)?);
        let port = DriverPort::new(maps.region(vars.control)?).map_err(|_| Unusable::Layout(vars.control.region))?;
        let tx = dma.take(MSIZE, 64).map_err(Unusable::DmaRoom)?;
        let rx = dma.take(MSIZE, 64).map_err(Unusable::DmaRoom)?;
        Ok(P9Driver {
            port,
            data,
            tx,
            rx,
            session: Session::Down,
            msize: MSIZE as u32,
            tag: 0,
            fids: [Fid::Free; FIDS],
            job: None,
            in_flight: None,
            mount_tag: [0; 32],
            mount_tag_len: 0,
            stats: Stats::default(),
            logged: 0,
            logged_refused: 0,
        })
    }

    /// MOUNT_TAG and EVENT_IDX when offered; nothing required.
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(p9::MOUNT_TAG).with(general::EVENT_IDX), Features::EMPTY)
    }

    /// The mount tag, for the log: `tag_len u16` then the tag (config
    /// space of virtio-9p, present with MOUNT_TAG).
    fn probe(&mut self, device: &mut Probe<'_, '_, Self>) -> Result<(), P9Error> {
        self.mount_tag_len = 0;
        if device.features().has(p9::MOUNT_TAG) {
            let mut len = [0u8; 2];
            device.read_config(0, &mut len)?;
            let n = (u16::from_le_bytes(len) as usize).min(self.mount_tag.len());
            device.read_config(2, &mut self.mount_tag[..n])?;
            self.mount_tag_len = n;
        }
        sevio_runtime::debug_println!("p9: mount tag \"{}\"", self.mount_tag());
        Ok(())
    }

    /// The session and every fid died with the device.
    fn remove(&mut self) {
        self.session = Session::Down;
        self.in_flight = None;
        self.fids = [Fid::Free; FIDS];
        if let Some(job) = &mut self.job {
            job.stage = Stage::Done(answer(FsStatus::Io, 0, 0));
        }
    }

    fn interrupt(&mut self, ctx: &mut P9Ctx<'_>, _causes: u32) {
        self.pump(ctx);
    }

    fn client_notified(&mut self, ctx: &mut P9Ctx<'_>) {
        self.pump(ctx);
    }

    /// The counters: whenever a request was not answered OK, and after
    /// every [`REPORT_EVERY`] answers (a benchmark answers thousands).
    fn report(&mut self, name: &str) {
        let s = self.stats;
        let answered: u64 = s.answered.iter().sum();
        let refused: u64 = s.answered[1..].iter().sum();
        if answered != self.logged && (refused != self.logged_refused || answered - self.logged >= REPORT_EVERY) {
            self.logged = answered;
            self.logged_refused = refused;
            let [ok, invalid, io, errno] = s.answered;
            sevio_runtime::debug_println!(
                "{}: {} ok, {} invalid, {} io, {} errno; {} messages, {} bytes",
                name,
                ok,
                invalid,
                io,
                errno,
                s.messages,
                s.bytes
            );
        }
    }
}

impl P9Driver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The mount tag the device reported (lossy UTF-8 avoided: ASCII or
    /// `?`).
    pub fn mount_tag(&self) -> &str {
        core::str::from_utf8(&self.mount_tag[..self.mount_tag_len]).unwrap_or("?")
    }

    /// Answer `job`; the fid it opened becomes an fd, or is free again.
    fn finish(&mut self, ctx: &mut P9Ctx<'_>, job: Job, a: Answer) {
        match job.op {
            FsOp::Open | FsOp::Create if a.status == FsStatus::Ok => {
                if let Some(f) = job.fid.checked_sub(FIRST_FD).and_then(|i| self.fids.get_mut(i as usize)) {
                    *f = Fid::Open;
                }
            }
            FsOp::Open | FsOp::Create | FsOp::Close => self.free_fid(job.fid),
            _ => {}
        }
        self.respond(ctx, job.req, a);
    }

    fn respond(&mut self, ctx: &mut P9Ctx<'_>, req: FsRequest, a: Answer) {
        self.stats.answered[a.status as usize] += 1;
        self.port.respond(req.seq, a.status, a.value, a.len);
        ctx.notify_client();
    }

    /// Harvest the reply, go on with the session or the job, send the
    /// next message; repeat while the device got ahead of the arming.
    fn pump(&mut self, ctx: &mut P9Ctx<'_>) {
        loop {
            self.harvest(ctx);
            self.advance(ctx);
            let Some(device) = ctx.device() else { break };
            let in_flight = device.queues.in_flight();
            match device.queues.arm(in_flight) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => ctx.fail(P9Error::Driver(DriverError::Queue(e))),
            }
        }
        self.advance(ctx);
    }

    fn harvest(&mut self, ctx: &mut P9Ctx<'_>) {
        let Some(device) = ctx.device() else { return };
        let used = match device.queues.pop_used() {
            Ok(Some(used)) => used,
            Ok(None) => return,
            Err(e) => return self.broken(ctx, P9Error::Driver(DriverError::Queue(e))),
        };
        let Some(sent) = self.in_flight.take() else { return };
        self.stats.messages += 1;
        // The split queue checked used.len against the writable buffer
        // (VIRTIO 1.2 §2.7.8.2), which is MSIZE long.
        let mut buf = [0u8; MSIZE];
        let n = (used.len as usize).min(MSIZE);
        if self.rx.mem.copy_out(0, &mut buf[..n]).is_err() {
            return self.broken(ctx, P9Error::Driver(DriverError::Dma(sevio_driver_core::DmaError::BadRequest)));
        }
        let reply = Reply::parse(&buf[..n], sent.tag, sent.kind);
        if let Err(e) = self.on_reply(ctx, sent, reply) {
            self.broken(ctx, P9Error::Wire(e));
        }
    }

    /// The device broke a rule: fail it, answer the job `Io`.
    fn broken(&mut self, ctx: &mut P9Ctx<'_>, e: P9Error) {
        ctx.fail(e);
        self.remove_and_answer(ctx);
    }

    fn remove_and_answer(&mut self, ctx: &mut P9Ctx<'_>) {
        self.remove();
        if let Some(job) = self.job.take() {
            self.finish(ctx, job, answer(FsStatus::Io, 0, 0));
        }
    }

    /// Start the session, take a request, send what the job needs next.
    fn advance(&mut self, ctx: &mut P9Ctx<'_>) {
        if ctx.failed() {
            if let Some(job) = self.job.take() {
                self.finish(ctx, job, answer(FsStatus::Io, 0, 0));
            }
            return;
        }
        if ctx.device().is_none() {
            return;
        }
        while self.in_flight.is_none() && !ctx.failed() {
            let next = match (self.session, self.job) {
                (Session::Down, _) => self.tversion(),
                (Session::Versioning | Session::Attaching, _) => return,
                (Session::Up, Some(job)) => self.step(job),
                (Session::Up, None) => {
                    let Some(req) = self.port.take() else { return };
                    match self.start(req) {
                        Ok(job) => self.job = Some(job),
                        Err(a) => self.respond(ctx, req, a),
                    }
                    continue;
                }
            };
            match next {
                Some(Next::Send { kind, len, asked }) => self.send(ctx, kind, len, asked),
                Some(Next::Answer(a)) => {
                    if let Some(job) = self.job.take() {
                        self.finish(ctx, job, a);
                    }
                }
                None => {
                    // A message did not fit MSIZE (a path at the limit
                    // still fits: a driver bug), or a client range broke
                    // in between: the request is answered Io.
                    if let Some(job) = self.job.take() {
                        self.finish(ctx, job, answer(FsStatus::Io, 0, 0));
                    }
                }
            }
        }
    }

    fn next_tag(&mut self) -> u16 {
        self.tag = if self.tag >= NOTAG - 1 { 0 } else { self.tag + 1 };
        self.tag
    }

    /// The T-message in `msg` goes to the device with room for its reply.
    fn send(&mut self, ctx: &mut P9Ctx<'_>, kind: u8, len: usize, asked: u32) {
        let tag = if kind == op::TVERSION { NOTAG } else { self.tag };
        let Some(device) = ctx.device() else { return };
        let chain = [Buffer::readable(self.tx.paddr, len as u32), Buffer::writable(self.rx.paddr, self.msize)];
        match device.queues.add(&chain) {
            Ok(_) => self.in_flight = Some(InFlight { tag, kind, asked }),
            Err(e) => self.broken(ctx, P9Error::Driver(DriverError::Queue(e))),
        }
    }

    /// Build a message with `fill` into the tx buffer: `Send` or `None`
    /// if it did not fit.
    fn build(&mut self, kind: u8, asked: u32, fill: impl FnOnce(&mut Request<'_>, &Self)) -> Option<Next> {
        let tag = if kind == op::TVERSION { NOTAG } else { self.next_tag() };
        let mut buf = [0u8; MSIZE];
        let limit = self.msize as usize;
        let mut msg = Request::new(&mut buf[..limit], kind, tag);
        fill(&mut msg, self);
        let len = msg.finish()?;
        self.tx.mem.copy_in(0, &buf[..len]).ok()?;
        Some(Next::Send { kind, len, asked })
    }

    fn tversion(&mut self) -> Option<Next> {
        self.session = Session::Versioning;
        self.msize = MSIZE as u32;
        self.build(op::TVERSION, 0, |m, _| {
            m.u32(MSIZE as u32).str(wire::VERSION);
        })
    }

    /// Check a client request; the job serving it, or the refusal.
    fn start(&mut self, req: FsRequest) -> Result<Job, Answer> {
        let invalid = answer(FsStatus::Invalid, 0, 0);
        let op = FsOp::from_word(req.op).ok_or(invalid)?;
        let mut path = Path::parse(b"").map_err(|_| invalid)?;
        if matches!(op, FsOp::Open | FsOp::Create | FsOp::Stat | FsOp::Mkdir | FsOp::Remove) {
            if req.path_len as usize > PATH_MAX {
                return Err(invalid);
            }
            let mut raw = [0u8; PATH_MAX];
            let raw = &mut raw[..req.path_len as usize];
            if !raw.is_empty() {
                let span = self.data.span(u64::from(req.path_offset), raw.len() as u64).map_err(|_| invalid)?;
                span.mem.copy_out(0, raw).map_err(|_| invalid)?;
            }
            path = Path::parse(raw).map_err(|_| invalid)?;
            if matches!(op, FsOp::Create | FsOp::Mkdir | FsOp::Remove) && path.depth() == 0 {
                return Err(invalid);
            }
        }
        let mut span = None;
        if matches!(op, FsOp::Read | FsOp::Write | FsOp::Readdir) {
            let s = self.data.span(u64::from(req.data_offset), u64::from(req.len)).map_err(|_| invalid)?;
            span = Some(s);
        }
        let fid = match op {
            FsOp::Open | FsOp::Create => {
                let i = self.fids.iter().position(|f| *f == Fid::Free).ok_or(invalid)?;
                self.fids[i] = Fid::Opening;
                i as u32 + FIRST_FD
            }
            FsOp::Stat | FsOp::Mkdir | FsOp::Remove => SCRATCH,
            FsOp::Read | FsOp::Write | FsOp::Readdir | FsOp::Fsync | FsOp::Close => {
                let open = req.fd.checked_sub(FIRST_FD).and_then(|i| self.fids.get(i as usize));
                if open != Some(&Fid::Open) {
                    return Err(invalid);
                }
                req.fd
            }
        };
        Ok(Job { req, op, path, span, fid, stage: Stage::Start, done: 0 })
    }

    fn free_fid(&mut self, fid: u32) {
        if let Some(f) = fid.checked_sub(FIRST_FD).and_then(|i| self.fids.get_mut(i as usize)) {
            *f = Fid::Free;
        }
    }

    /// Walk from the root to `job.fid`: every name, or all but the leaf.
    fn twalk(&mut self, job: Job, all: bool) -> Option<Next> {
        let n = if all { job.path.depth() } else { job.path.depth() - 1 };
        self.build(op::TWALK, n as u32, |m, _| {
            m.u32(ROOT).u32(job.fid).u16(n as u16);
            for name in job.path.names().take(n) {
                m.str(name);
            }
        })
    }

    /// The next message of `job`, or its answer. Stages move on in
    /// [`on_reply`](Self::on_reply), except Clunk -> ClunkSent.
    fn step(&mut self, mut job: Job) -> Option<Next> {
        let io_max = self.msize - wire::IO_OVERHEAD as u32;
        let next = match (job.op, job.stage) {
            (_, Stage::Done(a)) => return Some(Next::Answer(a)),
            (_, Stage::ClunkSent { .. }) => return None,
            (_, Stage::Clunk { fid, answer }) => {
                job.stage = Stage::ClunkSent { answer };
                self.build(op::TCLUNK, 0, |m, _| {
                    m.u32(fid);
                })
            }
            (FsOp::Open | FsOp::Stat, Stage::Start) => self.twalk(job, true),
            (FsOp::Create | FsOp::Mkdir | FsOp::Remove, Stage::Start) => self.twalk(job, false),
            (FsOp::Open, Stage::Walked) => {
                let flags = if job.req.flags & OPEN_WRITE != 0 { L_O_RDWR } else { L_O_RDONLY };
                self.build(op::TLOPEN, 0, |m, _| {
                    m.u32(job.fid).u32(flags);
                })
            }
            (FsOp::Create, Stage::Walked) => self.build(op::TLCREATE, 0, |m, _| {
                m.u32(job.fid).str(job.path.leaf().unwrap_or_default());
                m.u32(L_O_RDWR | L_O_CREAT | L_O_EXCL).u32(0o644).u32(0);
            }),
            (FsOp::Stat, Stage::Walked) => self.build(op::TGETATTR, 0, |m, _| {
                m.u32(job.fid).u64(GETATTR_BASIC);
            }),
            (FsOp::Mkdir, Stage::Walked) => self.build(op::TMKDIR, 0, |m, _| {
                m.u32(job.fid).str(job.path.leaf().unwrap_or_default()).u32(0o755).u32(0);
            }),
            (FsOp::Remove, Stage::Walked) => {
                let flags = if job.req.flags & REMOVE_DIR != 0 { AT_REMOVEDIR } else { 0 };
                self.build(op::TUNLINKAT, 0, |m, _| {
                    m.u32(job.fid).str(job.path.leaf().unwrap_or_default()).u32(flags);
                })
            }
            (FsOp::Read, _) => {
                let count = (job.req.len - job.done).min(io_max);
                let offset = job.req.offset.wrapping_add(u64::from(job.done));
                self.build(op::TREAD, count, |m, _| {
                    m.u32(job.fid).u64(offset).u32(count);
                })
            }
            (FsOp::Readdir, _) => {
                let count = job.req.len.min(io_max);
                self.build(op::TREADDIR, count, |m, _| {
                    m.u32(job.fid).u64(job.req.offset).u32(count);
                })
            }
            (FsOp::Write, _) => {
                let count = (job.req.len - job.done).min(io_max);
                let span = job.span?;
                let offset = job.req.offset.wrapping_add(u64::from(job.done));
                let mut copied = true;
                let next = self.build(op::TWRITE, count, |m, _| {
                    m.u32(job.fid).u64(offset).u32(count);
                    copied = m
                        .reserve(count as usize)
                        .is_some_and(|r| span.mem.copy_out(job.done as usize, &mut m.bytes_mut()[r]).is_ok());
                });
                next.filter(|_| copied)
            }
            (FsOp::Fsync, _) => self.build(op::TFSYNC, 0, |m, _| {
                m.u32(job.fid).u32(0);
            }),
            (FsOp::Close, _) => self.build(op::TCLUNK, 0, |m, _| {
                m.u32(job.fid);
            }),
        };
        self.job = Some(job);
        next
    }

    /// A reply to `sent`, parsed as far as the header: move the session
    /// or the job on. An error is a protocol break (the device fails).
    fn on_reply(
        &mut self,
        ctx: &mut P9Ctx<'_>,
        sent: InFlight,
        reply: Result<Reply<'_>, WireError>,
    ) -> Result<(), WireError> {
        match self.session {
            Session::Versioning => {
                self.msize = match reply {
                    Err(WireError::Lerror(e)) => return self.session_refused(ctx, e),
                    r => r?.rversion(MSIZE as u32)?,
                };
                self.session = Session::Attaching;
                let next = self.build(op::TATTACH, 0, |m, _| {
                    m.u32(ROOT).u32(NOFID).str(b"").str(b"").u32(0);
                });
                if let Some(Next::Send { kind, len, asked }) = next {
                    self.send(ctx, kind, len, asked);
                }
                return Ok(());
            }
            Session::Attaching => {
                match reply {
                    Err(WireError::Lerror(e)) => return self.session_refused(ctx, e),
                    r => r?.qid()?,
                };
                self.session = Session::Up;
                return Ok(());
            }
            Session::Down | Session::Up => {}
        }
        let Some(mut job) = self.job else { return Ok(()) };
        let reply = match reply {
            Err(WireError::Lerror(errno)) => {
                let refused = answer(FsStatus::Errno, u64::from(errno), 0);
                job.stage = match job.stage {
                    // The walked fid exists and must go.
                    Stage::Walked => Stage::Clunk { fid: job.fid, answer: refused },
                    // A clunk frees its fid whatever the answer.
                    Stage::ClunkSent { answer } => Stage::Done(answer),
                    _ => Stage::Done(refused),
                };
                self.job = Some(job);
                return Ok(());
            }
            r => r?,
        };
        job.stage = match (job.op, job.stage) {
            (_, Stage::ClunkSent { answer }) => Stage::Done(answer),
            (FsOp::Open | FsOp::Stat, Stage::Start) | (FsOp::Create | FsOp::Mkdir | FsOp::Remove, Stage::Start) => {
                match reply.rwalk(sent.asked as usize)? {
                    Some(_) => Stage::Walked,
                    None => Stage::Done(answer(FsStatus::Errno, ENOENT, 0)),
                }
            }
            (FsOp::Open | FsOp::Create, Stage::Walked) => {
                let mut r = reply;
                r.qid()?;
                let _iounit = r.u32()?;
                Stage::Done(answer(FsStatus::Ok, u64::from(job.fid), 0))
            }
            (FsOp::Stat, Stage::Walked) => {
                let attr = reply.rgetattr()?;
                Stage::Clunk { fid: job.fid, answer: answer(FsStatus::Ok, attr.size, attr.mode) }
            }
            (FsOp::Mkdir, Stage::Walked) => {
                let mut r = reply;
                r.qid()?;
                Stage::Clunk { fid: job.fid, answer: answer(FsStatus::Ok, 0, 0) }
            }
            (FsOp::Remove, Stage::Walked) => Stage::Clunk { fid: job.fid, answer: answer(FsStatus::Ok, 0, 0) },
            (FsOp::Read, _) => {
                let data = reply.rread(sent.asked)?;
                let span = job.span.ok_or(WireError::Truncated)?;
                span.mem.copy_in(job.done as usize, data).map_err(|_| WireError::Truncated)?;
                job.done += data.len() as u32;
                self.stats.bytes += data.len() as u64;
                if data.is_empty() || job.done == job.req.len {
                    Stage::Done(answer(FsStatus::Ok, 0, job.done))
                } else {
                    Stage::Start
                }
            }
            (FsOp::Write, _) => {
                let n = reply.rwrite(sent.asked)?;
                job.done += n;
                self.stats.bytes += u64::from(n);
                if n == 0 || job.done == job.req.len {
                    Stage::Done(answer(FsStatus::Ok, 0, job.done))
                } else {
                    Stage::Start
                }
            }
            (FsOp::Readdir, _) => {
                let data = reply.rread(sent.asked)?;
                let span = job.span.ok_or(WireError::Truncated)?;
                let (written, cookie) = write_records(&span, data, job.req.offset)?;
                Stage::Done(answer(FsStatus::Ok, cookie, written))
            }
            (FsOp::Fsync | FsOp::Close, _) => Stage::Done(answer(FsStatus::Ok, 0, 0)),
            (_, stage) => stage,
        };
        self.job = Some(job);
        Ok(())
    }

    /// Tversion or Tattach refused: nothing to serve with this device.
    fn session_refused(&mut self, ctx: &mut P9Ctx<'_>, errno: u32) -> Result<(), WireError> {
        ctx.fail(P9Error::Session(errno));
        self.remove_and_answer(ctx);
        Ok(())
    }
}

/// Turn Rreaddir `data` into the client's records (`cookie u64, kind u8,
/// name_len u8, name`) in `span`, as many as fit; `(bytes, cookie to
/// continue from)`. Each entry is checked by [`DirEntries`].
fn write_records(span: &ClientSpan, data: &[u8], mut cookie: u64) -> Result<(u32, u64), WireError> {
    let mut at = 0usize;
    for entry in DirEntries::new(data) {
        let e = entry?;
        let name_len = u8::try_from(e.name.len()).map_err(|_| WireError::BadName)?;
        let size = DIRENT_HEADER + e.name.len();
        if at + size > span.mem.len() {
            break;
        }
        let mut head = [0u8; DIRENT_HEADER];
        head[..8].copy_from_slice(&e.offset.to_le_bytes());
        head[8] = e.kind;
        head[9] = name_len;
        let copied = span.mem.copy_in(at, &head).and_then(|()| span.mem.copy_in(at + DIRENT_HEADER, e.name));
        copied.map_err(|_| WireError::Truncated)?;
        at += size;
        cookie = e.offset;
    }
    Ok((at as u32, cookie))
}
