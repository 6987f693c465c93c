//! The system description as data: what a Microkit `system.xml` says,
//! after parsing and checking. Every item keeps the line it came from so
//! later tools can name it in their errors.

/// A whole system.
#[derive(Clone, Debug, PartialEq)]
pub struct System {
    /// `<memory_region>`s in document order.
    pub memory_regions: Vec<MemoryRegion>,
    /// Every `<protection_domain>`, nested ones included, in document order
    /// (a parent comes before its children).
    pub pds: Vec<ProtectionDomain>,
    /// `<channel>`s in document order.
    pub channels: Vec<ChannelDef>,
}

/// A `<memory_region>`.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryRegion {
    /// Unique among memory regions.
    pub name: String,
    /// Bytes; a multiple of `page_size`.
    pub size: u64,
    /// 0x1000 (default) or 0x200000.
    pub page_size: u64,
    /// Fixed physical address, if given.
    pub phys_addr: Option<u64>,
    /// Line of the element (0 when built in code).
    pub line: u32,
}

/// A `<protection_domain>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectionDomain {
    /// Unique among PDs, nested ones included.
    pub name: String,
    /// 0..=254.
    pub priority: u8,
    /// Runs only on the caller's or notifier's scheduling context after init.
    pub passive: bool,
    /// Microseconds; defaults as the microkit tool's (budget 1000, period = budget).
    pub budget: u64,
    /// Microseconds; at least `budget`.
    pub period: u64,
    /// Bytes; default 0x2000.
    pub stack_size: u64,
    /// `<program_image path=...>`, as written (relative to the search path).
    pub program_image: String,
    /// `<map>`s in document order.
    pub maps: Vec<Map>,
    /// `<irq>`s in document order.
    pub irqs: Vec<Irq>,
    /// `<setvar>`s in document order.
    pub setvars: Vec<Setvar>,
    /// Index into `System::pds` of the parent, for a nested PD.
    pub parent: Option<usize>,
    /// The `id` attribute of a nested PD (its id in the parent's fault badges).
    pub child_id: Option<u8>,
    /// Line of the element (0 when built in code).
    pub line: u32,
    /// `fpu` (default true): the PD may use the FPU/SIMD registers.
    pub fpu: bool,
    /// `smc` (default false): the PD may make SMC calls through the kernel.
    pub smc: bool,
    /// `cpu` (default 0): the core the PD runs on.
    pub cpu: u8,
    /// `<program_image path_for_symbols=...>`, if given.
    pub program_image_for_symbols: Option<String>,
    /// `setvar_id` of a nested PD: a symbol in the *parent's* image patched
    /// with `child_id`.
    pub setvar_id: Option<String>,
}

/// Access rights of a `<map>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Perms {
    /// `r`
    pub read: bool,
    /// `w`
    pub write: bool,
    /// `x`
    pub execute: bool,
}

/// A `<map>` of a memory region into a PD.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// Name of the memory region.
    pub mr: String,
    /// Where the region starts in the PD's address space.
    pub vaddr: u64,
    /// Default `rw`.
    pub perms: Perms,
    /// Default true.
    pub cached: bool,
    /// Symbol patched with `vaddr`.
    pub setvar_vaddr: Option<String>,
    /// Symbol patched with the region's size.
    pub setvar_size: Option<String>,
    /// Line of the element (0 when built in code).
    pub line: u32,
}

/// Trigger of an `<irq>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `level` (the default).
    Level,
    /// `edge`.
    Edge,
}

/// An `<irq>` of a PD.
#[derive(Clone, Debug, PartialEq)]
pub struct Irq {
    /// The interrupt number (GIC INTID on ARM).
    pub irq: u32,
    /// The PD-local id (shares the id space with channel ends).
    pub id: u8,
    /// Default level.
    pub trigger: Trigger,
    /// Line of the element (0 when built in code).
    pub line: u32,
    /// Symbol patched with `id`, if given.
    pub setvar_id: Option<String>,
}

/// A `<setvar symbol=... region_paddr=...>` of a PD.
#[derive(Clone, Debug, PartialEq)]
pub struct Setvar {
    /// Symbol in the PD's image (8 bytes).
    pub symbol: String,
    /// Name of the memory region whose physical address is patched in.
    pub region_paddr: String,
    /// Line of the element (0 when built in code).
    pub line: u32,
}

/// A `<channel>`: two ends.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelDef {
    /// The two `<end>`s in document order.
    pub ends: [ChannelEnd; 2],
    /// Line of the `<channel>` element (0 when built in code).
    pub line: u32,
}

/// One `<end>` of a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelEnd {
    /// Index into `System::pds`.
    pub pd: usize,
    /// The PD-local id, 0..=61.
    pub id: u8,
    /// This end may PPC the other end (`pp="true"`).
    pub pp: bool,
    /// This end may notify the other end (`notify`, default true).
    pub notify: bool,
    /// Symbol in this end's image patched with `id`, if given.
    pub setvar_id: Option<String>,
    /// Line of the `<end>` element (0 when built in code).
    pub line: u32,
}

impl System {
    /// Index into `pds` of the PD called `name`.
    pub fn pd_index(&self, name: &str) -> Option<usize> {
        self.pds.iter().position(|pd| pd.name == name)
    }

    /// The PD called `name`.
    pub fn pd(&self, name: &str) -> Option<&ProtectionDomain> {
        self.pds.iter().find(|pd| pd.name == name)
    }

    /// The memory region called `name`.
    pub fn memory_region(&self, name: &str) -> Option<&MemoryRegion> {
        self.memory_regions.iter().find(|mr| mr.name == name)
    }

    /// The channels PD `pd` (an index into `pds`) takes part in, as
    /// (its own end, the peer's end), in document order.
    pub fn channels_of(&self, pd: usize) -> impl Iterator<Item = (&ChannelEnd, &ChannelEnd)> {
        self.channels.iter().filter_map(move |ch| ch.end_of(pd))
    }

    /// Indices of the PDs nested directly in PD `pd`.
    pub fn children_of(&self, pd: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.pds.len()).filter(move |&i| self.pds[i].parent == Some(pd))
    }
}

impl ProtectionDomain {
    /// Lowest stack address; every `<map>` must end at or below it.
    pub fn stack_bottom(&self) -> u64 {
        crate::limits::STACK_TOP.saturating_sub(self.stack_size)
    }
}

impl ChannelDef {
    /// (PD `pd`'s end, the other end), if `pd` is on this channel. For a
    /// channel from a PD to itself this is the first end.
    pub fn end_of(&self, pd: usize) -> Option<(&ChannelEnd, &ChannelEnd)> {
        let [a, b] = &self.ends;
        if a.pd == pd {
            Some((a, b))
        } else if b.pd == pd {
            Some((b, a))
        } else {
            None
        }
    }
}

impl Perms {
    /// Reads a `perms` attribute: any of the letters `r`, `w`, `x`; `None`
    /// if another character appears. (Whether the set is allowed is a check.)
    pub fn parse(s: &str) -> Option<Perms> {
        let mut perms = Perms::default();
        for c in s.chars() {
            match c {
                'r' => perms.read = true,
                'w' => perms.write = true,
                'x' => perms.execute = true,
                _ => return None,
            }
        }
        Some(perms)
    }

    /// Read and write, the default of `<map>`.
    pub const RW: Perms = Perms { read: true, write: true, execute: false };
}

impl core::fmt::Display for Perms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (set, c) in [(self.read, 'r'), (self.write, 'w'), (self.execute, 'x')] {
            if set {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl core::fmt::Display for Trigger {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Trigger::Level => "level",
            Trigger::Edge => "edge",
        })
    }
}
