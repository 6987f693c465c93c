//! The file client protocol: one request at a time on a control page,
//! paths and file data in the client's data region, a notification each
//! way on one channel. sevio's own (sDDF has no file-system class); the
//! operations follow LionsOS's file-system interface (open, close, read,
//! write, stat, readdir, mkdir, remove, fsync), the layout is a mailbox
//! like [`rng`](crate::rng)'s. `docs/FS.md` is the specification.
//!
//! Control page layout (little-endian words, accessed atomically):
//!
//! | offset | field | written by |
//! |---|---|---|
//! | 0 | `req_seq` u32: bumped to post a request | client (release, last) |
//! | 4 | `op` u32: [`FsOp`] | client |
//! | 8 | `fd` u32 | client |
//! | 12 | `flags` u32 | client |
//! | 16 | `offset` u64: file position, or readdir cookie | client |
//! | 24 | `data_offset` u32: where in the data region | client |
//! | 28 | `len` u32: bytes there | client |
//! | 32 | `path_offset` u32 | client |
//! | 36 | `path_len` u32 | client |
//! | 64 | `resp_seq` u32: `req_seq` answered | driver (release, last) |
//! | 68 | `status` u32: [`FsStatus`] | driver |
//! | 72 | `value` u64: fd, size, cookie or errno | driver |
//! | 80 | `len` u32: bytes moved, or mode | driver |
//!
//! The driver reads the request fields once, after `req_seq` (acquire),
//! and checks every range against its own idea of the data region's
//! size. Panic contract: nothing here panics on any page contents.

use core::sync::atomic::Ordering::{self, Acquire, Relaxed, Release};
use sevio_sharedmem::SharedMemory;

/// Bytes of the page in use.
pub const CONTROL_SIZE: usize = 88;
const REQ_SEQ: usize = 0;
const REQ_OP: usize = 4;
const REQ_FD: usize = 8;
const REQ_FLAGS: usize = 12;
const REQ_OFFSET: usize = 16;
const REQ_DATA: usize = 24;
const REQ_LEN: usize = 28;
const REQ_PATH: usize = 32;
const REQ_PATH_LEN: usize = 36;
const RESP_SEQ: usize = 64;
const RESP_STATUS: usize = 68;
const RESP_VALUE: usize = 72;
const RESP_LEN: usize = 80;

/// Longest path the driver accepts.
pub const PATH_MAX: usize = 255;
/// `flags` of [`FsOp::Open`]: open for writing too (else read-only).
pub const OPEN_WRITE: u32 = 1;
/// `flags` of [`FsOp::Remove`]: the path is a directory.
pub const REMOVE_DIR: u32 = 1;
/// Bytes of a directory record's fixed part: `cookie u64, kind u8,
/// name_len u8`, then the name.
pub const DIRENT_HEADER: usize = 10;

/// The operations. Paths are `/`-separated names below the export's
/// root (no `.` or `..`, no empty names, at most 16 of them; `""` is the
/// root itself).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FsOp {
    /// Open `path` (read-only, or read-write with [`OPEN_WRITE`]);
    /// `value` = the fd. A directory opened read-only can be listed.
    Open = 1,
    /// Create `path` (an existing file is an errno) and open it
    /// read-write; `value` = the fd.
    Create = 2,
    /// Read up to `len` bytes at `offset` of `fd` into the data region at
    /// `data_offset`; response `len` = bytes read (fewer at end of file).
    Read = 3,
    /// Write `len` bytes from the data region at `data_offset` to `fd` at
    /// `offset`; response `len` = bytes written.
    Write = 4,
    /// `path`'s size (`value`) and mode (response `len`).
    Stat = 5,
    /// List the directory `fd` from cookie `offset` (0: the start) into
    /// the data region at `data_offset`, at most `len` bytes of records
    /// (`cookie u64, kind u8, name_len u8, name`); response `len` = bytes
    /// of records (0: the end), `value` = the cookie to continue from.
    Readdir = 6,
    /// Make the directory `path`.
    Mkdir = 7,
    /// Remove `path` (a directory with [`REMOVE_DIR`]).
    Remove = 8,
    /// Flush `fd` to stable storage.
    Fsync = 9,
    /// Close `fd`.
    Close = 10,
}

impl FsOp {
    /// The operation a word stands for, if any.
    pub fn from_word(w: u32) -> Option<FsOp> {
        use FsOp::*;
        [Open, Create, Read, Write, Stat, Readdir, Mkdir, Remove, Fsync, Close].into_iter().find(|o| *o as u32 == w)
    }
}

/// How a request ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FsStatus {
    /// Done.
    Ok = 0,
    /// The request itself is wrong (unknown op or fd, a range outside the
    /// data region, a bad path, no fd left): nothing was done.
    Invalid = 1,
    /// The device failed or broke the protocol.
    Io = 2,
    /// The file server refused: `value` is its errno (Linux numbering).
    Errno = 3,
}

impl FsStatus {
    /// The status a word stands for, if any.
    pub fn from_word(w: u32) -> Option<FsStatus> {
        use FsStatus::*;
        [Ok, Invalid, Io, Errno].into_iter().find(|s| *s as u32 == w)
    }
}

/// A request as posted (the driver validates every field).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FsRequest {
    /// Its `req_seq` (set by [`ClientPort::post`] / [`DriverPort::take`]).
    pub seq: u32,
    /// The op word ([`FsOp::from_word`]).
    pub op: u32,
    /// File descriptor.
    pub fd: u32,
    /// Op flags.
    pub flags: u32,
    /// File position or cookie.
    pub offset: u64,
    /// Data range start in the data region.
    pub data_offset: u32,
    /// Data range length.
    pub len: u32,
    /// Path start in the data region.
    pub path_offset: u32,
    /// Path length.
    pub path_len: u32,
}

/// A response.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FsResponse {
    /// The `req_seq` answered.
    pub seq: u32,
    /// The status word ([`FsStatus::from_word`]).
    pub status: u32,
    /// fd, size, cookie or errno.
    pub value: u64,
    /// Bytes moved, or mode.
    pub len: u32,
}

/// The page is smaller than [`CONTROL_SIZE`] or not 8-byte aligned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BadControlPage;

struct Page(SharedMemory);

impl Page {
    fn new(mem: SharedMemory) -> Result<Self, BadControlPage> {
        if mem.len() < CONTROL_SIZE || !mem.addr().is_multiple_of(8) {
            return Err(BadControlPage);
        }
        Ok(Page(mem))
    }
    // In bounds: checked at construction.
    fn load(&self, at: usize, order: Ordering) -> u32 {
        self.0.load_u32(at, order).unwrap_or(0)
    }
    fn store(&self, at: usize, v: u32, order: Ordering) {
        let _ = self.0.store_u32(at, v, order);
    }
    fn load64(&self, at: usize) -> u64 {
        u64::from(self.load(at, Relaxed)) | u64::from(self.load(at + 4, Relaxed)) << 32
    }
    fn store64(&self, at: usize, v: u64) {
        self.store(at, v as u32, Relaxed);
        self.store(at + 4, (v >> 32) as u32, Relaxed);
    }
}

/// The client's end.
pub struct ClientPort {
    page: Page,
    seq: u32,
}

impl ClientPort {
    /// Open the page; sequence numbers continue from the last answered.
    pub fn new(mem: SharedMemory) -> Result<Self, BadControlPage> {
        let page = Page::new(mem)?;
        Ok(ClientPort { seq: page.load(RESP_SEQ, Acquire), page })
    }

    /// Post `req` (its `seq` is ignored); returns its sequence number.
    /// Caller: the client, then it notifies the driver.
    pub fn post(&mut self, req: FsRequest) -> u32 {
        let p = &self.page;
        self.seq = self.seq.wrapping_add(1);
        p.store(REQ_OP, req.op, Relaxed);
        p.store(REQ_FD, req.fd, Relaxed);
        p.store(REQ_FLAGS, req.flags, Relaxed);
        p.store64(REQ_OFFSET, req.offset);
        p.store(REQ_DATA, req.data_offset, Relaxed);
        p.store(REQ_LEN, req.len, Relaxed);
        p.store(REQ_PATH, req.path_offset, Relaxed);
        p.store(REQ_PATH_LEN, req.path_len, Relaxed);
        p.store(REQ_SEQ, self.seq, Release);
        self.seq
    }

    /// The answer to the last request posted, once it is there.
    pub fn poll(&self) -> Option<FsResponse> {
        let p = &self.page;
        if p.load(RESP_SEQ, Acquire) != self.seq {
            return None;
        }
        Some(FsResponse {
            seq: self.seq,
            status: p.load(RESP_STATUS, Relaxed),
            value: p.load64(RESP_VALUE),
            len: p.load(RESP_LEN, Relaxed),
        })
    }
}

/// The driver's end.
pub struct DriverPort {
    page: Page,
    seen: u32,
}

impl DriverPort {
    /// Open the page; a request posted before is taken by the first
    /// [`take`](Self::take).
    pub fn new(mem: SharedMemory) -> Result<Self, BadControlPage> {
        let page = Page::new(mem)?;
        Ok(DriverPort { seen: page.load(RESP_SEQ, Acquire), page })
    }

    /// The next request, if one was posted since the last taken. Caller:
    /// the driver, when it serves none.
    pub fn take(&mut self) -> Option<FsRequest> {
        let p = &self.page;
        let seq = p.load(REQ_SEQ, Acquire);
        if seq == self.seen {
            return None;
        }
        self.seen = seq;
        Some(FsRequest {
            seq,
            op: p.load(REQ_OP, Relaxed),
            fd: p.load(REQ_FD, Relaxed),
            flags: p.load(REQ_FLAGS, Relaxed),
            offset: p.load64(REQ_OFFSET),
            data_offset: p.load(REQ_DATA, Relaxed),
            len: p.load(REQ_LEN, Relaxed),
            path_offset: p.load(REQ_PATH, Relaxed),
            path_len: p.load(REQ_PATH_LEN, Relaxed),
        })
    }

    /// Answer request `seq`. Caller: the driver, then it notifies.
    pub fn respond(&self, seq: u32, status: FsStatus, value: u64, len: u32) {
        let p = &self.page;
        p.store(RESP_STATUS, status as u32, Relaxed);
        p.store64(RESP_VALUE, value);
        p.store(RESP_LEN, len, Relaxed);
        p.store(RESP_SEQ, seq, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn a_request_and_its_answer_cross_the_page_at_their_offsets() {
        let page = HeapRegion::new(4096);
        let mut client = ClientPort::new(page.memory()).unwrap();
        let mut driver = DriverPort::new(page.memory()).unwrap();
        assert_eq!(driver.take(), None);
        let req = FsRequest {
            op: FsOp::Write as u32,
            fd: 3,
            flags: 0,
            offset: 0x1_0000_0002,
            data_offset: 0x100,
            len: 77,
            path_offset: 5,
            path_len: 6,
            seq: 0,
        };
        let seq = client.post(req);
        assert_eq!(page.memory().read::<u32>(20), Some(1), "offset's high word");
        assert_eq!(driver.take(), Some(FsRequest { seq, ..req }));
        assert_eq!(driver.take(), None, "taken once");
        assert_eq!(client.poll(), None);
        driver.respond(seq, FsStatus::Errno, 17, 0);
        assert_eq!(client.poll(), Some(FsResponse { seq, status: 3, value: 17, len: 0 }));
        assert_eq!(FsOp::from_word(10), Some(FsOp::Close));
        assert_eq!(FsOp::from_word(11), None);
        assert_eq!(FsStatus::from_word(4), None);
        assert_eq!(ClientPort::new(page.memory().slice(0, 80).unwrap()).err(), Some(BadControlPage));
    }
}
