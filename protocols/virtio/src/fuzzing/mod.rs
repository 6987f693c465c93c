//! Fuzzing support and test doubles (feature `fuzzing`).
//!
//! [`RawDevice`] plays the device on a [`SplitQueue`]'s memory, and
//! [`RawPackedDevice`] on a [`PackedQueue`](crate::PackedQueue)'s, by
//! reading and writing the rings directly, so tests can make them behave
//! or misbehave at will; [`DriverArena`] is driver memory for tests of
//! the device side ([`DeviceQueue`](crate::DeviceQueue)), whose rings a
//! test can write by hand. The bodies of the cargo-fuzz targets in
//! `fuzz/`: [`fuzz_used_ring`] and [`fuzz_packed_ring`] let arbitrary
//! bytes play the device's side of the ring and check that the driver
//! side stays sound (both run the same harness, [`Ledger`]);
//! [`fuzz_avail_ring`] lets them play the driver's descriptors and
//! available ring against the device side; [`fuzz_resource_table`] reads
//! them as a remoteproc resource table.

use crate::features::{Features, general};
use crate::queue::{Buffer, IndirectPool, QueueMemory, SplitLayout, SplitQueue, VirtQueue};
use crate::{DeviceFault, Error, Token};

mod device;
mod packed;
mod rproc;
pub use device::{DriverArena, RING_BASE, fuzz_avail_ring};
pub use packed::{AvailableChain, RawPackedDevice, fuzz_packed_ring};
pub use rproc::fuzz_resource_table;
use sevio_sharedmem::{HeapRegion, SharedMemory};
use std::vec::Vec;

/// The device side of a split queue, by raw memory access. Test code only:
/// it panics on out-of-range offsets.
pub struct RawDevice {
    mem: SharedMemory,
    layout: SplitLayout,
    used_idx: u16,
    /// The next available-ring entry [`take_available`](Self::take_available) reads.
    next_avail: u16,
}

impl RawDevice {
    /// The device view of the queue at `mem` (the same region the driver
    /// was given) with `layout`.
    pub fn new(mem: SharedMemory, layout: SplitLayout) -> Self {
        RawDevice { mem, layout, used_idx: 0, next_avail: 0 }
    }
    fn n(&self) -> usize {
        self.layout.size() as usize
    }
    fn r16(&self, off: usize) -> u16 {
        u16::from_le(self.mem.read::<u16>(off).expect("in queue"))
    }
    fn w16(&self, off: usize, v: u16) {
        self.mem.write::<u16>(off, v.to_le()).expect("in queue")
    }
    /// avail.flags.
    pub fn avail_flags(&self) -> u16 {
        self.r16(self.layout.avail_offset())
    }
    /// avail.idx.
    pub fn avail_idx(&self) -> u16 {
        self.r16(self.layout.avail_offset() + 2)
    }
    /// avail.ring[i % n].
    pub fn avail_entry(&self, i: u16) -> u16 {
        self.r16(self.layout.avail_offset() + 4 + 2 * (i as usize % self.n()))
    }
    /// used_event (end of the available ring).
    pub fn used_event(&self) -> u16 {
        self.r16(self.layout.avail_offset() + 4 + 2 * self.n())
    }
    /// Descriptor `i`: (addr, len, flags, next).
    pub fn desc(&self, i: u16) -> (u64, u32, u16, u16) {
        let at = i as usize * 16;
        let addr = u64::from_le(self.mem.read::<u64>(at).expect("in queue"));
        let len = u32::from_le(self.mem.read::<u32>(at + 8).expect("in queue"));
        (addr, len, self.r16(at + 12), self.r16(at + 14))
    }
    /// Write used.ring[slot] without publishing it.
    pub fn write_used_elem(&self, slot: u16, id: u32, len: u32) {
        let at = self.layout.used_offset() + 4 + 8 * (slot as usize % self.n());
        self.mem.write::<u32>(at, id.to_le()).expect("in queue");
        self.mem.write::<u32>(at + 4, len.to_le()).expect("in queue");
    }
    /// Set used.idx.
    pub fn set_used_idx(&mut self, idx: u16) {
        self.used_idx = idx;
        self.w16(self.layout.used_offset() + 2, idx);
    }
    /// The used.idx this device last wrote.
    pub fn used_idx(&self) -> u16 {
        self.used_idx
    }
    /// Append a used element and publish it.
    pub fn push_used(&mut self, id: u32, len: u32) {
        self.write_used_elem(self.used_idx, id, len);
        let next = self.used_idx.wrapping_add(1);
        self.set_used_idx(next);
    }
    /// Set used.flags (VIRTQ_USED_F_NO_NOTIFY).
    pub fn set_used_flags(&self, flags: u16) {
        self.w16(self.layout.used_offset(), flags);
    }
    /// Set avail_event (end of the used ring).
    pub fn set_avail_event(&self, v: u16) {
        self.w16(self.layout.used_offset() + 4 + 8 * self.n(), v);
    }
    /// Read the next chain the driver made available (direct descriptors
    /// only), as the packed device's `take_available` does, so both
    /// formats can be driven by the same device-side workload. `None` if
    /// avail.idx shows nothing new or a chain is longer than the queue.
    pub fn take_available(&mut self) -> Option<AvailableChain> {
        if self.avail_idx() == self.next_avail {
            return None;
        }
        let head = self.avail_entry(self.next_avail);
        let mut bufs = Vec::new();
        let mut cur = head;
        for _ in 0..self.n() {
            let (addr, len, flags, next) = self.desc(cur % self.n() as u16);
            bufs.push(Buffer { addr, len, writable: flags & crate::queue::DESC_F_WRITE != 0 });
            if flags & crate::queue::DESC_F_NEXT == 0 {
                self.next_avail = self.next_avail.wrapping_add(1);
                let ndesc = bufs.len() as u16;
                return Some(AvailableChain { id: head, ndesc, bufs, indirect: false });
            }
            cur = next;
        }
        None
    }
    /// Overwrite the used ring (flags, idx, ring, avail_event) with `bytes`
    /// (at most its 6 + 8n bytes are used).
    pub fn overwrite_used_ring(&self, bytes: &[u8]) {
        let len = bytes.len().min(6 + 8 * self.n());
        self.mem.copy_in(self.layout.used_offset(), &bytes[..len]).expect("in queue");
    }
}

const CANARY: u8 = 0xa5;
const GUARD: usize = 64;
const QSIZE: u16 = 8;
const POOL_DESCS: u16 = 4;

fn snapshot(mem: &SharedMemory, off: usize, len: usize) -> Vec<u8> {
    let mut v = std::vec![0u8; len];
    mem.copy_out(off, &mut v).expect("in region");
    v
}

/// Whether every byte of the `spans` (offset, length) of `mem` still
/// holds the canary.
fn guards_intact(mem: &SharedMemory, spans: &[(usize, usize)]) -> bool {
    spans.iter().all(|&(off, len)| snapshot(mem, off, len).iter().all(|&b| b == CANARY))
}

/// A deterministic xorshift64 generator, for the tests that run the fuzz
/// bodies on random inputs (`make test`; the same inputs every run).
pub struct Xorshift(pub u64);

impl Xorshift {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Feed `body` `count` deterministic pseudo-random inputs of up to 400
/// bytes ([`Xorshift`] from `seed`), each with its number, for running the
/// fuzz bodies in `cargo test` without a fuzzer.
pub fn random_inputs(seed: u64, count: usize, mut body: impl FnMut(usize, &mut [u8])) {
    // Xorshift never leaves zero, so the seed is made odd.
    let mut rng = Xorshift(seed | 1);
    let mut buf = [0u8; 400];
    for i in 0..count {
        let len = (rng.next_u64() % 400) as usize;
        for b in buf[..len].iter_mut() {
            *b = rng.next_u64() as u8;
        }
        body(i, &mut buf[..len]);
    }
}

/// A queue region and an indirect pool inside one allocation, with canary
/// bytes around both: `[guard][queue][guard][pool][guard]`.
struct Arena {
    _heap: HeapRegion,
    all: SharedMemory,
    queue: SharedMemory,
    pool: SharedMemory,
    guards: [(usize, usize); 3],
}

impl Arena {
    fn new(queue_len: usize) -> Self {
        let pool_len = QSIZE as usize * POOL_DESCS as usize * 16;
        let q_off = GUARD;
        let p_off = q_off + queue_len.next_multiple_of(16) + GUARD;
        let total = p_off + pool_len + GUARD;
        let heap = HeapRegion::new(total);
        let all = heap.memory();
        all.fill(0, total, CANARY).expect("in region");
        let guards = [(0, q_off), (q_off + queue_len, p_off - q_off - queue_len), (p_off + pool_len, GUARD)];
        let queue = all.slice(q_off, queue_len).expect("in region");
        let pool = all.slice(p_off, pool_len).expect("in region");
        Arena { _heap: heap, all, queue, pool, guards }
    }

    fn features(ctl: u8) -> Features {
        let mut feats = Features::EMPTY;
        if ctl & 1 != 0 {
            feats = feats.with(general::EVENT_IDX);
        }
        if ctl & 2 != 0 {
            feats = feats.with(general::INDIRECT_DESC);
        }
        feats
    }

    fn queue_memory(&self) -> QueueMemory {
        QueueMemory { mem: self.queue, device_addr: 0x8000_0000 }
    }

    fn indirect_pool(&self) -> IndirectPool {
        IndirectPool { mem: self.pool, device_addr: 0x9000_0000, max_descs: POOL_DESCS }
    }

    fn guards_intact(&self) -> bool {
        guards_intact(&self.all, &self.guards)
    }
}

/// What the driver handed out, to check every harvest against. Panics
/// (the fuzzer's finding) if the queue harvests a chain twice or one never
/// added, reports more than was posted, keeps working after a fault, or
/// loses descriptors.
struct Ledger {
    /// Per token: (writable bytes, descriptors held).
    outstanding: [Option<(u64, u16)>; QSIZE as usize],
    fault: Option<DeviceFault>,
    round: u64,
    /// Chains harvested so far (to show a fuzz body reached real work).
    harvested: usize,
}

impl Ledger {
    fn new() -> Self {
        Ledger { outstanding: [None; QSIZE as usize], fault: None, round: 0, harvested: 0 }
    }

    /// Add up to 4 chains chosen by `plan`; each of 1..=4 buffers, some
    /// writable.
    fn add<Q: VirtQueue>(&mut self, q: &mut Q, can_add: fn(&Q, usize) -> bool, plan: u8) {
        self.round += 1;
        let round = self.round;
        for c in 0..(plan & 3) + 1 {
            let nbufs = ((plan >> 2).wrapping_add(c) % 4 + 1) as usize;
            let nread = ((plan >> 4) as usize + c as usize) % (nbufs + 1);
            let mut bufs = [Buffer::readable(0, 0); 4];
            let mut writable = 0u64;
            for (i, b) in bufs.iter_mut().enumerate().take(nbufs) {
                let len = 1 + ((round as u32 * 131 + i as u32 * 17 + c as u32) % 4096);
                let addr = 0x1_0000_0000 + round * 0x10000 + i as u64 * 0x1000;
                *b = if i < nread { Buffer::readable(addr, len) } else { Buffer::writable(addr, len) };
                if i >= nread {
                    writable += len as u64;
                }
            }
            let free_before = q.free_descriptors();
            match q.add(&bufs[..nbufs]) {
                Ok(Token(t)) => {
                    assert!(self.fault.is_none(), "add worked on a failed queue");
                    assert!(self.outstanding[t as usize].is_none(), "token {t} handed out twice");
                    let used = free_before - q.free_descriptors();
                    self.outstanding[t as usize] = Some((writable, used));
                }
                Err(Error::QueueFull) => assert!(!can_add(q, nbufs)),
                Err(Error::Device(f)) => assert_eq!(Some(f), self.fault, "fault changed"),
                Err(e) => panic!("unexpected add error {e:?}"),
            }
        }
    }

    /// Harvest until empty or error (bounded: at most the queue size),
    /// then check the books.
    fn harvest<Q: VirtQueue>(&mut self, q: &mut Q) {
        for _ in 0..=QSIZE {
            match q.pop_used() {
                Ok(None) => break,
                Ok(Some(u)) => {
                    assert!(self.fault.is_none(), "harvest after a fault");
                    let slot = self
                        .outstanding
                        .get_mut(u.token.index() as usize)
                        .and_then(Option::take)
                        .expect("harvested a chain not in flight");
                    assert!(u.len as u64 <= slot.0, "len beyond the writable bytes");
                    self.harvested += 1;
                }
                Err(Error::Device(f)) => {
                    if let Some(old) = self.fault {
                        assert_eq!(old, f, "fault changed");
                    }
                    self.fault = Some(f);
                    assert_eq!(q.pop_used(), Err(Error::Device(f)), "failed queue recovered");
                    break;
                }
                Err(e) => panic!("unexpected pop error {e:?}"),
            }
        }
        let held: u16 = self.outstanding.iter().flatten().map(|&(_, d)| d).sum();
        assert_eq!(q.free_descriptors() + held, QSIZE, "descriptors lost");
        assert_eq!(q.in_flight() as usize, self.outstanding.iter().flatten().count(), "in-flight count drifted");
    }
}

/// Build a split queue of 8, add chains chosen by `data`, let the rest of
/// `data` play the device's used ring, and harvest until empty or error.
/// Panics (the fuzzer's finding) if the driver side misbehaves (see
/// [`Ledger`]), writes a descriptor while harvesting, or writes outside
/// the queue.
pub fn fuzz_used_ring(data: &[u8]) {
    let Some((&ctl, mut rest)) = data.split_first() else { return };
    let layout = SplitLayout::new(QSIZE).expect("valid size");
    let arena = Arena::new(layout.total_size());
    let mut q: SplitQueue<{ QSIZE as usize }> =
        SplitQueue::new(arena.queue_memory(), layout, Arena::features(ctl), Some(arena.indirect_pool()))
            .expect("queue fits");
    let dev = RawDevice::new(arena.queue, layout);
    let mut ledger = Ledger::new();
    while let Some((&plan, tail)) = rest.split_first() {
        rest = tail;
        ledger.add(&mut q, SplitQueue::can_add, plan);
        let desc_before = snapshot(&arena.queue, 0, layout.avail_offset());
        let take = rest.len().min(6 + 8 * QSIZE as usize);
        dev.overwrite_used_ring(&rest[..take]);
        rest = &rest[take..];
        ledger.harvest(&mut q);
        assert_eq!(desc_before, snapshot(&arena.queue, 0, layout.avail_offset()), "harvest wrote descriptors");
        assert!(arena.guards_intact(), "write outside the queue");
    }
}
