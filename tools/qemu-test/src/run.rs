//! One system, start to finish: its image made with the SDK's `microkit`
//! tool, fresh disks, QEMU booted and its console watched until every
//! verdict is in (or something fails, or time runs out), QEMU quit, the
//! disks checked from the host.

use crate::disk::{DISK_BYTES, DiskCheck, check_pattern_of};
use crate::output::{State, Watcher};
use crate::qemu::{Next, Qemu};
use crate::systems::{System, apply};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// After the last expected line: keep reading this long, so that a late
/// FAIL or fault still counts.
const SETTLE: Duration = Duration::from_secs(2);

/// Where things are and how long a run may take.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The workspace root (system files are relative to it).
    pub workspace: PathBuf,
    /// The Microkit SDK.
    pub sdk: PathBuf,
    /// Microkit board.
    pub board: String,
    /// Kernel configuration: `debug` or `release`.
    pub config: String,
    /// The PD images (`make build`'s `build/<config>`).
    pub images: PathBuf,
    /// Where each run's console log is kept.
    pub logs: PathBuf,
    /// The QEMU binary.
    pub qemu: String,
    /// Longest a system may take to produce every verdict.
    pub timeout: Duration,
}

impl Setup {
    /// What a run needs before it starts: the SDK's `microkit` tool, the
    /// SDK's build of the board in the chosen configuration, and the PD
    /// images. Checked once, so that a wrong `--sdk`, `--board`,
    /// `--config` or `--images` is one error naming it, not every system
    /// failing the same way.
    pub fn check(&self) -> Result<(), String> {
        let tool = self.sdk.join("bin/microkit");
        if !tool.is_file() {
            return Err(format!("--sdk {}: no bin/microkit there: is it a Microkit SDK?", self.sdk.display()));
        }
        let board = self.sdk.join("board").join(&self.board);
        if !board.is_dir() {
            return Err(format!("--board {}: the SDK has no {}", self.board, board.display()));
        }
        if !board.join(&self.config).is_dir() {
            return Err(format!(
                "--config {}: the SDK has no {} (debug or release)",
                self.config,
                board.join(&self.config).display()
            ));
        }
        if !self.images.is_dir() {
            return Err(format!("--images {}: no such directory (run `make build` first)", self.images.display()));
        }
        Ok(())
    }
}

/// A scratch directory, removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("sevio-qemu-test.{}.{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Boot `system` and check it. `Ok` is how long the boot took.
pub fn run(setup: &Setup, system: &System) -> Result<Duration, String> {
    let scratch = Scratch::new(system.name)?;
    let image = make_image(setup, system, &scratch.0)?;
    let disks: Vec<PathBuf> = (0..system.disks.len()).map(|i| scratch.0.join(format!("disk{i}.img"))).collect();
    for disk in &disks {
        std::fs::write(disk, vec![0u8; DISK_BYTES]).map_err(|e| format!("cannot write {}: {e}", disk.display()))?;
    }
    let export = scratch.0.join("export");
    if system.export {
        sevio_client_9p::host::prepare(&export)?;
    }
    let mut vsock = if system.vsock { Some(VsockHost::start(&scratch.0, setup.timeout)?) } else { None };
    let mut args = qemu_args(system, &image, &disks, &export);
    if let Some(v) = &vsock {
        args = shared_memory(args, &v.backend.vhost_socket);
    }
    let start = Instant::now();
    let qemu = Qemu::start(&setup.qemu, &args, &scratch.0)?;
    let mut demo = system.gpu_demo.then(Demo::default);
    let (console, state) = watch(&qemu, system, start + setup.timeout, &mut |line| {
        if let Some(d) = &mut demo {
            d.feed(line, qemu.qmp_socket());
        }
        if let Some(v) = &mut vsock {
            v.feed(line);
        }
    });
    let screen = scratch.0.join("screen.ppm");
    if demo.is_some() && matches!(state, Ended::Complete) {
        // The frame line is in: what paint drew is on the scanout.
        sevio_e2e::live::Qmp::connect(qemu.qmp_socket()).screendump(&screen, "ppm");
    }
    let stderr = qemu.quit();
    let took = start.elapsed();
    std::fs::create_dir_all(&setup.logs).map_err(|e| format!("cannot create {}: {e}", setup.logs.display()))?;
    let log = setup.logs.join(format!("{}.log", system.name));
    let _ = std::fs::write(&log, format!("{console}--- qemu stderr\n{stderr}"));
    match state {
        Ended::Complete => {}
        Ended::Failed(why) => return Err(why),
        Ended::Exited(missing) => {
            let said = stderr.lines().last().unwrap_or("nothing on stderr");
            return Err(format!("QEMU exited ({said}); missing: {missing} (log: {})", log.display()));
        }
        Ended::TimedOut(missing) => {
            return Err(format!("timed out after {:?}; missing: {missing} (log: {})", setup.timeout, log.display()));
        }
    }
    if demo.is_some() {
        let lines: Vec<String> = console.lines().map(str::to_string).collect();
        sevio_e2e::paint::check(&lines, &screen).map_err(|why| format!("gpu demo: {why} (log: {})", log.display()))?;
    }
    if let Some(at) = system.broken.and_then(|b| b.flip_after_run) {
        flip_byte(&disks[0], at)?;
    }
    for (i, (disk, check)) in disks.iter().zip(system.disks).enumerate() {
        if let (DiskCheck::Pattern(writer) | DiskCheck::SoakPattern(writer), Some(seed)) = (check, check.seed()) {
            let image = std::fs::read(disk).map_err(|e| format!("cannot read {}: {e}", disk.display()))?;
            check_pattern_of(&image, seed).map_err(|why| format!("disk{i} (written by {writer}): {why}"))?;
        }
    }
    if system.export {
        sevio_client_9p::host::check(&export).map_err(|why| format!("the exported directory: {why}"))?;
    }
    if let Some(v) = vsock {
        v.check()?;
    }
    if system.tone_wav {
        // QEMU quit through QMP, so the wav audiodev finished the file.
        sevio_client_sound::host::check_tone(&tone_wav(&export))
            .map_err(|why| format!("the tone's WAV file: {why}"))?;
    }
    report_restarts(system, &console);
    Ok(took)
}

/// Bytes the host program sends the guest's echo server (the e2e test's).
const VSOCK_HOST_BYTES: u32 = 200 * 1000;

/// The host's side of a vsock system: the device backend, the listener
/// the guest connects to, and the host program that connects to the
/// guest's echo server once it listens.
struct VsockHost {
    backend: sevio_client_vsock::host::Backend,
    listener: std::thread::JoinHandle<Result<u64, String>>,
    program: Option<std::thread::JoinHandle<Result<u64, String>>>,
    timeout: Duration,
}

impl VsockHost {
    fn start(dir: &Path, timeout: Duration) -> Result<VsockHost, String> {
        let backend = sevio_client_vsock::host::Backend::start(dir)?;
        let listener = sevio_client_vsock::host::echo_listener(&backend, timeout)?;
        Ok(VsockHost { backend, listener, program: None, timeout })
    }

    fn feed(&mut self, line: &str) {
        if self.program.is_none() && line.contains("echo server listening on port") {
            let uds = self.backend.uds.clone();
            let timeout = self.timeout;
            self.program = Some(std::thread::spawn(move || {
                sevio_client_vsock::host::echo_through_uds(&uds, VSOCK_HOST_BYTES, timeout)
            }));
        }
    }

    fn check(self) -> Result<(), String> {
        let program = self.program.ok_or("the echo server never listened")?;
        let echoed = program.join().map_err(|_| "the host program panicked")?;
        if echoed != Ok(u64::from(VSOCK_HOST_BYTES)) {
            return Err(format!("the host program's echo through the guest: {echoed:?}"));
        }
        let listened = self.listener.join().map_err(|_| "the host listener panicked")?;
        if listened != Ok(u64::from(sevio_client_vsock::CHECK_BYTES)) {
            return Err(format!("the host listener's echo of the guest's bytes: {listened:?}"));
        }
        Ok(())
    }
}

/// `args` with guest RAM a shared memfd (a vhost-user device maps it) and
/// `{vhost}` replaced by the backend's socket.
fn shared_memory(args: Vec<String>, vhost: &Path) -> Vec<String> {
    let mut out: Vec<String> = args
        .into_iter()
        .map(|a| if a == "virt,virtualization=on" { format!("{a},memory-backend=sevio-ram") } else { a })
        .map(|a| a.replace("{vhost}", &vhost.display().to_string()))
        .collect();
    out.splice(0..0, ["-object".to_string(), "memory-backend-memfd,id=sevio-ram,size=2G,share=on".to_string()]);
    out
}

/// A system whose blk driver was restarted: how long from each fault to
/// the restarted driver's first answer (the runtime's clock, read from the
/// bus's and blk's lines).
fn report_restarts(system: &System, console: &str) {
    let times = sevio_e2e::restart::fault_to_first_answer_us(console, "blk0", "blk");
    if let (Some(median), Some(max)) = (sevio_e2e::restart::median(&times), times.iter().max()) {
        println!(
            "      {}: blk fault to first answer after the restart: median {median} us, max {max} us, {} restarts",
            system.name,
            times.len()
        );
    }
}

/// The gpu demo's input: sent once every line of
/// `sevio_e2e::paint::READY` has appeared.
#[derive(Default)]
struct Demo {
    ready: usize,
    injected: bool,
}

impl Demo {
    fn feed(&mut self, line: &str, qmp: &Path) {
        if self.injected {
            return;
        }
        if sevio_e2e::paint::READY.iter().any(|r| line.contains(r)) {
            self.ready += 1;
        }
        if self.ready == sevio_e2e::paint::READY.len() {
            self.injected = true;
            // Connected for the script only: quit needs the socket after.
            sevio_e2e::paint::inject(&mut sevio_e2e::live::Qmp::connect(qmp));
        }
    }
}

/// How watching the console ended.
pub(crate) enum Ended {
    Complete,
    Failed(String),
    /// QEMU exited; what was still missing.
    Exited(String),
    /// The deadline passed; what was still missing.
    TimedOut(String),
}

/// Read the console until the outcome is known: every verdict in (then
/// [`SETTLE`] more), a failure, QEMU gone, or `deadline`; each line also
/// goes to `on_line`. Returns the console text read.
pub(crate) fn watch(qemu: &Qemu, system: &System, deadline: Instant, on_line: &mut dyn FnMut(&str)) -> (String, Ended) {
    let mut watcher = Watcher::new(system.expect);
    let mut console = String::new();
    let mut settle_until: Option<Instant> = None;
    loop {
        let until = settle_until.map_or(deadline, |s| s.min(deadline));
        match qemu.next_line(until) {
            Next::Line(line) => {
                watcher.feed(&line);
                on_line(&line);
                console.push_str(&line);
                console.push('\n');
            }
            Next::Exited => break (console, ended_early(&watcher, Ended::Exited)),
            Next::TimedOut if settle_until.is_some() => break (console, Ended::Complete),
            Next::TimedOut => break (console, ended_early(&watcher, Ended::TimedOut)),
        }
        match watcher.state() {
            State::Failed(why) => break (console, Ended::Failed(why)),
            State::Complete if settle_until.is_none() => settle_until = Some(Instant::now() + SETTLE),
            _ => {}
        }
    }
}

/// The console stopped before the settle time: complete if it was.
fn ended_early(watcher: &Watcher, how: fn(String) -> Ended) -> Ended {
    match watcher.state() {
        State::Complete => Ended::Complete,
        State::Failed(why) => Ended::Failed(why),
        State::Running => how(watcher.missing()),
    }
}

/// Write the (perhaps changed) system file and run `microkit` on it.
pub(crate) fn make_image(setup: &Setup, system: &System, dir: &Path) -> Result<PathBuf, String> {
    let source = setup.workspace.join(system.file);
    let text = std::fs::read_to_string(&source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    let text = apply(system.variant, &text).map_err(|why| format!("{}: {why}", source.display()))?;
    let file = dir.join("system.xml");
    std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let patched = write_sections(setup, system, dir)?;
    let image = dir.join("loader.img");
    let out = Command::new(setup.sdk.join("bin/microkit"))
        .arg(&file)
        .arg("--search-path")
        .args(patched.as_slice())
        .arg(&setup.images)
        .args(["--board", &setup.board, "--config", &setup.config, "-o"])
        .arg(&image)
        .arg("-r")
        .arg(dir.join("report.txt"))
        .output()
        .map_err(|e| format!("cannot run microkit: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = if said.trim().is_empty() { String::from_utf8_lossy(&out.stdout) } else { said };
        return Err(format!("microkit refused {}: {}", system.file, said.trim()));
    }
    Ok(image)
}

/// Copies of the images `system.sections` changes, with those sections
/// written, in `dir/images`; that directory (to go first on the
/// microkit tool's search path), or nothing if no section is written.
fn write_sections(setup: &Setup, system: &System, dir: &Path) -> Result<Option<PathBuf>, String> {
    if system.sections.is_empty() {
        return Ok(None);
    }
    let out = dir.join("images");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut images: Vec<&str> = system.sections.iter().map(|s| s.image).collect();
    images.sort_unstable();
    images.dedup();
    for name in images {
        let source = setup.images.join(name);
        let mut image = std::fs::read(&source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        for s in system.sections.iter().filter(|s| s.image == name) {
            sevio_elfcheck::section::update_section(&mut image, s.name, s.contents)
                .map_err(|e| format!("{}: {e}", source.display()))?;
        }
        let copy = out.join(name);
        std::fs::write(&copy, image).map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    }
    Ok(Some(out))
}

/// The tone's WAV file: `tone.wav` beside the export directory, in the
/// run's scratch directory.
fn tone_wav(export: &Path) -> PathBuf {
    export.with_file_name("tone.wav")
}

/// QEMU's arguments for `system` (console and QMP come from [`Qemu`]).
pub fn qemu_args(system: &System, image: &Path, disks: &[PathBuf], export: &Path) -> Vec<String> {
    let mut args = machine_args(system.legacy_mmio);
    for word in system.devices.split_whitespace() {
        let mut word = word.to_string();
        for (i, disk) in disks.iter().enumerate() {
            word = word.replace(&format!("{{disk{i}}}"), &disk.display().to_string());
        }
        word = word.replace("{export}", &export.display().to_string());
        word = word.replace("{wav}", &tone_wav(export).display().to_string());
        args.push(word);
    }
    args.push("-device".into());
    args.push(format!("loader,file={},addr=0x70000000,cpu-num=0", image.display()));
    args
}

/// The machine every run boots on (`make qemu`'s): arm virt with EL2,
/// a Cortex-A53, 2 GiB, no default NIC, virtio-mmio in modern or legacy
/// register mode. `make bench-qemu` gives the Linux guest the same.
pub fn machine_args(legacy_mmio: bool) -> Vec<String> {
    let mut args: Vec<String> =
        ["-machine", "virt,virtualization=on", "-cpu", "cortex-a53", "-m", "size=2G", "-nic", "none", "-global"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.push(format!("virtio-mmio.force-legacy={legacy_mmio}"));
    args
}

fn flip_byte(disk: &Path, at: usize) -> Result<(), String> {
    let mut image = std::fs::read(disk).map_err(|e| format!("cannot read {}: {e}", disk.display()))?;
    let byte = image.get_mut(at).ok_or_else(|| format!("{} has no byte {at}", disk.display()))?;
    *byte ^= 0xff;
    std::fs::write(disk, image).map_err(|e| format!("cannot write {}: {e}", disk.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::find;

    /// `watch` over a stand-in QEMU (a script printing `console`, then
    /// sleeping or exiting).
    fn watch_fake(name: &str, console: &str, then: &str) -> (Ended, Duration) {
        let dir = Scratch::new(name).unwrap();
        let script = dir.0.join("fake-qemu");
        std::fs::write(&script, format!("#!/bin/sh\nprintf '{console}'\n{then}\n")).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let qemu = Qemu::start(script.to_str().unwrap(), &[], &dir.0).unwrap();
        let start = Instant::now();
        let (_, ended) = watch(&qemu, find("pingpong").unwrap(), start + Duration::from_secs(20), &mut |_| {});
        (ended, start.elapsed())
    }

    #[test]
    fn a_wrong_sdk_board_config_or_images_is_one_error_naming_it() {
        let dir = Scratch::new("setup-check").unwrap();
        let sdk = dir.0.join("sdk");
        let images = dir.0.join("images");
        let setup = Setup {
            workspace: dir.0.clone(),
            sdk: sdk.clone(),
            board: "qemu_virt_aarch64".into(),
            config: "debug".into(),
            logs: images.join("qemu-test"),
            images: images.clone(),
            qemu: "qemu-system-aarch64".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(setup.check().unwrap_err().starts_with("--sdk "), "no SDK at all");
        std::fs::create_dir_all(sdk.join("bin")).unwrap();
        std::fs::write(sdk.join("bin/microkit"), "").unwrap();
        assert!(setup.check().unwrap_err().starts_with("--board qemu_virt_aarch64"));
        std::fs::create_dir_all(sdk.join("board/qemu_virt_aarch64/release")).unwrap();
        assert!(setup.check().unwrap_err().starts_with("--config debug"));
        std::fs::create_dir_all(sdk.join("board/qemu_virt_aarch64/debug")).unwrap();
        assert!(setup.check().unwrap_err().starts_with("--images "));
        std::fs::create_dir_all(&images).unwrap();
        assert_eq!(setup.check(), Ok(()));
    }

    const PINGPONG_OK: &str = "tally: hello (passive)\\ntally: call 3 sums to 153\\nping: PASS\\n";

    #[test]
    fn a_complete_console_ends_the_run_after_the_settle_time() {
        let (ended, took) = watch_fake("complete", PINGPONG_OK, "exec sleep 30");
        assert!(matches!(ended, Ended::Complete));
        assert!(took >= SETTLE && took < SETTLE * 4, "{took:?}");
    }

    #[test]
    fn a_late_fail_within_the_settle_time_still_fails() {
        let console = format!("{PINGPONG_OK}pong: FAIL: late\\n");
        let (ended, _) = watch_fake("late-fail", &console, "exec sleep 30");
        assert!(matches!(ended, Ended::Failed(ref why) if why == "pong: FAIL: late"));
    }

    #[test]
    fn qemu_exiting_early_names_what_is_missing() {
        let (ended, took) = watch_fake("exited", "tally: hello (passive)\\n", "exit 1");
        match ended {
            Ended::Exited(missing) => {
                assert_eq!(missing, "0 of 1 PASS lines (no PASS named ping); no line with `tally: call 3 sums to 153`")
            }
            _ => panic!("not Exited"),
        }
        assert!(took < SETTLE * 4, "{took:?}");
    }

    #[test]
    fn disks_are_substituted_and_the_loader_comes_last() {
        let mmio_pci = find("mmio-pci").unwrap();
        let disks = [PathBuf::from("/t/disk0.img"), PathBuf::from("/t/disk1.img")];
        let args = qemu_args(mmio_pci, Path::new("/t/loader.img"), &disks, Path::new("/t/export"));
        assert!(args.contains(&"file=/t/disk0.img,if=none,format=raw,id=hd0".to_string()), "{args:?}");
        assert!(args.contains(&"file=/t/disk1.img,if=none,format=raw,id=hd1".to_string()), "{args:?}");
        assert!(!args.iter().any(|a| a.contains("{disk")), "{args:?}");
        assert_eq!(args.last().unwrap(), "loader,file=/t/loader.img,addr=0x70000000,cpu-num=0");
        assert!(args.contains(&"virtio-mmio.force-legacy=false".to_string()));
        let legacy =
            qemu_args(find("reference-legacy").unwrap(), Path::new("/t/l.img"), &disks[..1], Path::new("/t/e"));
        assert!(legacy.contains(&"virtio-mmio.force-legacy=true".to_string()));
        let p9 = qemu_args(find("9p").unwrap(), Path::new("/t/l.img"), &[], Path::new("/t/export"));
        assert!(p9.contains(&"local,id=fs0,path=/t/export,security_model=none".to_string()), "{p9:?}");
        let sound = qemu_args(find("sound").unwrap(), Path::new("/t/l.img"), &[], Path::new("/t/export"));
        assert!(sound.iter().any(|a| a.starts_with("wav,id=snd0,path=/t/tone.wav,")), "{sound:?}");
    }

    #[test]
    fn the_9p_line_expected_is_the_one_the_client_logs_for_the_hosts_file() {
        assert_eq!(crate::systems::P9_HOST_READ, sevio_client_9p::host::host_read_line());
    }
}
