//! The SMMU itself: bring-up, stream table entries, the command queue
//! (with CMD_SYNC waited for) and the event queue, over a register file
//! ([`Registers`]) and the memory region that holds the stream table,
//! both queues and the page-table arena ([`Layout`]).

use crate::event::{Event, EventError, OVERFLOW, QueueError, Ring};
use crate::pagetable::{Arena, MapError, PAGE};
use crate::spec::{
    COMMAND_BYTES, CR1_CACHEABLE, CR2_RECINVSID, Command, EVENT_BYTES, STE_BYTES, Ste, cr0, gbpa, gerror, idr0, idr1,
    idr5, irq_ctrl, queue_base, reg, strtab_base, strtab_base_cfg,
};
use sevio_sharedmem::SharedMemory;
use sevio_sharedmem::{dma_rmb, dma_wmb};

/// 32- and 64-bit access to the SMMU's registers (a device region on the
/// PD; a model in tests).
pub trait Registers {
    /// Read the 32-bit register at `offset`.
    fn read32(&self, offset: usize) -> u32;
    /// Write the 32-bit register at `offset`.
    fn write32(&self, offset: usize, value: u32);
    /// Write the 64-bit register at `offset`.
    fn write64(&self, offset: usize, value: u64);
}

/// log2 of the stream table's entries: 256, the requester ids of PCI bus
/// 0 (QEMU virt's devices are all there).
pub const STREAM_TABLE_LOG2: u32 = 8;
/// Stream table entries.
pub const STREAMS: u32 = 1 << STREAM_TABLE_LOG2;
/// log2 of the command queue's entries.
pub const CMDQ_LOG2: u32 = 5;
/// log2 of the event queue's entries.
/// (A page of records: a device's burst of refused writes fills it
/// quickly; records past it are lost, counted by the SMMU.)
pub const EVENTQ_LOG2: u32 = 7;

/// Where things lie in the tables region (byte offsets). The stream
/// table must be aligned to its size (§6.3.23: ADDR is aligned to the
/// table's size), queues to theirs (§6.3.25, §6.3.28); the region starts
/// on a 64 KiB boundary (checked) so page offsets suffice.
pub struct Layout;

impl Layout {
    /// The linear stream table.
    pub const STREAM_TABLE: usize = 0;
    /// The command queue.
    pub const CMDQ: usize = Layout::STREAM_TABLE + (STREAMS as usize) * STE_BYTES;
    /// The event queue.
    pub const EVENTQ: usize = Layout::CMDQ + PAGE as usize;
    /// The page-table arena: the rest of the region.
    pub const ARENA: usize = Layout::EVENTQ + PAGE as usize;
    /// Alignment the region's physical address needs.
    pub const ALIGN: u64 = 0x1_0000;
}

const _: () = assert!((1 << CMDQ_LOG2) * COMMAND_BYTES <= PAGE as usize);
const _: () = assert!((1 << EVENTQ_LOG2) * EVENT_BYTES <= PAGE as usize);

/// Register reads before a wait for the SMMU is given up.
pub const POLL_LIMIT: u32 = 100_000;

/// What went wrong with the SMMU.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SmmuError {
    /// SMMU_IDR0.S2P is 0: no stage-2 translation (QEMU: `-global
    /// arm-smmuv3.stage=2`).
    NoStage2,
    /// No AArch64 table format, or big-endian tables only (IDR0).
    TableFormat,
    /// No 4 KiB granule, or fewer than 40 output address bits (IDR5).
    Granule,
    /// Fewer stream id bits, or smaller queues, than this PD uses (IDR1).
    TooSmall,
    /// The tables region is misaligned or too small.
    Layout,
    /// A register did not take a value (the name says which) in
    /// [`POLL_LIMIT`] reads.
    NoAck(&'static str),
    /// The command queue stopped at a command: SMMU_CMDQ_CONS.ERR.
    Command(u32),
    /// The event queue's producer index broke §3.5.
    EventQueue(QueueError),
    /// A stream id past the stream table.
    Stream(u32),
}

/// The SMMU, enabled.
pub struct Smmu<R: Registers> {
    regs: R,
    mem: SharedMemory,
    /// Our command queue producer (index and wrap).
    cmd_prod: u32,
    /// Our event queue consumer (index and wrap).
    evt_cons: u32,
    /// The overflow flag last acknowledged.
    evt_overflow_ack: u32,
}

const CMD_RING: Ring = Ring::new(CMDQ_LOG2);
const EVT_RING: Ring = Ring::new(EVENTQ_LOG2);

impl<R: Registers> Smmu<R> {
    /// Bring the SMMU up over the tables region `mem` at `paddr`: every
    /// stream aborts until [`Smmu::write_ste`] says otherwise, also while
    /// the SMMU is being set up (GBPA abort). Returns the SMMU and the
    /// page-table arena (the rest of the region).
    pub fn enable(regs: R, mem: SharedMemory, paddr: u64) -> Result<(Smmu<R>, Arena), SmmuError> {
        check_ids(&regs)?;
        if !paddr.is_multiple_of(Layout::ALIGN) || mem.len() < Layout::ARENA + PAGE as usize {
            return Err(SmmuError::Layout);
        }
        // §6.3.9.*: SMMUEN 0 before the tables and queues change.
        regs.write32(reg::CR0, 0);
        wait(&regs, reg::CR0ACK, u32::MAX, 0, "CR0ACK")?;
        // §6.3.14: with SMMUEN 0, GBPA decides; ABORT stops every stream
        // while the tables are written. The write takes effect with
        // UPDATE, which the SMMU clears once it has.
        regs.write32(reg::GBPA, gbpa::UPDATE | gbpa::ABORT);
        wait(&regs, reg::GBPA, gbpa::UPDATE, 0, "GBPA")?;

        mem.fill(0, Layout::ARENA, 0).map_err(|_| SmmuError::Layout)?;
        let mut smmu = Smmu { regs, mem, cmd_prod: 0, evt_cons: 0, evt_overflow_ack: 0 };
        for sid in 0..STREAMS {
            smmu.write_ste(sid, Ste::ABORT)?;
        }
        let regs = &smmu.regs;
        regs.write32(reg::CR1, CR1_CACHEABLE);
        regs.write32(reg::CR2, CR2_RECINVSID);
        regs.write64(reg::STRTAB_BASE, strtab_base(paddr + Layout::STREAM_TABLE as u64));
        regs.write32(reg::STRTAB_BASE_CFG, strtab_base_cfg(STREAM_TABLE_LOG2));
        regs.write64(reg::CMDQ_BASE, queue_base(paddr + Layout::CMDQ as u64, CMDQ_LOG2));
        regs.write32(reg::CMDQ_PROD, 0);
        regs.write32(reg::CMDQ_CONS, 0);
        regs.write64(reg::EVENTQ_BASE, queue_base(paddr + Layout::EVENTQ as u64, EVENTQ_LOG2));
        regs.write32(reg::EVENTQ_PROD, 0);
        regs.write32(reg::EVENTQ_CONS, 0);
        dma_wmb();
        let queues = cr0::CMDQEN | cr0::EVENTQEN;
        regs.write32(reg::CR0, queues);
        wait(regs, reg::CR0ACK, queues, queues, "CR0ACK")?;
        // Nothing cached from before this PD ran (§4.3.3, §4.4.11).
        smmu.run(&[Command::CfgiAll, Command::TlbiNsnhAll])?;
        let regs = &smmu.regs;
        let irqs = irq_ctrl::GERROR | irq_ctrl::EVENTQ;
        regs.write32(reg::IRQ_CTRL, irqs);
        wait(regs, reg::IRQ_CTRLACK, irqs, irqs, "IRQ_CTRLACK")?;
        regs.write32(reg::CR0, queues | cr0::SMMUEN);
        wait(regs, reg::CR0ACK, cr0::SMMUEN, cr0::SMMUEN, "CR0ACK")?;
        let arena_mem = smmu.mem.slice(Layout::ARENA, smmu.mem.len() - Layout::ARENA).ok_or(SmmuError::Layout)?;
        let arena_mem =
            arena_mem.slice(0, arena_mem.len() - arena_mem.len() % PAGE as usize).ok_or(SmmuError::Layout)?;
        let arena = Arena::new(arena_mem, paddr + Layout::ARENA as u64).map_err(|_: MapError| SmmuError::Layout)?;
        Ok((smmu, arena))
    }

    /// Write stream `sid`'s entry. §3.21.3 (configuration structure
    /// update): an entry becoming valid gets its other words first and
    /// word 0 (V, Config) last; one becoming an abort gets word 0 first.
    /// The caller then issues CMD_CFGI_STE ([`Smmu::run`]).
    pub fn write_ste(&self, sid: u32, ste: Ste) -> Result<(), SmmuError> {
        if sid >= STREAMS {
            return Err(SmmuError::Stream(sid));
        }
        let base = Layout::STREAM_TABLE + sid as usize * STE_BYTES;
        let put = |i: usize| self.mem.write::<u64>(base + i * 8, ste.0[i]).map_err(|_| SmmuError::Layout);
        if ste == Ste::ABORT {
            put(0)?;
            dma_wmb();
            (1..8).try_for_each(put)
        } else {
            (1..8).try_for_each(put)?;
            dma_wmb();
            put(0)
        }
    }

    /// The entry of stream `sid` as the table holds it.
    pub fn ste(&self, sid: u32) -> Option<Ste> {
        let base = Layout::STREAM_TABLE + (sid < STREAMS).then_some(sid as usize)? * STE_BYTES;
        let mut words = [0u64; 8];
        for (i, w) in words.iter_mut().enumerate() {
            *w = self.mem.read::<u64>(base + i * 8)?;
        }
        Some(Ste(words))
    }

    /// Issue `commands` and a CMD_SYNC, and wait until the SMMU consumed
    /// the sync (§4.7.3: every command before it has then completed). A
    /// command the SMMU refuses stops the queue (SMMU_CMDQ_CONS.ERR,
    /// GERROR.CMDQ_ERR); it is replaced with a CMD_SYNC and the error
    /// acknowledged, so the queue runs on (§7.1), and reported.
    pub fn run(&mut self, commands: &[Command]) -> Result<(), SmmuError> {
        let mut failed = None;
        for &c in commands.iter().chain(&[Command::Sync]) {
            if let Err(e) = self.push(c) {
                failed.get_or_insert(e);
            }
        }
        dma_wmb();
        self.regs.write32(reg::CMDQ_PROD, self.cmd_prod);
        for _ in 0..POLL_LIMIT {
            let cons = self.regs.read32(reg::CMDQ_CONS);
            if cons & CONS_POINTER == self.cmd_prod {
                return failed.map_or(Ok(()), Err);
            }
            if let Some(e) = self.command_error(cons) {
                failed.get_or_insert(e);
            }
        }
        Err(failed.unwrap_or(SmmuError::NoAck("CMDQ_CONS")))
    }

    /// If the queue stopped on an error, skip the command and report it.
    fn command_error(&mut self, cons: u32) -> Option<SmmuError> {
        let pending = self.regs.read32(reg::GERROR) ^ self.regs.read32(reg::GERRORN);
        if pending & gerror::CMDQ_ERR == 0 {
            return None;
        }
        let code = cons >> 24 & 0x7f;
        let _ = self.put_command(CMD_RING.index(cons), Command::Sync);
        dma_wmb();
        let n = self.regs.read32(reg::GERRORN);
        self.regs.write32(reg::GERRORN, n ^ gerror::CMDQ_ERR);
        Some(SmmuError::Command(code))
    }

    fn put_command(&self, index: u32, c: Command) -> Result<(), SmmuError> {
        let at = Layout::CMDQ + index as usize * COMMAND_BYTES;
        let [a, b] = c.encode();
        self.mem.write::<u64>(at, a).and_then(|()| self.mem.write::<u64>(at + 8, b)).map_err(|_| SmmuError::Layout)
    }

    fn push(&mut self, c: Command) -> Result<(), SmmuError> {
        let mut polls = 0;
        while CMD_RING.full(self.cmd_prod, self.regs.read32(reg::CMDQ_CONS) & CONS_POINTER) {
            polls += 1;
            if polls >= POLL_LIMIT {
                return Err(SmmuError::NoAck("CMDQ_CONS"));
            }
        }
        self.put_command(CMD_RING.index(self.cmd_prod), c)?;
        self.cmd_prod = CMD_RING.advance(self.cmd_prod);
        Ok(())
    }

    /// Take every event the SMMU wrote (each checked by
    /// [`Event::decode`]) and hand it to `each`; returns whether the
    /// SMMU reported events lost since the last call. The producer index
    /// is checked before any record is read ([`Ring::pending`]).
    pub fn events(&mut self, mut each: impl FnMut(Result<Event, EventError>)) -> Result<bool, SmmuError> {
        let prod = self.regs.read32(reg::EVENTQ_PROD);
        let (count, _) = EVT_RING.pending(prod, self.evt_cons).map_err(SmmuError::EventQueue)?;
        dma_rmb();
        for _ in 0..count {
            let at = Layout::EVENTQ + EVT_RING.index(self.evt_cons) as usize * EVENT_BYTES;
            let mut words = [0u64; 4];
            for (i, w) in words.iter_mut().enumerate() {
                *w = self.mem.read::<u64>(at + i * 8).unwrap_or(0);
            }
            each(Event::decode(words, STREAMS));
            self.evt_cons = EVT_RING.advance(self.evt_cons);
        }
        // §6.3.30: OVACKFLG written equal to OVFLG acknowledges an
        // overflow; a differing OVFLG is a new one.
        let overflow = prod & OVERFLOW;
        let lost = overflow != self.evt_overflow_ack;
        self.evt_overflow_ack = overflow;
        self.regs.write32(reg::EVENTQ_CONS, self.evt_cons | overflow);
        Ok(lost)
    }

    /// Global errors raised since the last call (§6.3.18: a bit of GERROR
    /// differing from GERRORN is active), acknowledged.
    pub fn global_errors(&mut self) -> u32 {
        let (raised, acked) = (self.regs.read32(reg::GERROR), self.regs.read32(reg::GERRORN));
        let active = (raised ^ acked) & gerror::DEFINED;
        if active & gerror::CMDQ_ERR != 0 {
            let cons = self.regs.read32(reg::CMDQ_CONS);
            let _ = self.command_error(cons);
        }
        let rest = active & !gerror::CMDQ_ERR;
        if rest != 0 {
            self.regs.write32(reg::GERRORN, self.regs.read32(reg::GERRORN) ^ rest);
        }
        active
    }

    /// The register file (for tests).
    pub fn registers(&self) -> &R {
        &self.regs
    }
}

/// SMMU_CMDQ_CONS without ERR [30:24]: RD and its wrap flag.
const CONS_POINTER: u32 = (2 << CMDQ_LOG2) - 1;

fn check_ids<R: Registers>(regs: &R) -> Result<(), SmmuError> {
    let idr0 = regs.read32(reg::IDR0);
    if idr0 & idr0::S2P == 0 {
        return Err(SmmuError::NoStage2);
    }
    // TTENDIAN 0b11: big-endian tables only; these are little-endian.
    if idr0 & idr0::TTF_AARCH64 == 0 || (idr0 >> idr0::TTENDIAN_SHIFT) & 3 == 3 {
        return Err(SmmuError::TableFormat);
    }
    let idr1 = regs.read32(reg::IDR1);
    let cmdqs = idr1 >> idr1::CMDQS_SHIFT & idr1::QS_MASK;
    let eventqs = idr1 >> idr1::EVENTQS_SHIFT & idr1::QS_MASK;
    if idr1 & idr1::SIDSIZE_MASK < STREAM_TABLE_LOG2 || cmdqs < CMDQ_LOG2 || eventqs < EVENTQ_LOG2 {
        return Err(SmmuError::TooSmall);
    }
    let idr5 = regs.read32(reg::IDR5);
    // OAS 0b010 = 40 bits, the S2PS the STEs use (§6.3.6).
    if idr5 & idr5::GRAN4K == 0 || idr5 & idr5::OAS_MASK < 0b010 {
        return Err(SmmuError::Granule);
    }
    Ok(())
}

/// Poll `offset` until `value & mask == expect`.
fn wait<R: Registers>(regs: &R, offset: usize, mask: u32, expect: u32, name: &'static str) -> Result<(), SmmuError> {
    for _ in 0..POLL_LIMIT {
        if regs.read32(offset) & mask == expect {
            return Ok(());
        }
    }
    Err(SmmuError::NoAck(name))
}
