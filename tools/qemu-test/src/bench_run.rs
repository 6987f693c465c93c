//! `make bench-qemu`: the blk benchmark on seL4 and on a Linux guest, on
//! the same QEMU command line, alternating, several rounds.
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

use crate::bench::{Figure, fio_jobs, parse_bench_line, parse_fio_line};
use crate::output::Expect;
use crate::qemu::{Next, Qemu};
use crate::run::{Ended, Scratch, Setup, machine_args, make_image, watch};
use crate::systems::{System, Variant};
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
};

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

/// The disk, as both systems get it.
pub fn drive_args(disk: &Path, cache: &str) -> Vec<String> {
    vec![
        "-drive".into(),
        format!("file={},if=none,format=raw,id=hd0,cache={cache}", disk.display()),
        "-device".into(),
        "virtio-blk-device,drive=hd0".into(),
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
    let image = make_image(setup, &BLK_BENCH, &scratch.0)?;
    let disk = fresh_disk(&scratch.0, "disk.img")?;
    let mut args = machine_args(BLK_BENCH.legacy_mmio);
    args.extend(drive_args(&disk, cache));
    args.push("-device".into());
    args.push(format!("loader,file={},addr=0x70000000,cpu-num=0", image.display()));
    let qemu = Qemu::start(&setup.qemu, &args, &scratch.0)?;
    let (console, ended) = watch(&qemu, &BLK_BENCH, Instant::now() + setup.timeout, &mut |_| {});
    let stderr = qemu.quit();
    let log = keep_log(setup, &format!("bench-sel4-{}-{round}", setup.config), &console, &stderr);
    match ended {
        Ended::Complete => {}
        Ended::Failed(why) => return Err(format!("seL4 blk-bench: {why} (log: {})", log.display())),
        Ended::Exited(missing) | Ended::TimedOut(missing) => {
            return Err(format!("seL4 blk-bench ended early, missing {missing} (log: {})", log.display()));
        }
    }
    Ok(console.lines().filter_map(parse_bench_line).collect())
}

/// Boot the Linux guest (kernel `Image` and `initrd.gz` in `guest`) once;
/// its figures.
pub fn run_linux(setup: &Setup, guest: &Path, cache: &str, round: usize) -> Result<Vec<Figure>, String> {
    let scratch = Scratch::new(&format!("bench-linux-{round}"))?;
    let disk = fresh_disk(&scratch.0, "disk.img")?;
    let mut args = machine_args(false);
    args.extend(drive_args(&disk, cache));
    for (flag, file) in [("-kernel", "Image"), ("-initrd", "initrd.gz")] {
        let path = guest.join(file);
        if !path.exists() {
            return Err(format!("{} is missing: run scripts/linux-guest.sh", path.display()));
        }
        args.push(flag.into());
        args.push(path.display().to_string());
    }
    args.push("-append".into());
    args.push(format!("console=ttyAMA0 quiet sevio.jobs={}", fio_jobs()));
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
                } else if line.contains("LINUX-GUEST FAIL") {
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
    let log = keep_log(setup, &format!("bench-linux-{round}"), &console, &stderr);
    if let Some(why) = failure {
        return Err(format!("Linux guest: {why} (log: {})", log.display()));
    }
    if !done {
        return Err(format!("Linux guest: no `{GUEST_DONE}` (log: {})", log.display()));
    }
    Ok(figures)
}
