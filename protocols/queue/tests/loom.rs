//! Model checks (loom) of each signalling protocol: no lost wake-up.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p sevio-queue --test loom --release`.
//!
//! The queues run unchanged over [`LoomMem`], a [`QueueMemory`] whose
//! header words are loom atomics and whose entries are loom `UnsafeCell`
//! bytes (so loom also reports an entry read that is not ordered after
//! its write). A notification is a loom `AtomicBool`: the notifier sets
//! it; the woken side takes it (an atomic read-modify-write) when its activation starts, which
//! synchronises with the notifier as seL4 delivery does (Microkit
//! delivers a notification that arrives during a handler after it).
//! The property, checked when both threads are done and the waiter has
//! gone to sleep: either the waiter has nothing to do, or a notification
//! is pending.
#![cfg(loom)]

use core::sync::atomic::Ordering;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, fence};
use loom::thread;
use sevio_queue::mem::{CheckedSlots, QueueMemory};
use sevio_queue::*;
use sevio_sharedmem::OutOfBounds;
use std::sync::atomic::Ordering::SeqCst;

struct Inner {
    len: usize,
    a16: Vec<(usize, AtomicU16)>,
    a32: Vec<(usize, AtomicU32)>,
    bytes: Vec<UnsafeCell<u8>>,
}

/// Loom-backed queue memory: atomics at the given offsets, plain bytes
/// elsewhere.
#[derive(Clone)]
struct LoomMem(Arc<Inner>);

impl LoomMem {
    fn new(len: usize, a16: &[usize], a32: &[usize]) -> Self {
        LoomMem(Arc::new(Inner {
            len,
            a16: a16.iter().map(|&o| (o, AtomicU16::new(0))).collect(),
            a32: a32.iter().map(|&o| (o, AtomicU32::new(0))).collect(),
            bytes: (0..len).map(|_| UnsafeCell::new(0)).collect(),
        }))
    }
    fn a16(&self, off: usize) -> &AtomicU16 {
        &self.0.a16.iter().find(|(o, _)| *o == off).expect("u16 atomic at this offset").1
    }
    fn a32(&self, off: usize) -> &AtomicU32 {
        &self.0.a32.iter().find(|(o, _)| *o == off).expect("u32 atomic at this offset").1
    }
    fn get<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        let cells = self.0.bytes.get(off..off.checked_add(N)?)?;
        let mut out = [0u8; N];
        for (o, c) in out.iter_mut().zip(cells) {
            // SAFETY: loom's cell checks that no write races this read.
            *o = c.with(|p| unsafe { *p });
        }
        Some(out)
    }
    fn put(&self, off: usize, v: &[u8]) -> Result<(), OutOfBounds> {
        let cells = self.0.bytes.get(off..off.checked_add(v.len()).ok_or(OutOfBounds)?).ok_or(OutOfBounds)?;
        for (b, c) in v.iter().zip(cells) {
            // SAFETY: loom's cell checks that no access races this write.
            c.with_mut(|p| unsafe { *p = *b });
        }
        Ok(())
    }
}

impl QueueMemory for LoomMem {
    type Slots = CheckedSlots<Self>;
    fn slots(&self, offset: usize, count: u32, stride: usize) -> Option<CheckedSlots<Self>> {
        CheckedSlots::new(self.clone(), offset, count, stride)
    }
    fn len(&self) -> usize {
        self.0.len
    }
    fn load_u16(&self, off: usize, o: Ordering) -> Option<u16> {
        Some(self.a16(off).load(o))
    }
    fn store_u16(&self, off: usize, v: u16, o: Ordering) -> Result<(), OutOfBounds> {
        self.a16(off).store(v, o);
        Ok(())
    }
    fn load_u32(&self, off: usize, o: Ordering) -> Option<u32> {
        Some(self.a32(off).load(o))
    }
    fn store_u32(&self, off: usize, v: u32, o: Ordering) -> Result<(), OutOfBounds> {
        self.a32(off).store(v, o);
        Ok(())
    }
    fn fence(&self, o: Ordering) {
        fence(o)
    }
    fn read_u8(&self, off: usize) -> Option<u8> {
        self.get::<1>(off).map(u8::from_le_bytes)
    }
    fn read_u16(&self, off: usize) -> Option<u16> {
        self.get::<2>(off).map(u16::from_le_bytes)
    }
    fn read_u32(&self, off: usize) -> Option<u32> {
        self.get::<4>(off).map(u32::from_le_bytes)
    }
    fn read_u64(&self, off: usize) -> Option<u64> {
        self.get::<8>(off).map(u64::from_le_bytes)
    }
    fn write_u8(&self, off: usize, v: u8) -> Result<(), OutOfBounds> {
        self.put(off, &v.to_le_bytes())
    }
    fn write_u16(&self, off: usize, v: u16) -> Result<(), OutOfBounds> {
        self.put(off, &v.to_le_bytes())
    }
    fn write_u32(&self, off: usize, v: u32) -> Result<(), OutOfBounds> {
        self.put(off, &v.to_le_bytes())
    }
    fn write_u64(&self, off: usize, v: u64) -> Result<(), OutOfBounds> {
        self.put(off, &v.to_le_bytes())
    }
}

/// Signal: OR into the notification word, as seL4 does with a badge.
fn notify(note: &AtomicBool) {
    note.fetch_or(true, SeqCst);
}

/// The woken side takes a pending notification. Both halves are
/// read-modify-writes: loom 0.7 lets a plain store slip between an RMW's
/// read and write (tokio-rs/loom#254), which would fake a lost wake-up.
fn take(note: &AtomicBool) {
    let _ = note.compare_exchange(true, false, SeqCst, SeqCst);
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn net_mem() -> LoomMem {
    // Capacity 4 (3 usable): header 8 + 4 entries of 16.
    LoomMem::new(8 + 4 * 16, &[0, 2], &[4])
}

fn nb(i: u64) -> NetBuffer {
    NetBuffer { io_or_offset: i, len: i as u16, oid: 0 }
}

/// Net: the producer enqueues two buffers, notifying when
/// `require_signal` says so; the consumer runs one activation (drain,
/// `request_signal`, repeat while it reports new work) and sleeps.
#[test]
fn net_consumer_signalled_no_lost_wakeup() {
    model(|| {
        let mem = net_mem();
        let note = Arc::new(AtomicBool::new(false));
        let (pm, pn) = (mem.clone(), note.clone());
        let producer = thread::spawn(move || {
            let mut p = NetProducer::new(pm, 4).unwrap();
            for i in 1..=2 {
                p.enqueue(nb(i)).unwrap();
                if p.require_signal().unwrap() {
                    notify(&pn);
                }
            }
        });
        let mut c = NetConsumer::new(mem, 4).unwrap();
        take(&note);
        let mut seen = 0;
        loop {
            while let Some(b) = c.dequeue().unwrap() {
                seen += 1;
                assert_eq!(b, nb(seen), "entries arrive whole and in order");
            }
            if !c.request_signal().unwrap() {
                break;
            }
        }
        producer.join().unwrap();
        assert!(
            c.is_empty().unwrap() || note.load(SeqCst),
            "lost wake-up: work queued, consumer asleep, no notification"
        );
    });
}

/// Negative control: a consumer that clears the flag and sleeps without
/// re-checking the queue loses a wake-up, and loom finds it.
#[test]
#[should_panic(expected = "lost wake-up")]
fn net_without_recheck_loses_wakeups() {
    model(|| {
        let mem = net_mem();
        let note = Arc::new(AtomicBool::new(false));
        mem.store_u32(4, 1, SeqCst).unwrap();
        let (pm, pn) = (mem.clone(), note.clone());
        let producer = thread::spawn(move || {
            let mut p = NetProducer::new(pm, 4).unwrap();
            p.enqueue(nb(1)).unwrap();
            if p.require_signal().unwrap() {
                notify(&pn);
            }
        });
        let mut c = NetConsumer::new(mem.clone(), 4).unwrap();
        while c.dequeue().unwrap().is_some() {}
        mem.store_u32(4, 0, SeqCst).unwrap(); // request, but no re-check
        producer.join().unwrap();
        assert!(c.is_empty().unwrap() || note.load(SeqCst), "lost wake-up");
    });
}

/// Serial: the producer writes 3 bytes into a 2-byte queue, asking the
/// consumer for a signal when full; the consumer reads and notifies when
/// `require_signal` says so. When the producer sleeps with bytes unsent,
/// either there is still no room or a notification is pending.
#[test]
fn serial_producer_signalled_no_lost_wakeup() {
    model(|| {
        let header = LoomMem::new(12, &[], &[0, 4, 8]);
        let data = LoomMem::new(2, &[], &[]);
        let note = Arc::new(AtomicBool::new(false));
        let (ch, cd, cn) = (header.clone(), data.clone(), note.clone());
        let consumer = thread::spawn(move || {
            let mut c = SerialConsumer::new(ch, cd, 2).unwrap();
            let mut out = [0u8; 1];
            if c.read(&mut out).unwrap() == 1 {
                assert_eq!(out[0], b'a');
            }
            if c.require_signal().unwrap() {
                notify(&cn);
            }
        });
        let mut p = SerialProducer::new(header, data, 2).unwrap();
        take(&note);
        let msg = b"abc";
        let mut sent = 0;
        loop {
            sent += p.write(&msg[sent..]).unwrap();
            if sent == msg.len() || !p.request_signal().unwrap() {
                break;
            }
        }
        consumer.join().unwrap();
        let room = p.free().unwrap() > 0;
        assert!(
            sent == msg.len() || !room || note.load(SeqCst),
            "lost wake-up: room freed, producer asleep, no notification"
        );
    });
}

/// Blk: no flag; the producer notifies after every enqueue. The consumer
/// (one activation) drains and sleeps; work left implies a notification.
#[test]
fn blk_always_notify_no_lost_wakeup() {
    model(|| {
        let mem = LoomMem::new(8 + 4 * 12, &[], &[0, 4]);
        let note = Arc::new(AtomicBool::new(false));
        let (pm, pn) = (mem.clone(), note.clone());
        let producer = thread::spawn(move || {
            let mut p = BlkResponseProducer::new(pm, 4).unwrap();
            for id in 1..=2 {
                p.enqueue(BlkResponse::new(BlkStatus::Ok, 1, id)).unwrap();
                notify(&pn);
            }
        });
        let mut c = BlkResponseConsumer::new(mem, 4).unwrap();
        take(&note);
        let mut next = 1;
        while let Some(r) = c.dequeue().unwrap() {
            assert_eq!(r.id, next);
            next += 1;
        }
        producer.join().unwrap();
        let n = note.load(SeqCst);
        assert!(c.is_empty().unwrap() || n, "lost wake-up: next {next} len {:?} note {n}", c.len());
    });
}
