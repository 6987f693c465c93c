//! `PackedQueue` against a device that follows VIRTIO 1.2 §2.8
//! (`fuzzing::RawPackedDevice`: reads available descriptors in ring
//! order, writes used ones in the order it completes them), driven by
//! proptest: random sizes (not only powers of two), features, chains,
//! completion orders and event suppression settings. No device side of a
//! packed ring exists on crates.io (rust-vmm's virtio-queue has only the
//! descriptor type), hence the model.
//!
//! Checked on every step: the device reads exactly the buffers added;
//! every harvest is a chain the device completed, in completion order,
//! with the length it reported; descriptors are never lost; the
//! notification decision matches the device's request, computed here
//! from the ring positions the model saw made available (not from the
//! driver's arithmetic); after the driver drains with interrupts on, the
//! device's next used descriptor is one the driver asked to hear about.

use proptest::prelude::*;
use sevio_sharedmem::HeapRegion;
use sevio_virtio::features::{Features, general};
use sevio_virtio::fuzzing::{AvailableChain, RawPackedDevice};
use sevio_virtio::queue::{RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_ENABLE};
use sevio_virtio::{Buffer, IndirectPool, PackedLayout, PackedQueue, QueueMemory, VirtQueue};
use std::collections::{HashMap, VecDeque};

const MAX: usize = 16;
const POOL_DESCS: u16 = 4;
const POOL_DEV: u64 = 0x9000_0000;

#[derive(Clone, Debug)]
enum Op {
    /// Add a chain of `bufs` buffers, the first `readable` of them
    /// device-readable.
    Add { bufs: usize, readable: usize, len: u32 },
    /// The device reads every available chain.
    DeviceTake,
    /// The device completes the `which`-th chain it holds, writing
    /// `permille` of its writable bytes.
    DeviceComplete { which: usize, permille: u32 },
    /// The driver harvests until empty.
    Harvest,
    /// The device sets its event suppression: 0 enable, 1 disable, 2 at
    /// `ahead` descriptors past its current available cursor.
    DeviceEvent { kind: u8, ahead: u16 },
    /// The driver decides whether to notify.
    Notify,
    /// The driver turns used-buffer notifications off or on.
    Interrupts(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..=5, 0usize..=5, 1u32..=4096).prop_map(|(bufs, readable, len)| Op::Add { bufs, readable, len }),
        2 => Just(Op::DeviceTake),
        3 => (0usize..8, 0u32..=1000).prop_map(|(which, permille)| Op::DeviceComplete { which, permille }),
        2 => Just(Op::Harvest),
        1 => (0u8..3, 0u16..20).prop_map(|(kind, ahead)| Op::DeviceEvent { kind, ahead }),
        2 => Just(Op::Notify),
        1 => any::<bool>().prop_map(Op::Interrupts),
    ]
}

struct Model {
    _heap: HeapRegion,
    _pool: HeapRegion,
    q: PackedQueue<MAX>,
    dev: RawPackedDevice,
    size: u16,
    indirect: bool,
    /// What the driver added, by token index.
    added: HashMap<u16, Vec<Buffer>>,
    /// Chains the device holds.
    held: Vec<AvailableChain>,
    /// Completed (token index, length), in completion order, not yet
    /// harvested.
    completed: VecDeque<(u16, u32)>,
    /// Ring positions (with wrap) the driver made available since its
    /// last notification decision, as the model counts them.
    window: Vec<(u16, bool)>,
    /// The model's own count of where the driver writes next.
    avail: (u16, bool),
    interrupts: bool,
}

fn advance((pos, wrap): (u16, bool), size: u16) -> (u16, bool) {
    if pos + 1 == size { (0, !wrap) } else { (pos + 1, wrap) }
}

impl Model {
    fn new(size: u16, event_idx: bool, indirect: bool) -> Self {
        let layout = PackedLayout::new(size).unwrap();
        let heap = HeapRegion::new(layout.total_size());
        let pool_heap = HeapRegion::new(MAX * POOL_DESCS as usize * 16);
        // A table needs room for two descriptors (IndirectPool's rule).
        let indirect = indirect && size >= 2;
        let mut feats = Features::EMPTY.with(general::VERSION_1).with(general::RING_PACKED);
        if event_idx {
            feats = feats.with(general::EVENT_IDX);
        }
        if indirect {
            feats = feats.with(general::INDIRECT_DESC);
        }
        let pool = IndirectPool { mem: pool_heap.memory(), device_addr: POOL_DEV, max_descs: POOL_DESCS };
        let qmem = QueueMemory { mem: heap.memory(), device_addr: 0x8000_0000 };
        let q = PackedQueue::new(qmem, layout, feats, Some(pool)).unwrap();
        let dev = RawPackedDevice::new(heap.memory(), layout).with_pool(pool_heap.memory(), POOL_DEV);
        Model {
            _heap: heap,
            _pool: pool_heap,
            q,
            dev,
            size,
            indirect,
            added: HashMap::new(),
            held: Vec::new(),
            completed: VecDeque::new(),
            window: Vec::new(),
            avail: (0, true),
            interrupts: true,
        }
    }

    fn step(&mut self, op: &Op, serial: u64) {
        match *op {
            Op::Add { bufs, readable, len } => {
                let chain: Vec<Buffer> = (0..bufs)
                    .map(|i| {
                        let addr = serial << 16 | (i as u64) << 12;
                        if i < readable { Buffer::readable(addr, len) } else { Buffer::writable(addr, len + i as u32) }
                    })
                    .collect();
                let table = POOL_DESCS.min(self.size) as usize;
                let ndesc = if self.indirect && bufs > 1 && bufs <= table { 1 } else { bufs };
                let fits = ndesc <= self.q.free_descriptors() as usize;
                match self.q.add(&chain) {
                    Ok(t) => {
                        assert!(fits, "added beyond the free descriptors");
                        assert!(self.added.insert(t.index(), chain).is_none(), "token {t:?} in flight twice");
                        for _ in 0..ndesc {
                            self.window.push(self.avail);
                            self.avail = advance(self.avail, self.size);
                        }
                    }
                    Err(sevio_virtio::Error::QueueFull) => assert!(!fits, "refused with room"),
                    Err(sevio_virtio::Error::ChainTooLong { .. }) => assert!(bufs > self.size as usize),
                    Err(e) => panic!("add: {e:?}"),
                }
            }
            Op::DeviceTake => {
                while let Some(c) = self.dev.take_available() {
                    let sent = &self.added[&c.id];
                    assert_eq!(&c.bufs, sent, "the device read other buffers than were added");
                    self.held.push(c);
                }
            }
            Op::DeviceComplete { which, permille } => {
                if self.held.is_empty() {
                    return;
                }
                let c = self.held.remove(which % self.held.len());
                let writable: u32 = c.bufs.iter().filter(|b| b.writable).map(|b| b.len).sum();
                let len = (writable as u64 * permille as u64 / 1000) as u32;
                let at = self.dev.used_cursor();
                let wants = self.dev.driver_wants_interrupt(&[at]);
                self.dev.push_used(c.id, len, c.ndesc);
                if !self.interrupts {
                    assert!(!wants, "interrupt asked for while disabled");
                }
                self.completed.push_back((c.id, len));
            }
            Op::Harvest => {
                while let Some(u) = self.q.pop_used().unwrap() {
                    let done = Some((u.token.index(), u.len));
                    assert_eq!(done, self.completed.pop_front(), "harvest out of completion order");
                    self.added.remove(&u.token.index()).unwrap();
                }
                assert!(self.completed.is_empty(), "a completed chain was not seen");
                if self.interrupts {
                    assert!(
                        self.dev.driver_wants_interrupt(&[self.dev.used_cursor()]),
                        "drained with interrupts on, but the next used descriptor would not interrupt"
                    );
                }
            }
            Op::DeviceEvent { kind, ahead } => {
                let (mut pos, mut wrap) = self.dev.avail_cursor();
                for _ in 0..ahead {
                    (pos, wrap) = advance((pos, wrap), self.size);
                }
                let word = pos | if wrap { 0x8000 } else { 0 };
                let flags = [RING_EVENT_FLAGS_ENABLE, RING_EVENT_FLAGS_DISABLE, RING_EVENT_FLAGS_DESC][kind as usize];
                self.dev.set_device_event(word, flags);
            }
            Op::Notify => {
                let got = self.q.should_notify().unwrap();
                let window = std::mem::take(&mut self.window);
                let (desc, flags) = self.dev.device_event();
                let want = match flags {
                    _ if window.is_empty() => false,
                    RING_EVENT_FLAGS_DISABLE => false,
                    RING_EVENT_FLAGS_DESC if self.q.event_idx() && window.len() < self.size as usize => {
                        window.contains(&(desc & 0x7fff, desc & 0x8000 != 0))
                    }
                    _ => true,
                };
                assert_eq!(got, want, "notify decision; window {window:?}, event {desc:#x}/{flags}");
            }
            Op::Interrupts(on) => {
                self.interrupts = on;
                if on {
                    let pending = self.q.enable_interrupts().unwrap();
                    assert_eq!(pending, !self.completed.is_empty(), "enable_interrupts's answer");
                } else {
                    self.q.disable_interrupts().unwrap();
                }
            }
        }
        let held: usize = self.added.len();
        assert_eq!(self.q.in_flight() as usize, held, "in-flight count");
        assert_eq!(self.q.fault(), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn packed_queue_agrees_with_a_spec_device(
        size in 1u16..=MAX as u16,
        event_idx in any::<bool>(),
        indirect in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..250),
    ) {
        let mut m = Model::new(size, event_idx, indirect);
        for (serial, op) in ops.iter().enumerate() {
            m.step(op, serial as u64 + 1);
        }
        // Drain: the device completes everything, the driver harvests all.
        m.step(&Op::DeviceTake, 0);
        while !m.held.is_empty() {
            m.step(&Op::DeviceComplete { which: 0, permille: 1000 }, 0);
        }
        m.step(&Op::Harvest, 0);
        prop_assert_eq!(m.q.free_descriptors(), size);
        prop_assert_eq!(m.q.in_flight(), 0);
    }
}
