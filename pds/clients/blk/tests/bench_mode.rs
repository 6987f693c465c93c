//! Bench mode against the host-memory fake driver.

use sevio_client_blk::fake::{FakeSystem, RecordingPlatform};
use sevio_client_blk::{BenchConfig, Failure, Mode, Outcome};
use sevio_queue::{BlkOp, BlkStatus};

const CAPACITY: u64 = 4096;

fn config() -> BenchConfig {
    BenchConfig { qd1_requests: 20, deep_requests: 200, ..BenchConfig::default() }
}

fn bench(
    read_only: bool,
    counters: Option<(u64, u64)>,
) -> (FakeSystem, Outcome, Option<Failure>, RecordingPlatform, u64) {
    let mut sys = FakeSystem::new(CAPACITY, read_only);
    sys.driver.publish_info();
    let mut client = sys.client(Mode::Bench(config()));
    let mut p = RecordingPlatform { tick_ns: 1_000, counters, ..Default::default() };
    let outcome = sys.run(&mut client, &mut p, 100_000);
    let failure = client.failure().copied();
    let completed = client.completed_requests();
    (sys, outcome, failure, p, completed)
}

/// The number on the BENCH line named `name`.
fn value(p: &RecordingPlatform, name: &str) -> f64 {
    let prefix = format!("BENCH {name} ");
    let line = p.lines.iter().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name} in {:#?}", p.lines));
    line[prefix.len()..].split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn completes_every_phase_and_counts_requests() {
    let (sys, outcome, failure, p, completed) = bench(false, Some((0, 0)));
    assert_eq!(outcome, Outcome::Passed, "{failure:?} {:#?}", p.lines);
    assert_eq!(completed, 3 * 20 + 3 * 200);
    let log = &sys.driver.log;
    assert_eq!(log.len() as u64, completed);
    assert!(log.iter().all(|(_, s)| *s == BlkStatus::Ok));
    let count = |code: BlkOp, n: u16| log.iter().filter(|(r, _)| r.code == code as u32 && r.count == n).count();
    assert_eq!(count(BlkOp::Read, 1), 220);
    assert_eq!(count(BlkOp::Read, 16), 220);
    assert_eq!(count(BlkOp::Write, 16), 220);
    // Random reads spread over the disk; sequential ones walk it in order.
    let rand: Vec<u64> = log.iter().filter(|(r, _)| r.count == 1).map(|(r, _)| r.block_number).collect();
    assert!(rand.iter().any(|&b| b > CAPACITY / 2) && rand.iter().any(|&b| b < CAPACITY / 2));
    let seq: Vec<u64> = log.iter().filter(|(r, _)| r.count == 16).take(5).map(|(r, _)| r.block_number).collect();
    assert_eq!(seq, [0, 16, 32, 48, 64]);
    for name in [
        "blk_qd1_randread_4k_iops",
        "blk_qd32_randread_4k_iops",
        "blk_qd1_seqread_64k_mbps",
        "blk_qd32_seqwrite_64k_mbps",
    ] {
        assert!(value(&p, name) > 0.0, "{name}");
    }
    assert!(p.printed(" IOPS") && p.printed(" MB/s"));
}

#[test]
fn notification_counts_follow_the_refill_policy() {
    let (sys, _, failure, p, _) = bench(false, Some((0, 0)));
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(sys.driver.max_outstanding, 32);
    // At depth 1 every request costs one notification each way.
    let qd1 = value(&p, "blk_qd1_notifications_per_request");
    assert!((qd1 - 2.0).abs() < 0.01, "{qd1}");
    // At depth 32 the fake answers everything at once: the client refills
    // once per 32 completions, so both directions together stay near 2/32.
    let qd32 = value(&p, "blk_qd32_notifications_per_request");
    assert!(qd32 > 0.0 && qd32 <= 0.07, "{qd32}");
    assert_eq!(value(&p, "blk_qd32_irqs_per_request"), 0.0);
    let total = sys.notifications.0 + sys.notifications.1;
    assert!(total > 0);
}

#[test]
fn deep_queue_really_keeps_many_requests_in_flight() {
    let mut sys = FakeSystem::new(CAPACITY, false);
    sys.driver.publish_info();
    // Answer one request per driver activation: the client keeps refilling
    // (at 16 in flight) up to 32 and never beyond.
    sys.driver.max_batch = 1;
    let mut client = sys.client(Mode::Bench(config()));
    let mut p = RecordingPlatform { tick_ns: 1, ..Default::default() };
    assert_eq!(sys.run(&mut client, &mut p, 1_000_000), Outcome::Passed, "{:?}", client.failure());
    assert_eq!(client.completed_requests(), 660);
    assert_eq!(sys.driver.max_outstanding, 32);
    // Client notifications: one per request at depth 1, one per 16 at depth 32 (+1 per phase start).
    let (to_driver, _) = sys.notifications;
    assert!(to_driver <= 3 * 20 + 3 * (200 / 16 + 1), "{to_driver}");
    assert!(to_driver >= 3 * 20 + 3 * (200 / 16), "{to_driver}");
    // Without counters, no count lines.
    assert!(!p.printed("notifications_per_request"));
}

#[test]
fn read_only_device_skips_writes() {
    let (sys, outcome, failure, p, completed) = bench(true, None);
    assert_eq!(outcome, Outcome::Passed, "{failure:?}");
    assert_eq!(completed, 2 * 20 + 2 * 200);
    assert!(!sys.driver.log.iter().any(|(r, _)| r.code == BlkOp::Write as u32));
    assert!(p.printed("write phases skipped"));
    assert!(!p.printed("seqwrite"));
}

#[test]
fn an_error_response_fails_the_bench() {
    let mut sys = FakeSystem::new(CAPACITY, true);
    // Claim read-only only to the driver: the client believes it may write.
    sys.driver.info.read_only = false;
    sys.driver.publish_info();
    sys.driver.info.read_only = true;
    let mut client = sys.client(Mode::Bench(config()));
    let mut p = RecordingPlatform::default();
    assert_eq!(sys.run(&mut client, &mut p, 100_000), Outcome::Failed);
    assert!(matches!(client.failure(), Some(Failure::Request { code: 1, status: 2, .. })));
}

#[test]
fn too_small_a_data_region_or_disk_is_reported() {
    let mut sys = FakeSystem::new(8, false);
    sys.driver.publish_info();
    let mut client = sys.client(Mode::Bench(config()));
    let mut p = RecordingPlatform::default();
    assert_eq!(sys.run(&mut client, &mut p, 10), Outcome::Failed);
    assert_eq!(client.failure(), Some(&Failure::TooSmallDevice { needed: 16, capacity: 8 }));

    let mut sys = FakeSystem::new(CAPACITY, false);
    sys.driver.publish_info();
    let mut client = sys.client(Mode::Bench(BenchConfig { seq_blocks: 32, ..config() }));
    assert_eq!(sys.run(&mut client, &mut p, 10), Outcome::Failed);
    assert!(matches!(client.failure(), Some(Failure::DataRegionTooSmall { needed: 0x40_0000, .. })));
}

#[test]
fn median_latency_grows_with_the_queue_depth_when_the_driver_answers_one_at_a_time() {
    let mut sys = FakeSystem::new(CAPACITY, false);
    sys.driver.publish_info();
    sys.driver.max_batch = 1;
    let mut client = sys.client(Mode::Bench(config()));
    // Every clock reading advances 1 us: latency counts the readings made
    // between a request's submission and its completion.
    let mut p = RecordingPlatform { tick_ns: 1_000, ..Default::default() };
    assert_eq!(sys.run(&mut client, &mut p, 1_000_000), Outcome::Passed, "{:?}", client.failure());
    let qd1 = value(&p, "blk_qd1_randread_4k_median_latency_us");
    let qd32 = value(&p, "blk_qd32_randread_4k_median_latency_us");
    // At depth 1: submitted at one reading, completed at the next.
    assert!((0.9..=1.1).contains(&qd1), "{qd1}");
    // At depth 32, answered one per activation, a request waits behind
    // the others in flight: at least 16 readings.
    assert!(qd32 >= 16.0, "qd1 {qd1} us, qd32 {qd32} us");
    for name in ["blk_qd1_seqread_64k_median_latency_us", "blk_qd32_seqwrite_64k_median_latency_us"] {
        assert!(value(&p, name) > 0.0, "{name}");
    }
}
