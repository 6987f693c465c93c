//! One QEMU under the tool's control: its serial console read line by
//! line from a pipe, a QMP socket to quit it cleanly, and a kill on every
//! other way out (the [`Qemu`] is dropped).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long QEMU gets to quit after QMP `quit` before it is killed.
const QUIT_GRACE: Duration = Duration::from_secs(10);

/// What reading the console gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A console line, without its line ending.
    Line(String),
    /// QEMU closed its console (it exited).
    Exited,
    /// Nothing before the deadline.
    TimedOut,
}

/// A running QEMU.
pub struct Qemu {
    child: Child,
    qmp: PathBuf,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Qemu {
    /// Start `binary` with `args`, the serial console on a pipe and QMP on
    /// a socket in `dir`.
    pub fn start(binary: &str, args: &[String], dir: &Path) -> Result<Qemu, String> {
        let qmp = dir.join("qmp.sock");
        let mut child = Command::new(binary)
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let (send, lines) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            // Bytes, not UTF-8 lines: a PD may print anything.
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                if send.send(text).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(Qemu { child, qmp, lines, stderr })
    }

    /// Where QEMU's QMP socket is (one client at a time: a caller
    /// disconnects before [`quit`](Self::quit)).
    pub fn qmp_socket(&self) -> &Path {
        &self.qmp
    }

    /// The next console line, waiting no later than `deadline`.
    pub fn next_line(&self, deadline: Instant) -> Next {
        match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => Next::Line(line),
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Next::Exited,
        }
    }

    /// Ask QEMU to quit over QMP (so its disk images are closed), kill it
    /// if it has not within [`QUIT_GRACE`]; returns what it wrote on
    /// stderr.
    pub fn quit(mut self) -> String {
        if self.child.try_wait().ok().flatten().is_none() {
            // A QEMU that does not answer QMP is killed below all the same.
            let _ = send_quit(&self.qmp);
            let start = Instant::now();
            while self.child.try_wait().ok().flatten().is_none() && start.elapsed() < QUIT_GRACE {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
        let handle = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        handle.join().unwrap_or_default()
    }

    fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// QMP: read the greeting, leave negotiation mode, `quit`.
fn send_quit(socket: &Path) -> std::io::Result<()> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(QUIT_GRACE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    writer.write_all(b"{\"execute\": \"qmp_capabilities\"}\n")?;
    line.clear();
    reader.read_line(&mut line)?;
    writer.write_all(b"{\"execute\": \"quit\"}\n")?;
    line.clear();
    reader.read_line(&mut line)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in "QEMU" (a shell) that prints two lines and waits: the
    /// lines arrive, the deadline ends the wait, and dropping kills it.
    #[test]
    fn lines_arrive_deadlines_hold_and_drop_kills() {
        let dir = std::env::temp_dir().join(format!("sevio-qemu-test.{}.unit", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A script ignores the options QEMU would get.
        let script = dir.join("fake-qemu");
        std::fs::write(&script, "#!/bin/sh\necho $$ > \"$0.pid\"\nprintf 'one\\r\\ntwo\\n'\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let qemu = Qemu::start(script.to_str().unwrap(), &[], &dir).unwrap();
        let soon = Instant::now() + Duration::from_secs(10);
        assert_eq!(qemu.next_line(soon), Next::Line("one".into()));
        assert_eq!(qemu.next_line(soon), Next::Line("two".into()));
        let start = Instant::now();
        assert_eq!(qemu.next_line(Instant::now() + Duration::from_millis(200)), Next::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(dir.join("fake-qemu.pid")).unwrap().trim().to_string();
        drop(qemu);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the child outlived its Qemu");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
