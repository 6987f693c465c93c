//! [`RngDriver`]: the virtio-rng driver as a plain type. The PD shell
//! (`main.rs`) feeds it events; tests feed it the same events with a fake
//! transport and device.
//!
//! The device has one queue, requestq 0, of device-writable buffers it
//! fills with entropy (VIRTIO 1.2 §5.4.6), and no config space. The driver
//! serves one request of its client at a time ([`crate::mailbox`]): it
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

use crate::mailbox::{BadControlPage, DriverPort, RngRequest, RngStatus};
use crate::{PIECE_SIZE, PIECES, QUEUE_SIZE, REQUESTQ, ZERO_LIMIT};
use sevio_driver_core::transport::call_ok;
use sevio_driver_core::{
    Bringup, DeviceState, DmaCarver, DmaError, DmaRegion, DmaSlots, Driver, DriverError, DriverEvents, DriverQueue,
    DriverStatus, QueueParams, Transport,
};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::{DriverDoorbell, Request};
use sevio_virtio::features::general;
use sevio_virtio::{Buffer, DeviceFault, DeviceId, Features, Used};

/// The features the driver accepts when offered (VERSION_1 is added for
/// modern devices by the bring-up).
pub fn wanted_features() -> Features {
    Features::EMPTY.with(general::EVENT_IDX)
}

/// The memory the driver works with, from system.xml.
#[derive(Copy, Clone, Debug)]
pub struct RngResources {
    /// The DMA region: bounce buffers, then the queue.
    pub dma: DmaRegion,
    /// The doorbell page shared with the transport.
    pub doorbell: SharedMemory,
    /// The control page shared with the client.
    pub control: SharedMemory,
    /// The client's data region (mapped here too: the driver copies).
    pub data: SharedMemory,
}

/// Why the driver cannot start.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The control page is unusable.
    Control(BadControlPage),
    /// The DMA region has no room for the bounce buffers.
    Dma(DmaError),
}

/// Why something failed (kept for the PD's log): the errors every driver
/// shares.
pub type RngError = DriverError;

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

struct Device {
    queue: DriverQueue<QUEUE_SIZE>,
    doorbell: DriverDoorbell,
}

/// The virtio-rng driver.
pub struct RngDriver<T: Transport> {
    transport: T,
    res: RngResources,
    port: DriverPort,
    bufs: DmaSlots,
    /// Carves the queue, after the bounce buffers.
    queue_memory: DmaCarver,
    state: DeviceState<Device>,
    pieces: [Piece; PIECES],
    by_token: [u8; QUEUE_SIZE],
    current: Option<Current>,
    stats: Stats,
    notify_client: bool,
    last_error: Option<RngError>,
}

const NO_PIECE: u8 = u8::MAX;

impl<T: Transport> RngDriver<T> {
    /// A driver with no device yet.
    pub fn new(transport: T, res: RngResources) -> Result<Self, SetupError> {
        let port = DriverPort::new(res.control).map_err(SetupError::Control)?;
        let mut carver = res.dma.carver();
        let bufs = carver.slots(PIECES, PIECE_SIZE, 64).map_err(SetupError::Dma)?;
        Ok(RngDriver {
            transport,
            res,
            port,
            bufs,
            queue_memory: carver,
            state: DeviceState::default(),
            pieces: [Piece::Free; PIECES],
            by_token: [NO_PIECE; QUEUE_SIZE],
            current: None,
            stats: Stats::default(),
            notify_client: false,
            last_error: None,
        })
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether a request is being served.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// The transport (tests reach the fake device through it).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Whether the client should be notified (clears the flag).
    pub fn take_client_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify_client)
    }

    fn bring_up(&mut self) -> Result<Device, RngError> {
        let doorbell = DriverDoorbell::open(self.res.doorbell).map_err(RngError::Doorbell)?;
        let mut carver = self.queue_memory.clone();
        let init = RngError::Init;
        let mut c = Bringup::start(&mut self.transport, DeviceId::RNG)
            .map_err(init)?
            .negotiate(wanted_features(), Features::EMPTY)
            .map_err(init)?;
        let params = QueueParams { max_size: QUEUE_SIZE as u16, min_size: 1, indirect_descs: 0 };
        let queue = c.queue::<QUEUE_SIZE>(REQUESTQ, params, &mut carver).map_err(init)?;
        c.driver_ok().map_err(init)?;
        Ok(Device { queue, doorbell })
    }

    /// Forget what the device held: pieces free, nothing outstanding.
    fn device_gone(&mut self) {
        self.pieces = [Piece::Free; PIECES];
        self.by_token = [NO_PIECE; QUEUE_SIZE];
        if let Some(cur) = &mut self.current {
            cur.outstanding = 0;
        }
    }

    fn fail_device(&mut self, e: RngError) {
        self.last_error = Some(e);
        self.device_gone();
        let _ = self.transport.call(Request::Reset);
        self.state = DeviceState::Failed;
    }

    /// The transport notified us: the device interrupted.
    pub fn interrupt(&mut self) {
        self.retry_bind();
        if let Some(dev) = self.state.device() {
            // No config space: every cause means "look at the queue".
            dev.doorbell.take_interrupts();
        }
        self.pump(true);
    }

    /// The client notified us: a request may be waiting.
    pub fn client_notified(&mut self) {
        self.retry_bind();
        self.pump(true);
    }

    fn retry_bind(&mut self) {
        if self.state.retry_due() {
            let _ = self.bind();
        }
    }

    fn respond(&mut self, req: RngRequest, status: RngStatus, len: u32, pieces: u32) {
        match status {
            RngStatus::Ok => self.stats.served += 1,
            RngStatus::Invalid => self.stats.invalid += 1,
            RngStatus::Io => self.stats.failed += 1,
        }
        self.port.respond(req.seq, status, len, pieces);
        self.notify_client = true;
    }

    /// Finish the current request if it is complete or hopeless; take the
    /// next one if none is being served.
    fn advance(&mut self) {
        loop {
            if let Some(cur) = self.current {
                let done = cur.filled == cur.req.len;
                let hopeless =
                    self.state.status() == DriverStatus::Failed || (cur.zeros >= ZERO_LIMIT && cur.outstanding == 0);
                if !done && !hopeless {
                    return;
                }
                self.current = None;
                if done {
                    self.respond(cur.req, RngStatus::Ok, cur.filled, cur.pieces);
                } else {
                    self.respond(cur.req, RngStatus::Io, 0, cur.pieces);
                }
            }
            let Some(req) = self.port.take() else { return };
            if !req.is_valid(self.res.data.len()) {
                self.respond(req, RngStatus::Invalid, 0, 0);
                continue;
            }
            self.current = Some(Current { req, filled: 0, outstanding: 0, pieces: 0, zeros: 0 });
        }
    }

    /// Harvest (if asked), answer, ask the device for more, kick, arm;
    /// repeat while the device got ahead of the arming.
    fn pump(&mut self, mut harvest: bool) {
        loop {
            if harvest {
                self.harvest();
            }
            self.advance();
            let added = self.request_pieces();
            let Some(dev) = self.state.device() else { break };
            match kick_and_arm(&mut self.transport, dev, added) {
                Ok(false) => break,
                Ok(true) => harvest = true,
                Err(e) => self.fail_device(e),
            }
        }
        self.advance();
    }

    fn harvest(&mut self) {
        loop {
            let Some(dev) = self.state.device() else { return };
            match dev.queue.pop_used() {
                Ok(Some(used)) => {
                    if let Err(e) = self.piece_used(used) {
                        return self.fail_device(e);
                    }
                }
                Ok(None) => return,
                Err(e) => return self.fail_device(RngError::Queue(e)),
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
            let to = cur.req.offset as usize + cur.filled as usize + done;
            let copied = buf.mem.copy_out(done, &mut chunk[..n]).and_then(|()| self.res.data.copy_in(to, &chunk[..n]));
            // Both ranges were checked (piece length, request validity).
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
    fn request_pieces(&mut self) -> bool {
        let Some(dev) = self.state.device() else { return false };
        let Some(cur) = &mut self.current else { return false };
        let mut added = false;
        let mut refused = None;
        while cur.wanted() > 0 && cur.zeros < ZERO_LIMIT && dev.queue.can_add(1) {
            let Some(i) = self.pieces.iter().position(|p| *p == Piece::Free) else { break };
            let Some(buf) = self.bufs.get(i) else { break };
            let len = cur.wanted().min(PIECE_SIZE as u32);
            match dev.queue.add(&[Buffer::writable(buf.paddr, len)]) {
                Ok(token) => {
                    self.by_token[token.index() as usize % QUEUE_SIZE] = i as u8;
                    self.pieces[i] = Piece::InFlight { len };
                    cur.outstanding += len;
                    added = true;
                }
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = refused {
            self.fail_device(RngError::Queue(e));
            return false;
        }
        added
    }
}

impl<T: Transport> DriverEvents for RngDriver<T> {
    fn interrupt(&mut self) {
        RngDriver::interrupt(self)
    }

    fn client_notified(&mut self) {
        RngDriver::client_notified(self)
    }

    fn take_client_notify(&mut self) -> bool {
        RngDriver::take_client_notify(self)
    }
}

impl<T: Transport> Driver for RngDriver<T> {
    type Error = RngError;

    /// The bus bound a device to this driver: bring it up, serve a
    /// waiting request.
    fn bind(&mut self) -> Result<(), RngError> {
        if self.state.holds_device() {
            self.unbind();
        }
        let outcome = self.bring_up();
        let result = self.state.settle(outcome);
        match result {
            Err(e) if !self.state.retry_due() => self.last_error = Some(e),
            _ => {}
        }
        // Serve a waiting request, or answer it IO if the device failed.
        self.pump(false);
        result
    }

    /// The device is gone: a request being served waits for the next.
    fn unbind(&mut self) {
        self.device_gone();
        self.state.unbind();
    }

    fn status(&self) -> DriverStatus {
        self.state.status()
    }

    fn last_error(&self) -> Option<RngError> {
        self.last_error
    }
}

/// Kick if chains were added and the device wants it; arm for the last
/// one in flight. `Ok(true)`: harvest again.
fn kick_and_arm<T: Transport>(t: &mut T, dev: &mut Device, added: bool) -> Result<bool, RngError> {
    if added && dev.queue.needs_kick().map_err(RngError::Queue)? {
        call_ok(t, Request::QueueNotify { queue: REQUESTQ }).map_err(RngError::Transport)?;
    }
    let in_flight = dev.queue.in_flight();
    dev.queue.arm(in_flight).map_err(RngError::Queue)
}
