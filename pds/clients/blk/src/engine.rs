//! Requests in flight: the client's side of the request and response
//! queues, with a table of what was submitted so that every response can
//! be matched to its request (responses may come in any order).
//!
//! A request's `id` is `slot | generation << 8`: the slot in the table and
//! a counter that changes on every submission, so a stale or repeated
//! response does not match. A response whose id names no request in
//! flight is [`EngineError::UnknownId`]: the driver misbehaved.
//!
//! Batching: [`Engine::submit`] only stages; [`Engine::flush`] publishes
//! the staged requests and the consumed responses, and says whether the
//! driver must be notified (sDDF's blk queues have no suppression flag, so
//! a producer notifies after every batch it publishes).

use crate::Failure;
use sevio_queue::{BlkRequest, BlkRequestProducer, BlkResponseConsumer, BlkStatus, QueueError};
use sevio_sharedmem::SharedMemory;

/// Most requests the client keeps in flight (table size): as many as the
/// queues hold, so the client can have more outstanding than a driver
/// takes at once, as an sDDF virtualiser may.
pub const MAX_IN_FLIGHT: usize = 128;

// The occupancy mask is a u128, slot numbers fit the id's low byte, and a
// full table fits the request queue (every slot of which is usable).
const _: () = assert!(MAX_IN_FLIGHT <= 128 && MAX_IN_FLIGHT <= crate::BLK_QUEUE_CAPACITY as usize);

/// What the engine remembers of a request in flight (its buffer offset
/// is the submitter's business).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Sent {
    /// First block.
    pub block_number: u64,
    /// Operation code.
    pub code: u32,
    /// The id the request carried.
    pub id: u32,
    /// Blocks.
    pub count: u16,
}

/// A completed request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The request as submitted (with its id).
    pub request: Sent,
    /// The caller's tag given at submission.
    pub tag: u32,
    /// The table slot it occupied.
    pub slot: usize,
    /// The raw status from the driver.
    pub status: u32,
    /// Blocks transferred, as the driver reports.
    pub success_count: u16,
}

impl Completion {
    /// The status, if it is one sDDF defines.
    pub fn status(&self) -> Option<BlkStatus> {
        BlkStatus::from_u32(self.status)
    }
    /// Whether the driver answered OK.
    pub fn is_ok(&self) -> bool {
        self.status == BlkStatus::Ok as u32
    }

    /// OK, with exactly the blocks asked for.
    pub fn check_transfer(&self) -> Result<(), Failure> {
        let r = self.request;
        if !self.is_ok() {
            return Err(Failure::Request { code: r.code, block: r.block_number, count: r.count, status: self.status });
        }
        if self.success_count != r.count {
            return Err(Failure::ShortTransfer {
                code: r.code,
                block: r.block_number,
                count: r.count,
                success_count: self.success_count,
            });
        }
        Ok(())
    }
}

/// What can go wrong in the queues.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// A queue reported an error (a peer index out of range, a full
    /// queue, memory too small).
    Queue(QueueError),
    /// A response named no request in flight.
    UnknownId(u32),
    /// The caller asked for a slot that is taken or out of range (a client
    /// bug, reported rather than panicking).
    BadSlot(usize),
}

impl From<QueueError> for EngineError {
    fn from(e: QueueError) -> Self {
        EngineError::Queue(e)
    }
}

/// The request/response queue pair and the table of requests in flight.
pub struct Engine {
    requests: BlkRequestProducer,
    responses: BlkResponseConsumer,
    slots: [Sent; MAX_IN_FLIGHT],
    tags: [u32; MAX_IN_FLIGHT],
    /// Bit `s` set: slot `s` holds a request in flight.
    occupied: u128,
    in_flight: usize,
    generation: u32,
    submitted: u64,
    completed: u64,
}

impl Engine {
    /// The client ends of the queues in `request` and `response`, each of
    /// `capacity` entries.
    pub fn new(request: SharedMemory, response: SharedMemory, capacity: u32) -> Result<Self, QueueError> {
        Ok(Engine {
            requests: BlkRequestProducer::new(request, capacity)?,
            responses: BlkResponseConsumer::new(response, capacity)?,
            slots: [Sent::default(); MAX_IN_FLIGHT],
            tags: [0; MAX_IN_FLIGHT],
            occupied: 0,
            in_flight: 0,
            generation: 0,
            submitted: 0,
            completed: 0,
        })
    }

    /// Requests submitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Requests submitted so far.
    pub fn submitted(&self) -> u64 {
        self.submitted
    }

    /// Requests answered so far.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// The lowest free slot below `depth` (capped at [`MAX_IN_FLIGHT`]),
    /// if fewer than `depth` requests are in flight.
    pub fn free_slot(&self, depth: usize) -> Option<usize> {
        let depth = depth.min(MAX_IN_FLIGHT);
        if self.in_flight >= depth {
            return None;
        }
        let free = !self.occupied & mask_below(depth);
        (free != 0).then(|| free.trailing_zeros() as usize)
    }

    /// Stage `request` (its `id` is replaced) in `slot`, remembering
    /// `tag`. Visible to the driver after [`Engine::flush`].
    pub fn submit(&mut self, slot: usize, mut request: BlkRequest, tag: u32) -> Result<(), EngineError> {
        if slot >= MAX_IN_FLIGHT || self.occupied & 1 << slot != 0 {
            return Err(EngineError::BadSlot(slot));
        }
        self.generation = self.generation.wrapping_add(1) & 0x00ff_ffff;
        request.id = slot as u32 | self.generation << 8;
        self.requests.stage(request)?;
        let sent =
            Sent { block_number: request.block_number, code: request.code, id: request.id, count: request.count };
        self.slots[slot] = sent;
        self.tags[slot] = tag;
        self.occupied |= 1 << slot;
        self.in_flight += 1;
        self.submitted += 1;
        Ok(())
    }

    /// The next response, matched to its request; `Ok(None)` when the
    /// response queue is empty. The slot is free again afterwards.
    pub fn next_completion(&mut self) -> Result<Option<Completion>, EngineError> {
        let Some(resp) = self.responses.take()? else { return Ok(None) };
        let slot = (resp.id & 0xff) as usize;
        let request = match self.slots.get(slot) {
            Some(sent) if self.occupied & 1 << slot != 0 && sent.id == resp.id => *sent,
            _ => return Err(EngineError::UnknownId(resp.id)),
        };
        self.occupied &= !(1 << slot);
        self.in_flight -= 1;
        self.completed += 1;
        Ok(Some(Completion {
            request,
            tag: self.tags[slot],
            slot,
            status: resp.status,
            success_count: resp.success_count,
        }))
    }

    /// Publish consumed responses and staged requests. Returns whether
    /// new requests were published, i.e. whether to notify the driver.
    pub fn flush(&mut self) -> Result<bool, EngineError> {
        self.responses.publish()?;
        let staged = self.requests.staged() > 0;
        self.requests.publish()?;
        Ok(staged)
    }
}

/// The low `n` bits (n <= 128).
fn mask_below(n: usize) -> u128 {
    if n >= 128 { u128::MAX } else { (1 << n) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_queue::{BlkRequestConsumer, BlkResponse, BlkResponseProducer};
    use sevio_sharedmem::HeapRegion;

    fn pair() -> (Engine, BlkRequestConsumer, BlkResponseProducer, [HeapRegion; 2]) {
        let regions = [HeapRegion::new(0x2000), HeapRegion::new(0x2000)];
        let engine = Engine::new(regions[0].memory(), regions[1].memory(), 128).unwrap();
        let rc = BlkRequestConsumer::new(regions[0].memory(), 128).unwrap();
        let rp = BlkResponseProducer::new(regions[1].memory(), 128).unwrap();
        (engine, rc, rp, regions)
    }

    #[test]
    fn out_of_order_responses_match_their_requests() {
        let (mut e, mut rc, mut rp, _r) = pair();
        for (slot, block) in [(0, 10u64), (1, 20)] {
            assert_eq!(e.free_slot(4), Some(slot));
            e.submit(slot, BlkRequest { block_number: block, count: 1, ..Default::default() }, block as u32).unwrap();
        }
        assert!(rc.take().unwrap().is_none(), "staged requests are not visible before flush");
        assert!(e.flush().unwrap());
        assert!(!e.flush().unwrap(), "nothing new: no notification");
        let a = rc.take().unwrap().unwrap();
        let b = rc.take().unwrap().unwrap();
        assert_ne!(a.id, b.id);
        rp.enqueue(BlkResponse::new(BlkStatus::Ok, 1, b.id)).unwrap();
        rp.enqueue(BlkResponse::new(BlkStatus::Io, 0, a.id)).unwrap();
        let c1 = e.next_completion().unwrap().unwrap();
        assert_eq!((c1.tag, c1.request.block_number, c1.is_ok()), (20, 20, true));
        let c2 = e.next_completion().unwrap().unwrap();
        assert_eq!((c2.tag, c2.status()), (10, Some(BlkStatus::Io)));
        assert_eq!(e.in_flight(), 0);
        assert_eq!(e.next_completion().unwrap(), None);
    }

    #[test]
    fn unknown_and_repeated_ids_are_errors() {
        let (mut e, mut rc, mut rp, _r) = pair();
        e.submit(0, BlkRequest::default(), 0).unwrap();
        e.flush().unwrap();
        let req = rc.take().unwrap().unwrap();
        rp.enqueue(BlkResponse::new(BlkStatus::Ok, 0, req.id)).unwrap();
        rp.enqueue(BlkResponse::new(BlkStatus::Ok, 0, req.id)).unwrap();
        assert!(e.next_completion().unwrap().is_some());
        assert_eq!(e.next_completion(), Err(EngineError::UnknownId(req.id)));
        rp.enqueue(BlkResponse::new(BlkStatus::Ok, 0, 0xff)).unwrap();
        assert_eq!(e.next_completion(), Err(EngineError::UnknownId(0xff)));
    }

    #[test]
    fn depth_limits_slots_and_taken_slots_are_refused() {
        let (mut e, _rc, _rp, _r) = pair();
        e.submit(0, BlkRequest::default(), 0).unwrap();
        assert_eq!(e.free_slot(1), None);
        assert_eq!(e.free_slot(2), Some(1));
        assert_eq!(e.submit(0, BlkRequest::default(), 0), Err(EngineError::BadSlot(0)));
        assert_eq!(e.submit(MAX_IN_FLIGHT, BlkRequest::default(), 0), Err(EngineError::BadSlot(MAX_IN_FLIGHT)));
    }

    #[test]
    fn a_full_table_fills_the_request_queue() {
        let (mut e, mut rc, _rp, _r) = pair();
        for _ in 0..MAX_IN_FLIGHT {
            let slot = e.free_slot(MAX_IN_FLIGHT).unwrap();
            e.submit(slot, BlkRequest::default(), 0).unwrap();
        }
        assert_eq!(e.free_slot(MAX_IN_FLIGHT), None);
        assert!(e.flush().unwrap());
        let mut n = 0;
        while rc.take().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, MAX_IN_FLIGHT, "all outstanding at once");
    }
}
