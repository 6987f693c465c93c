//! [`RngDriver`]: the virtio-rng driver, a [`VirtioDriver`]. The driver
//! framework (`sevio_driver_core::Virtio`) brings the device up, sets up
//! requestq, kicks and keeps the device state; this is the device logic.
//!
//! The device has one queue, requestq 0, of device-writable buffers it
//! fills with entropy (VIRTIO 1.2 §5.4.6), and no config space. The driver
//! serves one request of its client at a time (`sevio_queue::rng`): it
//! asks the device for the range in pieces of at most [`PIECE_SIZE`]
//! bytes, up to [`PIECES`] at once, each into a bounce buffer in its own
//! DMA region, and copies what comes back into the client's data region,
//! front to back. The device never sees the client's memory.
//!
//! §5.4.6: the device MAY return fewer bytes than the buffer holds: what
//! is missing is asked for again. A used length beyond the buffer (so
//! beyond what was asked for) is refused by the split queue (§2.7.8) and
//! fails the device; the request is answered [`RngStatus::Io`]. A device
//! that answers [`ZERO_LIMIT`] buffers in a row with nothing gets the
//! request answered `Io` too (the device is kept: it may recover).
//!
//! Not bound yet: the request waits. Unbound while serving: the bytes
//! already copied stay, the rest is asked of the next device.

use crate::{PIECE_SIZE, PIECES, QUEUE_SIZE, REQUESTQ, ZERO_LIMIT};
use sevio_driver_core::{
    ClientRegion, Ctx, DmaCarver, DmaError, DmaSlots, DriverError, DriverQueue, QueueParams, QueueSpec, RegionSetvars,
    SystemMaps, Unusable, VirtioDriver,
};
use sevio_queue::rng::{DriverPort, RngRequest, RngStatus};
use sevio_sharedmem::SharedMemory;
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceFault, DeviceId, Features, Used};

/// Why something failed (kept for the PD's log): the errors every driver
/// shares.
pub type RngError = DriverError;

/// The regions system.xml gives the driver besides the framework's.
#[derive(Copy, Clone, Debug)]
pub struct RngSetvars {
    /// The control page shared with the client (`rng_control`).
    pub control: RegionSetvars,
    /// The client's data region (`rng_data`; mapped here too: the driver
    /// copies into it).
    pub data: RegionSetvars,
}

/// Counters for the log and for tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered OK.
    pub served: u64,
    /// Requests refused as invalid.
    pub invalid: u64,
    /// Requests answered `Io`.
    pub failed: u64,
    /// Bytes copied to the client.
    pub bytes: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Piece {
    Free,
    InFlight { len: u32 },
}

/// The request being served.
#[derive(Copy, Clone, Debug)]
struct Current {
    req: RngRequest,
    /// The client's range, checked.
    target: SharedMemory,
    /// Bytes copied to the client so far.
    filled: u32,
    /// Bytes asked of the device and not back yet.
    outstanding: u32,
    /// Non-empty buffers the bytes came in.
    pieces: u32,
    /// Empty buffers in a row.
    zeros: u32,
}

impl Current {
    fn wanted(&self) -> u32 {
        self.req.len - self.filled - self.outstanding
    }
}

/// The virtio-rng driver.
pub struct RngDriver {
    port: DriverPort,
    data: ClientRegion,
    bufs: DmaSlots,
    pieces: [Piece; PIECES],
    by_token: [u8; QUEUE_SIZE],
    current: Option<Current>,
    stats: Stats,
    /// Requests answered, as last logged.
    logged: u64,
}

const NO_PIECE: u8 = u8::MAX;

type RngCtx<'a> = Ctx<'a, RngDriver>;

impl VirtioDriver for RngDriver {
    const DEVICE: DeviceId = DeviceId::RNG;
    type Queues = DriverQueue<QUEUE_SIZE>;
    const QUEUES: QueueSpec = QueueSpec {
        index: REQUESTQ,
        params: QueueParams { max_size: QUEUE_SIZE as u16, min_size: 1, indirect_descs: 0 },
    };
    type Error = RngError;
    type Setvars = RngSetvars;

    /// The bounce buffers come first in the DMA region.
    fn new(vars: RngSetvars, maps: &SystemMaps, dma: &mut DmaCarver) -> Result<Self, Unusable> {
        let data = ClientRegion::driver_only(maps.region(vars.data)?);
        let port = DriverPort::new(maps.region(vars.control)?).map_err(|_| Unusable::Layout(vars.control.region))?;
        let bufs = dma.slots(PIECES, PIECE_SIZE, 64).map_err(Unusable::DmaRoom)?;
        Ok(RngDriver {
            port,
            data,
            bufs,
            pieces: [Piece::Free; PIECES],
            by_token: [NO_PIECE; QUEUE_SIZE],
            current: None,
            stats: Stats::default(),
            logged: 0,
        })
    }

    /// EVENT_IDX when offered; nothing required.
    fn features(&self) -> (Features, Features) {
        (Features::EMPTY.with(general::EVENT_IDX), Features::EMPTY)
    }

    /// Forget what the device held: pieces free, nothing outstanding.
    fn remove(&mut self) {
        self.pieces = [Piece::Free; PIECES];
        self.by_token = [NO_PIECE; QUEUE_SIZE];
        if let Some(cur) = &mut self.current {
            cur.outstanding = 0;
        }
    }

    /// No config space: every cause means "look at the queue".
    fn interrupt(&mut self, ctx: &mut RngCtx<'_>, _causes: u32) {
        self.pump(ctx, true);
    }

    /// A request may be waiting.
    fn client_notified(&mut self, ctx: &mut RngCtx<'_>) {
        self.pump(ctx, true);
    }

    /// Serve a waiting request, or answer it `Io` if the device failed.
    fn after_bind(&mut self, ctx: &mut RngCtx<'_>) {
        self.pump(ctx, false);
    }

    /// The request counters, whenever a request was answered.
    fn report(&mut self, name: &str) {
        let s = self.stats;
        let answered = s.served + s.invalid + s.failed;
        if answered != self.logged {
            self.logged = answered;
            sevio_runtime::debug_println!(
                "{}: {} served ({} bytes), {} refused, {} failed",
                name,
                s.served,
                s.bytes,
                s.invalid,
                s.failed
            );
        }
    }
}

impl RngDriver {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether a request is being served.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    fn respond(&mut self, ctx: &mut RngCtx<'_>, req: RngRequest, status: RngStatus, len: u32, pieces: u32) {
        match status {
            RngStatus::Ok => self.stats.served += 1,
            RngStatus::Invalid => self.stats.invalid += 1,
            RngStatus::Io => self.stats.failed += 1,
        }
        self.port.respond(req.seq, status, len, pieces);
        ctx.notify_client();
    }

    /// Finish the current request if it is complete or hopeless; take the
    /// next one if none is being served.
    fn advance(&mut self, ctx: &mut RngCtx<'_>) {
        loop {
            if let Some(cur) = self.current {
                let done = cur.filled == cur.req.len;
                let hopeless = ctx.failed() || (cur.zeros >= ZERO_LIMIT && cur.outstanding == 0);
                if !done && !hopeless {
                    return;
                }
                self.current = None;
                if done {
                    self.respond(ctx, cur.req, RngStatus::Ok, cur.filled, cur.pieces);
                } else {
                    self.respond(ctx, cur.req, RngStatus::Io, 0, cur.pieces);
                }
            }
            let Some(req) = self.port.take() else { return };
            match self.data.span(u64::from(req.offset), u64::from(req.len)) {
                Ok(span) => {
                    self.current =
                        Some(Current { req, target: span.mem, filled: 0, outstanding: 0, pieces: 0, zeros: 0 })
                }
                Err(_) => self.respond(ctx, req, RngStatus::Invalid, 0, 0),
            }
        }
    }

    /// Harvest (if asked), answer, ask the device for more, arm; repeat
    /// while the device got ahead of the arming. The framework kicks.
    fn pump(&mut self, ctx: &mut RngCtx<'_>, mut harvest: bool) {
        loop {
            if harvest {
                self.harvest(ctx);
            }
            self.advance(ctx);
            self.request_pieces(ctx);
            let Some(device) = ctx.device() else { break };
            let in_flight = device.queues.in_flight();
            match device.queues.arm(in_flight) {
                Ok(false) => break,
                Ok(true) => harvest = true,
                Err(e) => ctx.fail(RngError::Queue(e)),
            }
        }
        self.advance(ctx);
    }

    fn harvest(&mut self, ctx: &mut RngCtx<'_>) {
        loop {
            let Some(device) = ctx.device() else { return };
            match device.queues.pop_used() {
                Ok(Some(used)) => {
                    if let Err(e) = self.piece_used(used) {
                        return ctx.fail(e);
                    }
                }
                Ok(None) => return,
                Err(e) => return ctx.fail(RngError::Queue(e)),
            }
        }
    }

    /// A piece came back with `used.len` bytes (at most what was asked:
    /// the split queue checked it against the buffer, and the buffer was
    /// never longer than what the request still needed).
    fn piece_used(&mut self, used: Used) -> Result<(), RngError> {
        let token = used.token.index();
        let i = core::mem::replace(&mut self.by_token[token as usize % QUEUE_SIZE], NO_PIECE) as usize;
        let Some(Piece::InFlight { len: asked }) = self.pieces.get(i).copied() else { return Ok(()) };
        self.pieces[i] = Piece::Free;
        let Some(cur) = &mut self.current else { return Ok(()) };
        cur.outstanding = cur.outstanding.saturating_sub(asked);
        let got = used.len;
        if got > asked || got > cur.req.len - cur.filled {
            let fault = DeviceFault::UsedLenTooLarge { id: token, len: got, writable: u64::from(asked) };
            return Err(RngError::Queue(sevio_virtio::Error::Device(fault)));
        }
        if got == 0 {
            cur.zeros += 1;
            return Ok(());
        }
        let buf = self.bufs.get(i).ok_or(RngError::Dma(DmaError::BadRequest))?;
        let mut chunk = [0u8; 256];
        let mut done = 0;
        while done < got as usize {
            let n = (got as usize - done).min(chunk.len());
            let to = cur.filled as usize + done;
            let copied = buf.mem.copy_out(done, &mut chunk[..n]).and_then(|()| cur.target.copy_in(to, &chunk[..n]));
            // Both ranges were checked (piece length, the client's span).
            copied.map_err(|_| RngError::Dma(DmaError::BadRequest))?;
            done += n;
        }
        cur.filled += got;
        cur.pieces += 1;
        cur.zeros = 0;
        self.stats.bytes += u64::from(got);
        Ok(())
    }

    /// Ask the device for what the current request still needs.
    ///
    /// VIRTIO 1.2 §5.4.6.1: "The driver MUST NOT place driver-readable
    /// buffers into the queue": each chain is one device-writable buffer.
    fn request_pieces(&mut self, ctx: &mut RngCtx<'_>) {
        let Some(device) = ctx.device() else { return };
        let Some(cur) = &mut self.current else { return };
        let queue = &mut device.queues;
        let mut refused = None;
        while cur.wanted() > 0 && cur.zeros < ZERO_LIMIT && queue.can_add(1) {
            let Some(i) = self.pieces.iter().position(|p| *p == Piece::Free) else { break };
            let Some(buf) = self.bufs.get(i) else { break };
            let len = cur.wanted().min(PIECE_SIZE as u32);
            match queue.add(&[Buffer::writable(buf.paddr, len)]) {
                Ok(token) => {
                    self.by_token[token.index() as usize % QUEUE_SIZE] = i as u8;
                    self.pieces[i] = Piece::InFlight { len };
                    cur.outstanding += len;
                }
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = refused {
            ctx.fail(RngError::Queue(e));
        }
    }
}
