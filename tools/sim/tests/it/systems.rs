//! Whole systems under sim: the reference ping/pong/tally system, the
//! virtio-mmio probe (modern, legacy, misplaced devices), IRQ masking,
//! and fault delivery.

use crate::common::{sim, workspace};

#[test]
fn reference_system_prints_every_round_and_passes() {
    let run = sim(&[workspace().join("systems/pingpong.xml").to_str().unwrap(), "--timeout", "20"]);
    run.assert_code(0);
    let mut want = vec!["ping: hello, shared region at 0x2000000".to_string()];
    for round in 1..=3 {
        want.push(format!("pong: round {round}"));
        want.push(format!("tally: call {round} sums to {}", 150 + round));
        want.push(format!("ping: round {round} ok (notify both ways, shared region, 6-word PPC)"));
    }
    want.extend(["ping: PASS".into(), "sim: PASS: ping passed".into()]);
    run.assert_lines(&want.iter().map(String::as_str).collect::<Vec<_>>());
    run.assert_lines(&["tally: hello (passive)"]);
}

fn probe_slots(run: &crate::common::Run, version: u32) {
    let slots: Vec<String> = (0..32)
        .map(|slot| {
            let device = match slot {
                31 => "device 2 (blk)",
                30 => "device 4 (rng)",
                _ => "device 0 (-)",
            };
            format!("probe: slot {slot:2}: magic 0x74726976 version {version} {device}")
        })
        .collect();
    run.assert_lines(&slots.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The probe passes with `extra` arguments, seeing register `version`.
fn probe_passes(extra: &[&str], version: u32) {
    let mut args = vec!["probe.xml", "--timeout", "20"];
    args.extend(extra);
    let run = sim(&args);
    run.assert_code(0);
    probe_slots(&run, version);
    let summary = format!("every slot as expected, register version {version}");
    run.assert_lines(&[&summary, "sim: PASS: probe passed"]);
}

#[test]
fn probe_finds_the_placed_devices_with_modern_registers() {
    probe_passes(&[], 2);
}

#[test]
fn probe_finds_the_placed_devices_with_legacy_registers() {
    probe_passes(&["--sim", "probe-legacy.sim.toml"], 1);
}

#[test]
fn probe_fails_when_a_device_is_elsewhere() {
    let run = sim(&["probe.xml", "--sim", "probe-misplaced.sim.toml", "--timeout", "20"]);
    run.assert_code(1);
    run.assert_lines(&[
        "probe: slot 29: magic 0x74726976 version 2 device 4 (rng)",
        "sim: FAIL: probe reported FAIL: the devices are not where the sim description put them",
    ]);
}

#[test]
fn device_irq_reaches_its_pd_once_until_acked() {
    let run = sim(&["irq.xml", "--timeout", "20"]);
    run.assert_code(0);
    run.assert_lines(&[
        "irq: request 1 done (64 bytes), IRQ on id 5",
        "irq: line high again, not delivered while unacked",
        "irq: delivered again after the ack (line still high)",
        "irq: acknowledged at the device, then acked: not delivered again",
        "sim: PASS: irq passed",
    ]);
}

#[test]
fn faults_are_reported_and_reach_the_parent() {
    let run = sim(&["faults.xml", "--timeout", "20"]);
    run.assert_code(0);
    run.assert_lines(&["sim: segv faulted: killed by signal 11 (SIGSEGV) (fault delivered to parent as child 4)"]);
    run.assert_lines(&[
        "crash: called with 42, panicking",
        "sim: crash faulted: crash: panic at tools/sim/test-pds/src/bin/crash.rs:",
        "parent: call to crash came back with label 0xfffffffffffff (dead peer: true)",
    ]);
    run.assert_lines(&["deliberate panic in crash (fault delivered to parent as child 3)"]);
    run.assert_lines(&["parent: child 4 faulted with label 6"]);
    run.assert_lines(&["parent: child 3 faulted with label 3"]);
    run.assert_lines(&["sim: PASS: parent passed"]);
}

#[test]
fn sddf_config_sections_reach_the_pd_as_sdfgen_wrote_them() {
    let run = sim(&["sddf-config.xml", "--timeout", "20"]);
    run.assert_code(0);
    // The values of sDDF 0.7.0's blk, echo_server and serial examples,
    // as their system files (protocols/sddf/tests/sdfgen/*/*.system) say.
    run.assert_lines(&[
        "config: device_resources: 3 regions, irqs [0]",
        "config: device_resources: region 0 0x20000200+0x1000 io 0xa000000",
        "config: device_resources: region 1 0x20001000+0x10000 io 0x5fff0000",
        "config: device_resources: region 2 0x20200000+0x200000 io 0x5fdf0000",
        "config: blk_driver_config: storage_info 0x20400000+0x1000 req 0x20401000+0x4000 resp 0x20405000+0x4000 buffers 128 id 1",
        "config: net_driver_config: rx free 0x20011000+0x3000 active 0x20014000+0x3000 buffers 512 id 1",
        "config: net_driver_config: tx free 0x20017000+0x5000 active 0x2001c000+0x5000 buffers 1024 id 2",
        "config: serial_driver_config: rx queue 0x20001000+0x1000 data 0x20002000+0x10000 id 1",
        "config: serial_driver_config: tx queue 0x20012000+0x1000 data 0x20013000+0x20000 id 2",
        "config: serial_driver_config: baud 115200",
        "config: timer_client_config: driver_id 5",
        "sim: PASS: config passed",
    ]);
}

#[test]
fn sddf_config_sections_left_empty_are_refused_by_the_pd() {
    let dir = crate::common::TempDir::new("sddf-empty");
    let empty = dir.file("none.sim.toml", "expect_pass = [\"config\"]\n");
    let run = sim(&["sddf-config.xml", "--sim", empty.to_str().unwrap(), "--timeout", "20"]);
    run.assert_code(1);
    run.assert_lines(&[
        "config: device_resources: bad magic [00, 00, 00, 00, 00], expected [73, 44, 44, 46, 01] (DeviceResources)",
    ]);
}
