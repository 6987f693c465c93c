//! The 9p test client: a plain `no_std` type ([`P9Client`]) the PD shell
//! ([`pd`]) and host tests drive alike.
//!
//! Through the 9p driver (`sevio_queue::fs`) it runs [`PLAN`] against the
//! host directory QEMU exports, one request at a time, and checks every
//! answer:
//! - writes a tree: `out/`, `out/sub/`, `out/a.txt` ([`A_TEXT`]),
//!   `out/sub/big.bin` ([`BIG_LEN`] bytes of [`big_byte`], one write the
//!   driver splits into 9P pieces, fsynced) and `out/tmp.txt`;
//! - reads `big.bin` back exactly (and nothing past its end), stats it;
//! - lists `out/` and finds exactly `a.txt`, `sub`, `tmp.txt`;
//! - removes `out/tmp.txt` and sees it gone (ENOENT);
//! - reads `host.txt`, which the host prepared, and logs its length and
//!   FNV-1a for the host to compare;
//! - is refused a path that climbs out (`..`) and an fd it never opened.
//!
//! The host ([`host`], feature `host`) then finds exactly `out/a.txt` and `out/sub/big.bin` with
//! those bytes. Panic contract: nothing the driver writes makes this
//! crate panic.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
pub mod pd;

#[cfg(feature = "host")]
pub mod host;

use core::fmt::Write;
use sevio_queue::fs::{ClientPort, DIRENT_HEADER, FsOp, FsRequest, FsResponse, FsStatus, OPEN_WRITE};
use sevio_sharedmem::SharedMemory;

pub use sevio_runtime::verdict::Progress;

/// Text of `out/a.txt`.
pub const A_TEXT: &[u8] = b"hello from a sevio 9p client\n";
/// Bytes of `out/sub/big.bin`.
pub const BIG_LEN: u32 = 20_000;
/// Bytes of `out/tmp.txt`.
const TMP_LEN: u32 = 100;
/// The data region must be at least this large.
pub const DATA_NEEDED: usize = 0x10000;
const PATH_AT: u32 = 0;
const WRITE_AT: u32 = 0x1000;
const READ_AT: u32 = 0x8000;
const DIR_AT: u32 = 0xe000;
const DIR_LEN: u32 = 0x1000;
/// Linux ENOENT.
const ENOENT: u64 = 2;

/// Byte `i` of `out/sub/big.bin`.
pub fn big_byte(i: u32) -> u8 {
    (i.wrapping_mul(7).wrapping_add(i >> 8).wrapping_add(3) % 251) as u8
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// What a step does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Make a directory.
    Mkdir(&'static str),
    /// Create a file (its fd kept), then write `len` bytes of the given
    /// content.
    Create(&'static str),
    /// Write the content of the file being made.
    Write(Content),
    /// fsync the kept fd.
    Fsync,
    /// Close the kept fd.
    Close,
    /// Open (read-only) and keep the fd.
    Open(&'static str),
    /// Read from the kept fd; expect bytes of `out/sub/big.bin`.
    ReadBig {
        /// File position.
        offset: u32,
        /// Bytes asked for.
        len: u32,
        /// Bytes the file holds from `offset` (at most `len`).
        expect: u32,
    },
    /// Read all of the kept fd (the host's file) and log it.
    ReadHost,
    /// Stat; expect this size.
    Stat(&'static str, u64),
    /// Stat; expect ENOENT.
    Gone(&'static str),
    /// List the kept fd; expect exactly these names (`.`/`..` aside).
    List(&'static [&'static str]),
    /// Remove a file.
    Remove(&'static str),
    /// A path the driver must refuse.
    BadPath(&'static str),
    /// An fd the driver must refuse.
    BadFd(u32),
}

/// File contents the client writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// [`A_TEXT`].
    A,
    /// [`BIG_LEN`] bytes of [`big_byte`].
    Big,
    /// 100 bytes of `t`.
    Tmp,
}

impl Content {
    fn len(self) -> u32 {
        match self {
            Content::A => A_TEXT.len() as u32,
            Content::Big => BIG_LEN,
            Content::Tmp => TMP_LEN,
        }
    }
    fn byte(self, i: u32) -> u8 {
        match self {
            Content::A => A_TEXT[i as usize],
            Content::Big => big_byte(i),
            Content::Tmp => b't',
        }
    }
}

/// The requests, in order.
pub const PLAN: &[Step] = &[
    Step::Mkdir("out"),
    Step::Mkdir("out/sub"),
    Step::Create("out/a.txt"),
    Step::Write(Content::A),
    Step::Close,
    Step::Create("out/sub/big.bin"),
    Step::Write(Content::Big),
    Step::Fsync,
    Step::Close,
    Step::Create("out/tmp.txt"),
    Step::Write(Content::Tmp),
    Step::Close,
    Step::Open("out/sub/big.bin"),
    Step::ReadBig { offset: 0, len: BIG_LEN, expect: BIG_LEN },
    Step::ReadBig { offset: 19_000, len: 4096, expect: 1000 },
    Step::ReadBig { offset: BIG_LEN, len: 64, expect: 0 },
    Step::Close,
    Step::Stat("out/sub/big.bin", BIG_LEN as u64),
    Step::Open("out"),
    Step::List(&["a.txt", "sub", "tmp.txt"]),
    Step::Close,
    Step::Remove("out/tmp.txt"),
    Step::Gone("out/tmp.txt"),
    Step::Open("host.txt"),
    Step::ReadHost,
    Step::Close,
    Step::BadPath("out/../../etc"),
    Step::BadFd(99),
];

/// The 9p test client.
pub struct P9Client {
    port: ClientPort,
    data: SharedMemory,
    step: usize,
    fd: u32,
    notify: bool,
    finished: bool,
    /// Bytes written and read.
    moved: u64,
}

impl P9Client {
    /// A client on the control page `port` and the data region `data`.
    pub fn new(port: ClientPort, data: SharedMemory) -> Self {
        P9Client { port, data, step: 0, fd: 0, notify: false, finished: false, moved: 0 }
    }

    /// Whether the driver should be notified (clears the flag).
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    /// Post the first request.
    pub fn start(&mut self) -> Progress {
        if self.data.len() < DATA_NEEDED {
            return self.fail("the data region is smaller than the plan needs");
        }
        self.post();
        Progress::Waiting
    }

    fn fail(&mut self, why: &'static str) -> Progress {
        self.finished = true;
        Progress::Failed(why)
    }

    fn path(&self, path: &str) -> (u32, u32) {
        let _ = self.data.copy_in(PATH_AT as usize, path.as_bytes());
        (PATH_AT, path.len() as u32)
    }

    fn request(&mut self, step: Step) -> FsRequest {
        let base = FsRequest { fd: self.fd, ..FsRequest::default() };
        let with_path = |c: &Self, op: FsOp, p: &str, flags: u32| {
            let (path_offset, path_len) = c.path(p);
            FsRequest { op: op as u32, path_offset, path_len, flags, ..base }
        };
        match step {
            Step::Mkdir(p) => with_path(self, FsOp::Mkdir, p, 0),
            Step::Create(p) => with_path(self, FsOp::Create, p, 0),
            Step::Open(p) => with_path(self, FsOp::Open, p, 0),
            Step::Stat(p, _) | Step::Gone(p) => with_path(self, FsOp::Stat, p, 0),
            Step::Remove(p) => with_path(self, FsOp::Remove, p, 0),
            Step::BadPath(p) => with_path(self, FsOp::Open, p, OPEN_WRITE),
            Step::Write(c) => {
                for i in 0..c.len() {
                    let _ = self.data.write::<u8>((WRITE_AT + i) as usize, c.byte(i));
                }
                FsRequest { op: FsOp::Write as u32, data_offset: WRITE_AT, len: c.len(), ..base }
            }
            Step::Fsync => FsRequest { op: FsOp::Fsync as u32, ..base },
            Step::Close => FsRequest { op: FsOp::Close as u32, ..base },
            Step::ReadBig { offset, len, .. } => {
                let _ = self.data.fill(READ_AT as usize, len as usize, 0xee);
                FsRequest { op: FsOp::Read as u32, offset: offset.into(), data_offset: READ_AT, len, ..base }
            }
            Step::ReadHost => FsRequest { op: FsOp::Read as u32, data_offset: READ_AT, len: 0x4000, ..base },
            Step::List(_) => FsRequest { op: FsOp::Readdir as u32, data_offset: DIR_AT, len: DIR_LEN, ..base },
            Step::BadFd(fd) => FsRequest { op: FsOp::Read as u32, fd, data_offset: READ_AT, len: 16, ..base },
        }
    }

    fn post(&mut self) {
        let req = self.request(PLAN[self.step]);
        self.port.post(req);
        self.notify = true;
    }

    /// The driver notified: check the answer if it is there.
    pub fn notified(&mut self, log: &mut dyn Write) -> Progress {
        if self.finished {
            return Progress::Waiting;
        }
        let Some(resp) = self.port.poll() else { return Progress::Waiting };
        let step = PLAN[self.step];
        if let Err(why) = self.check(step, resp, log) {
            let _ = writeln!(log, "p9-client: step {} {step:?}: {why} (answer {resp:?})", self.step + 1);
            return self.fail(why);
        }
        self.step += 1;
        if self.step == PLAN.len() {
            self.finished = true;
            let _ = writeln!(log, "p9-client: {} steps, {} bytes moved", PLAN.len(), self.moved);
            return Progress::Passed;
        }
        self.post();
        Progress::Waiting
    }

    fn byte(&self, at: u32) -> u8 {
        self.data.read::<u8>(at as usize).unwrap_or(0)
    }

    fn check(&mut self, step: Step, r: FsResponse, log: &mut dyn Write) -> Result<(), &'static str> {
        let status = FsStatus::from_word(r.status);
        let ok = || if status == Some(FsStatus::Ok) { Ok(()) } else { Err("the driver did not answer OK") };
        match step {
            Step::Create(_) | Step::Open(_) => {
                ok()?;
                self.fd = u32::try_from(r.value).map_err(|_| "an fd past 32 bits")?;
            }
            Step::Write(c) => {
                ok()?;
                if r.len != c.len() {
                    return Err("a short write");
                }
                self.moved += u64::from(r.len);
            }
            Step::ReadBig { offset, expect, .. } => {
                ok()?;
                if r.len != expect {
                    return Err("not the bytes the file holds from there");
                }
                if (0..expect).any(|i| self.byte(READ_AT + i) != big_byte(offset + i)) {
                    return Err("the bytes read back differ from those written");
                }
                if self.byte(READ_AT + expect) != 0xee && expect < BIG_LEN {
                    return Err("bytes written past the count answered");
                }
                self.moved += u64::from(r.len);
            }
            Step::ReadHost => {
                ok()?;
                let hash = fnv1a((0..r.len).map(|i| self.byte(READ_AT + i)));
                let _ = writeln!(log, "p9-client: host.txt: {} bytes, fnv1a {hash:016x}", r.len);
                self.moved += u64::from(r.len);
            }
            Step::Stat(_, size) => {
                ok()?;
                if r.value != size {
                    return Err("stat: not the size written");
                }
            }
            Step::Gone(_) => {
                if status != Some(FsStatus::Errno) || r.value != ENOENT {
                    return Err("a removed file is still there");
                }
            }
            Step::List(want) => {
                ok()?;
                self.check_listing(r.len, want, log)?;
            }
            Step::BadPath(_) | Step::BadFd(_) => {
                if status != Some(FsStatus::Invalid) {
                    return Err("an invalid request was not refused");
                }
            }
            Step::Mkdir(_) | Step::Fsync | Step::Close | Step::Remove(_) => ok()?,
        }
        Ok(())
    }

    /// The records of a readdir answer: exactly `want`, any order.
    fn check_listing(&self, len: u32, want: &[&str], log: &mut dyn Write) -> Result<(), &'static str> {
        let mut found = [false; 8];
        let mut at = 0u32;
        let mut others = 0;
        while at < len {
            let name_len = u32::from(self.byte(DIR_AT + at + 9));
            let start = DIR_AT + at + DIRENT_HEADER as u32;
            if at + DIRENT_HEADER as u32 + name_len > len {
                return Err("a directory record past the bytes answered");
            }
            let mut name = [0u8; 255];
            let name = &mut name[..name_len as usize];
            let _ = self.data.copy_out(start as usize, name);
            match want.iter().position(|w| w.as_bytes() == name) {
                Some(i) if !found[i] => found[i] = true,
                Some(_) => return Err("a name listed twice"),
                None if name == b"." || name == b".." => {}
                None => others += 1,
            }
            at += DIRENT_HEADER as u32 + name_len;
        }
        if others > 0 || found[..want.len()].iter().any(|f| !f) {
            return Err("the listing is not exactly the files made");
        }
        let _ = writeln!(log, "p9-client: listed {} names, as made", want.len());
        Ok(())
    }
}
