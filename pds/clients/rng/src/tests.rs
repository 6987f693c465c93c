//! The client against a hand-written driver side of the mailbox.

use super::*;
use sevio_driver_core::ClientRegion;
use sevio_queue::rng::{DriverPort, RngRequest};
use sevio_sharedmem::HeapRegion;
use std::format;
use std::string::String;

/// How the fake driver answers.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Driver {
    Good,
    Constant,
    OneShort,
    WritesPastTheEnd,
    SameBytesEachTime,
    AcceptsEverything,
}

struct Rig {
    _mem: [HeapRegion; 2],
    client: RngClient,
    port: DriverPort,
    data: SharedMemory,
    seed: u64,
    log: String,
}

impl Rig {
    fn new(data_size: usize) -> Rig {
        let control = HeapRegion::new(4096);
        let data = HeapRegion::new(data_size);
        let client = RngClient::new(ClientPort::new(control.memory()).unwrap(), data.memory());
        let port = DriverPort::new(control.memory()).unwrap();
        let d = data.memory();
        Rig { _mem: [control, data], client, port, data: d, seed: 0x9e37_79b9_7f4a_7c15, log: String::new() }
    }

    fn next(&mut self) -> u8 {
        // xorshift64
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 32) as u8
    }

    fn answer(&mut self, r: RngRequest, how: Driver) {
        // The driver's check, as the rng driver makes it.
        let valid = ClientRegion::driver_only(self.data).span(u64::from(r.offset), u64::from(r.len)).is_ok();
        if !valid && how != Driver::AcceptsEverything {
            return self.port.respond(r.seq, RngStatus::Invalid, 0, 0);
        }
        if how == Driver::SameBytesEachTime {
            self.seed = 42;
        }
        let mut n = r.len as usize;
        if how == Driver::WritesPastTheEnd {
            n += 1;
        }
        for i in 0..n {
            let b = if how == Driver::Constant { 7 } else { self.next() };
            let _ = self.data.write::<u8>(r.offset as usize + i, b);
        }
        let len = if how == Driver::OneShort { r.len - 1 } else { r.len };
        self.port.respond(r.seq, RngStatus::Ok, len, r.len.div_ceil(4096));
    }

    /// Run the plan against `how`; the client's last progress.
    fn run(&mut self, how: Driver) -> Progress {
        let mut p = self.client.start();
        for _ in 0..PLAN.len() + 2 {
            if p != Progress::Waiting {
                return p;
            }
            assert!(self.client.take_notify(), "each request is announced");
            let r = self.port.take().expect("a request posted");
            self.answer(r, how);
            p = self.client.notified(&mut self.log);
        }
        p
    }
}

#[test]
fn a_good_driver_passes_and_every_answer_is_logged() {
    let mut rig = Rig::new(DATA_NEEDED);
    assert_eq!(rig.run(Driver::Good), Progress::Passed, "{}", rig.log);
    for (k, len) in [16, 100, 4096, 10_000].iter().enumerate() {
        assert!(rig.log.contains(&format!("request {}: {len} bytes at", k + 1)), "{}", rig.log);
    }
    assert!(rig.log.contains("10000 bytes at 0x1200 in 3 pieces"));
    assert!(rig.log.contains("request 5: 0x3f00+512 refused as invalid"));
    assert!(rig.log.contains("request 6: 0x10+0 refused as invalid"));
    assert!(rig.log.contains("4 requests, 14212 bytes, no two alike; 2 refusals"), "{}", rig.log);
    assert_eq!(rig.client.notified(&mut rig.log), Progress::Waiting, "done: nothing more");
}

#[test]
fn wrong_answers_fail_with_their_reason() {
    let cases = [
        (Driver::Constant, "the bytes are (nearly) constant"),
        (Driver::OneShort, "not exactly the length asked for"),
        (Driver::WritesPastTheEnd, "bytes written past the range"),
        (Driver::SameBytesEachTime, "the same bytes as an earlier answer"),
        (Driver::AcceptsEverything, "an invalid request was not refused"),
    ];
    for (how, why) in cases {
        let mut rig = Rig::new(DATA_NEEDED);
        assert_eq!(rig.run(how), Progress::Failed(why), "{}", rig.log);
    }
}

#[test]
fn too_small_a_data_region_fails_at_start() {
    let mut rig = Rig::new(0x2000);
    assert_eq!(rig.client.start(), Progress::Failed("the data region is smaller than the plan needs"));
    assert!(!rig.client.take_notify());
}

#[test]
fn fnv1a_matches_the_published_vectors() {
    assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
}
