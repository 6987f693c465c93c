//! What the SMMU hands this PD, checked before use: the event queue's
//! producer index and each event record. This is the one place where
//! device-supplied data is read into values the PD acts on.

use crate::spec::EventType;

/// A queue's producer/consumer pointer format (§3.5: index in
/// [log2size - 1:0], wrap flag at bit log2size; event queue producer
/// OVFLG at bit 31, §6.3.29).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    log2size: u32,
}

/// The event queue's producer index broke §3.5 / §6.3.29.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// Bits set that are neither index, wrap nor OVFLG.
    StrayBits(u32),
    /// More entries between consumer and producer than the queue holds.
    TooMany(u32),
}

/// Bit 31 of SMMU_EVENTQ_PROD: events were lost (§6.3.29).
pub const OVERFLOW: u32 = 1 << 31;

impl Ring {
    /// A ring of 2^`log2size` entries (at most 2^19, SMMU_IDR1.EVENTQS).
    pub const fn new(log2size: u32) -> Ring {
        Ring { log2size }
    }

    /// Entries.
    pub const fn entries(&self) -> u32 {
        1 << self.log2size
    }

    /// index and wrap bits.
    const fn pointer_mask(&self) -> u32 {
        (2 << self.log2size) - 1
    }

    /// The entry a pointer indexes.
    pub const fn index(&self, pointer: u32) -> u32 {
        pointer & (self.entries() - 1)
    }

    /// The pointer after `pointer`, wrap flag toggling at the end.
    pub const fn advance(&self, pointer: u32) -> u32 {
        (pointer + 1) & self.pointer_mask()
    }

    /// Entries between `cons` (ours) and `prod` (read from the SMMU), and
    /// whether it reported an overflow. §3.5: the queue is empty when
    /// index and wrap are equal, full when the indexes are equal and the
    /// wraps differ; anything more than full, or a set bit §6.3.29 does
    /// not define, is refused.
    pub fn pending(&self, prod: u32, cons: u32) -> Result<(u32, bool), QueueError> {
        let stray = prod & !(self.pointer_mask() | OVERFLOW);
        if stray != 0 {
            return Err(QueueError::StrayBits(stray));
        }
        let count = prod.wrapping_sub(cons) & self.pointer_mask();
        if count > self.entries() {
            return Err(QueueError::TooMany(count));
        }
        Ok((count, prod & OVERFLOW != 0))
    }

    /// Whether a command queue with these pointers has no free entry.
    pub const fn full(&self, prod: u32, cons: u32) -> bool {
        self.index(prod) == self.index(cons) && (prod ^ cons) & self.entries() != 0
    }
}

/// An event record (§7.3), decoded and checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its type.
    pub kind: EventType,
    /// StreamID [63:32]: the PCI requester id here.
    pub sid: u32,
    /// InputAddr [191:128], for access faults.
    pub address: Option<u64>,
    /// RnW [99] of an access fault: `Some(true)` a device read of memory,
    /// `Some(false)` a write.
    pub read: Option<bool>,
}

/// Why an event record was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventError {
    /// A type code §7.3 does not define.
    UnknownType(u8),
    /// A stream id past the stream table, which the SMMU cannot have
    /// translated (it reports those as C_BAD_STREAMID, which names one,
    /// so the check applies to every other type).
    StreamOutOfRange(u32),
}

impl Event {
    /// Decode the four little-endian words of a record; `streams` is the
    /// number of stream table entries.
    pub fn decode(words: [u64; 4], streams: u32) -> Result<Event, EventError> {
        let code = words[0] as u8;
        let kind = EventType::from_code(code).ok_or(EventError::UnknownType(code))?;
        let sid = (words[0] >> 32) as u32;
        if sid >= streams && kind != EventType::CBadStreamId {
            return Err(EventError::StreamOutOfRange(sid));
        }
        let (address, read) =
            if kind.is_access_fault() { (Some(words[2]), Some(words[1] >> (99 - 64) & 1 != 0)) } else { (None, None) };
        Ok(Event { kind, sid, address, read })
    }

    /// The record as bytes (for tests and a fake SMMU).
    pub fn words_of(kind_code: u8, sid: u32, read: bool, address: u64) -> [u64; 4] {
        [u64::from(kind_code) | u64::from(sid) << 32, u64::from(read) << (99 - 64), address, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_translation_fault_is_decoded_with_stream_address_and_direction() {
        let e = Event::decode(Event::words_of(0x10, 0x10, false, 0x4830_0000), 256).unwrap();
        assert_eq!(
            e,
            Event { kind: EventType::FTranslation, sid: 0x10, address: Some(0x4830_0000), read: Some(false) }
        );
        let e = Event::decode(Event::words_of(0x04, 0x10, true, 0x1234), 256).unwrap();
        assert_eq!((e.kind, e.address, e.read), (EventType::CBadSte, None, None));
    }

    #[test]
    fn bad_types_and_streams_are_errors() {
        assert_eq!(Event::decode(Event::words_of(0x0c, 1, true, 0), 256), Err(EventError::UnknownType(0x0c)));
        assert_eq!(Event::decode(Event::words_of(0x10, 256, true, 0), 256), Err(EventError::StreamOutOfRange(256)));
        assert!(Event::decode(Event::words_of(0x02, 0xffff, true, 0), 256).is_ok(), "C_BAD_STREAMID names one");
    }

    #[test]
    fn producer_pointers_are_checked() {
        let ring = Ring::new(5);
        assert_eq!(ring.pending(0, 0), Ok((0, false)));
        assert_eq!(ring.pending(3, 0), Ok((3, false)));
        assert_eq!(ring.pending(32, 0), Ok((32, false)), "full: same index, wrap differs");
        assert_eq!(ring.pending(1 | 32, 30), Ok((3, false)), "across the wrap");
        assert_eq!(ring.pending(OVERFLOW | 2, 0), Ok((2, true)));
        assert_eq!(ring.pending(1 << 6, 0), Err(QueueError::StrayBits(1 << 6)));
        assert_eq!(ring.pending(33, 0), Err(QueueError::TooMany(33)));
        assert!(ring.full(32, 0) && !ring.full(31, 0) && !ring.full(5, 5));
        assert_eq!(ring.advance(63), 0);
    }

    proptest! {
        #[test]
        fn any_record_decodes_or_is_refused_never_panics(words in proptest::array::uniform4(any::<u64>()), streams in 0u32..=65536) {
            match Event::decode(words, streams) {
                Ok(e) => {
                    prop_assert!(EventType::from_code(words[0] as u8).is_some());
                    prop_assert!(e.sid < streams || e.kind == EventType::CBadStreamId);
                }
                Err(EventError::UnknownType(c)) => prop_assert!(EventType::from_code(c).is_none()),
                Err(EventError::StreamOutOfRange(s)) => prop_assert!(s >= streams),
            }
        }

        #[test]
        fn any_producer_value_is_accepted_only_within_the_queue(prod in any::<u32>(), cons in 0u32..64) {
            let ring = Ring::new(5);
            if let Ok((count, _)) = ring.pending(prod, cons) {
                prop_assert!(count <= 32);
                prop_assert_eq!(prod & !(63 | OVERFLOW), 0);
            }
        }
    }
}
