//! A `SOCK_SEQPACKET` socket carrying one wire record per packet; used
//! by both ends (the PD here, sim in `tools/sim`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::vec::Vec;

use super::wire::MAX_RECORD;

/// One end of a PD ↔ sim connection.
#[derive(Debug)]
pub struct Link(OwnedFd);

impl Link {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> io::Result<(Link, Link)> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
        let r =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socketpair succeeded, so both descriptors are open and
        // owned by nobody else.
        Ok(unsafe { (Link(OwnedFd::from_raw_fd(fds[0])), Link(OwnedFd::from_raw_fd(fds[1]))) })
    }

    /// Take ownership of an inherited descriptor.
    ///
    /// # Safety
    /// `fd` must be an open `SOCK_SEQPACKET` socket that nothing else in
    /// this process owns or will close.
    pub unsafe fn from_raw(fd: RawFd) -> Link {
        // SAFETY: the caller's contract.
        Link(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Another handle on the same socket (for a reader thread).
    pub fn try_clone(&self) -> io::Result<Link> {
        Ok(Link(self.0.try_clone()?))
    }

    /// The descriptor (to pass to a child).
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Send one record. Never raises SIGPIPE: a closed peer is an error.
    pub fn send(&self, record: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `record` is a valid buffer of `record.len()` bytes.
            let n = unsafe { libc::send(self.0.as_raw_fd(), record.as_ptr().cast(), record.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Receive one record into `buf` (resized to fit it); `Ok(false)`
    /// when the peer has closed its end.
    pub fn recv(&self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.resize(MAX_RECORD, 0);
        loop {
            // SAFETY: `buf` is a valid writable buffer of `buf.len()` bytes.
            let n = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                buf.truncate(n as usize);
                return Ok(true);
            }
            if n == 0 {
                buf.clear();
                return Ok(false);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}
