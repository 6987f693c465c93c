//! vsock end to end: bus, a transport, the vsock driver and its client
//! under sim, against QEMU's vhost-user-vsock device whose device side is
//! rust-vmm's vhost-device-vsock. From the host: a program connects to
//! the guest's echo server (port 1234) and gets 200 kB back byte for
//! byte; a host listener on port 4321 echoes the guest's 300 kB, which
//! the guest checks (`sevio_client_vsock::host`, shared with `make
//! qemu-test` and `make bench`).

use sevio_client_vsock::host::{Backend, echo_listener, echo_through_guest};
use sevio_client_vsock::{CHECK_BYTES, ECHO_PORT};
use sevio_e2e::TempDir;
use sevio_e2e::live::Live;
use std::time::Duration;

const HOST_BYTES: u32 = 200 * 1000;

/// A sim description for `device` placed by `placement`, its chardev the
/// backend's vhost-user socket.
fn description(dir: &TempDir, backend: &Backend, device: &str, placement: &str, expect: &str) -> std::path::PathBuf {
    dir.file(
        "vsock.sim.toml",
        &format!(
            "expect_pass = [\"{expect}\"]\n[[device]]\ndriver = \"{device}\"\n{placement}\n\
             chardev = {{ type = \"socket\", path = \"{}\" }}\n",
            backend.vhost_socket.display()
        ),
    )
}

fn passes_over(device: &str, placement: &str, system: &str, bound: &str) {
    let dir = TempDir::new(&format!("vsock-{device}"));
    let backend = Backend::start(&dir.0).unwrap();
    let listener = echo_listener(&backend, Duration::from_secs(60)).unwrap();
    let desc = description(&dir, &backend, device, placement, "vsock_client");
    let system = sevio_e2e::workspace().join("systems").join(system);
    let mut run = Live::start(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "90"]);
    run.wait_for(&format!("bus: vsock0 <- virtio-vsock at {bound}"), Duration::from_secs(60));
    run.wait_for("vsock: guest cid 3", Duration::from_secs(30));
    run.wait_for(&format!("echo server listening on port {ECHO_PORT}"), Duration::from_secs(30));
    let checked = echo_through_guest(&backend, HOST_BYTES, Duration::from_secs(60));
    let (code, lines) = run.finish();
    let out = lines.join("\n");
    println!("{out}");
    assert_eq!(checked, Ok(u64::from(HOST_BYTES)), "the host's echo through the guest\n{out}");
    assert_eq!(listener.join().unwrap(), Ok(u64::from(CHECK_BYTES)), "the host listener's echo\n{out}");
    assert_eq!(code, Some(0), "{out}");
    for want in [
        "echo: connection from 2:",
        &format!("after {HOST_BYTES} bytes echoed"),
        &format!("{CHECK_BYTES} bytes to the host and back, in order"),
        "connection to 2:4321 closed",
        "vsock_client: PASS",
        "sim: PASS",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }
    // The driver's count: two connections, none broken, nothing dropped.
    assert!(out.contains(" 0 dropped, 0 reset for breaking the protocol, 0 refused"), "{out}");
}

#[test]
fn echo_both_ways_over_mmio() {
    passes_over("vhost-user-vsock-device", "slot = 5", "vsock.xml", "mmio slot 5");
}

#[test]
fn echo_both_ways_over_pci() {
    passes_over("vhost-user-vsock-pci", "pci_addr = \"2\"", "vsock-pci.xml", "pci 00:02.0");
}

/// `make bench`: round trips and an 8 MiB stream to a host echo listener
/// (`BENCH vsock_*` lines on stdout).
#[test]
#[ignore = "a benchmark: make bench runs it"]
fn vsock_bench() {
    let dir = TempDir::new("vsock-bench");
    let backend = Backend::start(&dir.0).unwrap();
    let listener = echo_listener(&backend, Duration::from_secs(240)).unwrap();
    let desc = description(&dir, &backend, "vhost-user-vsock-device", "slot = 5", "vsock_client");
    let system = sevio_e2e::workspace().join("systems").join("vsock-bench.xml");
    let run = Live::start(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "280"]);
    let (code, lines) = run.finish();
    let out = lines.join("\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(listener.join().unwrap().is_ok(), "{out}");
    for line in lines.iter().filter_map(|l| l.split_once(": BENCH ")) {
        println!("BENCH {}", line.1);
    }
}
