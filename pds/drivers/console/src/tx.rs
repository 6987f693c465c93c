//! Output: characters taken from the client's tx serial queue into TX
//! buffers in the driver's DMA region, posted on the transmitq.
//!
//! The client's queue `head` means "the device has consumed everything
//! before this": the driver takes characters (its private head moves)
//! but publishes the head only when every buffer holding taken
//! characters has come back from the device. A client can therefore
//! tell when its output has left (the console client's PASS waits for
//! its banner this way), and a slow device slows the client down instead
//! of losing characters.
//!
//! Buffer states: free; pending (holds characters, not on a device: new,
//! or the device went away while it held them; posted again, in order,
//! when a device is up); in flight; done (used, waiting for older ones).
//! Buffers are kept in the order their characters were taken.

use crate::fifo::SlotFifo;
use crate::{BUFFER_SIZE, QUEUE_SIZE, TX_BUFFERS};
use sevio_driver_core::{DmaSlots, DriverQueue};
use sevio_queue::{QueueError, SerialConsumer};
use sevio_virtio::{Buffer, Used};

const CHUNK: usize = 128;
const NO_SLOT: u8 = u8::MAX;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Pending { len: u32 },
    InFlight { len: u32 },
    Done { len: u32 },
}

/// Why serving output stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TxError {
    /// The virtqueue refused a chain (it has failed).
    Queue(sevio_virtio::Error),
    /// The client's queue is unusable.
    Client(QueueError),
}

/// The TX buffers and their states.
pub struct Tx {
    bufs: DmaSlots,
    slots: [Slot; TX_BUFFERS],
    by_token: [u8; QUEUE_SIZE],
    order: SlotFifo<TX_BUFFERS>,
    /// Characters taken since the head was last published.
    unpublished: bool,
}

impl Tx {
    /// Buffers `bufs` (at least [`TX_BUFFERS`] of [`BUFFER_SIZE`] bytes),
    /// all free.
    pub fn new(bufs: DmaSlots) -> Self {
        Tx {
            bufs,
            slots: [Slot::Free; TX_BUFFERS],
            by_token: [NO_SLOT; QUEUE_SIZE],
            order: SlotFifo::new(),
            unpublished: false,
        }
    }

    /// Buffers holding characters the device has not consumed yet.
    pub fn outstanding(&self) -> usize {
        self.order.len()
    }

    /// Post pending buffers (in order), then take new characters from
    /// `client` into free buffers and post them, while the queue has
    /// room (the framework kicks if the device asks for it).
    ///
    /// VIRTIO 1.2 §5.3.6.1: "The driver MUST NOT put a device-writable
    /// buffer in a transmitq": each chain is one device-readable buffer.
    pub fn serve(
        &mut self,
        queue: &mut DriverQueue<QUEUE_SIZE>,
        client: Option<&mut SerialConsumer>,
    ) -> Result<(), TxError> {
        let mut order = [NO_SLOT; TX_BUFFERS];
        for (k, slot) in self.order.iter().enumerate() {
            order[k] = slot;
        }
        for slot in order.into_iter().take(self.order.len()) {
            let Some(Slot::Pending { len }) = self.slots.get(slot as usize).copied() else { continue };
            if !queue.can_add(1) {
                return Ok(());
            }
            self.post(queue, slot as usize, len)?;
        }
        let Some(client) = client else { return Ok(()) };
        while queue.can_add(1) {
            let Some(i) = self.slots.iter().position(|s| *s == Slot::Free) else { break };
            let len = self.take(i, client).map_err(TxError::Client)?;
            if len == 0 {
                break;
            }
            self.order.push(i as u8);
            self.post(queue, i, len)?;
        }
        Ok(())
    }

    fn post(&mut self, queue: &mut DriverQueue<QUEUE_SIZE>, i: usize, len: u32) -> Result<(), TxError> {
        let buf = self.bufs.get(i).ok_or(TxError::Client(QueueError::OutOfBounds))?;
        match queue.add(&[Buffer::readable(buf.paddr, len)]) {
            Ok(token) => {
                self.by_token[token.index() as usize % QUEUE_SIZE] = i as u8;
                self.slots[i] = Slot::InFlight { len };
                Ok(())
            }
            Err(e) => {
                self.slots[i] = Slot::Pending { len };
                Err(TxError::Queue(e))
            }
        }
    }

    /// Take up to [`BUFFER_SIZE`] characters from the client into buffer
    /// `i` (the client's head is not published).
    fn take(&mut self, i: usize, client: &mut SerialConsumer) -> Result<u32, QueueError> {
        let mem = self.bufs.get(i).ok_or(QueueError::OutOfBounds)?.mem;
        let mut chunk = [0u8; CHUNK];
        let mut len = 0;
        loop {
            let mut n = 0;
            while n < CHUNK && len + n < BUFFER_SIZE {
                match client.take()? {
                    Some(c) => {
                        chunk[n] = c;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                break;
            }
            mem.copy_in(len, &chunk[..n]).map_err(|_| QueueError::OutOfBounds)?;
            len += n;
            self.unpublished = true;
        }
        Ok(len as u32)
    }

    /// The device used a chain (its used length means nothing for a
    /// transmitq and is ignored).
    pub fn used(&mut self, used: Used) {
        let token = used.token.index() as usize % QUEUE_SIZE;
        let slot = core::mem::replace(&mut self.by_token[token], NO_SLOT) as usize;
        if let Some(Slot::InFlight { len }) = self.slots.get(slot).copied() {
            self.slots[slot] = Slot::Done { len };
        }
    }

    /// Free the done buffers at the front of the order; returns the bytes
    /// they held. When nothing taken is outstanding any more, publish the
    /// client's head; `Ok(true)`: the client asked to be told (notify it).
    pub fn settle(&mut self, client: Option<&mut SerialConsumer>) -> Result<(u32, bool), QueueError> {
        let mut bytes = 0;
        while let Some(slot) = self.order.front() {
            let Slot::Done { len } = self.slots[slot as usize] else { break };
            bytes += len;
            self.slots[slot as usize] = Slot::Free;
            self.order.pop();
        }
        let Some(client) = client else { return Ok((bytes, false)) };
        if !self.order.is_empty() || !self.unpublished {
            return Ok((bytes, false));
        }
        self.unpublished = false;
        Ok((bytes, client.require_signal()?))
    }

    /// The device is gone: what it held becomes pending again (posted to
    /// the next device first).
    pub fn device_gone(&mut self) {
        for s in &mut self.slots {
            if let Slot::InFlight { len } = *s {
                *s = Slot::Pending { len };
            }
        }
        self.by_token = [NO_SLOT; QUEUE_SIZE];
    }
}
