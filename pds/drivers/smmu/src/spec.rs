//! The SMMUv3 formats this PD uses, from the Arm System Memory Management
//! Unit Architecture Specification, SMMU architecture version 3 (IHI
//! 0070): register offsets and fields (§6.3), the Stream Table Entry
//! (§5.2), commands (§4) and event records (§7.3). Each item names its
//! section; bit positions are the spec's.

/// Register offsets (§6.3; page 1 registers at 0x1_0000 + offset, §6.1).
pub mod reg {
    /// SMMU_IDR0 (§6.3.1).
    pub const IDR0: usize = 0x00;
    /// SMMU_IDR1 (§6.3.2).
    pub const IDR1: usize = 0x04;
    /// SMMU_IDR5 (§6.3.6).
    pub const IDR5: usize = 0x14;
    /// SMMU_CR0 (§6.3.9).
    pub const CR0: usize = 0x20;
    /// SMMU_CR0ACK (§6.3.10).
    pub const CR0ACK: usize = 0x24;
    /// SMMU_CR1 (§6.3.11).
    pub const CR1: usize = 0x28;
    /// SMMU_CR2 (§6.3.12).
    pub const CR2: usize = 0x2c;
    /// SMMU_GBPA (§6.3.14).
    pub const GBPA: usize = 0x44;
    /// SMMU_IRQ_CTRL (§6.3.16).
    pub const IRQ_CTRL: usize = 0x50;
    /// SMMU_IRQ_CTRLACK (§6.3.17).
    pub const IRQ_CTRLACK: usize = 0x54;
    /// SMMU_GERROR (§6.3.18).
    pub const GERROR: usize = 0x60;
    /// SMMU_GERRORN (§6.3.19).
    pub const GERRORN: usize = 0x64;
    /// SMMU_STRTAB_BASE, 64 bits (§6.3.23).
    pub const STRTAB_BASE: usize = 0x80;
    /// SMMU_STRTAB_BASE_CFG (§6.3.24).
    pub const STRTAB_BASE_CFG: usize = 0x88;
    /// SMMU_CMDQ_BASE, 64 bits (§6.3.25).
    pub const CMDQ_BASE: usize = 0x90;
    /// SMMU_CMDQ_PROD (§6.3.26).
    pub const CMDQ_PROD: usize = 0x98;
    /// SMMU_CMDQ_CONS (§6.3.27).
    pub const CMDQ_CONS: usize = 0x9c;
    /// SMMU_EVENTQ_BASE, 64 bits (§6.3.28).
    pub const EVENTQ_BASE: usize = 0xa0;
    /// SMMU_EVENTQ_PROD, in page 1 (§6.3.29).
    pub const EVENTQ_PROD: usize = 0x1_00a8;
    /// SMMU_EVENTQ_CONS, in page 1 (§6.3.30).
    pub const EVENTQ_CONS: usize = 0x1_00ac;
    /// Bytes of the register file: pages 0 and 1 (§6.1).
    pub const SIZE: usize = 0x2_0000;
}

/// SMMU_IDR0 fields (§6.3.1).
pub mod idr0 {
    /// S2P: stage 2 translation supported.
    pub const S2P: u32 = 1 << 0;
    /// TTF [3:2]: translation table formats; bit 3 set = AArch64.
    pub const TTF_AARCH64: u32 = 1 << 3;
    /// TTENDIAN [22:21]: 0b00 mixed, 0b10 little-endian only.
    pub const TTENDIAN_SHIFT: u32 = 21;
    /// VMID16 [18]: 16-bit VMIDs (else 8-bit).
    pub const VMID16: u32 = 1 << 18;
}

/// SMMU_IDR1 fields (§6.3.2).
pub mod idr1 {
    /// SIDSIZE [5:0]: stream id bits.
    pub const SIDSIZE_MASK: u32 = 0x3f;
    /// EVENTQS [20:16]: log2 of the largest event queue.
    pub const EVENTQS_SHIFT: u32 = 16;
    /// CMDQS [25:21]: log2 of the largest command queue.
    pub const CMDQS_SHIFT: u32 = 21;
    /// Width of EVENTQS and CMDQS.
    pub const QS_MASK: u32 = 0x1f;
}

/// SMMU_IDR5 fields (§6.3.6).
pub mod idr5 {
    /// OAS [2:0]: output address size (0b010 = 40 bits).
    pub const OAS_MASK: u32 = 0x7;
    /// GRAN4K: 4 KiB translation granule supported.
    pub const GRAN4K: u32 = 1 << 4;
}

/// SMMU_CR0 fields (§6.3.9).
pub mod cr0 {
    /// SMMUEN: translation through the stream table.
    pub const SMMUEN: u32 = 1 << 0;
    /// EVENTQEN.
    pub const EVENTQEN: u32 = 1 << 2;
    /// CMDQEN.
    pub const CMDQEN: u32 = 1 << 3;
}

/// SMMU_CR1 (§6.3.11): table and queue accesses inner shareable,
/// write-back cacheable (SH 0b11, OC 0b01, IC 0b01 for both).
pub const CR1_CACHEABLE: u32 = (3 << 10) | (1 << 8) | (1 << 6) | (3 << 4) | (1 << 2) | 1;

/// SMMU_CR2 (§6.3.12): RECINVSID: record C_BAD_STREAMID for stream ids
/// past the table.
pub const CR2_RECINVSID: u32 = 1 << 1;

/// SMMU_GBPA fields (§6.3.14).
pub mod gbpa {
    /// UPDATE: set with a write; the SMMU clears it once applied.
    pub const UPDATE: u32 = 1 << 31;
    /// ABORT: with SMMUEN 0, every incoming transaction aborts.
    pub const ABORT: u32 = 1 << 20;
}

/// SMMU_IRQ_CTRL fields (§6.3.16).
pub mod irq_ctrl {
    /// GERROR_IRQEN.
    pub const GERROR: u32 = 1 << 0;
    /// EVENTQ_IRQEN.
    pub const EVENTQ: u32 = 1 << 2;
}

/// SMMU_GERROR bits (§6.3.18).
pub mod gerror {
    /// CMDQ_ERR: the command queue stopped at a command in error.
    pub const CMDQ_ERR: u32 = 1 << 0;
    /// EVENTQ_ABT_ERR: an event could not be written.
    pub const EVENTQ_ABT_ERR: u32 = 1 << 2;
    /// SFM_ERR: the SMMU entered service failure mode.
    pub const SFM_ERR: u32 = 1 << 8;
    /// Every bit the architecture defines (bits 0, 2..=8).
    pub const DEFINED: u32 = 0x1fd;
}

/// A queue base register (SMMU_CMDQ_BASE §6.3.25, SMMU_EVENTQ_BASE
/// §6.3.28, SMMU_STRTAB_BASE §6.3.23): RA/WA (bit 62) set, the address in
/// [51:5] ([51:6] for the stream table), LOG2SIZE in [4:0] for queues.
pub fn queue_base(paddr: u64, log2size: u32) -> u64 {
    (1 << 62) | (paddr & ADDR_MASK_51_5) | u64::from(log2size & 0x1f)
}

/// The stream table base (§6.3.23): RA set, ADDR [51:6].
pub fn strtab_base(paddr: u64) -> u64 {
    (1 << 62) | (paddr & ADDR_MASK_51_5 & !0x3f)
}

/// SMMU_STRTAB_BASE_CFG (§6.3.24): FMT [17:16] 0b00 linear, LOG2SIZE
/// [5:0].
pub fn strtab_base_cfg(log2size: u32) -> u32 {
    log2size & 0x3f
}

const ADDR_MASK_51_5: u64 = ((1 << 52) - 1) & !0x1f;

/// Bytes of one Stream Table Entry (§5.2).
pub const STE_BYTES: usize = 64;

/// A Stream Table Entry (§5.2), as its eight little-endian 64-bit words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ste(pub [u64; 8]);

/// What a stage-2 STE translates with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stage2 {
    /// S2VMID: tags the TLB entries of this translation.
    pub vmid: u16,
    /// Physical address of the starting-level table (4 KiB aligned).
    pub root: u64,
}

/// Input address bits of the stage-2 translations built here: T0SZ 25,
/// a 39-bit IPA space, walked from level 1 with a 4 KiB granule.
pub const IPA_BITS: u32 = 39;

impl Ste {
    /// V (bit 0) with Config [3:1] 0b000: every transaction of the stream
    /// aborts, silently (§5.2, Config).
    pub const ABORT: Ste = Ste([1, 0, 0, 0, 0, 0, 0, 0]);

    /// V with Config 0b110 (stage 1 bypass, stage 2 translates) and the
    /// stage-2 fields (§5.2): S2VMID [143:128]; S2T0SZ [165:160] = 25;
    /// S2SL0 [167:166] = 0b01 (start at level 1 with a 4 KiB granule);
    /// S2IR0/S2OR0 [169:168]/[171:170] = 0b01 (write-back); S2SH0
    /// [173:172] = 0b11 (inner shareable); S2TG [175:174] = 0b00 (4 KiB);
    /// S2PS [178:176] = 0b010 (40-bit output); S2AA64 [179] = 1; S2ENDI
    /// [180] = 0 (little-endian); S2AFFD [181] = 1 (no access-flag
    /// faults: every descriptor has AF set anyway); S2S [185] = 0
    /// (terminate, never stall); S2R [186] = 1 (record faults: they are
    /// how a misbehaving device is reported); S2TTB [243:196]. Word 1:
    /// SHCFG [109:108] = 0b01 (incoming shareability, as the stage-1
    /// bypass needs one).
    pub fn stage2(s2: Stage2) -> Ste {
        let word1 = 1 << (108 - 64);
        let t0sz = u64::from(64 - IPA_BITS);
        let word2 = u64::from(s2.vmid)
            | t0sz << 32
            | 1 << 38 // S2SL0 = 1
            | 1 << 40 // S2IR0
            | 1 << 42 // S2OR0
            | 3 << 44 // S2SH0
            // S2TG 0b00 at [47:46]
            | 2 << 48 // S2PS 40 bits
            | 1 << 51 // S2AA64
            | 1 << 53 // S2AFFD
            | 1 << 58; // S2R
        let word3 = s2.root & (((1 << 52) - 1) & !0xf);
        Ste([1 | (0b110 << 1), word1, word2, word3, 0, 0, 0, 0])
    }

    /// The stage-2 translation an STE written by [`Ste::stage2`] holds, or
    /// `None` for any other STE (used to check what was written).
    pub fn stage2_of(&self) -> Option<Stage2> {
        if self.0[0] != 1 | (0b110 << 1) {
            return None;
        }
        Some(Stage2 { vmid: self.0[2] as u16, root: self.0[3] & (((1 << 52) - 1) & !0xf) })
    }
}

/// Bytes of one command (§4.1).
pub const COMMAND_BYTES: usize = 16;

/// The commands this PD issues (§4), encoded as two 64-bit words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// CMD_CFGI_STE (0x03, §4.3.2): forget cached configuration of
    /// StreamID [63:32]; Leaf [64] = 0 (the whole entry).
    CfgiSte {
        /// The stream.
        sid: u32,
    },
    /// CMD_CFGI_ALL (CMD_CFGI_STE_RANGE 0x04 with Range [68:64] = 31,
    /// §4.3.3): forget every cached configuration.
    CfgiAll,
    /// CMD_TLBI_S12_VMALL (0x28, §4.4.8): invalidate every TLB entry of
    /// VMID [47:32].
    TlbiS12Vmall {
        /// The VMID.
        vmid: u16,
    },
    /// CMD_TLBI_NSNH_ALL (0x30, §4.4.11): every non-secure, non-hyp TLB
    /// entry.
    TlbiNsnhAll,
    /// CMD_SYNC (0x46, §4.7.3): completes once every earlier command has;
    /// CS [13:12] = 0b00 (SIG_NONE: completion seen in SMMU_CMDQ_CONS).
    Sync,
}

impl Command {
    /// The command's two words.
    pub fn encode(self) -> [u64; 2] {
        match self {
            Command::CfgiSte { sid } => [0x03 | u64::from(sid) << 32, 0],
            Command::CfgiAll => [0x04, 31],
            Command::TlbiS12Vmall { vmid } => [0x28 | u64::from(vmid) << 32, 0],
            Command::TlbiNsnhAll => [0x30, 0],
            Command::Sync => [0x46, 0],
        }
    }
}

/// Bytes of one event record (§7.3).
pub const EVENT_BYTES: usize = 32;

/// Event types (§7.3, Table 7-3 and the sections that follow).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum EventType {
    FUut,
    CBadStreamId,
    FSteFetch,
    CBadSte,
    FBadAtsTreq,
    FStreamDisabled,
    FTranslForbidden,
    CBadSubstreamId,
    FCdFetch,
    CBadCd,
    FWalkEabt,
    FTranslation,
    FAddrSize,
    FAccess,
    FPermission,
    FTlbConflict,
    FCfgConflict,
    EPageRequest,
    FVmsFetch,
}

impl EventType {
    /// The type in bits [7:0] of a record; `None` for a code the
    /// architecture does not define.
    pub fn from_code(code: u8) -> Option<EventType> {
        use EventType::*;
        Some(match code {
            0x01 => FUut,
            0x02 => CBadStreamId,
            0x03 => FSteFetch,
            0x04 => CBadSte,
            0x05 => FBadAtsTreq,
            0x06 => FStreamDisabled,
            0x07 => FTranslForbidden,
            0x08 => CBadSubstreamId,
            0x09 => FCdFetch,
            0x0a => CBadCd,
            0x0b => FWalkEabt,
            0x10 => FTranslation,
            0x11 => FAddrSize,
            0x12 => FAccess,
            0x13 => FPermission,
            0x20 => FTlbConflict,
            0x21 => FCfgConflict,
            0x24 => EPageRequest,
            0x25 => FVmsFetch,
            _ => return None,
        })
    }

    /// A transaction the stream's translation refused, whose record holds
    /// InputAddr [191:128] and RnW [99] (§7.3.12..§7.3.16, §7.3.8 and
    /// F_UUT §7.3.2): what a device reaching outside its regions causes.
    pub fn is_access_fault(self) -> bool {
        use EventType::*;
        matches!(self, FUut | FTranslForbidden | FWalkEabt | FTranslation | FAddrSize | FAccess | FPermission)
    }
}

/// Stage-2 translation table descriptors (VMSAv8-64 stage 2, 4 KiB
/// granule, as SMMUv3 uses them, §3.4; Arm ARM D8.3).
pub mod pte {
    /// Valid, and a table (levels 0..=2) or a page (level 3): bits [1:0]
    /// = 0b11.
    pub const TABLE_OR_PAGE: u64 = 0b11;
    /// Valid block (levels 1, 2): bits [1:0] = 0b01.
    pub const BLOCK: u64 = 0b01;
    /// MemAttr [5:2] = 0b1111: Normal, inner and outer write-back.
    pub const MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
    /// S2AP [7:6]: bit 6 read, bit 7 write.
    pub const S2AP_READ: u64 = 1 << 6;
    /// S2AP write.
    pub const S2AP_WRITE: u64 = 1 << 7;
    /// SH [9:8] = 0b11: inner shareable.
    pub const SH_INNER: u64 = 0b11 << 8;
    /// AF [10]: accessed.
    pub const AF: u64 = 1 << 10;
    /// Output address bits [47:12].
    pub const ADDR_MASK: u64 = ((1 << 48) - 1) & !0xfff;
    /// A read-write leaf (page or block) with the attributes above.
    pub const LEAF_RW: u64 = MEMATTR_NORMAL_WB | S2AP_READ | S2AP_WRITE | SH_INNER | AF;
    /// MemAttr [5:2] = 0b0001: Device-nGnRE (Arm ARM D8.5, stage 2
    /// memory region attributes: "MemAttr[3:2] == 0b00: Device memory",
    /// MemAttr[1:0] 0b01 "Device-nGnRE").
    pub const MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
    /// The MSI doorbell page's leaf: Device-nGnRE; S2AP = 0b10 (Arm ARM
    /// D8.4, stage 2 data access permissions: "0b00 No access, 0b01
    /// Read-only, 0b10 Write-only, 0b11 Read/write"), so the device can
    /// write MSI_SETSPI_NS and read nothing; AF set; SH 0 (ignored for
    /// Device memory).
    pub const LEAF_DEVICE_WO: u64 = MEMATTR_DEVICE_NGNRE | S2AP_WRITE | AF;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage2_ste_has_the_fields_at_the_specs_bits() {
        let ste = Ste::stage2(Stage2 { vmid: 0x1234, root: 0x4810_6000 });
        let bits = |word: usize, lo: u32, width: u32| (ste.0[word] >> lo) & ((1 << width) - 1);
        assert_eq!(bits(0, 0, 1), 1, "V");
        assert_eq!(bits(0, 1, 3), 0b110, "Config: S1 bypass, S2 translate");
        assert_eq!(bits(2, 0, 16), 0x1234, "S2VMID [143:128]");
        assert_eq!(bits(2, 32, 6), 25, "S2T0SZ [165:160]");
        assert_eq!(bits(2, 38, 2), 1, "S2SL0 [167:166]");
        assert_eq!(bits(2, 46, 2), 0, "S2TG [175:174]: 4 KiB");
        assert_eq!(bits(2, 48, 3), 2, "S2PS [178:176]: 40 bits");
        assert_eq!(bits(2, 51, 1), 1, "S2AA64 [179]");
        assert_eq!(bits(2, 52, 1), 0, "S2ENDI [180]");
        assert_eq!(bits(2, 57, 1), 0, "S2S [185]");
        assert_eq!(bits(2, 58, 1), 1, "S2R [186]");
        assert_eq!(ste.0[3], 0x4810_6000, "S2TTB [243:196]");
        assert_eq!(ste.stage2_of(), Some(Stage2 { vmid: 0x1234, root: 0x4810_6000 }));
        assert_eq!(Ste::ABORT.stage2_of(), None);
        assert_eq!(Ste::ABORT.0[0] & 0xf, 1, "valid, Config abort");
    }

    #[test]
    fn commands_carry_their_opcodes_and_operands() {
        assert_eq!(Command::CfgiSte { sid: 0x10 }.encode(), [0x10_0000_0003, 0]);
        assert_eq!(Command::CfgiAll.encode(), [0x04, 31]);
        assert_eq!(Command::TlbiS12Vmall { vmid: 3 }.encode(), [0x3_0000_0028, 0]);
        assert_eq!(Command::Sync.encode()[0] & 0xff, 0x46);
        assert_eq!(Command::Sync.encode()[0] >> 12 & 3, 0, "CS = SIG_NONE");
    }

    #[test]
    fn every_defined_event_code_round_trips_and_the_rest_are_refused() {
        let defined = (0u8..=0xff).filter(|&c| EventType::from_code(c).is_some()).count();
        assert_eq!(defined, 19);
        assert_eq!(EventType::from_code(0x10), Some(EventType::FTranslation));
        assert_eq!(EventType::from_code(0x0c), None);
        assert!(EventType::FPermission.is_access_fault() && !EventType::CBadSte.is_access_fault());
    }

    #[test]
    fn base_registers_keep_the_address_and_size_fields_apart() {
        assert_eq!(queue_base(0x4810_4000, 5), (1 << 62) | 0x4810_4000 | 5);
        assert_eq!(strtab_base(0x4810_0000), (1 << 62) | 0x4810_0000);
        assert_eq!(strtab_base_cfg(8), 8);
    }
}
