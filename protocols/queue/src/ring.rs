//! The single-producer single-consumer ring shared by every client queue.
//!
//! sDDF's queues are all the same machine: a header with a free-running
//! `tail` (written only by the producer) and `head` (written only by the
//! consumer), entries at `index % capacity`, and a capacity agreed out of
//! band (system configuration), never read from shared memory. This module
//! implements that machine once, generic over the header layout
//! ([`QueueKind`]), the index width ([`Index`]) and the entry ([`Entry`]).
//!
//! Ordering, the same for every kind:
//! - the producer writes an entry, then publishes `tail` with a *release*
//!   store; the consumer loads `tail` with *acquire* before reading entries.
//! - the consumer reads an entry, then publishes `head` with a *release*
//!   store; the producer loads `head` with *acquire* before overwriting the
//!   slot.
//!
//! Each side caches its own index (it is the only writer) and the peer's
//! last-seen index, reloading the peer's only when the cache says
//! empty/full, and may publish its own index once per batch
//! ([`Producer::stage`] + [`Producer::publish`], [`Consumer::take`] +
//! [`Consumer::publish`]).
//!
//! Untrusted peer: an index loaded from shared memory is checked before
//! use. A `tail - head` distance larger than the capacity is reported as
//! [`QueueError::PeerIndex`] and nothing is read; slots are always
//! addressed `index & (capacity - 1)`, so even an unchecked index could not
//! leave the entry array.
//!
//! Capacity: sDDF addresses slots `index % capacity` with the capacity its
//! configuration gives (sdfgen's `num_buffers`). For a power of two that is
//! `index & (capacity - 1)`, the same slot. Any other capacity is refused
//! ([`QueueError::BadCapacity`]): with free-running 32-bit indices,
//! `index % capacity` jumps at the wrap (for capacity 3, indices
//! `2^32 - 1` and `0` both name slot 0), so a non-power-of-two queue would
//! overwrite a live entry there, on both sides alike.
//!
//! Panic contract: no method panics.

use crate::QueueError;
use crate::mem::{QueueMemory, RecordAccess, SlotMemory};
use core::fmt::Debug;
use core::marker::PhantomData;
use core::sync::atomic::Ordering::{Acquire, Release};
use sevio_sharedmem::{OutOfBounds, SharedMemory};

/// A queue index as stored in the header: `u16` (net) or `u32` (blk,
/// serial). Free-running; wraps at its width.
pub trait Index: Copy + Eq + Debug + private::Sealed {
    /// The largest capacity this width supports (`tail - head` must fit).
    const MAX_CAPACITY: u32;
    /// Atomic load from queue memory.
    fn load<M: QueueMemory>(mem: &M, offset: usize, order: core::sync::atomic::Ordering) -> Option<Self>;
    /// Atomic store to queue memory.
    fn store<M: QueueMemory>(
        self,
        mem: &M,
        offset: usize,
        order: core::sync::atomic::Ordering,
    ) -> Result<(), OutOfBounds>;
    /// `self - earlier`, wrapping at the index width.
    fn distance(self, earlier: Self) -> u32;
    /// `self + n`, wrapping at the index width.
    fn advance(self, n: u32) -> Self;
    /// The index widened to u32 (for slot arithmetic and error reports).
    fn get(self) -> u32;
}

impl Index for u16 {
    const MAX_CAPACITY: u32 = 1 << 15;
    #[inline(always)]
    fn load<M: QueueMemory>(mem: &M, offset: usize, order: core::sync::atomic::Ordering) -> Option<Self> {
        mem.load_u16(offset, order)
    }
    #[inline(always)]
    fn store<M: QueueMemory>(
        self,
        mem: &M,
        offset: usize,
        order: core::sync::atomic::Ordering,
    ) -> Result<(), OutOfBounds> {
        mem.store_u16(offset, self, order)
    }
    #[inline(always)]
    fn distance(self, earlier: Self) -> u32 {
        u32::from(self.wrapping_sub(earlier))
    }
    #[inline(always)]
    fn advance(self, n: u32) -> Self {
        self.wrapping_add(n as u16)
    }
    #[inline(always)]
    fn get(self) -> u32 {
        u32::from(self)
    }
}

impl Index for u32 {
    const MAX_CAPACITY: u32 = 1 << 31;
    #[inline(always)]
    fn load<M: QueueMemory>(mem: &M, offset: usize, order: core::sync::atomic::Ordering) -> Option<Self> {
        mem.load_u32(offset, order)
    }
    #[inline(always)]
    fn store<M: QueueMemory>(
        self,
        mem: &M,
        offset: usize,
        order: core::sync::atomic::Ordering,
    ) -> Result<(), OutOfBounds> {
        mem.store_u32(offset, self, order)
    }
    #[inline(always)]
    fn distance(self, earlier: Self) -> u32 {
        self.wrapping_sub(earlier)
    }
    #[inline(always)]
    fn advance(self, n: u32) -> Self {
        self.wrapping_add(n)
    }
    #[inline(always)]
    fn get(self) -> u32 {
        self
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
}

/// A queue entry: a fixed-size record read and written field by field
/// (plain volatile accesses; never a reference into shared memory).
pub trait Entry: Copy {
    /// Size of one entry in the entry array, in bytes.
    const SIZE: usize;
    /// Read entry `index` of `slots` (`slots.slot::<{ Self::SIZE }>`).
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self>;
    /// Write entry `index` of `slots`.
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds>;
}

/// The serial queue's entries are single characters.
impl Entry for u8 {
    const SIZE: usize = 1;
    #[inline(always)]
    fn load<S: SlotMemory>(slots: &S, index: u32) -> Option<Self> {
        slots.slot::<1>(index)?.read_u8(0)
    }
    #[inline(always)]
    fn store<S: SlotMemory>(&self, slots: &S, index: u32) -> Result<(), OutOfBounds> {
        slots.slot::<1>(index).ok_or(OutOfBounds)?.write_u8(0, *self)
    }
}

/// A header layout: where `head` and `tail` live, how wide they are, what
/// an entry is and where the entry array starts.
pub trait QueueKind {
    /// Index width.
    type Index: Index;
    /// Entry type.
    type Entry: Entry;
    /// Byte offset of `head` in the header.
    const HEAD: usize;
    /// Byte offset of `tail` in the header.
    const TAIL: usize;
    /// Size of the header in bytes (for inline kinds, where entries start).
    const HEADER_SIZE: usize;
    /// How many slots a producer leaves empty. sDDF 0.7.0's producers fill
    /// every slot (`tail - head == capacity` is full, `include/sddf/blk/queue.h`
    /// `blk_queue_full_req`), so a kind that matches it says 0; a kind
    /// with 1 stops at `capacity - 1`, which an sDDF peer tolerates (it
    /// only ever sees fewer entries). Consumers accept up to `capacity`
    /// either way.
    const SLACK: u32;
}

/// A kind whose entry array directly follows its header in the same region.
pub trait InlineKind: QueueKind {}

/// Check the capacity and the regions; the entry array, checked once.
fn check_geometry<K: QueueKind, M: QueueMemory>(
    header: &M,
    entries: &M,
    base: usize,
    capacity: u32,
) -> Result<M::Slots, QueueError> {
    if capacity < 2 || !capacity.is_power_of_two() || capacity > <K::Index as Index>::MAX_CAPACITY {
        return Err(QueueError::BadCapacity { capacity });
    }
    if header.len() < K::HEADER_SIZE {
        return Err(QueueError::RegionTooSmall { needed: K::HEADER_SIZE, len: header.len() });
    }
    let needed = (capacity as usize)
        .checked_mul(<K::Entry as Entry>::SIZE)
        .and_then(|n| n.checked_add(base))
        .ok_or(QueueError::BadCapacity { capacity })?;
    if entries.len() < needed {
        return Err(QueueError::RegionTooSmall { needed, len: entries.len() });
    }
    // In the region (checked above); misaligned for its fields otherwise.
    entries.slots(base, capacity, <K::Entry as Entry>::SIZE).ok_or(QueueError::OutOfBounds)
}

fn load_index<K: QueueKind, M: QueueMemory>(mem: &M, offset: usize) -> Result<K::Index, QueueError> {
    K::Index::load(mem, offset, Acquire).ok_or(QueueError::OutOfBounds)
}

/// Check a (tail, head) pair the peer may have written.
#[inline(always)]
fn check_distance<I: Index>(tail: I, head: I, capacity: u32) -> Result<u32, QueueError> {
    let n = tail.distance(head);
    if n > capacity {
        return Err(QueueError::PeerIndex { head: head.get(), tail: tail.get(), capacity });
    }
    Ok(n)
}

/// The producer end of a queue: the only writer of `tail`.
///
/// Caller: exactly one PD (thread) per queue, the producer. Not `Clone`.
#[derive(Debug)]
pub struct Producer<K: QueueKind, M: QueueMemory = SharedMemory> {
    header: M,
    /// The entries, checked once at construction.
    slots: M::Slots,
    capacity: u32,
    /// Next slot to fill (may be ahead of the published tail).
    tail: K::Index,
    /// The tail value last stored to shared memory.
    published: K::Index,
    /// The consumer's head as last loaded.
    head: K::Index,
    _kind: PhantomData<K>,
}

/// The consumer end of a queue: the only writer of `head`.
///
/// Caller: exactly one PD (thread) per queue, the consumer. Not `Clone`.
#[derive(Debug)]
pub struct Consumer<K: QueueKind, M: QueueMemory = SharedMemory> {
    header: M,
    /// The entries, checked once at construction.
    slots: M::Slots,
    capacity: u32,
    /// Next slot to read (may be ahead of the published head).
    head: K::Index,
    /// The head value last stored to shared memory.
    published: K::Index,
    /// The producer's tail as last loaded (checked).
    tail: K::Index,
    _kind: PhantomData<K>,
}

impl<K: InlineKind, M: QueueMemory> Producer<K, M> {
    /// The producer end of the queue in `region` (header, then `capacity`
    /// entries). Reads the current indices; errors if `capacity` is not a
    /// power of two in `2..=MAX_CAPACITY`, the region is too small, or the
    /// indices already in memory are inconsistent.
    pub fn new(region: M, capacity: u32) -> Result<Self, QueueError> {
        Self::with_entries(region.clone(), region, K::HEADER_SIZE, capacity)
    }
}

impl<K: InlineKind, M: QueueMemory> Consumer<K, M> {
    /// The consumer end of the queue in `region`; errors as
    /// [`Producer::new`].
    pub fn new(region: M, capacity: u32) -> Result<Self, QueueError> {
        Self::with_entries(region.clone(), region, K::HEADER_SIZE, capacity)
    }
}

impl<K: QueueKind, M: QueueMemory> Producer<K, M> {
    pub(crate) fn with_entries(header: M, entries: M, base: usize, capacity: u32) -> Result<Self, QueueError> {
        let slots = check_geometry::<K, M>(&header, &entries, base, capacity)?;
        let tail = load_index::<K, M>(&header, K::TAIL)?;
        let head = load_index::<K, M>(&header, K::HEAD)?;
        check_distance(tail, head, capacity)?;
        Ok(Producer { header, slots, capacity, tail, published: tail, head, _kind: PhantomData })
    }

    /// The capacity given at construction.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The free-running index the next staged entry takes (widened to
    /// u32): a driver that must know, after a restart, whether an entry it
    /// staged was published compares this against the stored `tail`.
    pub fn next_index(&self) -> u32 {
        self.tail.get()
    }

    /// The `tail` this producer last stored (what the consumer can see).
    pub fn published_index(&self) -> u32 {
        self.published.get()
    }

    /// Published entries the consumer has not taken yet (reloads `head`,
    /// acquire).
    pub fn unconsumed(&mut self) -> Result<u32, QueueError> {
        self.reload_head()?;
        Ok(self.published.distance(self.head))
    }

    /// How many more entries fit now (reloads `head`, acquire; pairs with
    /// the consumer's release in [`Consumer::publish`]).
    pub fn free(&mut self) -> Result<u32, QueueError> {
        self.reload_head()?;
        Ok(self.room())
    }

    #[inline(always)]
    fn room(&self) -> u32 {
        (self.capacity - K::SLACK).saturating_sub(self.tail.distance(self.head))
    }

    #[inline]
    fn reload_head(&mut self) -> Result<(), QueueError> {
        let head = load_index::<K, M>(&self.header, K::HEAD)?;
        // The consumer can only have seen the published tail.
        check_distance(self.published, head, self.capacity)?;
        self.head = head;
        Ok(())
    }

    /// Write `entry` into the next slot without publishing it. Caller:
    /// producer. Reloads `head` (acquire, pairs with [`Consumer::publish`]'s
    /// release) only when the cached value says full.
    #[inline]
    pub fn stage(&mut self, entry: K::Entry) -> Result<(), QueueError> {
        if self.room() == 0 {
            self.reload_head()?;
            if self.room() == 0 {
                return Err(QueueError::Full);
            }
        }
        entry.store(&self.slots, self.tail.get()).map_err(|_| QueueError::OutOfBounds)?;
        self.tail = self.tail.advance(1);
        Ok(())
    }

    /// Make every staged entry visible: store `tail` with release (pairs
    /// with the consumer's acquire load of `tail`). Caller: producer.
    #[inline]
    pub fn publish(&mut self) -> Result<(), QueueError> {
        if self.tail != self.published {
            self.tail.store(&self.header, K::TAIL, Release).map_err(|_| QueueError::OutOfBounds)?;
            self.published = self.tail;
        }
        Ok(())
    }

    /// Stage entries from `entries` while there is room, without
    /// publishing them; returns how many were staged (the rest of the
    /// iterator is not drawn from). Caller: producer.
    ///
    /// The chunk form of [`stage`](Self::stage): the room is worked out
    /// once for the whole run (reloading `head`, acquire, only when the
    /// cached value says there is less room than the run could use), so
    /// each entry costs its stores and nothing else.
    #[inline]
    pub fn stage_from<I: IntoIterator<Item = K::Entry>>(&mut self, entries: I) -> Result<u32, QueueError> {
        let mut entries = entries.into_iter();
        let mut room = self.room();
        if room < self.capacity - K::SLACK {
            self.reload_head()?;
            room = self.room();
        }
        let mut staged = 0;
        while staged < room {
            let Some(entry) = entries.next() else { break };
            entry.store(&self.slots, self.tail.get()).map_err(|_| QueueError::OutOfBounds)?;
            self.tail = self.tail.advance(1);
            staged += 1;
        }
        Ok(staged)
    }

    /// [`stage`](Self::stage) then [`publish`](Self::publish): enqueue one
    /// entry, visible at once. Caller: producer.
    #[inline]
    pub fn enqueue(&mut self, entry: K::Entry) -> Result<(), QueueError> {
        self.stage(entry)?;
        self.publish()
    }

    /// Staged but unpublished entries.
    pub fn staged(&self) -> u32 {
        self.tail.distance(self.published)
    }

    pub(crate) fn header(&self) -> &M {
        &self.header
    }
}

impl<K: QueueKind, M: QueueMemory> Consumer<K, M> {
    pub(crate) fn with_entries(header: M, entries: M, base: usize, capacity: u32) -> Result<Self, QueueError> {
        let slots = check_geometry::<K, M>(&header, &entries, base, capacity)?;
        let head = load_index::<K, M>(&header, K::HEAD)?;
        let tail = load_index::<K, M>(&header, K::TAIL)?;
        check_distance(tail, head, capacity)?;
        Ok(Consumer { header, slots, capacity, head, published: head, tail, _kind: PhantomData })
    }

    /// The capacity given at construction.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The free-running index of the entry [`take`](Self::take) reads
    /// next (widened to u32).
    pub fn next_index(&self) -> u32 {
        self.head.get()
    }

    /// The `head` this consumer last stored (what the producer can see):
    /// entries before it were handed back and may be overwritten.
    pub fn published_index(&self) -> u32 {
        self.published.get()
    }

    /// Reload `tail` (acquire; pairs with [`Producer::publish`]'s release)
    /// and check it: the producer may not claim more than `capacity`
    /// entries beyond the head we published.
    #[inline]
    fn reload_tail(&mut self) -> Result<(), QueueError> {
        let tail = load_index::<K, M>(&self.header, K::TAIL)?;
        let n = check_distance(tail, self.published, self.capacity)?;
        // A tail behind our local (unpublished) head would mean the
        // producer took back entries we already read.
        if n < self.head.distance(self.published) {
            return Err(QueueError::PeerIndex { head: self.head.get(), tail: tail.get(), capacity: self.capacity });
        }
        self.tail = tail;
        Ok(())
    }

    /// Entries ready to read now (reloads `tail`, acquire).
    pub fn len(&mut self) -> Result<u32, QueueError> {
        self.reload_tail()?;
        Ok(self.tail.distance(self.head))
    }

    /// Whether nothing is ready (reloads `tail`, acquire).
    pub fn is_empty(&mut self) -> Result<bool, QueueError> {
        Ok(self.len()? == 0)
    }

    /// Read the next entry without publishing its removal; `Ok(None)` if
    /// the queue is empty. Caller: consumer. Reloads `tail` (acquire, pairs
    /// with [`Producer::publish`]) only when the cache says empty. The
    /// entry is a copy: the caller still validates its fields.
    #[inline]
    pub fn take(&mut self) -> Result<Option<K::Entry>, QueueError> {
        if self.tail == self.head {
            self.reload_tail()?;
            if self.tail == self.head {
                return Ok(None);
            }
        }
        let entry = K::Entry::load(&self.slots, self.head.get()).ok_or(QueueError::OutOfBounds)?;
        self.head = self.head.advance(1);
        Ok(Some(entry))
    }

    /// Take up to `max` entries, handing each to `each` in order, without
    /// publishing their removal; returns how many were taken. Caller:
    /// consumer.
    ///
    /// The chunk form of [`take`](Self::take): `tail` is reloaded
    /// (acquire) at most once, when the cached value holds fewer than
    /// `max`, so each entry costs its loads and nothing else. The entries
    /// are copies: the caller still validates their fields.
    #[inline]
    pub fn take_each(&mut self, max: u32, mut each: impl FnMut(K::Entry)) -> Result<u32, QueueError> {
        if self.tail.distance(self.head) < max {
            self.reload_tail()?;
        }
        let n = self.tail.distance(self.head).min(max);
        for _ in 0..n {
            each(K::Entry::load(&self.slots, self.head.get()).ok_or(QueueError::OutOfBounds)?);
            self.head = self.head.advance(1);
        }
        Ok(n)
    }

    /// Hand every taken slot back to the producer: store `head` with
    /// release (our entry reads happen before it; pairs with the
    /// producer's acquire load of `head`). Caller: consumer.
    #[inline]
    pub fn publish(&mut self) -> Result<(), QueueError> {
        if self.head != self.published {
            self.head.store(&self.header, K::HEAD, Release).map_err(|_| QueueError::OutOfBounds)?;
            self.published = self.head;
        }
        Ok(())
    }

    /// [`take`](Self::take) then [`publish`](Self::publish). Caller:
    /// consumer.
    #[inline]
    pub fn dequeue(&mut self) -> Result<Option<K::Entry>, QueueError> {
        let e = self.take()?;
        if e.is_some() {
            self.publish()?;
        }
        Ok(e)
    }

    pub(crate) fn header(&self) -> &M {
        &self.header
    }
}

/// The two halves of sDDF's "signalled" flag protocol, shared by net
/// (`consumer_signalled`) and serial (`producer_signalled`). The *waiter*
/// clears the flag before it sleeps; the *notifier* checks it after
/// publishing. Each puts a SeqCst fence between its store and its load.
pub(crate) mod flag {
    use super::*;
    use core::sync::atomic::Ordering::{Relaxed, SeqCst};

    /// Waiter: set the flag (do not notify me).
    pub(crate) fn set<M: QueueMemory>(h: &M, off: usize) -> Result<(), QueueError> {
        h.store_u32(off, 1, Relaxed).map_err(|_| QueueError::OutOfBounds)
    }

    /// Waiter: clear the flag, fence, then run `recheck` (true = there is
    /// work after all); if so set the flag again and return true.
    pub(crate) fn request<M: QueueMemory>(
        h: &M,
        off: usize,
        recheck: impl FnOnce() -> Result<bool, QueueError>,
    ) -> Result<bool, QueueError> {
        h.store_u32(off, 0, Relaxed).map_err(|_| QueueError::OutOfBounds)?;
        h.fence(SeqCst);
        if !recheck()? {
            return Ok(false);
        }
        set(h, off)?;
        Ok(true)
    }

    /// Notifier (after publishing): fence, load the flag; if clear, set
    /// it and return true (the caller must notify).
    pub(crate) fn require<M: QueueMemory>(h: &M, off: usize) -> Result<bool, QueueError> {
        h.fence(SeqCst);
        match h.load_u32(off, Relaxed) {
            Some(0) => set(h, off).map(|()| true),
            Some(_) => Ok(false),
            None => Err(QueueError::OutOfBounds),
        }
    }
}
