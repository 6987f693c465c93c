//! Variables the system description sets: `setvar_vaddr`, `setvar_size`,
//! `region_paddr` and `id` in system.xml.
//!
//! On seL4 each is an 8-byte symbol the microkit tool patches; hosted, sim
//! passes the same values in the environment. Declare one accessor per
//! variable, in the PD's `config.rs`:
//!
//! ```ignore
//! sevio_runtime::setvar!(pub fn client_data_vaddr() = "client_data");
//! ```
//!
//! A region a `setvar_vaddr` names is declared with [`shared_region!`]
//! instead, which turns it into [`SharedMemory`] through [`map_region`],
//! the one place that does.

/// Declares `fn NAME() -> u64` returning the variable `SYMBOL`.
#[macro_export]
macro_rules! setvar {
    ($(#[$meta:meta])* $vis:vis fn $name:ident() = $symbol:literal) => {
        $(#[$meta])*
        $vis fn $name() -> u64 {
            #[cfg(target_os = "none")]
            {
                // In .data so the tool patches file contents, 8 bytes as
                // the tool requires.
                #[unsafe(export_name = $symbol)]
                #[unsafe(link_section = ".data")]
                #[used]
                static mut VALUE: u64 = 0;
                // SAFETY: VALUE is written only by the microkit tool before
                // the PD starts; a volatile read keeps the compiler from
                // folding the zero default.
                unsafe { core::ptr::addr_of!(VALUE).read_volatile() }
            }
            #[cfg(not(target_os = "none"))]
            {
                $crate::hosted::setvar($symbol)
            }
        }
    };
}

pub use sevio_sharedmem::SharedMemory;

/// Why a region a `setvar_vaddr` names cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MapError {
    /// The setvar that names the region.
    pub setvar: &'static str,
    /// What is wrong with it.
    pub problem: MapProblem,
}

/// What is wrong with a region.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapProblem {
    /// The setvar is 0: system.xml does not set it for this PD.
    Unset,
    /// The size is 0 (an unset `setvar_size`).
    Empty,
    /// The region would run past the end of the address space.
    PastAddressSpace,
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let why = match self.problem {
            MapProblem::Unset => "is not set in system.xml",
            MapProblem::Empty => "names a region of size 0",
            MapProblem::PastAddressSpace => "names a region past the end of the address space",
        };
        write!(f, "{} {why}", self.setvar)
    }
}

/// The `size` bytes at `vaddr` as [`SharedMemory`]; `setvar` names the
/// variable `vaddr` came from, for the error.
///
/// PDs declare their regions with [`shared_region!`](crate::shared_region),
/// which calls this with a `setvar_vaddr`; nothing else should need to.
///
/// # Safety
/// `vaddr` is 0 or the start of at least `size` bytes mapped into this PD
/// for its whole life (a `<map>` of system.xml; sim maps the same region
/// at the same vaddr before the PD starts), and no Rust reference is ever
/// made into them: they are reached only through `SharedMemory`.
pub unsafe fn map_region(vaddr: u64, size: u64, setvar: &'static str) -> Result<SharedMemory, MapError> {
    let fail = |problem| MapError { setvar, problem };
    let base = usize::try_from(vaddr).ok().and_then(|v| core::ptr::NonNull::new(v as *mut u8));
    let base = base.ok_or(fail(MapProblem::Unset))?;
    if size == 0 {
        return Err(fail(MapProblem::Empty));
    }
    let len = usize::try_from(size).map_err(|_| fail(MapProblem::PastAddressSpace))?;
    if vaddr.checked_add(size).is_none() {
        return Err(fail(MapProblem::PastAddressSpace));
    }
    // SAFETY: the caller guarantees the mapping and that no reference
    // points into it; SharedMemory makes only bounds-checked volatile and
    // atomic accesses inside `len` bytes.
    Ok(unsafe { SharedMemory::new(base, len) })
}

/// Declares `fn NAME() -> Result<SharedMemory, MapError>`: the region
/// system.xml maps into this PD at the `setvar_vaddr` `SYMBOL`, `SIZE`
/// bytes long (a constant of the PD's config that system.xml's `<map>`
/// matches, or its `setvar_size`).
///
/// ```ignore
/// sevio_runtime::shared_region!(pub fn rx_queue() = "rx_queue_vaddr", QUEUE_REGION_SIZE as u64);
/// ```
#[macro_export]
macro_rules! shared_region {
    ($(#[$meta:meta])* $vis:vis fn $name:ident() = $symbol:literal, $size:expr) => {
        $(#[$meta])*
        $vis fn $name() -> Result<$crate::var::SharedMemory, $crate::var::MapError> {
            $crate::setvar!(fn vaddr() = $symbol);
            // SAFETY: a `setvar_vaddr` holds the vaddr of a <map> system.xml
            // gives this PD for its whole life (0 when unset, refused); the
            // size is the one that <map>'s region has; and sevio PDs reach
            // shared regions only through SharedMemory, never a reference.
            unsafe { $crate::var::map_region(vaddr(), $size, $symbol) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_empty_or_wrapping_region_is_refused_by_name() {
        let refused = |vaddr, size| {
            // SAFETY: each of these regions is refused, so nothing is
            // ever accessed through it.
            let region = unsafe { map_region(vaddr, size, "rx_vaddr") };
            region.map(|_| ()).unwrap_err()
        };
        let unset = refused(0, 4096);
        assert_eq!(unset, MapError { setvar: "rx_vaddr", problem: MapProblem::Unset });
        assert_eq!(std::format!("{unset}"), "rx_vaddr is not set in system.xml");
        assert_eq!(refused(0x20_0000, 0).problem, MapProblem::Empty);
        assert_eq!(refused(u64::MAX - 0xfff, 0x2000).problem, MapProblem::PastAddressSpace);
        let mut buffer = [0u64; 8];
        // SAFETY: a live local buffer of 64 bytes, reached only through
        // the SharedMemory while it lives.
        let region = unsafe { map_region(buffer.as_mut_ptr() as u64, 64, "rx_vaddr") }.unwrap();
        assert_eq!(region.len(), 64);
        region.store_u32(60, 7, core::sync::atomic::Ordering::Relaxed).unwrap();
        assert!(region.store_u32(64, 7, core::sync::atomic::Ordering::Relaxed).is_err(), "bounded by size");
    }
}
