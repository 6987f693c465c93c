//! Fuzz entry points (feature `fuzzing`): the consumer side of every queue
//! kind fed arbitrary header and entry bytes, plus a peer that keeps
//! rewriting its index while we consume. Used by `fuzz/` (cargo-fuzz) and
//! by this crate's tests on random input.
//!
//! Each function panics only if an invariant breaks: that is the bug a
//! fuzzer looks for.

use crate::QueueError;
use crate::blk::{BlkRequestQueue, BlkResponseQueue};
use crate::net::NetQueue;
use crate::ring::{Consumer, Entry, Index, InlineKind, Producer, QueueKind};
use crate::serial::SerialQueue;
use core::sync::atomic::Ordering::Relaxed;
use sevio_sharedmem::{HeapRegion, SharedMemory};

/// Interpret `data` as: kind selector, capacity exponent, the queue's
/// bytes (header and entries), then peer index writes (3 bytes each:
/// which index, u16 value). Run a consumer (and a producer) over it.
pub fn consumer(data: &[u8]) {
    let [kind, cap_log, rest @ ..] = data else { return };
    let cap = 1u32 << (1 + cap_log % 6);
    match kind % 8 {
        0 => inline::<NetQueue>(cap, rest),
        1 => inline::<BlkRequestQueue>(cap, rest),
        2 => inline::<BlkResponseQueue>(cap, rest),
        3 => inline::<crate::gpu::GpuRequestQueue>(cap, rest),
        4 => inline::<crate::input::InputEventQueue>(cap, rest),
        5 => inline::<crate::sound::SoundCmdQueue>(cap, rest),
        6 => inline::<crate::sound::SoundPcmQueue>(cap, rest),
        _ => serial(cap, rest),
    }
}

fn fill(region: &HeapRegion, len: usize, bytes: &[u8]) -> usize {
    let n = bytes.len().min(len);
    region.memory().copy_in(0, &bytes[..n]).expect("in bounds");
    n
}

fn peer_write<K: QueueKind>(m: &SharedMemory, w: &[u8]) {
    let off = if w[0].is_multiple_of(2) { K::TAIL } else { K::HEAD };
    let v = u16::from_le_bytes([w[1], w[2]]);
    if core::mem::size_of::<K::Index>() == 2 {
        let _ = m.store_u16(off, v, Relaxed);
    } else {
        let _ = m.store_u32(off, u32::from(v) | u32::from(w[0]) << 24, Relaxed);
    }
}

/// Consume (entry by entry and in chunks) while the peer rewrites indices. Invariant: the consumer never
/// hands out an entry past a tail the producer actually published: the
/// n-th entry taken (from the head the queue started with) needs some
/// tail value seen in memory at least n ahead of that head. Lengths never
/// exceed the capacity, and an impossible index ends the run as
/// `PeerIndex`.
///
/// (A consumer may finish the entries of a tail it loaded before the peer
/// moved the tail again: counting "entries since the last peer write"
/// would wrongly call that a read past the tail.)
fn drive<K: QueueKind>(
    m: SharedMemory,
    mut c: Consumer<K, SharedMemory>,
    mut p: Option<Producer<K, SharedMemory>>,
    peer: &[u8],
) {
    let cap = c.capacity();
    let mut writes = peer.chunks_exact(3);
    let Some(head0) = K::Index::load(&m, K::HEAD, Relaxed) else { return };
    // How far past head0 a published tail has ever reached (only values
    // that could be valid for some head the consumer had: beyond
    // head0 + the most it can take + cap, a tail can only be rejected).
    let bound = 5 * cap + 8;
    let reach_of = |t: K::Index| {
        let d = t.distance(head0);
        if d <= bound { d } else { 0 }
    };
    let mut reach = K::Index::load(&m, K::TAIL, Relaxed).map_or(0, reach_of);
    let mut taken = 0u32;
    for step in 0..4 * cap + 8 {
        // Every other step takes a chunk (`take_each`) of 1 to 3.
        let took =
            if step % 2 == 0 { c.take().map(|e| u32::from(e.is_some())) } else { c.take_each(1 + step % 3, |_| {}) };
        match took {
            Ok(n) => {
                taken += n;
                assert!(taken <= reach, "read past the tail: entry {taken}, furthest tail {reach}");
            }
            Err(QueueError::PeerIndex { capacity, .. }) => {
                assert_eq!(capacity, cap);
                return;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        if let Ok(n) = c.len() {
            assert!(n <= cap);
        }
        let _ = c.publish();
        if let Some(Ok(free)) = p.as_mut().map(|p| p.free()) {
            assert!(free <= cap);
        }
        if let Some(w) = writes.next() {
            peer_write::<K>(&m, w);
            if let Some(t) = K::Index::load(&m, K::TAIL, Relaxed) {
                reach = reach.max(reach_of(t));
            }
        }
    }
}

fn inline<K: InlineKind>(cap: u32, bytes: &[u8]) {
    let len = K::HEADER_SIZE + cap as usize * <K::Entry as Entry>::SIZE;
    let region = HeapRegion::new(len);
    let used = fill(&region, len, bytes);
    let m = region.memory();
    let Ok(c) = Consumer::<K, SharedMemory>::new(m, cap) else { return };
    let p = Producer::<K, SharedMemory>::new(m, cap).ok();
    drive(m, c, p, &bytes[used..]);
}

fn serial(cap: u32, bytes: &[u8]) {
    let header = HeapRegion::new(SerialQueue::HEADER_SIZE);
    let data = HeapRegion::new(cap as usize);
    let used = fill(&header, SerialQueue::HEADER_SIZE, bytes);
    let (h, d) = (header.memory(), data.memory());
    let Ok(mut c) = Consumer::<SerialQueue>::new(h, d, cap) else { return };
    // Exercise the flag path too; it must not fail on any header.
    let _ = c.require_signal();
    drive(h, c, None, &bytes[used..]);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Found by `make fuzz`: a serial consumer finishes the entries of a
    /// tail it loaded before the peer moved the tail on, then takes the
    /// new ones: legitimate, and no read past any published tail.
    #[test]
    fn finishing_a_cached_tail_after_the_peer_moved_it_is_not_a_read_past_it() {
        let serial_cap_16 = [0xeb, 0x3f];
        let header = [2, 0, 0, 0, 1, 0, 0, 0, 0x0a, 0x11, 0, 0];
        let peer_writes = [0, 0x0a, 0, 0, 0x16, 0, 0, 0];
        super::consumer(&[&serial_cap_16[..], &header, &peer_writes].concat());
    }

    /// A consumer that read past every tail the peer published would trip
    /// the invariant: the head starts at 1, the only tail is 2, and the
    /// consumer must stop after one entry.
    #[test]
    fn one_published_entry_is_taken_once() {
        super::consumer(&[0xeb, 0x3f, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn consumer_survives_random_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
            super::consumer(&data);
        }
    }
}
