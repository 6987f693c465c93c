//! Mapping a PD's memory regions at their system.xml addresses.

use std::format;
use std::os::fd::RawFd;
use std::string::String;

use super::wire::{MapKind, MapSpec};

/// Map `spec` at its vaddr: a RAM region as a shared view of the guest-RAM
/// file (`ram_fd`) with the map's permissions, a device region as an
/// inaccessible reservation (so a stray pointer access faults; registers
/// are reached through [`crate::mmio::DeviceRegion`]).
pub fn map(spec: &MapSpec, ram_fd: RawFd) -> Result<(), String> {
    let (prot, flags, fd, offset) = match spec.kind {
        MapKind::Ram { offset } => {
            let mut prot = 0;
            if spec.read {
                prot |= libc::PROT_READ;
            }
            if spec.write {
                prot |= libc::PROT_WRITE;
            }
            if spec.execute {
                prot |= libc::PROT_EXEC;
            }
            (prot, libc::MAP_SHARED, ram_fd, offset)
        }
        MapKind::Device => (libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0),
    };
    let offset = libc::off_t::try_from(offset).map_err(|_| format!("offset {offset:#x} too large"))?;
    let size = usize::try_from(spec.size).map_err(|_| format!("size {:#x} too large", spec.size))?;
    let want = spec.vaddr as usize as *mut libc::c_void;
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so
    // nothing this process uses is touched; the new mapping is only ever
    // reached through the addresses system.xml gives the PD.
    let got = unsafe { libc::mmap(want, size, prot, flags | libc::MAP_FIXED_NOREPLACE, fd, offset) };
    if got == libc::MAP_FAILED {
        let e = std::io::Error::last_os_error();
        let hint =
            if e.raw_os_error() == Some(libc::EEXIST) { " (the host process already uses that address)" } else { "" };
        return Err(format!("cannot map {:#x} bytes at {:#x}: {e}{hint}", spec.size, spec.vaddr));
    }
    if got != want {
        // A kernel older than 4.17 treats NOREPLACE as a hint.
        // SAFETY: `got` is the mapping just made, of `size` bytes.
        unsafe { libc::munmap(got, size) };
        return Err(format!("cannot map at {:#x}: the kernel placed it elsewhere", spec.vaddr));
    }
    Ok(())
}
