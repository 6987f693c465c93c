//! The request journal: what the driver owes its client, kept where a
//! restart does not erase it, so that a restarted driver answers every
//! request the crashed one had taken, each exactly once.
//!
//! # Why a journal
//!
//! A restarted driver starts from its boot state (`.data` restored,
//! `.bss` zeroed); only shared regions keep their contents. The client's
//! queues are such regions, but they do not say enough: a request the
//! driver took (and handed back its slot by publishing the request
//! queue's `head`) is gone from the request queue, and nothing in the
//! response queue says whether it was answered. The journal records, per
//! request the driver holds, the request itself, where in the request
//! queue it was taken, what stage it reached, and where in the response
//! queue its answer went. The sDDF queues stay exactly as sDDF defines
//! them: the client does not know the journal exists.
//!
//! # Layout and torn writes
//!
//! The region (the `blk_journal` map when system.xml gives one; otherwise
//! a piece of the DMA region, which survives a restart too) holds a
//! header (magic, version, entry count, their checksum, and a count of
//! opens) and [`ENTRIES`] entries. Each entry has two copies; each copy
//! is twelve words: a sequence number, the stage and answer status, the
//! request queue index it was taken at, the response queue index of its
//! answer, the request's fields, and a checksum over all of these and the
//! entry's number. An update writes the *older* copy with the next
//! sequence number, checksum last, and the header names the entry while
//! it is written. A crash halfway through leaves that copy failing its
//! checksum and the other copy, the previous state, intact: every update
//! is all-or-nothing. A copy that is all zeros was never written (the
//! loader zeroes the region). A broken copy anywhere but in the entry the
//! header names (where a crash explains it), or a header that is neither
//! zero nor right, is corruption: a damaged newest copy would otherwise
//! pass for a torn write and bring back an older state. It is logged,
//! and then no request is guessed at (see [`Recovery::corrupt`]). Opening
//! rewrites a torn copy (and a damaged entry) at once: left for the
//! entry's next update, a second crash before it would leave a broken
//! copy outside the entry then being written.
//!
//! # Exactly once
//!
//! Two indices in the client's queues are written only by the driver and
//! tell, after a crash, how far it got: the request queue's `head` `H`
//! (requests before it were taken for good) and the response queue's
//! `tail` `T` (answers before it are visible to the client). The driver
//! ([`ClientQueues`]) keeps this order:
//!
//! 1. *take*: journal the request as Taken at its queue index `p`; the
//!    head is published later (step 4);
//! 2. *post*: journal it as Posted, then add it to the device's queue;
//! 3. *answer*: journal it as Answering with its status and the response
//!    queue index `r` its answer takes, then stage the answer at `r`;
//! 4. *publish*: store the request queue's head, **then** the response
//!    queue's tail, then free every Answering entry.
//!
//! A crash can stop the driver between any two of these writes. On the
//! restart, for each entry:
//!
//! - `p >= H`: the head never passed it, so the request is still in the
//!   request queue and will be taken again; the entry is dropped. Its
//!   answer, if it had one, was not published either, because step 4
//!   stores the head before the tail: an answer visible to the client
//!   implies a head past its request. So it is answered once, later.
//! - `p < H`, Answering, `r < T`: the answer is visible; dropped (not
//!   answered again).
//! - `p < H`, Answering, `r >= T`: the answer was staged and never
//!   published; it is answered again with the recorded status, at a new
//!   index (the restarted driver's tail starts at `T`).
//! - `p < H`, Taken or Posted: taken for good and never answered; the
//!   device was reset before the driver could run again, so nothing of it
//!   is left in the device: it is submitted again, in the order taken (a
//!   BARRIER keeps its place). Redoing a READ, WRITE or FLUSH is safe:
//!   each names its blocks and buffer absolutely, and the client may not
//!   touch a buffer until its request is answered.
//! - Free: nothing owed.
//!
//! Every journal write is one all-or-nothing update, so every crash
//! point lands in one of these cases: an answer is published at most once
//! (only entries whose answer is not visible are answered), and at least
//! once (an entry is freed only when its answer is visible or its request
//! is still queued). Comparisons are of free-running u32 indices, wrapping:
//! an index more than a queue's capacity ahead of `H` or `T` cannot have
//! been written by the driver and makes the entry corrupt.
//!
//! What the journal cannot protect against: a client that rewrites the
//! driver's indices in its own queues (it can only confuse the answers to
//! its own requests), and memory a device writes by DMA (no IOMMU).

use sevio_queue::{
    BlkRequest, BlkRequestConsumer, BlkResponse, BlkResponseProducer, BlkStatus, QueueError, QueueMemory,
};
use sevio_sharedmem::SharedMemory;

/// Entries: every request the driver can owe at once (the request slots,
/// the one request waiting for queue room, a barrier) with room to spare.
pub const ENTRIES: usize = 72;
const _: () = assert!(ENTRIES >= crate::SLOTS + 2 && ENTRIES <= u8::MAX as usize);

const MAGIC: u32 = u32::from_le_bytes(*b"SVJL");
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 64;
/// Header words: magic, version, entries, checksum; then the open count
/// and the entry being written.
const OPENS_AT: usize = 16;
const WRITING_AT: usize = 20;
/// [`WRITING_AT`] when no entry is being written.
const WRITING_NONE: u32 = u32::MAX;
const COPY_WORDS: usize = 12;
const COPY_BYTES: usize = COPY_WORDS * 4;
const ENTRY_BYTES: usize = 2 * COPY_BYTES;
/// Bytes the journal takes.
pub const JOURNAL_BYTES: usize = HEADER_BYTES + ENTRIES * ENTRY_BYTES;
/// The size of the `blk_journal` region in system.xml (two pages).
pub const JOURNAL_REGION_SIZE: usize = 0x2000;
const _: () = assert!(JOURNAL_BYTES <= JOURNAL_REGION_SIZE);

/// Where a request the driver holds has got to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Taken from the request queue; not in the device.
    Taken,
    /// Added to the device's queue.
    Posted,
    /// Its answer is staged at response queue index `at`.
    Answering {
        /// The answer's status.
        status: BlkStatus,
        /// The answer's `success_count`.
        success_count: u16,
        /// The response queue index it was staged at.
        at: u32,
    },
}

/// A journaled request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The request as the client sent it.
    pub request: BlkRequest,
    /// The request queue index it was taken at.
    pub taken_at: u32,
    /// Its stage.
    pub stage: Stage,
}

/// A journal entry's number: what the driver keeps with a request it
/// holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ticket(u8);

impl Ticket {
    /// The entry's number.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why a region cannot hold a journal.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TooSmall {
    /// Bytes it has.
    pub len: usize,
}

/// The journal in its region, with a private copy of each entry's newest
/// state (rebuilt from the region when it is opened).
pub struct Journal<M: QueueMemory = SharedMemory> {
    mem: M,
    seq: [u32; ENTRIES],
    records: [Option<Record>; ENTRIES],
    /// Entries that are Taken or Posted (owed an answer not yet staged).
    unanswered: usize,
}

/// What opening found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// How many times the journal was opened before (0: a fresh region).
    pub previous_opens: u32,
    /// The header was neither zero nor a journal's.
    pub bad_header: bool,
    /// Entries neither of whose copies is whole.
    pub bad_entries: usize,
}

impl Opened {
    /// Whether anything in the region was unreadable.
    pub fn corrupt(&self) -> bool {
        self.bad_header || self.bad_entries > 0
    }
}

fn checksum(index: usize, words: &[u32]) -> u32 {
    // FNV-1a over the entry number and the words: a torn copy (some words
    // new, the checksum old) fails it.
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |w: u32| {
        for b in w.to_le_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    };
    eat(index as u32);
    for &w in words {
        eat(w);
    }
    h
}

const STAGE_FREE: u32 = 0;
const STAGE_TAKEN: u32 = 1;
const STAGE_POSTED: u32 = 2;
const STAGE_ANSWERING: u32 = 3;

fn encode(record: Option<Record>, seq: u32) -> [u32; COPY_WORDS - 1] {
    let Some(r) = record else {
        let mut w = [0; COPY_WORDS - 1];
        w[0] = seq;
        return w;
    };
    let (stage, status, success, at) = match r.stage {
        Stage::Taken => (STAGE_TAKEN, 0, 0, 0),
        Stage::Posted => (STAGE_POSTED, 0, 0, 0),
        Stage::Answering { status, success_count, at } => (STAGE_ANSWERING, status as u32, success_count, at),
    };
    let q = r.request;
    [
        seq,
        stage | status << 8,
        r.taken_at,
        at,
        q.code,
        u32::from(q.count) | u32::from(success) << 16,
        q.io_or_offset as u32,
        (q.io_or_offset >> 32) as u32,
        q.block_number as u32,
        (q.block_number >> 32) as u32,
        q.id,
    ]
}

/// A whole copy's state; `Err` if its stage or status is not one this
/// journal writes (a checksum that passed by chance).
fn decode(w: &[u32; COPY_WORDS - 1]) -> Result<Option<Record>, ()> {
    let stage = match (w[1] & 0xff, w[1] >> 8) {
        (STAGE_FREE, _) => return Ok(None),
        (STAGE_TAKEN, 0) => Stage::Taken,
        (STAGE_POSTED, 0) => Stage::Posted,
        (STAGE_ANSWERING, s) => {
            Stage::Answering { status: BlkStatus::from_u32(s).ok_or(())?, success_count: (w[5] >> 16) as u16, at: w[3] }
        }
        _ => return Err(()),
    };
    let request = BlkRequest {
        code: w[4],
        io_or_offset: u64::from(w[6]) | u64::from(w[7]) << 32,
        block_number: u64::from(w[8]) | u64::from(w[9]) << 32,
        count: w[5] as u16,
        id: w[10],
    };
    Ok(Some(Record { request, taken_at: w[2], stage }))
}

/// One copy as read: never written, whole (seq, state), or not whole.
enum Copy {
    Blank,
    Whole(u32, Option<Record>),
    Broken,
}

impl<M: QueueMemory> Journal<M> {
    /// Open the journal in `mem`: a zeroed region becomes an empty
    /// journal; otherwise each entry's newest whole copy is its state.
    pub fn open(mem: M) -> Result<(Journal<M>, Opened), TooSmall> {
        if mem.len() < JOURNAL_BYTES {
            return Err(TooSmall { len: mem.len() });
        }
        let mut j = Journal { mem, seq: [0; ENTRIES], records: [None; ENTRIES], unanswered: 0 };
        let header = [MAGIC, VERSION, ENTRIES as u32];
        let stored = [j.word(0), j.word(4), j.word(8), j.word(12)];
        // The magic is written last: a region without it whose entries
        // were never written is a new journal (or one whose formatting a
        // crash interrupted).
        let blank = (0..ENTRIES).all(|i| matches!((j.read_copy(i, 0), j.read_copy(i, 1)), (Copy::Blank, Copy::Blank)));
        let fresh = stored[0] == 0 && blank;
        let bad_header = !fresh && (stored[..3] != header || stored[3] != checksum(usize::MAX, &header));
        let mut bad_entries = 0;
        // Entries with a copy to rewrite once the journal is read: the
        // torn one (a crash is allowed to leave one) and damaged ones. Left
        // as they are, a second crash before their next update would find
        // a broken copy outside the entry then being written: corruption.
        let mut repair = [false; ENTRIES];
        // The one entry a crash can have left half-written.
        let writing = if fresh { WRITING_NONE } else { j.word(WRITING_AT) };
        for i in 0..ENTRIES {
            let torn_allowed = writing == i as u32;
            let (c0, c1) = (j.read_copy(i, 0), j.read_copy(i, 1));
            repair[i] = matches!(c0, Copy::Broken) || matches!(c1, Copy::Broken);
            let newest = match (c0, c1) {
                (Copy::Whole(a, ra), Copy::Whole(b, rb)) => {
                    if (a.wrapping_sub(b) as i32) > 0 {
                        Some((a, ra))
                    } else {
                        Some((b, rb))
                    }
                }
                (Copy::Whole(s, r), Copy::Blank) | (Copy::Blank, Copy::Whole(s, r)) => Some((s, r)),
                // A broken copy beside a whole one is the write a crash
                // interrupted, but only in the entry being written:
                // anywhere else it is damage, and the whole copy may be
                // the older state, which must not be believed.
                (Copy::Whole(s, r), Copy::Broken) | (Copy::Broken, Copy::Whole(s, r)) if torn_allowed => Some((s, r)),
                (Copy::Blank, Copy::Broken) | (Copy::Broken, Copy::Blank) if torn_allowed => Some((0, None)),
                (Copy::Blank, Copy::Blank) => Some((0, None)),
                _ => None,
            };
            match newest {
                Some((seq, record)) => {
                    j.seq[i] = seq;
                    j.records[i] = record;
                }
                None => {
                    bad_entries += 1;
                    j.seq[i] = 0;
                }
            }
        }
        j.unanswered = j.records.iter().flatten().filter(|r| !matches!(r.stage, Stage::Answering { .. })).count();
        let previous_opens = if bad_header || fresh { 0 } else { j.word(OPENS_AT) };
        if fresh || bad_header {
            j.set_word(12, checksum(usize::MAX, &header));
            for (k, w) in header.iter().enumerate().rev() {
                j.set_word(4 * k, *w);
            }
        }
        j.set_word(OPENS_AT, previous_opens.wrapping_add(1));
        for i in (0..ENTRIES).filter(|&i| repair[i]) {
            // The state read (none for a damaged entry) into the broken
            // copy; a damaged entry's other copy too. Each is an ordinary
            // update, under the being-written mark.
            let record = j.records[i];
            j.update(i, record);
            j.update(i, record);
        }
        j.set_word(WRITING_AT, WRITING_NONE);
        Ok((j, Opened { previous_opens, bad_header, bad_entries }))
    }

    fn word(&self, offset: usize) -> u32 {
        self.mem.read_u32(offset).unwrap_or(0)
    }

    fn set_word(&self, offset: usize, value: u32) {
        // In range: open() checked the length against JOURNAL_BYTES.
        let _ = self.mem.write_u32(offset, value);
    }

    fn copy_at(i: usize, copy: usize) -> usize {
        HEADER_BYTES + i * ENTRY_BYTES + copy * COPY_BYTES
    }

    fn read_copy(&self, i: usize, copy: usize) -> Copy {
        let at = Self::copy_at(i, copy);
        let mut w = [0u32; COPY_WORDS - 1];
        for (k, slot) in w.iter_mut().enumerate() {
            *slot = self.word(at + 4 * k);
        }
        let sum = self.word(at + 4 * (COPY_WORDS - 1));
        if sum == 0 && w == [0; COPY_WORDS - 1] {
            return Copy::Blank;
        }
        if sum != checksum(i, &w) {
            return Copy::Broken;
        }
        match decode(&w) {
            Ok(r) => Copy::Whole(w[0], r),
            Err(()) => Copy::Broken,
        }
    }

    /// Write entry `i`'s new state into its older copy, checksum last,
    /// between marking `i` as the entry being written and clearing the
    /// mark.
    fn update(&mut self, i: usize, record: Option<Record>) {
        let seq = self.seq[i].wrapping_add(1);
        let w = encode(record, seq);
        let at = Self::copy_at(i, (seq & 1) as usize);
        self.set_word(WRITING_AT, i as u32);
        for (k, word) in w.iter().enumerate() {
            self.set_word(at + 4 * k, *word);
        }
        self.set_word(at + 4 * (COPY_WORDS - 1), checksum(i, &w));
        self.set_word(WRITING_AT, WRITING_NONE);
        let owed = |r: &Option<Record>| r.is_some_and(|r| !matches!(r.stage, Stage::Answering { .. }));
        self.unanswered = self.unanswered + owed(&record) as usize - owed(&self.records[i]) as usize;
        self.seq[i] = seq;
        self.records[i] = record;
    }

    /// The state of entry `t`.
    pub fn record(&self, t: Ticket) -> Option<Record> {
        self.records.get(t.index()).copied().flatten()
    }

    /// Requests held whose answer is not staged yet.
    pub fn unanswered(&self) -> usize {
        self.unanswered
    }

    /// Whether an entry is free for one more request.
    pub fn has_room(&self) -> bool {
        self.records.iter().any(Option::is_none)
    }

    /// Record a request taken at request queue index `taken_at`.
    pub fn take(&mut self, request: BlkRequest, taken_at: u32) -> Option<Ticket> {
        let i = self.records.iter().position(Option::is_none)?;
        self.update(i, Some(Record { request, taken_at, stage: Stage::Taken }));
        Some(Ticket(i as u8))
    }

    /// Move entry `t` to `stage`.
    pub fn set_stage(&mut self, t: Ticket, stage: Stage) {
        if let Some(r) = self.record(t) {
            self.update(t.index(), Some(Record { stage, ..r }));
        }
    }

    /// Free every entry whose answer is staged (the caller has just
    /// published them).
    pub fn release_answered(&mut self) {
        for i in 0..ENTRIES {
            if self.records[i].is_some_and(|r| matches!(r.stage, Stage::Answering { .. })) {
                self.update(i, None);
            }
        }
    }

    fn release(&mut self, i: usize) {
        self.update(i, None);
    }
}

/// Tickets in the order their requests were taken.
#[derive(Copy, Clone, Debug)]
pub struct TicketList {
    tickets: [Ticket; ENTRIES],
    len: usize,
    next: usize,
}

impl TicketList {
    const EMPTY: TicketList = TicketList { tickets: [Ticket(0); ENTRIES], len: 0, next: 0 };

    fn push(&mut self, t: Ticket) {
        if let Some(slot) = self.tickets.get_mut(self.len) {
            *slot = t;
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<Ticket> {
        let t = *self.tickets[..self.len].get(self.next)?;
        self.next += 1;
        Some(t)
    }

    /// Tickets not yet handed out.
    pub fn remaining(&self) -> usize {
        self.len - self.next
    }
}

/// What a restart found in the journal, for the log.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Requests to submit again (taken for good, never answered).
    pub resubmitted: usize,
    /// Of those, how many the device had been given.
    pub were_posted: usize,
    /// Answers staged but never published, staged again.
    pub answered_again: usize,
    /// Entries dropped because their request is still in the request
    /// queue (it will be taken again) or their answer was published.
    pub dropped: usize,
    /// The journal was corrupt: every request it still names was
    /// answered ERR_IO instead of being redone or answered with its
    /// result, and entries that could not be read are lost.
    pub corrupt: bool,
    /// Requests answered ERR_IO because the journal was corrupt.
    pub failed: usize,
}

/// The client's request and response queues, journaled (see the module
/// documentation for the order of writes and why it gives exactly once).
pub struct ClientQueues<M: QueueMemory = SharedMemory> {
    requests: BlkRequestConsumer<M>,
    responses: BlkResponseProducer<M>,
    journal: Journal<M>,
    replay: TicketList,
}

impl<M: QueueMemory> ClientQueues<M> {
    /// The queues and the opened journal; what the journal held is
    /// recovered against the queues' indices as stored (the restarted
    /// driver's queue ends start from them). Answers to give again are
    /// staged now and published by the first [`publish`](Self::publish).
    pub fn open(
        requests: BlkRequestConsumer<M>,
        responses: BlkResponseProducer<M>,
        journal: Journal<M>,
        opened: &Opened,
    ) -> Result<(Self, Recovery), QueueError> {
        let mut q = ClientQueues { requests, responses, journal, replay: TicketList::EMPTY };
        let recovery = q.recover(opened.corrupt())?;
        Ok((q, recovery))
    }

    fn recover(&mut self, corrupt: bool) -> Result<Recovery, QueueError> {
        let head = self.requests.published_index();
        let tail = self.responses.published_index();
        let (req_cap, resp_cap) = (self.requests.capacity(), self.responses.capacity());
        let mut rec = Recovery { corrupt, ..Recovery::default() };
        // Entries whose indices the driver cannot have written.
        let mut impossible = false;
        let mut order: [(u32, u8); ENTRIES] = [(0, 0); ENTRIES];
        let mut owed = 0;
        for i in 0..ENTRIES {
            let Some(r) = self.journal.records[i] else { continue };
            // Before the head: wrapping distance in 1..2^31.
            let taken_for_good = (head.wrapping_sub(r.taken_at) as i32) > 0;
            if !taken_for_good {
                if r.taken_at.wrapping_sub(head) >= req_cap {
                    impossible = true;
                }
                rec.dropped += 1;
                self.journal.release(i);
                continue;
            }
            if let Stage::Answering { at, .. } = r.stage {
                if (tail.wrapping_sub(at) as i32) > 0 {
                    rec.dropped += 1;
                    self.journal.release(i);
                    continue;
                }
                if at.wrapping_sub(tail) >= resp_cap {
                    impossible = true;
                }
            }
            // Oldest first: the distance back from the head.
            order[owed] = (head.wrapping_sub(r.taken_at), i as u8);
            owed += 1;
        }
        rec.corrupt |= impossible;
        let order = &mut order[..owed];
        order.sort_unstable_by_key(|&(back, _)| core::cmp::Reverse(back));
        for &(_, i) in order.iter() {
            let t = Ticket(i);
            let Some(r) = self.journal.record(t) else { continue };
            match r.stage {
                _ if rec.corrupt => {
                    rec.failed += 1;
                    self.stage_answer(t, r, BlkStatus::Io, 0)?;
                }
                Stage::Answering { status, success_count, .. } => {
                    rec.answered_again += 1;
                    self.stage_answer(t, r, status, success_count)?;
                }
                Stage::Taken | Stage::Posted => {
                    rec.resubmitted += 1;
                    rec.were_posted += (r.stage == Stage::Posted) as usize;
                    self.journal.set_stage(t, Stage::Taken);
                    self.replay.push(t);
                }
            }
        }
        Ok(rec)
    }

    /// Requests held whose answer is not staged yet (recovered ones
    /// included).
    pub fn owed(&self) -> usize {
        self.journal.unanswered()
    }

    /// Whether published answers wait unread. A crashed instance may have
    /// published them and died before notifying the client, which would
    /// then wait for ever: the restarted driver notifies it when any do.
    pub fn answers_waiting(&mut self) -> Result<bool, QueueError> {
        Ok(self.responses.unconsumed()? > 0)
    }

    /// Whether the client plugged its request queue.
    pub fn plugged(&self) -> bool {
        self.requests.plugged()
    }

    /// The next request to serve: one recovered from the journal first,
    /// then one from the request queue, journaled before it counts as
    /// taken. Taken only when its answer is sure to fit the response
    /// queue beside every answer still owed, and the journal has room.
    pub fn take(&mut self) -> Result<Option<(BlkRequest, Ticket)>, QueueError> {
        if let Some(t) = self.replay.pop() {
            if let Some(r) = self.journal.record(t) {
                return Ok(Some((r.request, t)));
            }
        }
        if !self.journal.has_room() || self.responses.free()? as usize <= self.journal.unanswered() {
            return Ok(None);
        }
        let at = self.requests.next_index();
        let Some(request) = self.requests.take()? else { return Ok(None) };
        match self.journal.take(request, at) {
            Some(t) => Ok(Some((request, t))),
            // has_room said there was one.
            None => Err(QueueError::OutOfBounds),
        }
    }

    /// The request `t` is about to be added to the device's queue.
    pub fn posted(&mut self, t: Ticket) {
        self.journal.set_stage(t, Stage::Posted);
    }

    /// Stage the answer to `t` (journaled first, with where it goes).
    pub fn answer(&mut self, t: Ticket, status: BlkStatus, success_count: u16) -> Result<(), QueueError> {
        let Some(r) = self.journal.record(t) else { return Ok(()) };
        if matches!(r.stage, Stage::Answering { .. }) {
            return Ok(());
        }
        self.stage_answer(t, r, status, success_count)
    }

    fn stage_answer(&mut self, t: Ticket, r: Record, status: BlkStatus, success_count: u16) -> Result<(), QueueError> {
        let at = self.responses.next_index();
        self.journal.set_stage(t, Stage::Answering { status, success_count, at });
        self.responses.stage(BlkResponse::new(status, success_count, r.request.id))
    }

    /// Publish the request queue's head, then the staged answers, then
    /// free their entries. True if answers were published (the client is
    /// owed a notification).
    pub fn publish(&mut self) -> Result<bool, QueueError> {
        self.requests.publish()?;
        if self.responses.staged() == 0 {
            return Ok(false);
        }
        self.responses.publish()?;
        self.journal.release_answered();
        Ok(true)
    }

    /// The journal (tests and logs).
    pub fn journal(&self) -> &Journal<M> {
        &self.journal
    }
}
