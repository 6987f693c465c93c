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

/// A driver that faults is restarted: the fault reaches the bus (the
/// drivers are its children), which unbinds it (the transport resets the
/// device) and restarts it after a back-off; the restarted driver starts
/// from its boot state, registers again, is bound to the same device and
/// serves its client, which passes. blk faults twice: during bring-up
/// (as it is bound) and once its device is up.
#[test]
fn a_faulted_driver_is_restarted_and_its_client_still_passes() {
    let system = workspace().join("system.xml");
    let run = sim(
        system.to_str().unwrap(),
        &["--fault", "blk=blk: bound to", "--fault", "blk=blk: device ready", "--timeout", "60", "--linger", "1"],
    );
    run.assert_code(0);
    run.assert_lines(&[
        "bus: blk0 <- virtio-blk at mmio slot",
        "sim: blk faulted: fault injected (--fault) (fault delivered to bus as child 0)",
        "bus: driver 0 faulted (blk0): VM fault",
        "bus: blk0 </- virtio-blk at mmio slot",
        "bus: restarting blk0 in 1000 us (restart 1 of 11 allowed in 10000 ms)",
        "sim: blk restarted",
        "bus: restarting blk0 in 2000 us (restart 2 of 11 allowed in 10000 ms)",
        "bus: blk0 bound again",
    ]);
    assert_eq!(run.lines_with("sim: blk restarted").len(), 2, "two faults, two restarts:\n{}", run.out);
    assert_eq!(run.lines_with("bus: blk0 <- virtio-blk at mmio slot").len(), 3, "bound three times:\n{}", run.out);
    for client in ["blk_client", "net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
}

/// net and console are restarted the same way, and their clients'
/// sessions continue: the console client's lines are answered, the net
/// client's echoes come back (a frame lost with the crashed instance is
/// sent again by the client, as on a wire).
#[test]
fn net_and_console_clients_pass_across_a_restart_of_their_drivers() {
    let system = workspace().join("system.xml");
    let run = sim(
        system.to_str().unwrap(),
        &[
            "--fault",
            "net=net: device ready",
            "--fault",
            "console=console: device ready",
            "--timeout",
            "90",
            "--linger",
            "1",
        ],
    );
    run.assert_code(0);
    // The two drivers come up (and fault) in either order.
    for name in ["net", "console"] {
        let id = if name == "net" { 1 } else { 2 };
        run.assert_lines(&[
            &format!("bus: driver {id} faulted ({name}0)"),
            &format!("sim: {name} restarted"),
            &format!("bus: {name}0 bound again"),
        ]);
    }
    assert_eq!(run.lines_with("net: device ready").len(), 2, "net up again after its restart:\n{}", run.out);
    assert_eq!(run.lines_with("console: device ready").len(), 2, "console up again:\n{}", run.out);
    for client in ["blk_client", "net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
}

/// The fault loop below under the system's own restart policy: the bus
/// image's `.sevio_restart_policy` section (what
/// `tools/sdfgen`'s `serialise_restart_policy` writes) says 3 faults in
/// 2 s leave a driver down, so blk is restarted twice, not eleven times.
/// A section that is wrong is refused by name and the built-in policy
/// used.
#[test]
fn a_system_sets_its_own_restart_policy() {
    let policy = |words: [u32; 5]| {
        let mut bytes = b"SVRP".to_vec();
        for w in words {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        bytes
    };
    let run = faulting_blk("policy", Some(&policy([3, 2000, 500, 4000, 0])));
    run.assert_code(0);
    run.assert_lines(&[
        "bus: restart policy from .sevio_restart_policy: 3 faults in 2000 ms leave a driver down; back-off 500 us doubling to 4000 us",
        "bus: driver 0 faulted (blk0): VM fault",
        "bus: blk0 stays down: stopped 3 times in 2000 ms (the limit); its device stays reset",
    ]);
    assert_eq!(run.lines_with("sim: blk restarted").len(), 2, "restarted until the limit:\n{}", run.out);
    for client in ["net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }

    let run = faulting_blk("bad-policy", Some(&policy([3, 2000, 5000, 4000, 0])));
    run.assert_code(0);
    run.assert_lines(&[
        "bus: .sevio_restart_policy refused: first_backoff_us is 5000, must be 0..=4000; using the built-in policy: 12 faults in 10000 ms leave a driver down; back-off 1000 us doubling to 16000 us",
        "bus: blk0 stays down: stopped 12 times in 10000 ms (the limit); its device stays reset",
    ]);
}

/// The reference system with blk's request queue mapped read-only (blk
/// faults at its first request, every time it is restarted), blk_client
/// not expected to pass; with `policy` as the bus's
/// `.sevio_restart_policy` section if given.
fn faulting_blk(name: &str, policy: Option<&[u8]>) -> sevio_e2e::Run {
    let dir = sevio_e2e::TempDir::new(name);
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
    let mut desc = std::fs::read_to_string(workspace().join("system.sim.toml")).unwrap().replace(
        r#"expect_pass = ["blk_client", "net_client", "console_client", "rng_client"]"#,
        r#"expect_pass = ["net_client", "console_client", "rng_client"]"#,
    );
    if let Some(bytes) = policy {
        std::fs::write(dir.0.join("bus_restart_policy.data"), bytes).unwrap();
        desc.push_str(
            "\n[[section]]\npd = \"bus\"\nname = \".sevio_restart_policy\"\nfile = \"bus_restart_policy.data\"\n",
        );
    }
    let desc = dir.file("system.sim.toml", &desc);
    // Linger: the other clients pass before blk has faulted twelve times.
    sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60", "--linger", "6"])
}

/// A real fault, again and again: blk's request queue is mapped
/// read-only (what `make qemu-fault` boots on seL4), so blk faults when it
/// first hands a slot back, every time it is restarted. The 12th fault in
/// the window leaves it down; the disk is reset, and the net, console and
/// rng clients still pass.
#[test]
fn a_driver_that_keeps_faulting_stays_down_and_nothing_else_stops() {
    let run = faulting_blk("real-fault", None);
    run.assert_code(0);
    run.assert_lines(&[
        "sim: blk faulted",
        "bus: driver 0 faulted (blk0): VM fault",
        "bus: blk0 </- virtio-blk at mmio slot",
        "mmio: driver 0 unbound; device at Mmio",
        "bus: blk0 stays down: stopped 12 times in 10000 ms (the limit); its device stays reset",
    ]);
    assert_eq!(run.lines_with("sim: blk restarted").len(), 11, "restarted until the limit:\n{}", run.out);
    for client in ["net_client", "console_client", "rng_client"] {
        run.assert_lines(&[&format!("{client}: PASS")]);
    }
}
