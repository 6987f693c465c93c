//! MSI-X through the GICv2m frame of QEMU arm virt: each modern virtio
//! function that has an MSI-X capability gets one vector for
//! configuration changes and one per queue (fewer when SPIs run short:
//! queues then share), each vector an SPI of its own that system.xml
//! gives this PD.
//!
//! The GICv2m frame turns a 32-bit write of an SPI's INTID to its
//! `MSI_SETSPI_NS` register into an edge on that SPI; `MSI_TYPER` says
//! which SPIs the frame owns (first INTID, count). A table entry
//! (PCI Local Bus 3.0 §6.8.2) holds that register's physical address and
//! the INTID as data. What a function is given:
//!
//! - entry 0: `config_msix_vector` (VIRTIO 1.2 §4.1.4.3);
//! - entries 1..n: the queues, queue q on `1 + q % (n - 1)` (entry 0
//!   when n is 1);
//!
//! and every vector written is read back, as VIRTIO 1.2 §4.1.5.1.2 asks
//! (see [`crate::modern`]). A function without MSI-X, a legacy one, one
//! whose table does not lie in a memory BAR, or one whose device refuses
//! its config vector stays on INTx.

use crate::bars::Space;
use crate::enumerate::Function;
use crate::regs::Registers;
use sevio_virtio::pci::{MSIX_ENTRY_MASKED, MSIX_ENTRY_SIZE, MsixCap};

/// `MSI_TYPER`'s offset in the frame.
pub const MSI_TYPER: usize = 0x008;
/// `MSI_SETSPI_NS`'s offset in the frame: the MSI doorbell.
pub const MSI_SETSPI_NS: u64 = 0x040;
/// The first SPI's INTID (INTIDs below are SGIs and PPIs).
const FIRST_SPI: u32 = 32;
/// One past the last SPI INTID GICv2 has.
const SPI_END: u32 = 1020;

/// A GICv2m MSI frame, as its `MSI_TYPER` describes it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MsiFrame {
    /// Physical address of `MSI_SETSPI_NS`, which devices write.
    pub doorbell: u64,
    /// INTID of the frame's first SPI.
    pub first_intid: u32,
    /// SPIs the frame owns.
    pub count: u32,
}

/// Why an `MSI_TYPER` cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// It names no SPI.
    NoSpis,
    /// Its SPIs are not all SPIs (INTIDs 32..1020): `(first, count)`.
    NotSpis(u32, u32),
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::NoSpis => write!(f, "MSI_TYPER names no SPI"),
            FrameError::NotSpis(first, count) => {
                write!(f, "MSI_TYPER names INTIDs {first}..{} (SPIs are 32..1020)", first + count)
            }
        }
    }
}

impl MsiFrame {
    /// The frame at physical address `paddr` whose `MSI_TYPER` reads
    /// `typer` (bits 25:16 the first SPI's INTID, 9:0 the count).
    pub fn from_typer(paddr: u64, typer: u32) -> Result<MsiFrame, FrameError> {
        let first_intid = (typer >> 16) & 0x3ff;
        let count = typer & 0x3ff;
        if count == 0 {
            return Err(FrameError::NoSpis);
        }
        if first_intid < FIRST_SPI || first_intid + count > SPI_END {
            return Err(FrameError::NotSpis(first_intid, count));
        }
        Ok(MsiFrame { doorbell: paddr + MSI_SETSPI_NS, first_intid, count })
    }
}

/// Who an MSI SPI belongs to: the function (by transport index) and its
/// table entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Vector {
    /// The function's index in the transport.
    pub index: usize,
    /// Its MSI-X table entry (0: configuration changes).
    pub entry: u16,
}

/// The SPIs this PD may hand out (the first `given` of the frame: IRQ
/// ids `first_id + i` of system.xml are INTIDs `frame.first_intid + i`),
/// and whom each went to.
pub struct MsiRouting<const IRQS: usize> {
    frame: MsiFrame,
    given: usize,
    next: usize,
    owners: [Option<Vector>; IRQS],
}

impl<const IRQS: usize> MsiRouting<IRQS> {
    /// Routing over `frame`, of which system.xml gives this PD the first
    /// `IRQS` SPIs (fewer if the frame has fewer).
    pub fn new(frame: MsiFrame) -> Self {
        let given = IRQS.min(frame.count as usize);
        MsiRouting { frame, given, next: 0, owners: [None; IRQS] }
    }

    /// The frame.
    pub fn frame(&self) -> MsiFrame {
        self.frame
    }

    /// SPIs not handed out yet.
    pub fn free(&self) -> usize {
        self.given - self.next
    }

    /// Whom SPI `i` (IRQ id `first_id + i`) belongs to.
    pub fn owner(&self, i: usize) -> Option<Vector> {
        self.owners.get(i).copied().flatten()
    }

    /// INTID of SPI `i`.
    pub fn intid(&self, i: usize) -> u32 {
        self.frame.first_intid + i as u32
    }

    /// Hand `entries` SPIs to function `index` (entry e gets SPI
    /// `first + e`); the first, or `None` if too few are left.
    fn take(&mut self, index: usize, entries: u16) -> Option<usize> {
        let first = self.next;
        if entries == 0 || usize::from(entries) > self.free() {
            return None;
        }
        for entry in 0..entries {
            self.owners[first + usize::from(entry)] = Some(Vector { index, entry });
        }
        self.next += usize::from(entries);
        Some(first)
    }

    /// Give back what [`MsiRouting::take`] handed out last (a function
    /// that fell back to INTx).
    fn give_back(&mut self, first: usize) {
        for owner in &mut self.owners[first..self.next] {
            *owner = None;
        }
        self.next = first;
    }
}

/// How many vectors a function with `table_entries` entries and
/// `queues` queues gets when `free` SPIs are left: one for configuration
/// and one per queue, as many of those as there are.
pub fn vectors_for(table_entries: u16, queues: u16, free: usize) -> u16 {
    let wanted = queues.saturating_add(1).min(table_entries);
    wanted.min(u16::try_from(free).unwrap_or(u16::MAX))
}

/// The table entry queue `queue` uses when the function has `vectors`.
pub fn queue_entry(vectors: u16, queue: u16) -> u16 {
    if vectors <= 1 { 0 } else { 1 + queue % (vectors - 1) }
}

/// Why a function's MSI-X table cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Its BAR is not an implemented memory BAR.
    NotInMemoryBar(u8),
    /// It does not lie inside its BAR: `(bar, offset, bytes)`.
    OutsideBar(u8, u64, u64),
}

impl core::fmt::Display for TableError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TableError::NotInMemoryBar(bar) => write!(f, "its MSI-X table is in BAR{bar}, not a memory BAR"),
            TableError::OutsideBar(bar, offset, bytes) => {
                write!(f, "its MSI-X table ({bytes:#x} bytes at {offset:#x}) lies outside BAR{bar}")
            }
        }
    }
}

/// The table of `cap` checked against `f`'s BARs: in an implemented
/// memory BAR, wholly inside it.
pub fn check_table(f: &Function, cap: &MsixCap) -> Result<(), TableError> {
    let Some(bar) = f.bars.get(cap.bar as usize).copied().flatten().filter(|b| b.space == Space::Memory) else {
        return Err(TableError::NotInMemoryBar(cap.bar));
    };
    match cap.offset.checked_add(cap.table_bytes()) {
        Some(end) if end <= bar.size => Ok(()),
        _ => Err(TableError::OutsideBar(cap.bar, cap.offset, cap.table_bytes())),
    }
}

/// Program entries `0..vectors` of `table` (the table's registers): entry
/// e sends INTID `first_intid + e` to `doorbell`, unmasked; every later
/// entry stays masked.
pub fn program_table<R: Registers>(table: &R, doorbell: u64, first_intid: u32, vectors: u16) {
    let entries = table.size() / MSIX_ENTRY_SIZE as usize;
    for e in 0..entries {
        let at = e * MSIX_ENTRY_SIZE as usize;
        // Masked while it is written, so no half-written entry fires.
        table.write32(at + 12, MSIX_ENTRY_MASKED);
        if e < usize::from(vectors) {
            table.write32(at, doorbell as u32);
            table.write32(at + 4, (doorbell >> 32) as u32);
            table.write32(at + 8, first_intid + e as u32);
            table.write32(at + 12, 0);
        }
    }
}

/// Hand a function `vectors` of `routing`'s SPIs and program its table;
/// the first SPI's index, or `None` when too few are left.
pub fn assign<R: Registers, const IRQS: usize>(
    routing: &mut MsiRouting<IRQS>,
    index: usize,
    table: &R,
    vectors: u16,
) -> Option<usize> {
    let first = routing.take(index, vectors)?;
    program_table(table, routing.frame.doorbell, routing.intid(first), vectors);
    Some(first)
}

/// Undo [`assign`] for a function that stays on INTx: its entries masked,
/// its SPIs free again.
pub fn unassign<R: Registers, const IRQS: usize>(routing: &mut MsiRouting<IRQS>, first: usize, table: &R) {
    program_table(table, 0, 0, 0);
    routing.give_back(first);
}

/// Turn MSI-X on (Enable set, Function Mask clear) or off in `f`'s
/// capability at `cap.at`. With it on the function no longer uses INTx
/// (PCI Local Bus 3.0 §6.8.2.3).
pub fn set_enabled<C: crate::config_space::ConfigSpace>(cfg: &C, f: &Function, cap: &MsixCap, on: bool) {
    use sevio_virtio::pci::{MSIX_CONTROL, MSIX_ENABLE, MSIX_FUNCTION_MASK};
    let at = cap.at + MSIX_CONTROL as u16;
    let control = cfg.read16(f.bdf, at) & !(MSIX_ENABLE | MSIX_FUNCTION_MASK);
    cfg.write16(f.bdf, at, if on { control | MSIX_ENABLE } else { control });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeRegisters;
    use std::string::ToString;

    #[test]
    fn the_frame_is_what_msi_typer_says() {
        // QEMU arm virt: 64 SPIs from INTID 80 (SPI 48).
        let f = MsiFrame::from_typer(0x0802_0000, 80 << 16 | 64).unwrap();
        assert_eq!(f, MsiFrame { doorbell: 0x0802_0040, first_intid: 80, count: 64 });
        assert_eq!(MsiFrame::from_typer(0x0802_0000, 80 << 16), Err(FrameError::NoSpis));
        assert_eq!(MsiFrame::from_typer(0, 16 << 16 | 4), Err(FrameError::NotSpis(16, 4)));
        assert_eq!(MsiFrame::from_typer(0, 1000 << 16 | 64), Err(FrameError::NotSpis(1000, 64)));
        assert_eq!(MsiFrame::from_typer(0, 988 << 16 | 32).unwrap().count, 32, "up to INTID 1019");
        // Reserved bits are not part of either field.
        assert_eq!(MsiFrame::from_typer(0, 0xfc00_fc00 | 80 << 16 | 8).unwrap().first_intid, 80);
        assert!(FrameError::NotSpis(16, 4).to_string().contains("16..20"));
    }

    #[test]
    fn one_vector_for_config_and_one_per_queue_while_spis_last() {
        assert_eq!(vectors_for(3, 2, 16), 3, "virtio-blk-pci: config + 2 queues... as its table has room");
        assert_eq!(vectors_for(4, 2, 16), 3, "not more than config + queues");
        assert_eq!(vectors_for(2, 2, 16), 2, "no more than the table has");
        assert_eq!(vectors_for(3, 2, 2), 2, "no more than are free");
        assert_eq!(vectors_for(3, 2, 0), 0);
        assert_eq!((queue_entry(3, 0), queue_entry(3, 1)), (1, 2));
        assert_eq!((queue_entry(2, 0), queue_entry(2, 1), queue_entry(2, 7)), (1, 1, 1), "shared by the queues");
        assert_eq!(queue_entry(1, 5), 0, "one vector: with configuration");
    }

    #[test]
    fn spis_are_handed_out_in_order_and_given_back() {
        let frame = MsiFrame::from_typer(0x0802_0000, 80 << 16 | 6).unwrap();
        let mut r: MsiRouting<8> = MsiRouting::new(frame);
        assert_eq!(r.free(), 6, "the frame has fewer than the PD was given ids for");
        let (table, memory) = FakeRegisters::memory(4 * 16);
        assert_eq!(assign(&mut r, 3, &table, 3), Some(0));
        assert_eq!(r.owner(2), Some(Vector { index: 3, entry: 2 }));
        assert_eq!(assign(&mut r, 5, &table, 4), None, "only 3 left");
        let first = assign(&mut r, 5, &table, 2).unwrap();
        assert_eq!((first, r.intid(first)), (3, 83));
        unassign(&mut r, first, &table);
        assert_eq!((r.free(), r.owner(3)), (3, None));
        assert!(memory.writes().len() > 8);
    }

    #[test]
    fn table_entries_send_their_intid_to_the_doorbell_and_the_rest_stay_masked() {
        let (table, _memory) = FakeRegisters::memory(4 * 16);
        program_table(&table, 0x1_0802_0040, 81, 2);
        for e in 0..2 {
            let at = e * 16;
            assert_eq!(
                [table.read32(at), table.read32(at + 4), table.read32(at + 8), table.read32(at + 12)],
                [0x0802_0040, 1, 81 + e as u32, 0]
            );
        }
        for e in 2..4 {
            assert_eq!(table.read32(e * 16 + 12), MSIX_ENTRY_MASKED, "entry {e}");
            assert_eq!(table.read32(e * 16 + 8), 0);
        }
        program_table(&table, 0, 0, 0);
        assert!((0..4).all(|e| table.read32(e * 16 + 12) == MSIX_ENTRY_MASKED));
    }
}
