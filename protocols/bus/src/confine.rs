//! Bus <-> IOMMU PD: which bindings must be confined, and what came of it.
//!
//! The bus has the highest priority and Microkit lets a PD call only a
//! higher one, so the bus cannot ask the IOMMU PD (a driver, below the
//! transports) by PPC. It writes requests into a page the IOMMU PD maps
//! read-only and notifies it; the IOMMU PD answers in a second page the
//! bus maps read-only and notifies back. Each page has one writer.
//!
//! Slot k of each page belongs to driver k (bus-side channel 8 + k), 32
//! bytes per slot, [`SLOTS`] slots:
//!
//! - requests page, word 0: `seq << 32 | ATTACH_BIT | endpoint`: the
//!   bus's `seq`-th wish for driver k: with [`ATTACH_BIT`], "the device
//!   with requester id `endpoint` may reach driver k's regions, and
//!   nothing else"; without it, "driver k's device may reach nothing".
//!   `seq` 0: never asked (nothing confined; unattached endpoints are
//!   blocked by the IOMMU).
//! - answers page, word 0: `seq << 32 | outcome` for the latest request
//!   handled; word 1: faults reported for the slot so far (a count);
//!   word 2: the last fault's address ([`NO_ADDRESS`] if the device gave
//!   none); word 3: the IOMMU's fault flags.
//!
//! Words are written with release and read with acquire ordering, each
//! a single 64-bit store: a reader never sees half a word. Whatever the
//! other side wrote is checked ([`Answer::decode`], [`Wish::decode`]).

use core::sync::atomic::Ordering;
use sevio_sharedmem::SharedMemory;

/// Slots per page: one per driver id the bus has (0..16).
pub const SLOTS: usize = 16;
/// Bytes per slot.
pub const SLOT_BYTES: usize = 32;
/// Bytes a page needs.
pub const PAGE_BYTES: usize = SLOTS * SLOT_BYTES;
/// Set in a request: attach (confine); clear: detach.
pub const ATTACH_BIT: u64 = 1 << 16;
/// The fault address word when the device reported none.
pub const NO_ADDRESS: u64 = u64::MAX;

/// What the bus wants for one driver's device.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Wish {
    /// Never asked.
    None,
    /// Confine the endpoint (a PCI requester id) to the driver's regions.
    Confine {
        /// Request number.
        seq: u32,
        /// PCI requester id: bus << 8 | device << 3 | function.
        endpoint: u16,
    },
    /// Take every mapping of the driver's device away.
    Release {
        /// Request number.
        seq: u32,
        /// The endpoint last confined.
        endpoint: u16,
    },
}

impl Wish {
    /// The request number (0 for [`Wish::None`]).
    pub fn seq(&self) -> u32 {
        match *self {
            Wish::None => 0,
            Wish::Confine { seq, .. } | Wish::Release { seq, .. } => seq,
        }
    }

    /// The word for the requests page.
    pub fn encode(&self) -> u64 {
        match *self {
            Wish::None => 0,
            Wish::Confine { seq, endpoint } => u64::from(seq) << 32 | ATTACH_BIT | u64::from(endpoint),
            Wish::Release { seq, endpoint } => u64::from(seq) << 32 | u64::from(endpoint),
        }
    }

    /// The wish in a requests-page word, or `None` for a word with bits
    /// no wish has.
    pub fn decode(word: u64) -> Option<Wish> {
        if word & !(0xffff_ffff << 32 | ATTACH_BIT | 0xffff) != 0 {
            return None;
        }
        let seq = (word >> 32) as u32;
        let endpoint = word as u16;
        Some(match (seq, word & ATTACH_BIT != 0) {
            (0, _) if word == 0 => Wish::None,
            (0, _) => return None,
            (seq, true) => Wish::Confine { seq, endpoint },
            (seq, false) => Wish::Release { seq, endpoint },
        })
    }
}

/// How the IOMMU PD answered a wish.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Attached and every region mapped: the device reaches those and
    /// nothing else.
    Confined,
    /// Detached and unmapped.
    Released,
    /// Could not be done (logged by the IOMMU PD); the endpoint is left
    /// attached to nothing, so its DMA is blocked.
    Refused,
}

impl Outcome {
    fn code(self) -> u64 {
        match self {
            Outcome::Confined => 1,
            Outcome::Released => 2,
            Outcome::Refused => 3,
        }
    }
}

/// One slot of the answers page.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The request answered and how (`None`: nothing answered yet).
    pub latest: Option<(u32, Outcome)>,
    /// Faults reported so far.
    pub faults: u64,
    /// The last fault's address, if the device gave one.
    pub fault_address: Option<u64>,
    /// The last fault's flags.
    pub fault_flags: u64,
}

impl Answer {
    /// The answer in a slot's four words; `None` if word 0 holds an
    /// outcome no IOMMU PD writes.
    pub fn decode(words: [u64; 4]) -> Option<Answer> {
        let seq = (words[0] >> 32) as u32;
        let latest = match words[0] & 0xffff_ffff {
            0 if words[0] == 0 => None,
            1 => Some((seq, Outcome::Confined)),
            2 => Some((seq, Outcome::Released)),
            3 => Some((seq, Outcome::Refused)),
            _ => return None,
        };
        let fault_address = (words[2] != NO_ADDRESS).then_some(words[2]);
        Some(Answer { latest, faults: words[1], fault_address, fault_flags: words[3] })
    }
}

/// The bus's side: writes wishes, reads answers.
pub struct BusSide {
    requests: SharedMemory,
    answers: SharedMemory,
}

/// The IOMMU PD's side: reads wishes, writes answers.
pub struct IommuSide {
    requests: SharedMemory,
    answers: SharedMemory,
}

/// A page too small for [`PAGE_BYTES`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PageTooSmall {
    /// Its size.
    pub len: usize,
}

fn check(page: &SharedMemory) -> Result<(), PageTooSmall> {
    if page.len() < PAGE_BYTES { Err(PageTooSmall { len: page.len() }) } else { Ok(()) }
}

fn word(page: &SharedMemory, slot: usize, index: usize) -> u64 {
    if slot >= SLOTS {
        return 0;
    }
    page.load_u64(slot * SLOT_BYTES + index * 8, Ordering::Acquire).unwrap_or(0)
}

fn put(page: &SharedMemory, slot: usize, index: usize, value: u64) {
    if slot < SLOTS {
        let _ = page.store_u64(slot * SLOT_BYTES + index * 8, value, Ordering::Release);
    }
}

impl BusSide {
    /// Over the two pages; the bus zeroes its requests page (no wishes).
    pub fn new(requests: SharedMemory, answers: SharedMemory) -> Result<BusSide, PageTooSmall> {
        check(&requests)?;
        check(&answers)?;
        for slot in 0..SLOTS {
            put(&requests, slot, 0, 0);
        }
        Ok(BusSide { requests, answers })
    }

    /// Write driver `slot`'s wish (a slot past [`SLOTS`] is ignored).
    pub fn wish(&self, slot: usize, wish: Wish) {
        put(&self.requests, slot, 0, wish.encode());
    }

    /// The wish last written for `slot`.
    pub fn current(&self, slot: usize) -> Wish {
        Wish::decode(word(&self.requests, slot, 0)).unwrap_or(Wish::None)
    }

    /// Driver `slot`'s answer, or `None` for words no IOMMU PD writes.
    pub fn answer(&self, slot: usize) -> Option<Answer> {
        Answer::decode([0, 1, 2, 3].map(|i| word(&self.answers, slot, i)))
    }
}

impl IommuSide {
    /// Over the two pages; the IOMMU PD zeroes its answers page.
    pub fn new(requests: SharedMemory, answers: SharedMemory) -> Result<IommuSide, PageTooSmall> {
        check(&requests)?;
        check(&answers)?;
        for slot in 0..SLOTS {
            for i in 0..4 {
                put(&answers, slot, i, if i == 2 { NO_ADDRESS } else { 0 });
            }
        }
        Ok(IommuSide { requests, answers })
    }

    /// Driver `slot`'s wish; `None` for a word the bus never writes.
    pub fn wish(&self, slot: usize) -> Option<Wish> {
        Wish::decode(word(&self.requests, slot, 0))
    }

    /// Answer request `seq` of `slot`.
    pub fn answer(&self, slot: usize, seq: u32, outcome: Outcome) {
        put(&self.answers, slot, 0, u64::from(seq) << 32 | outcome.code());
    }

    /// Record a fault of `slot`'s device.
    pub fn fault(&self, slot: usize, address: Option<u64>, flags: u32) {
        let count = word(&self.answers, slot, 1);
        put(&self.answers, slot, 2, address.unwrap_or(NO_ADDRESS));
        put(&self.answers, slot, 3, u64::from(flags));
        put(&self.answers, slot, 1, count.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[test]
    fn wishes_round_trip_and_stray_bits_are_refused() {
        for wish in
            [Wish::None, Wish::Confine { seq: 1, endpoint: 0x10 }, Wish::Release { seq: u32::MAX, endpoint: 0xffff }]
        {
            assert_eq!(Wish::decode(wish.encode()), Some(wish));
        }
        assert_eq!(Wish::decode(1 << 20), None, "a bit no wish has");
        assert_eq!(Wish::decode(ATTACH_BIT | 5), None, "seq 0 with an endpoint");
    }

    #[test]
    fn the_bus_wishes_and_the_iommu_answers_and_reports_faults() {
        let requests = HeapRegion::new(4096);
        let answers = HeapRegion::new(4096);
        let iommu = IommuSide::new(requests.memory(), answers.memory()).unwrap();
        let bus = BusSide::new(requests.memory(), answers.memory()).unwrap();
        assert_eq!(iommu.wish(3), Some(Wish::None));
        assert_eq!(bus.answer(3).unwrap().latest, None);
        bus.wish(3, Wish::Confine { seq: 1, endpoint: 0x10 });
        assert_eq!(iommu.wish(3), Some(Wish::Confine { seq: 1, endpoint: 0x10 }));
        assert_eq!(bus.current(3), Wish::Confine { seq: 1, endpoint: 0x10 });
        iommu.answer(3, 1, Outcome::Confined);
        assert_eq!(bus.answer(3).unwrap().latest, Some((1, Outcome::Confined)));
        iommu.fault(3, Some(0x4900_0000), 2);
        iommu.fault(3, None, 1);
        let a = bus.answer(3).unwrap();
        assert_eq!((a.faults, a.fault_address, a.fault_flags), (2, None, 1));
        assert_eq!(bus.answer(4).unwrap().faults, 0, "slots are separate");
        bus.wish(SLOTS, Wish::Confine { seq: 9, endpoint: 1 });
        assert_eq!(bus.current(SLOTS), Wish::None, "past the table: ignored");
    }

    #[test]
    fn garbage_in_the_answers_page_is_refused_and_small_pages_too() {
        let requests = HeapRegion::new(4096);
        let answers = HeapRegion::new(4096);
        let bus = BusSide::new(requests.memory(), answers.memory()).unwrap();
        answers.memory().store_u64(0, 1 << 32 | 7, Ordering::Release).unwrap();
        assert_eq!(bus.answer(0), None);
        let small = HeapRegion::new(PAGE_BYTES - 1);
        assert_eq!(BusSide::new(small.memory(), answers.memory()).err(), Some(PageTooSmall { len: PAGE_BYTES - 1 }));
    }
}
