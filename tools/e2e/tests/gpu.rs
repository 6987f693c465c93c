//! gpu and input end to end: systems/gpu.xml (mmio) and gpu-pci.xml
//! (PCI) under sim against QEMU's virtio-gpu, virtio-keyboard,
//! virtio-mouse and virtio-tablet. The test injects key presses,
//! relative moves, absolute positions and button clicks through QMP and
//! checks, from the host (`sevio_e2e::paint::check`):
//! - every event arrives at paint exactly, in order, on the device it
//!   was sent to (keys on the keyboard, moves on the mouse, positions on
//!   the tablet; buttons on whichever pointer QEMU routes them to);
//! - QEMU's screendump of the scanout equals, pixel for pixel, the
//!   picture paint's own drawing code makes from those events, and the
//!   hash paint reports of its framebuffer is that picture's.

use sevio_e2e::live::{Live, Qmp};
use sevio_e2e::paint::{FRAME, READY, check, inject};
use sevio_e2e::{TempDir, workspace};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The sim description: `devices` plus a QMP socket for the test.
fn description(dir: &TempDir, devices: &str, qmp: &Path) -> String {
    let toml = format!(
        "expect_pass = [\"paint\"]\nqemu_args = [\"-qmp\", \"unix:{},server=on,wait=off\"]\n{devices}",
        qmp.display()
    );
    dir.file("gpu.sim.toml", &toml).display().to_string()
}

const MMIO_DEVICES: &str = r#"
[[device]]
driver = "virtio-gpu-device"
slot = 10
[[device]]
driver = "virtio-keyboard-device"
slot = 11
[[device]]
driver = "virtio-mouse-device"
slot = 12
[[device]]
driver = "virtio-tablet-device"
slot = 13
"#;

const PCI_DEVICES: &str = r#"
[[device]]
driver = "virtio-gpu-pci"
pci_addr = "2"
properties = { disable-legacy = "on" }
[[device]]
driver = "virtio-keyboard-pci"
pci_addr = "3"
[[device]]
driver = "virtio-mouse-pci"
pci_addr = "4"
[[device]]
driver = "virtio-tablet-pci"
pci_addr = "5"
"#;

fn run(system: &str, devices_toml: &str, keep_png: Option<&Path>) {
    let dir = TempDir::new(&format!("gpu-{}", system.replace(['/', '.'], "-")));
    let qmp_path = dir.0.join("qmp.sock");
    let desc = description(&dir, devices_toml, &qmp_path);
    let sys = workspace().join(system).display().to_string();
    let mut live = Live::start(&sys, &["--sim", &desc, "--timeout", "100", "--linger", "6"]);
    for line in READY {
        live.wait_for(line, WAIT);
    }
    let mut qmp = Qmp::connect(&qmp_path);
    inject(&mut qmp);
    live.wait_for(FRAME, WAIT);
    let ppm = dir.0.join("screen.ppm");
    qmp.screendump(&ppm, "ppm");
    if let Some(png) = keep_png {
        qmp.screendump(png, "png");
    }
    let (code, lines) = live.finish();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    if let Err(why) = check(&lines, &ppm) {
        panic!("{why}\n{}", lines.join("\n"));
    }
}
#[test]
fn mmio_events_arrive_exactly_and_the_screen_is_what_paint_drew() {
    let png = workspace().join("target/gpu-screendump.png");
    run("systems/gpu.xml", MMIO_DEVICES, Some(&png));
    assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 1000), "a PNG screendump for the README");
}

#[test]
fn pci_events_arrive_exactly_and_the_screen_is_what_paint_drew() {
    run("systems/gpu-pci.xml", PCI_DEVICES, None);
}

/// Input events per second end to end (`make bench`): QMP commands of
/// ten relative moves each (QEMU adds an EV_SYN to each) into the mouse,
/// through the mouse's input driver, to paint, which reports how many it
/// took when Q comes; timed from the first command to that report.
/// Every event must arrive and the driver must have dropped none.
///
/// Not in `make test`: a benchmark. Run it with
/// `cargo test -p sevio-e2e --test gpu -- --ignored input_bench --nocapture`.
#[test]
#[ignore = "benchmark; make bench runs it"]
fn input_bench() {
    const COMMANDS: usize = 300;
    let dir = TempDir::new("gpu-input-bench");
    let qmp_path = dir.0.join("qmp.sock");
    let desc = description(&dir, MMIO_DEVICES, &qmp_path);
    let sys = workspace().join("systems/gpu.xml").display().to_string();
    // Linger: the run passes at paint's PASS, long before the flood ends;
    // the test ends it (drop) once paint has reported.
    let mut live = Live::start(&sys, &["--sim", &desc, "--timeout", "300", "--linger", "200"]);
    for line in READY {
        live.wait_for(line, WAIT);
    }
    let mut qmp = Qmp::connect(&qmp_path);
    let moves: Vec<String> =
        (0..10).map(|i| sevio_e2e::live::event::rel("x", if i % 2 == 0 { 3 } else { -3 })).collect();
    let start = std::time::Instant::now();
    for _ in 0..COMMANDS {
        qmp.input(&moves);
    }
    qmp.input(&[sevio_e2e::live::event::key("q", true)]);
    let frame = live.wait_for(FRAME, Duration::from_secs(120));
    let secs = start.elapsed().as_secs_f64();
    let sent = COMMANDS * 11 + 2;
    let took: usize = frame.split(" after ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(took, sent, "every event arrived: {frame}");
    assert!(
        !live.seen.iter().any(|l| l.contains("input: ") && l.contains(" dropped") && !l.contains(" 0 dropped")),
        "no driver dropped an event"
    );
    println!(
        "BENCH input_events_per_s {:.0} events/s ({sent} events in {secs:.2} s, QMP to paint)",
        sent as f64 / secs
    );
}
