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
    pub name: String,
    /// Bytes; a multiple of `page_size`.
    pub size: u64,
    /// 0x1000 (default) or 0x200000.
    pub page_size: u64,
    /// Fixed physical address, if given.
    pub phys_addr: Option<u64>,
    pub line: u32,
}

/// A `<protection_domain>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectionDomain {
    pub name: String,
    /// 0..=254.
    pub priority: u8,
    pub passive: bool,
    /// Microseconds; defaults as the microkit tool's (budget 1000, period = budget).
    pub budget: u64,
    pub period: u64,
    /// Bytes; default 0x2000.
    pub stack_size: u64,
    /// `<program_image path=...>`, as written (relative to the search path).
    pub program_image: String,
    pub maps: Vec<Map>,
    pub irqs: Vec<Irq>,
    pub setvars: Vec<Setvar>,
    /// Index into `System::pds` of the parent, for a nested PD.
    pub parent: Option<usize>,
    /// The `id` attribute of a nested PD (its id in the parent's fault badges).
    pub child_id: Option<u8>,
    pub line: u32,
}

/// Access rights of a `<map>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

/// A `<map>` of a memory region into a PD.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// Name of the memory region.
    pub mr: String,
    pub vaddr: u64,
    pub perms: Perms,
    /// Default true.
    pub cached: bool,
    /// Symbol patched with `vaddr`.
    pub setvar_vaddr: Option<String>,
    /// Symbol patched with the region's size.
    pub setvar_size: Option<String>,
    pub line: u32,
}

/// Trigger of an `<irq>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Level,
    Edge,
}

/// An `<irq>` of a PD.
#[derive(Clone, Debug, PartialEq)]
pub struct Irq {
    /// The interrupt number (GIC INTID on ARM).
    pub irq: u32,
    /// The PD-local id (shares the id space with channel ends).
    pub id: u8,
    pub trigger: Trigger,
    pub line: u32,
}

/// A `<setvar symbol=... region_paddr=...>` of a PD.
#[derive(Clone, Debug, PartialEq)]
pub struct Setvar {
    pub symbol: String,
    /// Name of the memory region whose physical address is patched in.
    pub region_paddr: String,
    pub line: u32,
}

/// A `<channel>`: two ends.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelDef {
    pub ends: [ChannelEnd; 2],
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
}
