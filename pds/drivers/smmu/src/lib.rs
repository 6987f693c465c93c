//! The Arm SMMUv3 PD: confines each PCI device's DMA to the regions its
//! driver's binding owns, as the bus asks, with the same confinement
//! pages and channel as the virtio-iommu PD (`sevio_bus_protocol::
//! confine`).
//!
//! Driver slot k's regions (from system.xml, never from the driver) are
//! mapped identity, read-write, into stage-2 tables built once at start
//! ([`pagetable`]). "Confine endpoint E for driver k": stream E's Stream
//! Table Entry is pointed at slot k's tables with VMID k + 1, then
//! CMD_CFGI_STE, CMD_TLBI_S12_VMALL and CMD_SYNC, waited for; answer
//! `Confined`. "Release": the entry aborts again, the same commands;
//! answer `Released`. Every stream nobody confined aborts (GBPA abort
//! while the SMMU is off, a valid aborting entry once it is on).
//!
//! The SMMU's events ([`event`]: the producer index and every record
//! checked first) are logged with the stream id and address; an access
//! fault of a confined stream is recorded in its slot's answer, which the
//! bus treats as driver k's fault.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod event;
pub mod pagetable;
pub mod smmu;
pub mod spec;

use core::fmt;
use event::Event;
use pagetable::Arena;
use sevio_bus_protocol::confine::{IommuSide, Outcome, SLOTS, Wish};
use sevio_driver_iommu::{Bdf, CONFIGURED_SLOTS, DriverOf, REGIONS_PER_SLOT, RegionVars};
use sevio_runtime::debug_println;
use smmu::{Registers, STREAMS, Smmu, SmmuError};
use spec::{Command, EventType, Stage2, Ste};

/// Fault flags recorded for the bus, as the virtio-iommu PD's (VIRTIO
/// 1.2 §5.13.6.7): read, write.
pub mod fault_flags {
    /// The device read memory.
    pub const READ: u32 = 1;
    /// The device wrote memory.
    pub const WRITE: u32 = 2;
}

/// The confinement service: the SMMU, the bus's pages, each slot's
/// tables.
pub struct Confiner<R: Registers> {
    smmu: Smmu<R>,
    side: IommuSide,
    /// Slot k's level-1 table, if its regions could all be mapped.
    roots: [Option<u64>; CONFIGURED_SLOTS],
    /// The stream each slot's tables are attached to now.
    attached: [Option<u16>; SLOTS],
    /// The request number of the wish each slot had answered.
    handled: [u32; SLOTS],
    /// Access faults the SMMU reported so far.
    pub faults: u32,
}

impl<R: Registers> Confiner<R> {
    /// Build slot k's tables from `regions[k]` (a slot with none, or
    /// with one that cannot be mapped, is refused whenever it is asked
    /// for: logged now).
    pub fn new(
        smmu: Smmu<R>,
        mut arena: Arena,
        side: IommuSide,
        regions: &[[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS],
    ) -> Confiner<R> {
        let mut roots = [None; CONFIGURED_SLOTS];
        for (slot, (root, regions)) in roots.iter_mut().zip(regions).enumerate() {
            if regions.iter().all(|r| r.size == 0) {
                continue;
            }
            let built = arena.table().and_then(|table| {
                for r in regions.iter().filter(|r| r.size != 0) {
                    if let Err(e) = arena.map_identity(table, r.paddr, r.size) {
                        debug_println!(
                            "smmu: slot {slot}: region {:#x}+{:#x} cannot be mapped: {e:?}",
                            r.paddr,
                            r.size
                        );
                        return Err(e);
                    }
                }
                Ok(table)
            });
            *root = built.ok();
        }
        Confiner { smmu, side, roots, attached: [None; SLOTS], handled: [0; SLOTS], faults: 0 }
    }

    /// The SMMU (for tests).
    pub fn smmu(&self) -> &Smmu<R> {
        &self.smmu
    }

    /// Carry out every wish newer than its slot's last answer; returns
    /// whether an answer was written (the bus must be notified).
    pub fn pump(&mut self) -> bool {
        let mut answered = false;
        for slot in 0..SLOTS {
            let Some(wish) = self.side.wish(slot) else { continue };
            if wish.seq() == 0 || wish.seq() == self.handled[slot] {
                continue;
            }
            let outcome = self.carry_out(slot, wish);
            self.side.answer(slot, wish.seq(), outcome);
            self.handled[slot] = wish.seq();
            answered = true;
        }
        answered
    }

    fn carry_out(&mut self, slot: usize, wish: Wish) -> Outcome {
        let vmid = slot as u16 + 1;
        if let Some(old) = self.attached[slot].take()
            && let Err(e) = self.abort_stream(old, vmid)
        {
            debug_println!("smmu: driver {slot}: releasing device {} failed: {e:?}", Bdf(old));
            return Outcome::Refused;
        }
        let Wish::Confine { endpoint, .. } = wish else { return Outcome::Released };
        let Some(root) = self.roots.get(slot).copied().flatten() else {
            debug_println!("smmu: driver {slot}: no tables (no regions in system.xml, or unmappable)");
            return Outcome::Refused;
        };
        if u32::from(endpoint) >= STREAMS {
            debug_println!("smmu: driver {slot}: device {} is past the stream table", Bdf(endpoint));
            return Outcome::Refused;
        }
        // The entry is the stream's: a slot that held it no longer does.
        for held in self.attached.iter_mut().filter(|a| **a == Some(endpoint)) {
            *held = None;
        }
        let sid = u32::from(endpoint);
        let done = self
            .smmu
            .write_ste(sid, Ste::stage2(Stage2 { vmid, root }))
            .and_then(|()| self.smmu.run(&[Command::CfgiSte { sid }, Command::TlbiS12Vmall { vmid }]));
        match done {
            Ok(()) => {
                self.attached[slot] = Some(endpoint);
                debug_println!("smmu: driver {slot}: device {} confined", Bdf(endpoint));
                Outcome::Confined
            }
            Err(e) => {
                debug_println!("smmu: driver {slot}: confining device {} failed: {e:?}", Bdf(endpoint));
                let _ = self.abort_stream(endpoint, vmid);
                Outcome::Refused
            }
        }
    }

    fn abort_stream(&mut self, endpoint: u16, vmid: u16) -> Result<(), SmmuError> {
        let sid = u32::from(endpoint);
        self.smmu.write_ste(sid, Ste::ABORT)?;
        self.smmu.run(&[Command::CfgiSte { sid }, Command::TlbiS12Vmall { vmid }])
    }

    /// The SMMU interrupted (event queue or global error): log global
    /// errors, take the events; returns whether a fault was recorded for
    /// the bus.
    pub fn interrupt(&mut self) -> bool {
        let errors = self.smmu.global_errors();
        if errors & spec::gerror::EVENTQ_ABT_ERR != 0 {
            debug_println!("smmu: the event queue was full: the SMMU dropped events (GERROR.EVENTQ_ABT_ERR)");
        }
        if errors & !spec::gerror::EVENTQ_ABT_ERR != 0 {
            debug_println!("smmu: global error(s) {errors:#x} (SMMU_GERROR)");
        }
        let mut faults: [Option<Event>; 8] = [None; 8];
        let mut n = 0;
        let mut more = 0u32;
        let taken = self.smmu.events(|e| match e {
            Ok(event) => match faults.get_mut(n) {
                Some(f) => {
                    *f = Some(event);
                    n += 1;
                }
                None => more += 1,
            },
            Err(e) => debug_println!("smmu: event record refused: {e:?}"),
        });
        match taken {
            Ok(true) => debug_println!("smmu: the event queue overflowed: events were lost"),
            Ok(false) => {}
            Err(e) => debug_println!("smmu: event queue refused: {e:?}"),
        }
        let mut recorded = false;
        for event in faults.iter().flatten() {
            recorded |= self.event(event);
        }
        if more > 0 {
            debug_println!("smmu: {more} more event(s) in this burst, not logged");
        }
        recorded
    }

    /// Log one event; an access fault of a confined stream is recorded
    /// for its slot.
    fn event(&mut self, e: &Event) -> bool {
        let slot = self.attached.iter().position(|a| a.is_some_and(|a| u32::from(a) == e.sid));
        let whose = DriverOf(slot);
        let bdf = Bdf(e.sid as u16);
        let (Some(address), Some(read)) = (e.address, e.read) else {
            debug_println!("smmu: event {:?}: device {bdf} ({whose})", e.kind);
            return false;
        };
        self.faults = self.faults.wrapping_add(1);
        let access = if read { "read" } else { "write" };
        debug_println!("smmu: DMA fault: device {bdf} ({whose}) {access} at {address:#x} refused ({})", Kind(e.kind));
        let Some(slot) = slot else { return false };
        let flags = if read { fault_flags::READ } else { fault_flags::WRITE };
        self.side.fault(slot, Some(address), flags);
        true
    }
}

/// An event type by the spec's name.
struct Kind(EventType);

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            EventType::FUut => "F_UUT",
            EventType::FTranslForbidden => "F_TRANSL_FORBIDDEN",
            EventType::FWalkEabt => "F_WALK_EABT",
            EventType::FTranslation => "F_TRANSLATION",
            EventType::FAddrSize => "F_ADDR_SIZE",
            EventType::FAccess => "F_ACCESS",
            EventType::FPermission => "F_PERMISSION",
            other => return write!(f, "{other:?}"),
        };
        f.write_str(name)
    }
}
