//! 9P2000.L messages: the requests the driver builds ([`Request`]) and a
//! checked view of the replies the device returns ([`Reply`]).
//!
//! Every message is `size[4] type[1] tag[2]` then its fields, little
//! endian; a string is `len[2]` and that many bytes; a qid is
//! `type[1] version[4] path[8]`.
//!
//! Every rule a reply must obey is checked here, once, and every reader
//! of a reply goes through it: [`Reply::parse`] checks the size field
//! against the bytes the device said it wrote, the tag against the one
//! sent and the type against the one expected (an `Rlerror` becomes
//! [`WireError::Lerror`]); the field readers of [`Reply`] then refuse
//! anything past the message's end ([`WireError::Truncated`]), so a
//! string or a count that points past it is an error, never a panic.
//! Counts larger than what was asked are refused by [`Reply::rread`] and
//! [`Reply::rwrite`].
//!
//! Panic contract: nothing here panics on any reply bytes.

/// The tag of Tversion (9P: "the tag should be NOTAG").
pub const NOTAG: u16 = 0xffff;
/// "No fid" (Tattach's afid: no authentication).
pub const NOFID: u32 = 0xffff_ffff;
/// Bytes of `size[4] type[1] tag[2]`.
pub const HEADER: usize = 7;
/// Bytes of a qid.
pub const QID: usize = 13;
/// Bytes of Tread/Rread/Twrite overhead the driver allows for: a data
/// count plus the largest header (Twrite: header, fid, offset, count).
pub const IO_OVERHEAD: usize = HEADER + 4 + 8 + 4;
/// The protocol version asked for.
pub const VERSION: &[u8] = b"9P2000.L";
/// Names a Twalk may carry (9P's MAXWELEM).
pub const MAX_WALK: usize = 16;

/// Message types (9P2000.L and 9P2000).
#[allow(missing_docs)]
pub mod op {
    pub const RLERROR: u8 = 7;
    pub const TLOPEN: u8 = 12;
    pub const TLCREATE: u8 = 14;
    pub const TGETATTR: u8 = 24;
    pub const TREADDIR: u8 = 40;
    pub const TFSYNC: u8 = 50;
    pub const TMKDIR: u8 = 72;
    pub const TUNLINKAT: u8 = 76;
    pub const TVERSION: u8 = 100;
    pub const TATTACH: u8 = 104;
    pub const TWALK: u8 = 110;
    pub const TREAD: u8 = 116;
    pub const TWRITE: u8 = 118;
    pub const TCLUNK: u8 = 120;
}

/// Why a reply was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The server answered `Rlerror` with this errno: not a fault.
    Lerror(u32),
    /// The size field is below the header, or above the bytes the device
    /// wrote.
    BadSize {
        /// The size field.
        size: u32,
        /// Bytes the device wrote.
        written: usize,
    },
    /// Not the tag of the request in flight.
    WrongTag {
        /// The tag sent.
        sent: u16,
        /// The tag answered.
        got: u16,
    },
    /// Not the reply type of the request (nor Rlerror).
    WrongType {
        /// The type expected.
        expected: u8,
        /// The type answered.
        got: u8,
    },
    /// A field (a string, a count, a qid) goes past the message's end.
    Truncated,
    /// A count larger than what was asked for.
    CountTooLarge {
        /// The most allowed.
        asked: u32,
        /// The count answered.
        got: u32,
    },
    /// A directory entry name that is empty, contains `/` or NUL.
    BadName,
    /// Rversion with another version or a larger msize than offered.
    BadVersion,
    /// Rwalk with more qids than names walked.
    BadWalk,
}

impl WireError {
    /// Whether the server merely refused (an errno), as opposed to
    /// breaking the protocol.
    pub fn is_errno(self) -> bool {
        matches!(self, WireError::Lerror(_))
    }
}

/// A qid: the server's identity of a file.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Qid {
    /// QTDIR (0x80), QTFILE (0), ...
    pub kind: u8,
    /// Version.
    pub version: u32,
    /// Unique path.
    pub path: u64,
}

/// The qid type bit of a directory.
pub const QTDIR: u8 = 0x80;

/// A T-message being built into a caller's buffer. Too long a message
/// makes [`finish`](Request::finish) return `None` (the caller sized the
/// buffer for the largest message it builds, so this is a driver bug
/// reported, not a panic).
pub struct Request<'a> {
    buf: &'a mut [u8],
    at: usize,
    overflow: bool,
}

impl<'a> Request<'a> {
    /// A message of type `kind` with `tag`.
    pub fn new(buf: &'a mut [u8], kind: u8, tag: u16) -> Self {
        let mut r = Request { buf, at: 0, overflow: false };
        r.u32(0).u8(kind).u16(tag);
        r
    }

    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        match self.buf.get_mut(self.at..self.at + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.at += bytes.len();
            }
            None => self.overflow = true,
        }
        self
    }

    /// A byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v])
    }
    /// A 16-bit field.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// A 32-bit field.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// A 64-bit field.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_le_bytes())
    }
    /// A string (at most 65535 bytes, else the message overflows).
    pub fn str(&mut self, s: &[u8]) -> &mut Self {
        match u16::try_from(s.len()) {
            Ok(n) => self.u16(n).put(s),
            Err(_) => {
                self.overflow = true;
                self
            }
        }
    }
    /// Room for `n` raw bytes (Twrite's data), to be filled by the
    /// caller through the returned range of the buffer.
    pub fn reserve(&mut self, n: usize) -> Option<core::ops::Range<usize>> {
        let start = self.at;
        if self.buf.len() < start + n {
            self.overflow = true;
            return None;
        }
        self.at += n;
        Some(start..start + n)
    }
    /// The buffer, for filling a [`reserve`](Self::reserve)d range.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.buf
    }
    /// Write the size field; the message's length, or `None` if it did
    /// not fit.
    pub fn finish(&mut self) -> Option<usize> {
        if self.overflow {
            return None;
        }
        let size = u32::try_from(self.at).ok()?;
        self.buf.get_mut(..4)?.copy_from_slice(&size.to_le_bytes());
        Some(self.at)
    }
}

/// A reply, checked by [`Reply::parse`]; a cursor over its fields.
pub struct Reply<'a> {
    msg: &'a [u8],
    at: usize,
}

impl<'a> Reply<'a> {
    /// Check `written` bytes of reply (what the device said it wrote):
    /// the size field lies in `HEADER..=written`, the tag is `tag`, the
    /// type is `expected` (or Rlerror, which is returned as its errno).
    /// The fields after the header are then read up to `size` only.
    pub fn parse(written: &'a [u8], tag: u16, expected: u8) -> Result<Self, WireError> {
        let mut head = Reply { msg: written, at: 0 };
        let size = head.u32()?;
        if (size as usize) < HEADER || size as usize > written.len() {
            return Err(WireError::BadSize { size, written: written.len() });
        }
        let mut r = Reply { msg: &written[..size as usize], at: 4 };
        let kind = r.u8()?;
        let got = r.u16()?;
        if got != tag {
            return Err(WireError::WrongTag { sent: tag, got });
        }
        if kind == op::RLERROR {
            return Err(WireError::Lerror(r.u32()?));
        }
        if kind != expected.wrapping_add(1) {
            return Err(WireError::WrongType { expected: expected.wrapping_add(1), got: kind });
        }
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Truncated)?;
        let bytes = self.msg.get(self.at..end).ok_or(WireError::Truncated)?;
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    /// A 16-bit field.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_le_bytes)
    }
    /// A 32-bit field.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_le_bytes)
    }
    /// A 64-bit field.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_le_bytes)
    }
    /// A string: its bytes, all inside the message.
    pub fn str(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()?;
        self.take(n as usize)
    }
    /// A qid.
    pub fn qid(&mut self) -> Result<Qid, WireError> {
        Ok(Qid { kind: self.u8()?, version: self.u32()?, path: self.u64()? })
    }
    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        self.take(n)
    }

    /// Rversion: the msize agreed, at most `offered`, and the version
    /// must be [`VERSION`].
    pub fn rversion(mut self, offered: u32) -> Result<u32, WireError> {
        let msize = self.u32()?;
        let version = self.str()?;
        if version != VERSION || msize > offered || (msize as usize) < IO_OVERHEAD + 1 {
            return Err(WireError::BadVersion);
        }
        Ok(msize)
    }

    /// Rwalk for `walked` names: whether every name was walked (fewer
    /// qids: the walk stopped, the new fid does not exist).
    pub fn rwalk(mut self, walked: usize) -> Result<Option<Qid>, WireError> {
        let n = self.u16()? as usize;
        if n > walked {
            return Err(WireError::BadWalk);
        }
        let mut last = None;
        for _ in 0..n {
            last = Some(self.qid()?);
        }
        Ok(if n == walked { Some(last.unwrap_or_default()) } else { None })
    }

    /// Rread / Rreaddir: the data, at most `asked` bytes.
    pub fn rread(mut self, asked: u32) -> Result<&'a [u8], WireError> {
        let count = self.u32()?;
        if count > asked {
            return Err(WireError::CountTooLarge { asked, got: count });
        }
        self.take(count as usize)
    }

    /// Rwrite: bytes written, at most `asked`.
    pub fn rwrite(mut self, asked: u32) -> Result<u32, WireError> {
        let count = self.u32()?;
        if count > asked {
            return Err(WireError::CountTooLarge { asked, got: count });
        }
        Ok(count)
    }
}

/// Rgetattr fields the driver reports.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    /// The file's qid.
    pub qid: Qid,
    /// st_mode.
    pub mode: u32,
    /// st_size.
    pub size: u64,
}

impl Reply<'_> {
    /// Rgetattr: `valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8]
    /// size[8]` and timestamps the driver does not read (but which must
    /// still be inside the message: 11 more u64 words).
    pub fn rgetattr(mut self) -> Result<Attr, WireError> {
        let _valid = self.u64()?;
        let qid = self.qid()?;
        let mode = self.u32()?;
        let _uid_gid = self.u64()?;
        let _nlink_rdev = self.bytes(16)?;
        let size = self.u64()?;
        self.bytes(11 * 8)?;
        Ok(Attr { qid, mode, size })
    }
}

/// One entry of Rreaddir data: `qid[13] offset[8] type[1] name[s]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The entry's qid.
    pub qid: Qid,
    /// The cookie to continue after this entry.
    pub offset: u64,
    /// d_type.
    pub kind: u8,
    /// The name: non-empty, no `/`, no NUL.
    pub name: &'a [u8],
}

/// The entries of Rreaddir data, each checked as it is read.
pub struct DirEntries<'a> {
    data: Reply<'a>,
}

impl<'a> DirEntries<'a> {
    /// Over `data` (what [`Reply::rread`] returned for an Rreaddir).
    pub fn new(data: &'a [u8]) -> Self {
        DirEntries { data: Reply { msg: data, at: 0 } }
    }
}

impl<'a> Iterator for DirEntries<'a> {
    type Item = Result<DirEntry<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.data.at >= self.data.msg.len() {
            return None;
        }
        let mut entry = || {
            let qid = self.data.qid()?;
            let offset = self.data.u64()?;
            let kind = self.data.u8()?;
            let name = self.data.str()?;
            if name.is_empty() || name.iter().any(|&b| b == b'/' || b == 0) {
                return Err(WireError::BadName);
            }
            Ok(DirEntry { qid, offset, kind, name })
        };
        let e = entry();
        if e.is_err() {
            self.data.at = self.data.msg.len();
        }
        Some(e)
    }
}

#[cfg(test)]
mod tests;
