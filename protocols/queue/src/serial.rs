//! sDDF serial queues: characters in a separate data region.
//!
//! Layout (bytes; sDDF `include/sddf/serial/queue.h`): header
//! `{tail u32 @0, head u32 @4, producer_signalled u32 @8}` (12 B); the
//! characters live in their own region of `capacity` bytes, at
//! `index % capacity`. A serial producer may fill all `capacity` bytes.
//!
//! Signalling runs the other way from net: the *producer*, when it finds
//! the queue full, clears `producer_signalled`
//! ([`Producer::request_signal`]), re-checks for room and, if room
//! appeared, sets the flag again and goes on; the *consumer*, after
//! freeing room, notifies the producer only if the flag is clear, and sets
//! it ([`Consumer::require_signal`]). The producer notifies the consumer
//! after every batch it enqueues (there is no consumer-side flag).

use crate::QueueError;
use crate::mem::QueueMemory;
use crate::ring::{Consumer, Producer, QueueKind, flag};
use sevio_sharedmem::SharedMemory;

/// Layout of a serial queue header (`serial_queue_t`).
#[derive(Debug)]
pub struct SerialQueue;
impl QueueKind for SerialQueue {
    type Index = u32;
    type Entry = u8;
    const HEAD: usize = 4;
    const TAIL: usize = 0;
    const HEADER_SIZE: usize = 12;
    const SLACK: u32 = 0;
}

/// Byte offset of `producer_signalled` in the serial queue header.
pub const PRODUCER_SIGNALLED_OFFSET: usize = 8;

/// Producer end of a serial queue.
pub type SerialProducer<M = SharedMemory> = Producer<SerialQueue, M>;
/// Consumer end of a serial queue.
pub type SerialConsumer<M = SharedMemory> = Consumer<SerialQueue, M>;

impl<M: QueueMemory> Producer<SerialQueue, M> {
    /// The producer end of the serial queue whose header is in `header`
    /// and whose `capacity` characters are in `data`.
    pub fn new(header: M, data: M, capacity: u32) -> Result<Self, QueueError> {
        Self::with_entries(header, data, 0, capacity)
    }

    /// Enqueue as much of `bytes` as fits and publish it (release store of
    /// `tail`); returns how many were taken. Caller: producer.
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, QueueError> {
        let mut n = 0;
        for &b in bytes {
            match self.stage(b) {
                Ok(()) => n += 1,
                Err(QueueError::Full) => break,
                Err(e) => return Err(e),
            }
        }
        self.publish()?;
        Ok(n)
    }

    /// Ask the consumer for a notification when it frees room. Caller:
    /// producer, when it found the queue full and will wait.
    ///
    /// Clears `producer_signalled`, SeqCst fence (pairs with the one in
    /// [`Consumer::require_signal`]), reloads `head` (acquire). If room
    /// appeared the flag is set again and `Ok(true)` says "go on writing";
    /// `Ok(false)`: safe to wait, the consumer will notify.
    pub fn request_signal(&mut self) -> Result<bool, QueueError> {
        self.publish()?;
        let h = self.header().clone();
        flag::request(&h, PRODUCER_SIGNALLED_OFFSET, || self.free().map(|n| n > 0))
    }

    /// Tell the consumer not to notify (set `producer_signalled`).
    pub fn cancel_signal(&self) -> Result<(), QueueError> {
        flag::set(self.header(), PRODUCER_SIGNALLED_OFFSET)
    }
}

impl<M: QueueMemory> Consumer<SerialQueue, M> {
    /// The consumer end of the serial queue (`header`, `data`, `capacity`
    /// as in [`Producer::new`]).
    pub fn new(header: M, data: M, capacity: u32) -> Result<Self, QueueError> {
        Self::with_entries(header, data, 0, capacity)
    }

    /// Dequeue up to `out.len()` characters and publish their removal
    /// (release store of `head`); returns how many. Caller: consumer.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, QueueError> {
        let mut n = 0;
        while n < out.len() {
            match self.take()? {
                Some(b) => {
                    out[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        self.publish()?;
        Ok(n)
    }

    /// Publish the head, then decide whether to notify the producer.
    /// Caller: consumer, after it freed room.
    ///
    /// SeqCst fence (pairs with [`Producer::request_signal`]), then a load
    /// of `producer_signalled`: if clear, it is set and `Ok(true)` says
    /// "notify the producer now".
    pub fn require_signal(&mut self) -> Result<bool, QueueError> {
        self.publish()?;
        flag::require(self.header(), PRODUCER_SIGNALLED_OFFSET)
    }
}
