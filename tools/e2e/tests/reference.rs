//! The reference system as `make run` runs it without an SDK: blk, net,
//! console and rng drivers with their clients, each device found by the
//! bus wherever QEMU placed it, every client passing.

use sevio_e2e::{sim, workspace};

#[test]
fn every_device_is_bound_and_every_client_passes() {
    let system = workspace().join("system.xml");
    let run = sim(system.to_str().unwrap(), &["--timeout", "60"]);
    run.assert_code(0);
    for (driver, class) in [("blk0", "blk"), ("net0", "net"), ("console0", "console"), ("rng0", "rng")] {
        let line = format!("bus: {driver} <- virtio-{class} at mmio slot");
        assert_eq!(run.lines_with(&line).len(), 1, "{driver} not bound exactly once:\n{}", run.out);
    }
    for client in ["blk_client", "net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
    run.assert_lines(&["sim: PASS: blk_client, net_client, console_client, rng_client passed"]);
}

/// A driver that faults takes nothing else down: the fault reaches the
/// bus (the drivers are its children), which unbinds the driver; the
/// transport resets the device; every other client still passes.
#[test]
fn a_faulting_driver_is_unbound_its_device_reset_and_the_rest_runs_on() {
    let dir = sevio_e2e::TempDir::new("fault");
    let reference = std::fs::read_to_string(workspace().join("system.sim.toml")).unwrap();
    let others = r#"expect_pass = ["net_client", "console_client", "rng_client"]"#;
    let desc =
        reference.replace(r#"expect_pass = ["blk_client", "net_client", "console_client", "rng_client"]"#, others);
    assert!(desc.contains(others), "system.sim.toml changed its expect_pass line");
    let desc = dir.file("fault.sim.toml", &desc);
    let system = workspace().join("system.xml");
    let run = sim(
        system.to_str().unwrap(),
        // Linger: the other clients may pass before the transport has
        // logged the reset.
        &["--sim", desc.to_str().unwrap(), "--fault", "blk=blk: device ready", "--timeout", "60", "--linger", "1"],
    );
    run.assert_code(0);
    run.assert_lines(&[
        "bus: blk0 <- virtio-blk at mmio slot",
        "sim: blk faulted: fault injected (--fault) (fault delivered to bus as child 0)",
        "bus: driver 0 faulted",
        "bus: blk0 </- virtio-blk at mmio slot",
        "mmio: driver 0 unbound; device at Mmio",
    ]);
    for client in ["net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
    assert!(run.lines_with("blk_client: PASS").is_empty(), "the blk client cannot have passed without its driver");
}

/// The same without injection: a real fault. blk's request queue is mapped
/// read-only (what `make qemu-fault` boots on seL4), so blk faults when it
/// first hands a slot back; the bus unbinds it, the disk is reset, and the
/// net, console and rng clients still pass.
#[test]
fn a_driver_writing_a_read_only_map_faults_and_nothing_else_stops() {
    let dir = sevio_e2e::TempDir::new("real-fault");
    let reference = std::fs::read_to_string(workspace().join("system.xml")).unwrap();
    let start = reference.find(r#"<protection_domain name="blk""#).expect("blk PD");
    let end = start + reference[start..].find("</protection_domain>").unwrap();
    let blk = &reference[start..end];
    let read_only = blk.replace(
        r#"<map mr="blk_request" vaddr="0x2402000" perms="rw""#,
        r#"<map mr="blk_request" vaddr="0x2402000" perms="r""#,
    );
    assert_ne!(blk, read_only, "system.xml changed blk's request map");
    let system = dir.file("system.xml", &format!("{}{}{}", &reference[..start], read_only, &reference[end..]));
    let desc = std::fs::read_to_string(workspace().join("system.sim.toml")).unwrap().replace(
        r#"expect_pass = ["blk_client", "net_client", "console_client", "rng_client"]"#,
        r#"expect_pass = ["net_client", "console_client", "rng_client"]"#,
    );
    let desc = dir.file("system.sim.toml", &desc);
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60", "--linger", "1"]);
    run.assert_code(0);
    run.assert_lines(&[
        "sim: blk faulted",
        "bus: driver 0 faulted (seL4 fault label 6)",
        "bus: blk0 </- virtio-blk at mmio slot",
        "mmio: driver 0 unbound; device at Mmio",
    ]);
    for client in ["net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
}
