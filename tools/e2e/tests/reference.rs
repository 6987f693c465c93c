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
        run.assert_lines(&[&format!("[{client}] PASS")]);
    }
    run.assert_lines(&["sim: PASS: blk_client, net_client, console_client, rng_client passed"]);
}
