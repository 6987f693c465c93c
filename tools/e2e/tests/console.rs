//! Console end to end: bus, mmio transport, console driver and client
//! under sim, against QEMU's virtio-serial with a virtconsole on port 0.
//! The peer outside the system is this test: it types into QEMU's
//! chardev (a unix socket) and checks every answer, byte for byte.

use sevio_e2e::{TempDir, build, sim, systems};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The client's banner (sevio-client-console's `BANNER`).
const BANNER: &str = "sevio console: type a line, it comes back upper-cased ('bye' for totals)\n";
/// How long the peer waits for any one step.
const STEP: Duration = Duration::from_secs(60);

/// A copy of `systems/<name>` with `from` replaced by `to`, in `dir`.
fn description(dir: &TempDir, name: &str, from: &str, to: &Path) -> PathBuf {
    let text = std::fs::read_to_string(systems().join(name)).unwrap();
    assert!(text.contains(from), "{name} names {from}");
    dir.file(name, &text.replace(from, to.to_str().unwrap()))
}

/// What the test types: a short line, a line of 3 KiB (longer than the
/// driver's 1 KiB buffers), then a burst of 500 lines written at once.
fn script() -> (String, String, Vec<String>) {
    let long: String = (0..3 * 1024).map(|i| (b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]) as char).collect();
    let burst = (0..500)
        .map(|i| format!("line {i:04}: the quick brown fox jumps over the lazy dog {}\n", i * 7919 % 10007))
        .collect();
    ("hello, sevio\n".to_string(), format!("long: {long}\n"), burst)
}

/// Counts the answer lines the reader has seen.
#[derive(Clone, Default)]
struct Answers(Arc<AtomicUsize>);

impl Answers {
    fn wait_for(&self, n: usize) {
        let start = Instant::now();
        while self.0.load(Ordering::Acquire) < n {
            assert!(start.elapsed() < STEP, "only {} answers of {n} after {STEP:?}", self.0.load(Ordering::Acquire));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn connect(sock: &Path) -> UnixStream {
    let start = Instant::now();
    loop {
        match UnixStream::connect(sock) {
            Ok(s) => return s,
            Err(e) => {
                assert!(start.elapsed() < STEP, "cannot connect to QEMU's console socket: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Type the script (each phase after the previous one is answered),
/// return every line received (the banner, if it came before we
/// connected it did not, is reported separately).
fn peer(sock: PathBuf) -> (bool, Vec<String>) {
    let stream = connect(&sock);
    stream.set_read_timeout(Some(STEP)).unwrap();
    let answers = Answers::default();
    let mut writer = stream.try_clone().unwrap();
    let progress = answers.clone();
    let typist = std::thread::spawn(move || {
        let (short, long, burst) = script();
        writer.write_all(short.as_bytes()).unwrap();
        progress.wait_for(1);
        writer.write_all(long.as_bytes()).unwrap();
        progress.wait_for(2);
        // The burst in one go: the system must hold back, not drop.
        writer.write_all(burst.concat().as_bytes()).unwrap();
        progress.wait_for(2 + burst.len());
        writer.write_all(b"bye\n").unwrap();
    });
    let mut banner = false;
    let mut lines = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.expect("reading the console");
        if lines.is_empty() && !banner && format!("{line}\n") == BANNER {
            banner = true;
            continue;
        }
        let bye = line == "BYE";
        lines.push(line);
        answers.0.fetch_add(1, Ordering::Release);
        if bye {
            break;
        }
    }
    typist.join().expect("typist");
    (banner, lines)
}

#[test]
fn typed_lines_come_back_upper_cased_with_nothing_lost_or_reordered() {
    build();
    let dir = TempDir::new("console");
    let sock = dir.0.join("console.sock");
    let desc = description(&dir, "console.sim.toml", "/tmp/sevio-console.sock", &sock);
    let peer = std::thread::spawn(move || peer(sock));
    let run = sim("console.xml", &["--sim", desc.to_str().unwrap(), "--timeout", "100"]);
    let (banner, got) = peer.join().expect("the peer");
    run.assert_code(0);

    let (short, long, burst) = script();
    let typed: Vec<String> = [short, long].into_iter().chain(burst).chain(["bye\n".to_string()]).collect();
    let want: Vec<String> = typed.iter().map(|l| l.trim_end_matches('\n').to_ascii_uppercase()).collect();
    assert_eq!(got.len(), want.len(), "answer lines (banner seen: {banner})");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            g == w,
            "answer {i} differs: got {} bytes {:?}..., want {} bytes {:?}...",
            g.len(),
            &g[..g.len().min(40)],
            w.len(),
            &w[..w.len().min(40)]
        );
    }
    assert_eq!(got[1].len(), 6 + 3 * 1024, "the long line came back whole");
    let bytes: usize = typed.iter().map(String::len).sum();
    let totals = format!("console-client: bye after {} lines, {bytes} bytes answered", typed.len());
    run.assert_lines(&[
        "bus: console0 <- virtio-console at mmio slot 7",
        "console: device ready",
        &totals,
        "console-client: the device consumed the answer to bye",
        "console_client: PASS",
        "sim: PASS",
    ]);
}

/// console-banner.xml, its output to a file; `legacy`: version 1
/// registers. The banner must be the file's whole content.
fn banner_to_file(legacy: bool, name: &str) {
    build();
    let dir = TempDir::new(name);
    let out = dir.0.join("console.out");
    let desc = description(&dir, "console-banner.sim.toml", "/tmp/sevio-console.out", &out);
    let text = std::fs::read_to_string(&desc).unwrap();
    std::fs::write(&desc, format!("force_legacy = {legacy}\n{text}")).unwrap();
    let run = sim("console-banner.xml", &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(0);
    let registers = if legacy { "(register version 1)" } else { "(register version 2)" };
    run.assert_lines(&[
        registers,
        "console: device ready",
        "console-client: the device consumed the banner",
        "console_client: PASS",
        "sim: PASS",
    ]);
    // QEMU put the banner into the file before the used buffer came back.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), BANNER);
}

#[test]
fn the_standalone_client_passes_once_its_banner_is_out() {
    banner_to_file(false, "console-banner");
}

#[test]
fn a_legacy_device_carries_the_banner_too() {
    banner_to_file(true, "console-banner-legacy");
}
