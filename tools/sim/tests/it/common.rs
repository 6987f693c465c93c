//! Building the PDs, running sim, and checking it left nothing behind.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any one sim run may take before the test kills it.
const WATCHDOG: Duration = Duration::from_secs(90);

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn systems() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems")
}

fn sim_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sevio-sim"))
}

/// Build every PD the tests run, into the directory sevio-sim looks in
/// by default (its own).
pub fn build_pds() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let exe = sim_exe();
        let profile_dir = exe.parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(workspace()).args(["build", "--quiet", "--target-dir"]).arg(target_dir);
        for p in [
            "sevio-example-ping",
            "sevio-example-pong",
            "sevio-example-tally",
            "sevio-driver-uart",
            "sevio-sim-test-pds",
        ] {
            cmd.args(["-p", p]);
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cannot run cargo");
        assert!(status.success(), "building the test PDs failed");
    });
}

pub use sevio_e2e::{Run, TempDir};

/// A sim run in progress.
pub struct Started {
    pub child: Child,
    out: BufReader<ChildStdout>,
    seen: String,
}

pub fn start_sim<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Started {
    build_pds();
    let mut child = Command::new(sim_exe())
        .arg("run")
        .args(args)
        .current_dir(systems())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start sevio-sim");
    let out = BufReader::new(child.stdout.take().unwrap());
    Started { child, out, seen: String::new() }
}

impl Started {
    /// Read stdout up to and including the first line starting with `prefix`.
    pub fn wait_for_line(&mut self, prefix: &str) {
        loop {
            let mut line = String::new();
            assert_ne!(self.out.read_line(&mut line).unwrap(), 0, "no line `{prefix}` in:\n{}", self.seen);
            self.seen.push_str(&line);
            if line.starts_with(prefix) {
                return;
            }
        }
    }

    /// Send `sig` to sim.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own child; no memory involved.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Wait for sim (killing it after the watchdog time), collect its
    /// output and check it left nothing behind.
    pub fn finish(mut self) -> Run {
        let pid = self.child.id();
        let mut out = self.out;
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > WATCHDOG {
                let _ = self.child.kill();
                panic!("sevio-sim did not finish within {WATCHDOG:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let run = Run { code: status.code(), out: self.seen + &out_reader.join().unwrap(), err };
        assert_cleaned_up(pid);
        run
    }
}

pub fn sim<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    start_sim(args).finish()
}

/// Processes that belong to sim `pid`: QEMU (its arguments name sim's
/// run directory) and PDs (their environment names sim's pid).
fn strays(pid: u32) -> Vec<String> {
    let tag = format!("sevio-sim.{pid}.");
    let env_tag = format!("SEVIO_SIM_PID={pid}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
        let has = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
        if has(&cmdline, &tag) || has(&environ, &env_tag) {
            found.push(format!("{}: {}", dir.display(), String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// No process, shared-memory file or run directory of sim `pid` is left.
pub fn assert_cleaned_up(pid: u32) {
    let tag = format!("sevio-sim.{pid}.");
    for dir in [PathBuf::from("/dev/shm"), std::env::temp_dir()] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with(&tag), "sim left {}", entry.path().display());
        }
    }
    // Children of a sim that was killed outright die asynchronously.
    let start = Instant::now();
    loop {
        let left = strays(pid);
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "sim {pid} left processes: {left:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
