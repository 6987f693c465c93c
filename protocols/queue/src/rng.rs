//! The rng client protocol: a control page, the client's data region,
//! and a notification each way on one channel. (sevio's own: sDDF has no
//! entropy class.)
//!
//! Control page layout (little-endian u32 words, accessed atomically):
//!
//! | offset | field | written by |
//! |---|---|---|
//! | 0 | `req_seq`: bumped to post a request | client (release, last) |
//! | 4 | `req_offset`: where in the data region | client |
//! | 8 | `req_len`: how many bytes | client |
//! | 16 | `resp_seq`: `req_seq` of the request answered | driver (release, last) |
//! | 20 | `resp_status`: [`RngStatus`] | driver |
//! | 24 | `resp_len`: bytes written (all of `req_len` when OK, else 0) | driver |
//! | 28 | `resp_pieces`: device buffers the bytes came in | driver |
//!
//! One request at a time: the client writes offset and length, then bumps
//! `req_seq` (release) and notifies; the driver reads `req_seq` (acquire),
//! then the two fields, checks `offset + len` against the data region's
//! size (its own setvar, never the page), fills the range with device
//! entropy, writes the response fields, then `resp_seq` (release) and
//! notifies. The client reads `resp_seq` (acquire) until it equals the
//! `req_seq` it posted. A client that posts again before the answer gets
//! the newer request served after the current one; the driver never reads
//! the request fields again while it serves one.
//!
//! Panic contract: nothing here panics on any page contents.

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use sevio_sharedmem::SharedMemory;

/// Bytes of the page in use.
pub const CONTROL_SIZE: usize = 32;
const REQ_SEQ: usize = 0;
const REQ_OFFSET: usize = 4;
const REQ_LEN: usize = 8;
const RESP_SEQ: usize = 16;
const RESP_STATUS: usize = 20;
const RESP_LEN: usize = 24;
const RESP_PIECES: usize = 28;

/// The page is smaller than [`CONTROL_SIZE`] or not 4-byte aligned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BadControlPage;

/// How a request ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum RngStatus {
    /// All `req_len` bytes were written.
    Ok = 0,
    /// Zero length, or the range is not inside the data region: nothing
    /// was written.
    Invalid = 1,
    /// The device failed or gave nothing: no bytes are promised.
    Io = 2,
}

impl RngStatus {
    /// The status a word stands for, if any.
    pub fn from_word(w: u32) -> Option<RngStatus> {
        [RngStatus::Ok, RngStatus::Invalid, RngStatus::Io].into_iter().find(|s| *s as u32 == w)
    }
}

/// A request as the driver read it (not validated yet).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RngRequest {
    /// Its `req_seq`.
    pub seq: u32,
    /// Offset in the data region.
    pub offset: u32,
    /// Bytes wanted.
    pub len: u32,
}

/// A response as the client reads it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RngResponse {
    /// The `req_seq` answered.
    pub seq: u32,
    /// The status word ([`RngStatus::from_word`]; a driver could write
    /// anything).
    pub status: u32,
    /// Bytes written.
    pub len: u32,
    /// Device buffers they came in.
    pub pieces: u32,
}

fn check(mem: &SharedMemory) -> Result<(), BadControlPage> {
    if mem.len() < CONTROL_SIZE || !mem.addr().is_multiple_of(4) {
        return Err(BadControlPage);
    }
    Ok(())
}

fn load(mem: &SharedMemory, at: usize, order: core::sync::atomic::Ordering) -> u32 {
    // In bounds: checked at construction.
    mem.load_u32(at, order).unwrap_or(0)
}

fn store(mem: &SharedMemory, at: usize, v: u32, order: core::sync::atomic::Ordering) {
    let _ = mem.store_u32(at, v, order);
}

/// The client's end of the control page.
#[derive(Debug)]
pub struct ClientPort {
    mem: SharedMemory,
    seq: u32,
}

impl ClientPort {
    /// Open the page. Sequence numbers continue from the last answered.
    pub fn new(mem: SharedMemory) -> Result<Self, BadControlPage> {
        check(&mem)?;
        Ok(ClientPort { seq: load(&mem, RESP_SEQ, Acquire), mem })
    }

    /// Post a request for `len` bytes at `offset`; returns its sequence
    /// number. Caller: the client, then it notifies the driver.
    pub fn post(&mut self, offset: u32, len: u32) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        store(&self.mem, REQ_OFFSET, offset, Relaxed);
        store(&self.mem, REQ_LEN, len, Relaxed);
        store(&self.mem, REQ_SEQ, self.seq, Release);
        self.seq
    }

    /// The answer to the last request posted, once it is there.
    pub fn poll(&self) -> Option<RngResponse> {
        if load(&self.mem, RESP_SEQ, Acquire) != self.seq {
            return None;
        }
        Some(RngResponse {
            seq: self.seq,
            status: load(&self.mem, RESP_STATUS, Relaxed),
            len: load(&self.mem, RESP_LEN, Relaxed),
            pieces: load(&self.mem, RESP_PIECES, Relaxed),
        })
    }
}

/// The driver's end of the control page.
#[derive(Debug)]
pub struct DriverPort {
    mem: SharedMemory,
    /// The last `req_seq` taken.
    seen: u32,
}

impl DriverPort {
    /// Open the page. A request posted before (a `req_seq` other than
    /// the last answered) is taken by the first [`take`](Self::take).
    pub fn new(mem: SharedMemory) -> Result<Self, BadControlPage> {
        check(&mem)?;
        Ok(DriverPort { seen: load(&mem, RESP_SEQ, Acquire), mem })
    }

    /// The next request, if the client posted one since the last taken.
    /// Caller: the driver, when it is not serving one.
    pub fn take(&mut self) -> Option<RngRequest> {
        let seq = load(&self.mem, REQ_SEQ, Acquire);
        if seq == self.seen {
            return None;
        }
        self.seen = seq;
        Some(RngRequest { seq, offset: load(&self.mem, REQ_OFFSET, Relaxed), len: load(&self.mem, REQ_LEN, Relaxed) })
    }

    /// Answer request `seq`. Caller: the driver, then it notifies.
    pub fn respond(&self, seq: u32, status: RngStatus, len: u32, pieces: u32) {
        store(&self.mem, RESP_STATUS, status as u32, Relaxed);
        store(&self.mem, RESP_LEN, len, Relaxed);
        store(&self.mem, RESP_PIECES, pieces, Relaxed);
        store(&self.mem, RESP_SEQ, seq, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn request_and_response_round_trip_at_their_offsets() {
        let page = HeapRegion::new(4096);
        let mut client = ClientPort::new(page.memory()).unwrap();
        let mut driver = DriverPort::new(page.memory()).unwrap();
        assert_eq!(driver.take(), None);
        let seq = client.post(0x40, 100);
        assert_eq!(client.poll(), None);
        assert_eq!(page.memory().read::<u32>(4), Some(0x40));
        assert_eq!(page.memory().read::<u32>(8), Some(100));
        assert_eq!(driver.take(), Some(RngRequest { seq, offset: 0x40, len: 100 }));
        assert_eq!(driver.take(), None, "taken once");
        driver.respond(seq, RngStatus::Ok, 100, 2);
        assert_eq!(client.poll(), Some(RngResponse { seq, status: 0, len: 100, pieces: 2 }));
        assert_eq!(page.memory().read::<u32>(28), Some(2));
    }

    #[test]
    fn a_request_posted_before_the_driver_opened_the_page_is_taken() {
        let page = HeapRegion::new(4096);
        let mut client = ClientPort::new(page.memory()).unwrap();
        let seq = client.post(0, 16);
        let mut driver = DriverPort::new(page.memory()).unwrap();
        assert_eq!(driver.take().map(|r| r.seq), Some(seq));
    }

    #[test]
    fn bad_pages_are_refused() {
        let small = HeapRegion::new(4096);
        assert_eq!(ClientPort::new(small.memory().slice(0, 31).unwrap()).unwrap_err(), BadControlPage);
        assert_eq!(DriverPort::new(small.memory().slice(2, 64).unwrap()).unwrap_err(), BadControlPage);
        assert_eq!(RngStatus::from_word(2), Some(RngStatus::Io));
        assert_eq!(RngStatus::from_word(3), None);
    }
}
