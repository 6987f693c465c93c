//! The Arm SMMUv3 PD: confines each PCI device's DMA to the regions its
//! driver's binding owns, as the bus asks, with the same confinement
//! pages and channel as the virtio-iommu PD (`sevio_bus_protocol::
//! confine`).
//!
//! Driver slot k's regions (from system.xml, never from the driver) are
//! mapped identity, read-write, into stage-2 tables built once at start
//! ([`pagetable`]); with MSI-X (system.xml gives `smmu_msi_frame_paddr`)
//! also the GICv2m frame page, write-only, so the device's MSI writes
//! reach the GIC ([`slot_tables`]). "Confine endpoint E for driver k": stream E's Stream
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
    /// Build slot k's tables from `regions[k]` and `msi_frame` (see
    /// [`slot_tables`]; a slot with no regions, or with one that cannot
    /// be mapped, is refused whenever it is asked for: logged now).
    pub fn new(
        smmu: Smmu<R>,
        mut arena: Arena,
        side: IommuSide,
        regions: &[[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS],
        msi_frame: Option<u64>,
    ) -> Confiner<R> {
        let mut roots = [None; CONFIGURED_SLOTS];
        for (slot, (root, regions)) in roots.iter_mut().zip(regions).enumerate() {
            if regions.iter().all(|r| r.size == 0) {
                continue;
            }
            *root = slot_tables(&mut arena, slot, regions, msi_frame).ok();
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

/// One confined slot's stage-2 tables: a level-1 table from `arena`
/// under which each of `regions` (size 0: none) is mapped identity,
/// read-write, and, with `msi_frame`, the 4 KiB page at that physical
/// address identity, Device-nGnRE and write-only ([`spec::pte::
/// LEAF_DEVICE_WO`]): the GICv2m frame, whose MSI_SETSPI_NS register
/// the device's MSI-X writes reach through the SMMU like any DMA.
/// Nothing else is mapped. Returns the table's physical address; the
/// first range that cannot be mapped is logged and returned.
pub fn slot_tables(
    arena: &mut Arena,
    slot: usize,
    regions: &[RegionVars],
    msi_frame: Option<u64>,
) -> Result<u64, pagetable::MapError> {
    let table = arena.table()?;
    for r in regions.iter().filter(|r| r.size != 0) {
        if let Err(e) = arena.map_identity(table, r.paddr, r.size) {
            debug_println!("smmu: slot {slot}: region {:#x}+{:#x} cannot be mapped: {e:?}", r.paddr, r.size);
            return Err(e);
        }
    }
    if let Some(frame) = msi_frame
        && let Err(e) = arena.map_identity_as(table, frame, pagetable::PAGE, spec::pte::LEAF_DEVICE_WO)
    {
        debug_println!("smmu: slot {slot}: the MSI frame page {frame:#x} cannot be mapped: {e:?}");
        return Err(e);
    }
    Ok(table)
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

#[cfg(test)]
mod tests {
    use super::*;
    use pagetable::{MapError, PAGE};
    use sevio_sharedmem::HeapRegion;
    use spec::pte;

    const ARENA_PADDR: u64 = 0x4810_0000;
    /// QEMU virt's GICv2m frame.
    const FRAME: u64 = 0x802_0000;

    /// blk's DMA window and a 2 MiB data region, as system.xml names them.
    const REGIONS: [RegionVars; 3] = [
        RegionVars { paddr: 0x4800_0000, size: 0x4_0000 },
        RegionVars { paddr: 0x4820_0000, size: 0x20_0000 },
        RegionVars { paddr: 0, size: 0 },
    ];

    fn build(frame: Option<u64>) -> (HeapRegion, Arena, Result<u64, MapError>) {
        let heap = HeapRegion::new(16 * PAGE as usize);
        let mut arena = Arena::new(heap.memory(), ARENA_PADDR).unwrap();
        let root = slot_tables(&mut arena, 0, &REGIONS, frame);
        (heap, arena, root)
    }

    fn in_regions(addr: u64) -> bool {
        REGIONS.iter().any(|r| addr >= r.paddr && addr < r.paddr + r.size)
    }

    /// Every 512th byte of the low 2 GiB around the frame and the
    /// regions, and the edges of each.
    fn probes() -> impl Iterator<Item = u64> {
        let around = |base: u64| (0..4096u64).map(move |i| base - 0x10_0000 + i * 512);
        let edges = REGIONS
            .iter()
            .filter(|r| r.size != 0)
            .flat_map(|r| [r.paddr - 8, r.paddr, r.paddr + r.size - 8, r.paddr + r.size]);
        around(FRAME).chain(around(0x4800_0000)).chain(around(0x4820_0000)).chain(edges).chain([
            FRAME - 8,
            FRAME,
            FRAME + 0x40,
            FRAME + PAGE - 8,
            FRAME + PAGE,
            0,
            0x4000_0000,
        ])
    }

    #[test]
    fn with_the_msi_frame_exactly_the_regions_and_that_page_are_mapped() {
        let (_heap, arena, root) = build(Some(FRAME));
        let root = root.unwrap();
        for addr in probes() {
            let leaf = arena.leaf(root, addr);
            if in_regions(addr) {
                let (out, e) = leaf.unwrap_or_else(|| panic!("{addr:#x} unmapped"));
                assert_eq!(out, addr, "identity");
                assert_eq!(e & pte::LEAF_RW, pte::LEAF_RW, "{addr:#x}: read-write, normal memory");
            } else if (FRAME..FRAME + PAGE).contains(&addr) {
                let (out, e) = leaf.unwrap_or_else(|| panic!("{addr:#x} unmapped"));
                assert_eq!(out, addr, "identity");
                assert_eq!(e & 0b11, pte::TABLE_OR_PAGE, "a 4 KiB page, not a block");
                // Arm ARM D8.4, S2AP[7:6]: "0b10 Write-only".
                assert_eq!(e >> 6 & 0b11, 0b10, "{addr:#x}: S2AP write-only");
                // Arm ARM D8.5, stage 2 MemAttr[5:2]: 0b00 Device, 0b01 nGnRE.
                assert_eq!(e >> 2 & 0b1111, 0b0001, "{addr:#x}: MemAttr Device-nGnRE");
                assert_ne!(e & pte::AF, 0, "AF");
                assert_eq!(arena.translate(root, addr), Some((addr, true)));
            } else {
                assert_eq!(leaf, None, "{addr:#x} must be unmapped");
            }
        }
    }

    #[test]
    fn without_the_msi_frame_the_tables_are_those_of_the_regions_alone() {
        let (with_heap, _, with_root) = build(None);
        let with_root = with_root.unwrap();
        // The same regions mapped directly, as before the frame existed.
        let heap = HeapRegion::new(16 * PAGE as usize);
        let mut arena = Arena::new(heap.memory(), ARENA_PADDR).unwrap();
        let root = arena.table().unwrap();
        for r in REGIONS.iter().filter(|r| r.size != 0) {
            arena.map_identity(root, r.paddr, r.size).unwrap();
        }
        assert_eq!(with_root, root);
        let (a, b) = (with_heap.memory(), heap.memory());
        for at in (0..16 * PAGE as usize).step_by(8) {
            assert_eq!(a.read::<u64>(at), b.read::<u64>(at), "table byte {at:#x}");
        }
        for addr in probes() {
            let mapped = arena_walk(&a, root, addr);
            assert_eq!(mapped.is_some(), in_regions(addr), "{addr:#x}");
        }
    }

    #[test]
    fn a_frame_on_a_region_or_off_a_page_boundary_refuses_the_slot() {
        let (_heap, _, root) = build(Some(0x4800_1000));
        assert_eq!(root, Err(MapError::Overlap));
        let (_heap, _, root) = build(Some(FRAME + 0x40));
        assert_eq!(root, Err(MapError::Unaligned));
    }

    /// The output address the tables at `root` in `mem` give `addr`.
    fn arena_walk(mem: &sevio_sharedmem::SharedMemory, root: u64, addr: u64) -> Option<u64> {
        let mut table = root;
        for level in 1..=3u32 {
            let shift = 12 + 9 * (3 - level);
            let e = mem.read::<u64>((table - ARENA_PADDR) as usize + ((addr >> shift) & 511) as usize * 8)?;
            match (level, e & 3) {
                (3, 3) | (2, 1) => return Some((e & pte::ADDR_MASK) | (addr & ((1 << shift) - 1))),
                (1 | 2, 3) => table = e & pte::ADDR_MASK,
                _ => return None,
            }
        }
        None
    }
}
