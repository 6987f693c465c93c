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
use crate::ring::{Consumer, Entry, InlineKind, Producer, QueueKind};
use crate::serial::SerialQueue;
use core::sync::atomic::Ordering::Relaxed;
use sevio_sharedmem::{HeapRegion, SharedMemory};

/// Interpret `data` as: kind selector, capacity exponent, the queue's
/// bytes (header and entries), then peer index writes (3 bytes each:
/// which index, u16 value). Run a consumer (and a producer) over it.
pub fn consumer(data: &[u8]) {
    let [kind, cap_log, rest @ ..] = data else { return };
    let cap = 1u32 << (1 + cap_log % 6);
    match kind % 4 {
        0 => inline::<NetQueue>(cap, rest),
        1 => inline::<BlkRequestQueue>(cap, rest),
        2 => inline::<BlkResponseQueue>(cap, rest),
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

/// Consume while the peer rewrites indices. Invariant: between two peer
/// writes the consumer hands out at most `capacity` entries (it can never
/// read past a tail it checked), every length it reports is at most the
/// capacity, and an impossible index ends the run as `PeerIndex`.
fn drive<K: QueueKind>(
    m: SharedMemory,
    mut c: Consumer<K, SharedMemory>,
    mut p: Option<Producer<K, SharedMemory>>,
    peer: &[u8],
) {
    let cap = c.capacity();
    let mut writes = peer.chunks_exact(3);
    let mut since_peer_write = 0u32;
    for _ in 0..4 * cap + 8 {
        match c.take() {
            Ok(Some(_)) => {
                since_peer_write += 1;
                assert!(since_peer_write <= cap, "read past the tail");
            }
            Ok(None) => {}
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
            since_peer_write = 0;
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn consumer_survives_random_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
            super::consumer(&data);
        }
    }
}
