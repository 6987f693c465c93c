//! Round-trip cost of one request on a split virtqueue: our driver side
//! (`SplitQueue`) vs `virtio-drivers`' `VirtQueue`, both against rust-vmm's
//! `virtio-queue` as the device, in one process, over one identity-mapped
//! guest (guest-physical address == host virtual address, so
//! virtio-drivers' `Hal` can hand out plain pointers).
//!
//! One round: add a chain of two descriptors (16-byte header the device
//! reads, 512-byte buffer it writes), ask whether to notify, the device
//! pops the chain and adds it to the used ring, the driver harvests it.
//!
//! Prints `BENCH virtqueue_roundtrip_sevio <ns> ns`,
//! `BENCH virtqueue_roundtrip_virtio_drivers <ns> ns` and
//! `RATIO virtqueue_vs_virtio_drivers <theirs/ours>` (> 1: sevio faster).
//!
//! Then packed against split, in the same run: `PackedQueue` and
//! `SplitQueue` (both size 256, EVENT_IDX) each driven by a raw device of
//! its format from `sevio_virtio::fuzzing` that does the same work (read
//! each available chain into a list, write one used element per chain, in
//! order). One round: add a batch of B chains (the same two buffers as
//! above), one notify decision, the device takes and completes them all,
//! the driver harvests until empty. Prints
//! `BENCH virtqueue_{split,packed}_batch<B> <ns> ns` per chain and
//! `RATIO packed_vs_split <split/packed>` (> 1: packed faster) for B = 1
//! and `RATIO packed_vs_split_batch32` for B = 32.

use sevio_sharedmem::SharedMemory;
use sevio_virtio::features::{Features, general};
use sevio_virtio::fuzzing::{RawDevice, RawPackedDevice};
use sevio_virtio::{Buffer, PackedLayout, PackedQueue, QueueMemory, SplitLayout, SplitQueue, VirtQueue};
use std::alloc::{Layout, alloc_zeroed};
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use virtio_drivers::queue::VirtQueue as TheirQueue;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};
use virtio_queue::{Queue, QueueT};
use vm_memory::mmap::MmapRegion;
use vm_memory::{GuestAddress, GuestMemoryMmap, GuestRegionMmap};

const QSIZE: u16 = 256;
const ARENA_LEN: usize = 4 << 20;
const PAGE: usize = 4096;
const ROUNDS: usize = 100_000;
const REPS: usize = 41;
const EVENT_IDX: bool = true;
const WRITE_LEN: u32 = 512;

// ---- the identity-mapped arena both drivers allocate from ----

static ARENA_NEXT: AtomicUsize = AtomicUsize::new(0);
static ARENA_END: AtomicUsize = AtomicUsize::new(0);

fn arena_alloc(len: usize) -> usize {
    let len = len.next_multiple_of(PAGE);
    let at = ARENA_NEXT.fetch_add(len, Ordering::Relaxed);
    assert!(at + len <= ARENA_END.load(Ordering::Relaxed), "bench arena exhausted");
    at
}

/// The guest: vm-memory over the arena at guest address = host address.
fn identity_guest() -> GuestMemoryMmap<()> {
    let layout = Layout::from_size_align(ARENA_LEN, PAGE).unwrap();
    // SAFETY: non-zero size; the memory is leaked on purpose (the bench
    // process uses it until exit).
    let base = unsafe { alloc_zeroed(layout) };
    assert!(!base.is_null());
    ARENA_NEXT.store(base as usize, Ordering::Relaxed);
    ARENA_END.store(base as usize + ARENA_LEN, Ordering::Relaxed);
    // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS (Linux values):
    // what heap memory is.
    // SAFETY: base..base+ARENA_LEN is a live, page-aligned, read-write
    // allocation that is never freed.
    let region = unsafe { MmapRegion::<()>::build_raw(base, ARENA_LEN, 0x3, 0x22) }.unwrap();
    let region = GuestRegionMmap::new(region, GuestAddress(base as u64)).unwrap();
    GuestMemoryMmap::from_regions(vec![region]).unwrap()
}

// ---- what virtio-drivers needs: a Hal and a Transport ----

struct ArenaHal;

// SAFETY: dma_alloc returns zeroed, page-aligned arena memory that is
// never reused; phys == virt for the whole arena, which the device side
// (vm-memory) maps at the same addresses.
unsafe impl Hal for ArenaHal {
    fn dma_alloc(pages: usize, _dir: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let at = arena_alloc(pages * PAGE);
        (at as PhysAddr, NonNull::new(at as *mut u8).unwrap())
    }
    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0
    }
    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).unwrap()
    }
    unsafe fn share(buffer: NonNull<[u8]>, _dir: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }
    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _dir: BufferDirection) {}
}

/// Records where virtio-drivers put its queue; nothing else.
#[derive(Default)]
struct RecordingTransport {
    queue: Option<(u64, u64, u64)>,
}

impl Transport for RecordingTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Block
    }
    fn read_device_features(&mut self) -> u64 {
        0
    }
    fn write_driver_features(&mut self, _f: u64) {}
    fn max_queue_size(&mut self, _q: u16) -> u32 {
        QSIZE as u32
    }
    fn notify(&mut self, _q: u16) {}
    fn get_status(&self) -> DeviceStatus {
        DeviceStatus::empty()
    }
    fn set_status(&mut self, _s: DeviceStatus) {}
    fn set_guest_page_size(&mut self, _s: u32) {}
    fn requires_legacy_layout(&self) -> bool {
        false
    }
    fn queue_set(&mut self, _q: u16, _size: u32, desc: PhysAddr, driver: PhysAddr, device: PhysAddr) {
        self.queue = Some((desc, driver, device));
    }
    fn queue_unset(&mut self, _q: u16) {
        self.queue = None;
    }
    fn queue_used(&mut self, _q: u16) -> bool {
        self.queue.is_some()
    }
    fn ack_interrupt(&mut self) -> InterruptStatus {
        InterruptStatus::empty()
    }
    fn read_config_generation(&self) -> u32 {
        0
    }
    fn read_config_space<T: zerocopy::FromBytes + zerocopy::IntoBytes>(
        &self,
        _offset: usize,
    ) -> virtio_drivers::Result<T> {
        Err(virtio_drivers::Error::ConfigSpaceMissing)
    }
    fn write_config_space<T: zerocopy::IntoBytes + zerocopy::Immutable>(
        &mut self,
        _offset: usize,
        _value: T,
    ) -> virtio_drivers::Result<()> {
        Err(virtio_drivers::Error::ConfigSpaceMissing)
    }
}

fn device_queue(desc: u64, avail: u64, used: u64) -> Queue {
    let mut q = Queue::new(QSIZE).unwrap();
    q.set_size(QSIZE);
    q.set_desc_table_address(Some(desc as u32), Some((desc >> 32) as u32));
    q.set_avail_ring_address(Some(avail as u32), Some((avail >> 32) as u32));
    q.set_used_ring_address(Some(used as u32), Some((used >> 32) as u32));
    q.set_event_idx(EVENT_IDX);
    q.set_ready(true);
    q
}

/// The device half of a round, the same for both drivers.
#[inline(always)]
fn device_round(dev: &mut Queue, gm: &GuestMemoryMmap<()>) {
    let chain = dev.pop_descriptor_chain(gm).expect("chain available");
    let head = chain.head_index();
    dev.add_used(gm, head, WRITE_LEN).unwrap();
    black_box(dev.needs_notification(gm).unwrap());
}

// ---- the two drivers ----

struct Ours {
    q: SplitQueue<{ QSIZE as usize }>,
    dev: Queue,
    chain: [Buffer; 2],
}

impl Ours {
    fn new() -> Self {
        let layout = SplitLayout::new(QSIZE).unwrap();
        let qaddr = arena_alloc(layout.total_size());
        let bufs = arena_alloc(PAGE) as u64;
        // SAFETY: arena memory, live for the process, accessed only by
        // SharedMemory and vm-memory (volatile / atomic).
        let mem = unsafe { SharedMemory::new(NonNull::new(qaddr as *mut u8).unwrap(), layout.total_size()) };
        let feats = if EVENT_IDX { Features::EMPTY.with(general::EVENT_IDX) } else { Features::EMPTY };
        let q = SplitQueue::new(QueueMemory { mem, device_addr: qaddr as u64 }, layout, feats, None).unwrap();
        let dev = device_queue(q.desc_addr(), q.avail_addr(), q.used_addr());
        let chain = [Buffer::readable(bufs, 16), Buffer::writable(bufs + 64, WRITE_LEN)];
        Ours { q, dev, chain }
    }

    fn round(&mut self, gm: &GuestMemoryMmap<()>) {
        let t = self.q.add(&self.chain).unwrap();
        black_box(self.q.should_notify().unwrap());
        device_round(&mut self.dev, gm);
        let u = self.q.pop_used().unwrap().unwrap();
        debug_assert_eq!(u.token, t);
        black_box(u.len);
        // A driver polls until empty before it waits for an interrupt.
        assert!(self.q.pop_used().unwrap().is_none());
    }
}

struct Theirs {
    q: TheirQueue<ArenaHal, { QSIZE as usize }>,
    dev: Queue,
    bufs: usize,
}

impl Theirs {
    fn new() -> Self {
        let mut transport = RecordingTransport::default();
        let q = TheirQueue::<ArenaHal, { QSIZE as usize }>::new(&mut transport, 0, false, EVENT_IDX).unwrap();
        let (desc, avail, used) = transport.queue.unwrap();
        let dev = device_queue(desc, avail, used);
        Theirs { q, dev, bufs: arena_alloc(PAGE) }
    }

    fn round(&mut self, gm: &GuestMemoryMmap<()>) {
        // SAFETY: two disjoint ranges of arena memory, live for the
        // process; the device writes `out` only between add and pop_used,
        // while neither slice is read (virtio-drivers' contract for `add`).
        let (hdr, out) = unsafe {
            (
                std::slice::from_raw_parts(self.bufs as *const u8, 16),
                std::slice::from_raw_parts_mut((self.bufs + 64) as *mut u8, WRITE_LEN as usize),
            )
        };
        let ins = [hdr];
        let mut outs = [out];
        // SAFETY: the buffers stay valid and untouched until pop_used
        // below returns the token.
        let t = unsafe { self.q.add(&ins, &mut outs) }.unwrap();
        black_box(self.q.should_notify());
        device_round(&mut self.dev, gm);
        // SAFETY: the same buffers that were added with token `t`.
        let len = unsafe { self.q.pop_used(t, &ins, &mut outs) }.unwrap();
        black_box(len);
        // The same "anything more?" check.
        assert!(!self.q.can_pop());
    }
}

// ---- packed against split, the same device-side work ----

/// One format's driver and raw device over one arena queue.
struct FormatRig<Q, D> {
    q: Q,
    dev: D,
    chain: [Buffer; 2],
}

/// The device's half of a round, written once per format over the raw
/// devices (which both read a chain into a list the same way).
trait BenchDevice {
    /// The next available chain's (id, descriptors), if any.
    fn take(&mut self) -> Option<(u16, u16)>;
    /// Publish a used element for it.
    fn complete(&mut self, id: u16, len: u32, ndesc: u16);
}

impl BenchDevice for RawDevice {
    fn take(&mut self) -> Option<(u16, u16)> {
        self.take_available().map(|c| (c.id, c.ndesc))
    }
    fn complete(&mut self, id: u16, len: u32, _ndesc: u16) {
        self.push_used(id as u32, len);
    }
}

impl BenchDevice for RawPackedDevice {
    fn take(&mut self) -> Option<(u16, u16)> {
        self.take_available().map(|c| (c.id, c.ndesc))
    }
    fn complete(&mut self, id: u16, len: u32, ndesc: u16) {
        self.push_used(id, len, ndesc);
    }
}

fn arena_queue(len: usize) -> QueueMemory {
    let at = arena_alloc(len);
    // SAFETY: arena memory, live for the process, accessed only through
    // SharedMemory (volatile / atomic).
    let mem = unsafe { SharedMemory::new(NonNull::new(at as *mut u8).unwrap(), len) };
    QueueMemory { mem, device_addr: at as u64 }
}

fn bench_chain() -> [Buffer; 2] {
    let bufs = arena_alloc(PAGE) as u64;
    [Buffer::readable(bufs, 16), Buffer::writable(bufs + 64, WRITE_LEN)]
}

fn event_idx_features() -> Features {
    Features::EMPTY.with(general::EVENT_IDX)
}

fn split_rig() -> FormatRig<SplitQueue<{ QSIZE as usize }>, RawDevice> {
    let layout = SplitLayout::new(QSIZE).unwrap();
    let qmem = arena_queue(layout.total_size());
    let q = SplitQueue::new(qmem, layout, event_idx_features(), None).unwrap();
    FormatRig { q, dev: RawDevice::new(qmem.mem, layout), chain: bench_chain() }
}

fn packed_rig() -> FormatRig<PackedQueue<{ QSIZE as usize }>, RawPackedDevice> {
    let layout = PackedLayout::new(QSIZE).unwrap();
    let qmem = arena_queue(layout.total_size());
    let q = PackedQueue::new(qmem, layout, event_idx_features(), None).unwrap();
    FormatRig { q, dev: RawPackedDevice::new(qmem.mem, layout), chain: bench_chain() }
}

impl<Q: VirtQueue, D: BenchDevice> FormatRig<Q, D> {
    /// One round of `batch` chains; returns the chains harvested.
    fn round(&mut self, batch: usize) -> usize {
        for _ in 0..batch {
            self.q.add(&self.chain).unwrap();
        }
        black_box(self.q.should_notify().unwrap());
        let mut taken = [(0u16, 0u16); 64];
        let mut n = 0;
        while let Some(c) = self.dev.take() {
            taken[n] = c;
            n += 1;
        }
        for &(id, ndesc) in &taken[..n] {
            self.dev.complete(id, WRITE_LEN, ndesc);
        }
        let mut got = 0;
        while let Some(u) = self.q.pop_used().unwrap() {
            black_box(u.len);
            got += 1;
        }
        got
    }
}

/// Nanoseconds per chain, best of REPS interleaved runs, for split and
/// packed at one batch size.
fn packed_vs_split(batch: usize) -> (f64, f64) {
    let mut split = split_rig();
    let mut packed = packed_rig();
    let rounds = ROUNDS / batch;
    let run = |round: &mut dyn FnMut() -> usize| {
        let start = Instant::now();
        let mut chains = 0;
        for _ in 0..rounds {
            chains += round();
        }
        assert_eq!(chains, rounds * batch, "every chain came back");
        start.elapsed().as_nanos() as f64 / chains as f64
    };
    run(&mut || split.round(batch));
    run(&mut || packed.round(batch));
    let (mut best_split, mut best_packed) = (f64::MAX, f64::MAX);
    for _ in 0..REPS {
        best_split = best_split.min(run(&mut || split.round(batch)));
        best_packed = best_packed.min(run(&mut || packed.round(batch)));
    }
    (best_split, best_packed)
}

/// Nanoseconds per round of one run of ROUNDS rounds.
fn time_once(mut round: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..ROUNDS {
        round();
    }
    start.elapsed().as_nanos() as f64 / ROUNDS as f64
}

fn main() {
    let gm = identity_guest();
    let mut ours = Ours::new();
    let mut theirs = Theirs::new();
    for _ in 0..ROUNDS / 10 {
        ours.round(&gm);
        theirs.round(&gm);
    }
    // Interleaved runs, best of each: the machine is shared, so the
    // minimum is the least disturbed measurement.
    let (mut best_ours, mut best_theirs) = (f64::MAX, f64::MAX);
    for _ in 0..REPS {
        best_ours = best_ours.min(time_once(|| ours.round(&gm)));
        best_theirs = best_theirs.min(time_once(|| theirs.round(&gm)));
    }
    println!("BENCH virtqueue_roundtrip_sevio {best_ours:.1} ns");
    println!("BENCH virtqueue_roundtrip_virtio_drivers {best_theirs:.1} ns");
    println!("RATIO virtqueue_vs_virtio_drivers {:.3}", best_theirs / best_ours);

    for batch in [1, 32] {
        let (split, packed) = packed_vs_split(batch);
        println!("BENCH virtqueue_split_batch{batch} {split:.1} ns");
        println!("BENCH virtqueue_packed_batch{batch} {packed:.1} ns");
        let suffix = if batch == 1 { String::new() } else { format!("_batch{batch}") };
        println!("RATIO packed_vs_split{suffix} {:.3}", split / packed);
    }
}
