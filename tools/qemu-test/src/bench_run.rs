//! `make bench-qemu`: the blk and net benchmarks on seL4 and on a Linux
//! guest, on the same QEMU command line, alternating, several rounds.
//!
//! Both boot [`machine_args`] with one 256 MiB raw disk on a
//! virtio-blk-device, opened with the same cache mode (`none`, i.e.
//! O_DIRECT on the host, when the disk's filesystem allows it). seL4 runs
//! `systems/blk-bench.xml` (blk-bench: its `BENCH` lines are read from
//! the console); Linux runs Debian's kernel with the initramfs of
//! `scripts/linux-guest.sh`, which runs fio on /dev/vda with the same
//! requests (size, depth, count) and prints fio's terse lines
//! ([`crate::bench::parse_fio_line`]). Each round makes a fresh zeroed
//! disk for each system.
//!
//! Net: both boot [`machine_args`] with one virtio-net-device (net-bench's
//! MAC) on a `dgram` netdev to an [`EchoPeer`] on this machine, a fresh
//! one per boot. seL4 runs `systems/net-bench-peer.xml` twice, with
//! net-bench (the stream) and with net-bench-rr (request/response); Linux
//! runs udp-bench for both in one boot (`sevio.net=rr,stream`), which
//! prints the same BENCH lines.
//!
//! MSI-X against INTx: blk-bench over a virtio-blk-pci disk, seL4 only,
//! `systems/blk-pci-bench.xml` as written (INTx) and with the pci
//! transport given the GICv2m frame (`Variant::PciMsix`), alternating.

use crate::bench::{Figure, fio_jobs, parse_bench_line, parse_fio_line};
use crate::output::Expect;
use crate::qemu::{Next, Qemu};
use crate::run::{Ended, Scratch, Setup, machine_args, make_image, watch};
use crate::systems::{System, Variant};
use sevio_e2e::net_peer::EchoPeer;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The benchmark disk: 256 MiB.
pub const BENCH_DISK_BYTES: u64 = 256 << 20;

/// The seL4 blk benchmark system (its disk is added by [`drive_args`]).
pub const BLK_BENCH: System = System {
    name: "blk-bench",
    file: "systems/blk-bench.xml",
    variant: Variant::AsWritten,
    legacy_mmio: false,
    devices: "",
    disks: &[],
    expect: Expect { pass: &["blk_client"], lines: &[], faults: &[] },
    broken: None,
    gpu_demo: false,
    export: false,
    vsock: false,
    tone_wav: false,
    sections: &[],
};

/// The seL4 net benchmark against the echo peer: net-bench (the stream).
pub const NET_BENCH_STREAM: System = System {
    name: "net-bench-peer",
    file: "systems/net-bench-peer.xml",
    variant: Variant::AsWritten,
    legacy_mmio: false,
    devices: "",
    disks: &[],
    expect: Expect { pass: &["net_bench"], lines: &[], faults: &[] },
    broken: None,
    gpu_demo: false,
    export: false,
    vsock: false,
    tone_wav: false,
    sections: &[],
};

/// The same with net-bench-rr (request/response).
pub const NET_BENCH_RR: System = System { name: "net-bench-peer-rr", variant: Variant::NetBenchRr, ..NET_BENCH_STREAM };

/// The Linux guest's net workloads (udp-bench's names), both in one boot.
pub const GUEST_NET_WORKLOADS: &str = "rr,stream";

/// The NIC, as both systems get it: net-bench's MAC, on the peer's netdev.
pub fn nic_args(peer: &EchoPeer) -> Vec<String> {
    vec![
        "-netdev".into(),
        peer.netdev("net0"),
        "-device".into(),
        "virtio-net-device,netdev=net0,mac=52:54:00:12:34:57".into(),
    ]
}

/// blk-bench over virtio-pci with INTx (`systems/blk-pci-bench.xml`).
pub const BLK_PCI_BENCH: System = System { name: "blk-pci-bench", file: "systems/blk-pci-bench.xml", ..BLK_BENCH };

/// The same with MSI-X ([`Variant::PciMsix`]).
pub const BLK_PCI_MSIX_BENCH: System =
    System { name: "blk-pci-msix-bench", variant: Variant::PciMsix, ..BLK_PCI_BENCH };

/// What the Linux guest prints when every job is done.
const GUEST_DONE: &str = "LINUX-GUEST DONE";

/// The host cache mode for the disk: `none` (O_DIRECT, the host's page
/// cache out of the way) when a file in `dir` can be written with
/// O_DIRECT, else `writethrough` (e.g. on tmpfs).
pub fn cache_mode(dir: &Path) -> &'static str {
    let probe = dir.join("odirect-probe");
    let direct = Command::new("dd")
        .args(["if=/dev/zero", "bs=4096", "count=1", "oflag=direct", "status=none"])
        .arg(format!("of={}", probe.display()))
        .status()
        .is_ok_and(|s| s.success());
    let _ = std::fs::remove_file(&probe);
    if direct { "none" } else { "writethrough" }
}

/// The disk on a virtio-mmio slot, as both systems get it.
pub fn drive_args(disk: &Path, cache: &str) -> Vec<String> {
    drive_on(disk, cache, "virtio-blk-device,drive=hd0")
}

/// The disk (drive `hd0`) on `device`.
fn drive_on(disk: &Path, cache: &str, device: &str) -> Vec<String> {
    vec![
        "-drive".into(),
        format!("file={},if=none,format=raw,id=hd0,cache={cache}", disk.display()),
        "-device".into(),
        device.into(),
    ]
}

fn fresh_disk(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let disk = dir.join(name);
    let file = std::fs::File::create(&disk).map_err(|e| format!("cannot create {}: {e}", disk.display()))?;
    file.set_len(BENCH_DISK_BYTES).map_err(|e| format!("cannot size {}: {e}", disk.display()))?;
    Ok(disk)
}

fn keep_log(setup: &Setup, name: &str, console: &str, stderr: &str) -> PathBuf {
    let log = setup.logs.join(format!("{name}.log"));
    let _ = std::fs::create_dir_all(&setup.logs);
    let _ = std::fs::write(&log, format!("{console}--- qemu stderr\n{stderr}"));
    log
}

/// Boot blk-bench on seL4 once; its figures.
pub fn run_sel4(setup: &Setup, cache: &str, round: usize) -> Result<Vec<Figure>, String> {
    let scratch = Scratch::new(&format!("bench-sel4-{round}"))?;
    let disk = fresh_disk(&scratch.0, "disk.img")?;
    boot_sel4(setup, &BLK_BENCH, drive_args(&disk, cache), &scratch, round)
}

/// Boot blk-bench over PCI (`system`: [`BLK_PCI_BENCH`] or
/// [`BLK_PCI_MSIX_BENCH`]) on seL4 once, its disk a modern-only
/// virtio-blk-pci; its figures.
pub fn run_sel4_pci(setup: &Setup, system: &System, cache: &str, round: usize) -> Result<Vec<Figure>, String> {
    let scratch = Scratch::new(&format!("bench-{}-{round}", system.name))?;
    let disk = fresh_disk(&scratch.0, "disk.img")?;
    let devices = drive_on(&disk, cache, "virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on");
    boot_sel4(setup, system, devices, &scratch, round)
}

/// Boot `system` (net-bench or net-bench-rr) on seL4 once against a
/// fresh echo peer; its figures.
pub fn run_sel4_net(setup: &Setup, system: &System, round: usize) -> Result<Vec<Figure>, String> {
    let scratch = Scratch::new(&format!("bench-{}-{round}", system.name))?;
    let peer = EchoPeer::start()?;
    let figures = boot_sel4(setup, system, nic_args(&peer), &scratch, round);
    peer.stop();
    figures
}

fn boot_sel4(
    setup: &Setup,
    system: &System,
    devices: Vec<String>,
    scratch: &Scratch,
    round: usize,
) -> Result<Vec<Figure>, String> {
    let image = make_image(setup, system, &scratch.0)?;
    let mut args = machine_args(system.legacy_mmio);
    args.extend(devices);
    args.push("-device".into());
    args.push(format!("loader,file={},addr=0x70000000,cpu-num=0", image.display()));
    let qemu = Qemu::start(&setup.qemu, &args, &scratch.0)?;
    let (console, ended) = watch(&qemu, system, Instant::now() + setup.timeout, &mut |_| {});
    let stderr = qemu.quit();
    let name = format!("bench-sel4-{}-{}-{round}", system.name, setup.config);
    let log = keep_log(setup, &name, &console, &stderr);
    match ended {
        Ended::Complete => {}
        Ended::Failed(why) => return Err(format!("seL4 {}: {why} (log: {})", system.name, log.display())),
        Ended::Exited(missing) | Ended::TimedOut(missing) => {
            return Err(format!("seL4 {} ended early, missing {missing} (log: {})", system.name, log.display()));
        }
    }
    Ok(console.lines().filter_map(parse_bench_line).collect())
}

/// Boot the Linux guest for the blk workloads once (fio); its figures.
pub fn run_linux(setup: &Setup, guest: &Path, cache: &str, round: usize) -> Result<Vec<Figure>, String> {
    let scratch = Scratch::new(&format!("bench-linux-{round}"))?;
    let disk = fresh_disk(&scratch.0, "disk.img")?;
    let append = format!("sevio.jobs={}", fio_jobs());
    boot_linux(setup, guest, drive_args(&disk, cache), &append, &scratch, &format!("bench-linux-blk-{round}"))
}

/// Boot the Linux guest for the net workloads once (udp-bench against a
/// fresh echo peer); its figures.
pub fn run_linux_net(setup: &Setup, guest: &Path, round: usize) -> Result<Vec<Figure>, String> {
    let scratch = Scratch::new(&format!("bench-linux-net-{round}"))?;
    let peer = EchoPeer::start()?;
    let append = format!("sevio.net={GUEST_NET_WORKLOADS}");
    let figures = boot_linux(setup, guest, nic_args(&peer), &append, &scratch, &format!("bench-linux-net-{round}"));
    peer.stop();
    figures
}

/// Boot the Linux guest (kernel `Image` and `initrd.gz` in `guest`) once
/// with `devices` and `append` on its command line; its figures (fio's
/// lines and BENCH lines).
fn boot_linux(
    setup: &Setup,
    guest: &Path,
    devices: Vec<String>,
    append: &str,
    scratch: &Scratch,
    log_name: &str,
) -> Result<Vec<Figure>, String> {
    let mut args = machine_args(false);
    args.extend(devices);
    for (flag, file) in [("-kernel", "Image"), ("-initrd", "initrd.gz")] {
        let path = guest.join(file);
        if !path.exists() {
            return Err(format!("{} is missing: run scripts/linux-guest.sh", path.display()));
        }
        args.push(flag.into());
        args.push(path.display().to_string());
    }
    args.push("-append".into());
    args.push(format!("console=ttyAMA0 quiet {append}"));
    let qemu = Qemu::start(&setup.qemu, &args, &scratch.0)?;
    let deadline = Instant::now() + setup.timeout;
    let mut console = String::new();
    let mut figures = Vec::new();
    let mut failure = None;
    let done = loop {
        match qemu.next_line(deadline) {
            Next::Line(line) => {
                if line.starts_with("FIO ") {
                    match parse_fio_line(&line) {
                        Ok(f) => figures.extend(f),
                        Err(why) => failure = failure.or(Some(why)),
                    }
                } else if let Some(f) = parse_bench_line(&line) {
                    figures.push(f);
                } else if line.contains("LINUX-GUEST FAIL") || line.starts_with("FAIL") {
                    failure = failure.or(Some(line.clone()));
                }
                console.push_str(&line);
                console.push('\n');
                if line.contains(GUEST_DONE) {
                    break true;
                }
            }
            Next::Exited | Next::TimedOut => break false,
        }
    };
    let stderr = qemu.quit();
    let log = keep_log(setup, log_name, &console, &stderr);
    if let Some(why) = failure {
        return Err(format!("Linux guest: {why} (log: {})", log.display()));
    }
    if !done {
        return Err(format!("Linux guest: no `{GUEST_DONE}` (log: {})", log.display()));
    }
    Ok(figures)
}
