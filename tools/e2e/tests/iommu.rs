//! DMA confinement with a virtio-iommu: blk and net over PCI pass with
//! their devices confined to the regions system.xml names for them; a
//! driver that points its device at another PD's page changes that page
//! without an IOMMU, and with one leaves it intact, the fault logged and
//! the driver unbound and restarted.

mod common;

use common::{assert_disk_holds_the_pattern, fresh_disk, run_without_confined_region};
use sevio_e2e::{Run, TempDir, sim, workspace};

fn run(system: &str, desc: &str) -> Run {
    let system = workspace().join(system);
    sim(system.to_str().unwrap(), &["--sim", desc, "--timeout", "60"])
}

/// The virtio-iommu-pci every IOMMU system here puts first.
const IOMMU_DEVICE: &str =
    "[[device]]\ndriver = \"virtio-iommu-pci\"\npci_addr = \"1\"\nproperties = { boot-bypass = \"off\" }\n";

#[test]
fn blk_over_pci_passes_with_its_dma_confined_and_the_disk_holds_the_pattern() {
    let dir = TempDir::new("iommu-blk");
    let disk = fresh_disk(&dir, "disk.img");
    let desc = dir.file(
        "run.sim.toml",
        &format!(
            "expect_pass = [\"blk_client\"]\n{IOMMU_DEVICE}\n[[device]]\ndriver = \"virtio-blk-pci\"\npci_addr = \"2\"\n\
             drive = {{ file = \"disk.img\" }}\nproperties = {{ disable-legacy = \"on\", iommu_platform = \"on\" }}\n"
        ),
    );
    let r = run("systems/blk-pci-iommu.xml", desc.to_str().unwrap());
    r.assert_code(0);
    r.assert_lines(&[
        "bus: iommu0 <- virtio-iommu at pci 00:01.0",
        "bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU",
        "iommu: driver 0: device 00:02.0 confined",
        "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
        "blk_client: PASS",
    ]);
    assert!(r.lines_with("DMA fault").is_empty(), "{}", r.out);
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn a_region_system_xml_leaves_out_is_out_of_the_devices_reach() {
    // blk's client data region dropped from the IOMMU PD's slot 0: the
    // device may reach blk's rings but not the client's buffers.
    let dir = TempDir::new("iommu-blk-no-data");
    let r = run_without_confined_region("systems/blk-pci-iommu.xml", "confine0_region1", &dir);
    assert!(!r.lines_with("iommu: DMA fault: device 00:02.0 (driver 0) access at 0x482").is_empty(), "{}", r.out);
    r.assert_lines(&["bus: blk0 </- virtio-blk at pci 00:02.0"]);
    assert!(!r.lines_with("blk_client: FAIL").is_empty(), "the client's requests fail: {}", r.out);
}

#[test]
fn net_over_pci_passes_with_its_dma_confined() {
    let desc = workspace().join("systems/net-pci-iommu.sim.toml");
    let r = run("systems/net-pci-iommu.xml", desc.to_str().unwrap());
    r.assert_code(0);
    r.assert_lines(&[
        "iommu: driver 1: device 00:01.0 confined",
        "bus: net0 <- virtio-net at pci 00:01.0 (DMA confined by the IOMMU)",
        "gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
    ]);
    assert!(r.lines_with("DMA fault").is_empty(), "{}", r.out);
}

#[test]
fn without_an_iommu_the_rogue_drivers_device_overwrites_the_canary() {
    let desc = workspace().join("systems/rogue-pci.sim.toml");
    let r = run("systems/rogue-pci.xml", desc.to_str().unwrap());
    r.assert_code(0);
    r.assert_lines(&[
        "rogue: asked the device to read sectors 0..8 into 0x48300000 (the canary's page)",
        "rogue: the device answered the read (status 0)",
        "canary: changed: 4096 of 4096 bytes, the first at offset 0",
        "canary: PASS",
    ]);
}

#[test]
fn behind_a_virtio_iommu_the_canary_stays_intact_the_fault_is_logged_and_the_rogue_unbound_and_restarted() {
    let desc = workspace().join("systems/rogue-pci-iommu.sim.toml");
    let system = workspace().join("systems/rogue-pci-iommu.xml");
    // The canary passes as soon as it looked; the bus's unbinding, which
    // follows the IOMMU PD's fault record, may come later: the run goes
    // on a while after the verdict to show it.
    let r = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60", "--linger", "3"]);
    r.assert_code(0);
    r.assert_lines(&[
        "iommu: driver 0: device 00:02.0 confined",
        "rogue: asked the device to read sectors 0..8 into 0x48300000 (the canary's page)",
        "iommu: DMA fault: device 00:02.0 (driver 0) access at 0x48300000 refused (Mapping)",
    ]);
    // The bus's unbinding and restart, and the canary's look, run in
    // either order. The restarted rogue is confined and bound again.
    r.assert_lines(&[
        "bus: blk0 </- virtio-blk at pci 00:02.0",
        "bus: restarting blk0 in 1000 us (restart 1 of 11",
        "bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU",
        "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
    ]);
    r.assert_lines(&["canary: intact", "canary: PASS"]);
    let unbound = r.lines_with("bus: driver 0 faulted (blk0): the IOMMU refused its device's DMA");
    assert!(unbound.iter().any(|l| l.contains("at 0x4830")), "the canary's page named: {}", r.out);
    assert!(r.lines_with("canary: changed").is_empty());
}
