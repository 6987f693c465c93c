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

/// `.serial_driver_config` as sdfgen writes it for console-banner.xml's
/// queues (the maps of its console PD), rx on channel `rx_id`, tx on 3.
fn serial_driver_config(rx_id: u8) -> Vec<u8> {
    use sevio_sddf::serial::{RawSerialConnection, RawSerialDriverConfig};
    use sevio_sddf::{Magic, resources::RawRegion};
    use zerocopy::IntoBytes;
    use zerocopy::little_endian::U64;
    let region = |vaddr, size| RawRegion { vaddr: U64::new(vaddr), size: U64::new(size) };
    let connection = |queue, data, id| RawSerialConnection {
        queue: region(queue, 0x1000),
        data: region(data, 0x1000),
        id,
        _pad: [0; 7],
    };
    let config = RawSerialDriverConfig {
        magic: Magic::Serial.bytes(),
        rx: connection(0x240_0000, 0x240_1000, rx_id),
        tx: connection(0x240_2000, 0x240_3000, 3),
        default_baud: U64::new(115_200),
        rx_enabled: 1,
        ..RawSerialDriverConfig::default()
    };
    config.as_bytes().to_vec()
}

/// console-banner.xml without the console driver's client-side setvars
/// (only a config section can wire it), and its sim description with the
/// section `config` for the console PD, in `dir`.
fn sddf_configured(dir: &TempDir, name: &str, config: &[u8]) -> (PathBuf, PathBuf) {
    let xml = std::fs::read_to_string(systems().join("console-banner.xml")).unwrap();
    let start = xml.find(r#"<protection_domain name="console" "#).expect("the console PD");
    let end = start + xml[start..].find("</protection_domain>").unwrap();
    let mut pd = xml[start..end].to_string();
    for queue in ["rx", "tx"] {
        for var in [
            format!(r#" setvar_vaddr="console_{queue}_queue_vaddr""#),
            format!(r#" setvar_vaddr="console_{queue}_data_vaddr""#),
            format!(r#" setvar_size="console_{queue}_data_size""#),
        ] {
            assert!(pd.contains(&var), "{var}");
            pd = pd.replace(&var, "");
        }
    }
    let system = dir.file("console-sddf.xml", &format!("{}{pd}{}", &xml[..start], &xml[end..]));
    std::fs::write(dir.0.join("serial_driver_config.data"), config).unwrap();
    let out = dir.0.join(format!("{name}.out"));
    let desc = description(dir, "console-banner.sim.toml", "/tmp/sevio-console.out", &out);
    let text = std::fs::read_to_string(&desc).unwrap();
    let section =
        "\n[[section]]\npd = \"console\"\nname = \".serial_driver_config\"\nfile = \"serial_driver_config.data\"\n";
    std::fs::write(&desc, format!("{text}{section}")).unwrap();
    (system, desc)
}

/// The client side the sDDF way: the console driver has no queue
/// setvars, only `.serial_driver_config` (objcopied in by sim, as an sDDF
/// build does with sdfgen's output), and serves the client through it.
#[test]
fn a_config_section_alone_wires_the_console() {
    build();
    let dir = TempDir::new("console-sddf");
    let (system, desc) = sddf_configured(&dir, "console-sddf", &serial_driver_config(2));
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(0);
    run.assert_lines(&[
        "console: client side from .serial_driver_config: rx on channel 2, tx on 3",
        "console: device ready",
        "console-client: the device consumed the banner",
        "console_client: PASS",
        "sim: PASS",
    ]);
    assert_eq!(std::fs::read_to_string(dir.0.join("console-sddf.out")).unwrap(), BANNER);
}

/// A config naming the transport's channel for rx is refused: the
/// driver says why and serves nothing, so the client never passes.
#[test]
fn a_config_naming_the_transports_channel_is_refused() {
    build();
    let dir = TempDir::new("console-sddf-bad");
    let (system, desc) = sddf_configured(&dir, "console-sddf-bad", &serial_driver_config(1));
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "10"]);
    assert_ne!(
        run.lines_with("rx.id = 1: the bus's, the transport's, the timer's or the log's channel; not serving").len(),
        0
    );
    assert!(run.lines_with("console_client: PASS").is_empty());
    assert!(run.lines_with("console: device ready").is_empty());
}
