//! The SMMU PD's logic against a model SMMU: bring-up, what a
//! confinement and a release write and issue, faults recorded for the
//! right slot, device data refused, a command the SMMU refuses.

use sevio_bus_protocol::confine::{BusSide, IommuSide, Outcome, Wish};
use sevio_driver_iommu::{CONFIGURED_SLOTS, REGIONS_PER_SLOT, RegionVars};
use sevio_driver_smmu::event::Event;
use sevio_driver_smmu::smmu::{Layout, Registers, Smmu, SmmuError};
use sevio_driver_smmu::spec::{Stage2, Ste, cr0, gbpa, gerror, pte, reg};
use sevio_driver_smmu::{Confiner, fault_flags};
use sevio_sharedmem::{HeapRegion, SharedMemory};
use std::cell::RefCell;
use std::collections::HashMap;

const TABLES_PADDR: u64 = 0x4810_0000;
const TABLES_BYTES: usize = 0x8_0000;

/// An SMMU as much as this PD uses of one: ID registers, CR0/GBPA/IRQ
/// acknowledgements, a command queue consumed when PROD is written (the
/// commands recorded; one opcode can be made to fail as §7.1 says), the
/// event queue producer set by the test.
struct Model {
    mem: SharedMemory,
    idr0: u32,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    regs: HashMap<usize, u32>,
    bases: HashMap<usize, u64>,
    cons: u32,
    commands: Vec<[u64; 2]>,
    refuse_opcode: Option<u8>,
}

impl Model {
    fn new(mem: SharedMemory) -> Model {
        // S2P, AArch64 tables, little-endian.
        Model { mem, idr0: 1 | 1 << 3 | 2 << 21, state: RefCell::default() }
    }

    fn reg(&self, offset: usize) -> u32 {
        self.state.borrow().regs.get(&offset).copied().unwrap_or(0)
    }

    fn consume(&self, prod: u32) {
        let mut s = self.state.borrow_mut();
        let base = s.bases[&reg::CMDQ_BASE];
        let log2 = (base & 0x1f) as u32;
        let at = (base & !0x1f & ((1 << 52) - 1) & !(1 << 62)) - TABLES_PADDR;
        let pending = s.regs.get(&reg::GERROR).copied().unwrap_or(0) ^ s.regs.get(&reg::GERRORN).copied().unwrap_or(0);
        if pending & gerror::CMDQ_ERR != 0 {
            return;
        }
        while s.cons & ((2 << log2) - 1) != prod {
            let index = (s.cons & ((1 << log2) - 1)) as usize;
            let words = [0, 8].map(|o| self.mem.read::<u64>(at as usize + index * 16 + o).unwrap());
            if Some(words[0] as u8) == s.refuse_opcode {
                // §7.1: CONS stays on the command, ERR = CERROR_ILL (1),
                // GERROR.CMDQ_ERR toggled.
                s.cons = (s.cons & ((2 << log2) - 1)) | 1 << 24;
                *s.regs.entry(reg::GERROR).or_default() ^= gerror::CMDQ_ERR;
                return;
            }
            s.commands.push(words);
            s.cons = (s.cons + 1) & ((2 << log2) - 1);
        }
    }

    fn commands(&self) -> Vec<[u64; 2]> {
        std::mem::take(&mut self.state.borrow_mut().commands)
    }

    fn set(&self, offset: usize, value: u32) {
        self.state.borrow_mut().regs.insert(offset, value);
    }
}

impl Registers for &Model {
    fn read32(&self, offset: usize) -> u32 {
        match offset {
            reg::IDR0 => self.idr0,
            // SIDSIZE 16, EVENTQS 19, CMDQS 19.
            reg::IDR1 => 16 | 19 << 16 | 19 << 21,
            // GRAN4K, OAS 44 bits.
            reg::IDR5 => 1 << 4 | 4,
            reg::CR0ACK => self.reg(reg::CR0),
            reg::IRQ_CTRLACK => self.reg(reg::IRQ_CTRL),
            reg::CMDQ_CONS => self.state.borrow().cons,
            other => self.reg(other),
        }
    }

    fn write32(&self, offset: usize, value: u32) {
        match offset {
            reg::GBPA if value & gbpa::UPDATE != 0 => self.set(reg::GBPA, value & !gbpa::UPDATE),
            reg::GBPA => {}
            reg::CMDQ_PROD => {
                self.set(offset, value);
                self.consume(value);
            }
            reg::CMDQ_CONS => self.state.borrow_mut().cons = value,
            reg::GERRORN => {
                self.set(offset, value);
                let prod = self.reg(reg::CMDQ_PROD);
                self.consume(prod);
            }
            _ => self.set(offset, value),
        }
    }

    fn write64(&self, offset: usize, value: u64) {
        self.state.borrow_mut().bases.insert(offset, value);
    }
}

struct Rig {
    tables: HeapRegion,
    requests: HeapRegion,
    answers: HeapRegion,
}

impl Rig {
    fn new() -> Rig {
        Rig { tables: HeapRegion::new(TABLES_BYTES), requests: HeapRegion::new(4096), answers: HeapRegion::new(4096) }
    }

    fn bus(&self) -> BusSide {
        BusSide::new(self.requests.memory(), self.answers.memory()).unwrap()
    }

    /// A confiner with device 00:02.0 (stream 0x10) confined for slot 0.
    fn confined_0x10<'m>(&self, model: &'m Model) -> (Confiner<&'m Model>, BusSide) {
        let mut confiner = self.confiner(model);
        let bus = self.bus();
        bus.wish(0, Wish::Confine { seq: 1, endpoint: 0x10 });
        assert!(confiner.pump());
        (confiner, bus)
    }

    fn confiner<'m>(&self, model: &'m Model) -> Confiner<&'m Model> {
        let side = IommuSide::new(self.requests.memory(), self.answers.memory()).unwrap();
        let (smmu, arena) = Smmu::enable(model, self.tables.memory(), TABLES_PADDR).unwrap();
        Confiner::new(smmu, arena, side, &slot_regions(), None)
    }
}

/// Slot 0: blk's DMA window and a 2 MiB data region; the rest empty.
fn slot_regions() -> [[RegionVars; REGIONS_PER_SLOT]; CONFIGURED_SLOTS] {
    let mut regions = [[RegionVars::default(); REGIONS_PER_SLOT]; CONFIGURED_SLOTS];
    regions[0][0] = RegionVars { paddr: 0x4800_0000, size: 0x4_0000 };
    regions[0][1] = RegionVars { paddr: 0x4820_0000, size: 0x20_0000 };
    regions
}

/// The output address the stage-2 tables at `root` give `addr`, walked
/// from the tables region's bytes.
fn walk(mem: &SharedMemory, root: u64, addr: u64) -> Option<u64> {
    let mut table = root;
    for level in 1..=3u32 {
        let shift = 12 + 9 * (3 - level);
        let at = (table - TABLES_PADDR) as usize + ((addr >> shift) & 511) as usize * 8;
        let e = mem.read::<u64>(at)?;
        match (level, e & 3) {
            (3, 3) | (2, 1) => {
                assert_eq!(e & pte::LEAF_RW, pte::LEAF_RW, "read-write, AF set");
                return Some((e & pte::ADDR_MASK & !((1 << shift) - 1)) | (addr & ((1 << shift) - 1)));
            }
            (1 | 2, 3) => table = e & pte::ADDR_MASK,
            _ => return None,
        }
    }
    None
}

fn opcodes(commands: &[[u64; 2]]) -> Vec<u8> {
    commands.iter().map(|c| c[0] as u8).collect()
}

#[test]
fn bring_up_aborts_every_stream_and_enables_the_queues_then_the_smmu() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let confiner = rig.confiner(&model);
    assert_eq!(model.reg(reg::GBPA) & gbpa::ABORT, gbpa::ABORT, "GBPA aborts while the SMMU is off");
    assert_eq!(model.reg(reg::CR0), cr0::SMMUEN | cr0::CMDQEN | cr0::EVENTQEN);
    let base = model.state.borrow().bases[&reg::STRTAB_BASE];
    assert_eq!(base & !(1 << 62), TABLES_PADDR + Layout::STREAM_TABLE as u64);
    assert_eq!(model.reg(reg::STRTAB_BASE_CFG), 8, "linear, 256 entries");
    for sid in [0, 0x10, 255] {
        assert_eq!(confiner.smmu().ste(sid), Some(Ste::ABORT));
    }
    assert_eq!(opcodes(&model.commands()), [0x04, 0x30, 0x46], "CFGI_ALL, TLBI_NSNH_ALL, SYNC");
}

#[test]
fn a_confinement_maps_exactly_the_slots_regions_and_a_release_aborts_the_stream_again() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let mut confiner = rig.confiner(&model);
    model.commands();
    let bus = rig.bus();
    bus.wish(0, Wish::Confine { seq: 1, endpoint: 0x10 });
    assert!(confiner.pump());
    assert_eq!(bus.answer(0).unwrap().latest, Some((1, Outcome::Confined)));
    let Some(Stage2 { vmid: 1, root }) = confiner.smmu().ste(0x10).unwrap().stage2_of() else {
        panic!("{:?}", confiner.smmu().ste(0x10))
    };
    let mem = rig.tables.memory();
    for addr in [0x4800_0000, 0x4803_fff8, 0x4820_0000, 0x483f_f000] {
        assert_eq!(walk(&mem, root, addr), Some(addr), "{addr:#x}");
    }
    for addr in [0x4804_0000, 0x4830_0000 + 0x10_0000, 0x4810_0000, 0x47ff_f000] {
        assert_eq!(walk(&mem, root, addr), None, "{addr:#x}");
    }
    let issued = model.commands();
    assert_eq!(issued, [[0x10_0000_0003, 0], [0x1_0000_0028, 0], [0x46, 0]], "CFGI_STE 0x10, TLBI VMID 1, SYNC");
    assert!(!confiner.pump(), "a wish is carried out once");

    bus.wish(0, Wish::Release { seq: 2, endpoint: 0x10 });
    assert!(confiner.pump());
    assert_eq!(bus.answer(0).unwrap().latest, Some((2, Outcome::Released)));
    assert_eq!(confiner.smmu().ste(0x10), Some(Ste::ABORT));
    assert_eq!(opcodes(&model.commands()), [0x03, 0x28, 0x46]);
}

#[test]
fn a_confinement_for_another_device_releases_the_first_one() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let (mut confiner, bus) = rig.confined_0x10(&model);
    bus.wish(0, Wish::Confine { seq: 2, endpoint: 0x18 });
    confiner.pump();
    assert_eq!(bus.answer(0).unwrap().latest, Some((2, Outcome::Confined)));
    assert_eq!(confiner.smmu().ste(0x10), Some(Ste::ABORT), "the old device reaches nothing");
    assert!(confiner.smmu().ste(0x18).unwrap().stage2_of().is_some());
}

#[test]
fn a_slot_without_regions_and_a_device_past_the_stream_table_are_refused() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let mut confiner = rig.confiner(&model);
    let bus = rig.bus();
    bus.wish(3, Wish::Confine { seq: 1, endpoint: 0x20 });
    bus.wish(0, Wish::Confine { seq: 2, endpoint: 0x100 });
    assert!(confiner.pump());
    assert_eq!(bus.answer(3).unwrap().latest, Some((1, Outcome::Refused)));
    assert_eq!(bus.answer(0).unwrap().latest, Some((2, Outcome::Refused)));
    assert_eq!(confiner.smmu().ste(0x20), Some(Ste::ABORT));
}

#[test]
fn a_command_the_smmu_refuses_refuses_the_confinement_and_the_stream_stays_aborted() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let mut confiner = rig.confiner(&model);
    model.state.borrow_mut().refuse_opcode = Some(0x28);
    let bus = rig.bus();
    bus.wish(0, Wish::Confine { seq: 1, endpoint: 0x10 });
    confiner.pump();
    assert_eq!(bus.answer(0).unwrap().latest, Some((1, Outcome::Refused)));
    assert_eq!(confiner.smmu().ste(0x10), Some(Ste::ABORT));
    let s = model.state.borrow();
    assert_eq!(s.cons & 0x3f, s.regs[&reg::CMDQ_PROD], "the queue ran on past the refused command");
}

/// Put `records` in the event queue and set its producer index.
fn post_events(rig: &Rig, model: &Model, records: &[[u64; 4]], prod: u32) {
    let mem = rig.tables.memory();
    for (i, words) in records.iter().enumerate() {
        for (j, w) in words.iter().enumerate() {
            mem.write::<u64>(Layout::EVENTQ + i * 32 + j * 8, *w).unwrap();
        }
    }
    model.set(reg::EVENTQ_PROD, prod);
}

#[test]
fn an_access_fault_is_recorded_for_the_slot_holding_the_stream_and_bad_records_are_dropped() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let (mut confiner, bus) = rig.confined_0x10(&model);
    let records = [
        Event::words_of(0x0c, 0x10, false, 0x4830_0000),   // no such type
        Event::words_of(0x10, 0x4000, false, 0x4830_0000), // past the table
        Event::words_of(0x13, 0x18, false, 0x4830_0000),   // nobody's stream
        Event::words_of(0x10, 0x10, false, 0x4830_0040),   // F_TRANSLATION, a write
    ];
    post_events(&rig, &model, &records, 4);
    assert!(confiner.interrupt());
    let answer = bus.answer(0).unwrap();
    assert_eq!((answer.faults, answer.fault_address), (1, Some(0x4830_0040)));
    assert_eq!(answer.fault_flags, u64::from(fault_flags::WRITE));
    assert_eq!(confiner.faults, 2, "both access faults counted, one recorded");
    assert_eq!(model.reg(reg::EVENTQ_CONS), 4, "all four consumed");
    assert!(!confiner.interrupt(), "nothing new");
}

#[test]
fn an_event_producer_index_the_spec_does_not_allow_is_refused_before_any_record_is_read() {
    let rig = Rig::new();
    let model = Model::new(rig.tables.memory());
    let (mut confiner, bus) = rig.confined_0x10(&model);
    let fault = Event::words_of(0x10, 0x10, true, 0x4830_0000);
    post_events(&rig, &model, &[fault], 1 << 20 | 1);
    assert!(!confiner.interrupt());
    post_events(&rig, &model, &[fault], 0xff);
    assert!(!confiner.interrupt(), "more entries than the queue holds");
    assert_eq!(bus.answer(0).unwrap().faults, 0);
}

#[test]
fn an_smmu_without_stage_2_is_not_enabled() {
    let rig = Rig::new();
    let mut model = Model::new(rig.tables.memory());
    model.idr0 &= !1;
    assert_eq!(Smmu::enable(&model, rig.tables.memory(), TABLES_PADDR).err(), Some(SmmuError::NoStage2));
    assert_eq!(model.reg(reg::CR0), 0, "left off");
}
