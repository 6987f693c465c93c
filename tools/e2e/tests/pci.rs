//! The same blk driver over the PCI transport: a modern device, a
//! transitional one used through its legacy I/O BAR, one behind a
//! pcie-root-port, and a system with one disk on virtio-mmio and one on
//! PCI served by two instances of the one driver image. Every disk is
//! read back from the host afterwards.
//!
//! MSI-X (`systems/pci-msix.xml`, `systems/net-pci-msix.xml`: the pci
//! transport given the GICv2m frame and its first 16 SPIs): blk and net
//! interrupt through one vector per queue and one for configuration; a
//! device with a one-entry table shares it; one without MSI-X
//! (`vectors=0`) and a legacy one stay on INTx.

mod common;

use common::{assert_disk_holds_the_pattern, fresh_disk};
use sevio_e2e::{Run, TempDir, sim, workspace};

fn run(system: &str, dir: &TempDir, desc: &str) -> Run {
    let desc = dir.file("run.sim.toml", desc);
    let system = workspace().join(system);
    sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"])
}

fn pci_blk(addr: &str, properties: &str) -> String {
    format!(
        "[[device]]\ndriver = \"virtio-blk-pci\"\npci_addr = \"{addr}\"\ndrive = {{ file = \"disk.img\" }}\nproperties = {{ {properties} }}\n"
    )
}

#[test]
fn modern_pci_device_holds_exactly_the_pattern_afterwards() {
    let dir = TempDir::new("pci-modern");
    let disk = fresh_disk(&dir, "disk.img");
    let desc = format!("expect_pass = [\"blk_client\"]\n{}", pci_blk("2", "disable-legacy = \"on\""));
    let r = run("systems/pci.xml", &dir, &desc);
    r.assert_code(0);
    r.assert_lines(&[
        "pci: 00:02.0: virtio-blk (modern)",
        "bus: blk0 <- virtio-blk at pci 00:02.0",
        "blk_client: PASS",
    ]);
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn transitional_device_in_legacy_mode_works() {
    let dir = TempDir::new("pci-legacy");
    let disk = fresh_disk(&dir, "disk.img");
    let desc = format!(
        "expect_pass = [\"blk_client\"]\n{}",
        pci_blk("4", "disable-modern = \"on\", disable-legacy = \"off\"")
    );
    let r = run("systems/pci.xml", &dir, &desc);
    r.assert_code(0);
    r.assert_lines(&[
        "pci: 00:04.0: virtio-blk (legacy)",
        "bus: blk0 <- virtio-blk at pci 00:04.0",
        "blk_client: PASS",
    ]);
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn device_behind_a_root_port_is_found_and_works() {
    let dir = TempDir::new("pci-bridge");
    let disk = fresh_disk(&dir, "disk.img");
    let desc = "expect_pass = [\"blk_client\"]\n\
        [[device]]\ndriver = \"pcie-root-port\"\npci_addr = \"6\"\nproperties = { id = \"rp0\", chassis = 1, slot = 1 }\n\
        [[device]]\ndriver = \"virtio-blk-pci\"\ndrive = { file = \"disk.img\" }\nproperties = { bus = \"rp0\" }\n";
    let r = run("systems/pci.xml", &dir, desc);
    r.assert_code(0);
    r.assert_lines(&["pci: 1 bridge(s)", "bus: blk0 <- virtio-blk at pci 01:00.0", "blk_client: PASS"]);
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn one_disk_on_mmio_and_one_on_pci_bind_two_instances_of_one_driver() {
    let dir = TempDir::new("mixed");
    let mmio_disk = fresh_disk(&dir, "mmio.img");
    let pci_disk = fresh_disk(&dir, "pci.img");
    let desc = "expect_pass = [\"client0\", \"client1\"]\n\
        [[device]]\ndriver = \"virtio-blk-device\"\nslot = 31\ndrive = { file = \"mmio.img\" }\n\
        [[device]]\ndriver = \"virtio-blk-pci\"\npci_addr = \"2\"\ndrive = { file = \"pci.img\" }\n";
    let r = run("systems/mmio-pci.xml", &dir, desc);
    r.assert_code(0);
    // Each transport serves only the driver it has a channel to.
    r.assert_lines(&["bus: blk0 <- virtio-blk at mmio slot 31"]);
    r.assert_lines(&["bus: blk1 <- virtio-blk at pci 00:02.0"]);
    r.assert_lines(&["client0: PASS"]);
    r.assert_lines(&["client1: PASS"]);
    assert_disk_holds_the_pattern(&mmio_disk);
    assert_disk_holds_the_pattern(&pci_disk);
}

/// The net driver over PCI, unchanged: the client resolves and pings the
/// user-networking gateway through a virtio-net-pci device.
fn net_over_pci(desc: &str, bdf: &str) {
    let r = sevio_e2e::sim(
        workspace().join("systems/net-pci.xml").to_str().unwrap(),
        &["--sim", workspace().join(desc).to_str().unwrap(), "--timeout", "60"],
    );
    r.assert_code(0);
    let bound = format!("bus: net0 <- virtio-net at pci {bdf}");
    r.assert_lines(&[&bound, "gateway 10.0.2.2 answered the ping", "net_client: PASS"]);
}

#[test]
fn net_passes_over_a_modern_pci_device() {
    net_over_pci("systems/net-pci.sim.toml", "00:01.0");
}

#[test]
fn net_passes_over_a_transitional_pci_device_in_legacy_mode() {
    net_over_pci("systems/net-pci-legacy.sim.toml", "00:05.0");
}

/// blk in the MSI-X system with `properties`; the run's output (passed,
/// disk checked).
fn msix_blk(name: &str, properties: &str) -> Run {
    let dir = TempDir::new(name);
    let disk = fresh_disk(&dir, "disk.img");
    let desc = format!("expect_pass = [\"blk_client\"]\n{}", pci_blk("2", properties));
    let r = run("systems/pci-msix.xml", &dir, &desc);
    r.assert_code(0);
    r.assert_lines(&[
        "pci: GICv2m frame at 0x8020000: 64 SPIs from INTID 80; IRQ ids 4..20 are INTIDs 80..96",
        "bus: blk0 <- virtio-blk at pci 00:02.0",
        "blk_client: PASS",
    ]);
    assert_disk_holds_the_pattern(&disk);
    r
}

#[test]
fn msix_blk_interrupts_through_a_vector_for_its_queue_and_one_for_configuration() {
    let r = msix_blk("pci-msix", "disable-legacy = \"on\"");
    r.assert_lines(&["pci: 00:02.0:   MSI-X: 2 vector(s), INTIDs 80..=81 (configuration on 80)"]);
    assert!(r.lines_with("pci: 00:02.0:   INTx line").is_empty(), "{}", r.out);
}

#[test]
fn msix_with_a_one_entry_table_shares_it_between_configuration_and_the_queue() {
    let r = msix_blk("pci-msix-one", "disable-legacy = \"on\", vectors = 1");
    r.assert_lines(&["pci: 00:02.0:   MSI-X: 1 vector(s), INTIDs 80..=80 (configuration on 80)"]);
}

#[test]
fn msix_system_keeps_a_device_without_msix_and_a_legacy_one_on_intx() {
    let r = msix_blk("pci-msix-none", "disable-legacy = \"on\", vectors = 0");
    r.assert_lines(&["pci: 00:02.0:   INTx line"]);
    assert!(r.lines_with("MSI-X:").is_empty(), "{}", r.out);
    let dir = TempDir::new("pci-msix-legacy");
    let disk = fresh_disk(&dir, "disk.img");
    let desc = format!(
        "expect_pass = [\"blk_client\"]\n{}",
        pci_blk("4", "disable-modern = \"on\", disable-legacy = \"off\"")
    );
    let r = run("systems/pci-msix.xml", &dir, &desc);
    r.assert_code(0);
    r.assert_lines(&["pci: 00:04.0: virtio-blk (legacy)", "pci: 00:04.0:   INTx line", "blk_client: PASS"]);
    assert!(r.lines_with("MSI-X:").is_empty(), "{}", r.out);
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn net_passes_over_msix() {
    let r = sevio_e2e::sim(
        workspace().join("systems/net-pci-msix.xml").to_str().unwrap(),
        &["--sim", workspace().join("systems/net-pci-msix.sim.toml").to_str().unwrap(), "--timeout", "60"],
    );
    r.assert_code(0);
    // rx, tx and control queues and configuration: four vectors.
    r.assert_lines(&[
        "pci: 00:01.0:   MSI-X: 4 vector(s), INTIDs 80..=83 (configuration on 80)",
        "bus: net0 <- virtio-net at pci 00:01.0",
        "gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
    ]);
}
