//! QEMU arm virt as the device machine: its command line, its start, and
//! the qtest session with the GIC's inputs intercepted.
//!
//! The vCPU is parked, not stopped: a two-word `wfi; b .` image in a
//! reserved RAM page (`-device loader`). With `-S` QEMU's virtio-rng and
//! virtio-net receive do nothing. Guest RAM is a shared file, so PDs map
//! the same pages the devices DMA to.

use crate::config::{Drive, SimDescription, option_value};
use crate::layout::PARK_ADDR;
use crate::qtest::{Qtest, QtestEvent};
use sevio_runtime::hosted::wire::RAM_SIZE;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `wfi; b .`, little-endian.
const PARK_CODE: [u8; 8] = [0x7f, 0x20, 0x03, 0xd5, 0xff, 0xff, 0xff, 0x17];

/// How long QEMU may take to connect its sockets.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Paths of one QEMU run.
pub struct Launch<'a> {
    /// The QEMU binary.
    pub qemu: &'a Path,
    /// The guest-RAM file (already sized).
    pub ram_file: &'a Path,
    /// A private directory for sockets, the park image and scratch disks.
    pub run_dir: &'a Path,
    /// The devices.
    pub desc: &'a SimDescription,
}

/// A path as a QEMU option value.
fn path_value(p: &Path) -> String {
    p.display().to_string().replace(',', ",,")
}

fn scratch_disk(run_dir: &Path, index: usize) -> PathBuf {
    run_dir.join(format!("disk{index}.img"))
}

fn drive_arg(drive: &Drive, id: &str, file: &Path) -> String {
    let mut arg =
        format!("if=none,id={id},file={},format={}", path_value(file), drive.format.as_deref().unwrap_or("raw"));
    if drive.readonly {
        arg.push_str(",readonly=on");
    }
    arg
}

fn backend_arg(table: &std::collections::BTreeMap<String, toml::Value>, id: &str) -> String {
    let mut arg = table.get("type").map(option_value).unwrap_or_default();
    arg.push_str(&format!(",id={id}"));
    for (k, v) in table.iter().filter(|(k, _)| *k != "type") {
        arg.push_str(&format!(",{k}={}", option_value(v)));
    }
    arg
}

/// QEMU's arguments for this run (without the program name).
pub fn command_line(l: &Launch) -> Vec<String> {
    let dir = l.run_dir;
    let mut args: Vec<String> = [
        "-machine",
        "virt,virtualization=on,memory-backend=sevio-ram",
        "-cpu",
        "cortex-a53",
        "-m",
        &format!("{}M", RAM_SIZE >> 20),
        "-object",
        &format!(
            "memory-backend-file,id=sevio-ram,size={}M,mem-path={},share=on",
            RAM_SIZE >> 20,
            path_value(l.ram_file)
        ),
        "-nodefaults",
        "-display",
        "none",
        "-qtest",
        &format!("unix:{}", path_value(&dir.join("qtest.sock"))),
        "-qtest-log",
        "/dev/null",
        "-qmp",
        &format!("unix:{}", path_value(&dir.join("qmp.sock"))),
        "-device",
        &format!("loader,file={},addr={PARK_ADDR:#x},cpu-num=0", path_value(&dir.join("park.bin"))),
        "-global",
        &format!("virtio-mmio.force-legacy={}", l.desc.force_legacy),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (i, d) in l.desc.devices.iter().enumerate() {
        let mut dev = d.driver.clone();
        if let Some(slot) = d.slot {
            dev.push_str(&format!(",bus=virtio-mmio-bus.{slot}"));
        }
        if let Some(addr) = &d.pci_addr {
            dev.push_str(&format!(",bus=pcie.0,addr={}", addr.replace(',', ",,")));
        }
        if let Some(drive) = &d.drive {
            let id = format!("sevio-drive{i}");
            let file = match &drive.file {
                Some(f) => l.desc.base_dir.join(f),
                None => scratch_disk(dir, i),
            };
            args.extend(["-drive".to_string(), drive_arg(drive, &id, &file)]);
            dev.push_str(&format!(",drive={id}"));
        }
        if let Some(t) = &d.netdev {
            let id = format!("sevio-net{i}");
            args.extend(["-netdev".to_string(), backend_arg(t, &id)]);
            dev.push_str(&format!(",netdev={id}"));
        }
        if let Some(t) = &d.chardev {
            let id = format!("sevio-chr{i}");
            args.extend(["-chardev".to_string(), backend_arg(t, &id)]);
            dev.push_str(&format!(",chardev={id}"));
        }
        for (k, v) in &d.properties {
            dev.push_str(&format!(",{k}={}", option_value(v)));
        }
        // No guest firmware ever runs an option ROM here, and a PCI NIC's
        // default one (efi-virtio.rom, efi-e1000e.rom) lives in a package
        // a fresh machine may lack (ipxe-qemu): QEMU then refuses to start.
        if d.is_pci() && !d.properties.contains_key("romfile") {
            dev.push_str(",romfile=");
        }
        args.extend(["-device".to_string(), dev]);
    }
    args.extend(l.desc.qemu_args.iter().cloned());
    args
}

/// Files QEMU needs before it starts: the park image and scratch disks.
fn prepare_files(l: &Launch) -> Result<(), String> {
    let park = l.run_dir.join("park.bin");
    std::fs::write(&park, PARK_CODE).map_err(|e| format!("{}: {e}", park.display()))?;
    for (i, d) in l.desc.devices.iter().enumerate() {
        if let Some(size) = d.drive.as_ref().and_then(|drive| drive.size.as_ref()) {
            let size = crate::config::parse_size(size)?;
            let path = scratch_disk(l.run_dir, i);
            let f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            f.set_len(size).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// QEMU's stderr: kept for error messages until startup is over, then
/// echoed as `[qemu] ` lines.
#[derive(Clone, Default)]
struct StderrLog {
    lines: Arc<Mutex<Vec<String>>>,
    live: Arc<AtomicBool>,
}

impl StderrLog {
    fn follow(&self, pipe: impl Read + Send + 'static) {
        let log = self.clone();
        let _ = std::thread::Builder::new().name("qemu-stderr".into()).spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if log.live.load(Ordering::Acquire) {
                    crate::console::line("qemu", &line);
                } else {
                    log.lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }
        });
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }
}

/// If QEMU has exited (or does within `grace`), the error that says so
/// with what it printed.
fn exited(child: &mut Child, log: &StderrLog, grace: Duration) -> Option<String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Let the stderr reader catch up with what QEMU said last.
            std::thread::sleep(Duration::from_millis(100));
            return Some(format!("QEMU exited during startup ({status}):\n{}", log.text()));
        }
        if start.elapsed() >= grace {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Accept one connection on `listener`, giving up if `child` exits.
fn accept(listener: &UnixListener, child: &mut Child, what: &str, log: &StderrLog) -> Result<UnixStream, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("{what} socket: {e}")),
        }
        if let Some(e) = exited(child, log, Duration::ZERO) {
            return Err(e);
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(format!("QEMU did not connect its {what} socket within {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Ask QMP for the QOM path of the GIC (the `arm_gic` under
/// `/machine/unattached`), rather than trusting its index.
fn find_gic(qmp: UnixStream) -> Result<String, String> {
    let mut w = qmp.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(qmp);
    let mut ask = |cmd: serde_json::Value| -> Result<serde_json::Value, String> {
        w.write_all(format!("{cmd}\n").as_bytes()).map_err(|e| format!("QMP: {e}"))?;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).map_err(|e| format!("QMP: {e}"))? == 0 {
                return Err("QMP: QEMU closed the connection".into());
            }
            let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| format!("QMP: {e}: {line}"))?;
            if let Some(ret) = v.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = v.get("error") {
                return Err(format!("QMP {cmd}: {err}"));
            }
            // A greeting or an event: read on.
        }
    };
    ask(serde_json::json!({"execute": "qmp_capabilities"}))?;
    let base = "/machine/unattached";
    let list = ask(serde_json::json!({"execute": "qom-list", "arguments": {"path": base}}))?;
    let children = list.as_array().cloned().unwrap_or_default();
    children
        .iter()
        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some("child<arm_gic>"))
        .and_then(|c| c.get("name").and_then(|n| n.as_str()))
        .map(|name| format!("{base}/{name}"))
        .ok_or_else(|| format!("QMP: no arm_gic under {base}"))
}

/// A running QEMU and its qtest session.
pub struct Qemu {
    /// The process (killed by the caller's cleanup).
    pub child: Child,
    /// Register access and IRQ lines.
    pub qtest: Qtest,
    /// The QMP connection, capabilities negotiated (for [`screendump`]).
    pub qmp: Option<UnixStream>,
}

/// Write a screendump of QEMU's first console to `file` (PNG if its name
/// ends in `.png`, else PPM) over `qmp`; waits for QEMU's answer.
pub fn screendump(qmp: &UnixStream, file: &Path) -> Result<(), String> {
    let format = if file.extension().is_some_and(|e| e == "png") { "png" } else { "ppm" };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let cmd = serde_json::json!({"execute": "screendump", "arguments": {"filename": file, "format": format}});
    let mut w = qmp.try_clone().map_err(|e| e.to_string())?;
    w.write_all(format!("{cmd}\n").as_bytes()).map_err(|e| format!("QMP: {e}"))?;
    let mut r = BufReader::new(qmp.try_clone().map_err(|e| e.to_string())?);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(|e| format!("QMP: {e}"))? == 0 {
            return Err("QMP: QEMU closed the connection".into());
        }
        if line.contains("\"return\"") {
            return Ok(());
        }
        if line.contains("\"error\"") {
            return Err(format!("QMP screendump: {}", line.trim()));
        }
    }
}

/// Start QEMU; `sink` receives IRQ line changes and QEMU's exit. The child
/// is returned inside the error too when it was started, so the caller
/// can reap it.
pub fn start(l: &Launch, sink: impl Fn(QtestEvent) + Send + 'static) -> Result<Qemu, (String, Option<Child>)> {
    prepare_files(l).map_err(|e| (e, None))?;
    let listen = |name: &str| UnixListener::bind(l.run_dir.join(name)).map_err(|e| (format!("{name}: {e}"), None));
    let qtest_listener = listen("qtest.sock")?;
    let qmp_listener = listen("qmp.sock")?;
    let mut cmd = Command::new(l.qemu);
    cmd.args(command_line(l)).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: the hook only makes async-signal-safe syscalls.
    unsafe { cmd.pre_exec(crate::procs::child_setup) };
    let mut child = cmd.spawn().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (install qemu-system-arm, e.g. `apt-get install qemu-system-arm`, or give --qemu PATH)"
        } else {
            ""
        };
        (format!("cannot run QEMU '{}': {e}{hint}", l.qemu.display()), None)
    })?;
    let log = StderrLog::default();
    if let Some(pipe) = child.stderr.take() {
        log.follow(pipe);
    }
    let started = (|| {
        let qtest_stream = accept(&qtest_listener, &mut child, "qtest", &log)?;
        let qmp_stream = accept(&qmp_listener, &mut child, "QMP", &log)?;
        let qmp = qmp_stream.try_clone().ok();
        let gic = find_gic(qmp_stream)?;
        let mut qtest = Qtest::new(qtest_stream, sink).map_err(|e| e.to_string())?;
        qtest.command(&format!("irq_intercept_in {gic}"))?;
        Ok((qtest, qmp))
    })();
    match started {
        Ok((qtest, qmp)) => {
            log.live.store(true, Ordering::Release);
            Ok(Qemu { child, qtest, qmp })
        }
        // QEMU connects its sockets before it creates devices, so a bad
        // device shows up as a broken handshake: prefer QEMU's own words.
        Err(e) => Err((exited(&mut child, &log, Duration::from_secs(2)).unwrap_or(e), Some(child))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_places_devices_and_backends() {
        let desc = crate::config::parse(
            r#"
            force_legacy = true
            qemu_args = ["-trace", "virtio_blk*"]
            [[device]]
            driver = "virtio-blk-device"
            slot = 31
            drive = { file = "disk,1.img", readonly = true }
            [[device]]
            driver = "virtio-rng-device"
            slot = 30
            [[device]]
            driver = "virtio-net-pci"
            pci_addr = "3.0"
            netdev = { type = "user", hostfwd = "tcp::5555-:22" }
            properties = { mac = "52:54:00:12:34:56" }
            [[device]]
            driver = "virtio-blk-device"
            drive = { size = "1M" }
            "#,
            &[],
        )
        .unwrap();
        let desc = SimDescription { base_dir: "/imgs".into(), ..desc };
        let args = command_line(&Launch {
            qemu: Path::new("qemu-system-aarch64"),
            ram_file: Path::new("/dev/shm/ram"),
            run_dir: Path::new("/tmp/run"),
            desc: &desc,
        });
        let joined = args.join(" ");
        for want in [
            "-machine virt,virtualization=on,memory-backend=sevio-ram",
            "-m 2048M",
            "memory-backend-file,id=sevio-ram,size=2048M,mem-path=/dev/shm/ram,share=on",
            "-qtest unix:/tmp/run/qtest.sock",
            "-device loader,file=/tmp/run/park.bin,addr=0x40100000,cpu-num=0",
            "-global virtio-mmio.force-legacy=true",
            "-drive if=none,id=sevio-drive0,file=/imgs/disk,,1.img,format=raw,readonly=on",
            "-device virtio-blk-device,bus=virtio-mmio-bus.31,drive=sevio-drive0",
            "-device virtio-rng-device,bus=virtio-mmio-bus.30",
            "-netdev user,id=sevio-net2,hostfwd=tcp::5555-:22",
            "-device virtio-net-pci,bus=pcie.0,addr=3.0,netdev=sevio-net2,mac=52:54:00:12:34:56,romfile=",
            "-drive if=none,id=sevio-drive3,file=/tmp/run/disk3.img,format=raw",
            "-device virtio-blk-device,drive=sevio-drive3",
        ] {
            assert!(joined.contains(want), "missing `{want}` in `{joined}`");
        }
        assert_eq!(args[args.len() - 2..], ["-trace", "virtio_blk*"]);
    }

    #[test]
    fn pci_devices_get_no_option_rom_unless_asked() {
        let desc = crate::config::parse(
            r#"
            [[device]]
            driver = "e1000e"
            pci_addr = "5"
            [[device]]
            driver = "virtio-rng-pci"
            properties = { romfile = "mine.rom" }
            [[device]]
            driver = "virtio-rng-device"
            "#,
            &[],
        )
        .unwrap();
        let args = command_line(&Launch {
            qemu: Path::new("qemu-system-aarch64"),
            ram_file: Path::new("/dev/shm/ram"),
            run_dir: Path::new("/tmp/run"),
            desc: &desc,
        });
        let devices: Vec<&str> = args
            .windows(2)
            .filter(|w| w[0] == "-device" && !w[1].starts_with("loader"))
            .map(|w| w[1].as_str())
            .collect();
        assert_eq!(
            devices,
            ["e1000e,bus=pcie.0,addr=5,romfile=", "virtio-rng-pci,romfile=mine.rom", "virtio-rng-device"]
        );
    }
}
