//! Fuzzing support and test doubles (feature `fuzzing`).
//!
//! [`RawDevice`] plays the device on a [`SplitQueue`]'s memory by reading
//! and writing the rings directly, so tests can make it behave or
//! misbehave at will; [`DriverArena`] is driver memory for tests of the
//! device side ([`DeviceQueue`](crate::DeviceQueue)), whose rings a test
//! can write by hand. The bodies of the cargo-fuzz targets in `fuzz/`:
//! [`fuzz_used_ring`] (arbitrary bytes as the device's used ring, against
//! the driver side), [`fuzz_avail_ring`] (as the driver's descriptors and
//! available ring, against the device side) and [`fuzz_resource_table`]
//! (as a remoteproc resource table).
use crate::features::{Features, general};
use crate::queue::{Buffer, IndirectPool, QueueMemory, SplitLayout, SplitQueue, VirtQueue};
use crate::{DeviceFault, Error, Token};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use std::vec::Vec;

/// The device side of a split queue, by raw memory access. Test code only:
/// it panics on out-of-range offsets.
pub struct RawDevice {
    mem: SharedMemory,
    layout: SplitLayout,
    used_idx: u16,
}

impl RawDevice {
    /// The device view of the queue at `mem` (the same region the driver
    /// was given) with `layout`.
    pub fn new(mem: SharedMemory, layout: SplitLayout) -> Self {
        RawDevice { mem, layout, used_idx: 0 }
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

fn guards_intact(mem: &SharedMemory, spans: &[(usize, usize)]) -> bool {
    spans.iter().all(|&(off, len)| snapshot(mem, off, len).iter().all(|&b| b == CANARY))
}

/// Build a queue of 8, add chains chosen by `data`, let the rest of `data`
/// play the device's used ring, and harvest until empty or error. Panics
/// (the fuzzer's finding) if the driver side misbehaves: harvests a chain
/// twice or one never added, reports more than was posted, keeps working
/// after a fault, loses descriptors, or writes outside the queue.
pub fn fuzz_used_ring(data: &[u8]) {
    let Some((&ctl, mut rest)) = data.split_first() else { return };
    let event_idx = ctl & 1 != 0;
    let indirect = ctl & 2 != 0;
    let layout = SplitLayout::new(QSIZE).expect("valid size");
    let qlen = layout.total_size();
    let pool_len = QSIZE as usize * POOL_DESCS as usize * 16;
    // [guard][queue][guard][pool][guard]
    let q_off = GUARD;
    let p_off = q_off + qlen.next_multiple_of(16) + GUARD;
    let total = p_off + pool_len + GUARD;
    let heap = HeapRegion::new(total);
    let all = heap.memory();
    all.fill(0, total, CANARY).expect("in region");
    let guards = [(0, q_off), (q_off + qlen, p_off - q_off - qlen), (p_off + pool_len, GUARD)];
    let qmem = all.slice(q_off, qlen).expect("in region");
    let pmem = all.slice(p_off, pool_len).expect("in region");
    let mut feats = Features::EMPTY;
    if event_idx {
        feats = feats.with(general::EVENT_IDX);
    }
    if indirect {
        feats = feats.with(general::INDIRECT_DESC);
    }
    let pool = IndirectPool { mem: pmem, device_addr: 0x9000_0000, max_descs: POOL_DESCS };
    let mut q: SplitQueue<{ QSIZE as usize }> =
        SplitQueue::new(QueueMemory { mem: qmem, device_addr: 0x8000_0000 }, layout, feats, Some(pool))
            .expect("queue fits");
    let dev = RawDevice::new(qmem, layout);
    // Per token: (writable bytes, descriptors in the main table).
    let mut outstanding: [Option<(u64, u16)>; QSIZE as usize] = [None; QSIZE as usize];
    let mut fault: Option<DeviceFault> = None;
    let mut round = 0u64;
    while let Some((&plan, tail)) = rest.split_first() {
        rest = tail;
        round += 1;
        // Add up to 4 chains; each of 1..=4 buffers, some writable.
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
                    assert!(fault.is_none(), "add worked on a failed queue");
                    assert!(outstanding[t as usize].is_none(), "token {t} handed out twice");
                    let used = free_before - q.free_descriptors();
                    outstanding[t as usize] = Some((writable, used));
                }
                Err(Error::QueueFull) => assert!(!q.can_add(nbufs)),
                Err(Error::Device(f)) => assert_eq!(Some(f), fault, "fault changed"),
                Err(e) => panic!("unexpected add error {e:?}"),
            }
        }
        let desc_before = snapshot(&qmem, 0, layout.avail_offset());
        let take = rest.len().min(6 + 8 * QSIZE as usize);
        dev.overwrite_used_ring(&rest[..take]);
        rest = &rest[take..];
        // Harvest until empty or error (bounded: at most the queue size).
        for _ in 0..=QSIZE {
            match q.pop_used() {
                Ok(None) => break,
                Ok(Some(u)) => {
                    assert!(fault.is_none(), "harvest after a fault");
                    let slot = outstanding
                        .get_mut(u.token.index() as usize)
                        .and_then(Option::take)
                        .expect("harvested a chain not in flight");
                    assert!(u.len as u64 <= slot.0, "len beyond the writable bytes");
                }
                Err(Error::Device(f)) => {
                    if let Some(old) = fault {
                        assert_eq!(old, f, "fault changed");
                    }
                    fault = Some(f);
                    assert_eq!(q.pop_used(), Err(Error::Device(f)), "failed queue recovered");
                    break;
                }
                Err(e) => panic!("unexpected pop error {e:?}"),
            }
        }
        let held: u16 = outstanding.iter().flatten().map(|&(_, d)| d).sum();
        assert_eq!(q.free_descriptors() + held, QSIZE, "descriptors lost");
        assert_eq!(q.in_flight() as usize, outstanding.iter().flatten().count(), "in-flight count drifted");
        assert_eq!(desc_before, snapshot(&qmem, 0, layout.avail_offset()), "harvest wrote descriptors");
        assert!(guards_intact(&all, &guards), "write outside the queue");
    }
}

/// Arbitrary bytes as a resource table (the body of the `resource_table`
/// fuzz target): opening it and checking every entry never panics, and
/// every vdev that checks out lies inside the table, its vrings and config
/// space do not reach into any other entry, and every accessor stays in
/// bounds.
pub fn fuzz_resource_table(data: &[u8]) {
    use crate::rproc::{Resource, ResourceTable};
    let len = data.len().max(1);
    let heap = HeapRegion::new(len);
    let mem = heap.memory();
    mem.copy_in(0, data).expect("fits");
    let Ok(table) = ResourceTable::open(mem) else { return };
    let offsets: Vec<usize> = (0..table.len())
        .map(|i| mem.read::<u32>(crate::rproc::HEADER_SIZE + 4 * i as usize).expect("checked") as usize)
        .collect();
    for i in 0..table.len() {
        let Ok(Resource::Vdev(v)) = table.entry(i) else { continue };
        let end = v.config_at() + v.config_len as usize;
        assert!(end <= mem.len(), "vdev {i} runs past the table");
        for (j, &o) in offsets.iter().enumerate() {
            if j != i as usize {
                assert!(!(v.offset <= o && o < end) || (o == v.offset && j > i as usize), "vdev {i} covers entry {j}");
            }
        }
        let mut buf = [0u8; 16];
        let n = (v.config_len as usize).min(16);
        table.read_config(&v, 0, &mut buf[..n]).expect("inside config_len");
        assert!(table.read_config(&v, v.config_len as usize, &mut buf[..1]).is_err());
        for q in 0..crate::rproc::MAX_VRINGS {
            let _ = table.vring_da(&v, q);
            assert_eq!(table.set_vring_addr(&v, q, 0x1000).is_ok(), q < v.num_vrings as usize);
        }
        table.set_status(&v, 1).expect("inside");
        table.set_gfeatures(&v, 1).expect("inside");
    }
    let _ = table.vdevs(|_| {}).count();
}

/// Device address of a [`DriverArena`]'s memory (its ring is at the start).
pub const RING_BASE: u64 = 0x4880_0000;
/// Bytes of a [`DriverArena`]'s driver memory.
const ARENA_LEN: usize = 0x4000;
/// Canary bytes on each side of the driver memory.
const ARENA_GUARD: usize = 0x1000;

/// Driver memory for tests of the device side: a queue of `size` entries
/// in the legacy layout (Queue Align 4096) at [`RING_BASE`], buffers
/// after it, canaries around it. It is the [`DriverMemory`] the device is
/// held to, and lets a test write the driver's rings by hand.
pub struct DriverArena {
    heap: HeapRegion,
    layout: SplitLayout,
}

impl DriverArena {
    /// An arena with a zeroed queue of `size` entries.
    pub fn new(size: u16) -> Self {
        let heap = HeapRegion::new(ARENA_LEN + 2 * ARENA_GUARD);
        let all = heap.memory();
        all.fill(0, all.len(), CANARY).expect("in region");
        all.fill(ARENA_GUARD, ARENA_LEN, 0).expect("in region");
        let layout = SplitLayout::legacy(size, 4096).expect("valid size");
        DriverArena { heap, layout }
    }
    /// The driver memory.
    pub fn memory(&self) -> SharedMemory {
        self.heap.memory().slice(ARENA_GUARD, ARENA_LEN).expect("in region")
    }
    /// Where the queue is.
    pub fn ring(&self) -> crate::RingPlacement {
        let at = |o: usize| RING_BASE + o as u64;
        crate::RingPlacement::new(
            self.layout.size(),
            at(0),
            at(self.layout.avail_offset()),
            at(self.layout.used_offset()),
        )
    }
    /// The real driver side on the arena's queue.
    pub fn driver_queue<const N: usize>(&self) -> SplitQueue<N> {
        let mem = self.memory().slice(0, self.layout.total_size()).expect("fits");
        SplitQueue::new(QueueMemory { mem, device_addr: RING_BASE }, self.layout, Features::EMPTY, None)
            .expect("queue fits")
    }
    /// Device address of buffer `i` (1 KiB each, after the queue).
    pub fn buffer(&self, i: u64) -> u64 {
        RING_BASE + 0x2000 + i * 0x400
    }
    /// Write descriptor `i`.
    pub fn set_desc(&self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let m = self.memory();
        let at = i as usize * 16;
        m.write::<u64>(at, addr.to_le()).expect("in table");
        m.write::<u32>(at + 8, len.to_le()).expect("in table");
        m.write::<u16>(at + 12, flags.to_le()).expect("in table");
        m.write::<u16>(at + 14, next.to_le()).expect("in table");
    }
    /// avail.idx.
    pub fn set_avail_idx(&self, idx: u16) {
        self.memory().write::<u16>(self.layout.avail_offset() + 2, idx.to_le()).expect("in ring");
    }
    /// Make `head` available (avail.ring[idx % size] = head; idx + 1).
    pub fn offer(&self, head: u16) {
        let m = self.memory();
        let a = self.layout.avail_offset();
        let idx = u16::from_le(m.read::<u16>(a + 2).expect("in ring"));
        let slot = a + 4 + 2 * (idx % self.layout.size()) as usize;
        m.write::<u16>(slot, head.to_le()).expect("in ring");
        self.set_avail_idx(idx.wrapping_add(1));
    }
    /// The used ring's bytes.
    pub fn used_ring(&self) -> Vec<u8> {
        snapshot(&self.memory(), self.layout.used_offset(), 4 + 8 * self.layout.size() as usize)
    }
    /// Whether the canaries around the driver memory are intact.
    pub fn guards_intact(&self) -> bool {
        let all = self.heap.memory();
        guards_intact(&all, &[(0, ARENA_GUARD), (ARENA_GUARD + ARENA_LEN, ARENA_GUARD)])
    }
    /// Bytes of the descriptor table and the available ring together.
    fn driver_area(&self) -> usize {
        self.layout.avail_offset() + 6 + 2 * self.layout.size() as usize
    }
}

impl crate::DriverMemory for DriverArena {
    fn window(&self, addr: u64, len: u64) -> Option<SharedMemory> {
        let offset = addr.checked_sub(RING_BASE)?;
        let end = offset.checked_add(len)?;
        if end > ARENA_LEN as u64 {
            return None;
        }
        self.memory().slice(offset as usize, len as usize)
    }
}

/// Arbitrary bytes as the driver's descriptor table and available ring
/// (the body of the `avail_ring` fuzz target): round after round the
/// bytes overwrite what the driver writes, and the device side takes
/// every chain it is offered, fills its writable buffers and returns it.
/// It never panics, never writes outside the driver memory, never holds
/// more chains than the queue has entries, and a failed queue stays
/// failed with the same fault.
pub fn fuzz_avail_ring(data: &[u8]) {
    const SIZE: u16 = 8;
    let arena = DriverArena::new(SIZE);
    let mut device = crate::DeviceQueue::<{ SIZE as usize }>::new(arena.ring(), &arena).expect("ring in memory");
    let area = arena.driver_area();
    let mut fault = None;
    for round in data.chunks(area.min(64)) {
        let Some((&at, bytes)) = round.split_first() else { break };
        let start = (at as usize * 3) % area;
        let n = bytes.len().min(area - start);
        arena.memory().copy_in(start, &bytes[..n]).expect("in driver area");
        for _ in 0..=SIZE {
            match device.pop(&arena) {
                Ok(Some(chain)) => {
                    assert!(fault.is_none(), "a chain after a fault");
                    for b in chain.buffers().filter(|b| b.writable) {
                        b.mem.fill(0, b.mem.len(), 0x5a).expect("window is in bounds");
                    }
                    // Return every other chain at once; keep the rest.
                    if chain.head % 2 == 0 {
                        let len = chain.writable_len().min(u64::from(u32::MAX)) as u32;
                        device.push(chain.head, len).expect("a held chain returns");
                    }
                }
                Ok(None) => break,
                Err(f) => {
                    assert!(fault.is_none_or(|old| old == f), "fault changed");
                    fault = Some(f);
                    assert_eq!(device.pop(&arena).err(), Some(f), "failed queue recovered");
                    break;
                }
            }
        }
        assert!(device.held() <= SIZE as usize, "more chains held than entries");
        assert!(arena.guards_intact(), "write outside the driver memory");
    }
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
