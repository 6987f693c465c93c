//! The request journal under crashes: a driver (`ClientQueues`) runs a
//! random script of takes, posts, answers and publishes against a client
//! that keeps submitting and collecting; the driver's memory writes stop
//! dead after the n-th (a crash), for every n the script reaches; the
//! driver is opened again over the same regions and finishes. The client
//! must see every request answered exactly once, with the answer the
//! driver decided for it.

use proptest::prelude::*;
use sevio_driver_blk::journal::{ClientQueues, JOURNAL_REGION_SIZE, Journal, Ticket};
use sevio_queue::mem::CheckedSlots;
use sevio_queue::{
    BlkRequest, BlkRequestConsumer, BlkRequestProducer, BlkResponseConsumer, BlkResponseProducer, BlkStatus,
    QueueMemory,
};
use sevio_sharedmem::{HeapRegion, OutOfBounds, SharedMemory};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;

const CAPACITY: u32 = 16;

/// The driver's view of a region: every write spends one unit of a
/// budget shared by all its regions; once it is spent the driver has
/// crashed and its writes never happen.
#[derive(Clone)]
struct Crashing {
    mem: SharedMemory,
    budget: Rc<Cell<Option<usize>>>,
}

impl Crashing {
    fn spend(&self) -> bool {
        match self.budget.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                self.budget.set(Some(n - 1));
                true
            }
        }
    }
}

impl QueueMemory for Crashing {
    type Slots = CheckedSlots<Self>;
    fn slots(&self, offset: usize, count: u32, stride: usize) -> Option<CheckedSlots<Self>> {
        CheckedSlots::new(self.clone(), offset, count, stride)
    }
    fn len(&self) -> usize {
        self.mem.len()
    }
    fn load_u16(&self, o: usize, ord: Ordering) -> Option<u16> {
        self.mem.load_u16(o, ord)
    }
    fn store_u16(&self, o: usize, v: u16, ord: Ordering) -> Result<(), OutOfBounds> {
        if self.spend() { self.mem.store_u16(o, v, ord) } else { Ok(()) }
    }
    fn load_u32(&self, o: usize, ord: Ordering) -> Option<u32> {
        self.mem.load_u32(o, ord)
    }
    fn store_u32(&self, o: usize, v: u32, ord: Ordering) -> Result<(), OutOfBounds> {
        if self.spend() { self.mem.store_u32(o, v, ord) } else { Ok(()) }
    }
    fn fence(&self, ord: Ordering) {
        std::sync::atomic::fence(ord)
    }
    fn read_u8(&self, o: usize) -> Option<u8> {
        self.mem.read(o)
    }
    fn read_u16(&self, o: usize) -> Option<u16> {
        self.mem.read(o)
    }
    fn read_u32(&self, o: usize) -> Option<u32> {
        self.mem.read(o)
    }
    fn read_u64(&self, o: usize) -> Option<u64> {
        self.mem.read(o)
    }
    fn write_u8(&self, o: usize, v: u8) -> Result<(), OutOfBounds> {
        if self.spend() { self.mem.write(o, v) } else { Ok(()) }
    }
    fn write_u16(&self, o: usize, v: u16) -> Result<(), OutOfBounds> {
        if self.spend() { self.mem.write(o, v) } else { Ok(()) }
    }
    fn write_u32(&self, o: usize, v: u32) -> Result<(), OutOfBounds> {
        if self.spend() { self.mem.write(o, v) } else { Ok(()) }
    }
    fn write_u64(&self, o: usize, v: u64) -> Result<(), OutOfBounds> {
        if self.spend() { self.mem.write(o, v) } else { Ok(()) }
    }
}

/// What the driver does next.
#[derive(Copy, Clone, Debug)]
enum Step {
    /// Take a request (if one is there and fits).
    Take,
    /// Post the k-th held request (modulo how many are held).
    Post(usize),
    /// Answer the k-th held request.
    Answer(usize),
    /// Publish.
    Publish,
    /// The client submits this many requests (as many as fit).
    Submit(u8),
    /// The client collects every published answer.
    Collect,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Take),
        2 => (0..8usize).prop_map(Step::Post),
        3 => (0..8usize).prop_map(Step::Answer),
        2 => Just(Step::Publish),
        2 => (1..6u8).prop_map(Step::Submit),
        1 => Just(Step::Collect),
    ]
}

/// The answer the driver decides for a request: a function of its id, so
/// that one given before a crash and one given after agree.
fn verdict(r: &BlkRequest) -> (BlkStatus, u16) {
    match r.id % 3 {
        0 => (BlkStatus::Io, 0),
        _ => (BlkStatus::Ok, r.count),
    }
}

struct World {
    regions: [HeapRegion; 3],
    budget: Rc<Cell<Option<usize>>>,
    client_req: BlkRequestProducer,
    client_resp: BlkResponseConsumer,
    next_id: u32,
    /// id -> the request, for every request submitted.
    submitted: BTreeMap<u32, BlkRequest>,
    /// id -> answers seen (status, success_count).
    answers: BTreeMap<u32, Vec<(u32, u16)>>,
}

impl World {
    fn new() -> World {
        let regions = [HeapRegion::new(8192), HeapRegion::new(8192), HeapRegion::new(JOURNAL_REGION_SIZE)];
        let client_req = BlkRequestProducer::new(regions[0].memory(), CAPACITY).unwrap();
        let client_resp = BlkResponseConsumer::new(regions[1].memory(), CAPACITY).unwrap();
        World {
            regions,
            budget: Rc::new(Cell::new(None)),
            client_req,
            client_resp,
            next_id: 1,
            submitted: BTreeMap::new(),
            answers: BTreeMap::new(),
        }
    }

    fn driver_mem(&self, i: usize) -> Crashing {
        Crashing { mem: self.regions[i].memory(), budget: self.budget.clone() }
    }

    /// The driver starts (or starts again) over the regions.
    fn open_driver(&self) -> (ClientQueues<Crashing>, sevio_driver_blk::journal::Recovery, bool) {
        let requests = BlkRequestConsumer::new(self.driver_mem(0), CAPACITY).unwrap();
        let responses = BlkResponseProducer::new(self.driver_mem(1), CAPACITY).unwrap();
        let (journal, opened) = Journal::open(self.driver_mem(2)).unwrap();
        let (q, rec) = ClientQueues::open(requests, responses, journal, &opened).unwrap();
        (q, rec, opened.corrupt())
    }

    fn submit(&mut self, n: u8) {
        for _ in 0..n {
            let id = self.next_id;
            let r =
                BlkRequest { code: 1, io_or_offset: u64::from(id) * 4096, block_number: u64::from(id), count: 1, id };
            if self.client_req.enqueue(r).is_err() {
                break;
            }
            self.next_id += 1;
            self.submitted.insert(id, r);
        }
    }

    fn collect(&mut self) {
        while let Some(a) = self.client_resp.dequeue().unwrap() {
            self.answers.entry(a.id).or_default().push((a.status, a.success_count));
        }
    }

    fn crashed(&self) -> bool {
        self.budget.get() == Some(0)
    }
}

/// Run `script` with a driver that crashes after `budget` writes (None:
/// never); then the driver is opened again and serves everything. Returns
/// how many writes the script made before the restart.
fn run(script: &[Step], budget: Option<usize>) -> Result<usize, TestCaseError> {
    run_crashing_again(script, budget, None)
}

/// [`run`], with the restarted driver crashing too, after `again` writes
/// (its recovery included), before a third instance serves everything.
fn run_crashing_again(script: &[Step], budget: Option<usize>, again: Option<usize>) -> Result<usize, TestCaseError> {
    let mut w = World::new();
    let start = budget.unwrap_or(usize::MAX);
    w.budget.set(Some(start));
    let (mut q, _, _) = w.open_driver();
    let mut held: Vec<(BlkRequest, Ticket)> = Vec::new();
    for &s in script {
        match s {
            Step::Submit(n) => w.submit(n),
            Step::Collect => w.collect(),
            _ if w.crashed() => {}
            Step::Take => {
                if let Some(t) = q.take().unwrap() {
                    held.push(t);
                }
            }
            Step::Post(k) if !held.is_empty() => {
                let t = held[k % held.len()].1;
                q.posted(t);
            }
            Step::Answer(k) if !held.is_empty() => {
                let (r, t) = held.remove(k % held.len());
                let (status, count) = verdict(&r);
                q.answer(t, status, count).unwrap();
            }
            Step::Publish => {
                q.publish().unwrap();
            }
            _ => {}
        }
    }
    let spent = start - w.budget.get().unwrap_or(0);
    // The restart: nothing private survives.
    drop((q, held));
    if let Some(again) = again {
        // The restarted instance recovers, serves and crashes in turn.
        w.budget.set(Some(again));
        let (mut q, _, corrupt) = w.open_driver();
        prop_assert!(!corrupt, "a crash alone is not corruption");
        serve_everything(&mut w, &mut q);
        check(&w, false)?;
    }
    w.budget.set(None);
    let (mut q, rec, corrupt) = w.open_driver();
    prop_assert!(!corrupt && !rec.corrupt, "a crash alone is not corruption: {rec:?}");
    serve_everything(&mut w, &mut q);
    check(&w, true)?;
    Ok(spent)
}

/// The driver takes, answers and publishes until nothing is left; the
/// client collects.
fn serve_everything(w: &mut World, q: &mut ClientQueues<Crashing>) {
    for _ in 0..1000 {
        while let Some((r, t)) = q.take().unwrap() {
            q.posted(t);
            let (status, count) = verdict(&r);
            q.answer(t, status, count).unwrap();
        }
        q.publish().unwrap();
        w.collect();
        if q.owed() == 0 && w.answers.len() == w.submitted.len() {
            break;
        }
    }
}

/// Every request answered once (`complete`) or at most once, each answer
/// the verdict for its request.
fn check(w: &World, complete: bool) -> Result<(), TestCaseError> {
    for (id, answers) in &w.answers {
        let r = w.submitted.get(id);
        prop_assert!(r.is_some(), "answer to id {id}, never submitted");
        prop_assert_eq!(answers.len(), 1, "id {} answered {} times", id, answers.len());
        let (status, count) = verdict(r.unwrap());
        prop_assert_eq!(answers[0], (status as u32, count), "id {}", id);
    }
    if complete {
        let missing: Vec<_> = w.submitted.keys().filter(|id| !w.answers.contains_key(id)).collect();
        prop_assert!(missing.is_empty(), "never answered: {missing:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A crash after every possible number of writes, each followed by a
    /// restart that serves everything: exactly once, every time.
    #[test]
    fn crash_at_every_write(script in proptest::collection::vec(step(), 1..40)) {
        let total = run(&script, None)?;
        for budget in 0..=total {
            run(&script, Some(budget))?;
        }
    }

    /// A crash, then one journal byte flipped: the restart either
    /// recovers (the byte was in a copy that is not the newest) or reports
    /// corruption; either way no request is answered twice, and each
    /// answer is the verdict or ERR_IO.
    #[test]
    fn corruption_never_answers_twice(
        script in proptest::collection::vec(step(), 1..40),
        budget in 0usize..400,
        flip_at in 0usize..JOURNAL_REGION_SIZE,
        flip in 1u8..=255,
    ) {
        let mut w = World::new();
        w.budget.set(Some(budget));
        let (mut q, _, _) = w.open_driver();
        let mut held = Vec::new();
        for &s in &script {
            match s {
                Step::Submit(n) => w.submit(n),
                Step::Collect => w.collect(),
                Step::Take => if let Some(t) = q.take().unwrap() { held.push(t) },
                Step::Post(k) if !held.is_empty() => { let t = held[k % held.len()].1; q.posted(t) }
                Step::Answer(k) if !held.is_empty() => {
                    let (r, t): (BlkRequest, Ticket) = held.remove(k % held.len());
                    let (status, count) = verdict(&r);
                    q.answer(t, status, count).unwrap();
                }
                Step::Publish => { q.publish().unwrap(); }
                _ => {}
            }
        }
        drop((q, held));
        let journal = w.regions[2].memory();
        let byte: u8 = journal.read(flip_at).unwrap();
        journal.write(flip_at, byte ^ flip).unwrap();
        w.budget.set(None);
        let (mut q, rec, corrupt) = w.open_driver();
        serve_everything(&mut w, &mut q);
        for (id, answers) in &w.answers {
            prop_assert_eq!(answers.len(), 1, "id {} answered {} times", id, answers.len());
            let (status, count) = verdict(&w.submitted[id]);
            let a = answers[0];
            prop_assert!(a == (status as u32, count) || a == (BlkStatus::Io as u32, 0), "id {id}: {a:?}");
        }
        if !(corrupt || rec.corrupt) {
            check(&w, true)?;
        }
    }
}

/// A fresh region opens empty; opening it again counts the opens.
#[test]
fn fresh_then_reopened() {
    let region = HeapRegion::new(JOURNAL_REGION_SIZE);
    let (j, opened) = Journal::open(region.memory()).unwrap();
    assert_eq!((opened.previous_opens, opened.corrupt(), j.unanswered()), (0, false, 0));
    let (_, opened) = Journal::open(region.memory()).unwrap();
    assert_eq!((opened.previous_opens, opened.corrupt()), (1, false));
}

/// A region too small for the journal is refused with its size.
#[test]
fn too_small_region_refused() {
    let region = HeapRegion::new(4096);
    let err = Journal::open(region.memory()).err().unwrap();
    assert_eq!(err.len, 4096);
}

/// A header that is neither zero nor a journal's is reported, and the
/// journal is usable afterwards.
#[test]
fn garbage_header_is_corruption() {
    let region = HeapRegion::new(JOURNAL_REGION_SIZE);
    region.memory().write::<u32>(0, 0xdead_beef).unwrap();
    let (_, opened) = Journal::open(region.memory()).unwrap();
    assert!(opened.bad_header && opened.corrupt());
    let (_, opened) = Journal::open(region.memory()).unwrap();
    assert!(!opened.corrupt());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A crash, and another in the restarted instance (during its
    /// recovery, or later): the third instance still answers every
    /// request exactly once. (A torn copy the second instance did not
    /// rewrite would read as damage to the third.)
    #[test]
    fn crash_during_recovery(
        script in proptest::collection::vec(step(), 1..40),
        first in 0usize..600,
        again in prop_oneof![0usize..40, 0usize..600],
    ) {
        run_crashing_again(&script, Some(first), Some(again))?;
    }
}
