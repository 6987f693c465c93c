//! The gpu + input demo, checked from the host: what the tests send
//! through QMP, what each input device must then deliver to paint, and
//! the picture paint's own drawing code makes from the events it logged,
//! compared with a screendump. Shared by the sim tests (`tests/gpu.rs`)
//! and `make qemu-test` (seL4).

use crate::live::{Qmp, event, read_ppm};
use sevio_client_paint::scene::{AbsRange, Canvas, Fnv, Paint};
use sevio_queue::input::InputEvent;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const SYN: (u16, u16, i32) = (0, 0, 0);
const BTN_LEFT: u16 = 0x110;
/// The lines that say paint is ready for input: its PASS and the three
/// devices identified.
pub const READY: [&str; 4] =
    ["paint: PASS", "is \"QEMU Virtio Keyboard\"", "is \"QEMU Virtio Mouse\"", "is \"QEMU Virtio Tablet\""];
/// The line paint prints once the last change is on the screen.
pub const FRAME: &str = "paint: frame fnv1a=";
/// The scanout QEMU's virtio-gpu offers by default.
pub const SCREEN: (u32, u32) = (1280, 800);

/// A host image paint draws into.
pub struct Image {
    /// Width.
    pub w: u32,
    /// Pixels, 0x00RRGGBB, row by row.
    pub px: Vec<u32>,
}

impl Canvas for Image {
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u32) {
        for yy in y..y + h {
            let row = (yy * self.w) as usize;
            self.px[row + x as usize..row + (x + w) as usize].fill(colour);
        }
    }
}

/// What the test sends, one QMP command per line (QEMU follows each with
/// an EV_SYN).
pub fn script() -> Vec<Vec<String>> {
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
pub fn expected(buttons_on: &str) -> BTreeMap<String, Vec<(u16, u16, i32)>> {
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
pub fn devices(lines: &[String]) -> BTreeMap<usize, (String, (AbsRange, AbsRange))> {
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
pub fn events(lines: &[String]) -> Vec<(usize, (u16, u16, i32))> {
    lines
        .iter()
        .filter_map(|l| l.split("paint: input").nth(1))
        .map(|rest| rest.split_whitespace().collect::<Vec<&str>>())
        .filter(|w| w.len() == 5 && w[1] == "event")
        .map(|w| (w[0].parse().unwrap(), (w[2].parse().unwrap(), w[3].parse().unwrap(), w[4].parse().unwrap())))
        .collect()
}

/// Send the script (one command at a time, as a person would: each is
/// one device update).
pub fn inject(qmp: &mut Qmp) {
    for command in script() {
        qmp.input(&command);
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Check a finished run's `lines` and the screendump `ppm` taken after
/// paint's frame line: every event exactly, per device; paint's hash is
/// the redrawn picture's; the screendump is that picture.
pub fn check(lines: &[String], ppm: &Path) -> Result<(), String> {
    let devs = devices(lines);
    let got = events(lines);
    let mut per_device: BTreeMap<String, Vec<(u16, u16, i32)>> = BTreeMap::new();
    for (k, e) in &got {
        let name = devs.get(k).ok_or_else(|| format!("events from input{k}, which paint never identified"))?;
        per_device.entry(name.0.clone()).or_default().push(*e);
    }
    let buttons_on = per_device
        .iter()
        .find(|(_, evs)| evs.contains(&(1, BTN_LEFT, 1)))
        .map(|(n, _)| n.clone())
        .ok_or("the button press arrived nowhere")?;
    let want = expected(&buttons_on);
    if per_device != want {
        return Err(format!("events per device: got {per_device:?}, want {want:?}"));
    }
    let (w, h) = SCREEN;
    let mut img = Image { w, px: vec![0; (w * h) as usize] };
    let mut paint = Paint::new(w, h);
    paint.draw_all(&mut img);
    for (k, (ty, code, value)) in &got {
        paint.apply(InputEvent { ty: *ty, code: *code, value: *value as u32 }, devs[k].1, &mut img);
    }
    let mut fnv = Fnv::default();
    img.px.iter().for_each(|p| fnv.pixel(*p));
    let frame = lines.iter().find(|l| l.contains(FRAME)).ok_or("no frame line")?;
    if !frame.contains(&format!("fnv1a={:016x}", fnv.0)) {
        return Err(format!("paint's hash is not the redrawn picture's ({:016x}): {frame}", fnv.0));
    }
    if (paint.keys, paint.clicks) != (3, 1) || paint.moves < 4 {
        return Err(format!("redrawn: {} keys, {} clicks, {} moves", paint.keys, paint.clicks, paint.moves));
    }
    let (sw, sh, rgb) = read_ppm(ppm);
    if (sw, sh) != (w, h) {
        return Err(format!("the scanout is {sw}x{sh}, paint drew {w}x{h}"));
    }
    let wrong = img
        .px
        .iter()
        .enumerate()
        .filter(|(i, p)| rgb[3 * i..3 * i + 3] != [(*p >> 16) as u8, (*p >> 8) as u8, **p as u8])
        .count();
    if wrong != 0 {
        return Err(format!("{wrong} pixels of the screendump differ from the picture paint drew"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console a correct run prints, given where the buttons went.
    fn console(buttons_on_tablet: bool) -> Vec<String> {
        let mut lines = vec![
            "paint: input0 is \"QEMU Virtio Keyboard\": event types 0x120003, x 0..0, y 0..0".to_string(),
            "paint: input1 is \"QEMU Virtio Mouse\": event types 0x7, x 0..0, y 0..0".to_string(),
            "paint: input2 is \"QEMU Virtio Tablet\": event types 0xf, x 0..32767, y 0..32767".to_string(),
        ];
        let want = expected(if buttons_on_tablet { "QEMU Virtio Tablet" } else { "QEMU Virtio Mouse" });
        for (k, name) in ["QEMU Virtio Keyboard", "QEMU Virtio Mouse", "QEMU Virtio Tablet"].iter().enumerate() {
            for (t, c, v) in &want[*name] {
                lines.push(format!("paint: input{k} event {t} {c} {v}"));
            }
        }
        lines
    }

    /// Redraw `lines` and write the picture as a PPM; add the frame line.
    fn screen(lines: &mut Vec<String>, path: &Path) -> Image {
        let devs = devices(lines);
        let (w, h) = SCREEN;
        let mut img = Image { w, px: vec![0; (w * h) as usize] };
        let mut paint = Paint::new(w, h);
        paint.draw_all(&mut img);
        for (k, (ty, code, value)) in events(lines) {
            paint.apply(InputEvent { ty, code, value: value as u32 }, devs[&k].1, &mut img);
        }
        let mut fnv = Fnv::default();
        img.px.iter().for_each(|p| fnv.pixel(*p));
        lines.push(format!("{FRAME}{:016x} after 30 events", fnv.0));
        let mut ppm = format!("P6\n{w} {h}\n255\n").into_bytes();
        img.px.iter().for_each(|p| ppm.extend([(p >> 16) as u8, (p >> 8) as u8, *p as u8]));
        std::fs::write(path, ppm).unwrap();
        img
    }

    #[test]
    fn a_correct_run_passes_and_each_kind_of_wrong_one_fails() {
        let dir = crate::TempDir::new("paint-check");
        let ppm = dir.0.join("s.ppm");
        for on_tablet in [true, false] {
            let mut lines = console(on_tablet);
            screen(&mut lines, &ppm);
            assert_eq!(check(&lines, &ppm), Ok(()));
        }
        // An event lost on the way.
        let mut lines = console(true);
        screen(&mut lines, &ppm);
        let lost = lines.iter().position(|l| l.ends_with("event 2 0 40")).unwrap();
        lines.remove(lost);
        assert!(check(&lines, &ppm).unwrap_err().starts_with("events per device"));
        // One pixel of the screen wrong.
        let mut lines = console(false);
        let img = screen(&mut lines, &ppm);
        let mut bytes = std::fs::read(&ppm).unwrap();
        let at = bytes.len() - 3 * img.px.len() + 3 * 1000;
        bytes[at] ^= 1;
        std::fs::write(&ppm, bytes).unwrap();
        assert_eq!(check(&lines, &ppm), Err("1 pixels of the screendump differ from the picture paint drew".into()));
        // A hash that is not the picture's.
        let mut lines = console(false);
        screen(&mut lines, &ppm);
        let last = lines.len() - 1;
        lines[last] = format!("{FRAME}0000000000000000 after 30 events");
        assert!(check(&lines, &ppm).unwrap_err().contains("hash"));
    }
}
