//! What system.xml gives a driver PD, and the one way a driver reports
//! that it is missing or unusable ([`Unusable`]).
//!
//! A region is mapped into the PD (`setvar_vaddr`, sometimes
//! `setvar_size`) and, if the device reaches it, named by its physical
//! address (`<setvar region_paddr=...>`). Turning such numbers into
//! memory is the one unsafe step of a driver PD: [`SystemMaps`] is the
//! token that says the caller vouched for them, created once, in
//! `main.rs`, with a `// SAFETY:` line; every region is then checked and
//! mapped through it.

use crate::dma::{DmaError, DmaRegion};
use crate::sddf::ChannelRefusal;
use core::fmt;
use sevio_runtime::debug_println;
use sevio_runtime::var::map_region;
use sevio_sharedmem::SharedMemory;

/// Why a driver PD's configuration is unusable (the PD then logs it and
/// does nothing). `Display` names the setvar or region.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// A setvar is missing or unusable; the text says which.
    Setvar(&'static str),
    /// This DMA region's size (setvar_size) is missing or over the
    /// transport's window, or it has no region_paddr.
    DmaSize(&'static str),
    /// This region's vaddr is missing.
    Vaddr(&'static str),
    /// This region's size (setvar_size) is missing.
    Size(&'static str),
    /// This DMA region's paddr + size overflows.
    DmaOverflow(&'static str),
    /// This region is too small or misaligned for the layout shared in it.
    Layout(&'static str),
    /// The DMA region has no room for the driver's own buffers.
    DmaRoom(DmaError),
    /// An sDDF config section (sdfgen's output, objcopied into the image)
    /// is malformed: the system was built wrong.
    Sddf {
        /// The section (`.blk_driver_config`).
        section: &'static str,
        /// What is wrong with it, naming the field.
        error: sevio_sddf::ConfigError,
    },
    /// A channel id the config names is not one this driver can use.
    Channel {
        /// The config field (`tx.id`).
        field: &'static str,
        /// The id.
        id: u8,
        /// Why not.
        why: ChannelRefusal,
    },
}

impl From<&'static str> for Unusable {
    fn from(why: &'static str) -> Self {
        Unusable::Setvar(why)
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::Setvar(why) => f.write_str(why),
            Unusable::DmaSize(r) => {
                write!(f, "{}: size (setvar_size) missing or over the transport's window, or no region_paddr", r)
            }
            Unusable::Vaddr(r) => write!(f, "{}_vaddr missing", r),
            Unusable::Size(r) => write!(f, "{}_size missing", r),
            Unusable::DmaOverflow(r) => write!(f, "{}: address overflow", r),
            Unusable::Layout(r) => write!(f, "{}: too small or misaligned for its layout", r),
            Unusable::DmaRoom(e) => write!(f, "the DMA region has no room for the driver's buffers: {:?}", e),
            Unusable::Sddf { section, error } => write!(f, "sDDF config {}: {}", section, error),
            Unusable::Channel { field, id, why } => {
                let why = match why {
                    ChannelRefusal::OutOfRange => "not a channel id",
                    ChannelRefusal::Reserved => "the bus's, the transport's, the timer's or the log's channel",
                    ChannelRefusal::Repeated => "named twice",
                };
                write!(f, "{} = {}: {}", field, id, why)
            }
        }
    }
}

/// A driver's DMA region as system.xml describes it.
#[derive(Copy, Clone, Debug)]
pub struct DmaSetvars {
    /// The memory region's name (e.g. `rng_dma`), for the log.
    pub region: &'static str,
    /// Its vaddr (setvar_vaddr).
    pub vaddr: u64,
    /// Its size (setvar_size).
    pub size: u64,
    /// Its physical address (region_paddr).
    pub paddr: u64,
}

/// A region mapped into the PD that the device never sees (a control
/// page, a client region the driver copies to).
#[derive(Copy, Clone, Debug)]
pub struct RegionSetvars {
    /// The memory region's name (e.g. `rng_control`): the log says
    /// `<region>_vaddr missing` / `<region>_size missing`.
    pub region: &'static str,
    /// Its vaddr (setvar_vaddr).
    pub vaddr: u64,
    /// Its size: the setvar_size, or the size system.xml fixes for it.
    pub size: u64,
}

/// Everything a template driver PD is given: the framework's part (the
/// binding table, the doorbell page, the DMA region) and the driver's
/// own (`V`, its [`VirtioDriver::Setvars`](crate::VirtioDriver::Setvars)).
#[derive(Copy, Clone, Debug)]
pub struct PdSetvars<V> {
    /// The bus's binding table page (`bus_bindings`, mapped read-only,
    /// [`PAGE_SIZE`]).
    pub bindings: RegionSetvars,
    /// The doorbell page shared with the transport ([`PAGE_SIZE`]).
    pub doorbell: RegionSetvars,
    /// The DMA region.
    pub dma: DmaSetvars,
    /// The driver's own regions.
    pub driver: V,
}

/// Size of a page system.xml maps for one purpose (doorbell, binding
/// table, control page).
pub const PAGE_SIZE: u64 = 0x1000;

/// The caller's word that the setvars it hands over describe system.xml
/// mappings. Created once per PD ([`SystemMaps::vouched`]); every region
/// is then checked and mapped without further `unsafe`.
#[derive(Debug)]
pub struct SystemMaps(());

impl SystemMaps {
    /// The token.
    ///
    /// # Safety
    /// Every [`RegionSetvars`] and [`DmaSetvars`] later passed to this
    /// value, whose checks pass, must describe memory mapped for the PD's
    /// whole life, at least as large as stated, into which no Rust
    /// reference is ever made (a `<map>` of system.xml, or sim's
    /// equivalent; in tests, host memory that outlives the driver).
    #[allow(unsafe_code)]
    pub unsafe fn vouched() -> Self {
        SystemMaps(())
    }

    /// The region `r` describes, if its vaddr and size are set.
    pub fn region(&self, r: RegionSetvars) -> Result<SharedMemory, Unusable> {
        if r.size == 0 {
            return Err(Unusable::Size(r.region));
        }
        // SAFETY: whoever made this token vouched for every region passed
        // to it (see `vouched`); the size is the one it stated.
        #[allow(unsafe_code)]
        unsafe { map_region(r.vaddr, r.size, r.region) }.map_err(|_| Unusable::Vaddr(r.region))
    }

    /// The DMA region `dma` describes, checked against the transport's
    /// DMA `window` (see [`map_dma`]); warnings are logged under `pd`.
    pub fn dma(&self, pd: &str, dma: DmaSetvars, window: u64) -> Result<DmaRegion, Unusable> {
        // SAFETY: whoever made this token vouched for every region passed
        // to it (see `vouched`).
        #[allow(unsafe_code)]
        unsafe {
            map_dma(pd, dma, window)
        }
    }
}

/// The DMA region `dma` describes, if its size is set and at most
/// `window` (the transport's DMA window: it accepts queue addresses
/// anywhere in it) and its addresses are set. A region smaller than the
/// window is used, with a warning under `pd`'s name: whatever else lies
/// inside the window is within this driver's reach.
///
/// # Safety
/// If `dma.size` passes those checks, `dma.vaddr..dma.vaddr + dma.size`
/// must be as [`map_region`] requires: mapped for the PD's whole life, never
/// the target of a Rust reference.
#[allow(unsafe_code)]
pub unsafe fn map_dma(pd: &str, dma: DmaSetvars, window: u64) -> Result<DmaRegion, Unusable> {
    if dma.size == 0 || dma.size > window || dma.paddr == 0 {
        return Err(Unusable::DmaSize(dma.region));
    }
    if dma.size != window {
        debug_println!(
            "{}: warning: {} is {:#x} bytes, not the transport's window of {:#x}",
            pd,
            dma.region,
            dma.size,
            window
        );
    }
    // SAFETY: the caller vouches for this range (its size was checked
    // above).
    let mem = unsafe { map_region(dma.vaddr, dma.size, dma.region) }.map_err(|_| Unusable::Vaddr(dma.region))?;
    DmaRegion::new(mem, dma.paddr).map_err(|_| Unusable::DmaOverflow(dma.region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;

    #[allow(unsafe_code)]
    fn map(region: &HeapRegion, size: u64, paddr: u64) -> Result<DmaRegion, Unusable> {
        let vaddr = region.memory().addr() as u64;
        let dma = DmaSetvars { region: "x_dma", vaddr, size, paddr };
        // SAFETY: the heap region outlives the test and is 0x4000 bytes;
        // the sizes that pass the checks are at most that.
        unsafe { map_dma("t", dma, 0x4000) }
    }

    #[test]
    #[allow(unsafe_code)]
    fn the_dma_region_is_checked_against_its_setvars() {
        let heap = HeapRegion::new(0x4000);
        assert_eq!(map(&heap, 0x4000, 0x4000_0000).map(|r| r.len()), Ok(0x4000));
        assert_eq!(map(&heap, 0x1000, 0x4000_0000).map(|r| r.len()), Ok(0x1000), "smaller: a warning");
        for (size, paddr) in [(0, 0x4000_0000), (0x4001, 0x4000_0000), (0x4000, 0)] {
            assert_eq!(map(&heap, size, paddr).err(), Some(Unusable::DmaSize("x_dma")));
        }
        assert_eq!(map(&heap, 0x4000, u64::MAX - 0x100).err(), Some(Unusable::DmaOverflow("x_dma")));
        let unset = DmaSetvars { region: "x_dma", vaddr: 0, size: 0x4000, paddr: 0x4000_0000 };
        // SAFETY: a null vaddr is refused before anything is mapped.
        assert_eq!(unsafe { map_dma("t", unset, 0x4000) }.err(), Some(Unusable::Vaddr("x_dma")));
        let text = std::format!("{}", Unusable::Vaddr("x_dma"));
        assert_eq!(text, "x_dma_vaddr missing");
    }

    #[test]
    #[allow(unsafe_code)]
    fn a_region_needs_its_vaddr_and_size() {
        let heap = HeapRegion::new(0x1000);
        // SAFETY: the only region that passes the checks is the heap
        // region, which outlives the token.
        let maps = unsafe { SystemMaps::vouched() };
        let vaddr = heap.memory().addr() as u64;
        let r = |vaddr, size| RegionSetvars { region: "x_data", vaddr, size };
        assert_eq!(maps.region(r(vaddr, 0x1000)).map(|m| m.len()), Ok(0x1000));
        assert_eq!(maps.region(r(0, 0x1000)).err(), Some(Unusable::Vaddr("x_data")));
        assert_eq!(maps.region(r(vaddr, 0)).err(), Some(Unusable::Size("x_data")));
        assert_eq!(std::format!("{}", Unusable::Size("x_data")), "x_data_size missing");
    }
}
