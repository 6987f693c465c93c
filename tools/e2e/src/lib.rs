//! The harness of sevio's end-to-end tests: build the simulator and every
//! PD for the host (once per test binary), run a system under
//! `sevio-sim`, and give the test its output and exit status. The
//! systems live in `tools/e2e/systems/`.
//!
//! The checks that matter are made from the host, independently of the
//! PDs: a disk image read back after the run, frames counted by a peer,
//! bytes typed into and read from a console, input events injected and
//! screens dumped through QMP ([`live`]); [`net_peer`] is an echo host
//! on a UDP socket for a NIC on QEMU's socket or dgram netdev.

pub mod live;
pub mod net_peer;
pub mod paint;
pub mod restart;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any one sim run may take before the harness kills it.
const WATCHDOG: Duration = Duration::from_secs(120);

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The directory of the e2e systems.
pub fn systems() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systems")
}

/// The target directory this test binary was built in (`.../target`),
/// and its profile directory name.
fn target_dir() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir").to_path_buf();
    let profile = profile_dir.file_name().unwrap().to_string_lossy().into_owned();
    (profile_dir.parent().expect("target dir").to_path_buf(), profile)
}

/// Build sevio-sim and every PD for the host, once.
pub fn build() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (target, profile) = target_dir();
            let mut cmd = Command::new(env!("CARGO"));
            cmd.current_dir(workspace()).args(["build", "--quiet", "--target-dir"]).arg(&target);
            cmd.args(["-p", "sevio-sim"]);
            for pkg in pd_packages() {
                cmd.args(["-p", &pkg]);
            }
            if profile == "release" {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("cannot run cargo");
            assert!(status.success(), "building sevio-sim and the PDs failed");
            target.join(profile)
        })
        .clone()
}

/// Every PD crate: the packages under pds/ (one or two levels down) and
/// transports/ with a binary.
fn pd_packages() -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![workspace().join("transports"), workspace().join("pds")];
    for group in ["drivers", "clients", "examples"] {
        dirs.push(workspace().join("pds").join(group));
    }
    for dir in dirs {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let manifest = entry.path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
            if !text.contains("[[bin]]") {
                continue;
            }
            if let Some(name) = text.lines().find_map(|l| l.strip_prefix("name = \"")) {
                out.push(name.trim_end_matches('"').to_string());
            }
        }
    }
    out
}

/// A finished sim run.
#[derive(Debug)]
pub struct Run {
    /// Exit status (None if killed by a signal).
    pub code: Option<i32>,
    /// Everything sim printed on stdout.
    pub out: String,
    /// Everything on stderr.
    pub err: String,
}

impl Run {
    /// Panics with the whole output unless the exit status is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit status\n--- stdout\n{}--- stderr\n{}", self.out, self.err);
        self
    }

    /// Every `want` appears in stdout, in this order, each on its own line.
    pub fn assert_lines(&self, want: &[&str]) -> &Self {
        let lines: Vec<&str> = self.out.lines().collect();
        let mut at = 0;
        for w in want {
            match lines[at..].iter().position(|l| l.contains(w)) {
                Some(i) => at += i + 1,
                None => panic!("no line with `{w}` (in order) in stdout:\n{}\n--- stderr\n{}", self.out, self.err),
            }
        }
        self
    }

    /// Panics with stderr unless it contains `want`.
    pub fn assert_stderr(&self, want: &str) -> &Self {
        assert!(self.err.contains(want), "stderr lacks `{want}`:\n{}", self.err);
        self
    }

    /// Lines of stdout that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<&str> {
        self.out.lines().filter(|l| l.contains(needle)).collect()
    }
}

/// Run `system` (a file in `systems/`, or a path) under sim with `args`
/// added, from the systems directory, and wait for it.
pub fn sim(system: &str, args: &[&str]) -> Run {
    let profile_dir = build();
    let mut child = Command::new(profile_dir.join("sevio-sim"))
        .arg("run")
        .arg(system)
        .args(["--pd-dir"])
        .arg(&profile_dir)
        .args(args)
        .current_dir(systems())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start sevio-sim");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out_pipe, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            panic!("sevio-sim did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run { code: status.code(), out: out.join().unwrap(), err: err.join().unwrap() }
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after the test.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sevio-e2e.{}.{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Write `text` to `name` inside; returns the path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
