//! Test mode against the host-memory fake driver.

use sevio_client_blk::fake::{FAKE_META_IO, FAKE_META_SIZE, FakeSystem, RecordingPlatform};
use sevio_client_blk::pattern::pattern_byte;
use sevio_client_blk::{DEFAULT_SEED, Failure, Mode, Outcome, TestConfig};
use sevio_queue::{BlkOp, BlkStatus};

const CAPACITY: u64 = 1000;
const ROUNDS: usize = 10_000;

fn run(sys: &mut FakeSystem) -> (Outcome, Option<Failure>, RecordingPlatform) {
    let mut client = sys.client(Mode::Test(TestConfig::default()));
    let mut p = RecordingPlatform::default();
    let outcome = sys.run(&mut client, &mut p, ROUNDS);
    (outcome, client.failure().copied(), p)
}

fn ready(read_only: bool) -> FakeSystem {
    let sys = FakeSystem::new(CAPACITY, read_only);
    sys.driver.publish_info();
    sys
}

/// The disk holds exactly the pattern over blocks 0..64 and 996..1000,
/// and nothing anywhere else (the disk started zeroed).
fn assert_disk_has_pattern(sys: &FakeSystem) {
    for block in 0..CAPACITY {
        let tested = !(64..CAPACITY - 4).contains(&block);
        let data = &sys.driver.disk[block as usize * 4096..][..4096];
        for (off, &b) in data.iter().enumerate() {
            let want = if tested { pattern_byte(DEFAULT_SEED, block, off) } else { 0 };
            assert_eq!(b, want, "block {block} byte {off}");
        }
    }
}

#[test]
fn full_run_passes_and_leaves_the_pattern_on_disk() {
    let mut sys = ready(false);
    let (outcome, failure, p) = run(&mut sys);
    assert_eq!(outcome, Outcome::Passed, "{failure:?} {:#?}", p.lines);
    assert!(p.printed("blk-client: device: 1000 blocks of 4096 B (3 MiB)"), "{:#?}", p.lines);
    assert!(p.printed("serial \"fake-blk\""));
    assert_disk_has_pattern(&sys);

    let log = &sys.driver.log;
    let writes: Vec<_> = log.iter().filter(|(r, s)| r.code == BlkOp::Write as u32 && *s == BlkStatus::Ok).collect();
    assert!(writes.iter().any(|(r, _)| r.count > 1), "multi-block writes");
    assert!(log.iter().any(|(r, s)| r.code == BlkOp::Read as u32 && r.count > 1 && *s == BlkStatus::Ok));
    assert!(log.iter().any(|(r, s)| r.code == BlkOp::Flush as u32 && *s == BlkStatus::Ok));
    // The probes reached the driver and were refused.
    assert!(
        log.iter()
            .any(|(r, s)| r.io_or_offset >= FAKE_META_IO + FAKE_META_SIZE as u64 && *s == BlkStatus::InvalidParam)
    );
    // A read straddling the two data regions was refused.
    let straddle = FAKE_META_IO - 4096;
    assert!(log.iter().any(|(r, s)| r.io_or_offset == straddle && r.count == 2 && *s == BlkStatus::InvalidParam));
    assert!(
        log.iter().any(|(r, s)| r.io_or_offset == FAKE_META_IO && *s == BlkStatus::Ok),
        "a read into the second region"
    );
    assert!(p.printed("100 reads outstanding at once"), "{:#?}", p.lines);
    assert!(sys.driver.max_outstanding > 64, "more than 64 outstanding: {}", sys.driver.max_outstanding);
    assert!(log.iter().any(|(r, s)| r.block_number == CAPACITY && *s != BlkStatus::Ok));
    // Several requests were in flight at once (the driver saw them in one batch).
    let most = p.lines.iter().find(|l| l.contains("wrote 68 blocks")).expect("write summary");
    let n: usize = most.rsplit("up to ").next().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(n > 1, "{most}");
}

#[test]
fn responses_in_reverse_order_and_small_batches_still_pass() {
    let mut sys = ready(false);
    sys.driver.reverse = true;
    sys.driver.max_batch = 3;
    let (outcome, failure, p) = run(&mut sys);
    assert_eq!(outcome, Outcome::Passed, "{failure:?} {:#?}", p.lines);
    assert_disk_has_pattern(&sys);
}

#[test]
fn waits_for_the_storage_info_page() {
    let mut sys = FakeSystem::new(CAPACITY, false);
    let mut client = sys.client(Mode::Test(TestConfig::default()));
    let mut p = RecordingPlatform::default();
    assert_eq!(sys.run(&mut client, &mut p, ROUNDS), Outcome::Running);
    assert!(sys.driver.log.is_empty(), "no request before the device is ready");
    assert!(p.lines.is_empty());
    sys.driver.publish_info();
    // `run` starts with the client's step: the driver's notification after publishing.
    assert_eq!(sys.run(&mut client, &mut p, ROUNDS), Outcome::Passed, "{:?}", client.failure());
}

#[test]
fn a_corrupted_block_fails_naming_the_block() {
    let mut sys = ready(false);
    sys.driver.faults.corrupt_block = Some(37);
    let (outcome, failure, _) = run(&mut sys);
    assert_eq!(outcome, Outcome::Failed);
    match failure {
        Some(Failure::Mismatch { block: 37, mismatch }) => assert_eq!(mismatch.offset, 100),
        other => panic!("{other:?}"),
    }
    let text = failure.unwrap().to_string();
    assert!(text.starts_with("block 37 read back wrong: byte 100"), "{text}");
}

#[test]
fn misplaced_reads_fail_naming_whose_data_it_is() {
    let mut sys = ready(false);
    sys.driver.faults.shifted_reads = true;
    let (_, failure, _) = run(&mut sys);
    let f = failure.expect("failure");
    match f {
        Failure::Mismatch { block, mismatch } => assert_eq!(mismatch.looks_like, Some(block + 1)),
        other => panic!("{other:?}"),
    }
    assert!(f.to_string().contains("'s)"), "{f}");
}

#[test]
fn a_driver_that_skips_the_offset_check_fails_the_probe() {
    let mut sys = ready(false);
    sys.driver.faults.skip_offset_check = true;
    let (_, failure, _) = run(&mut sys);
    match failure {
        Some(Failure::Probe { probe, status, .. }) => {
            assert!(probe.contains("data region") || probe.contains("wraps"), "{probe}");
            assert_eq!(status, BlkStatus::Ok as u32);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn read_only_device_refuses_the_write_and_serves_reads() {
    let mut sys = ready(true);
    // Pre-fill block 0..64 with the pattern, as a host test would prepare a read-only image.
    for block in 0..64u64 {
        for off in 0..4096 {
            sys.driver.disk[block as usize * 4096 + off] = pattern_byte(DEFAULT_SEED, block, off);
        }
    }
    let (outcome, failure, p) = run(&mut sys);
    assert_eq!(outcome, Outcome::Passed, "{failure:?} {:#?}", p.lines);
    assert!(p.printed("read-only yes"));
    assert!(p.printed("read-only device refused a WRITE: ERR_INVALID_PARAM"));
    assert!(p.printed("read 68 blocks in"), "{:#?}", p.lines);
    assert!(p.printed("64 of them match the pattern"), "{:#?}", p.lines);
    assert!(!sys.driver.log.iter().any(|(r, s)| r.code == BlkOp::Write as u32 && *s == BlkStatus::Ok));
    assert!(!sys.driver.log.iter().any(|(r, _)| r.code == BlkOp::Flush as u32));
}

#[test]
fn read_only_device_that_accepts_writes_fails() {
    let mut sys = ready(true);
    sys.driver.faults.ignore_read_only = true;
    let (_, failure, _) = run(&mut sys);
    assert_eq!(failure, Some(Failure::ReadOnlyWriteAccepted { block: 0 }));
}

#[test]
fn tiny_disk_and_empty_disk() {
    let mut sys = FakeSystem::new(3, false);
    sys.driver.publish_info();
    let (outcome, failure, _) = run(&mut sys);
    assert_eq!(outcome, Outcome::Passed, "{failure:?}");
    let mut sys = FakeSystem::new(0, false);
    sys.driver.publish_info();
    let (_, failure, _) = run(&mut sys);
    assert_eq!(failure, Some(Failure::TooSmallDevice { needed: 1, capacity: 0 }));
}

#[test]
fn a_response_for_no_request_fails() {
    use sevio_queue::{BlkResponse, BlkResponseProducer};
    let sys = ready(false);
    let mut client = sys.client(Mode::Test(TestConfig::default()));
    let mut p = RecordingPlatform::default();
    assert!(client.notified(&mut p).notify_driver);
    // A second producer on the response queue stands in for a rogue driver.
    let mut rogue = BlkResponseProducer::new(sys.regions().response, sevio_client_blk::BLK_QUEUE_CAPACITY).unwrap();
    rogue.enqueue(BlkResponse::new(BlkStatus::Ok, 1, 0xdead_0005)).unwrap();
    assert_eq!(client.notified(&mut p).outcome, Outcome::Failed);
    assert!(matches!(client.failure(), Some(Failure::Engine(sevio_client_blk::EngineError::UnknownId(0xdead_0005)))));
}

fn soak(sys: &mut FakeSystem, rounds: u32) -> (Outcome, Option<Failure>, RecordingPlatform) {
    let mut client = sys.client(Mode::Test(TestConfig { rounds, ..TestConfig::default() }));
    let mut p = RecordingPlatform::default();
    let outcome = sys.run(&mut client, &mut p, ROUNDS * rounds as usize);
    (outcome, client.failure().copied(), p)
}

/// Rounds: each writes its own pattern; the disk ends with the last.
#[test]
fn rounds_each_write_their_own_pattern() {
    let mut sys = ready(false);
    let (outcome, failure, p) = soak(&mut sys, 3);
    assert_eq!(outcome, Outcome::Passed, "{failure:?} {:#?}", p.lines);
    assert!(p.printed("round 3 of 3"), "{:#?}", p.lines);
    let last = sevio_client_blk::round_seed(DEFAULT_SEED, 2);
    assert_ne!(last, DEFAULT_SEED);
    assert_eq!(sys.driver.disk[4096 + 7], pattern_byte(last, 1, 7));
}

/// A driver that acknowledges a write of the second round and loses it:
/// the block reads back as the first round's, and the run fails naming it.
#[test]
fn an_acknowledged_write_lost_in_a_later_round_fails_the_run() {
    let mut sys = ready(false);
    let (outcome, _, _) = soak(&mut sys, 1);
    assert_eq!(outcome, Outcome::Passed);
    let writes_per_round = sys.driver.log.iter().filter(|(r, _)| r.code == BlkOp::Write as u32).count();
    let mut sys = ready(false);
    sys.driver.faults.lose_writes_after = Some(writes_per_round + 2);
    let (outcome, failure, p) = soak(&mut sys, 2);
    assert_eq!(outcome, Outcome::Failed, "{:#?}", p.lines);
    assert!(matches!(failure, Some(Failure::Mismatch { .. })), "{failure:?}");
}
