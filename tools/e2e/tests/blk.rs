//! Block storage end to end: bus, mmio transport, blk driver and the test
//! client under sim, against QEMU's virtio-blk on a disk image this test
//! creates, and which it reads back from the host afterwards: the
//! independent check that the client's writes landed where they should
//! and nowhere else.

mod common;

use common::{BLOCK, DISK_BYTES, assert_disk_holds_the_pattern, fresh_disk, pattern_block, written_blocks};
use sevio_e2e::{Run, TempDir, sim, workspace};

/// Run the reference system with `desc` as its sim description, written
/// into `dir` beside a disk image `disk` already there.
fn run_reference(dir: &TempDir, desc: &str) -> Run {
    let desc = dir.file("blk.sim.toml", desc);
    let system = workspace().join("system.xml");
    sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"])
}

fn device(slot: u32, extra: &str) -> String {
    format!("[[device]]\ndriver = \"virtio-blk-device\"\nslot = {slot}\ndrive = {{ file = \"disk.img\"{extra} }}\n")
}

fn passes_on(slot: u32, legacy: bool, name: &str) -> Run {
    passes_with(slot, legacy, "", name)
}

/// The reference system passes with the blk device in `slot`, given
/// the extra `properties` line (empty: none).
fn passes_with(slot: u32, legacy: bool, properties: &str, name: &str) -> Run {
    let dir = TempDir::new(name);
    let disk = fresh_disk(&dir, "disk.img");
    let desc = format!("expect_pass = [\"blk_client\"]\nforce_legacy = {legacy}\n{}{properties}", device(slot, ""));
    let run = run_reference(&dir, &desc);
    run.assert_code(0);
    let binding =
        format!("bus: blk0 <- virtio-blk at mmio slot {slot} ({:#x}, irq {})", 0x0a00_0000 + 0x200 * slot, 48 + slot);
    run.assert_lines(&[
        &binding,
        "blk-client: read back and verified",
        // The client talks as sDDF's virtualiser does: more than 64
        // requests outstanding in 128-entry queues, a second data region.
        "blk-client: 100 reads outstanding at once",
        "blk-client: read into the second data region verified",
        "blk_client: PASS",
        "sim: PASS",
    ]);
    assert_disk_holds_the_pattern(&disk);
    run
}

#[test]
fn modern_device_in_slot_31_holds_exactly_the_pattern_afterwards() {
    passes_on(31, false, "slot31");
}

#[test]
fn modern_device_in_slot_0_works_too() {
    passes_on(0, false, "slot0");
}

#[test]
fn legacy_device_works() {
    passes_on(31, true, "legacy");
}

/// QEMU's `packed=on`: the device offers VIRTIO_F_RING_PACKED, the driver
/// takes it, and the same client checks pass over packed virtqueues
/// (VIRTIO 1.2 §2.8), with 100 reads outstanding, so the ring wraps.
#[test]
fn packed_virtqueue_holds_exactly_the_pattern_afterwards() {
    let run = passes_with(31, false, "properties = { packed = \"on\" }\n", "packed");
    run.assert_lines(&["blk: packed virtqueues (VIRTIO_F_RING_PACKED)"]);
}

#[test]
fn bad_requests_are_refused_and_touch_nothing() {
    let dir = TempDir::new("refusals");
    let disk = fresh_disk(&dir, "disk.img");
    let run = run_reference(&dir, &format!("expect_pass = [\"blk_client\"]\n{}", device(31, "")));
    run.assert_code(0);
    // I/O addresses outside the client's data regions (and wrapping ones),
    // a read straddling its two data regions, a block past the disk: all
    // refused, and the block the bad writes aimed at is unchanged.
    run.assert_lines(&["7 bad requests refused as expected", "unchanged after the refused writes"]);
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn read_only_drive_refuses_writes_and_serves_reads() {
    let dir = TempDir::new("readonly");
    let disk = dir.0.join("disk.img");
    let mut image = vec![0u8; DISK_BYTES];
    for block in written_blocks() {
        let at = block as usize * BLOCK;
        image[at..at + BLOCK].copy_from_slice(&pattern_block(block));
    }
    std::fs::write(&disk, &image).unwrap();
    let run = run_reference(&dir, &format!("expect_pass = [\"blk_client\"]\n{}", device(31, ", readonly = true")));
    run.assert_code(0);
    run.assert_lines(&[
        "blk-client: read-only device refused a WRITE",
        "blk-client: read-only device: read 68 blocks",
        "blk_client: PASS",
    ]);
    assert!(
        !run.lines_with("68 of them match the pattern").is_empty(),
        "reads did not return the disk's data:\n{}",
        run.out
    );
    assert_eq!(std::fs::read(&disk).unwrap(), image, "the read-only disk changed");
}

#[test]
fn without_a_disk_the_bus_says_so_and_nothing_crashes() {
    let dir = TempDir::new("nodisk");
    let desc = dir.file(
        "none.sim.toml",
        "expect_pass = [\"blk_client\"]\n[[device]]\ndriver = \"virtio-keyboard-device\"\nslot = 30\n",
    );
    let system = workspace().join("system.xml");
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "4"]);
    run.assert_code(1);
    run.assert_lines(&["bus: virtio-input at mmio slot 30 (0xa003c00, irq 78) has no driver (yet)"]);
    run.assert_lines(&["bus: blk0 waits for a device"]);
    assert!(run.out.contains("timed out") || run.out.contains("timeout"), "{}", run.out);
    for word in ["panic", "fault", "died", "killed"] {
        assert!(run.lines_with(word).is_empty(), "a PD failed: {:?}", run.lines_with(word));
    }
}

/// The blk driver's request deadline (`sevio_driver_core::watchdog`'s
/// default), in ms.
const REQUEST_DEADLINE_MS: u64 = 5_000;

#[test]
fn a_device_that_stops_answering_is_reported_after_its_deadline_and_the_client_gets_err_io() {
    let dir = TempDir::new("hang");
    fresh_disk(&dir, "disk.img");
    // blk in slot 31 (INTID 79): sim stops delivering its interrupt once
    // the client's write phase is over, so the reads that follow complete
    // on the device and are never signalled. rng_client is the rest of
    // the system, which must run on.
    let desc = format!(
        "expect_pass = [\"rng_client\"]\nexpect_fail = [\"blk_client\"]\n{}\
         [[device]]\ndriver = \"virtio-rng-device\"\nslot = 30\n",
        device(31, "")
    );
    let desc = dir.file("hang.sim.toml", &desc);
    let system = workspace().join("system.xml");
    let args = ["--sim", desc.to_str().unwrap(), "--timeout", "60", "--hold-irq", "79=blk-client: wrote"];
    let run = sim(system.to_str().unwrap(), &args);
    run.assert_code(0);
    run.assert_lines(&["blk-client: wrote", "sim: holding back INTID 79 (--hold-irq)"]);
    let reports = run.lines_with("outstanding for");
    assert_eq!(reports.len(), 1, "one report, then the device is failed:\n{}", run.out);
    let ms: u64 = reports[0]
        .split("outstanding for ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {:?}", reports[0]));
    assert!(ms >= REQUEST_DEADLINE_MS, "reported after {ms} ms, before the {REQUEST_DEADLINE_MS} ms deadline");
    assert!(reports[0].contains("blk: request ") && reports[0].ends_with("ms: device not answering"), "{}", reports[0]);
    run.assert_lines(&[
        "blk: device failed: Some(DeviceTimeout(",
        // The client's failure path: the read it relies on came back
        // ERR_IO, and it says so.
        "blk_client reported FAIL, as expected: READ of blocks",
    ]);
    assert!(run.lines_with("reported FAIL, as expected").iter().all(|l| l.ends_with("failed: ERR_IO")), "{}", run.out);
    run.assert_lines(&["rng_client: PASS"]);
    for word in ["panic", "faulted", "died", "killed"] {
        assert!(run.lines_with(word).is_empty(), "a PD failed: {:?}", run.lines_with(word));
    }
}
