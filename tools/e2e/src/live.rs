//! A sim run the test talks to while it runs: its output line by line as
//! it comes, and QEMU's QMP (a second `-qmp` socket the sim description
//! adds through `qemu_args`) to inject input events and take
//! screendumps.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// A running `sevio-sim run`.
pub struct Live {
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line so far.
    pub seen: Vec<String>,
}

impl Live {
    /// Start sim on `system` with `args`, as [`crate::sim`] does.
    pub fn start(system: &str, args: &[&str]) -> Live {
        let profile_dir = crate::build();
        let mut child = Command::new(profile_dir.join("sevio-sim"))
            .arg("run")
            .arg(system)
            .arg("--pd-dir")
            .arg(&profile_dir)
            .args(args)
            .current_dir(crate::systems())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start sevio-sim");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Live { child, lines: rx, seen: Vec::new() }
    }

    /// Wait until a line containing `needle` appears (after those already
    /// seen); panics with the output on timeout or end of output.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line.clone());
                    if hit {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no `{needle}` within {timeout:?}:\n{}", self.seen.join("\n")),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("sim ended without `{needle}`:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// Wait for the run to end; its exit status and every line.
    pub fn finish(mut self) -> (Option<i32>, Vec<String>) {
        let status = self.child.wait().expect("wait for sim");
        let rest: Vec<String> = self.lines.iter().collect();
        self.seen.extend(rest);
        (status.code(), std::mem::take(&mut self.seen))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A QMP connection (capabilities negotiated).
pub struct Qmp {
    w: UnixStream,
    r: BufReader<UnixStream>,
}

impl Qmp {
    /// Connect to the socket at `path` (retrying while QEMU starts).
    pub fn connect(path: &Path) -> Qmp {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("QMP at {}: {e}", path.display()),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let mut q = Qmp { w: stream.try_clone().unwrap(), r: BufReader::new(stream) };
        let mut greeting = String::new();
        q.r.read_line(&mut greeting).unwrap();
        assert!(greeting.contains("QMP"), "not a QMP greeting: {greeting}");
        q.execute(r#"{"execute":"qmp_capabilities"}"#);
        q
    }

    /// Send one command (JSON text) and return its `return` line; panics
    /// on an `error` answer. Events in between are skipped.
    pub fn execute(&mut self, command: &str) -> String {
        self.w.write_all(command.as_bytes()).unwrap();
        self.w.write_all(b"\n").unwrap();
        loop {
            let mut line = String::new();
            assert!(self.r.read_line(&mut line).unwrap() > 0, "QMP closed after {command}");
            if line.contains("\"return\"") {
                return line;
            }
            assert!(!line.contains("\"error\""), "QMP refused {command}: {line}");
        }
    }

    /// `input-send-event` with `events` (a JSON array's items).
    pub fn input(&mut self, events: &[String]) {
        self.execute(&format!(r#"{{"execute":"input-send-event","arguments":{{"events":[{}]}}}}"#, events.join(",")));
    }

    /// A screendump of the first console into `file` (`ppm` or `png`).
    pub fn screendump(&mut self, file: &Path, format: &str) {
        self.execute(&format!(
            r#"{{"execute":"screendump","arguments":{{"filename":"{}","format":"{format}"}}}}"#,
            file.display()
        ));
    }
}

/// QMP input events.
pub mod event {
    /// A key (QEMU qcode, e.g. "a") down or up.
    pub fn key(qcode: &str, down: bool) -> String {
        format!(r#"{{"type":"key","data":{{"down":{down},"key":{{"type":"qcode","data":"{qcode}"}}}}}}"#)
    }
    /// A relative move on `axis` ("x" or "y").
    pub fn rel(axis: &str, value: i64) -> String {
        format!(r#"{{"type":"rel","data":{{"axis":"{axis}","value":{value}}}}}"#)
    }
    /// An absolute position on `axis` (0..=0x7fff).
    pub fn abs(axis: &str, value: i64) -> String {
        format!(r#"{{"type":"abs","data":{{"axis":"{axis}","value":{value}}}}}"#)
    }
    /// A button ("left", ...) down or up.
    pub fn btn(button: &str, down: bool) -> String {
        format!(r#"{{"type":"btn","data":{{"down":{down},"button":"{button}"}}}}"#)
    }
}

/// A binary PPM (P6, maxval 255) as QEMU's screendump writes it: width,
/// height and RGB bytes.
pub fn read_ppm(path: &Path) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).expect("read screendump");
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
    }
    assert_eq!((fields[0].as_str(), fields[3].as_str()), ("P6", "255"), "a binary PPM");
    let (w, h): (u32, u32) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let data = bytes[at + 1..].to_vec();
    assert_eq!(data.len(), (w * h * 3) as usize, "pixel bytes");
    (w, h, data)
}
