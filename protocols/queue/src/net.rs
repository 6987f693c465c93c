//! sDDF network queues: the free and active queues of a client.
//!
//! Layout (bytes; sDDF `include/sddf/network/queue.h`):
//! - buffer descriptor `{io_or_offset u64 @0, len u16 @8, oid u8:6 @10}`
//!   = 16 B (oid in the low six bits of byte 10);
//! - queue header `{tail u16 @0, head u16 @2, consumer_signalled u32 @4}`,
//!   entries at 8. Note: tail before head (blk is the other way round).
//! - A client's free and active queues have the same capacity, given by
//!   the configuration (sdfgen's `num_buffers`); a producer fills all of
//!   it, as sDDF 0.7.0's do.
//!
//! Signalling (the consumer decides whether it wants a notification):
//! the consumer, before it sleeps, clears `consumer_signalled`
//! ([`Consumer::request_signal`]), re-checks the queue and, if work
//! appeared, sets the flag again and goes on. The producer, after
//! publishing, notifies only if it finds the flag clear, and sets it
//! ([`Producer::require_signal`]). Both sides put a sequentially
//! consistent fence between their store and their load (the store-load
//! pattern needs it; release/acquire alone lets both sides miss each
//! other). The loom model in `tests/loom.rs` checks there is no lost
//! wake-up.

use crate::QueueError;
use crate::mem::{QueueMemory, RecordAccess, SlotMemory};
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind, flag};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// Size of one network buffer (sDDF `NET_BUFFER_SIZE`).
pub const NET_BUFFER_SIZE: usize = 2048;

/// A network buffer descriptor.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct NetBuffer {
    /// The buffer's I/O address (what a driver hands its device; sDDF's
    /// virtualisers and sevio's clients name buffers this way to a
    /// driver), or an offset in a data region between other components.
    pub io_or_offset: u64,
    /// Bytes of packet data in the buffer.
    pub len: u16,
    /// Owner id (6 bits; higher bits are dropped on store and load).
    pub oid: u8,
}

impl NetBuffer {
    /// Size in the entry array.
    pub const SIZE: usize = 16;
}

/// An entry is two 8-byte words: `io_or_offset`, then `len` (bytes 8-9),
/// `oid` (byte 10, low six bits) and the struct's padding (bytes 11-15),
/// written as zeros. sDDF's own `net_enqueue_*` copy the whole 16-byte
/// struct, padding included, so a peer never relies on those bytes; two
/// accesses instead of three per entry on either side.
impl Entry for NetBuffer {
    const SIZE: usize = 16;
    #[inline(always)]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index)?;
        let io_or_offset = r.read_u64(0)?;
        let rest = r.read_u64(8)?;
        Some(NetBuffer { io_or_offset, len: rest as u16, oid: (rest >> 16) as u8 & 0x3f })
    }
    #[inline(always)]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        let r = slots.slot::<{ <Self as Entry>::SIZE }>(index).ok_or(OutOfBounds)?;
        r.write_u64(0, self.io_or_offset)?;
        r.write_u64(8, u64::from(self.len) | u64::from(self.oid & 0x3f) << 16)
    }
}

/// Layout of a net queue (`net_queue_t`), free or active.
#[derive(Debug)]
pub struct NetQueue;
impl QueueKind for NetQueue {
    type Index = u16;
    type Entry = NetBuffer;
    const HEAD: usize = 2;
    const TAIL: usize = 0;
    const HEADER_SIZE: usize = 8;
    // sDDF 0.7.0's net producers fill every slot (`net_queue_full_free`:
    // `tail - head == capacity`), and its rx virtualiser hands the driver
    // all `num_buffers` buffers at once.
    const SLACK: u32 = 0;
}
impl InlineKind for NetQueue {}

/// Byte offset of `consumer_signalled` in the net queue header.
pub const CONSUMER_SIGNALLED_OFFSET: usize = 4;

/// Producer end of a net queue.
pub type NetProducer<M = SharedMemory> = Producer<NetQueue, M>;
/// Consumer end of a net queue.
pub type NetConsumer<M = SharedMemory> = Consumer<NetQueue, M>;

impl<M: QueueMemory> Consumer<NetQueue, M> {
    /// Ask the producer for a notification before going to sleep. Caller:
    /// consumer, after it has drained (and published) the queue.
    ///
    /// Clears `consumer_signalled`, then (SeqCst fence, pairing with the
    /// one in [`Producer::require_signal`]) reloads `tail` (acquire). If
    /// entries arrived meanwhile the flag is set again and `Ok(true)` is
    /// returned: keep consuming and call this again afterwards. `Ok(false)`:
    /// safe to sleep; the producer will notify.
    pub fn request_signal(&mut self) -> Result<bool, QueueError> {
        self.publish()?;
        let h = self.header().clone();
        flag::request(&h, CONSUMER_SIGNALLED_OFFSET, || self.is_empty().map(|e| !e))
    }

    /// Tell the producer not to notify (set `consumer_signalled`). Caller:
    /// consumer.
    pub fn cancel_signal(&self) -> Result<(), QueueError> {
        flag::set(self.header(), CONSUMER_SIGNALLED_OFFSET)
    }
}

impl<M: QueueMemory> Producer<NetQueue, M> {
    /// Publish staged entries, then decide whether to notify the consumer.
    /// Caller: producer, after enqueueing a batch.
    ///
    /// After the release store of `tail`, a SeqCst fence (pairing with the
    /// one in [`Consumer::request_signal`]) and a load of
    /// `consumer_signalled`: if it is clear, it is set and `Ok(true)` says
    /// "notify the consumer now". Never misses a consumer that went to
    /// sleep after requesting a signal.
    pub fn require_signal(&mut self) -> Result<bool, QueueError> {
        self.publish()?;
        flag::require(self.header(), CONSUMER_SIGNALLED_OFFSET)
    }
}
