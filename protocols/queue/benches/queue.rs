//! Two threads pass N entries through a queue: our net and blk queues
//! (over shared memory, with batched index publication) against the
//! `rtrb` crate's SPSC ring of the same capacity, in the same run.
//!
//! Prints `BENCH <name> <Mops> Mops/s` lines and
//! `RATIO queue_vs_rtrb <ours/theirs>` (above 1.0: sevio ahead). The
//! headline compares our batched net queue with rtrb's per-item
//! push/pop; the unbatched and chunked variants are printed too, so the
//! comparison can be read either way. Best of a few interleaved rounds.

use sevio_queue::*;
use sevio_sharedmem::HeapRegion;
use std::hint::{black_box, spin_loop};
use std::time::Instant;

const N: u64 = 2_000_000;
const CAP: u32 = 512;
const BATCH: u32 = 64;
const ROUNDS: usize = 3;

fn buf(i: u64) -> NetBuffer {
    NetBuffer { io_or_offset: i, len: i as u16, oid: 0 }
}

fn mops(secs: f64) -> f64 {
    N as f64 / secs / 1e6
}

/// Producer stages up to BATCH entries before publishing `tail`; the
/// consumer publishes `head` every BATCH entries or when it runs dry.
fn sevio_net(batch: u32) -> f64 {
    let region = HeapRegion::new(8 + CAP as usize * 16);
    let m = region.memory();
    let mut p = NetProducer::new(m, CAP).unwrap();
    let mut c = NetConsumer::new(m, CAP).unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
            for i in 0..N {
                loop {
                    match p.stage(buf(i)) {
                        Ok(()) => break,
                        Err(QueueError::Full) => {
                            p.publish().unwrap();
                            spin_loop();
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
                if p.staged() >= batch {
                    p.publish().unwrap();
                }
            }
            p.publish().unwrap();
        });
        let mut sum = 0u64;
        let mut got = 0u64;
        let mut unpublished = 0;
        while got < N {
            match c.take().unwrap() {
                Some(b) => {
                    sum = sum.wrapping_add(b.io_or_offset);
                    got += 1;
                    unpublished += 1;
                    if unpublished >= batch {
                        c.publish().unwrap();
                        unpublished = 0;
                    }
                }
                None => {
                    c.publish().unwrap();
                    unpublished = 0;
                    spin_loop();
                }
            }
        }
        assert_eq!(sum, N * (N - 1) / 2);
    });
    mops(start.elapsed().as_secs_f64())
}

fn sevio_blk() -> f64 {
    let region = HeapRegion::new(16 + CAP as usize * 32);
    let m = region.memory();
    let mut p = BlkRequestProducer::new(m, CAP).unwrap();
    let mut c = BlkRequestConsumer::new(m, CAP).unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
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
        });
        let mut sum = 0u64;
        let mut got = 0u64;
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
        assert_eq!(sum, N * (N - 1) / 2);
    });
    mops(start.elapsed().as_secs_f64())
}

fn rtrb_items() -> f64 {
    let (mut p, mut c) = rtrb::RingBuffer::<NetBuffer>::new(CAP as usize);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
            for i in 0..N {
                let mut v = buf(i);
                while let Err(rtrb::PushError::Full(back)) = p.push(v) {
                    v = back;
                    spin_loop();
                }
            }
        });
        let mut sum = 0u64;
        let mut got = 0u64;
        while got < N {
            match c.pop() {
                Ok(b) => {
                    sum = sum.wrapping_add(b.io_or_offset);
                    got += 1;
                }
                Err(_) => spin_loop(),
            }
        }
        assert_eq!(sum, N * (N - 1) / 2);
    });
    mops(start.elapsed().as_secs_f64())
}

fn rtrb_chunks() -> f64 {
    let (mut p, mut c) = rtrb::RingBuffer::<NetBuffer>::new(CAP as usize);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut i = 0;
            while i < N {
                let want = (N - i).min(u64::from(BATCH)) as usize;
                let n = p.slots().min(want);
                if n == 0 {
                    spin_loop();
                    continue;
                }
                let chunk = p.write_chunk_uninit(n).unwrap();
                let written = chunk.fill_from_iter((i..i + n as u64).map(buf));
                i += written as u64;
            }
        });
        let mut sum = 0u64;
        let mut got = 0u64;
        while got < N {
            let n = c.slots().min(BATCH as usize);
            if n == 0 {
                spin_loop();
                continue;
            }
            let chunk = c.read_chunk(n).unwrap();
            for b in chunk {
                sum = sum.wrapping_add(b.io_or_offset);
                got += 1;
            }
        }
        assert_eq!(sum, N * (N - 1) / 2);
    });
    mops(start.elapsed().as_secs_f64())
}

fn main() {
    let (mut net, mut net1, mut blk, mut rt, mut rtc) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for _ in 0..ROUNDS {
        net = net.max(black_box(sevio_net(BATCH)));
        rt = rt.max(black_box(rtrb_items()));
        net1 = net1.max(black_box(sevio_net(1)));
        blk = blk.max(black_box(sevio_blk()));
        rtc = rtc.max(black_box(rtrb_chunks()));
    }
    println!("BENCH queue_net_sevio {net:.2} Mops/s");
    println!("BENCH queue_net_sevio_unbatched {net1:.2} Mops/s");
    println!("BENCH queue_blk_sevio {blk:.2} Mops/s");
    println!("BENCH queue_rtrb {rt:.2} Mops/s");
    println!("BENCH queue_rtrb_chunked {rtc:.2} Mops/s");
    println!("RATIO queue_vs_rtrb {:.2}", net / rt);
    println!("RATIO queue_unbatched_vs_rtrb {:.2}", net1 / rt);
    println!("RATIO queue_vs_rtrb_chunked {:.2}", net / rtc);
}
