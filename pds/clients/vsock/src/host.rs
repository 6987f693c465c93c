//! The host's side of the vsock checks (feature `host`, std), written
//! once for the simulator's end-to-end test, `make bench` and `make
//! qemu-test`:
//!
//! - [`Backend`]: rust-vmm's `vhost-device-vsock`, the device side of
//!   QEMU's `vhost-user-vsock-*` (QEMU connects to its vhost-user socket);
//!   it bridges the guest's vsock ports to Unix sockets: a host program
//!   connects to `<uds>` and writes `CONNECT <port>\n` (answered `OK
//!   <port>\n` once the guest accepted) to reach a guest listener; a
//!   guest connection to host port P reaches a listener on `<uds>_P`.
//! - [`echo_listener`]: the host listener the guest's connector talks to.
//! - [`echo_through_guest`]: a host program talking to the guest's echo
//!   server.

extern crate std;

use crate::{ECHO_PORT, HOST_PORT, pattern};
use std::format;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::string::{String, ToString};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use std::vec::Vec;

/// The guest's context id in every sevio vsock system.
pub const GUEST_CID: u64 = 3;
/// The backend's program (installed by scripts/install-deps.sh).
pub const BACKEND: &str = "vhost-device-vsock";

/// A running `vhost-device-vsock`, killed on drop.
pub struct Backend {
    child: Child,
    /// The vhost-user socket QEMU's chardev connects to.
    pub vhost_socket: PathBuf,
    /// The host side's Unix socket (`CONNECT <port>` here; `_<port>`
    /// suffixed listeners for the guest's connections).
    pub uds: PathBuf,
}

/// Where the backend's program is: on `PATH`, or where `cargo install`
/// puts it.
pub fn backend_program() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.iter()
        .map(|d| d.join(BACKEND))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{BACKEND} is not installed (scripts/install-deps.sh installs it with cargo install)"))
}

impl Backend {
    /// Start the backend with its sockets in `dir`, and wait until its
    /// vhost-user socket exists.
    pub fn start(dir: &Path) -> Result<Backend, String> {
        let program = backend_program()?;
        let vhost_socket = dir.join("vhost.sock");
        let uds = dir.join("vm.vsock");
        let child = Command::new(&program)
            .arg("--guest-cid")
            .arg(GUEST_CID.to_string())
            .arg("--socket")
            .arg(&vhost_socket)
            .arg("--uds-path")
            .arg(&uds)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut backend = Backend { child, vhost_socket, uds };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !backend.vhost_socket.exists() {
            if let Ok(Some(status)) = backend.child.try_wait() {
                return Err(format!("{BACKEND} exited at start: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!("{BACKEND} made no socket at {} within 10 s", backend.vhost_socket.display()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(backend)
    }

    /// Where a guest connection to host `port` arrives.
    pub fn listener_path(&self, port: u32) -> PathBuf {
        let mut p = self.uds.clone().into_os_string();
        p.push(format!("_{port}"));
        PathBuf::from(p)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listen for the guest's connection to [`HOST_PORT`] and echo everything
/// it sends until it closes; the thread answers the bytes echoed.
pub fn echo_listener(backend: &Backend, timeout: Duration) -> Result<JoinHandle<Result<u64, String>>, String> {
    let path = backend.listener_path(HOST_PORT);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(std::thread::spawn(move || {
        // A guest that never connects ends the wait, not the test.
        let deadline = Instant::now() + timeout;
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("no connection from the guest: {e}")),
            }
        };
        stream.set_nonblocking(false).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 65536];
        let mut echoed = 0u64;
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) => return Ok(echoed),
                Ok(n) => n,
                Err(e) => return Err(format!("reading the guest's connection after {echoed} bytes: {e}")),
            };
            stream.write_all(&buf[..n]).map_err(|e| format!("echoing to the guest: {e}"))?;
            echoed += n as u64;
        }
    }))
}

/// Connect to the guest's echo server through the backend, send `len`
/// bytes of the pattern in pieces, read every byte back and compare, then
/// close. Answers the bytes checked.
pub fn echo_through_guest(backend: &Backend, len: u32, timeout: Duration) -> Result<u64, String> {
    echo_through_uds(&backend.uds, len, timeout)
}

/// [`echo_through_guest`] through the backend's host socket `uds`.
pub fn echo_through_uds(uds: &Path, len: u32, timeout: Duration) -> Result<u64, String> {
    let mut stream = UnixStream::connect(uds).map_err(|e| format!("cannot connect to {}: {e}", uds.display()))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.write_all(format!("CONNECT {ECHO_PORT}\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| format!("no answer to CONNECT {ECHO_PORT}: {e}"))?;
    if !line.starts_with("OK ") {
        return Err(format!("CONNECT {ECHO_PORT} answered {line:?}, not OK"));
    }
    let bytes: Vec<u8> = (0..len).map(pattern).collect();
    // Write on a thread: the echo comes back while we write, and neither
    // side's buffers hold all of it.
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sender = std::thread::spawn(move || {
        for piece in bytes.chunks(3000) {
            writer.write_all(piece).map_err(|e| format!("sending to the guest: {e}"))?;
        }
        Ok::<(), String>(())
    });
    let mut back = 0u32;
    let mut buf = [0u8; 65536];
    while back < len {
        let n = reader.read(&mut buf).map_err(|e| format!("reading the echo after {back} bytes: {e}"))?;
        if n == 0 {
            return Err(format!("the guest closed after echoing {back} of {len} bytes"));
        }
        for (k, b) in buf[..n].iter().enumerate() {
            let at = back + k as u32;
            if *b != pattern(at) {
                return Err(format!("echo byte {at} is {b}, not {}", pattern(at)));
            }
        }
        back += n as u32;
    }
    sender.join().map_err(|_| "the sender panicked".to_string())??;
    // Done: stop sending; the guest closes, and we see the end.
    stream.shutdown(std::net::Shutdown::Write).map_err(|e| e.to_string())?;
    match reader.read(&mut buf) {
        Ok(0) => Ok(u64::from(back)),
        Ok(n) => Err(format!("{n} bytes after the echo")),
        Err(e) => Err(format!("waiting for the guest to close: {e}")),
    }
}
