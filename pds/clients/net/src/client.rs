//! The client's side of the sDDF net queues, played as sDDF's
//! virtualisers play it towards a driver: buffers named by I/O address,
//! an rx and a tx connection of their own capacities, each on its own
//! channel.
//!
//! The client owns rx buffers and tx buffers, 2048 bytes each at I/O
//! addresses `base + i * 2048` of its rx and tx data regions (two
//! regions, so the driver's region list is exercised), as many as the
//! region and the queue hold. At start every rx buffer goes to rx free at
//! once (sDDF's rx virtualiser fills the whole queue). Each received
//! frame is copied out, handed to the [`Stack`], and its buffer goes
//! straight back to rx free; a reply is copied into a free tx buffer and
//! queued on tx active, and so are the host's own frames
//! ([`Stack::poll_send`]) while tx buffers last. Sent buffers come back
//! on tx free.
//!
//! Buffers coming back from the driver are checked: an address that is
//! not one of ours, a tx buffer we already hold, or a length beyond 2048
//! is counted and the descriptor dropped.
//!
//! Signalling, as sDDF's virtualisers do: after publishing on rx free
//! (tx active), notify the driver's rx (tx) side if it asked
//! (`require_signal`); before sleeping, ask for signals on rx active
//! always and on tx free only when out of tx buffers (otherwise sent
//! buffers are collected on the next wake-up anyway; a flood that waits
//! for buffers is out of them).

use crate::stack::{Event, Stack};
use sevio_queue::net::NET_BUFFER_SIZE;
use sevio_queue::{NetBuffer, NetConsumer, NetProducer, QueueError};
use sevio_sharedmem::SharedMemory;

/// Most rx buffers (sdfgen's rx capacity for a net driver).
pub const MAX_RX_BUFFERS: usize = 512;
/// Most tx buffers (sdfgen's tx capacity for a driver of two clients).
pub const MAX_TX_BUFFERS: usize = 1024;

/// The client's ends of the four queues.
pub struct Queues {
    /// Empty buffers to the driver.
    pub rx_free: NetProducer,
    /// Received frames from the driver.
    pub rx_active: NetConsumer,
    /// Sent buffers back from the driver.
    pub tx_free: NetConsumer,
    /// Frames to send to the driver.
    pub tx_active: NetProducer,
}

/// The client's data regions and the I/O addresses their first bytes
/// are named by (their physical addresses: the driver hands them to the
/// device as they are).
#[derive(Copy, Clone, Debug)]
pub struct Data {
    /// rx buffers.
    pub rx: SharedMemory,
    /// I/O address of `rx`.
    pub rx_io: u64,
    /// tx buffers.
    pub tx: SharedMemory,
    /// I/O address of `tx`.
    pub tx_io: u64,
}

/// Which of the driver's two sides to notify.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// The rx connection (free buffers were published).
    pub rx: bool,
    /// The tx connection (frames were published).
    pub tx: bool,
}

/// Counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Frames received.
    pub rx_frames: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Replies dropped for want of a tx buffer.
    pub tx_no_buffer: u64,
    /// Descriptors from the driver that named no buffer of ours, a tx
    /// buffer we already held, or a length past the buffer; dropped.
    pub bad_descriptors: u64,
    /// Received frames of length 0 (a buffer the driver gave back
    /// unused); the buffer is reused.
    pub empty_frames: u64,
    /// Notifications to the driver asked for (rx and tx sides alike).
    pub notifications: u64,
}

/// Which tx buffers the client holds (a bit per buffer).
#[derive(Copy, Clone, Debug)]
struct Held([u64; MAX_TX_BUFFERS / 64]);

impl Held {
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn set(&mut self, i: usize, on: bool) {
        if let Some(w) = self.0.get_mut(i / 64) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }
}

/// The net client: queues, buffers, and the [`Stack`] behind them.
pub struct NetClient {
    q: Queues,
    data: Data,
    rx_buffers: usize,
    tx_buffers: usize,
    /// Free tx buffers (a stack of indices).
    tx_pool: [u16; MAX_TX_BUFFERS],
    tx_free_count: usize,
    tx_held: Held,
    failed: Option<QueueError>,
    /// The host.
    pub stack: Stack,
    /// Counters.
    pub stats: ClientStats,
}

/// The index of the buffer at I/O address `io_addr` among `buffers`
/// buffers from `base`, if it is the start of one.
fn buffer_index(io_addr: u64, base: u64, buffers: usize) -> Option<usize> {
    let offset = io_addr.checked_sub(base)?;
    // NET_BUFFER_SIZE is a power of two.
    if offset & (NET_BUFFER_SIZE as u64 - 1) != 0 {
        return None;
    }
    let i = usize::try_from(offset / NET_BUFFER_SIZE as u64).ok()?;
    (i < buffers).then_some(i)
}

fn io_addr(base: u64, i: usize) -> u64 {
    base + (i * NET_BUFFER_SIZE) as u64
}

impl NetClient {
    /// A client over `q` and `data`: as many rx buffers as rx free holds
    /// and the rx region has room for, as many tx buffers as tx active
    /// holds and the tx region has room for (at most [`MAX_RX_BUFFERS`],
    /// [`MAX_TX_BUFFERS`]).
    pub fn new(q: Queues, data: Data, stack: Stack) -> NetClient {
        let rx_buffers = (q.rx_free.capacity() as usize).min(data.rx.len() / NET_BUFFER_SIZE).min(MAX_RX_BUFFERS);
        let tx_buffers = (q.tx_active.capacity() as usize).min(data.tx.len() / NET_BUFFER_SIZE).min(MAX_TX_BUFFERS);
        let mut tx_pool = [0u16; MAX_TX_BUFFERS];
        let mut tx_held = Held([0; MAX_TX_BUFFERS / 64]);
        for (i, slot) in tx_pool.iter_mut().enumerate().take(tx_buffers) {
            *slot = (tx_buffers - 1 - i) as u16;
            tx_held.set(i, true);
        }
        NetClient {
            q,
            data,
            rx_buffers,
            tx_buffers,
            tx_pool,
            tx_free_count: tx_buffers,
            tx_held,
            failed: None,
            stack,
            stats: ClientStats::default(),
        }
    }

    /// rx buffers and tx buffers.
    pub fn buffers(&self) -> (usize, usize) {
        (self.rx_buffers, self.tx_buffers)
    }

    /// Free tx buffers now.
    pub fn tx_buffers_free(&self) -> usize {
        self.tx_free_count
    }

    /// The queue error that stopped the client, if any.
    pub fn failure(&self) -> Option<QueueError> {
        self.failed
    }

    /// Give every rx buffer to the driver, send the stack's first frames,
    /// then service the queues. Returns which sides of the driver to
    /// notify.
    pub fn start(&mut self, on_event: &mut dyn FnMut(Event)) -> Notify {
        let r = (|| -> Result<Notify, QueueError> {
            let rx_io = self.data.rx_io;
            let buffers = (0..self.rx_buffers).map(|i| NetBuffer { io_or_offset: io_addr(rx_io, i), len: 0, oid: 0 });
            if self.q.rx_free.stage_from(buffers)? as usize != self.rx_buffers {
                // The free queue holds fewer than the buffers configured.
                return Err(QueueError::Full);
            }
            let sent = self.send_own()?;
            let rx = self.rx_buffers > 0 && self.q.rx_free.require_signal()?;
            let tx = sent && self.q.tx_active.require_signal()?;
            Ok(Notify { rx, tx })
        })();
        let first = self.settle(r);
        let then = self.notified(on_event);
        Notify { rx: first.rx || then.rx, tx: first.tx || then.tx }
    }

    /// Queue the host's own frames while tx buffers last.
    fn send_own(&mut self) -> Result<bool, QueueError> {
        let mut out = [0u8; NET_BUFFER_SIZE];
        let mut sent = false;
        while self.tx_free_count > 0 {
            let Some(n) = self.stack.poll_send(&mut out) else { break };
            sent |= self.send(out.get(..n).unwrap_or(&[]))?;
        }
        Ok(sent)
    }

    fn settle(&mut self, r: Result<Notify, QueueError>) -> Notify {
        match r {
            Ok(n) => {
                self.stats.notifications += u64::from(n.rx) + u64::from(n.tx);
                n
            }
            Err(e) => {
                self.failed = Some(e);
                Notify::default()
            }
        }
    }

    /// Queue `frame` on tx active (staged, not published); false if no tx
    /// buffer is free.
    fn send(&mut self, frame: &[u8]) -> Result<bool, QueueError> {
        if self.tx_free_count == 0 {
            self.stats.tx_no_buffer += 1;
            return Ok(false);
        }
        self.tx_free_count -= 1;
        let i = usize::from(self.tx_pool[self.tx_free_count]);
        self.tx_held.set(i, false);
        self.data.tx.copy_in(i * NET_BUFFER_SIZE, frame).map_err(|_| QueueError::OutOfBounds)?;
        let len = u16::try_from(frame.len()).map_err(|_| QueueError::OutOfBounds)?;
        self.q.tx_active.stage(NetBuffer { io_or_offset: io_addr(self.data.tx_io, i), len, oid: 0 })?;
        self.stats.tx_frames += 1;
        Ok(true)
    }

    /// The driver signalled (or the client starts): take every received
    /// frame and sent buffer, answer, and ask for the next signal.
    /// Returns which sides of the driver to notify.
    pub fn notified(&mut self, on_event: &mut dyn FnMut(Event)) -> Notify {
        if self.failed.is_some() {
            return Notify::default();
        }
        let r = self.pump(on_event);
        self.settle(r)
    }

    fn pump(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<Notify, QueueError> {
        let mut notify = Notify::default();
        let mut frame = [0u8; NET_BUFFER_SIZE];
        let mut out = [0u8; NET_BUFFER_SIZE];
        loop {
            let (tx_io, tx_buffers) = (self.data.tx_io, self.tx_buffers);
            self.q.tx_free.take_each(u32::MAX, |b| match buffer_index(b.io_or_offset, tx_io, tx_buffers) {
                Some(i) if !self.tx_held.get(i) => {
                    self.tx_held.set(i, true);
                    self.tx_pool[self.tx_free_count] = i as u16;
                    self.tx_free_count += 1;
                }
                _ => self.stats.bad_descriptors += 1,
            })?;
            let (mut freed, mut sent) = (false, false);
            while let Some(b) = self.q.rx_active.take()? {
                let len = usize::from(b.len);
                let i = match buffer_index(b.io_or_offset, self.data.rx_io, self.rx_buffers) {
                    Some(i) if len <= NET_BUFFER_SIZE => i,
                    _ => {
                        self.stats.bad_descriptors += 1;
                        continue;
                    }
                };
                if len == 0 {
                    self.stats.empty_frames += 1;
                } else {
                    self.stats.rx_frames += 1;
                    let f = &mut frame[..len];
                    self.data.rx.copy_out(i * NET_BUFFER_SIZE, f).map_err(|_| QueueError::OutOfBounds)?;
                    let h = self.stack.handle(f, &mut out);
                    if let Some(n) = h.reply {
                        sent |= self.send(out.get(..n).unwrap_or(&[]))?;
                    }
                    if let Some(e) = h.event {
                        on_event(e);
                    }
                }
                // Straight back to the driver: the frame has been copied.
                self.q.rx_free.stage(NetBuffer { io_or_offset: b.io_or_offset, len: 0, oid: b.oid })?;
                freed = true;
            }
            sent |= self.send_own()?;
            if freed {
                notify.rx |= self.q.rx_free.require_signal()?;
            }
            if sent {
                notify.tx |= self.q.tx_active.require_signal()?;
            }
            let mut again = self.q.rx_active.request_signal()?;
            if self.tx_free_count == 0 {
                again |= self.q.tx_free.request_signal()?;
            } else {
                self.q.tx_free.publish()?;
                self.q.tx_free.cancel_signal()?;
            }
            if !again {
                return Ok(notify);
            }
        }
    }
}
