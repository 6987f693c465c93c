//! DMA confinement with QEMU virt's SMMUv3 (the smmu PD, stage-2 tables):
//! blk and net over PCI pass with their devices confined to the regions
//! system.xml names for them (and, with MSI-X, the GICv2m frame page,
//! without which the device's MSI write faults); a region left out is out of reach; the
//! rogue driver's device faults on the canary page, which stays intact,
//! and the rogue is unbound and restarted. (Without an IOMMU the same
//! rogue changes the page: `iommu.rs`.)

mod common;

use common::{assert_disk_holds_the_pattern, fresh_disk, run_without_confined_region};
use sevio_e2e::{Run, TempDir, sim, workspace};
use std::path::PathBuf;

fn run(system: &str, desc: &str, extra: &[&str]) -> Run {
    let system = workspace().join(system);
    let mut args = vec!["--sim", desc, "--timeout", "60"];
    args.extend_from_slice(extra);
    sim(system.to_str().unwrap(), &args)
}

/// What every SMMU system's sim description starts with: QEMU virt's
/// SMMUv3, stage 2.
const SMMU_MACHINE: &str = "qemu_args = [\"-machine\", \"iommu=smmuv3\", \"-global\", \"arm-smmuv3.stage=2\"]\n";

/// blk over PCI in `system` behind the SMMU on a fresh disk in `dir`:
/// passes with `lines` and no DMA fault; the disk, for the caller to
/// read back.
fn blk_passes_behind_the_smmu(system: &str, dir: &TempDir, lines: &[&str]) -> PathBuf {
    let disk = fresh_disk(dir, "disk.img");
    let desc = dir.file(
        "run.sim.toml",
        &format!(
            "expect_pass = [\"blk_client\"]\n{SMMU_MACHINE}\n[[device]]\ndriver = \"virtio-blk-pci\"\npci_addr = \"2\"\n\
             drive = {{ file = \"disk.img\" }}\nproperties = {{ disable-legacy = \"on\", iommu_platform = \"on\" }}\n"
        ),
    );
    let r = run(system, desc.to_str().unwrap(), &[]);
    r.assert_code(0);
    r.assert_lines(lines);
    assert!(r.lines_with("DMA fault").is_empty(), "{}", r.out);
    disk
}

#[test]
fn blk_over_pci_passes_behind_the_smmu_and_the_disk_holds_the_pattern() {
    let dir = TempDir::new("smmu-blk");
    let disk = blk_passes_behind_the_smmu(
        "systems/blk-pci-smmu.xml",
        &dir,
        &[
            "smmu: SMMUv3 enabled, stage 2, 256 streams, tables at 0x48100000",
            "smmu: no MSI frame in system.xml (smmu_msi_frame_paddr): devices use INTx",
            "bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU",
            "smmu: driver 0: device 00:02.0 confined",
            "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
            "blk_client: PASS",
        ],
    );
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn behind_the_smmu_a_region_system_xml_leaves_out_is_out_of_the_devices_reach() {
    // blk's client data region dropped from slot 0: its tables map blk's
    // rings only, and the device's first access to a data buffer faults.
    let dir = TempDir::new("smmu-blk-no-data");
    let r = run_without_confined_region("systems/blk-pci-smmu.xml", "confine0_region1", &dir);
    let faults = r.lines_with("smmu: DMA fault: device 00:02.0 (driver 0)");
    assert!(faults.iter().any(|l| l.contains(" at 0x482") && l.contains("(F_TRANSLATION)")), "{}", r.out);
    r.assert_lines(&["bus: blk0 </- virtio-blk at pci 00:02.0"]);
    assert!(!r.lines_with("blk_client: FAIL").is_empty(), "the client's requests fail: {}", r.out);
}

#[test]
fn net_over_pci_passes_behind_the_smmu() {
    let desc = workspace().join("systems/net-pci-smmu.sim.toml");
    let r = run("systems/net-pci-smmu.xml", desc.to_str().unwrap(), &[]);
    r.assert_code(0);
    r.assert_lines(&[
        "smmu: driver 1: device 00:01.0 confined",
        "bus: net0 <- virtio-net at pci 00:01.0 (DMA confined by the IOMMU)",
        "gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
    ]);
    assert!(r.lines_with("DMA fault").is_empty(), "{}", r.out);
}

#[test]
fn blk_over_pci_with_msix_passes_behind_the_smmu_its_vectors_reaching_the_gic() {
    let dir = TempDir::new("smmu-blk-msix");
    let disk = blk_passes_behind_the_smmu(
        "systems/blk-pci-smmu-msix.xml",
        &dir,
        &[
            "smmu: MSI frame 0x8020000 mapped write-only in every confined slot: MSI-X writes reach the GIC",
            "pci: GICv2m frame at 0x8020000: 64 SPIs from INTID 80",
            "pci: 00:02.0:   MSI-X: 2 vector(s), INTIDs 80..=81 (configuration on 80)",
            "smmu: driver 0: device 00:02.0 confined",
            "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
            "blk_client: PASS",
        ],
    );
    assert_disk_holds_the_pattern(&disk);
}

#[test]
fn behind_the_smmu_without_the_msi_frame_the_devices_msix_write_is_refused() {
    // The same system, the frame's setvar dropped: the slot's tables map
    // blk's regions only, and the device's first MSI write (to
    // MSI_SETSPI_NS, frame + 0x40) faults instead of reaching the GIC.
    let dir = TempDir::new("smmu-blk-msix-no-frame");
    let r = run_without_confined_region("systems/blk-pci-smmu-msix.xml", "smmu_msi_frame_paddr", &dir);
    r.assert_lines(&["smmu: no MSI frame in system.xml (smmu_msi_frame_paddr)"]);
    let faults = r.lines_with("smmu: DMA fault: device 00:02.0 (driver 0) write at 0x8020040 refused");
    assert!(!faults.is_empty(), "{}", r.out);
    assert!(r.lines_with("blk_client: PASS").is_empty(), "{}", r.out);
}

#[test]
fn net_over_pci_with_msix_passes_behind_the_smmu() {
    let desc = workspace().join("systems/net-pci-smmu-msix.sim.toml");
    let r = run("systems/net-pci-smmu-msix.xml", desc.to_str().unwrap(), &[]);
    r.assert_code(0);
    r.assert_lines(&[
        "smmu: MSI frame 0x8020000 mapped write-only in every confined slot",
        "pci: 00:01.0:   MSI-X: 4 vector(s), INTIDs 80..=83",
        "smmu: driver 1: device 00:01.0 confined",
        "bus: net0 <- virtio-net at pci 00:01.0 (DMA confined by the IOMMU)",
        "gateway 10.0.2.2 answered the ping",
        "net_client: PASS",
    ]);
    assert!(r.lines_with("DMA fault").is_empty(), "{}", r.out);
}

#[test]
fn behind_the_smmu_the_canary_stays_intact_the_fault_is_logged_and_the_rogue_unbound_and_restarted() {
    let desc = workspace().join("systems/rogue-pci-smmu.sim.toml");
    // The canary passes as soon as it looked; the unbinding that follows
    // the SMMU's event may come later: the run goes on a while.
    let r = run("systems/rogue-pci-smmu.xml", desc.to_str().unwrap(), &["--linger", "3"]);
    r.assert_code(0);
    r.assert_lines(&[
        "smmu: driver 0: device 00:02.0 confined",
        "rogue: asked the device to read sectors 0..8 into 0x48300000 (the canary's page)",
        "smmu: DMA fault: device 00:02.0 (driver 0) write at 0x48300000 refused (F_TRANSLATION)",
    ]);
    r.assert_lines(&[
        "bus: blk0 </- virtio-blk at pci 00:02.0",
        "bus: restarting blk0 in 1000 us (restart 1 of 11",
        "bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU",
        "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
    ]);
    r.assert_lines(&["canary: intact", "canary: PASS"]);
    let unbound = r.lines_with("bus: driver 0 faulted (blk0): the IOMMU refused its device's DMA write");
    assert!(unbound.iter().any(|l| l.contains("at 0x4830")), "the canary's page named: {}", r.out);
    assert_eq!(
        r.lines_with("bus: driver 0 faulted").len(),
        1,
        "one burst of the SMMU's events is one fault: {}",
        r.out
    );
    assert!(r.lines_with("canary: changed").is_empty());
}
