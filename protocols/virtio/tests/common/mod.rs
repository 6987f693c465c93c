//! Shared by the rust-vmm tests and the bench: a vm-memory guest whose
//! memory our driver sees as SharedMemory, and a small seeded RNG.
#![allow(dead_code)]

use sevio_sharedmem::SharedMemory;
use std::ptr::NonNull;
use virtio_queue::{Queue, QueueT};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// Guest-physical base of the test guest's RAM.
pub const GUEST_BASE: u64 = 0x4000_0000;

/// xorshift64*: deterministic, no dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in lo..=hi.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

/// A guest: vm-memory's view (for the device) and ours (SharedMemory over
/// the same host mapping, for the driver).
pub struct Guest {
    pub gm: GuestMemoryMmap<()>,
    pub mem: SharedMemory,
}

impl Guest {
    pub fn new(len: usize) -> Self {
        let gm = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(GUEST_BASE), len)]).expect("guest memory");
        let host = gm.get_host_address(GuestAddress(GUEST_BASE)).expect("host address");
        let host = NonNull::new(host).expect("non-null mapping");
        // SAFETY: the mapping is `len` bytes, lives as long as `gm`, which
        // this struct owns (and drops after every use of `mem` through it);
        // vm-memory and SharedMemory access it only with volatile or atomic
        // operations, and no Rust reference points into it.
        let mem = unsafe { SharedMemory::new(host, len) };
        Guest { gm, mem }
    }

    /// Our view of guest-physical `addr..addr+len`.
    pub fn shared(&self, addr: u64, len: usize) -> SharedMemory {
        self.mem.slice((addr - GUEST_BASE) as usize, len).expect("inside the guest")
    }
}

/// A virtio-queue `Queue` set up on the three addresses, ready.
pub fn device_queue(size: u16, desc: u64, avail: u64, used: u64, event_idx: bool) -> Queue {
    let mut q = Queue::new(size).expect("queue");
    q.set_size(size);
    q.set_desc_table_address(Some(desc as u32), Some((desc >> 32) as u32));
    q.set_avail_ring_address(Some(avail as u32), Some((avail >> 32) as u32));
    q.set_used_ring_address(Some(used as u32), Some((used >> 32) as u32));
    q.set_event_idx(event_idx);
    q.set_ready(true);
    q
}
