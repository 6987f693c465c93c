//! 9p end to end: bus, a transport, the 9p driver and its test client
//! under sim, against QEMU's virtio-9p exporting a host directory. The
//! host prepares `host.txt`; afterwards it checks that the directory
//! holds exactly the files and bytes the client wrote (and not the one it
//! removed), and that the client read `host.txt` exactly
//! (`sevio_client_9p::host`, shared with `make qemu-test`).

use sevio_client_9p::host;
use sevio_e2e::{TempDir, sim};

/// Run `system` (in `systems/`) against `device` placed by `placement`
/// (a sim description line, perhaps with `properties`); the bus must
/// report the device `bound` there.
fn passes_over(device: &str, placement: &str, system: &str, bound: &str) {
    let dir = TempDir::new(&format!("9p-{device}"));
    let export = dir.0.join("export");
    host::prepare(&export).unwrap();
    // mount_tag joins the placement's own properties, if any.
    let (placement, props) = match placement.split_once("properties = { ") {
        Some((before, rest)) => (before.to_string(), format!("properties = {{ mount_tag = \"sevio-e2e\", {rest}")),
        None => (placement.to_string(), "properties = { mount_tag = \"sevio-e2e\" }".to_string()),
    };
    let desc = dir.file(
        "9p.sim.toml",
        &format!(
            "expect_pass = [\"p9_client\"]\n[[device]]\ndriver = \"{device}\"\n{placement}\n\
             fsdev = {{ type = \"local\", path = \"export\", security_model = \"none\" }}\n\
             {props}\n"
        ),
    );
    let system = sevio_e2e::workspace().join("systems").join(system);
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(0);
    run.assert_lines(&[
        &format!("bus: 9p0 <- virtio-9p at {bound}"),
        "p9: mount tag \"sevio-e2e\"",
        "p9: device ready",
        "listed 3 names, as made",
        &host::host_read_line(),
        "p9_client: PASS",
        "sim: PASS",
    ]);
    host::check(&export).unwrap_or_else(|why| panic!("{why}\n{}", run.out));
    assert!(run.out.contains("p9: 25 ok, 2 invalid, 0 io, 1 errno"), "the driver's count\n{}", run.out);
}

#[test]
fn a_tree_written_over_mmio_is_on_the_host_exactly() {
    passes_over("virtio-9p-device", "slot = 5", "9p.xml", "mmio slot 5");
}

#[test]
fn the_same_tree_over_pci_modern_and_transitional() {
    passes_over(
        "virtio-9p-pci",
        "pci_addr = \"2\"\nproperties = { disable-legacy = \"on\" }",
        "9p-pci.xml",
        "pci 00:02.0",
    );
    passes_over("virtio-9p-pci-transitional", "pci_addr = \"3\"", "9p-pci.xml", "pci 00:03.0");
}
