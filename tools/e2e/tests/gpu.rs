//! gpu and input end to end: systems/gpu.xml (mmio) and gpu-pci.xml
//! (PCI) under sim against QEMU's virtio-gpu, virtio-keyboard,
//! virtio-mouse and virtio-tablet. The test injects key presses,
//! relative moves, absolute positions and button clicks through QMP and
//! checks, from the host:
//! - every event arrives at paint exactly, in order, on the device it
//!   was sent to (keys on the keyboard, moves on the mouse, positions on
//!   the tablet; buttons on whichever pointer QEMU routes them to);
//! - QEMU's screendump of the scanout equals, pixel for pixel, the
//!   picture paint's own drawing code makes from those events, and the
//!   hash paint reports of its framebuffer is that picture's.

use sevio_client_paint::scene::{AbsRange, Canvas, Fnv, Paint};
use sevio_e2e::live::{Live, Qmp, event, read_ppm};
use sevio_e2e::{TempDir, workspace};
use sevio_queue::input::InputEvent;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const SYN: (u16, u16, i32) = (0, 0, 0);
const BTN_LEFT: u16 = 0x110;

struct Image {
    w: u32,
    px: Vec<u32>,
}

impl Canvas for Image {
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u32) {
        for yy in y..y + h {
            let row = (yy * self.w) as usize;
            self.px[row + x as usize..row + (x + w) as usize].fill(colour);
        }
    }
}

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

/// What the test sends, one QMP command per line (QEMU follows each with
/// an EV_SYN).
fn script() -> Vec<Vec<String>> {
    use event::*;
    vec![
        vec![key("a", true)],
        vec![key("a", false)],
        vec![rel("x", 40), rel("y", -30)],
        vec![abs("x", 16384), abs("y", 24576)],
        vec![btn("left", true)],
        vec![abs("x", 20000), abs("y", 28000)],
        vec![abs("x", 24000)],
        vec![abs("y", 22000)],
        vec![btn("left", false)],
        vec![key("b", true)],
        vec![key("b", false)],
        vec![rel("x", -100), rel("y", 50)],
        vec![key("q", true)],
        vec![key("q", false)],
    ]
}

/// Per device name, what it must deliver, given which pointer QEMU
/// gave the buttons to.
fn expected(buttons_on: &str) -> BTreeMap<String, Vec<(u16, u16, i32)>> {
    let key = |code, v| vec![(1, code, v), SYN];
    let mut kbd = Vec::new();
    for code in [30, 48, 16] {
        kbd.extend(key(code, 1));
        kbd.extend(key(code, 0));
    }
    let mouse = vec![(2, 0, 40), (2, 1, -30), SYN, (2, 0, -100), (2, 1, 50), SYN];
    let mut tablet = vec![(3, 0, 16384), (3, 1, 24576), SYN];
    let down = vec![(1, BTN_LEFT, 1), SYN];
    let up = vec![(1, BTN_LEFT, 0), SYN];
    let moves = vec![(3, 0, 20000), (3, 1, 28000), SYN, (3, 0, 24000), SYN, (3, 1, 22000), SYN];
    let mut out = BTreeMap::new();
    if buttons_on == "QEMU Virtio Tablet" {
        tablet.extend(down);
        tablet.extend(moves);
        tablet.extend(up);
        out.insert("QEMU Virtio Mouse".to_string(), mouse);
    } else {
        tablet.extend(moves);
        let mut m = mouse[..3].to_vec();
        m.extend(down);
        m.extend(up);
        m.extend(&mouse[3..]);
        out.insert("QEMU Virtio Mouse".to_string(), m);
    }
    out.insert("QEMU Virtio Keyboard".to_string(), kbd);
    out.insert("QEMU Virtio Tablet".to_string(), tablet);
    out
}

/// `paint: input<k> is "NAME": event types .., x A..B, y C..D`.
fn devices(lines: &[String]) -> BTreeMap<usize, (String, (AbsRange, AbsRange))> {
    let mut out = BTreeMap::new();
    for l in lines.iter().filter(|l| l.contains("paint: input") && l.contains(" is \"")) {
        let k: usize = l.split("paint: input").nth(1).unwrap()[..1].parse().unwrap();
        let name = l.split('"').nth(1).unwrap().to_string();
        let range = |axis: &str| -> AbsRange {
            let r = l.split(axis).nth(1).unwrap().split([',', ' ']).next().unwrap();
            let (a, b) = r.split_once("..").unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        };
        out.insert(k, (name, (range(", x "), range(", y "))));
    }
    out
}

/// `paint: input<k> event T C V`, in order.
fn events(lines: &[String]) -> Vec<(usize, (u16, u16, i32))> {
    lines
        .iter()
        .filter_map(|l| l.split("paint: input").nth(1))
        .map(|rest| rest.split_whitespace().collect::<Vec<&str>>())
        .filter(|w| w.len() == 5 && w[1] == "event")
        .map(|w| (w[0].parse().unwrap(), (w[2].parse().unwrap(), w[3].parse().unwrap(), w[4].parse().unwrap())))
        .collect()
}

fn run(system: &str, devices_toml: &str, keep_png: Option<&Path>) {
    let dir = TempDir::new(&format!("gpu-{}", system.replace(['/', '.'], "-")));
    let qmp_path = dir.0.join("qmp.sock");
    let desc = description(&dir, devices_toml, &qmp_path);
    let sys = workspace().join(system).display().to_string();
    let mut live = Live::start(&sys, &["--sim", &desc, "--timeout", "100", "--linger", "6"]);
    live.wait_for("paint: PASS", WAIT);
    for name in ["Keyboard", "Mouse", "Tablet"] {
        live.wait_for(&format!("is \"QEMU Virtio {name}\""), WAIT);
    }
    let mut qmp = Qmp::connect(&qmp_path);
    for command in script() {
        qmp.input(&command);
        // One command at a time, as a person would: each is one update.
        std::thread::sleep(Duration::from_millis(30));
    }
    let frame = live.wait_for("paint: frame fnv1a=", WAIT);
    let ppm = dir.0.join("screen.ppm");
    qmp.screendump(&ppm, "ppm");
    if let Some(png) = keep_png {
        qmp.screendump(png, "png");
    }
    let (code, lines) = live.finish();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));

    // Every event exactly, in order, per device.
    let devs = devices(&lines);
    let got = events(&lines);
    let mut per_device: BTreeMap<String, Vec<(u16, u16, i32)>> = BTreeMap::new();
    for (k, e) in &got {
        per_device.entry(devs[k].0.clone()).or_default().push(*e);
    }
    let buttons_on = per_device.iter().find(|(_, evs)| evs.contains(&(1, BTN_LEFT, 1))).map(|(n, _)| n.clone());
    let buttons_on = buttons_on.expect("the button press arrived somewhere");
    assert_eq!(per_device, expected(&buttons_on), "events per device\n{}", lines.join("\n"));

    // The picture paint's code draws from those events...
    let (w, h) = (1280, 800);
    let mut img = Image { w, px: vec![0; (w * h) as usize] };
    let mut paint = Paint::new(w, h);
    paint.draw_all(&mut img);
    for (k, (ty, code, value)) in &got {
        let ev = InputEvent { ty: *ty, code: *code, value: *value as u32 };
        paint.apply(ev, devs[k].1, &mut img);
    }
    let mut fnv = Fnv::default();
    img.px.iter().for_each(|p| fnv.pixel(*p));
    assert!(frame.contains(&format!("fnv1a={:016x}", fnv.0)), "paint's hash is the redrawn picture's: {frame}");
    assert_eq!((paint.keys, paint.clicks), (3, 1));
    assert!(paint.moves >= 4);
    // ... is what the device shows, pixel for pixel.
    let (sw, sh, rgb) = read_ppm(&ppm);
    assert_eq!((sw, sh), (w, h), "the scanout's size");
    let mut wrong = 0;
    for (i, p) in img.px.iter().enumerate() {
        let want = [(p >> 16) as u8, (p >> 8) as u8, *p as u8];
        if rgb[3 * i..3 * i + 3] != want {
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0, "pixels that differ from the picture paint drew");
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
