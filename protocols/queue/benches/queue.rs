//! Two threads pass N entries through a queue: our net queue (sDDF layout,
//! over shared memory) against the `rtrb` crate's SPSC ring, like with
//! like, in the same run:
//!
//! - per item: our [`Producer::enqueue`] / [`Consumer::dequeue`] (publish
//!   every entry) against rtrb's `push` / `pop`;
//! - chunks: our `stage_from` / `take_each` of up to BATCH entries then one `publish`
//!   against rtrb's `write_chunk_uninit` / `read_chunk` of up to BATCH.
//!
//! Same entry (the 16-byte net buffer descriptor), same capacity (512),
//! same batch, same placement: the consumer runs on the main thread
//! pinned to CPU 0, the producer on a scoped thread pinned to CPU 1,
//! whoever's queue it is. Waiting sides spin. Each contender runs ROUNDS
//! times, interleaved; the median is printed.
//!
//! Also on one thread, no peer (`*_chunks_one_thread`): a chunk staged
//! and published, then taken and published, over and over, on both
//! queues' chunk paths. No cache line moves between CPUs, so it measures
//! what the handles cost per entry, and it is steadier than the
//! two-thread runs when the machine is busy.
//!
//! Prints the like-for-like ratios first (ours/theirs: above 1.0 sevio
//! is ahead): `RATIO queue_vs_rtrb_per_item`, `RATIO
//! queue_vs_rtrb_chunks` and `RATIO queue_vs_rtrb_chunks_one_thread`;
//! then `BENCH queue_<contender> <Mops> Mops/s` lines, and the blk
//! request queue's batched throughput for reference (32-byte entries; no
//! rtrb twin).

use sevio_queue::*;
use sevio_sharedmem::HeapRegion;
use std::hint::spin_loop;
use std::time::Instant;

const N: u64 = 10_000_000;
const CAP: u32 = 512;
const BATCH: u32 = 64;
const ROUNDS: usize = 5;

fn buf(i: u64) -> NetBuffer {
    NetBuffer { io_or_offset: i, len: i as u16, oid: 0 }
}

/// Pin the calling thread to `cpu` (if the machine has it): both
/// contenders get the same two CPUs, so neither wins by placement.
fn pin(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside
    // `set`; sched_setaffinity(0, ..) affects this thread only and reads
    // `set` for the size given. A failure (fewer CPUs) leaves the thread
    // where it was.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Run `producer` on CPU 1 and `consumer` on CPU 0; Mops/s over both.
fn two_threads(producer: impl FnOnce() + Send, consumer: impl FnOnce() -> u64) -> f64 {
    pin(0);
    let start = Instant::now();
    let sum = std::thread::scope(|s| {
        s.spawn(|| {
            pin(1);
            producer()
        });
        consumer()
    });
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sum, N * (N - 1) / 2, "every entry arrived once");
    N as f64 / secs / 1e6
}

fn net_queue() -> (HeapRegion, NetProducer, NetConsumer) {
    let region = HeapRegion::new(8 + CAP as usize * 16);
    let m = region.memory();
    let p = NetProducer::new(m, CAP).unwrap();
    let c = NetConsumer::new(m, CAP).unwrap();
    (region, p, c)
}

fn sevio_per_item() -> f64 {
    let (_region, mut p, mut c) = net_queue();
    two_threads(
        move || {
            for i in 0..N {
                while let Err(e) = p.enqueue(buf(i)) {
                    assert_eq!(e, QueueError::Full);
                    spin_loop();
                }
            }
        },
        move || {
            let (mut sum, mut got) = (0u64, 0u64);
            while got < N {
                match c.dequeue().unwrap() {
                    Some(b) => {
                        sum = sum.wrapping_add(b.io_or_offset);
                        got += 1;
                    }
                    None => spin_loop(),
                }
            }
            sum
        },
    )
}

fn rtrb_per_item() -> f64 {
    let (mut p, mut c) = rtrb::RingBuffer::<NetBuffer>::new(CAP as usize);
    two_threads(
        move || {
            for i in 0..N {
                let mut v = buf(i);
                while let Err(rtrb::PushError::Full(back)) = p.push(v) {
                    v = back;
                    spin_loop();
                }
            }
        },
        move || {
            let (mut sum, mut got) = (0u64, 0u64);
            while got < N {
                match c.pop() {
                    Ok(b) => {
                        sum = sum.wrapping_add(b.io_or_offset);
                        got += 1;
                    }
                    Err(_) => spin_loop(),
                }
            }
            sum
        },
    )
}

/// Producer stages up to BATCH entries (fewer if the queue fills) with
/// one `stage_from` and publishes `tail` once; the consumer takes up to
/// BATCH with one `take_each` and publishes `head` once: rtrb's chunk
/// pattern (`write_chunk_uninit` + `fill_from_iter`, `read_chunk`) on our
/// queue.
fn sevio_chunks() -> f64 {
    let (_region, mut p, mut c) = net_queue();
    two_threads(
        move || {
            let mut i = 0;
            while i < N {
                let end = (i + u64::from(BATCH)).min(N);
                let n = p.stage_from((i..end).map(buf)).unwrap();
                if n == 0 {
                    spin_loop();
                    continue;
                }
                p.publish().unwrap();
                i += u64::from(n);
            }
        },
        move || {
            let (mut sum, mut got) = (0u64, 0u64);
            while got < N {
                let n = c.take_each(BATCH, |b| sum = sum.wrapping_add(b.io_or_offset)).unwrap();
                if n == 0 {
                    spin_loop();
                    continue;
                }
                c.publish().unwrap();
                got += u64::from(n);
            }
            sum
        },
    )
}

fn rtrb_chunks() -> f64 {
    let (mut p, mut c) = rtrb::RingBuffer::<NetBuffer>::new(CAP as usize);
    two_threads(
        move || {
            let mut i = 0;
            while i < N {
                let want = (N - i).min(u64::from(BATCH)) as usize;
                let n = p.slots().min(want);
                if n == 0 {
                    spin_loop();
                    continue;
                }
                let chunk = p.write_chunk_uninit(n).unwrap();
                i += chunk.fill_from_iter((i..i + n as u64).map(buf)) as u64;
            }
        },
        move || {
            let (mut sum, mut got) = (0u64, 0u64);
            while got < N {
                let n = c.slots().min(BATCH as usize);
                if n == 0 {
                    spin_loop();
                    continue;
                }
                for b in c.read_chunk(n).unwrap() {
                    sum = sum.wrapping_add(b.io_or_offset);
                    got += 1;
                }
            }
            sum
        },
    )
}

fn sevio_blk_chunks() -> f64 {
    let region = HeapRegion::new(16 + CAP as usize * 32);
    let m = region.memory();
    let mut p = BlkRequestProducer::new(m, CAP).unwrap();
    let mut c = BlkRequestConsumer::new(m, CAP).unwrap();
    two_threads(
        move || {
            for i in 0..N {
                let r = BlkRequest { code: 0, io_or_offset: i * 4096, block_number: i, count: 1, id: i as u32 };
                while let Err(e) = p.stage(r) {
                    assert_eq!(e, QueueError::Full);
                    p.publish().unwrap();
                    spin_loop();
                }
                if p.staged() >= BATCH {
                    p.publish().unwrap();
                }
            }
            p.publish().unwrap();
        },
        move || {
            let (mut sum, mut got) = (0u64, 0u64);
            while got < N {
                match c.take().unwrap() {
                    Some(r) => {
                        sum = sum.wrapping_add(r.block_number);
                        got += 1;
                        if got.is_multiple_of(u64::from(BATCH)) {
                            c.publish().unwrap();
                        }
                    }
                    None => {
                        c.publish().unwrap();
                        spin_loop();
                    }
                }
            }
            sum
        },
    )
}

/// One thread, no peer: stage BATCH entries and publish, then take them
/// all and publish, over and over. No cache line moves between CPUs, so
/// this is what the handles themselves cost per entry (checks, index
/// arithmetic, the accesses), steadier than the two-thread runs on a
/// busy machine.
fn sevio_chunks_one_thread() -> f64 {
    let (_region, mut p, mut c) = net_queue();
    let start = Instant::now();
    let (mut sum, mut i) = (0u64, 0u64);
    while i < N {
        i += u64::from(p.stage_from((i..i + u64::from(BATCH)).map(buf)).unwrap());
        p.publish().unwrap();
        c.take_each(CAP, |b| sum = sum.wrapping_add(b.io_or_offset)).unwrap();
        c.publish().unwrap();
    }
    assert_eq!(sum, i * (i - 1) / 2, "every entry arrived once");
    i as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// The same with rtrb's chunk API.
fn rtrb_chunks_one_thread() -> f64 {
    let (mut p, mut c) = rtrb::RingBuffer::<NetBuffer>::new(CAP as usize);
    let start = Instant::now();
    let (mut sum, mut i) = (0u64, 0u64);
    while i < N {
        let chunk = p.write_chunk_uninit(BATCH as usize).unwrap();
        i += chunk.fill_from_iter((i..i + u64::from(BATCH)).map(buf)) as u64;
        for b in c.read_chunk(c.slots()).unwrap() {
            sum = sum.wrapping_add(b.io_or_offset);
        }
    }
    assert_eq!(sum, i * (i - 1) / 2, "every entry arrived once");
    i as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// A named run returning Mops/s.
type Contender = (&'static str, fn() -> f64);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let contenders: [Contender; 7] = [
        ("net_sevio_per_item", sevio_per_item),
        ("rtrb_per_item", rtrb_per_item),
        ("net_sevio_chunks", sevio_chunks),
        ("rtrb_chunks", rtrb_chunks),
        ("net_sevio_chunks_one_thread", sevio_chunks_one_thread),
        ("rtrb_chunks_one_thread", rtrb_chunks_one_thread),
        ("blk_sevio_chunks", sevio_blk_chunks),
    ];
    let mut runs = vec![Vec::new(); contenders.len()];
    for _ in 0..ROUNDS {
        for (k, (_, run)) in contenders.iter().enumerate() {
            runs[k].push(run());
        }
    }
    let m: Vec<f64> = runs.into_iter().map(median).collect();
    // The like-for-like ratios first: they are the headline.
    println!("RATIO queue_vs_rtrb_per_item {:.2}", m[0] / m[1]);
    println!("RATIO queue_vs_rtrb_chunks {:.2}", m[2] / m[3]);
    println!("RATIO queue_vs_rtrb_chunks_one_thread {:.2}", m[4] / m[5]);
    for ((name, _), mops) in contenders.iter().zip(&m) {
        println!("BENCH queue_{name} {mops:.2} Mops/s");
    }
}
