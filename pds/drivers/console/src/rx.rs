//! Input: RX buffers in the driver's DMA region, posted on the receiveq,
//! filled by the device, copied into the client's rx serial queue.
//!
//! Each buffer is in one of three states: free (ours, empty), posted (the
//! device's), filled (ours, holding `len` bytes of which `copied` have
//! reached the client). Filled buffers are drained in the order the
//! device used them, so the client sees the bytes in the order they
//! arrived. A buffer is posted again only once it is drained: while the
//! client's queue is full the posted buffers run out and the device
//! stops taking input (QEMU then stops reading its chardev), so nothing
//! is lost, only delayed.

use crate::fifo::SlotFifo;
use crate::{BUFFER_SIZE, QUEUE_SIZE, RX_BUFFERS};
use sevio_driver_core::{DmaSlots, DriverQueue};
use sevio_queue::{QueueError, SerialProducer};
use sevio_virtio::{Buffer, Used};

/// Bytes moved per copy step (a stack buffer).
const CHUNK: usize = 128;
const NO_SLOT: u8 = u8::MAX;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Posted,
    Filled { len: u32, copied: u32 },
}

/// What one [`Rx::drain`] did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Bytes handed to the client.
    pub bytes: u32,
    /// The client's queue filled up and a notification was asked for
    /// (for the first time since the last full drain).
    pub paused: bool,
}

/// The RX buffers and their states.
pub struct Rx {
    bufs: DmaSlots,
    slots: [Slot; RX_BUFFERS],
    by_token: [u8; QUEUE_SIZE],
    filled: SlotFifo<RX_BUFFERS>,
    paused: bool,
}

impl Rx {
    /// Buffers `bufs` (at least [`RX_BUFFERS`] of [`BUFFER_SIZE`] bytes),
    /// all free.
    pub fn new(bufs: DmaSlots) -> Self {
        Rx {
            bufs,
            slots: [Slot::Free; RX_BUFFERS],
            by_token: [NO_SLOT; QUEUE_SIZE],
            filled: SlotFifo::new(),
            paused: false,
        }
    }

    /// Whether input is held back because the client's queue is full.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Buffers the device holds.
    pub fn posted(&self) -> usize {
        self.slots.iter().filter(|s| **s == Slot::Posted).count()
    }

    /// Post every free buffer the queue has room for (the framework kicks
    /// if the device asks for it).
    ///
    /// VIRTIO 1.2 §5.3.6.1: "The driver MUST NOT put a device-readable
    /// [buffer] in a receiveq": each chain is one device-writable buffer.
    pub fn post(&mut self, queue: &mut DriverQueue<QUEUE_SIZE>) -> Result<(), sevio_virtio::Error> {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if *slot != Slot::Free || !queue.can_add(1) {
                continue;
            }
            let Some(buf) = self.bufs.get(i) else { continue };
            let token = queue.add(&[Buffer::writable(buf.paddr, BUFFER_SIZE as u32)])?;
            self.by_token[token.index() as usize % QUEUE_SIZE] = i as u8;
            *slot = Slot::Posted;
        }
        Ok(())
    }

    /// The device used a chain. Its length is at most [`BUFFER_SIZE`]:
    /// the split queue refuses a used length beyond the chain's writable
    /// bytes (VIRTIO 1.2 §2.7.8) before it gets here.
    pub fn used(&mut self, used: Used) {
        let token = used.token.index() as usize % QUEUE_SIZE;
        let slot = core::mem::replace(&mut self.by_token[token], NO_SLOT) as usize;
        if let Some(s @ Slot::Posted) = self.slots.get_mut(slot) {
            *s = Slot::Filled { len: used.len.min(BUFFER_SIZE as u32), copied: 0 };
            self.filled.push(slot as u8);
        }
    }

    /// The device is gone (unbound, failed, reset): what it held is free
    /// again; filled buffers keep their bytes and still drain.
    pub fn device_gone(&mut self) {
        for s in &mut self.slots {
            if *s == Slot::Posted {
                *s = Slot::Free;
            }
        }
        self.by_token = [NO_SLOT; QUEUE_SIZE];
    }

    /// Copy filled buffers, oldest first, into the client's queue until
    /// they are all drained or the queue is full. When it is full, ask
    /// the client for a notification when it frees room
    /// (`producer_signalled` cleared); if room appeared meanwhile, go on.
    pub fn drain(&mut self, client: &mut SerialProducer) -> Result<Drained, QueueError> {
        let mut out = Drained::default();
        let mut chunk = [0u8; CHUNK];
        while let Some(slot) = self.filled.front() {
            let i = slot as usize;
            let Some(Slot::Filled { len, mut copied }) = self.slots.get(i).copied() else {
                self.filled.pop();
                continue;
            };
            let mem = self.bufs.get(i).ok_or(QueueError::OutOfBounds)?.mem;
            while copied < len {
                let n = (len - copied).min(CHUNK as u32) as usize;
                mem.copy_out(copied as usize, &mut chunk[..n]).map_err(|_| QueueError::OutOfBounds)?;
                let written = client.write(&chunk[..n])?;
                copied += written as u32;
                out.bytes += written as u32;
                if written < n && !client.request_signal()? {
                    self.slots[i] = Slot::Filled { len, copied };
                    out.paused = !self.paused;
                    self.paused = true;
                    return Ok(out);
                }
            }
            self.slots[i] = Slot::Free;
            self.filled.pop();
        }
        self.paused = false;
        Ok(out)
    }
}
