//! The client's side of the sDDF net queues.
//!
//! The client owns `n` rx buffers and `n` tx buffers, 2048 bytes each at
//! offsets `i * 2048` of its rx and tx data regions (`n` = queue capacity
//! − 1, so no queue can ever be full). At start every rx buffer goes to
//! rx free. Each received frame is copied out, handed to the [`Stack`],
//! and its buffer goes straight back to rx free; a reply is copied into a
//! free tx buffer and queued on tx active, and so are the host's own
//! frames ([`Stack::poll_send`]) while tx buffers last. Sent buffers come
//! back on tx free.
//!
//! Buffers coming back from the driver are checked: an offset that is
//! not one of ours, a tx buffer we already hold, or a length beyond 2048
//! is counted and the descriptor dropped.
//!
//! Signalling, as sDDF clients do: after publishing on rx free / tx
//! active, notify the driver if it asked (`require_signal`); before
//! sleeping, ask for signals on rx active always and on tx free only when
//! out of tx buffers (otherwise sent buffers are collected on the next
//! wake-up anyway; a flood that waits for buffers is out of them).

use crate::stack::{Event, Stack};
use sevio_queue::net::NET_BUFFER_SIZE;
use sevio_queue::{NetBuffer, NetConsumer, NetProducer, QueueError};
use sevio_sharedmem::SharedMemory;

/// Most buffers of each kind (queue capacity 256, minus one).
pub const MAX_BUFFERS: usize = 255;

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

/// The client's data regions.
#[derive(Copy, Clone, Debug)]
pub struct Data {
    /// rx buffers.
    pub rx: SharedMemory,
    /// tx buffers.
    pub tx: SharedMemory,
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
    /// Notifications to the driver asked for.
    pub notifications: u64,
}

/// Which tx buffers the client holds (a 256-bit set).
#[derive(Copy, Clone, Debug, Default)]
struct Held([u64; 4]);

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
    buffers: usize,
    /// Free tx buffers (a stack of indices).
    tx_pool: [u8; MAX_BUFFERS],
    tx_free_count: usize,
    tx_held: Held,
    failed: Option<QueueError>,
    /// The host.
    pub stack: Stack,
    /// Counters.
    pub stats: ClientStats,
}

fn buffer_index(offset: u64, buffers: usize) -> Option<usize> {
    // NET_BUFFER_SIZE is a power of two.
    if offset & (NET_BUFFER_SIZE as u64 - 1) != 0 {
        return None;
    }
    let i = usize::try_from(offset / NET_BUFFER_SIZE as u64).ok()?;
    (i < buffers).then_some(i)
}

fn offset_of(i: usize) -> u64 {
    (i * NET_BUFFER_SIZE) as u64
}

impl NetClient {
    /// A client over `q` and `data`; as many buffers as the queues and
    /// both regions allow (at most [`MAX_BUFFERS`]).
    pub fn new(q: Queues, data: Data, stack: Stack) -> NetClient {
        let by_queue = (q.rx_free.capacity().min(q.tx_active.capacity()) as usize).saturating_sub(1);
        let by_region = (data.rx.len().min(data.tx.len())) / NET_BUFFER_SIZE;
        let buffers = by_queue.min(by_region).min(MAX_BUFFERS);
        let mut tx_pool = [0u8; MAX_BUFFERS];
        let mut tx_held = Held::default();
        for (i, slot) in tx_pool.iter_mut().enumerate().take(buffers) {
            *slot = (buffers - 1 - i) as u8;
            tx_held.set(i, true);
        }
        NetClient {
            q,
            data,
            buffers,
            tx_pool,
            tx_free_count: buffers,
            tx_held,
            failed: None,
            stack,
            stats: ClientStats::default(),
        }
    }

    /// Buffers of each kind.
    pub fn buffers(&self) -> usize {
        self.buffers
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
    /// then service the queues. Returns whether to notify the driver.
    pub fn start(&mut self, on_event: &mut dyn FnMut(Event)) -> bool {
        let r = (|| -> Result<bool, QueueError> {
            for i in 0..self.buffers {
                self.q.rx_free.stage(NetBuffer { io_or_offset: offset_of(i), len: 0, oid: 0 })?;
            }
            let sent = self.send_own()?;
            let mut notify = self.buffers > 0 && self.q.rx_free.require_signal()?;
            if sent {
                notify |= self.q.tx_active.require_signal()?;
            }
            Ok(notify)
        })();
        let first = self.settle(r);
        self.notified(on_event) | first
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

    fn settle(&mut self, r: Result<bool, QueueError>) -> bool {
        match r {
            Ok(true) => {
                self.stats.notifications += 1;
                true
            }
            Ok(false) => false,
            Err(e) => {
                self.failed = Some(e);
                false
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
        self.q.tx_active.stage(NetBuffer { io_or_offset: offset_of(i), len, oid: 0 })?;
        self.stats.tx_frames += 1;
        Ok(true)
    }

    /// The driver signalled (or the client starts): take every received
    /// frame and sent buffer, answer, and ask for the next signal.
    /// Returns whether to notify the driver.
    pub fn notified(&mut self, on_event: &mut dyn FnMut(Event)) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let r = self.pump(on_event);
        self.settle(r)
    }

    fn pump(&mut self, on_event: &mut dyn FnMut(Event)) -> Result<bool, QueueError> {
        let mut notify = false;
        let mut frame = [0u8; NET_BUFFER_SIZE];
        let mut out = [0u8; NET_BUFFER_SIZE];
        loop {
            while let Some(b) = self.q.tx_free.take()? {
                match buffer_index(b.io_or_offset, self.buffers) {
                    Some(i) if !self.tx_held.get(i) => {
                        self.tx_held.set(i, true);
                        self.tx_pool[self.tx_free_count] = i as u8;
                        self.tx_free_count += 1;
                    }
                    _ => self.stats.bad_descriptors += 1,
                }
            }
            let (mut freed, mut sent) = (false, false);
            while let Some(b) = self.q.rx_active.take()? {
                let len = usize::from(b.len);
                let i = match buffer_index(b.io_or_offset, self.buffers) {
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
                notify |= self.q.rx_free.require_signal()?;
            }
            if sent {
                notify |= self.q.tx_active.require_signal()?;
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
