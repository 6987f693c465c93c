//! Child processes: PDs and QEMU. Every child gets its own process group
//! (so a terminal's Ctrl-C reaches only sim, which then cleans up) and
//! dies with sim (`PR_SET_PDEATHSIG`), also if sim is killed outright.

use crate::run::Input;
use sevio_runtime::hosted::link::Link;
use sevio_runtime::hosted::wire::{self, PdMsg, SimMsg};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Sender;

/// Runs in the child between fork and exec: own process group, killed
/// when sim exits. Only async-signal-safe calls.
pub fn child_setup() -> std::io::Result<()> {
    // SAFETY: setpgid, prctl and getppid are async-signal-safe syscalls
    // with no memory arguments.
    unsafe {
        libc::setpgid(0, 0);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // sim died before the prctl took effect: do not outlive it.
        if libc::getppid() == 1 {
            libc::_exit(1);
        }
    }
    Ok(())
}

fn inherit(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: F_SETFD with 0 only clears FD_CLOEXEC on a descriptor sim
    // opened; no memory is passed.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A running PD process and sim's end of its socket.
pub struct PdProc {
    /// The process.
    pub child: Child,
    /// sim's end of the PD's socket.
    pub link: Link,
    /// The threads echoing its stdout and stderr (they end when it dies).
    pub echoes: Vec<std::thread::JoinHandle<()>>,
}

/// Start PD `index` from `exe`: give it its socket and the guest-RAM
/// descriptor, send its setup, and forward what it sends (and its
/// stdout/stderr lines) to `inputs`.
pub fn spawn_pd(
    index: usize,
    exe: &Path,
    ram_fd: RawFd,
    setup: &wire::Setup,
    inputs: &Sender<Input>,
) -> Result<PdProc, String> {
    let name = setup.name.clone();
    let (ours, theirs) = Link::pair().map_err(|e| format!("socketpair: {e}"))?;
    let child_fd = theirs.raw_fd();
    let mut cmd = Command::new(exe);
    cmd.env(wire::ENV_SOCKET_FD, child_fd.to_string())
        .env(wire::ENV_RAM_FD, ram_fd.to_string())
        .env(wire::ENV_PD_NAME, &name)
        .env(wire::ENV_SIM_PID, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the hook only makes async-signal-safe syscalls (fcntl,
    // setpgid, prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            inherit(child_fd)?;
            inherit(ram_fd)?;
            child_setup()
        })
    };
    let mut child = cmd.spawn().map_err(|e| format!("PD '{name}': cannot start {}: {e}", exe.display()))?;
    drop(theirs);
    let mut echoes = Vec::new();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as _),
    ]
    .into_iter()
    .flatten()
    {
        let name = name.clone();
        let echo = std::thread::Builder::new().name(format!("{name}-out")).spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                crate::console::line(&name, &line);
            }
        });
        echoes.extend(echo.ok());
    }
    let _ = ours.send(&SimMsg::Setup(setup.clone()).encode());
    let reader = ours.try_clone().map_err(|e| format!("socket: {e}"))?;
    let inputs = inputs.clone();
    std::thread::Builder::new()
        .name(format!("{name}-link"))
        .spawn(move || {
            let mut buf = Vec::new();
            while let Ok(true) = reader.recv(&mut buf) {
                let input = match PdMsg::decode(&buf) {
                    Ok(m) => Input::Pd(index, m),
                    Err(e) => Input::PdBad(index, e.to_string()),
                };
                if inputs.send(input).is_err() {
                    return;
                }
            }
            let _ = inputs.send(Input::PdClosed(index));
        })
        .map_err(|e| e.to_string())?;
    Ok(PdProc { child, link: ours, echoes })
}
